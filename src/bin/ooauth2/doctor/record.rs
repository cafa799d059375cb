//! The checks of one stored record: its refresh token, its access token's
//! lifetime and whether its scope opens IMAP, POP and SMTP.

use super::{Finding, with_full_scope};
use crate::output::minutes;
use ooauth2::health::{Basis, Health};
use ooauth2::provider::Provider;
use ooauth2::secret::SecretStore;
use ooauth2::store::Record;
use ooauth2::time::utc;

/// The scope names that open each mail protocol, by protocol.
const MAIL_SCOPES: [(&str, &str); 3] = [
    ("IMAP", "IMAP.AccessAsUser.All"),
    ("POP", "POP.AccessAsUser.All"),
    ("SMTP", "SMTP.Send"),
];

/// Refresh token, access token lifetime and scope of one stored account,
/// named `label` in findings and signed in again by `login`;
/// `wanted`: its secret_store, if it names one.
pub(super) fn check_record(
    rec: &Record,
    (label, login): (&str, &str),
    wanted: Option<&SecretStore>,
    now: u64,
    out: &mut Vec<Finding>,
) {
    let token = refresh_token(rec, label, login, wanted);
    let usable = !token.is_problem();
    out.push(token);
    if usable {
        out.extend(health(rec, label, login, now));
    }
    out.extend(lifetime(rec, label, usable, now));
    check_scope(rec, label, login, out);
}

/// Whether the store of `rec`'s refresh token answers: the keyring gives
/// it, or the account's `encrypt_cmd` seals a probe (its `decrypt_cmd` is
/// not run: it may want a key touched or a passphrase).
fn answers(rec: &Record, wanted: Option<&SecretStore>) -> ooauth2::error::Result<()> {
    rec.check_keyring()?;
    match wanted {
        Some(SecretStore::Command(seal)) => seal.probe(std::time::Duration::from_secs(15)),
        _ => Ok(()),
    }
}

/// Whether the record holds a refresh token the provider has not refused,
/// and where it rests.
fn refresh_token(rec: &Record, label: &str, login: &str, wanted: Option<&SecretStore>) -> Finding {
    match (rec.has_refresh_token(), &rec.needs_login) {
        (true, None) => {
            let when = rec
                .refresh_token_obtained_at
                .map(|t| format!(", obtained {}", utc(t)))
                .unwrap_or_default();
            let rests = rec.refresh_token_rests(wanted);
            if let Err(e) = answers(rec, wanted) {
                let store = match rec.refresh_token_keyring {
                    Some(_) => "the keyring, which does not give it",
                    None => "a command store whose encrypt_cmd fails",
                };
                return Finding::Problem(
                    format!("{label}'s refresh token rests in {store}: {}", e.message),
                    e.hint
                        .unwrap_or_else(|| "run the command again in your desktop session".into()),
                );
            }
            let answers = match (&rec.refresh_token_keyring, wanted) {
                (Some(_), _) => ", which answers",
                (None, Some(SecretStore::Command(_))) => " (its encrypt_cmd answers)",
                _ => "",
            };
            Finding::Ok(format!(
                "{label} has a refresh token{when}; it rests in: {rests}{answers}"
            ))
        }
        (_, Some(reason)) => Finding::Problem(
            format!(
                "{}: the provider refused its refresh token ({reason})",
                refused_mark(label)
            ),
            format!("run: {login}"),
        ),
        (false, None) => Finding::Problem(
            format!("{label} has no refresh token stored"),
            format!("run: {login}"),
        ),
    }
}

/// When the refresh token is expected to die, when that is soon (the
/// words of `status`): past, a problem; within two weeks, a note saying
/// what keeps it alive; a Google grant limited in time comes from an app
/// in Testing, whose fix is to publish it.
fn health(rec: &Record, label: &str, login: &str, now: u64) -> Option<Finding> {
    let h = Health::of(rec, now);
    let (dies, basis) = h.dies?;
    if h.needs_sign_in {
        return Some(Finding::Problem(
            format!(
                "{label}: its refresh token died {} ({})",
                utc(dies),
                basis.as_str()
            ),
            format!("run: {login}"),
        ));
    }
    let what = format!("{label}: its refresh token {}", h.phrase());
    match basis {
        Basis::Provider if rec.provider_preset() == Provider::Google => Some(Finding::Note(
            what,
            format!(
                "the app is in Testing: publish the app, or sign in again every 7 days ({login})"
            ),
        )),
        Basis::Provider => Some(Finding::Note(
            what,
            format!("sign in again by then: {login}"),
        )),
        Basis::Inactivity if h.dies_soon() => Some(Finding::Note(
            what,
            "run: ooauth2 keepalive (daily from its systemd timer or cron: see the README)".into(),
        )),
        Basis::Inactivity => None,
    }
}

/// How the finding of a record marked as refused opens: the online
/// refresh check, which says more, replaces it (`network`).
pub(super) fn refused_mark(label: &str) -> String {
    format!("{label} needs a new sign-in")
}

/// How long the cached access token stays valid, or that the next request
/// renews it (`usable`: with the refresh token).
fn lifetime(rec: &Record, label: &str, usable: bool, now: u64) -> Option<Finding> {
    match (rec.has_access_token(), rec.expires_at) {
        (true, Some(t)) if t > now => Some(Finding::Ok(format!(
            "{label}: the access token is valid for {} more",
            minutes(t - now)
        ))),
        _ if usable => Some(Finding::Ok(format!(
            "{label}: no valid access token cached; the next request renews it"
        ))),
        // Without a usable refresh token the problem of the refresh token
        // says it all.
        _ => None,
    }
}

/// Whether the stored scope opens IMAP, POP and SMTP.
fn check_scope(rec: &Record, label: &str, login: &str, out: &mut Vec<Finding>) {
    // The granted scope is what the provider gave; the requested one is
    // only what was asked for.
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
    let finding = if items.iter().any(|s| s == "https://mail.google.com/") {
        // Google: one scope opens all three.
        Finding::Ok(format!(
            "{label}: the scope covers IMAP, POP and SMTP (https://mail.google.com/)"
        ))
    } else if items.iter().any(|s| s.ends_with("/.default")) {
        Finding::Ok(format!(
            "{label}: the scope is a .default scope; what it opens depends on the app \
             registration's API permissions"
        ))
    } else if microsoft {
        // POP is used when the account asked for it (most use IMAP).
        let asks_pop = rec
            .scope
            .to_ascii_lowercase()
            .contains("/pop.accessasuser.all");
        microsoft_scope(&items, label, login, asks_pop)
    } else {
        Finding::Ok(format!(
            "{label}: the scope is '{scope}' (only Microsoft's and Google's scope names are checked)"
        ))
    };
    out.push(finding);
}

/// Which mail protocols a Microsoft scope (its `items`, lowercase) leaves
/// out, and the sign-in that adds them: a note when only POP is missing
/// and the account does not ask for it (`asks_pop`), else a problem.
fn microsoft_scope(items: &[String], label: &str, login: &str, asks_pop: bool) -> Finding {
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
        return Finding::Ok(format!("{label}: the scope covers IMAP, POP and SMTP"));
    }
    let names: Vec<String> = MAIL_SCOPES
        .iter()
        .filter(|(p, _)| missing.contains(p))
        .map(|(_, n)| format!("https://outlook.office.com/{n}"))
        .collect();
    let what = format!(
        "{label}: the scope does not cover {} (missing {})",
        missing.join(", "),
        names.join(", ")
    );
    let fix = format!(
        "if you use {}, sign in again with the full scope: {}",
        missing.join(" or "),
        with_full_scope(login)
    );
    if missing == ["POP"] && !asks_pop {
        Finding::Note(what, fix)
    } else {
        Finding::Problem(what, fix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::accounts::names;
    use crate::doctor::tests::rec;

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
        // Only POP missing, and not asked for: a note.
        assert!(!f[0].is_problem());
        let line = f[0].to_string();
        assert!(line.starts_with("note: "), "{line}");
        assert!(line.contains("does not cover POP"), "{line}");
        assert!(line.contains("POP.AccessAsUser.All"), "{line}");
        assert!(line.contains("-> if you use POP"), "{line}");
        // The granted scope wins over the requested one.
        let mut r = rec(ooauth2::provider::DEFAULT_SCOPE);
        r.granted_scope = Some("https://outlook.office.com/IMAP.AccessAsUser.All".into());
        assert!(scope_findings(&r)[0].to_string().contains("POP, SMTP"));
        // POP asked for and not granted: a problem.
        r.granted_scope = Some(
            "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send"
                .into(),
        );
        assert!(scope_findings(&r)[0].is_problem());
        assert!(!scope_findings(&rec("https://mail.google.com/"))[0].is_problem());
    }

    #[test]
    fn refresh_token_and_lifetime() {
        let mut r = rec(ooauth2::provider::DEFAULT_SCOPE);
        r.access_token = Some("at".into());
        r.expires_at = Some(1000 + 600);
        let mut out = Vec::new();
        let (label, login) = names(&r, Some("work"));
        check_record(&r, (&label, &login), None, 1000, &mut out);
        let text: Vec<String> = out.iter().map(|f| f.to_string()).collect();
        assert!(out.iter().all(|f| !f.is_problem()), "{text:?}");
        assert!(text[1].contains("valid for 10 minutes more"), "{text:?}");
        r.needs_login = Some("invalid_grant: revoked".into());
        let mut out = Vec::new();
        let (label, login) = names(&r, Some("work"));
        check_record(&r, (&label, &login), None, 1000, &mut out);
        assert!(out[0].is_problem());
        assert!(out[0].to_string().contains("-> run: ooauth2 login work"));
    }
}
