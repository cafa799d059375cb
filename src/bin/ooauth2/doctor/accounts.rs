//! The accounts to check: the one the user named, or every configured one
//! (through `Named::request`) and after them every other stored one
//! (through `Record::raw`); each found record is checked on the way.

use super::record::check_record;
use super::{Finding, Target, problem_of};
use ooauth2::account::{self, Account};
use ooauth2::config;
use ooauth2::engine;
use ooauth2::error::Result;
use ooauth2::provider::{self, Provider};
use ooauth2::request::{Raw, Request};
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
    let Some(records) = readable_records(store, out) else {
        return Vec::new();
    };
    let all = selected.is_none();
    let Some(wanted) = wanted(config, selected, out) else {
        return Vec::new();
    };
    let mut seen = vec![false; records.len()];
    let mut targets = Vec::new();
    for req in &wanted {
        targets.extend(targets_of(store, req, &records, &mut seen, now, out));
    }
    if all {
        targets.extend(unclaimed(&records, &seen, now, out));
        // A missing store directory was reported already.
        if records.is_empty() && wanted.is_empty() && store.dir().exists() {
            out.push(Finding::Problem(
                "no account is stored".into(),
                format!("sign in: {}", first_login()),
            ));
        }
    }
    targets
}

/// The records of the store that can be read; each other one is a problem.
/// `None` when the store cannot be listed.
fn readable_records(store: &Store, out: &mut Vec<Finding>) -> Option<Vec<Record>> {
    let listed = match store.list() {
        Ok(l) => l,
        Err(e) => {
            out.push(problem_of(&e, "check the store directory"));
            return None;
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
    Some(records)
}

/// The accounts to look at: the one named, else every configured one
/// (every other stored one comes after them). `None` when the named one
/// could not be built: nothing else was asked for.
fn wanted(
    config: Option<&config::Config>,
    selected: Option<Result<Request>>,
    out: &mut Vec<Finding>,
) -> Option<Vec<Request>> {
    match selected {
        Some(Err(e)) => {
            out.push(problem_of(&e, "check the account's name and flags"));
            None
        }
        Some(Ok(req)) => Some(vec![req]),
        None => Some(configured(config, out)),
    }
}

/// Every account of the config file, as the other commands would build it;
/// one that cannot be built is a problem.
fn configured(config: Option<&config::Config>, out: &mut Vec<Finding>) -> Vec<Request> {
    let mut wanted = Vec::new();
    for named in config.map(|c| c.accounts.as_slice()).unwrap_or_default() {
        match named.request(Raw::default()) {
            Ok(req) => wanted.push(req),
            Err(e) => out.push(problem_of(&e, "fix the account in the config file")),
        }
    }
    wanted
}

/// The stored records `req` means, each checked and marked `seen`; or, when
/// none is stored, that problem (with the stored accounts it nearly names)
/// and a target without a record (the device flow's registration can still
/// be asked about).
fn targets_of(
    store: &Store,
    req: &Request,
    records: &[Record],
    seen: &mut [bool],
    now: u64,
    out: &mut Vec<Finding>,
) -> Vec<Target> {
    let found: Vec<usize> = (0..records.len())
        .filter(|&i| matches(req, &records[i]))
        .collect();
    if found.is_empty() {
        let (label, login) = unstored_names(req);
        let wanted = req.account(req.user().unwrap_or_default());
        let finding = match engine::near_miss_words(store, req, &wanted) {
            Some((stored, give)) => Finding::Problem(
                format!("{label} is not stored; {stored}"),
                format!("to use {give}; to sign in as asked instead, run: {login}"),
            ),
            None => Finding::Problem(
                format!("{label} is not stored: it was never signed in, or was erased"),
                format!("run: {login}"),
            ),
        };
        out.push(finding);
        return vec![Target::new(label, login, req, None)];
    }
    let mut targets = Vec::new();
    for i in found {
        seen[i] = true;
        let rec = &records[i];
        let (mut label, mut login) = names(rec, req.account_name());
        label.push_str(&told_apart(rec, records));
        if req.account_name().is_some() {
            // The request's command: it keeps the values given beside a name.
            login = req.login_command(&rec.user);
        }
        check_record(rec, (&label, &login), req.secret_store(), now, out);
        targets.push(Target::new(label, login, req, Some(rec)));
    }
    targets
}

/// Every stored record no wanted account meant, each checked; the targets
/// of those the store's own fields make a valid request of.
fn unclaimed(records: &[Record], seen: &[bool], now: u64, out: &mut Vec<Finding>) -> Vec<Target> {
    let mut targets = Vec::new();
    for (rec, _) in records.iter().zip(seen).filter(|(_, seen)| !**seen) {
        let (mut label, login) = names(rec, None);
        label.push_str(&told_apart(rec, records));
        check_record(rec, (&label, &login), None, now, out);
        match Request::validate(rec.raw()) {
            Ok(req) => targets.push(Target::new(label, login, &req, Some(rec))),
            Err(e) => out.push(Finding::Skipped(format!(
                "{label}: network checks ({})",
                e.message
            ))),
        }
    }
    targets
}

/// How a stored account is named in findings, and the command that signs
/// it in again.
pub(crate) fn names(rec: &Record, name: Option<&str>) -> (String, String) {
    let label = match name {
        Some(n) => format!("account '{n}' ({})", rec.user),
        None => format!("account {}", rec.user),
    };
    (label, account::login_command(name, &rec.account()))
}

/// What tells `rec` apart from the other records of its user, for its
/// label (` (tenant T, client id C)`); empty when no other has its user.
fn told_apart(rec: &Record, records: &[Record]) -> String {
    let a = rec.account();
    let others: Vec<_> = records
        .iter()
        .map(Record::account)
        .filter(|o| o.user.to_lowercase() == a.user.to_lowercase() && *o != a)
        .collect();
    let differs = |f: fn(&Account) -> &str| others.iter().any(|o| f(o) != f(&a));
    let mut parts = Vec::new();
    if differs(|x| x.provider.name()) {
        parts.push(format!("provider {}", a.provider.name()));
    }
    if differs(|x| &x.authority) {
        parts.push(format!("at {}", a.authority));
    }
    if differs(|x| &x.tenant) {
        parts.push(format!("tenant {}", a.tenant));
    }
    if differs(|x| &x.client_id) {
        parts.push(format!("client id {}", a.client_id));
    }
    match parts.is_empty() {
        true => String::new(),
        false => format!(" ({})", parts.join(", ")),
    }
}

/// How an account that is not stored is named in findings (by what the
/// request knows of it), and the command that signs it in.
fn unstored_names(req: &Request) -> (String, String) {
    let label = req
        .account_name()
        .map(|n| format!("account '{n}'"))
        .or_else(|| req.user().map(|u| format!("account {u}")))
        .unwrap_or_else(|| "the account".into());
    (label, req.login_command(req.user().unwrap_or_default()))
}

/// The command that signs in a first account: neither client id nor user
/// is known, so it shows their placeholders.
fn first_login() -> String {
    let nobody = Account {
        provider: Provider::Microsoft,
        authority: provider::DEFAULT_AUTHORITY.into(),
        tenant: provider::DEFAULT_TENANT.into(),
        client_id: String::new(),
        user: String::new(),
    };
    account::login_command(None, &nobody)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_sign_in_shows_the_placeholders() {
        assert_eq!(
            first_login(),
            "ooauth2 login --client-id CLIENT-ID --user YOU@EXAMPLE.COM"
        );
    }
}
