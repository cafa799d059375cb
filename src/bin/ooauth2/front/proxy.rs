//! `ooauth2 proxy [--check]`: the config file's `[proxy.NAME]` listeners,
//! checked and printed, or served (`ooauth2::proxy`, reloaded on SIGHUP)
//! with tokens from the engine exactly as `ooauth2 token NAME` gets them
//! (never interactively: nobody is at a terminal to sign in, so a missing
//! sign-in is a refused login whose log line names the command to run).
//! The accounts' values are those of the file as last (re)loaded: an edit
//! applies at the next SIGHUP, and a broken edit at none. Local TLS
//! without a certificate of the user's gets the one generated once in the
//! data dir (`--check` makes it too, and prints its fingerprint to pin).
//! `ooauth2 proxy hash-password`: a local password's hash for the config.

use crate::args::{ProxyArgs, ProxyCommand};
use crate::context::Context;
use crate::output::print_stdout;
use ooauth2::config::{self, Config, Listener, LocalTls, Named, Served, ServerTls};
use ooauth2::error::{Error, Result};
use ooauth2::proxy::{self, Limits, Loaded, Token, Tokens};
use ooauth2::request::{Action, Raw};
use ooauth2::secret::Secret;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::sync::{Arc, Mutex};

/// The generated certificate's and key's names in the data dir.
const GENERATED: (&str, &str) = ("proxy-cert.pem", "proxy-key.pem");

/// Checks the listeners and prints them (`--check`), or serves them.
pub fn run(ctx: &Context, args: &ProxyArgs) -> Result<()> {
    if args.command == Some(ProxyCommand::HashPassword) {
        return hash_password();
    }
    let config = with_listeners(ctx)?;
    let mut listeners = config.listeners;
    certificates(ctx, &mut listeners)?;
    if args.check {
        proxy::check(&listeners)?;
        let mut text = String::new();
        for l in &listeners {
            text.push_str(&format!("{}\n", describe(l)));
            if let Some((cert, _)) = &l.local_cert {
                let fp = ooauth2::tls::fingerprint(cert)?;
                text.push_str(&format!("  certificate {}, SHA-256 {fp}\n", cert.display()));
            }
        }
        return print_stdout(&text);
    }
    // Taken before the password commands run, so that none inherits them.
    let given = proxy::Given::from_env()?;
    proxy::resolve_passwords(&mut listeners, ctx.settings.secret_cmd_timeout()?)?;
    let accounts = Arc::new(Mutex::new(config.accounts));
    let tokens = Arc::new(EngineTokens {
        ctx: Context {
            settings: ctx.settings.clone(),
            verbose: ctx.verbose,
        },
        accounts: Arc::clone(&accounts),
    });
    // SIGHUP reads the file again, with the same checks, the generated
    // certificate and the password commands.
    let load = || {
        let config = with_listeners(ctx)?;
        let mut listeners = config.listeners;
        certificates(ctx, &mut listeners)?;
        proxy::resolve_passwords(&mut listeners, ctx.settings.secret_cmd_timeout()?)?;
        let accounts = Arc::clone(&accounts);
        Ok(Loaded {
            listeners,
            apply: Box::new(move || {
                *accounts.lock().unwrap_or_else(|p| p.into_inner()) = config.accounts;
            }),
        })
    };
    proxy::serve(&listeners, &load, tokens, Limits::default(), given)
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

/// Gives each listener with local TLS and no certificate of the user's
/// the generated one, made now if it is not there yet.
fn certificates(ctx: &Context, listeners: &mut [Listener]) -> Result<()> {
    for l in listeners
        .iter_mut()
        .filter(|l| l.local_tls != LocalTls::None && l.local_cert.is_none())
    {
        let store = ooauth2::store::Store::open(&ctx.settings)?;
        let cert = store.side_file(GENERATED.0)?;
        let key = store.side_file(GENERATED.1)?;
        ooauth2::tls::generated(&cert, &key)?;
        l.local_cert = Some((cert, key));
    }
    Ok(())
}

/// Reads a password (twice without echo on a terminal, else stdin's first
/// line) and prints its hash: the password never touches argv or a
/// shell's history.
fn hash_password() -> Result<()> {
    let password = if std::io::stdin().is_terminal() {
        let first = ask("local password: ")?;
        let again = ask("again: ")?;
        if first.expose() != again.expose() {
            return Err(Error::invalid("the two passwords differ; nothing printed")
                .hint("run ooauth2 proxy hash-password again"));
        }
        first
    } else {
        read_line()?
    };
    if password.expose().is_empty() {
        return Err(
            Error::invalid("the password is empty; nothing printed").hint(
                "type a password, or pipe one line: pass show NAME | ooauth2 proxy hash-password",
            ),
        );
    }
    let phc = ooauth2::password::hash(&password)?;
    print_stdout(&format!("{phc}\n"))
}

/// One password from the terminal, `prompt` on stderr, echo off.
fn ask(prompt: &str) -> Result<Secret> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let echo = crate::terminal::echo::EchoOff::start();
    let line = read_line();
    drop(echo);
    eprintln!();
    line
}

/// Stdin's first line, without its line end.
fn read_line() -> Result<Secret> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .take(ooauth2::password::MAX_LEN as u64 + 2)
        .read_line(&mut line)
        .map_err(|e| Error::invalid(format!("cannot read the password from stdin: {e}")))?;
    let line = Secret::from(line);
    let text = line.expose().trim_end_matches(['\r', '\n']);
    Ok(Secret::from(text))
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
    let passwords = if l.has_passwords() {
        ", local passwords"
    } else {
        ""
    };
    format!(
        "{}: {} on {}{local}{passwords} -> {} ({tls}, {mech}) for {}",
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
