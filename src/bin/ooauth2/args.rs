//! The command line's definition (clap derive) and what each set of flags
//! puts into the typed request: a flag lands in a field of [`Raw`], so a
//! misspelled key is a compile error.

use clap::{Args, Parser, Subcommand, ValueEnum};
use ooauth2::error::Result;
use ooauth2::request::{Action, Raw, Spelling};
use ooauth2::secret::SecretCommand;

const AFTER_HELP: &str = "\
Examples:
  # work: an [accounts.work] table of the config file
  ooauth2 login work
  ooauth2 token work
  ooauth2 login --client-id 9e5f94bc-... --user me@example.com
  ooauth2 token --client-id 9e5f94bc-... --user me@example.com
  printf 'action=get\\naccount=work\\n\\n' | ooauth2 helper
  ooauth2 --generate_access_token --client_id=... --refresh_token=@refresh-token.txt

Environment: OOAUTH2_CONFIG (config file, default
$XDG_CONFIG_HOME/ooauth2/config.toml), OOAUTH2_STORE_DIR (store location), OOAUTH2_LOCK_TIMEOUT,
OOAUTH2_HTTP_TIMEOUT, OOAUTH2_CONNECT_TIMEOUT, OOAUTH2_SECRET_CMD_TIMEOUT (seconds), HTTPS_PROXY,
OOAUTH2_NOTIFY_CMD (tells the sign-in code when no terminal can),
OOAUTH2_NOTIFY_SEND=0 (no notify-send fallback), NO_COLOR.
Exit status: 0 ok, 1 sign-in or app registration needed, 2 bad request,
74 store error, 75 temporary failure.";

/// ooauth2 gets, renews and keeps OAuth2 tokens for mail clients.
///
/// Alpine's ooauth2.py options work too: `ooauth2 --generate_access_token --help` lists them.
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
  printf 'action=get\\naccount=work\\n\\n' | ooauth2 helper
  printf 'action=get\\nclient_id=CLIENT\\nuser=me@example.com\\n\\n' | ooauth2 helper
  printf 'action=capability\\n\\n' | ooauth2 helper")]
    Helper,
    /// Print a valid access token on one line (for msmtp passwordeval, mbsync PassCmd).
    #[command(after_help = "\
Prints exactly one line on success and nothing on stdout on failure.

Examples:
  # work: an [accounts.work] table of the config file
  ooauth2 token work
  ooauth2 token --client-id CLIENT --user me@example.com
  ooauth2 token work --format xoauth2
  # in ~/.msmtprc:  passwordeval \"ooauth2 token work\"
  # in ~/.mbsyncrc: PassCmd \"ooauth2 token work\"")]
    Token(TokenArgs),
    /// Sign in (device code flow, or --flow authcode in a browser) and store the tokens.
    #[command(after_help = "\
Examples:
  ooauth2 login work
  ooauth2 login --client-id CLIENT --user me@example.com
  ooauth2 login --client-id CLIENT --tenant contoso.onmicrosoft.com --user me@contoso.com
  ooauth2 login work --flow authcode --open
  # a browser on another machine: there, first ssh -L 8765:127.0.0.1:8765 HOST
  ooauth2 login work --flow authcode --redirect-port 8765")]
    Login(LoginArgs),
    /// Set up an account: the config file, the sign-in, the msmtp, mbsync and neomutt lines.
    #[command(
        mut_arg("name", |a| a
            .value_name("NAME")
            .help("The account's name in the config file (asked, or from the address)")),
        mut_arg("provider", |a| a.help(format!(
            "Provider preset: {} (asked, or from the address)",
            ooauth2::provider::Provider::names()
        ))),
        after_help = SETUP_HELP
    )]
    Setup(SetupArgs),
    /// List the configured and stored accounts (never shows a secret).
    #[command(after_help = "Examples:\n  ooauth2 status\n  ooauth2 status --json")]
    Status(StatusArgs),
    /// Refresh the accounts left unused for a while, so no refresh token dies of disuse.
    #[command(after_help = KEEPALIVE_HELP)]
    Keepalive(KeepaliveArgs),
    /// Forget a stored account.
    #[command(
        after_help = "Examples:\n  ooauth2 erase work\n  ooauth2 erase --client-id CLIENT --user me@example.com"
    )]
    // Only the flags that name the account apply: nothing is asked of the provider.
    #[command(
        mut_arg("scope", |a| a.hide(true)),
        mut_arg("authorization_endpoint", |a| a.hide(true)),
        mut_arg("device_authorization_endpoint", |a| a.hide(true)),
        mut_arg("client_secret_cmd", |a| a.hide(true)),
        mut_arg("secret_store", |a| a.hide(true)),
        mut_arg("encrypt_cmd", |a| a.hide(true)),
        mut_arg("decrypt_cmd", |a| a.hide(true)),
        mut_arg("cache_access_token", |a| a.hide(true))
    )]
    Erase(AccountArgs),
    /// Manage where the accounts' refresh tokens rest (the secret stores).
    #[command(
        subcommand_required = true,
        arg_required_else_help = true,
        disable_help_subcommand = true,
        after_help = "\
Examples:
  ooauth2 store migrate work --to command \\
      --encrypt-cmd 'age -r age1...' --decrypt-cmd 'age -d -i ~/.config/age/key.txt'
  ooauth2 store migrate --all --to file"
    )]
    Store {
        /// What to do with the store.
        #[command(subcommand)]
        command: StoreCommand,
    },
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
  # the provider's server, e.g. outlook.office365.com:993
  ooauth2 test imap work
  ooauth2 test pop work
  ooauth2 test smtp work
  ooauth2 test pop work --host pop.example.org --port 110 --tls starttls
  ooauth2 test imap --client-id CLIENT --user me@example.com --mechanism oauthbearer
  ooauth2 test imap work --host imap.example.org --port 143 --tls starttls
  ooauth2 test smtp work --host 127.0.0.1 --port 1587 --ca-file private-ca.pem
  # a fresh access token first
  ooauth2 test imap work --refresh")]
    Test(TestArgs),
    /// Serve local IMAP, POP3 and SMTP logins for programs that only know passwords.
    #[command(after_help = PROXY_HELP)]
    Proxy(ProxyArgs),
    /// Check the store, the config file, the accounts and the provider; say what to fix.
    #[command(after_help = "\
Prints one line per check: `ok: ...`, `problem: ... -> what to do`,
`note: ... -> what to do` (not a problem), or `skipped: ...`. Exit status 0
when no check found a problem (notes included), 1 when one did.

Offline: the store's location and permissions, the config file, each
account's refresh token, access token and scope. Online (not with
--offline), per provider host and account: reachable (through HTTPS_PROXY
and the system CA store), the clock within 300 s of the provider's Date
header, and the app registration: a refresh with the stored refresh token
(stored again as any refresh stores it), or a device authorization and one
poll. No token, code or secret is ever shown.

Examples:
  # every configured and stored account
  ooauth2 doctor
  ooauth2 doctor work
  ooauth2 doctor --offline
  ooauth2 doctor --client-id CLIENT --user me@example.com")]
    Doctor(DoctorArgs),
    /// Print a shell completion script on stdout.
    #[command(after_help = "\
Examples:
  mkdir -p ~/.local/share/bash-completion/completions
  ooauth2 completions bash > ~/.local/share/bash-completion/completions/ooauth2
  # zsh: with fpath+=~/.zfunc before compinit in ~/.zshrc
  mkdir -p ~/.zfunc && ooauth2 completions zsh > ~/.zfunc/_ooauth2
  mkdir -p ~/.config/fish/completions
  ooauth2 completions fish > ~/.config/fish/completions/ooauth2.fish")]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the config file's account names, one a line (the completion scripts call it).
    #[command(hide = true)]
    Accounts,
    /// Print the man page ooauth2(1) on stdout, or write every page into a directory.
    #[command(after_help = "\
Examples:
  # then: man ooauth2, man ooauth2-token
  ooauth2 man --dir ~/.local/share/man/man1
  ooauth2 man | man -l -")]
    Man {
        /// Write every page (ooauth2.1, ooauth2-token.1, ...) into DIR, creating
        /// it; print the paths written.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
}

/// What `ooauth2 keepalive --help` adds after the flags.
const KEEPALIVE_HELP: &str = "\
For every stored account (or the ones named), one refresh when its refresh
token was not used for --idle (default 7d), under the account's lock, never
a sign-in; a rotated refresh token is stored as 'ooauth2 token' stores it.
Microsoft's refresh tokens die after 90 days unused, Google's after about 6
months: run this daily (contrib/systemd/ooauth2-keepalive.timer, or cron)
and rarely used accounts never need a new sign-in.

Prints one line per account on stdout: `ok: ...`, `refreshed: ...`,
`needs sign-in: ... -> run: ooauth2 login NAME` or `temporary failure: ...`.
An account that needs a sign-in also gets its notify_cmd (or notify-send
in a desktop session). Exit status 0 when all are healthy, 1 when one needs
the user, 75 when the only failures were temporary.

Examples:
  ooauth2 keepalive
  ooauth2 keepalive work home
  ooauth2 keepalive --idle 1d
  # crontab -e:
  17 4 * * * ooauth2 keepalive >/dev/null";

/// What `ooauth2 setup --help` adds after the flags.
const SETUP_HELP: &str = "\
Asks for the address, the provider, the client id (saying where to get
one) and what else the provider needs, each on the terminal, or takes them
as flags; without a terminal a missing answer is an error naming its flag.
Then it shows the [accounts.NAME] table it adds to (or changes in) the
config file, asks before changing an account already there (--yes says
yes), writes it (every other line of the file stays as it is), signs in as
'ooauth2 login NAME' does, logs in to the mail servers if --test asks, and
prints the lines for msmtp, mbsync and neomutt on stdout. --flow and
--redirect-port are written to the account; --open, --no-open and
--signin-timeout only apply to this sign-in. A client secret is never
written: give the command that prints it (--client-secret-cmd).

Examples:
  ooauth2 setup
  ooauth2 setup work --user me@contoso.com --client-id YOUR-CLIENT-ID
  ooauth2 setup gmail --user me@gmail.com --client-id YOUR-CLIENT-ID \\
      --client-secret-cmd 'pass show mail/gmail-client-secret'
  ooauth2 setup work --test imap,smtp
  ooauth2 setup work --no-login > mail-lines.txt";

/// `store` subcommands.
#[derive(Subcommand, Debug, PartialEq, Eq)]
pub enum StoreCommand {
    /// Move accounts' refresh tokens to another secret store (file, keyring or command).
    #[command(after_help = MIGRATE_HELP)]
    Migrate(MigrateArgs),
}

/// What `ooauth2 store migrate --help` adds after the flags.
const MIGRATE_HELP: &str = "\
For each account, under its lock: the refresh token is opened where it
rests now (a sealed one by the account's decrypt_cmd), put where --to says
(sealed by the encrypt_cmd, then opened again and compared), and only then
does one record write replace the old copy. The account's config table
gets the new secret_store (and, for command, its encrypt_cmd and
decrypt_cmd; for file they are removed); every other line of the config
file stays as it is. An account that fails is left as it was, the others
go on, and the exit status is that of the last failure. An account already
where --to says is left alone. Only accounts of the config file move: add
a stored one first with 'ooauth2 setup NAME --no-login'.

Examples:
  ooauth2 store migrate work --to command \\
      --encrypt-cmd 'age -r age1...' --decrypt-cmd 'age -d -i ~/.config/age/key.txt'
  ooauth2 store migrate --all --to command
  ooauth2 store migrate work --to file";

/// `store migrate` flags.
#[derive(Args, Debug, PartialEq, Eq)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["name", "all"])))]
pub struct MigrateArgs {
    /// The config file's accounts to move.
    // `name`, as `AccountArgs::name`: the completions offer account names.
    #[arg(id = "name", value_name = "ACCOUNT")]
    pub names: Vec<String>,
    /// Every account of the config file (and a failure for each stored
    /// account it does not name).
    #[arg(long, conflicts_with = "name")]
    pub all: bool,
    /// The secret store to move to: file, keyring or command.
    #[arg(long, value_name = "STORE")]
    pub to: String,
    /// --to command: a shell command that seals stdin to stdout; written
    /// to the account's config table.
    #[arg(long, value_name = "COMMAND")]
    pub encrypt_cmd: Option<String>,
    /// --to command: a shell command that opens stdin to stdout; written
    /// to the account's config table.
    #[arg(long, value_name = "COMMAND")]
    pub decrypt_cmd: Option<String>,
}

/// `setup` flags: each question has one.
#[derive(Args, Debug, PartialEq, Eq)]
pub struct SetupArgs {
    #[command(flatten)]
    pub account: AccountArgs,
    #[command(flatten)]
    pub signin: SignInArgs,
    /// Change an account already in the config file without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Write the account and print the lines, but do not sign in now.
    #[arg(long, conflicts_with = "test")]
    pub no_login: bool,
    /// After signing in, log in to these servers with the token: imap, pop,
    /// smtp (repeat the flag, or separate them with commas).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "SERVICE")]
    pub test: Vec<crate::mailtest::Service>,
    /// The IMAP server in the lines printed and for --test imap: HOST or
    /// HOST:PORT (default: the provider's, e.g. outlook.office365.com:993);
    /// STARTTLS on 143, else TLS from the start.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub imap_server: Option<String>,
    /// The SMTP server in the lines printed and for --test smtp: HOST or
    /// HOST:PORT (default: the provider's, e.g. smtp.office365.com:587);
    /// TLS from the start on 465, else STARTTLS.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub smtp_server: Option<String>,
    /// --test: a PEM file of CA certificates to trust besides the system's.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<std::path::PathBuf>,
}

/// What `ooauth2 proxy --help` adds after the flags.
const PROXY_HELP: &str = "\
Listens where the config file's [proxy.NAME] tables say, in the foreground,
one log line per connection and per login on stderr. A mail program logs in
with any password (LOGIN, AUTH PLAIN or LOGIN, USER/PASS) and a login name
that is one of the listener's accounts (its name or its user); the proxy
logs in to the real server with that account's token, exactly the one
`ooauth2 token NAME` prints, and then passes the connection through. A
listener without local passwords takes only connections of the same user;
with them (other users, a scanner on the LAN), a login must give its
account's password, and a listen address off loopback needs them and local
TLS. `ooauth2 proxy hash-password` reads a password (no echo) and prints
the hash to paste.

  [proxy.imap]
  protocol = \"imap\"                     # imap, pop or smtp
  listen = \"127.0.0.1:1143\"             # default 1143, 1110, 1587
  # listen = \"unix:/run/user/1000/ooauth2/imap.sock\"  # a Unix socket, 0600
  server = \"outlook.office365.com:993\"  # default: the account's provider's
  server_tls = \"implicit\"               # or starttls (default: by the port)
  mechanism = \"xoauth2\"                 # or oauthbearer
  accounts = [\"work\"]
  # local_tls = \"starttls\"              # or implicit; none by default
  # local_cert = \"/path/cert.pem\"       # with local_tls: PEM chain and key
  # local_key = \"/path/key.pem\"         # neither: one generated in the data dir
  # local_password_hash = \"$argon2id$...\" # or { work = \"...\" } per account
  # local_password_cmd = \"pass show scanner\"  # or a command printing it
  # ca_file = \"/path/private-ca.pem\"    # a server with a private CA

SIGHUP reads the config file again (a file with errors is refused and the
running listeners go on); SIGTERM stops, open connections get 10 s.

Examples:
  ooauth2 proxy --check
  ooauth2 proxy hash-password
  ooauth2 proxy";

/// `proxy` flags.
#[derive(Args, Debug, PartialEq, Eq)]
pub struct ProxyArgs {
    /// Check the configuration and print what would listen where, then exit.
    #[arg(long)]
    pub check: bool,
    /// Something else than serving.
    #[command(subcommand)]
    pub command: Option<ProxyCommand>,
}

/// `proxy` subcommands.
#[derive(Subcommand, Debug, PartialEq, Eq)]
pub enum ProxyCommand {
    /// Read a local password (from the terminal without echo, or stdin) and print its hash.
    #[command(after_help = "\
Prints the argon2id hash (a PHC string, $argon2id$v=19$...) on stdout, for
local_password_hash in a [proxy.NAME] table; the password itself is never
stored. On a terminal it is asked for twice without echo; otherwise the first
line of stdin is the password.

Examples:
  ooauth2 proxy hash-password
  pass show mail/scanner | ooauth2 proxy hash-password")]
    HashPassword,
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

/// `keepalive` flags.
#[derive(Args, Debug, Default, PartialEq, Eq)]
pub struct KeepaliveArgs {
    /// The accounts to keep alive: names of the config file or stored
    /// addresses (default: every stored account).
    #[arg(value_name = "ACCOUNT")]
    pub accounts: Vec<String>,
    /// Refresh an account whose refresh token was not used for this long:
    /// a number with s, m, h or d (days when bare).
    #[arg(long, value_name = "DURATION", default_value = "7d")]
    pub idle: String,
}

/// `status` flags.
#[derive(Args, Debug, Default, PartialEq, Eq)]
pub struct StatusArgs {
    /// Print one JSON array of the accounts instead of the table.
    #[arg(long, conflicts_with = "wide")]
    pub json: bool,
    /// Show every column in full (the client id, the authority, the token
    /// times) instead of fitting the window.
    #[arg(long)]
    pub wide: bool,
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
    /// Where the refresh token rests: file (default, the 0600 record) or
    /// command (sealed by --encrypt-cmd, opened by --decrypt-cmd).
    #[arg(long, value_name = "STORE")]
    pub secret_store: Option<String>,
    /// --secret-store command: a shell command that seals stdin to stdout
    /// (e.g. 'age -r age1...').
    #[arg(long, value_name = "COMMAND")]
    pub encrypt_cmd: Option<String>,
    /// --secret-store command: a shell command that opens stdin to stdout
    /// (e.g. 'age -d -i ~/.config/age/key.txt').
    #[arg(long, value_name = "COMMAND")]
    pub decrypt_cmd: Option<String>,
    /// --secret-store command: false seals the cached access token in the
    /// record too, opened by --decrypt-cmd on every cached answer (default true).
    #[arg(long, value_name = "true|false")]
    pub cache_access_token: Option<String>,
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
    /// Puts the sign-in flags into `raw`.
    pub fn apply(&self, raw: &mut Raw) {
        raw.flow.clone_from(&self.flow);
        raw.redirect_port.clone_from(&self.redirect_port);
        raw.signin_timeout.clone_from(&self.signin_timeout);
        if self.open {
            raw.open_browser = Some("true".into());
        }
        if self.no_open {
            raw.open_browser = Some("false".into());
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
    /// The request these flags give for `action`; the account name, if
    /// any, in `account` for the config overlay.
    pub fn raw(&self, action: Action) -> Result<Raw> {
        let client_secret_cmd = match &self.client_secret_cmd {
            Some(cmd) => Some(SecretCommand::from_flag(cmd)?),
            None => None,
        };
        Ok(Raw {
            action: Some(action.as_str().to_string()),
            account: self.name.clone(),
            provider: self.provider.clone(),
            client_id: self.client_id.clone(),
            tenant: self.tenant.clone(),
            user: self.user.clone(),
            authority: self.authority.clone(),
            scope: self.scope.clone(),
            issuer: self.issuer.clone(),
            token_endpoint: self.token_endpoint.clone(),
            authorization_endpoint: self.authorization_endpoint.clone(),
            device_authorization_endpoint: self.device_authorization_endpoint.clone(),
            client_secret_cmd,
            secret_store: self.secret_store.clone(),
            encrypt_cmd: self.encrypt_cmd.clone(),
            decrypt_cmd: self.decrypt_cmd.clone(),
            cache_access_token: self.cache_access_token.clone(),
            spelling: Spelling::Flags,
            ..Raw::default()
        })
    }

    /// Whether no flag or name was given (`doctor` then checks every account).
    pub fn is_empty(&self) -> bool {
        *self == AccountArgs::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_valid() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    /// The flag a message names for a key (`Spelling::Flags`) is a flag
    /// of the commands that take the account's values.
    #[test]
    fn messages_name_flags_that_exist() {
        use clap::CommandFactory;
        use ooauth2::protocol::keys::RequestKey;
        let cli = Cli::command();
        let mut longs = Vec::new();
        for name in ["token", "login", "test", "doctor"] {
            let sub = cli.find_subcommand(name).unwrap();
            longs.extend(sub.get_arguments().filter_map(|a| a.get_long()));
        }
        for key in RequestKey::ALL.iter().filter(|k| k.has_flag()) {
            let flag = Spelling::Flags.key(*key);
            let long = flag.strip_prefix("--").unwrap();
            assert!(longs.contains(&long), "no command has {flag}");
        }
        // A sign-in command repeats these: `login` must take each.
        let login = cli.find_subcommand("login").unwrap();
        for key in ooauth2::request::LOGIN_KEYS {
            let flag = Spelling::Flags.key(key);
            let long = flag.strip_prefix("--").unwrap();
            assert!(
                login.get_arguments().any(|a| a.get_long() == Some(long)),
                "login has no {flag}"
            );
        }
    }

    #[test]
    fn flags_land_in_their_request_keys() {
        let cli = Cli::try_parse_from([
            "ooauth2",
            "token",
            "work",
            "--client-id",
            "c",
            "--tenant",
            "t",
            "--open",
            "--client-secret-cmd",
            "pass x",
        ])
        .unwrap();
        let Command::Token(t) = cli.command else {
            panic!("not token");
        };
        let mut raw = t.account.raw(Action::Get).unwrap();
        t.signin.apply(&mut raw);
        assert_eq!(raw.account.as_deref(), Some("work"));
        assert_eq!(raw.client_id.as_deref(), Some("c"));
        assert_eq!(raw.tenant.as_deref(), Some("t"));
        assert_eq!(raw.open_browser.as_deref(), Some("true"));
        assert!(raw.client_secret_cmd.is_some());
    }
}
