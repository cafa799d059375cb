//! `ooauth2 proxy [--check]`: the config file's `[proxy.NAME]` listeners,
//! checked and printed, or served (`ooauth2::proxy`) with tokens from the
//! engine exactly as `ooauth2 token NAME` gets them (never interactively:
//! nobody is at a terminal to sign in, so a missing sign-in is a refused
//! login whose log line names the command to run).

use crate::args::ProxyArgs;
use crate::context::Context;
use crate::output::print_stdout;
use ooauth2::config::{self, Listener, LocalTls, Served, ServerTls};
use ooauth2::error::{Error, Result};
use ooauth2::proxy::{self, Limits, Token, Tokens};
use ooauth2::request::{Action, Raw};
use std::sync::Arc;

/// Checks the listeners and prints them (`--check`), or serves them.
pub fn run(ctx: &Context, args: &ProxyArgs) -> Result<()> {
    let listeners = listeners(ctx)?;
    if args.check {
        let text: String = listeners
            .iter()
            .map(|l| format!("{}\n", describe(l)))
            .collect();
        return print_stdout(&text);
    }
    let tokens = Arc::new(EngineTokens {
        ctx: Context {
            settings: ctx.settings.clone(),
            verbose: ctx.verbose,
        },
    });
    proxy::serve(&listeners, tokens, Limits::default())
}

/// The config file's listeners; none is an error saying how to add one.
fn listeners(ctx: &Context) -> Result<Vec<Listener>> {
    let path = ctx.settings.config_path()?;
    let config = config::load(&ctx.settings)?;
    match config {
        Some(c) if !c.listeners.is_empty() => Ok(c.listeners),
        _ => Err(Error::invalid(format!(
            "no [proxy.NAME] table in {}: nothing to listen for",
            path.display()
        ))
        .hint(
            "add one, e.g. [proxy.imap] with protocol = \"imap\" and accounts = [\"work\"] \
             (ooauth2 proxy --help shows all keys)",
        )),
    }
}

/// One line of `--check`: what listens where, for whom.
fn describe(l: &Listener) -> String {
    let tls = match l.server_tls {
        ServerTls::Implicit => "implicit TLS",
        ServerTls::Starttls => "STARTTLS",
    };
    let mech = l.mechanism.name();
    let local = match l.local_tls {
        LocalTls::None => "",
        LocalTls::Starttls => ", local STARTTLS",
        LocalTls::Implicit => ", local TLS",
    };
    let accounts: Vec<String> = l.accounts.iter().map(Served::shown).collect();
    format!(
        "{}: {} on {}{local} -> {} ({tls}, {mech}) for {}",
        l.name,
        l.protocol_name(),
        l.listen,
        l.server(),
        accounts.join(", ")
    )
}

/// Tokens from the engine, one fresh engine per login, as `token` runs it.
struct EngineTokens {
    ctx: Context,
}

impl Tokens for EngineTokens {
    fn token(&self, account: &str, fresh: bool) -> Result<Token> {
        let action = if fresh { Action::Refresh } else { Action::Get };
        let raw = Raw {
            action: Some(action.as_str().to_string()),
            account: Some(account.to_string()),
            interactive: Some("never".into()),
            ..Raw::default()
        };
        let req = self.ctx.request(raw)?;
        let answer = self.ctx.token(&req, false)?;
        Ok(Token {
            user: answer.user,
            access: answer.access_token,
        })
    }
}
