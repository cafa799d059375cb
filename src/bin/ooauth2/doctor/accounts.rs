//! The accounts to check: the one the user named, or every configured one
//! (through `Named::request`) and after them every other stored one
//! (through `Record::raw`); each found record is checked on the way.

use super::record::check_record;
use super::{Finding, Target, problem_of};
use ooauth2::account;
use ooauth2::config;
use ooauth2::error::Result;
use ooauth2::request::{Interactive, Raw, Request};
use ooauth2::store::{Record, Store};

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
pub(super) fn check_accounts(
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
pub(super) fn names(rec: &Record, name: Option<&str>) -> (String, String) {
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
