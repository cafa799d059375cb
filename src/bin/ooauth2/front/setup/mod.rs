//! `ooauth2 setup [NAME]`: from nothing to a working account. Every
//! question first (flags, or the terminal: ask.rs, with guide.rs saying
//! where a client id comes from), the answers validated as one request;
//! only then the config file changes (the library's `config::plan_account`,
//! the change shown as a diff: diff.rs, and confirmed before an account
//! already there is replaced). Then the sign-in `ooauth2 login NAME` does,
//! the `ooauth2 test` logins asked for, and the mail clients' lines on
//! stdout (clients.rs). Bad input changes nothing.

mod answers;
mod ask;
mod clients;
mod diff;
mod guide;

use crate::args::{AccountArgs, LoginArgs, SetupArgs, TestArgs};
use crate::context::Context;
use crate::mailtest::{Mechanism, Service};
use crate::output::print_stdout;
use answers::Answers;
use ask::Asker;
use clients::Server;
use ooauth2::config::{self, Edit};
use ooauth2::error::{Error, Result};
use ooauth2::request::Request;
use std::io::IsTerminal;

/// Sets an account up: see the module's doc.
pub fn run(ctx: &Context, args: &SetupArgs) -> Result<()> {
    let asker = Asker::new();
    let configured = config::load(&ctx.settings)?.map_or_else(Vec::new, |c| c.accounts);
    let Answers {
        name,
        raw,
        imap,
        smtp,
    } = answers::gather(&asker, args, &configured)?;
    let req = Request::validate(raw.clone())?;
    if let Some(cmd) = req.client_secret_cmd() {
        eprintln!("ooauth2: running the client secret command once, to check it");
        cmd.check(ctx.settings.secret_cmd_timeout()?)?;
    }
    let edit = config::plan_account(&ctx.settings, &name, &raw)?;
    apply(&asker, args, &edit, &name)?;
    if !args.no_login {
        sign_in(ctx, args, &name, &edit)?;
    }
    for service in &args.test {
        let server = match service {
            Service::Imap => imap.as_ref(),
            Service::Smtp => smtp.as_ref(),
            Service::Pop => None,
        };
        test(ctx, args, &name, *service, server)?;
    }
    let user = req.user().unwrap_or_default();
    print_stdout(&clients::lines(&name, user, imap.as_ref(), smtp.as_ref()))?;
    notes(ctx, &name, imap.is_none() || smtp.is_none());
    Ok(())
}

/// Shows the change and makes it: asked first when it replaces an
/// account (`--yes` answers), refused without a terminal to ask on.
fn apply(asker: &Asker, args: &SetupArgs, edit: &Edit, name: &str) -> Result<()> {
    let path = edit.path().display().to_string();
    if !edit.changes() {
        eprintln!("ooauth2: [accounts.{name}] in {path} already holds these values");
        return Ok(());
    }
    let styled = std::io::stderr().is_terminal() && crate::terminal::colour_allowed();
    eprint!(
        "{}",
        diff::unified(edit.old_text(), edit.new_text(), &path, styled)
    );
    if edit.replaces() && !args.yes {
        if !asker.at_terminal() {
            return Err(Error::invalid(format!(
                "[accounts.{name}] is already in {path}, and with no terminal to ask on, \
                 setup does not replace it; nothing was changed"
            ))
            .hint("pass --yes to replace it as shown, or choose another account name"));
        }
        if !asker.confirm(&format!("Replace [accounts.{name}] as shown?"))? {
            return Err(Error::invalid(format!(
                "[accounts.{name}] was left as it was; nothing was changed"
            ))
            .hint("run ooauth2 setup again with another account name, or answer y"));
        }
    }
    edit.write()?;
    eprintln!("ooauth2: wrote [accounts.{name}] to {path}");
    Ok(())
}

/// The sign-in of `ooauth2 login NAME`, with this run's sign-in flags.
fn sign_in(ctx: &Context, args: &SetupArgs, name: &str, edit: &Edit) -> Result<()> {
    eprintln!("ooauth2: signing in as `ooauth2 login {name}` does");
    let login = LoginArgs {
        account: AccountArgs {
            name: Some(name.to_string()),
            ..AccountArgs::default()
        },
        signin: args.signin.clone(),
    };
    super::token::login(ctx, &login).inspect_err(|_| {
        eprintln!(
            "ooauth2: [accounts.{name}] stays in {}: once the error below is fixed, \
             `ooauth2 setup {name}` (or `ooauth2 login {name}`) carries on",
            edit.path().display()
        );
    })
}

/// `ooauth2 test SERVICE NAME` at `server` (else the provider's), its
/// steps and summary on stderr.
fn test(
    ctx: &Context,
    args: &SetupArgs,
    name: &str,
    service: Service,
    server: Option<&Server>,
) -> Result<()> {
    let test = TestArgs {
        service,
        account: AccountArgs {
            name: Some(name.to_string()),
            ..AccountArgs::default()
        },
        signin: Default::default(),
        host: server.map(|s| s.host.clone()),
        port: server.map(|s| s.port),
        tls: None,
        mechanism: Mechanism::Xoauth2,
        ca_file: args.ca_file.clone(),
        min_ttl: None,
        refresh: false,
        non_interactive: true,
    };
    let summary = super::test::login(ctx, &test)?;
    eprintln!("{summary}");
    Ok(())
}

/// What to do with the lines, and what they depend on.
fn notes(ctx: &Context, name: &str, servers_unknown: bool) {
    let where_ = if std::io::stdout().is_terminal() {
        "above"
    } else {
        "on stdout"
    };
    eprintln!(
        "ooauth2: [accounts.{name}] is set up: put the lines {where_} into the files \
         they name; `ooauth2 test imap {name}` checks the mail server's login"
    );
    if servers_unknown {
        eprintln!(
            "ooauth2: note: the provider's mail servers are not known: put yours in place \
             of MAIL-SERVER (or pass --imap-server and --smtp-server)"
        );
    }
    if ctx.settings.config_from_env() {
        eprintln!(
            "ooauth2: note: OOAUTH2_CONFIG names the config file: the mail clients need it \
             in their environment too"
        );
    }
}
