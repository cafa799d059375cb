//! `ooauth2 store migrate`: each account's refresh token moved to the
//! secret store `--to` names and its config table changed to match, one
//! account at a time (one failing leaves it as it was; the others go on).
//! The engine moves the token under the account's lock; this front end
//! changes the config file while that lock is held, in the order that
//! keeps every step readable: a `command` entry reads a record in the
//! clear or sealed, so it is written first for `--to command`, and last
//! for `--to file`.

use crate::args::{MigrateArgs, StoreCommand};
use crate::context::Context;
use crate::output::report;
use ooauth2::config::{self, Edit, GivenCommands, Named};
use ooauth2::engine::{Found, Migration};
use ooauth2::error::{Error, Result};
use ooauth2::request::{Action, Raw, Request, Spelling};
use ooauth2::secret::StoreKind;
use ooauth2::store::Store;

/// `ooauth2 store ...`.
pub fn run(ctx: &Context, command: &StoreCommand) -> Result<()> {
    match command {
        StoreCommand::Migrate(args) => migrate(ctx, args),
    }
}

/// `store migrate`: every account asked for, each reported on stderr;
/// the error of the last that failed, after all were tried.
fn migrate(ctx: &Context, args: &MigrateArgs) -> Result<()> {
    let to = StoreKind::parse(&args.to, "--to")?;
    let configured = config::load(&ctx.settings)?
        .map(|c| c.accounts)
        .unwrap_or_default();
    let mut failures: Vec<Error> = Vec::new();
    let mut tried = 0;
    let names = match args.all {
        true => configured.iter().map(|n| n.name.clone()).collect(),
        false => args.names.clone(),
    };
    for name in &names {
        tried += 1;
        let done = match configured.iter().find(|n| &n.name == name) {
            Some(named) => migrate_one(ctx, named, to, args),
            // The config overlay's own error says what is there instead.
            None => ctx
                .request(named_raw(name))
                .and_then(|_| Err(Error::invalid(format!("no config entry for '{name}'")))),
        };
        match done {
            Ok(said) => eprintln!("ooauth2: {name}: {said}"),
            Err(e) => failures.push(failed(&format!("{name}: "), e)),
        }
    }
    if args.all {
        for e in unconfigured(ctx, &configured)? {
            tried += 1;
            failures.push(failed("", e));
        }
    }
    match failures.pop() {
        None => Ok(()),
        Some(last) => Err(Error::new(
            last.code,
            format!(
                "{} of {tried} accounts were not moved to {} (see above)",
                failures.len() + 1,
                to.name()
            ),
        )
        .hint("fix what the errors above say and run the same command again")),
    }
}

/// `e` reported now (its message after `prefix`), kept for the exit status.
fn failed(prefix: &str, mut e: Error) -> Error {
    e.message = format!("{prefix}{}", e.message);
    report(&e);
    e
}

/// The request of config account `name` for `get`, spelled as flags.
fn named_raw(name: &str) -> Raw {
    Raw {
        action: Some(Action::Get.as_str().to_string()),
        account: Some(name.to_string()),
        spelling: Spelling::Flags,
        ..Raw::default()
    }
}

/// One account moved: what happened, for stderr.
fn migrate_one(ctx: &Context, named: &Named, to: StoreKind, args: &MigrateArgs) -> Result<String> {
    let from = named.request(named_raw(&named.name))?;
    let given = GivenCommands {
        encrypt: args.encrypt_cmd.clone(),
        decrypt: args.decrypt_cmd.clone(),
    };
    let (target, edit) = config::with_secret_store(&ctx.settings, named, to, given)?;
    let plan = ctx.plan_migration(&from, &target)?;
    let same_store = from.store_kind() == to && from.sealing() == target.sealing();
    let found = plan.found();
    if same_store && found != Found::Moves {
        return Ok(format!(
            "it is in the {} store already; nothing was changed",
            to.name()
        ));
    }
    switch(&plan, &edit, to)?;
    let table = format!(
        "[accounts.{}] of {} says secret_store = \"{}\" now",
        named.name,
        edit.path().display(),
        to.name()
    );
    Ok(match found {
        Found::Moves => format!(
            "the refresh token of {} moved to {} and read back; {table}",
            plan.user(),
            rests(to)
        ),
        _ => format!("no refresh token is stored yet; {table}, and a sign-in stores it there"),
    })
}

/// How `to` keeps a token, for the report.
fn rests(to: StoreKind) -> &'static str {
    match to {
        StoreKind::File => "the record, in the clear",
        StoreKind::Command => "the record, sealed by encrypt_cmd",
        StoreKind::Keyring => "the desktop keyring",
    }
}

/// The record and the config entry changed, in the order in which every
/// state between them serves requests; a failure of the second step
/// undoes the first.
fn switch(plan: &Migration, edit: &Edit, to: StoreKind) -> Result<()> {
    let write_config = || match edit.changes() {
        true => edit.write(),
        false => Ok(()),
    };
    match to {
        // A record in the clear, or pointing at a keyring item, reads under
        // either config: the record first.
        StoreKind::File | StoreKind::Keyring => {
            plan.apply()?;
            write_config().inspect_err(|_| undo_record(plan))?;
        }
        StoreKind::Command => {
            write_config()?;
            plan.apply().inspect_err(|_| undo_config(edit))?;
        }
    }
    plan.finish();
    Ok(())
}

/// Puts the record back after the config file could not be changed.
fn undo_record(plan: &Migration) {
    if let Err(e) = plan.undo() {
        report(&e);
    }
}

/// Puts the config file back after the record could not be written.
fn undo_config(edit: &Edit) {
    if let Some(Err(e)) = edit.undo().filter(|_| edit.changes()).map(|u| u.write()) {
        report(&e);
    }
}

/// The stored accounts no config entry names: `store migrate --all`
/// cannot move them (their store commands are known only to the
/// command lines that use them), each an error saying what to do.
fn unconfigured(ctx: &Context, configured: &[Named]) -> Result<Vec<Error>> {
    let requests: Vec<Request> = configured
        .iter()
        .filter_map(|n| n.request(named_raw(&n.name)).ok())
        .collect();
    let mut out = Vec::new();
    for (_, rec) in ctx.store()?.list()? {
        let rec = match rec {
            Ok(rec) => rec,
            Err(e) => {
                out.push(e);
                continue;
            }
        };
        let id = Store::id(&rec.account());
        let named = requests
            .iter()
            .any(|r| Store::id(&r.account(r.user().unwrap_or(&rec.user))) == id);
        if !named {
            out.push(
                Error::invalid(format!(
                    "{} (client id {}) is stored but has no config entry: it was not moved",
                    rec.user, rec.client_id
                ))
                .hint(format!(
                    "give it one, then move it: ooauth2 setup NAME --no-login --user {} \
                     --client-id {}; ooauth2 store migrate NAME --to ...",
                    rec.user, rec.client_id
                )),
            );
        }
    }
    Ok(out)
}
