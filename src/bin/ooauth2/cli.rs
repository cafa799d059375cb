//! The command line for people and for `passwordeval`/`PassCmd`: `helper`,
//! `token`, `login`, `status`, `erase`. Each turns its input into the same
//! [`Request`] the helper protocol builds and hands it to the engine.

use crate::context::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use ooauth2::config;
use ooauth2::engine::{Answer, Outcome};
use ooauth2::error::{Error, Result};
use ooauth2::protocol::{self, Dir};
use ooauth2::request::{Action, Request};
use ooauth2::sasl;
use ooauth2::secret::SecretCommand;
use ooauth2::time::{Clock, SystemClock, utc};
use std::io::Write;

const AFTER_HELP: &str = "\
Examples:
  ooauth2 login --client-id 9e5f94bc-... --user me@example.com
  ooauth2 token --client-id 9e5f94bc-... --user me@example.com
  ooauth2 token work        (an [accounts.work] table of the config file)
  printf 'action=get\\nclient_id=...\\nuser=me@example.com\\n\\n' | ooauth2 helper
  ooauth2 --generate_access_token --client_id=... --refresh_token=@refresh-token.txt

Environment: OOAUTH2_CONFIG (config file, default
$XDG_CONFIG_HOME/ooauth2/config.toml), OOAUTH2_STORE_DIR (store location), OOAUTH2_LOCK_TIMEOUT,
OOAUTH2_HTTP_TIMEOUT, OOAUTH2_CONNECT_TIMEOUT, OOAUTH2_SECRET_CMD_TIMEOUT (seconds), HTTPS_PROXY,
OOAUTH2_NOTIFY_CMD (tells the sign-in code when no terminal can),
OOAUTH2_NOTIFY_SEND=0 (no notify-send fallback), NO_COLOR.
Exit status: 0 ok, 1 sign-in or app registration needed, 2 bad request,
74 store error, 75 temporary failure.";

/// ooauth2 gets, renews and keeps OAuth2 tokens for mail clients.
#[derive(Parser, Debug, PartialEq, Eq)]
#[command(name = "ooauth2", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Show each HTTP exchange on stderr; twice (-vv) also the form fields
    /// and answers, every secret replaced by its length.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug, PartialEq, Eq)]
pub enum Command {
    /// Answer one helper-protocol request read from stdin (see protocol.md).
    #[command(after_help = "\
Examples:
  printf 'action=get\\nclient_id=CLIENT\\nuser=me@example.com\\n\\n' | ooauth2 helper
  printf 'action=capability\\n\\n' | ooauth2 helper")]
    Helper,
    /// Print a valid access token on one line (for msmtp passwordeval, mbsync PassCmd).
    #[command(after_help = "\
Prints exactly one line on success and nothing on stdout on failure.
Examples:
  passwordeval \"ooauth2 token work\"                                       (msmtp, named account)
  passwordeval \"ooauth2 token --client-id CLIENT --user me@example.com\"   (msmtp)
  PassCmd \"ooauth2 token --client-id CLIENT --user me@example.com\"        (mbsync)
  ooauth2 token --client-id CLIENT --user me@example.com --format xoauth2")]
    Token(TokenArgs),
    /// Sign in (device code flow, or --flow authcode in a browser) and store the tokens.
    #[command(after_help = "\
Examples:
  ooauth2 login --client-id CLIENT --user me@example.com
  ooauth2 login --client-id CLIENT --tenant contoso.onmicrosoft.com --user me@contoso.com
  ooauth2 login --client-id CLIENT --user me@example.com --flow authcode --open
  ooauth2 login work --flow authcode --redirect-port 8765   (ssh -L 8765:127.0.0.1:8765 HOST)")]
    Login(LoginArgs),
    /// List the configured and stored accounts (never shows a secret).
    #[command(after_help = "Examples:\n  ooauth2 status\n  ooauth2 status --json")]
    Status(StatusArgs),
    /// Forget a stored account.
    #[command(after_help = "Example:\n  ooauth2 erase --client-id CLIENT --user me@example.com")]
    Erase(AccountArgs),
    /// Log in to the mail server (IMAP, POP3 or SMTP) with the account's token, over TLS.
    #[command(after_help = "\
Reports each step on stderr (connect, tls, authenticate, and for IMAP a LIST
of INBOX, for POP3 a STAT of the mailbox); on success prints one summary line
on stdout. The token and the SASL string are never shown, not even with
--verbose.
Without --host, the provider's own server: microsoft outlook.office365.com
(imap 993, pop 995) and smtp.office365.com:587; microsoft-us *.office365.us;
microsoft-china partner.outlook.cn and smtp.partner.outlook.cn; google
imap/pop/smtp.gmail.com; yahoo imap/pop/smtp.mail.yahoo.com; aol
imap/pop/smtp.aol.com; fastmail imap/pop/smtp.fastmail.com (smtp on 465
outside Microsoft). generic needs --host.
Exit status: 0 logged in, 1 the server refused the token, 2 bad flags,
75 network or TLS failure.
Examples:
  ooauth2 test imap work      (the provider's server, e.g. outlook.office365.com:993)
  ooauth2 test pop work
  ooauth2 test smtp work
  ooauth2 test pop work --host pop.example.org --port 110 --tls starttls
  ooauth2 test imap --client-id CLIENT --user me@example.com --mechanism oauthbearer
  ooauth2 test imap work --host imap.example.org --port 143 --tls starttls
  ooauth2 test smtp work --host 127.0.0.1 --port 1587 --ca-file private-ca.pem
  ooauth2 test imap work --refresh     (a fresh access token first)")]
    Test(TestArgs),
    /// Check the store, the config file, the accounts and the provider; say what to fix.
    #[command(after_help = "\
Prints one line per check: `ok: ...`, `problem: ... -> what to do`, or
`skipped: ...`. Exit status 0 when no check found a problem, 1 when one did.
Offline: the store's location and permissions, the config file, each
account's refresh token, access token and scope. Online (not with
--offline), per provider host and account: reachable (through HTTPS_PROXY
and the system CA store), the clock within 300 s of the provider's Date
header, and the app registration: a refresh with the stored refresh token
(stored again as any refresh stores it), or a device authorization and one
poll. No token, code or secret is ever shown.
Examples:
  ooauth2 doctor            (every configured and stored account)
  ooauth2 doctor work
  ooauth2 doctor --offline
  ooauth2 doctor --client-id CLIENT --user me@example.com")]
    Doctor(DoctorArgs),
    /// Print a shell completion script on stdout.
    #[command(after_help = "\
Examples:
  ooauth2 completions bash > ~/.local/share/bash-completion/completions/ooauth2
  ooauth2 completions zsh > ~/.zfunc/_ooauth2      (with fpath+=~/.zfunc in ~/.zshrc)
  ooauth2 completions fish > ~/.config/fish/completions/ooauth2.fish")]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout.
    #[command(after_help = "\
Example:
  mkdir -p ~/.local/share/man/man1 && ooauth2 man > ~/.local/share/man/man1/ooauth2.1")]
    Man,
}

/// `test` flags.
#[derive(Args, Debug, PartialEq, Eq)]
pub struct TestArgs {
    /// Which server to log in to.
    #[arg(value_enum)]
    pub service: crate::mailtest::Service,
    #[command(flatten)]
    pub account: AccountArgs,
    #[command(flatten)]
    pub signin: SignInArgs,
    /// Mail server host (default: the provider's, e.g. outlook.office365.com
    /// for imap and pop, smtp.office365.com for smtp; required with
    /// provider generic).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Mail server port (default: the provider's with its host; with --host,
    /// 993 for imap, 995 for pop, 587 for smtp).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// How TLS starts (default: from the port; 993, 995 and 465 implicit,
    /// 143, 110 (STLS) and 587 STARTTLS).
    #[arg(long, value_enum)]
    pub tls: Option<crate::mailtest::Tls>,
    /// SASL mechanism.
    #[arg(long, value_enum, default_value_t = crate::mailtest::Mechanism::Xoauth2)]
    pub mechanism: crate::mailtest::Mechanism,
    /// A PEM file of CA certificates to trust besides the system's.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Renew when fewer than this many seconds are left (default 300).
    #[arg(long)]
    pub min_ttl: Option<String>,
    /// Get a new access token from the provider first, even if one is cached.
    #[arg(long)]
    pub refresh: bool,
    /// Never start a sign-in; fail with login_required instead.
    #[arg(long)]
    pub non_interactive: bool,
}

/// `doctor` flags.
#[derive(Args, Debug, Default, PartialEq, Eq)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub account: AccountArgs,
    /// Skip the network checks (reachability, clock skew, app registration).
    #[arg(long)]
    pub offline: bool,
}

/// `status` flags.
#[derive(Args, Debug, Default, PartialEq, Eq)]
pub struct StatusArgs {
    /// Print one JSON array of the accounts instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Which account, at which provider.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountArgs {
    /// A named account from the config file; the flags override its values.
    #[arg(value_name = "ACCOUNT")]
    pub name: Option<String>,
    /// Provider preset: microsoft (default), microsoft-us, microsoft-china,
    /// google, yahoo, aol, fastmail or generic.
    #[arg(long, value_name = "PROVIDER")]
    pub provider: Option<String>,
    /// Application (client) id of the app registration.
    #[arg(long)]
    pub client_id: Option<String>,
    /// Directory: common, organizations, consumers, a GUID or a domain.
    #[arg(long)]
    pub tenant: Option<String>,
    /// The mailbox account, e.g. me@example.com.
    #[arg(long)]
    pub user: Option<String>,
    /// Identity platform base URL (national clouds, tests).
    #[arg(long)]
    pub authority: Option<String>,
    /// Space-separated scopes (default: IMAP, POP, SMTP and offline_access).
    #[arg(long)]
    pub scope: Option<String>,
    /// generic: the OpenID Connect issuer whose discovery document gives the endpoints.
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    /// generic: the token endpoint.
    #[arg(long, value_name = "URL")]
    pub token_endpoint: Option<String>,
    /// generic: the authorization endpoint (browser sign-in).
    #[arg(long, value_name = "URL")]
    pub authorization_endpoint: Option<String>,
    /// generic: the device authorization endpoint (device sign-in).
    #[arg(long, value_name = "URL")]
    pub device_authorization_endpoint: Option<String>,
    /// A shell command that prints the client secret (e.g. 'pass show
    /// mail/secret'); run only when the provider is reached.
    #[arg(long, value_name = "COMMAND")]
    pub client_secret_cmd: Option<String>,
}

/// How an interactive sign-in runs (`token` and `login`).
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct SignInArgs {
    /// Sign-in flow: device (a code typed in any browser) or authcode (a
    /// browser redirect to 127.0.0.1).
    #[arg(long, value_name = "FLOW")]
    pub flow: Option<String>,
    /// authcode: the local port the browser comes back to (default: any free port).
    #[arg(long, value_name = "PORT")]
    pub redirect_port: Option<String>,
    /// authcode: seconds to wait for the browser (default 300).
    #[arg(long, value_name = "SECONDS")]
    pub signin_timeout: Option<String>,
    /// Open the sign-in page with xdg-open (default: only when a desktop
    /// session is detected, DISPLAY or WAYLAND_DISPLAY).
    #[arg(long, conflicts_with = "no_open")]
    pub open: bool,
    /// Never open a browser; only print the page to visit.
    #[arg(long)]
    pub no_open: bool,
}

impl SignInArgs {
    fn add_pairs(&self, p: &mut Vec<(String, String)>) {
        for (k, v) in [
            ("flow", &self.flow),
            ("redirect_port", &self.redirect_port),
            ("signin_timeout", &self.signin_timeout),
        ] {
            if let Some(v) = v {
                p.push((k.to_string(), v.clone()));
            }
        }
        if self.open {
            p.push(("open_browser".into(), "true".into()));
        }
        if self.no_open {
            p.push(("open_browser".into(), "false".into()));
        }
    }
}

/// `login` flags.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginArgs {
    #[command(flatten)]
    pub account: AccountArgs,
    #[command(flatten)]
    pub signin: SignInArgs,
}

/// `token` flags.
#[derive(Args, Debug, Default, PartialEq, Eq)]
pub struct TokenArgs {
    #[command(flatten)]
    pub account: AccountArgs,
    #[command(flatten)]
    pub signin: SignInArgs,
    /// Renew when fewer than this many seconds are left (default 300).
    #[arg(long)]
    pub min_ttl: Option<String>,
    /// Server host name for the OAUTHBEARER string.
    #[arg(long)]
    pub host: Option<String>,
    /// Server port for the OAUTHBEARER string.
    #[arg(long)]
    pub port: Option<String>,
    /// Never start a sign-in; fail with login_required instead.
    #[arg(long)]
    pub non_interactive: bool,
    /// What to print.
    #[arg(long, value_enum, default_value_t = Format::Raw)]
    pub format: Format,
}

/// Output of `token`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The bare access token (msmtp, mbsync with a SASL plugin).
    #[default]
    Raw,
    /// base64 XOAUTH2 string.
    Xoauth2,
    /// base64 OAUTHBEARER string (RFC 7628).
    Oauthbearer,
    /// One line of JSON.
    Json,
}

impl AccountArgs {
    /// The request of `pairs` (built from these flags and more), with the
    /// named account's values beneath and `--client-secret-cmd` on top.
    fn request(&self, ctx: &Context, pairs: Vec<(String, String)>) -> Result<Request> {
        let mut req = ctx.request(pairs, self.name.as_deref())?;
        if let Some(cmd) = &self.client_secret_cmd {
            req.client_secret_cmd = Some(SecretCommand::from_flag(cmd)?);
        }
        Ok(req)
    }

    fn pairs(&self, action: Action) -> Vec<(String, String)> {
        let mut p = vec![("action".to_string(), action.as_str().to_string())];
        let mut add = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                p.push((k.to_string(), v.clone()));
            }
        };
        add("provider", &self.provider);
        add("client_id", &self.client_id);
        add("tenant", &self.tenant);
        add("user", &self.user);
        add("authority", &self.authority);
        add("scope", &self.scope);
        add("issuer", &self.issuer);
        add("token_endpoint", &self.token_endpoint);
        add("authorization_endpoint", &self.authorization_endpoint);
        add(
            "device_authorization_endpoint",
            &self.device_authorization_endpoint,
        );
        p
    }
}

/// Prints an error for a person: the message, then what to do.
pub fn report(err: &Error) {
    let s = format!(
        "ooauth2: error: {}\nooauth2: hint: {}\n",
        err.message,
        err.next_step()
    );
    let _ = std::io::stderr().write_all(s.as_bytes());
}

/// Prints a warning that did not stop the request.
pub fn warn(answer: &Answer) {
    if let Some(w) = &answer.warning {
        eprintln!("ooauth2: warning: {w}");
    }
}

/// Writes to stdout, treating a closed pipe as success (the reader went away).
pub fn print_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        // 74 is sysexits' EX_IOERR, the status design.md gives to I/O failures.
        Err(e) => Err(Error::new(
            ooauth2::error::Code::StoreError,
            format!("cannot write to stdout: {e}"),
        )),
    }
}

/// The `token` command line of msmtp's and mbsync's configs, parsed without
/// building clap's whole command tree: `token` runs on every mail sync, and
/// clap's set-up is a sizeable share of a cached answer's time. Returns
/// `None` for anything else (help, errors, repeats, values that look like
/// flags), which clap then parses; tests hold both parsers to the same result.
pub fn fast_token(args: &[String]) -> Option<Cli> {
    if args.get(1).map(String::as_str) != Some("token") {
        return None;
    }
    let mut t = TokenArgs::default();
    let mut verbose = 0;
    let mut seen: Vec<&str> = Vec::new();
    let mut rest = args[2..].iter();
    while let Some(arg) = rest.next() {
        // One positional: the account name (`token work`); clap takes the rest.
        if !arg.starts_with('-') {
            if t.account.name.is_some() {
                return None;
            }
            t.account.name = Some(arg.clone());
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (arg.as_str(), None),
        };
        // -v and --verbose count together: a repeat is clap's (-vv).
        let key = if name == "-v" { "--verbose" } else { name };
        if seen.contains(&key) {
            return None;
        }
        seen.push(key);
        if matches!(
            name,
            "-v" | "--verbose" | "--non-interactive" | "--open" | "--no-open"
        ) {
            if inline.is_some() {
                return None;
            }
            if name == "--non-interactive" {
                t.non_interactive = true;
            } else if name == "--open" {
                t.signin.open = true;
            } else if name == "--no-open" {
                t.signin.no_open = true;
            } else {
                verbose = 1;
            }
            continue;
        }
        let slot = match name {
            "--provider" => &mut t.account.provider,
            "--client-id" => &mut t.account.client_id,
            "--tenant" => &mut t.account.tenant,
            "--user" => &mut t.account.user,
            "--authority" => &mut t.account.authority,
            "--scope" => &mut t.account.scope,
            "--issuer" => &mut t.account.issuer,
            "--token-endpoint" => &mut t.account.token_endpoint,
            "--authorization-endpoint" => &mut t.account.authorization_endpoint,
            "--device-authorization-endpoint" => &mut t.account.device_authorization_endpoint,
            "--client-secret-cmd" => &mut t.account.client_secret_cmd,
            "--min-ttl" => &mut t.min_ttl,
            "--host" => &mut t.host,
            "--port" => &mut t.port,
            "--flow" => &mut t.signin.flow,
            "--redirect-port" => &mut t.signin.redirect_port,
            "--signin-timeout" => &mut t.signin.signin_timeout,
            "--format" => {
                let v = inline.or_else(|| rest.next().cloned())?;
                t.format = Format::from_str(&v, false).ok()?;
                continue;
            }
            _ => return None,
        };
        let v = match inline {
            Some(v) => v,
            None => rest.next().filter(|v| !v.starts_with('-'))?.clone(),
        };
        *slot = Some(v);
    }
    // Both is a usage error, which clap reports.
    if t.signin.open && t.signin.no_open {
        return None;
    }
    Some(Cli {
        verbose,
        command: Command::Token(t),
    })
}

/// Runs a parsed command line; returns the exit status.
pub fn run(cli: Cli) -> u8 {
    let ctx = &Context::new(cli.verbose);
    let result = match cli.command {
        Command::Helper => return helper(ctx),
        Command::Token(args) => token(ctx, &args),
        Command::Login(args) => login(ctx, &args),
        Command::Status(args) => status(ctx, &args),
        Command::Erase(args) => erase(ctx, &args),
        Command::Test(args) => test_mail(ctx, &args),
        Command::Doctor(args) => return doctor(ctx, &args),
        Command::Completions { shell } => completions(shell),
        Command::Man => man(),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            report(&e);
            e.exit_status()
        }
    }
}

fn helper(ctx: &Context) -> u8 {
    let result = protocol::read_request(std::io::stdin().lock())
        .and_then(|pairs| ctx.request(pairs, None))
        .and_then(|req| {
            if req.action == Action::Capability {
                return Ok(capability());
            }
            ctx.run(&req, false).map(|o| outcome_pairs(&o, &req))
        });
    let (pairs, status) = match result {
        Ok(p) => (p, 0),
        Err(e) => {
            report(&e);
            (protocol::error_pairs(&e), e.exit_status())
        }
    };
    let mut out = std::io::stdout().lock();
    match protocol::write_response(&mut out, &pairs) {
        Ok(()) => status,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => status,
        Err(e) => {
            eprintln!("ooauth2: error: cannot write the response: {e}");
            ooauth2::error::Code::StoreError.exit_status()
        }
    }
}

fn capability() -> Vec<(&'static str, String)> {
    vec![
        ("version", protocol::VERSION.to_string()),
        ("actions", Action::ALL.map(|a| a.as_str()).join(" ")),
        ("request_keys", protocol::key_names(Dir::Request).join(" ")),
        (
            "response_keys",
            protocol::key_names(Dir::Response).join(" "),
        ),
        ("secret_keys", protocol::secret_key_names().join(" ")),
        (
            "errors",
            ooauth2::error::Code::ALL.map(|c| c.as_str()).join(" "),
        ),
    ]
}

/// The response block of a successful request.
fn outcome_pairs(outcome: &Outcome, req: &Request) -> Vec<(&'static str, String)> {
    match outcome {
        Outcome::Erased { user, existed } => {
            let mut p = Vec::new();
            if let Some(u) = user {
                p.push(("user", u.clone()));
            }
            p.push(("erased", existed.to_string()));
            p
        }
        Outcome::Token(a) => {
            warn(a);
            vec![
                ("user", a.user.clone()),
                ("access_token", a.access_token.clone()),
                ("token_type", a.token_type.clone()),
                ("expires_at", a.expires_at.to_string()),
                ("expires_in", a.expires_in.to_string()),
                ("scope", a.scope.clone()),
                ("source", a.source.as_str().to_string()),
                ("xoauth2", sasl::xoauth2(&a.user, &a.access_token)),
                (
                    "oauthbearer",
                    sasl::oauthbearer(&a.user, req.host.as_deref(), req.port, &a.access_token),
                ),
            ]
        }
    }
}

fn token(ctx: &Context, args: &TokenArgs) -> Result<()> {
    let mut pairs = args.account.pairs(Action::Get);
    let mut add = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            pairs.push((k.to_string(), v.clone()));
        }
    };
    add("min_ttl", &args.min_ttl);
    add("host", &args.host);
    add("port", &args.port);
    if args.non_interactive {
        pairs.push(("interactive".into(), "never".into()));
    }
    args.signin.add_pairs(&mut pairs);
    let req = args.account.request(ctx, pairs)?;
    let Outcome::Token(a) = ctx.run(&req, false)? else {
        return Err(Error::invalid("unexpected answer"));
    };
    warn(&a);
    let line = match args.format {
        Format::Raw => a.access_token.clone(),
        Format::Xoauth2 => sasl::xoauth2(&a.user, &a.access_token),
        Format::Oauthbearer => {
            sasl::oauthbearer(&a.user, req.host.as_deref(), req.port, &a.access_token)
        }
        Format::Json => serde_json::json!({
            "user": a.user,
            "access_token": a.access_token,
            "token_type": a.token_type,
            "expires_at": a.expires_at,
            "expires_in": a.expires_in,
            "scope": a.scope,
            "source": a.source.as_str(),
        })
        .to_string(),
    };
    print_stdout(&format!("{line}\n"))
}

fn login(ctx: &Context, args: &LoginArgs) -> Result<()> {
    let mut pairs = args.account.pairs(Action::Login);
    pairs.push(("interactive".into(), "always".into()));
    args.signin.add_pairs(&mut pairs);
    let req = args.account.request(ctx, pairs)?;
    let Outcome::Token(a) = ctx.run(&req, true)? else {
        return Err(Error::invalid("unexpected answer"));
    };
    eprintln!(
        "ooauth2: signed in as {}; the access token is valid for {} minutes and renews by itself",
        a.user,
        a.expires_in / 60
    );
    Ok(())
}

fn erase(ctx: &Context, args: &AccountArgs) -> Result<()> {
    let req = args.request(ctx, args.pairs(Action::Erase))?;
    match ctx.run(&req, false)? {
        Outcome::Erased {
            user: Some(u),
            existed: true,
        } => eprintln!("ooauth2: erased {u}"),
        _ => eprintln!("ooauth2: no such account was stored"),
    }
    Ok(())
}

/// `test imap|pop|smtp`: a token from the engine, exactly as `token` gets it,
/// then a real login (src/mailtest.rs).
fn test_mail(ctx: &Context, args: &TestArgs) -> Result<()> {
    use crate::mailtest::{Login, Report, Target, Tls};
    let action = if args.refresh {
        Action::Refresh
    } else {
        Action::Get
    };
    let mut pairs = args.account.pairs(action);
    if let Some(v) = &args.min_ttl {
        pairs.push(("min_ttl".into(), v.clone()));
    }
    if args.non_interactive {
        pairs.push(("interactive".into(), "never".into()));
    }
    args.signin.add_pairs(&mut pairs);
    let req = args.account.request(ctx, pairs)?;
    let service = args.service;
    // The provider's own server, unless --host names another; generic has
    // none, and nothing is asked of anyone before that is settled.
    let (host, port) = match (&args.host, req.provider.mail_server(service.protocol())) {
        (Some(h), _) => (
            h.clone(),
            args.port.unwrap_or_else(|| service.default_port()),
        ),
        (None, Some((h, p))) => (h.to_string(), args.port.unwrap_or(p)),
        (None, None) => {
            return Err(Error::invalid(format!(
                "provider {} has no default {} server: pass --host (and --port)",
                req.provider.name(),
                service.label()
            ))
            .hint(format!(
                "e.g. ooauth2 test {} ACCOUNT --host mail.example.org --port {}",
                match service {
                    crate::mailtest::Service::Imap => "imap",
                    crate::mailtest::Service::Pop => "pop",
                    crate::mailtest::Service::Smtp => "smtp",
                },
                service.default_port()
            )));
        }
    };
    let target = Target {
        service,
        tls: args.tls.unwrap_or_else(|| Tls::for_port(service, port)),
        host,
        port,
        mechanism: args.mechanism,
        ca_file: args.ca_file.clone(),
        connect_timeout: ctx.settings.connect_timeout()?,
        timeout: ctx.settings.http_timeout()?,
    };
    let Outcome::Token(a) = ctx.run(&req, false)? else {
        return Err(Error::invalid("unexpected answer"));
    };
    warn(&a);
    eprintln!(
        "token ok (from {}, valid for {} more minute(s))",
        a.source.as_str(),
        a.expires_in / 60
    );
    let login_cmd = req.login_command(&a.user);
    let doctor_cmd = login_cmd.replacen("ooauth2 login", "ooauth2 doctor", 1);
    let login = Login {
        user: &a.user,
        token: &a.access_token,
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
    let summary = crate::mailtest::run(&target, &login, &mut report)?;
    print_stdout(&format!("{summary}\n"))
}

/// `doctor`: the checks of src/doctor.rs, one line each on stdout; exit 1
/// when one found a problem.
fn doctor(ctx: &Context, args: &DoctorArgs) -> u8 {
    let account = &args.account;
    let selected = (*account != AccountArgs::default())
        .then(|| account.request(ctx, account.pairs(Action::Get)));
    let now = SystemClock.now();
    let online = (!args.offline).then_some(crate::doctor::Online {
        verbose: ctx.verbose,
    });
    let findings = crate::doctor::run(&ctx.settings, selected, now, online);
    let text: String = findings.iter().map(|f| format!("{f}\n")).collect();
    if let Err(e) = print_stdout(&text) {
        report(&e);
        return e.exit_status();
    }
    u8::from(findings.iter().any(crate::doctor::Finding::is_problem))
}

/// `completions SHELL`: the script clap_complete generates from [`Cli`].
fn completions(shell: clap_complete::Shell) -> Result<()> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "ooauth2", &mut out);
    print_stdout(&String::from_utf8_lossy(&out))
}

/// `man`: the roff page clap_mangen generates from [`Cli`].
fn man() -> Result<()> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| {
            Error::new(
                ooauth2::error::Code::StoreError,
                format!("cannot render the man page: {e}"),
            )
        })?;
    print_stdout(&String::from_utf8_lossy(&out))
}

/// One account as `status` shows it; never holds a secret.
struct StatusRow {
    /// Its configured name, if it is one of the config file's accounts.
    name: Option<String>,
    /// The provider preset's name, when known.
    provider: Option<&'static str>,
    user: Option<String>,
    client_id: Option<String>,
    tenant: Option<String>,
    authority: Option<String>,
    /// When the cached access token expires (Unix seconds).
    expires_at: Option<u64>,
    /// Whether a refresh token is stored (its value is never read here).
    has_refresh_token: bool,
    refresh_token_obtained_at: Option<u64>,
    state: &'static str,
}

impl StatusRow {
    /// A configured account with nothing stored.
    fn unstored(name: &str, req: Option<&Request>, state: &'static str) -> StatusRow {
        StatusRow {
            name: Some(name.to_string()),
            provider: req.map(|r| r.provider.name()),
            user: req.and_then(|r| r.user.clone()),
            client_id: req.and_then(|r| r.client_id.clone()),
            tenant: req.map(|r| realm_of(r.provider, &r.tenant)),
            authority: req.map(|r| r.authority.clone()),
            expires_at: None,
            has_refresh_token: false,
            refresh_token_obtained_at: None,
            state,
        }
    }

    /// A stored record; `name` is its configured name, if any.
    fn stored(name: Option<&str>, r: ooauth2::store::Record) -> StatusRow {
        let state = if r.needs_login.is_some() || r.refresh_token.is_none() {
            "needs sign-in"
        } else {
            "ready"
        };
        let tenant = realm_of(r.provider_preset(), &r.tenant);
        StatusRow {
            name: name.map(str::to_string),
            provider: Some(r.provider_preset().name()),
            has_refresh_token: r.refresh_token.is_some(),
            refresh_token_obtained_at: r.refresh_token.as_ref().and(r.refresh_token_obtained_at),
            expires_at: r.expires_at,
            user: Some(r.user),
            client_id: Some(r.client_id),
            tenant: Some(tenant),
            authority: Some(r.authority),
            state,
        }
    }

    /// The table's cells.
    fn cells(&self, now: u64) -> [String; 7] {
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let at = match self.expires_at {
            Some(t) if t > now => format!("expires in {} min", (t - now) / 60),
            Some(_) => "expired".into(),
            None => "none".into(),
        };
        let rt = match (self.has_refresh_token, self.refresh_token_obtained_at) {
            (true, Some(t)) => utc(t),
            (true, None) => "unknown".into(),
            (false, _) => "none".into(),
        };
        let tenant = match (&self.tenant, &self.authority) {
            (Some(t), Some(a)) => tenant_column(t, a),
            _ => "-".into(),
        };
        [
            dash(&self.name),
            dash(&self.user),
            dash(&self.client_id),
            tenant,
            at,
            rt,
            self.state.into(),
        ]
    }

    /// The `--json` object: the same facts, times as Unix seconds.
    fn json(&self, now: u64) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "provider": self.provider,
            "user": self.user,
            "client_id": self.client_id,
            "tenant": self.tenant,
            "authority": self.authority,
            "access_token_expires_at": self.expires_at,
            "expires_in": self.expires_at.map(|t| t.saturating_sub(now)),
            "refresh_token_obtained_at": self.refresh_token_obtained_at,
            "state": self.state,
        })
    }
}

fn status(ctx: &Context, args: &StatusArgs) -> Result<()> {
    let config = config::load(&ctx.settings)?;
    let store = ctx.store()?;
    let mut records = store.list()?;
    let configured = config
        .as_ref()
        .map(|c| c.accounts.as_slice())
        .unwrap_or_default();
    let now = SystemClock.now();
    let mut rows = Vec::new();
    // Configured accounts first, each with its stored record if there is one.
    for named in configured {
        // Each value was checked when the file was read; only a missing
        // client_id can fail here, and status still lists the rest.
        let Ok(req) = Request::from_pairs(&named.pairs) else {
            rows.push(StatusRow::unstored(
                &named.name,
                None,
                "incomplete: no client_id",
            ));
            continue;
        };
        let users = match &req.user {
            Some(u) => vec![u.clone()],
            None => store.find_users(&req.account(""))?,
        };
        let stored = match users.as_slice() {
            [user] => {
                let path = store.record_path(&req.account(user));
                records
                    .iter()
                    .position(|(p, _)| *p == path)
                    .map(|i| records.remove(i))
            }
            _ => None,
        };
        match stored {
            Some((_, Ok(r))) => rows.push(StatusRow::stored(Some(&named.name), r)),
            Some((path, Err(e))) => {
                eprintln!("ooauth2: warning: {} ({})", e.message, path.display());
            }
            None => {
                let state = if users.len() > 1 {
                    "several stored: set user"
                } else {
                    "never signed in"
                };
                rows.push(StatusRow::unstored(&named.name, Some(&req), state));
            }
        }
    }
    for (path, rec) in records {
        match rec {
            Ok(r) => rows.push(StatusRow::stored(None, r)),
            Err(e) => eprintln!("ooauth2: warning: {} ({})", e.message, path.display()),
        }
    }
    if args.json {
        let all: Vec<serde_json::Value> = rows.iter().map(|r| r.json(now)).collect();
        return print_stdout(&format!("{}\n", serde_json::Value::Array(all)));
    }
    if rows.is_empty() {
        eprintln!("ooauth2: no accounts stored in {}", store.dir().display());
        return Ok(());
    }
    print_stdout(&status_table(&rows, now, use_style()))
}

/// Whether stdout may carry terminal styling: a terminal, and styling
/// allowed by `NO_COLOR` and `TERM` (the same rule as the sign-in screen).
fn use_style() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && crate::terminal::colour_allowed()
}

/// The aligned `status` table; with `bold`, the header line is bold.
fn status_table(rows: &[StatusRow], now: u64, bold: bool) -> String {
    let mut cells = vec![[
        "NAME".to_string(),
        "USER".into(),
        "CLIENT ID".into(),
        "TENANT".into(),
        "ACCESS TOKEN".into(),
        "REFRESH TOKEN OBTAINED".into(),
        "STATE".into(),
    ]];
    cells.extend(rows.iter().map(|r| r.cells(now)));
    let widths: Vec<usize> = (0..7)
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (n, row) in cells.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        let line = line.join("  ");
        let line = line.trim_end();
        if bold && n == 0 {
            out.push_str(&format!("\x1b[1m{line}\x1b[0m"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// The TENANT column: Microsoft's tenant, or the name of another provider.
fn realm_of(provider: ooauth2::provider::Provider, tenant: &str) -> String {
    if provider.is_microsoft() {
        tenant.to_string()
    } else {
        provider.name().to_string()
    }
}

/// The tenant, with the authority when it is not Microsoft's public cloud.
fn tenant_column(tenant: &str, authority: &str) -> String {
    if authority == ooauth2::provider::DEFAULT_AUTHORITY {
        tenant.to_string()
    } else {
        format!("{tenant} ({authority})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        std::iter::once("ooauth2")
            .chain(s.iter().copied())
            .map(String::from)
            .collect()
    }

    #[test]
    fn fast_token_parses_exactly_like_clap() {
        let lines: &[&[&str]] = &[
            &["token", "--client-id", "c", "--user", "u@x"],
            &[
                "token",
                "--client-id=c",
                "--user=u@x",
                "--tenant",
                "t",
                "--authority=http://127.0.0.1:1",
            ],
            &[
                "token",
                "--scope",
                "a b",
                "--min-ttl",
                "60",
                "--host=h",
                "--port",
                "993",
                "--non-interactive",
            ],
            &[
                "token",
                "--flow",
                "authcode",
                "--redirect-port=8765",
                "--signin-timeout",
                "60",
                "--open",
            ],
            &["token", "--flow", "device", "--no-open"],
            &["token", "-v", "--format", "xoauth2", "--client-id", "c"],
            &["token", "--format=json", "--verbose", "--user", ""],
            &["token", "--format", "oauthbearer"],
            &["token", "--provider", "google", "--user=u@gmail.com"],
            &["token", "work", "--provider=fastmail"],
            &[
                "token",
                "--issuer=https://idp.example",
                "--token-endpoint",
                "https://idp.example/t",
                "--authorization-endpoint=https://idp.example/a",
                "--device-authorization-endpoint",
                "https://idp.example/d",
                "--client-secret-cmd=pass show x",
            ],
            &["token"],
            &["token", "work"],
            &["token", "extra"],
            &["token", "work", "--user", "u@x", "--non-interactive"],
            &["token", "--user", "u@x", "work", "--format=json"],
            &["token", "-v", "a.b_c-1", "--client-id=c"],
            &["token", ""],
            &["token", "work=x"],
        ];
        for line in lines {
            let args = argv(line);
            let fast = fast_token(&args).unwrap_or_else(|| panic!("fast path refused {line:?}"));
            let slow = Cli::try_parse_from(&args).unwrap();
            assert_eq!(fast, slow, "{line:?}");
        }
    }

    #[test]
    fn fast_token_leaves_everything_else_to_clap() {
        let lines: &[&[&str]] = &[
            &["token", "--help"],
            &["token", "-h"],
            &["token", "--user", "a", "--user", "b"],
            &["token", "--user"],
            &["token", "--user", "--client-id"],
            &["token", "--format", "pem"],
            &["token", "--non-interactive=yes"],
            &["token", "--open", "--no-open"],
            &["token", "--no-open=1"],
            &["token", "--bogus"],
            &["token", "work", "home"],
            &["token", "work", "--", "x"],
            &["token", "-"],
            &["--verbose", "token"],
            &["token", "-vv"],
            &["token", "-v", "--verbose"],
            &["status"],
        ];
        for line in lines {
            assert!(fast_token(&argv(line)).is_none(), "{line:?}");
        }
    }

    #[test]
    fn fast_token_knows_every_token_flag() {
        use clap::CommandFactory;
        let cmd = Cli::command();
        let token = cmd.find_subcommand("token").unwrap();
        for arg in token.get_arguments() {
            // The one positional, ACCOUNT, is held by the parity test above.
            let Some(long) = arg.get_long() else {
                assert_eq!(arg.get_id(), "name", "an unknown positional");
                continue;
            };
            if long == "help" {
                continue;
            }
            let mut line = vec!["token".to_string(), format!("--{long}")];
            if arg.get_action().takes_values() {
                line.push(if long == "format" {
                    "raw".into()
                } else {
                    "x".into()
                });
            }
            let args: Vec<String> = std::iter::once("ooauth2".to_string()).chain(line).collect();
            assert!(
                fast_token(&args).is_some(),
                "fast path does not know --{long}"
            );
            assert_eq!(
                fast_token(&args),
                Cli::try_parse_from(&args).ok(),
                "--{long}"
            );
        }
    }

    #[test]
    fn status_table_is_bold_only_when_asked() {
        let row = StatusRow {
            name: None,
            provider: Some("microsoft"),
            user: Some("u@x".into()),
            client_id: Some("c".into()),
            tenant: Some("common".into()),
            authority: Some(ooauth2::provider::DEFAULT_AUTHORITY.into()),
            expires_at: Some(1000 + 600),
            has_refresh_token: true,
            refresh_token_obtained_at: None,
            state: "ready",
        };
        let plain = status_table(std::slice::from_ref(&row), 1000, false);
        assert!(!plain.contains('\x1b'), "{plain}");
        assert!(
            plain
                .lines()
                .nth(1)
                .is_some_and(|l| l.contains("expires in 10 min"))
        );
        let bold = status_table(&[row], 1000, true);
        let lines: Vec<&str> = bold.lines().collect();
        assert!(lines[0].starts_with("\x1b[1mNAME") && lines[0].ends_with("\x1b[0m"));
        assert!(!lines[1].contains('\x1b'));
    }

    #[test]
    fn cli_definition_is_valid() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
