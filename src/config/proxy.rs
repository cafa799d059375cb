//! The `[proxy.NAME]` tables of the config file: one local listener of
//! `ooauth2 proxy` each, checked here with the same file-and-line errors
//! and "did you mean" hints as the account tables.
//!
//! ```toml
//! [proxy.mail]
//! protocol = "imap"                      # imap, pop or smtp
//! listen = "127.0.0.1:1143"              # elsewhere: with local TLS and passwords;
//!                                        # or "unix:/path" (a Unix socket, 0600)
//! server = "outlook.office365.com:993"   # default: the account's provider's
//! server_tls = "implicit"                # or starttls; default: by the port
//! mechanism = "xoauth2"                  # or oauthbearer
//! accounts = ["work"]                    # the login name picks one of these
//! local_tls = "starttls"                 # or implicit; default none
//! local_cert = "/path/cert.pem"          # with local_tls: PEM chain and key
//! local_key = "/path/key.pem"            # (none: one generated in the data dir)
//! local_password_hash = "$argon2id$v=19$..."  # or { work = "..." } per account
//! local_password_cmd = "pass show scanner"    # or { work = "..." }: prints it
//! ```
//!
//! A listener with local passwords takes a login only with its account's
//! password, from any user (and with local STARTTLS only under TLS); one
//! without takes only this user's connections. A `listen` off loopback needs both local TLS and a
//! password for every account (anyone who reaches it could otherwise use
//! the account, or read the password on the wire).

use super::Named;
use super::parse::{Entry, Place, closest, sorted};
use crate::error::{Error, Result, shown};
use crate::protocol::keys::RequestKey;
use crate::provider::{MailProtocol, Provider};
use crate::secret::SecretCommand;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use toml::de::DeValue;

/// The keys of a `[proxy.NAME]` table.
const KEYS: [&str; 12] = [
    "protocol",
    "listen",
    "server",
    "server_tls",
    "local_tls",
    "local_cert",
    "local_key",
    "mechanism",
    "accounts",
    "ca_file",
    "local_password_hash",
    "local_password_cmd",
];

/// How TLS to the mail server starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerTls {
    /// TLS from the first byte (993, 995, 465).
    Implicit,
    /// Plain first, then STARTTLS (143, 110 with STLS, 587).
    Starttls,
}

/// TLS between the local client and the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalTls {
    /// None: the listener is on loopback, where only the same user may connect.
    None,
    /// Plain first; the client may say STARTTLS (STLS in POP3).
    Starttls,
    /// TLS from the first byte.
    Implicit,
}

/// The SASL mechanism the proxy logs in upstream with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// Microsoft's and Google's XOAUTH2.
    Xoauth2,
    /// RFC 7628 OAUTHBEARER.
    Oauthbearer,
}

impl Mechanism {
    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Xoauth2 => "XOAUTH2",
            Mechanism::Oauthbearer => "OAUTHBEARER",
        }
    }

    /// The client's answer to the server's error challenge, base64
    /// encoded: XOAUTH2 takes an empty response, OAUTHBEARER the byte 0x01
    /// (RFC 7628 section 3.2.3).
    pub fn abort_answer(self) -> &'static str {
        match self {
            Mechanism::Xoauth2 => "",
            Mechanism::Oauthbearer => "AQ==",
        }
    }
}

/// Where a served account's local password is known from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalPassword {
    /// An argon2 hash in PHC form (`ooauth2 proxy hash-password` prints one).
    Hash(String),
    /// A command printing the password, run once when the proxy starts
    /// (and hashed then: the password is not kept).
    Command(SecretCommand),
}

/// Where a listener listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// A TCP address (off loopback only with local TLS and passwords).
    Tcp(SocketAddr),
    /// A Unix stream socket at this absolute path (`listen = "unix:/path"`).
    Unix(PathBuf),
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Tcp(addr) => write!(f, "{addr}"),
            Listen::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// One account a listener serves: its name and mailbox, either of which a
/// client may log in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// The `[accounts.NAME]` name.
    pub name: String,
    /// Its `user`, when the file gives one.
    pub user: Option<String>,
    /// The password a login as this account must give, on a listener
    /// with local passwords.
    pub password: Option<LocalPassword>,
}

impl Served {
    /// `name (user)`, as messages and `--check` show it.
    pub fn shown(&self) -> String {
        match &self.user {
            Some(u) => format!("{} ({u})", self.name),
            None => self.name.clone(),
        }
    }
}

/// One `[proxy.NAME]` table, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The table's name.
    pub name: String,
    /// The mail protocol spoken on both sides.
    pub protocol: MailProtocol,
    /// Where it listens.
    pub listen: Listen,
    /// The mail server's host name (its certificate must hold it).
    pub server_host: String,
    /// The mail server's port.
    pub server_port: u16,
    /// How TLS to the server starts.
    pub server_tls: ServerTls,
    /// TLS to the local client.
    pub local_tls: LocalTls,
    /// The certificate chain (PEM) and private key (PEM) of local TLS;
    /// `None` with local TLS: the one generated in the data dir.
    pub local_cert: Option<(PathBuf, PathBuf)>,
    /// The mechanism of the upstream login.
    pub mechanism: Mechanism,
    /// The accounts it serves, in the order given.
    pub accounts: Vec<Served>,
    /// Extra CA certificates for the server (a private or self-signed one).
    pub ca_file: Option<PathBuf>,
}

impl Listener {
    /// `host:port` of the server, as messages show it.
    pub fn server(&self) -> String {
        if self.server_host.contains(':') {
            format!("[{}]:{}", self.server_host, self.server_port)
        } else {
            format!("{}:{}", self.server_host, self.server_port)
        }
    }

    /// Whether logins must give their account's local password (and may
    /// then come from any user).
    pub fn has_passwords(&self) -> bool {
        self.accounts.iter().any(|a| a.password.is_some())
    }

    /// The protocol's name in messages.
    pub fn protocol_name(&self) -> &'static str {
        match self.protocol {
            MailProtocol::Imap => "imap",
            MailProtocol::Pop => "pop",
            MailProtocol::Smtp => "smtp",
        }
    }
}

/// The values of one table as written, before they are checked together.
#[derive(Default)]
struct Given {
    protocol: Option<(usize, String)>,
    listen: Option<(usize, String)>,
    server: Option<(usize, String)>,
    server_tls: Option<(usize, String)>,
    local_tls: Option<(usize, String)>,
    local_cert: Option<(usize, String)>,
    local_key: Option<(usize, String)>,
    mechanism: Option<(usize, String)>,
    accounts: Option<(usize, Vec<String>)>,
    ca_file: Option<(usize, String)>,
    passwords: Vec<GivenPassword>,
}

/// A `local_password_hash` or `local_password_cmd` as written.
struct GivenPassword {
    /// `local_password_cmd` (else `local_password_hash`).
    cmd: bool,
    /// Where it is written.
    at: usize,
    /// The account it is for; `None`: every account of the listener.
    account: Option<String>,
    /// The hash or the command.
    text: String,
}

/// Every `[proxy.NAME]` table under the `proxy` key, in file order.
pub(super) fn tables(
    place: &Place,
    key: &toml::Spanned<std::borrow::Cow<'_, str>>,
    value: &toml::Spanned<DeValue<'_>>,
    accounts: &[Named],
) -> Result<Vec<Listener>> {
    let Some(table) = value.get_ref().as_table() else {
        return Err(place.at(
            key.span().start,
            "'proxy' must be a table of [proxy.NAME] tables".into(),
        ));
    };
    let mut listeners: Vec<Listener> = Vec::new();
    for (name, body) in sorted(table) {
        let at = name.span().start;
        let listener = listener(place, (name, body), accounts)?;
        if let Some(other) = listeners.iter().find(|l| l.listen == listener.listen) {
            return Err(place.at(
                at,
                format!(
                    "[proxy.{}] listens on {}, as [proxy.{}] does",
                    listener.name, listener.listen, other.name
                ),
            ));
        }
        listeners.push(listener);
    }
    Ok(listeners)
}

/// One `[proxy.NAME]` table.
fn listener(place: &Place, (name, body): Entry, accounts: &[Named]) -> Result<Listener> {
    let name_at = name.span().start;
    let name = name.get_ref().to_string();
    if let Some(bad) = super::bad_name(&name) {
        return Err(place.at(name_at, bad.replacen("account name", "proxy name", 1)));
    }
    let Some(body) = body.get_ref().as_table() else {
        return Err(place.at(
            name_at,
            format!("proxy.{name} must be a table ([proxy.{name}])"),
        ));
    };
    let mut given = Given::default();
    for entry in sorted(body) {
        given_value(place, &name, entry, &mut given)?;
    }
    Checker {
        place,
        name,
        name_at,
    }
    .check(given, accounts)
}

/// Stores one `key = value` of a proxy table in `given`.
fn given_value(place: &Place, name: &str, (key, value): Entry, given: &mut Given) -> Result<()> {
    let k = key.get_ref().as_ref();
    let at = key.span().start;
    let bad = |what: &str| place.at(at, format!("[proxy.{name}] {k}: {what}"));
    if k == "accounts" {
        let list = value.get_ref().as_array().and_then(|a| {
            a.iter()
                .map(|v| v.get_ref().as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
        });
        let Some(list) = list.filter(|l| !l.is_empty()) else {
            return Err(bad(
                "must be a list of account names, e.g. accounts = [\"work\"]",
            ));
        };
        given.accounts = Some((at, list));
        return Ok(());
    }
    if k == "local_password_hash" || k == "local_password_cmd" {
        return given_passwords(place, name, (key, value), given);
    }
    let slot = match k {
        "protocol" => &mut given.protocol,
        "listen" => &mut given.listen,
        "server" => &mut given.server,
        "server_tls" => &mut given.server_tls,
        "local_tls" => &mut given.local_tls,
        "local_cert" => &mut given.local_cert,
        "local_key" => &mut given.local_key,
        "mechanism" => &mut given.mechanism,
        "ca_file" => &mut given.ca_file,
        _ => {
            let hint = match closest(k, KEYS.into_iter()) {
                Some(near) => format!("did you mean {near}?"),
                None => format!("the keys are: {}", KEYS.join(", ")),
            };
            return Err(place
                .at(at, format!("[proxy.{name}]: unknown key '{}'", shown(k)))
                .hint(hint));
        }
    };
    let Some(text) = value.get_ref().as_str() else {
        return Err(bad(&format!(
            "must be a string, not {}",
            value.get_ref().type_str()
        )));
    };
    *slot = Some((at, text.to_string()));
    Ok(())
}

/// A `local_password_hash` or `local_password_cmd`: a string for every
/// account, or a table of one per account.
fn given_passwords(
    place: &Place,
    name: &str,
    (key, value): Entry,
    given: &mut Given,
) -> Result<()> {
    let k = key.get_ref().as_ref();
    let cmd = k == "local_password_cmd";
    let at = key.span().start;
    if let Some(text) = value.get_ref().as_str() {
        given.passwords.push(GivenPassword {
            cmd,
            at,
            account: None,
            text: text.to_string(),
        });
        return Ok(());
    }
    let bad = || {
        place
            .at(
                at,
                format!("[proxy.{name}] {k}: must be a string, or a table of one per account"),
            )
            .hint(format!("e.g. {k} = \"...\" or {k} = {{ work = \"...\" }}"))
    };
    let Some(table) = value.get_ref().as_table() else {
        return Err(bad());
    };
    for (account, v) in sorted(table) {
        let Some(text) = v.get_ref().as_str() else {
            return Err(bad());
        };
        given.passwords.push(GivenPassword {
            cmd,
            at: account.span().start,
            account: Some(account.get_ref().to_string()),
            text: text.to_string(),
        });
    }
    Ok(())
}

/// Checks a table's values together, naming the table in every error.
struct Checker<'p, 't> {
    place: &'p Place<'t>,
    name: String,
    name_at: usize,
}

impl Checker<'_, '_> {
    /// An error at `at` about `key` of this table.
    fn bad(&self, at: usize, key: &str, what: &str) -> Error {
        self.place
            .at(at, format!("[proxy.{}] {key}: {what}", self.name))
    }

    /// The one of `choices` that `value` names (case aside).
    fn choice<T: Copy>(
        &self,
        key: &str,
        (at, value): &(usize, String),
        choices: &[(&str, T)],
    ) -> Result<T> {
        let found = choices.iter().find(|(n, _)| n.eq_ignore_ascii_case(value));
        match found {
            Some((_, t)) => Ok(*t),
            None => {
                let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
                Err(self.bad(
                    *at,
                    key,
                    &format!("'{}' is not one of {}", shown(value), names.join(", ")),
                ))
            }
        }
    }

    /// The listener of `given`'s values, each checked.
    fn check(&self, given: Given, accounts: &[Named]) -> Result<Listener> {
        use MailProtocol::{Imap, Pop, Smtp};
        let Some(protocol) = &given.protocol else {
            return Err(self
                .place
                .at(
                    self.name_at,
                    format!("[proxy.{}] needs a protocol", self.name),
                )
                .hint("add protocol = \"imap\" (or \"pop\", \"smtp\")"));
        };
        let protocol = self.choice(
            "protocol",
            protocol,
            &[("imap", Imap), ("pop", Pop), ("smtp", Smtp)],
        )?;
        let mut served = self.served(given.accounts.as_ref(), accounts)?;
        self.passwords(&given.passwords, &mut served)?;
        let listen = self.listen(given.listen.as_ref(), protocol)?;
        let (local_tls, local_cert) = self.local(&given)?;
        self.reachable(given.listen.as_ref(), &listen, local_tls, &served)?;
        let (server_host, server_port) =
            self.server(given.server.as_ref(), protocol, &served, accounts)?;
        let (server_tls, mechanism) = self.how(&given, server_port)?;
        Ok(Listener {
            name: self.name.clone(),
            protocol,
            listen,
            server_host,
            server_port,
            server_tls,
            local_tls,
            local_cert,
            mechanism,
            accounts: served,
            ca_file: given.ca_file.map(|(_, p)| PathBuf::from(p)),
        })
    }

    /// TLS to the local client: none, or STARTTLS or implicit with the
    /// certificate and key the user gives (both, and only then).
    fn local(&self, given: &Given) -> Result<(LocalTls, Option<(PathBuf, PathBuf)>)> {
        let tls = match &given.local_tls {
            Some(v) => self.choice(
                "local_tls",
                v,
                &[
                    ("none", LocalTls::None),
                    ("starttls", LocalTls::Starttls),
                    ("implicit", LocalTls::Implicit),
                ],
            )?,
            None => LocalTls::None,
        };
        match (tls, &given.local_cert, &given.local_key) {
            (LocalTls::None, None, None) => Ok((tls, None)),
            (LocalTls::None, Some((at, _)), _) | (LocalTls::None, None, Some((at, _))) => Err(self
                .bad(*at, "local_cert", "and local_key are only for local_tls = \"starttls\" or \"implicit\"")),
            (_, Some((_, cert)), Some((_, key))) => {
                Ok((tls, Some((PathBuf::from(cert), PathBuf::from(key)))))
            }
            // The certificate generated once in the data dir.
            (_, None, None) => Ok((tls, None)),
            _ => Err(self
                .place
                .at(
                    given.local_tls.as_ref().map_or(self.name_at, |(at, _)| *at),
                    format!("[proxy.{}] local_cert and local_key go together", self.name),
                )
                .hint("give the PEM files of a certificate and its key, or neither for one generated in the data dir")),
        }
    }

    /// How the server is logged in to: its TLS (by default, what its
    /// port speaks) and the SASL mechanism (by default XOAUTH2).
    fn how(&self, given: &Given, server_port: u16) -> Result<(ServerTls, Mechanism)> {
        let tls = match &given.server_tls {
            Some(v) => self.choice(
                "server_tls",
                v,
                &[
                    ("implicit", ServerTls::Implicit),
                    ("starttls", ServerTls::Starttls),
                ],
            )?,
            None => tls_for_port(server_port),
        };
        let mechanism = match &given.mechanism {
            Some(v) => self.choice(
                "mechanism",
                v,
                &[
                    ("xoauth2", Mechanism::Xoauth2),
                    ("oauthbearer", Mechanism::Oauthbearer),
                ],
            )?,
            None => Mechanism::Xoauth2,
        };
        Ok((tls, mechanism))
    }

    /// The accounts served: each one an `[accounts.NAME]` of the file.
    fn served(
        &self,
        given: Option<&(usize, Vec<String>)>,
        accounts: &[Named],
    ) -> Result<Vec<Served>> {
        let Some((at, names)) = given else {
            return Err(self
                .place
                .at(
                    self.name_at,
                    format!("[proxy.{}] needs accounts", self.name),
                )
                .hint("add accounts = [\"NAME\"], naming [accounts.NAME] tables of this file"));
        };
        names
            .iter()
            .map(|n| match accounts.iter().find(|a| &a.name == n) {
                Some(a) => Ok(Served {
                    name: a.name.clone(),
                    user: a.value(RequestKey::User).map(str::to_string),
                    password: None,
                }),
                None => {
                    let known = accounts.iter().map(|a| a.name.as_str());
                    let hint = match closest(n, known) {
                        Some(near) => format!("did you mean {near}?"),
                        None => "each must be an [accounts.NAME] table of this file".into(),
                    };
                    Err(self
                        .bad(*at, "accounts", &format!("no account '{}'", shown(n)))
                        .hint(hint))
                }
            })
            .collect()
    }

    /// The address to listen on (by default loopback, at the protocol's
    /// usual proxy port), or a Unix socket's absolute path.
    fn listen(&self, given: Option<&(usize, String)>, protocol: MailProtocol) -> Result<Listen> {
        let Some((at, text)) = given else {
            let port = match protocol {
                MailProtocol::Imap => 1143,
                MailProtocol::Pop => 1110,
                MailProtocol::Smtp => 1587,
            };
            let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
            return Ok(Listen::Tcp(addr));
        };
        if let Some(path) = text.strip_prefix("unix:") {
            return self.unix(*at, path).map(Listen::Unix);
        }
        let addr = match text.parse::<u16>() {
            Ok(port) => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            Err(_) => text.parse::<SocketAddr>().map_err(|_| {
                self.bad(
                    *at,
                    "listen",
                    &format!("'{}' is not ADDRESS:PORT", shown(text)),
                )
                .hint("e.g. listen = \"127.0.0.1:1143\"")
            })?,
        };
        Ok(Listen::Tcp(addr))
    }

    /// The path of a `unix:` listener: absolute (the proxy's working
    /// directory is nobody's business), a file name at its end.
    fn unix(&self, at: usize, path: &str) -> Result<PathBuf> {
        let path = PathBuf::from(path);
        if !path.is_absolute() || path.file_name().is_none() {
            return Err(self
                .bad(
                    at,
                    "listen",
                    &format!(
                        "'unix:{}' is not an absolute socket path",
                        shown(&path.display().to_string())
                    ),
                )
                .hint("e.g. listen = \"unix:/run/user/1000/ooauth2/imap.sock\""));
        }
        Ok(path)
    }

    /// A listener off loopback only with local TLS and every account's
    /// password: anyone who reaches it could otherwise use the account,
    /// or read the password on the wire.
    fn reachable(
        &self,
        given: Option<&(usize, String)>,
        listen: &Listen,
        tls: LocalTls,
        served: &[Served],
    ) -> Result<()> {
        // A Unix socket is reached through its 0600 file, by this user only.
        let Listen::Tcp(listen) = listen else {
            return Ok(());
        };
        if listen.ip().is_loopback() {
            return Ok(());
        }
        let mut missing = Vec::new();
        if tls == LocalTls::None {
            missing.push("local_tls = \"starttls\" (or \"implicit\")");
        }
        if served.iter().any(|a| a.password.is_none()) {
            missing.push("local_password_hash (ooauth2 proxy hash-password prints one) or local_password_cmd");
        }
        if missing.is_empty() {
            return Ok(());
        }
        let at = given.map_or(self.name_at, |(at, _)| *at);
        Err(self
            .bad(
                at,
                "listen",
                &format!(
                    "{listen} is not a loopback address: anyone who reaches it could use \
                     the account, so it needs local TLS and a password for every account"
                ),
            )
            .hint(format!(
                "add {}, or listen on 127.0.0.1",
                missing.join(" and ")
            )))
    }

    /// Gives each served account its local password; a listener has one
    /// for every account or for none.
    fn passwords(&self, given: &[GivenPassword], served: &mut [Served]) -> Result<()> {
        for g in given {
            let key = if g.cmd {
                "local_password_cmd"
            } else {
                "local_password_hash"
            };
            let password = self.password(key, g)?;
            let mut found = false;
            for a in served.iter_mut() {
                if g.account.as_ref().is_some_and(|n| n != &a.name) {
                    continue;
                }
                found = true;
                if a.password.is_some() {
                    return Err(self
                        .bad(
                            g.at,
                            key,
                            &format!("account '{}' has a local password already", a.name),
                        )
                        .hint("give each account one local_password_hash or local_password_cmd"));
                }
                a.password = Some(password.clone());
            }
            if !found {
                let n = g.account.as_deref().unwrap_or_default();
                return Err(self.bad(
                    g.at,
                    key,
                    &format!("'{}' is not one of this listener's accounts", shown(n)),
                ));
            }
        }
        match served.iter().find(|a| a.password.is_none()) {
            Some(a) if !given.is_empty() => Err(self
                .bad(
                    given[0].at,
                    "local passwords",
                    &format!("account '{}' has none", a.name),
                )
                .hint("give every account of the listener one (a string applies to all)")),
            _ => Ok(()),
        }
    }

    /// One password as given: a valid hash, or a command.
    fn password(&self, key: &str, g: &GivenPassword) -> Result<LocalPassword> {
        if g.cmd {
            let cmd = SecretCommand::from_config_key(
                format!("local_password_cmd of [proxy.{}]", self.name),
                format!(
                    "local_password_cmd at {}:{}",
                    self.place.path.display(),
                    super::parse::line_of(self.place.text, g.at)
                ),
                g.text.clone(),
            );
            if cmd.is_unusable() {
                return Err(self.bad(g.at, key, "must be a non-empty shell command"));
            }
            return Ok(LocalPassword::Command(cmd));
        }
        match crate::password::bad_hash(&g.text) {
            None => Ok(LocalPassword::Hash(g.text.clone())),
            Some(why) => Err(self
                .bad(g.at, key, &format!("the value {why}"))
                .hint("run ooauth2 proxy hash-password and paste what it prints")),
        }
    }

    /// The server as given, or the served account's provider's own.
    fn server(
        &self,
        given: Option<&(usize, String)>,
        protocol: MailProtocol,
        served: &[Served],
        accounts: &[Named],
    ) -> Result<(String, u16)> {
        if let Some((at, text)) = given {
            return split_host_port(text).ok_or_else(|| {
                self.bad(
                    *at,
                    "server",
                    &format!("'{}' is not HOST:PORT", shown(text)),
                )
                .hint("e.g. server = \"outlook.office365.com:993\"")
            });
        }
        let provider = served
            .first()
            .and_then(|s| accounts.iter().find(|a| a.name == s.name))
            .and_then(|a| a.value(RequestKey::Provider))
            .map_or(Some(Provider::Microsoft), Provider::from_name);
        match provider.and_then(|p| p.mail_server(protocol)) {
            Some((host, port)) => Ok((host.to_string(), port)),
            None => Err(self
                .place
                .at(
                    self.name_at,
                    format!(
                        "[proxy.{}] needs a server: its account's provider has none of its own",
                        self.name
                    ),
                )
                .hint("add server = \"HOST:PORT\"")),
        }
    }
}

/// `host:port`, an IPv6 address in brackets.
fn split_host_port(text: &str) -> Option<(String, u16)> {
    let (host, port) = text.rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:".contains(&b));
    let port = port.parse::<u16>().ok().filter(|&p| p > 0)?;
    valid.then(|| (host.to_string(), port))
}

/// The TLS a server port usually speaks: implicit on 993, 995 and 465,
/// STARTTLS elsewhere (143, 110, 587, 25).
fn tls_for_port(port: u16) -> ServerTls {
    match port {
        993 | 995 | 465 => ServerTls::Implicit,
        _ => ServerTls::Starttls,
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use std::path::Path;

    const ACCOUNT: &str = "[accounts.work]\nclient_id = \"c\"\nuser = \"me@x.com\"\n";

    fn listeners(proxy: &str) -> crate::error::Result<Vec<super::Listener>> {
        parse(&format!("{ACCOUNT}{proxy}"), Path::new("/c.toml")).map(|c| c.listeners)
    }

    #[track_caller]
    fn fails(proxy: &str, needles: &[&str]) {
        let e = listeners(proxy).unwrap_err();
        let all = format!("{} {}", e.message, e.hint.unwrap_or_default());
        for n in needles {
            assert!(all.contains(n), "{n:?} not in {all:?}");
        }
    }

    #[test]
    fn a_listener_takes_defaults_from_its_account() {
        let l = listeners("[proxy.m]\nprotocol = \"smtp\"\naccounts = [\"work\"]\n").unwrap();
        assert_eq!(l[0].listen.to_string(), "127.0.0.1:1587");
        assert_eq!(l[0].server(), "smtp.office365.com:587");
        assert_eq!(l[0].server_tls, super::ServerTls::Starttls);
        assert_eq!(l[0].accounts[0].user.as_deref(), Some("me@x.com"));
        let l = listeners(
            "[proxy.m]\nprotocol = \"imap\"\nlisten = \"[::1]:2143\"\nserver = \"127.0.0.1:10993\"\n\
             server_tls = \"implicit\"\nmechanism = \"oauthbearer\"\naccounts = [\"work\"]\n",
        )
        .unwrap();
        assert_eq!(l[0].listen.to_string(), "[::1]:2143");
        assert_eq!(l[0].mechanism, super::Mechanism::Oauthbearer);
        let l = listeners(
            "[proxy.m]\nprotocol = \"imap\"\nlisten = \"unix:/run/x/imap.sock\"\naccounts = [\"work\"]\n",
        )
        .unwrap();
        assert_eq!(l[0].listen, super::Listen::Unix("/run/x/imap.sock".into()));
        assert_eq!(l[0].listen.to_string(), "unix:/run/x/imap.sock");
    }

    #[test]
    fn local_passwords_are_per_account_and_off_loopback_needs_them_and_tls() {
        let hash = crate::password::hash(&crate::secret::Secret::new("pw")).unwrap();
        let two = "[accounts.home]\nclient_id = \"c\"\n";
        let l = listeners(&format!(
            "{two}[proxy.m]\nprotocol = \"imap\"\nlisten = \"0.0.0.0:2143\"\nlocal_tls = \"implicit\"\n\
             accounts = [\"work\", \"home\"]\nlocal_password_hash = {{ work = \"{hash}\" }}\n\
             local_password_cmd = {{ home = \"echo pw\" }}\n"
        ))
        .unwrap();
        assert!(l[0].has_passwords());
        assert_eq!(l[0].local_cert, None, "generated later");
        assert_eq!(
            l[0].accounts[0].password,
            Some(super::LocalPassword::Hash(hash.clone()))
        );
        assert!(matches!(
            l[0].accounts[1].password,
            Some(super::LocalPassword::Command(_))
        ));
        fails(
            &format!(
                "[proxy.m]\nprotocol = \"imap\"\naccounts = [\"work\"]\nlocal_password_hash = \"{hash}\"\n\
                 local_password_cmd = \"echo pw\"\n"
            ),
            &[":8:", "account 'work' has a local password already"],
        );
        fails(
            &format!(
                "[proxy.m]\nprotocol = \"imap\"\naccounts = [\"work\"]\nlocal_password_hash = {{ wrok = \"{hash}\" }}\n"
            ),
            &[":7:", "'wrok' is not one of this listener's accounts"],
        );
        fails(
            "[proxy.m]\nprotocol = \"imap\"\naccounts = [\"work\"]\nlocal_password_hash = 3\n",
            &[":7:", "must be a string, or a table of one per account"],
        );
        fails(
            "[proxy.m]\nprotocol = \"imap\"\naccounts = [\"work\"]\nlocal_password_cmd = \" \"\n",
            &[":7:", "must be a non-empty shell command"],
        );
        fails(
            "[proxy.m]\nprotocol = \"imap\"\nlisten = \"[2001:db8::1]:143\"\nlocal_tls = \"starttls\"\naccounts = [\"work\"]\n",
            &[
                ":6:",
                "is not a loopback address",
                "add local_password_hash",
            ],
        );
    }

    #[test]
    fn bad_listeners_are_named_with_their_line() {
        fails(
            "[proxy.m]\naccounts = [\"work\"]\n",
            &["/c.toml:4:", "needs a protocol"],
        );
        fails(
            "[proxy.m]\nprotocol = \"imap\"\naccounts = [\"wrok\"]\n",
            &[":6:", "no account 'wrok'", "did you mean work?"],
        );
        fails(
            "[proxy.m]\nprotocol = \"imap\"\nacounts = [\"work\"]\n",
            &[":6:", "unknown key 'acounts'", "did you mean accounts?"],
        );
        fails(
            "[proxy.m]\nprotocol = \"imap4\"\naccounts = [\"work\"]\n",
            &[":5:", "'imap4' is not one of imap, pop, smtp"],
        );
        fails(
            "[proxy.m]\nprotocol = \"imap\"\nlisten = \"0.0.0.0:1143\"\naccounts = [\"work\"]\n",
            &[":6:", "not a loopback address"],
        );
        fails(
            "[proxy.m]\nprotocol = \"imap\"\nlocal_tls = \"implicit\"\nlocal_key = \"k\"\naccounts = [\"work\"]\n",
            &[":6:", "local_cert and local_key go together"],
        );
        fails(
            "[proxy.m]\nprotocol = \"imap\"\nlisten = \"unix:imap.sock\"\naccounts = [\"work\"]\n",
            &[":6:", "'unix:imap.sock' is not an absolute socket path"],
        );
        fails(
            "[proxy.m]\nprotocol = \"imap\"\nlocal_cert = \"c.pem\"\naccounts = [\"work\"]\n",
            &[":6:", "only for local_tls"],
        );
        fails(
            "[proxy.m]\nprotocol = \"imap\"\nserver = \"host\"\naccounts = [\"work\"]\n",
            &[":6:", "not HOST:PORT"],
        );
        fails(
            "[proxy.a]\nprotocol = \"imap\"\naccounts = [\"work\"]\n\
             [proxy.b]\nprotocol = \"imap\"\naccounts = [\"work\"]\n",
            &[":7:", "as [proxy.a] does"],
        );
    }
}
