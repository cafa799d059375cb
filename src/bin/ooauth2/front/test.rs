//! `ooauth2 test imap|pop|smtp`: a token from the engine, exactly as
//! `token` gets it, then a real login to the mail server (`mailtest`).

use crate::args::TestArgs;
use crate::context::Context;
use crate::mailtest::{self, Login, Report, Target, Tls};
use crate::output::{minutes, print_stdout, warn};
use clap::ValueEnum;
use ooauth2::error::{Error, Result};
use ooauth2::request::{Action, Request};

/// Logs in to the server `args` name with the account's token; the
/// summary line on stdout.
pub fn run(ctx: &Context, args: &TestArgs) -> Result<()> {
    let summary = login(ctx, args)?;
    print_stdout(&format!("{summary}\n"))
}

/// Logs in to the server `args` name with the account's token, each step
/// reported on stderr; returns the summary line.
pub fn login(ctx: &Context, args: &TestArgs) -> Result<String> {
    let action = if args.refresh {
        Action::Refresh
    } else {
        Action::Get
    };
    let mut raw = args.account.raw(action)?;
    raw.min_ttl.clone_from(&args.min_ttl);
    if args.non_interactive {
        raw.interactive = Some("never".into());
    }
    args.signin.apply(&mut raw);
    let req = ctx.request(raw)?;
    let target = target(ctx, args, &req)?;
    let a = ctx.token(&req, false)?;
    warn(&a);
    eprintln!(
        "token ok (from {}, valid for {} more)",
        a.source.as_str(),
        minutes(a.expires_in)
    );
    let login_cmd = req.login_command(&a.user);
    let doctor_cmd = login_cmd.replacen("ooauth2 login", "ooauth2 doctor", 1);
    let login = Login {
        user: &a.user,
        token: a.access_token.expose(),
        fix: format!(
            "retry with --refresh; check the account: {doctor_cmd}; \
             if it is still refused, sign in again: {login_cmd}"
        ),
    };
    let mut stderr = std::io::stderr();
    let mut report = Report {
        out: &mut stderr,
        verbose: ctx.verbose > 0,
    };
    mailtest::run(&target, &login, &mut report)
}

/// The server: the provider's own unless `--host` names another; generic
/// has none, and nothing is asked of anyone before that is settled.
fn target(ctx: &Context, args: &TestArgs, req: &Request) -> Result<Target> {
    let service = args.service;
    let (host, port) = match (&args.host, req.provider().mail_server(service.protocol())) {
        (Some(h), _) => (
            h.clone(),
            args.port.unwrap_or_else(|| service.default_port()),
        ),
        (None, Some((h, p))) => (h.to_string(), args.port.unwrap_or(p)),
        (None, None) => {
            let name = service
                .to_possible_value()
                .map(|v| v.get_name().to_string())
                .unwrap_or_default();
            return Err(Error::invalid(format!(
                "provider {} has no default {} server: pass --host (and --port)",
                req.provider().name(),
                service.label()
            ))
            .hint(format!(
                "e.g. ooauth2 test {name} ACCOUNT --host mail.example.org --port {}",
                service.default_port()
            )));
        }
    };
    Ok(Target {
        service,
        tls: args.tls.unwrap_or_else(|| Tls::for_port(service, port)),
        host,
        port,
        mechanism: args.mechanism,
        ca_file: args.ca_file.clone(),
        connect_timeout: ctx.settings.connect_timeout()?,
        timeout: ctx.settings.http_timeout()?,
    })
}
