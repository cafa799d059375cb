//! `ooauth2 doctor`: checks what ooauth2 keeps on disk and says, for each
//! check, `ok: ...` or `problem: ... -> fix`. This first set looks at the
//! store directory and its permissions, the config file, and each account's
//! refresh token, access token lifetime and scope. It reads the store only
//! (no lock, no write) and makes no network request.

use crate::config;
use crate::error::{Error, Result};
use crate::request::Request;
use crate::store::{Record, Store};
use std::fmt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// The largest config file read (as `config::load`).
const MAX_CONFIG: u64 = 1024 * 1024;

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Ok(String),
    /// What is wrong, and what to do about it.
    Problem(String, String),
    /// A check that was not made, and why.
    Skipped(String),
}

impl Finding {
    pub fn is_problem(&self) -> bool {
        matches!(self, Finding::Problem(..))
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Ok(s) => write!(f, "ok: {s}"),
            Finding::Problem(s, fix) => write!(f, "problem: {s} -> {fix}"),
            Finding::Skipped(s) => write!(f, "skipped: {s}"),
        }
    }
}

/// Runs every check. `selected` is the account the user named (or the
/// error building it); `None` checks every configured and stored account.
pub fn run(selected: Option<Result<Request>>, now: u64) -> Vec<Finding> {
    let mut out = Vec::new();
    let store = match Store::open() {
        Ok(s) => Some(s),
        Err(e) => {
            out.push(problem_of(&e, "set HOME or OOAUTH2_STORE_DIR"));
            None
        }
    };
    if let Some(store) = &store {
        check_store_dir(store.dir(), &mut out);
    }
    let config = check_config(&mut out);
    if let Some(store) = &store {
        check_accounts(store, config.as_ref(), selected, now, &mut out);
    }
    out.push(Finding::Skipped(
        "network checks (provider reachability, clock skew) are not made yet; \
         `ooauth2 test imap ACCOUNT` logs in to the mail server"
            .into(),
    ));
    out
}

fn problem_of(e: &Error, default_fix: &str) -> Finding {
    Finding::Problem(
        e.message.clone(),
        e.hint.clone().unwrap_or_else(|| default_fix.to_string()),
    )
}

/// The uid of this process, when /proc tells it (Linux).
fn current_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// The store directory: present, a directory, ours, 0700; its files 0600.
fn check_store_dir(dir: &Path, out: &mut Vec<Finding>) {
    let shown = dir.display();
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            out.push(Finding::Problem(
                format!("the store directory {shown} does not exist: nothing is signed in"),
                "sign in with `ooauth2 login` (it creates the directory with mode 0700)".into(),
            ));
            return;
        }
        Err(e) => {
            out.push(Finding::Problem(
                format!("cannot inspect the store directory {shown}: {e}"),
                "check the path and its permissions (or set OOAUTH2_STORE_DIR)".into(),
            ));
            return;
        }
    };
    if !meta.is_dir() {
        out.push(Finding::Problem(
            format!("the store path {shown} is not a directory"),
            "move it away, or set OOAUTH2_STORE_DIR to a directory".into(),
        ));
        return;
    }
    let mut ok = true;
    if let Some(uid) = current_uid()
        && meta.uid() != uid
    {
        ok = false;
        out.push(Finding::Problem(
            format!(
                "the store directory {shown} belongs to uid {}, not to you (uid {uid})",
                meta.uid()
            ),
            format!("chown -R {uid} {shown}, or set OOAUTH2_STORE_DIR to a directory of yours"),
        ));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        ok = false;
        out.push(Finding::Problem(
            format!(
                "the store directory {shown} has mode {mode:04o}: other users can reach the tokens"
            ),
            format!("chmod 700 {shown}"),
        ));
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            out.push(Finding::Problem(
                format!("cannot list the store directory {shown}: {e}"),
                format!("chmod 700 {shown} (it must be yours)"),
            ));
            return;
        }
    };
    let mut files = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(m) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        files += 1;
        let mode = m.permissions().mode() & 0o777;
        if m.file_type().is_symlink() {
            ok = false;
            out.push(Finding::Problem(
                format!(
                    "{} is a symbolic link; ooauth2 never makes one",
                    path.display()
                ),
                "move it out of the store directory".into(),
            ));
        } else if mode & 0o077 != 0 {
            ok = false;
            out.push(Finding::Problem(
                format!(
                    "{} has mode {mode:04o}: other users can read or change it",
                    path.display()
                ),
                format!("chmod 600 {}", path.display()),
            ));
        }
    }
    if ok {
        out.push(Finding::Ok(format!(
            "the store directory {shown} is private (0700) and its {files} file(s) are 0600"
        )));
    }
}

/// The config file, if any: not writable by others, and valid.
fn check_config(out: &mut Vec<Finding>) -> Option<config::Config> {
    let path = match config::path() {
        Ok(p) => p,
        Err(e) => {
            out.push(problem_of(&e, "set HOME or OOAUTH2_CONFIG"));
            return None;
        }
    };
    let shown = path.display();
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            out.push(Finding::Ok(format!(
                "no config file at {shown} (named accounts are optional)"
            )));
            return None;
        }
        Err(e) => {
            out.push(Finding::Problem(
                format!("cannot inspect the config file {shown}: {e}"),
                "check the file and its directory".into(),
            ));
            return None;
        }
    };
    if !meta.is_file() {
        out.push(Finding::Problem(
            format!("the config file {shown} is not a regular file"),
            format!(
                "replace it with a file, or point {} elsewhere",
                config::CONFIG_ENV
            ),
        ));
        return None;
    }
    let mode = meta.permissions().mode() & 0o777;
    let writable = mode & 0o022 != 0;
    if writable {
        out.push(Finding::Problem(
            format!(
                "the config file {shown} has mode {mode:04o}: other users can change the \
                 commands it runs, so ooauth2 refuses to use it"
            ),
            format!("chmod 600 {shown}"),
        ));
    }
    if meta.len() > MAX_CONFIG {
        out.push(Finding::Problem(
            format!("the config file {shown} is larger than {MAX_CONFIG} bytes"),
            "it holds only [accounts.NAME] tables; check that it is the right file".into(),
        ));
        return None;
    }
    let text = match std::fs::read(&path).map(String::from_utf8) {
        Ok(Ok(t)) => t,
        Ok(Err(_)) => {
            out.push(Finding::Problem(
                format!("the config file {shown} is not valid UTF-8"),
                "save it as UTF-8".into(),
            ));
            return None;
        }
        Err(e) => {
            out.push(Finding::Problem(
                format!("cannot read the config file {shown}: {e}"),
                format!("chmod 600 {shown} (it must be yours)"),
            ));
            return None;
        }
    };
    match config::parse(&text, &path) {
        Ok(c) => {
            let mode_ok = if writable {
                ""
            } else {
                ", not writable by others"
            };
            out.push(Finding::Ok(format!(
                "the config file {shown} is valid ({} account(s){mode_ok})",
                c.accounts.len()
            )));
            // A file ooauth2 refuses to use names no account yet.
            (!writable).then_some(c)
        }
        Err(e) => {
            out.push(problem_of(&e, "fix the line it names (see the README)"));
            None
        }
    }
}

/// Whether a stored record is one the request means: the same account
/// identity (as the store names files), the user and client id matching
/// any when the request leaves them out.
fn matches(req: &Request, rec: &Record) -> bool {
    let mut want = req.account(req.user.as_deref().unwrap_or(&rec.user));
    if req.client_id.is_none() {
        want.client_id.clone_from(&rec.client_id);
    }
    Store::id(&want) == Store::id(&rec.account())
}

/// The command that signs the account of `req` in.
fn login_for(req: &Request) -> String {
    if let Some(name) = &req.account_name {
        return format!("ooauth2 login {name}");
    }
    let mut cmd = format!(
        "ooauth2 login --client-id {} --user {}",
        req.client_id.as_deref().unwrap_or("CLIENT-ID"),
        req.user.as_deref().unwrap_or("YOU@EXAMPLE.COM")
    );
    if req.tenant != crate::provider::DEFAULT_TENANT {
        cmd.push_str(&format!(" --tenant {}", req.tenant));
    }
    if req.authority != crate::provider::DEFAULT_AUTHORITY {
        cmd.push_str(&format!(" --authority {}", req.authority));
    }
    cmd
}

/// The selected account, or every configured and stored one.
fn check_accounts(
    store: &Store,
    config: Option<&config::Config>,
    selected: Option<Result<Request>>,
    now: u64,
    out: &mut Vec<Finding>,
) {
    let listed = match store.list() {
        Ok(l) => l,
        Err(e) => {
            out.push(problem_of(&e, "check the store directory"));
            return;
        }
    };
    let mut records = Vec::new();
    for (path, rec) in listed {
        match rec {
            Ok(r) => records.push(r),
            Err(e) => out.push(Finding::Problem(
                format!("{} ({})", e.message, path.display()),
                e.hint.unwrap_or_else(|| "move the file away".into()),
            )),
        }
    }
    // The accounts to look at: the one named, else every configured one
    // (and after them every other stored one).
    let mut wanted: Vec<Request> = Vec::new();
    let all = selected.is_none();
    match selected {
        Some(Err(e)) => {
            out.push(problem_of(&e, "check the account's name and flags"));
            return;
        }
        Some(Ok(req)) => wanted.push(req),
        None => {
            for named in config.map(|c| c.accounts.as_slice()).unwrap_or_default() {
                match Request::from_pairs(&named.pairs) {
                    Ok(mut req) => {
                        req.account_name = Some(named.name.clone());
                        wanted.push(req);
                    }
                    Err(e) => out.push(problem_of(&e, "fix the account in the config file")),
                }
            }
        }
    }
    let mut seen = vec![false; records.len()];
    for req in &wanted {
        let found: Vec<usize> = (0..records.len())
            .filter(|&i| matches(req, &records[i]))
            .collect();
        if found.is_empty() {
            let label = req
                .account_name
                .as_ref()
                .map(|n| format!("account '{n}'"))
                .or_else(|| req.user.as_ref().map(|u| format!("account {u}")))
                .unwrap_or_else(|| "the account".into());
            out.push(Finding::Problem(
                format!("{label} is not stored: it was never signed in, or was erased"),
                format!("run: {}", login_for(req)),
            ));
        }
        for i in found {
            seen[i] = true;
            check_record(&records[i], req.account_name.as_deref(), now, out);
        }
    }
    if all {
        for (rec, _) in records.iter().zip(&seen).filter(|(_, seen)| !**seen) {
            check_record(rec, None, now, out);
        }
        // A missing store directory was reported already.
        if records.is_empty() && wanted.is_empty() && store.dir().exists() {
            out.push(Finding::Problem(
                "no account is stored".into(),
                "sign in: ooauth2 login --client-id CLIENT-ID --user YOU@EXAMPLE.COM".into(),
            ));
        }
    }
}

/// The scope names that open each mail protocol, by protocol.
const MAIL_SCOPES: [(&str, &str); 3] = [
    ("IMAP", "IMAP.AccessAsUser.All"),
    ("POP", "POP.AccessAsUser.All"),
    ("SMTP", "SMTP.Send"),
];

/// Refresh token, access token lifetime and scope of one stored account.
fn check_record(rec: &Record, name: Option<&str>, now: u64, out: &mut Vec<Finding>) {
    let label = match name {
        Some(n) => format!("account '{n}' ({})", rec.user),
        None => format!("account {}", rec.user),
    };
    let login = match name {
        Some(n) => format!("ooauth2 login {n}"),
        None => rec.account().login_command(),
    };
    let usable = match (&rec.refresh_token, &rec.needs_login) {
        (Some(_), None) => {
            let when = rec
                .refresh_token_obtained_at
                .map(|t| format!(", obtained {}", crate::cli::utc(t)))
                .unwrap_or_default();
            out.push(Finding::Ok(format!("{label} has a refresh token{when}")));
            true
        }
        (_, Some(reason)) => {
            out.push(Finding::Problem(
                format!(
                    "{label} needs a new sign-in: the provider refused its refresh token ({reason})"
                ),
                format!("run: {login}"),
            ));
            false
        }
        (None, None) => {
            out.push(Finding::Problem(
                format!("{label} has no refresh token stored"),
                format!("run: {login}"),
            ));
            false
        }
    };
    match (rec.access_token.is_some(), rec.expires_at) {
        (true, Some(t)) if t > now => out.push(Finding::Ok(format!(
            "{label}: the access token is valid for {} more minute(s)",
            (t - now) / 60
        ))),
        _ if usable => out.push(Finding::Ok(format!(
            "{label}: no valid access token cached; the next request renews it"
        ))),
        // Without a usable refresh token the problem above says it all.
        _ => {}
    }
    check_scope(rec, &label, &login, out);
}

/// Whether the stored scope opens IMAP, POP and SMTP.
fn check_scope(rec: &Record, label: &str, login: &str, out: &mut Vec<Finding>) {
    let scope = rec
        .granted_scope
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or(&rec.scope);
    let items: Vec<String> = scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let microsoft = items.iter().any(|s| s.contains("://outlook."))
        || rec
            .authority
            .to_ascii_lowercase()
            .contains("microsoftonline");
    // Google: one scope opens all three.
    if items.iter().any(|s| s == "https://mail.google.com/") {
        out.push(Finding::Ok(format!(
            "{label}: the scope covers IMAP, POP and SMTP (https://mail.google.com/)"
        )));
        return;
    }
    if items.iter().any(|s| s.ends_with("/.default")) {
        out.push(Finding::Ok(format!(
            "{label}: the scope is a .default scope; what it opens depends on the app \
             registration's API permissions"
        )));
        return;
    }
    if !microsoft {
        out.push(Finding::Ok(format!(
            "{label}: the scope is '{scope}' (only Microsoft's and Google's scope names are checked)"
        )));
        return;
    }
    let has = |name: &str| {
        let suffix = format!("/{}", name.to_ascii_lowercase());
        items
            .iter()
            .any(|s| s.starts_with("https://") && s.ends_with(&suffix))
    };
    let missing: Vec<&str> = MAIL_SCOPES
        .iter()
        .filter(|(_, name)| !has(name))
        .map(|(proto, _)| *proto)
        .collect();
    if missing.is_empty() {
        out.push(Finding::Ok(format!(
            "{label}: the scope covers IMAP, POP and SMTP"
        )));
        return;
    }
    let names: Vec<String> = MAIL_SCOPES
        .iter()
        .filter(|(p, _)| missing.contains(p))
        .map(|(_, n)| format!("https://outlook.office.com/{n}"))
        .collect();
    out.push(Finding::Problem(
        format!(
            "{label}: the scope does not cover {} (missing {})",
            missing.join(", "),
            names.join(", ")
        ),
        format!(
            "if you use {}, sign in again with the full scope: {login} --scope \"{}\" \
             (or remove scope from the account's config to get that default)",
            missing.join(" or "),
            crate::provider::DEFAULT_SCOPE
        ),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(scope: &str) -> Record {
        // Built from JSON so the test does not depend on Record's Rust shape.
        serde_json::from_value(serde_json::json!({
            "version": 1,
            "authority": crate::provider::DEFAULT_AUTHORITY,
            "tenant": "common",
            "client_id": "cid",
            "user": "me@example.com",
            "scope": scope,
            "refresh_token": "rt",
            "refresh_token_obtained_at": null,
            "access_token": null,
            "token_type": null,
            "expires_at": null,
            "granted_scope": null,
            "needs_login": null,
            "updated_at": 1000
        }))
        .unwrap()
    }

    fn scope_findings(r: &Record) -> Vec<Finding> {
        let mut out = Vec::new();
        check_scope(r, "account x", "ooauth2 login x", &mut out);
        out
    }

    #[test]
    fn scopes_are_checked_by_protocol() {
        let full = scope_findings(&rec(crate::provider::DEFAULT_SCOPE));
        assert!(!full[0].is_problem(), "{full:?}");
        let r = rec(
            "offline_access https://outlook.office365.com/IMAP.AccessAsUser.All \
                     https://outlook.office365.com/SMTP.Send",
        );
        let f = scope_findings(&r);
        assert!(f[0].is_problem());
        let line = f[0].to_string();
        assert!(line.contains("does not cover POP"), "{line}");
        assert!(line.contains("POP.AccessAsUser.All"), "{line}");
        assert!(line.contains("-> if you use POP"), "{line}");
        // The granted scope wins over the requested one.
        let mut r = rec(crate::provider::DEFAULT_SCOPE);
        r.granted_scope = Some("https://outlook.office.com/IMAP.AccessAsUser.All".into());
        assert!(scope_findings(&r)[0].to_string().contains("POP, SMTP"));
        assert!(!scope_findings(&rec("https://mail.google.com/"))[0].is_problem());
    }

    #[test]
    fn refresh_token_and_lifetime() {
        let mut r = rec(crate::provider::DEFAULT_SCOPE);
        r.access_token = Some("at".into());
        r.expires_at = Some(1000 + 600);
        let mut out = Vec::new();
        check_record(&r, Some("work"), 1000, &mut out);
        let text: Vec<String> = out.iter().map(|f| f.to_string()).collect();
        assert!(out.iter().all(|f| !f.is_problem()), "{text:?}");
        assert!(text[1].contains("valid for 10 more minute"), "{text:?}");
        r.needs_login = Some("invalid_grant: revoked".into());
        let mut out = Vec::new();
        check_record(&r, Some("work"), 1000, &mut out);
        assert!(out[0].is_problem());
        assert!(out[0].to_string().contains("-> run: ooauth2 login work"));
    }
}
