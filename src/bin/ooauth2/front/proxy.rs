//! `ooauth2 proxy [--check]`: the config file's `[proxy.NAME]` listeners,
//! checked and printed, or served (`ooauth2::proxy`, reloaded on SIGHUP)
//! with tokens from the engine exactly as `ooauth2 token NAME` gets them
//! (never interactively: nobody is at a terminal to sign in, so a missing
//! sign-in is a refused login whose log line names the command to run).
//! The accounts' values are those of the file as last (re)loaded: an edit
//! applies at the next SIGHUP, and a broken edit at none.

use crate::args::ProxyArgs;
use crate::context::Context;
use crate::output::print_stdout;
use ooauth2::config::{self, Config, Listener, LocalTls, Named, Served, ServerTls};
use ooauth2::error::{Error, Result};
use ooauth2::proxy::{self, Limits, Loaded, Token, Tokens};
use ooauth2::request::{Action, Raw};
use std::sync::{Arc, Mutex};

/// Checks the listeners and prints them (`--check`), or serves them.
pub fn run(ctx: &Context, args: &ProxyArgs) -> Result<()> {
    let config = with_listeners(ctx)?;
    let listeners = config.listeners;
    if args.check {
        let text: String = listeners
            .iter()
            .map(|l| format!("{}\n", describe(l)))
            .collect();
        return print_stdout(&text);
    }
    let accounts = Arc::new(Mutex::new(config.accounts));
    let tokens = Arc::new(EngineTokens {
        ctx: Context {
            settings: ctx.settings.clone(),
            verbose: ctx.verbose,
        },
        accounts: Arc::clone(&accounts),
    });
    // SIGHUP reads the file again, with the same checks.
    let load = || {
        let config = with_listeners(ctx)?;
        let accounts = Arc::clone(&accounts);
        Ok(Loaded {
            listeners: config.listeners,
            apply: Box::new(move || {
                *accounts.lock().unwrap_or_else(|p| p.into_inner()) = config.accounts;
            }),
        })
    };
    proxy::serve(&listeners, &load, tokens, Limits::default())
}

/// The config file, with listeners; none is an error saying how to add one.
fn with_listeners(ctx: &Context) -> Result<Config> {
    let path = ctx.settings.config_path()?;
    let config = config::load(&ctx.settings)?;
    match config {
        Some(c) if !c.listeners.is_empty() => Ok(c),
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

/// Tokens from the engine, one fresh engine per login, as `token` runs it,
/// for the accounts of the file as last loaded.
struct EngineTokens {
    ctx: Context,
    accounts: Arc<Mutex<Vec<Named>>>,
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
        let named = {
            let accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
            accounts.iter().find(|a| a.name == account).cloned()
        };
        // A listener serves only accounts of the file it was loaded with.
        let named = named.ok_or_else(|| {
            Error::invalid(format!("no account '{account}' in the config file"))
                .hint("add it, then reload the proxy (SIGHUP)")
        })?;
        let req = named.request(raw)?;
        let answer = self.ctx.token(&req, false)?;
        Ok(Token {
            user: answer.user,
            access: answer.access_token,
        })
    }
}
