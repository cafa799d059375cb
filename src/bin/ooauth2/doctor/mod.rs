//! `ooauth2 doctor`: checks what ooauth2 keeps on disk and what the
//! provider says, and prints, for each check, `ok: ...`,
//! `problem: ... -> fix` or `note: ... -> fix` (not a problem).
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

mod accounts;
mod local;
mod network;
mod record;
mod refusal;

pub(crate) use accounts::names;

use ooauth2::error::{Error, Result};
use ooauth2::request::{Interactive, Request};
use ooauth2::settings::Settings;
use ooauth2::store::{Record, Store};
use std::fmt;

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// What was checked and found right.
    Ok(String),
    /// What is wrong, and what to do about it.
    Problem(String, String),
    /// What may matter, and what to do if it does; not a problem.
    Note(String, String),
    /// A check that was not made, and why.
    Skipped(String),
}

impl Finding {
    /// Whether the user has something to fix (doctor then exits 1).
    pub fn is_problem(&self) -> bool {
        matches!(self, Finding::Problem(..))
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Ok(s) => write!(f, "ok: {s}"),
            Finding::Problem(s, fix) => write!(f, "problem: {s} -> {fix}"),
            Finding::Note(s, fix) => write!(f, "note: {s} -> {fix}"),
            Finding::Skipped(s) => write!(f, "skipped: {s}"),
        }
    }
}

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
    /// The request the checks make, as the other commands would build it.
    req: Request,
    /// Its record as read before any check, if it is stored.
    rec: Option<Record>,
}

impl Target {
    /// The target of `req`, made never to start a sign-in: the checks only
    /// ask, and nobody may be there to answer.
    fn new(label: String, login: String, req: &Request, rec: Option<&Record>) -> Target {
        Target {
            label,
            login,
            req: req.with_interactive(Interactive::Never),
            rec: rec.cloned(),
        }
    }
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
        local::check_store_dir(store.dir(), &mut out);
    }
    let config = local::check_config(settings, &mut out);
    let targets = match &store {
        Some(store) => accounts::check_accounts(store, config.as_ref(), selected, now, &mut out),
        None => Vec::new(),
    };
    match (online, &store) {
        (None, _) => out.push(Finding::Skipped(
            "network checks (reachability, clock skew, app registration): --offline".into(),
        )),
        (Some(online), Some(store)) => {
            network::check_network(settings, store, targets, now, online, &mut out)
        }
        (Some(_), None) => out.push(Finding::Skipped(
            "network checks: no store, so no account to check".into(),
        )),
    }
    out
}

/// An error as a problem: its message, and its hint or else `default_fix`.
fn problem_of(e: &Error, default_fix: &str) -> Finding {
    Finding::Problem(
        e.message.clone(),
        e.hint.clone().unwrap_or_else(|| default_fix.to_string()),
    )
}

/// `login` with the default scope, which opens IMAP, POP and SMTP: the fix
/// for a scope that leaves one out or that the provider refuses.
fn with_full_scope(login: &str) -> String {
    format!(
        "{login} --scope \"{}\" (or remove scope from the account's config to get that default)",
        ooauth2::provider::DEFAULT_SCOPE
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored Microsoft account of `scope`.
    pub(super) fn rec(scope: &str) -> Record {
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
}
