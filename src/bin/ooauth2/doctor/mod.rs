//! `ooauth2 doctor`: checks what ooauth2 keeps on disk and what the
//! provider says, and prints, for each check, `ok: ...` or
//! `problem: ... -> fix`.
//!
//! Offline: the store directory and its permissions, the config file, and
//! each account's refresh token, access token lifetime and scope; these read
//! the store only (no lock, no write).
//!
//! Online (unless `--offline`), per account: whether the provider's host
//! answers through the proxy and CA store the grants use, whether the local
//! clock agrees with the provider's `Date` header, and whether the app
//! registration allows the flow: a refresh through the engine for an account
//! with a refresh token (a rotated one is stored as any refresh stores it),
//! else a device authorization and one poll. The provider's refusal is
//! decoded into the fix it calls for.

use ooauth2::account;
use ooauth2::config;
use ooauth2::engine::{Engine, Options, RefreshCheck};
use ooauth2::error::{Code, Error, Result};
use ooauth2::oauth;
use ooauth2::provider::Flow;
use ooauth2::provider::Provider;
use ooauth2::request::{Interactive, Raw, Request};
use ooauth2::settings::Settings;
use ooauth2::store::{Record, Store};
use ooauth2::time::{Clock, SystemClock, parse_http_date, utc};
use std::fmt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

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

/// The largest difference between the local clock and the provider's `Date`
/// header that is not a problem. Five minutes is the usual tolerance of
/// token and certificate checks (Kerberos' default, Entra ID's for
/// assertions); `Date` has whole seconds and the answer takes a moment, so
/// a smaller limit would report noise.
pub const MAX_CLOCK_SKEW: u64 = 300;

/// A Google refresh token refused this long after it was obtained (7 days,
/// less an hour of slack, up to twice that for a machine that was off) is
/// taken for a Testing app's: Google expires those after 7 days.
const GOOGLE_TESTING_AGE: std::ops::RangeInclusive<u64> = (7 * 86_400 - 3600)..=(14 * 86_400);

/// How the network checks run; `None` in [`run`] is `--offline`.
#[derive(Debug, Clone, Copy)]
pub struct Online {
    /// Show each HTTP exchange on stderr (no secret is ever shown).
    pub verbose: u8,
}

/// One account the network checks look at.
struct Target {
    /// How the account is named in findings.
    label: String,
    /// The command that signs it in again.
    login: String,
    req: Request,
    /// Its record as read before any check, if it is stored.
    rec: Option<Record>,
}

/// Runs every check. `selected` is the account the user named (or the
/// error building it); `None` checks every configured and stored account.
/// `online` is `None` with `--offline`.
pub fn run(
    settings: &Settings,
    selected: Option<Result<Request>>,
    now: u64,
    online: Option<Online>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let store = match Store::open(settings) {
        Ok(s) => Some(s),
        Err(e) => {
            out.push(problem_of(&e, "set HOME or OOAUTH2_STORE_DIR"));
            None
        }
    };
    if let Some(store) = &store {
        check_store_dir(store.dir(), &mut out);
    }
    let config = check_config(settings, &mut out);
    let targets = match &store {
        Some(store) => check_accounts(store, config.as_ref(), selected, now, &mut out),
        None => Vec::new(),
    };
    match (online, &store) {
        (None, _) => out.push(Finding::Skipped(
            "network checks (reachability, clock skew, app registration): --offline".into(),
        )),
        (Some(online), Some(store)) => {
            check_network(settings, store, targets, now, online, &mut out)
        }
        (Some(_), None) => out.push(Finding::Skipped(
            "network checks: no store, so no account to check".into(),
        )),
    }
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

/// The config file, if any: read by the same checks every command applies
/// (ownership, mode, directory, size, UTF-8, each key), so doctor calls
/// valid exactly what the other commands accept.
fn check_config(settings: &Settings, out: &mut Vec<Finding>) -> Option<config::Config> {
    let path = match settings.config_path() {
        Ok(p) => p,
        Err(e) => {
            out.push(problem_of(&e, "set HOME or OOAUTH2_CONFIG"));
            return None;
        }
    };
    let shown = path.display();
    match config::load(settings) {
        Ok(None) => {
            out.push(Finding::Ok(format!(
                "no config file at {shown} (named accounts are optional)"
            )));
            None
        }
        Ok(Some(c)) => {
            out.push(Finding::Ok(format!(
                "the config file {shown} is valid ({} account(s), not writable by others)",
                c.accounts.len()
            )));
            Some(c)
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
    let mut want = req.account(req.user().unwrap_or(&rec.user));
    if req.client_id().is_none() {
        want.client_id.clone_from(&rec.client_id);
    }
    Store::id(&want) == Store::id(&rec.account())
}

/// The selected account, or every configured and stored one; returns the
/// accounts for the network checks.
fn check_accounts(
    store: &Store,
    config: Option<&config::Config>,
    selected: Option<Result<Request>>,
    now: u64,
    out: &mut Vec<Finding>,
) -> Vec<Target> {
    let mut targets = Vec::new();
    let listed = match store.list() {
        Ok(l) => l,
        Err(e) => {
            out.push(problem_of(&e, "check the store directory"));
            return targets;
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
            return targets;
        }
        Some(Ok(req)) => wanted.push(req),
        None => {
            for named in config.map(|c| c.accounts.as_slice()).unwrap_or_default() {
                match named.request(Raw::default()) {
                    Ok(req) => wanted.push(req),
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
                .account_name()
                .map(|n| format!("account '{n}'"))
                .or_else(|| req.user().map(|u| format!("account {u}")))
                .unwrap_or_else(|| "the account".into());
            out.push(Finding::Problem(
                format!("{label} is not stored: it was never signed in, or was erased"),
                format!("run: {}", req.login_command(req.user().unwrap_or_default())),
            ));
            targets.push(Target {
                label,
                login: req.login_command(req.user().unwrap_or_default()),
                req: req.clone(),
                rec: None,
            });
        }
        for i in found {
            seen[i] = true;
            let rec = &records[i];
            check_record(rec, req.account_name(), now, out);
            let (label, login) = names(rec, req.account_name());
            targets.push(Target {
                label,
                login,
                req: req.clone(),
                rec: Some(rec.clone()),
            });
        }
    }
    if all {
        for (rec, _) in records.iter().zip(&seen).filter(|(_, seen)| !**seen) {
            check_record(rec, None, now, out);
            let (label, login) = names(rec, None);
            match Request::validate(rec.raw()) {
                Ok(req) => targets.push(Target {
                    label,
                    login,
                    req,
                    rec: Some(rec.clone()),
                }),
                Err(e) => out.push(Finding::Skipped(format!(
                    "{label}: network checks ({})",
                    e.message
                ))),
            }
        }
        // A missing store directory was reported already.
        if records.is_empty() && wanted.is_empty() && store.dir().exists() {
            out.push(Finding::Problem(
                "no account is stored".into(),
                "sign in: ooauth2 login --client-id CLIENT-ID --user YOU@EXAMPLE.COM".into(),
            ));
        }
    }
    for t in &mut targets {
        // The checks never start a sign-in.
        t.req = t.req.with_interactive(Interactive::Never);
    }
    targets
}

/// How a stored account is named in findings, and the command that signs
/// it in again.
fn names(rec: &Record, name: Option<&str>) -> (String, String) {
    match name {
        Some(n) => (
            format!("account '{n}' ({})", rec.user),
            account::login_command(Some(n), &rec.account()),
        ),
        None => (
            format!("account {}", rec.user),
            account::login_command(None, &rec.account()),
        ),
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
    let (label, login) = names(rec, name);
    let usable = match (&rec.refresh_token, &rec.needs_login) {
        (Some(_), None) => {
            let when = rec
                .refresh_token_obtained_at
                .map(|t| format!(", obtained {}", utc(t)))
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
            ooauth2::provider::DEFAULT_SCOPE
        ),
    ));
}

// ---------------------------------------------------------------------------
// Network checks
// ---------------------------------------------------------------------------

/// Reachability and clock once per provider host, then the app
/// registration of each account whose host answered.
fn check_network(
    settings: &Settings,
    store: &Store,
    targets: Vec<Target>,
    now: u64,
    online: Online,
    out: &mut Vec<Finding>,
) {
    if targets.is_empty() {
        out.push(Finding::Skipped(
            "network checks: no account to check".into(),
        ));
        return;
    }
    let options = match Options::new(settings, online.verbose) {
        Ok(o) => o,
        Err(e) => {
            out.push(problem_of(&e, "fix the variable it names"));
            return;
        }
    };
    let clock = SystemClock;
    // Never shown: every request here is made with interactive=never.
    let mut ui = crate::terminal::TerminalUi::new(false);
    let mut engine = Engine::new(store.clone(), &clock, options, &mut ui);
    // Each token endpoint's host is asked once; its accounts share the answer.
    let mut reached: Vec<(String, bool)> = Vec::new();
    for t in targets {
        // An issuer's account reaches its issuer first (discovery).
        let token_url = t
            .req
            .issuer()
            .map(str::to_string)
            .unwrap_or_else(|| t.req.endpoints().token.clone());
        let host = host_label(&token_url);
        let ok = match reached.iter().find(|(h, _)| *h == host) {
            Some((_, ok)) => *ok,
            None => {
                let ok = check_host(&mut engine, &token_url, &host, out);
                reached.push((host.clone(), ok));
                ok
            }
        };
        if ok {
            check_registration(&mut engine, &t, now, out);
        } else {
            out.push(Finding::Skipped(format!(
                "{}: the app registration check ({host} was not reached)",
                t.label
            )));
        }
    }
}

/// `scheme://host[:port]` of a URL, for findings.
fn host_label(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| url.to_string())
}

/// Whether the host of `token_url` answers; and, if it does, whether its
/// `Date` agrees with the local clock.
fn check_host(engine: &mut Engine, token_url: &str, host: &str, out: &mut Vec<Finding>) -> bool {
    let probe = engine.http_client().and_then(|http| http.probe(token_url));
    let probe = match probe {
        Ok(p) => p,
        Err(e) => {
            out.push(problem_of(&e, "check the network connection"));
            return false;
        }
    };
    let route = match &probe.proxy {
        Some(p) => format!("through the proxy {p}"),
        None => "directly, no proxy set".into(),
    };
    out.push(Finding::Ok(format!(
        "{host} is reachable (HTTP {} in {} ms, {route})",
        probe.status,
        probe.elapsed.as_millis()
    )));
    out.push(clock_finding(
        host,
        probe.date.as_deref(),
        SystemClock.now(),
    ));
    true
}

/// The local clock (`local`, Unix seconds) against a `Date` header.
fn clock_finding(host: &str, date: Option<&str>, local: u64) -> Finding {
    let Some(date) = date else {
        return Finding::Skipped(format!(
            "the clock: {host} sent no Date header to compare with"
        ));
    };
    let Some(theirs) = parse_http_date(date) else {
        return Finding::Skipped(format!(
            "the clock: the Date header of {host} ('{}') is not an HTTP date",
            ooauth2::error::one_line(&date.chars().take(60).collect::<String>())
        ));
    };
    let skew = local.abs_diff(theirs);
    if skew <= MAX_CLOCK_SKEW {
        return Finding::Ok(format!(
            "the clock agrees with {host} ({skew} s apart; up to {MAX_CLOCK_SKEW} s is fine)"
        ));
    }
    let way = if local > theirs { "fast" } else { "slow" };
    Finding::Problem(
        format!(
            "the clock is {skew} s {way} (compared with the Date header of {host}); \
             certificate and token lifetime checks assume a correct clock"
        ),
        "enable time sync (timedatectl set-ntp true), or set the time (e.g. chronyc makestep)"
            .into(),
    )
}

/// Whether the app registration allows the account's grants: a refresh
/// when it has a refresh token, else a device authorization and one poll.
fn check_registration(engine: &mut Engine, t: &Target, now: u64, out: &mut Vec<Finding>) {
    let label = &t.label;
    let stored = t.rec.as_ref().filter(|r| r.refresh_token.is_some());
    if let Some(rec) = stored {
        if t.req.provider() == Provider::Google
            && t.req.client_secret().is_none()
            && t.req.client_secret_cmd().is_none()
        {
            out.push(Finding::Skipped(format!(
                "{label}: the refresh check (Google wants the client secret: give doctor \
                 --client-secret-cmd, or the account a client_secret_cmd in the config file)"
            )));
            return;
        }
        match engine.check_refresh(&t.req, &rec.user) {
            Ok(RefreshCheck::Refreshed { rotated }) => out.push(Finding::Ok(format!(
                "{label}: the provider accepted the refresh token (a new access token{} was \
                 stored): the app registration allows it",
                if rotated {
                    " and the rotated refresh token"
                } else {
                    ""
                }
            ))),
            Ok(RefreshCheck::NoRefreshToken) => out.push(Finding::Skipped(format!(
                "{label}: the refresh check (the refresh token was erased meanwhile)"
            ))),
            Ok(RefreshCheck::Refused(e)) => out.push(refusal(&e, t, "refresh", now)),
            Err(e) => out.push(problem_of(&e, "check the store directory")),
        }
        return;
    }
    if t.req.flow() == Flow::Device && t.req.endpoints().device.is_some() {
        match engine.check_device(&t.req) {
            Ok(()) => out.push(Finding::Ok(format!(
                "{label}: the app registration allows the device flow (a device \
                 authorization was granted and the provider waits for a sign-in)"
            ))),
            Err(e) => out.push(refusal(&e, t, "device authorization", now)),
        }
        return;
    }
    out.push(Finding::Skipped(format!(
        "{label}: the app registration check ({} signs in with a browser, so there is \
         nothing to ask without you; `ooauth2 login` shows the provider's answer)",
        t.req.provider().name()
    )));
}

/// A provider's refusal, decoded into what is wrong and the fix.
fn refusal(e: &Error, t: &Target, what: &str, now: u64) -> Finding {
    let label = &t.label;
    let microsoft = t.req.provider().is_microsoft();
    let said = format!("the {what} was refused: {}", e.message);
    let client = t.req.client_id().unwrap_or("CLIENT-ID");
    let problem = |what: String, fix: String| Finding::Problem(format!("{label}: {what}"), fix);
    // Microsoft's wording of 7000218 counts as that code even where a
    // provider sends the words without the number (oauth's classification).
    match (e.code, e.aadsts()) {
        (_, Some(7000218)) => problem(
            format!("the app registration does not allow public client flows ({said})"),
            format!(
                "enable Allow public client flows in the app registration (Azure portal > \
                 App registrations > {client} > Authentication > Advanced settings: Allow \
                 public client flows: Yes), or give the account its client secret \
                 (client_secret_cmd)"
            ),
        ),
        (_, Some(700016)) => problem(
            format!("no app with client id {client} is registered in the directory ({said})"),
            format!(
                "check client_id and tenant: an app registered in one directory needs \
                 --tenant set to that directory (its ID or domain), and personal accounts need \
                 an app whose Supported account types include personal Microsoft accounts \
                 (tenant now: {})",
                t.req.tenant()
            ),
        ),
        (_, Some(70011)) | (Code::InvalidScope, _) if microsoft => problem(
            format!("the provider refused the scope ({said})"),
            format!(
                "use outlook.office.com scopes for personal accounts (outlook.office365.com \
                 ones are refused): {} --scope \"{}\" (or remove scope from the account's \
                 config to get that default)",
                t.login,
                ooauth2::provider::DEFAULT_SCOPE
            ),
        ),
        (Code::InvalidGrant, _) if t.req.provider() == Provider::Google => {
            google_refusal(e, t, &said, now)
        }
        (Code::InvalidGrant, aadsts) => problem(
            format!("the provider refused the refresh token ({said})"),
            match aadsts.and_then(oauth::aadsts_hint) {
                Some(h) => format!("{h}: {}", t.login),
                None => format!("sign in again: {}", t.login),
            },
        ),
        (code, _) if code.is_transient() => problem(
            format!("the provider did not answer the {what} ({})", e.message),
            e.hint.clone().unwrap_or_else(|| "try again later".into()),
        ),
        _ => problem(
            said,
            e.hint
                .clone()
                .unwrap_or_else(|| "check client_id, tenant and scope".into()),
        ),
    }
}

/// Google's `invalid_grant`: a Testing app's week-old refresh token, or one
/// revoked or expired.
fn google_refusal(e: &Error, t: &Target, said: &str, now: u64) -> Finding {
    let (what, fix) = match google_refused_after(t.rec.as_ref(), now) {
        Some(age) if GOOGLE_TESTING_AGE.contains(&age) => (
            format!(
                "this Google app is in Testing: its refresh tokens expire after 7 days \
                 (the refresh token obtained {} day(s) before was refused: {})",
                age / 86_400,
                e.message
            ),
            format!(
                "publish the app (Google Cloud console > OAuth consent screen > \
                 Publish app) or sign in again each week: {}",
                t.login
            ),
        ),
        _ => (
            format!("Google refused the refresh token: revoked or expired ({said})"),
            format!("sign in again: {}", t.login),
        ),
    };
    Finding::Problem(format!("{}: {what}", t.label), fix)
}

/// How long after it was obtained the stored refresh token was first
/// refused: when the record was marked (its last write), else now.
fn google_refused_after(rec: Option<&Record>, now: u64) -> Option<u64> {
    let rec = rec?;
    let obtained = rec.refresh_token_obtained_at?;
    let refused = if rec.needs_login.is_some() {
        rec.updated_at
    } else {
        now
    };
    refused.checked_sub(obtained)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(scope: &str) -> Record {
        // Built from JSON so the test does not depend on Record's Rust shape.
        serde_json::from_value(serde_json::json!({
            "version": 1,
            "authority": ooauth2::provider::DEFAULT_AUTHORITY,
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
        let full = scope_findings(&rec(ooauth2::provider::DEFAULT_SCOPE));
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
        let mut r = rec(ooauth2::provider::DEFAULT_SCOPE);
        r.granted_scope = Some("https://outlook.office.com/IMAP.AccessAsUser.All".into());
        assert!(scope_findings(&r)[0].to_string().contains("POP, SMTP"));
        assert!(!scope_findings(&rec("https://mail.google.com/"))[0].is_problem());
    }

    #[test]
    fn clock_skew_beyond_five_minutes_is_a_problem() {
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        let theirs = 784_111_777;
        assert!(!clock_finding("h", Some(date), theirs + MAX_CLOCK_SKEW).is_problem());
        let fast = clock_finding("h", Some(date), theirs + 600).to_string();
        assert!(
            fast.starts_with("problem: the clock is 600 s fast"),
            "{fast}"
        );
        assert!(fast.contains("-> enable time sync (timedatectl set-ntp true)"));
        let slow = clock_finding("h", Some(date), theirs - 301).to_string();
        assert!(
            slow.starts_with("problem: the clock is 301 s slow"),
            "{slow}"
        );
        assert!(matches!(clock_finding("h", None, 0), Finding::Skipped(_)));
        assert!(matches!(
            clock_finding("h", Some("yesterday"), 0),
            Finding::Skipped(_)
        ));
    }

    #[test]
    fn a_google_refusal_is_dated_from_the_first_refusal() {
        let mut r = rec("https://mail.google.com/");
        r.refresh_token_obtained_at = Some(1000);
        assert_eq!(google_refused_after(Some(&r), 5000), Some(4000));
        r.needs_login = Some("refused".into());
        r.updated_at = 1000 + 7 * 86_400;
        assert_eq!(
            google_refused_after(Some(&r), 99 * 86_400),
            Some(7 * 86_400)
        );
        assert!(GOOGLE_TESTING_AGE.contains(&(7 * 86_400)));
        assert!(!GOOGLE_TESTING_AGE.contains(&86_400));
        r.refresh_token_obtained_at = None;
        assert_eq!(google_refused_after(Some(&r), 5000), None);
    }

    #[test]
    fn refresh_token_and_lifetime() {
        let mut r = rec(ooauth2::provider::DEFAULT_SCOPE);
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
