//! One client connection, start to end: who connected (only this user,
//! unless the listener has local passwords), the server connected to and
//! its capabilities learnt, the client's login taken by the dialect, the
//! account its login name picks (and its local password checked), the
//! server logged in to with the account's token (refreshed once if the
//! server refuses it), then the pump. One log line per connection and per
//! login on stderr: who, which account, what the server said, bytes,
//! duration; never a token, a SASL string or a password.

use super::client::{Client, Stop};
use super::upstream::Upstream;
pub use super::wire::Sock;
use super::{Limits, Tokens, peer, pump};
use crate::config::{Listener, LocalTls, Mechanism, Served};
use crate::error::{Error, Result, shown};
use crate::provider::MailProtocol;
use crate::secret::Secret;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a write to either side may block once logged in: a client that
/// stops reading for this long is gone.
const WRITE_LIMIT: Duration = Duration::from_secs(300);

/// The server's answer to the token.
pub(super) enum Auth {
    /// Logged in.
    Ok,
    /// Refused, with the server's final reply.
    Refused(String),
}

/// A client's login: the name that picks the account, and the password.
pub(super) struct Login {
    /// The login name.
    pub(super) name: String,
    /// The password, checked only on a listener with local passwords.
    pub(super) password: Secret,
}

/// Why a login failed, as the client is told.
pub(super) enum Refusal {
    /// The login was refused (no such account, the token refused).
    Denied(String),
    /// The server or the token could not be had just now.
    Unavailable(String),
}

/// What one protocol says differently.
pub(super) trait Dialect {
    /// After connecting: the greeting, STARTTLS when asked for, and the
    /// server's capabilities.
    fn open(&mut self, up: &mut Upstream, l: &Listener) -> Result<()>;
    /// The proxy's greeting.
    fn greet(&mut self, client: &mut Client) -> io::Result<()>;
    /// The answer to a client that may not connect, before closing.
    fn turn_away(&mut self, client: &mut Client, why: &str) -> io::Result<()>;
    /// The client's commands until it logs in: the login, or `None` when
    /// it quit.
    fn local(&mut self, client: &mut Client) -> std::result::Result<Option<Login>, Stop>;
    /// Logs in to the server with the SASL string `sasl`.
    fn auth(&mut self, up: &mut Upstream, mech: Mechanism, sasl: &Secret) -> Result<Auth>;
    /// Tells the client it is logged in.
    fn accepted(&mut self, client: &mut Client) -> io::Result<()>;
    /// Tells the client its login failed.
    fn refused(&mut self, client: &mut Client, why: &Refusal) -> io::Result<()>;
    /// Tells the client it sent more than a limit allows, before closing.
    fn too_long(&mut self, client: &mut Client) -> io::Result<()>;
}

/// The TLS configurations of a listener, made once when it starts.
pub struct Configs {
    /// To the server.
    pub upstream: Arc<rustls::ClientConfig>,
    /// To local clients, when the listener has local TLS.
    pub local: Option<Arc<rustls::ServerConfig>>,
}

/// The dialect of `l`'s protocol; `starttls`: local TLS the client may
/// start.
fn dialect(l: &Listener, starttls: Option<Arc<rustls::ServerConfig>>) -> Box<dyn Dialect> {
    let first = tls_first(l);
    match l.protocol {
        MailProtocol::Imap => Box::new(super::imap::Imap::new(starttls, first)),
        MailProtocol::Pop => Box::new(super::pop::Pop::new(starttls, first)),
        MailProtocol::Smtp => Box::new(super::smtp::Smtp::new(starttls, first)),
    }
}

/// Whether a login must wait for the client's STARTTLS: local passwords
/// over a listener that offers it never travel in the clear.
fn tls_first(l: &Listener) -> bool {
    l.has_passwords() && l.local_tls == LocalTls::Starttls
}

/// The log line's prefix: listener and client; the client's address.
struct Who {
    prefix: String,
    ip: Option<std::net::IpAddr>,
}

impl Who {
    fn log(&self, what: &str) {
        eprintln!("{} {what}", self.prefix);
    }
}

/// Runs one connection to its end.
pub fn run(sock: Sock, l: &Listener, tls: &Configs, tokens: &dyn Tokens, limits: Limits) {
    let start = Instant::now();
    let who = Who {
        prefix: format!("proxy {}: {}", l.name, sock.peer_name()),
        ip: sock.peer_ip(),
    };
    let starttls = tls
        .local
        .clone()
        .filter(|_| l.local_tls == LocalTls::Starttls);
    let mut d = dialect(l, starttls);
    let mut client = Client::new(sock);
    if !admitted(&mut client, d.as_mut(), l, tls, limits, &who) {
        return;
    }
    let ctx = Ctx {
        l,
        tls,
        tokens,
        limits,
        who,
    };
    let mut up = connect(d.as_mut(), &ctx);
    if d.greet(&mut client).is_err() {
        return;
    }
    let Some(account) = logged_in(d.as_mut(), &mut client, &mut up, &ctx) else {
        ctx.who.log(&format!(
            "closed before login ({:.1} s)",
            start.elapsed().as_secs_f32()
        ));
        return;
    };
    let Ok(mut up) = up else { return };
    if d.accepted(&mut client).is_err() {
        return;
    }
    let limit = Some(WRITE_LIMIT);
    let _ = client.wire.sock.set_write_timeout(limit);
    let _ = up.wire.sock.set_write_timeout(limit);
    let (end, counts) = pump::run(&mut client, &mut up, limits.idle);
    ctx.who.log(&format!(
        "closed (account {account}, {}, {} bytes up, {} bytes down, {:.1} s)",
        ended(&end, limits),
        counts.up,
        counts.down,
        start.elapsed().as_secs_f32()
    ));
}

/// Why the pump ended, for the log line.
fn ended(end: &pump::End, limits: Limits) -> String {
    match end {
        pump::End::Client => "client closed".to_string(),
        pump::End::Server => "server closed".to_string(),
        pump::End::Idle => format!("idle for {} s", limits.idle.as_secs()),
        pump::End::Failed(e) => format!("failed: {e}"),
    }
}

/// Whether the client may go on: it is this user's (else turned away),
/// its socket is set up, and with implicit local TLS the handshake is done.
fn admitted(
    client: &mut Client,
    d: &mut dyn Dialect,
    l: &Listener,
    tls: &Configs,
    limits: Limits,
    who: &Who,
) -> bool {
    // With local passwords, the password says who may log in, not the uid.
    let checked = if l.has_passwords() {
        Ok(())
    } else {
        peer::same_user(&client.wire.sock)
    };
    if let Err(why) = checked {
        who.log(&format!("refused: {why}"));
        let _ = d.turn_away(client, &why);
        return false;
    }
    // Mail protocols are request and answer: no Nagle delay on small lines.
    client.wire.sock.set_nodelay();
    let _ = client.wire.sock.set_read_timeout(Some(limits.handshake));
    let _ = client.wire.sock.set_write_timeout(Some(limits.handshake));
    if let (LocalTls::Implicit, Some(local)) = (l.local_tls, &tls.local)
        && client.start_tls(local).is_err()
    {
        who.log("the client's TLS handshake failed");
        return false;
    }
    true
}

/// What the steps of one connection share.
struct Ctx<'a> {
    l: &'a Listener,
    tls: &'a Configs,
    tokens: &'a dyn Tokens,
    limits: Limits,
    who: Who,
}

/// The server connected to, greeted, and its capabilities learnt; a
/// failure is logged.
fn connect(d: &mut dyn Dialect, ctx: &Ctx) -> Result<Upstream> {
    let up = Upstream::connect(ctx.l, &ctx.tls.upstream, ctx.limits.connect).and_then(|mut u| {
        d.open(&mut u, ctx.l)?;
        Ok(u)
    });
    if let Err(e) = &up {
        let server = ctx.l.server();
        ctx.who
            .log(&format!("server {server} unavailable: {}", e.message));
    }
    up
}

/// The client's logins until one succeeds: the account's name, or `None`
/// when the client quit, went away or sent too much. A server that could
/// not be reached is tried again at each login.
fn logged_in(
    d: &mut dyn Dialect,
    client: &mut Client,
    up: &mut Result<Upstream>,
    ctx: &Ctx,
) -> Option<String> {
    let who = &ctx.who;
    loop {
        let login = match d.local(client) {
            Ok(Some(login)) => login,
            Ok(None) | Err(Stop::Gone) => return None,
            Err(Stop::TooLong) => {
                who.log("cut off: a line or literal over the limit before login");
                let _ = d.too_long(client);
                return None;
            }
        };
        let name = &login.name;
        let outcome = if tls_first(ctx.l) && !client.tls() {
            Err(Refusal::Denied(
                "STARTTLS first: a local password is taken only under TLS".into(),
            ))
        } else {
            attempt(d, up, ctx, &login)
        };
        match outcome {
            Ok((account, how)) => {
                who.log(&format!("login as {account}: ok ({how})"));
                return Some(account);
            }
            Err(why) => {
                let text = match &why {
                    Refusal::Denied(t) | Refusal::Unavailable(t) => t,
                };
                who.log(&format!("login as '{}' failed: {text}", shown(name)));
                if d.refused(client, &why).is_err() {
                    return None;
                }
            }
        }
    }
}

/// One login: the account it picks, its local password (on a listener
/// with them) checked before any token is asked for, then the server
/// logged in to. The account's name and how it went, for the log.
fn attempt(
    d: &mut dyn Dialect,
    up: &mut Result<Upstream>,
    ctx: &Ctx,
    login: &Login,
) -> std::result::Result<(String, String), Refusal> {
    let (l, name) = (ctx.l, &login.name);
    let account = pick(l, name);
    if l.has_passwords() {
        // The same answer for a wrong name as for a wrong password: who
        // does not know a password learns no account names either.
        super::guard::check(l, account, &login.password, ctx.who.ip)
            .map_err(|why| Refusal::Denied(format!("wrong user name or password ({why})")))?;
    }
    let Some(account) = account else {
        return Err(Refusal::Denied(format!(
            "no account '{}' here; log in as one of: {}",
            shown(name),
            served_names(l)
        )));
    };
    if up.is_err() {
        *up = connect(d, ctx);
    }
    match up.as_mut() {
        Err(e) => Err(Refusal::Unavailable(format!(
            "cannot reach the server: {}",
            e.message
        ))),
        Ok(up) => self::login(d, up, l, account, ctx.tokens).map(|how| (account.name.clone(), how)),
    }
}

/// The account a login name picks: the account's name, or its user
/// (case aside).
fn pick<'l>(l: &'l Listener, name: &str) -> Option<&'l Served> {
    l.accounts.iter().find(|a| {
        a.name == name
            || a.user
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(name))
    })
}

/// The login names of a listener, for a refusal.
fn served_names(l: &Listener) -> String {
    let names: Vec<String> = l.accounts.iter().map(Served::shown).collect();
    names.join(", ")
}

/// The server login with the account's token; a refused token is refreshed
/// once and tried again. Returns how it went, for the log.
fn login(
    d: &mut dyn Dialect,
    up: &mut Upstream,
    l: &Listener,
    account: &Served,
    tokens: &dyn Tokens,
) -> std::result::Result<String, Refusal> {
    let unavailable = |e: Error| {
        let hint = e.hint.map(|h| format!(" ({h})")).unwrap_or_default();
        Refusal::Unavailable(format!(
            "no token for {}: {}{hint}",
            account.name, e.message
        ))
    };
    let mut first_refusal = None;
    for fresh in [false, true] {
        let token = tokens.token(&account.name, fresh).map_err(unavailable)?;
        let sasl = Secret::new(match l.mechanism {
            Mechanism::Xoauth2 => crate::sasl::xoauth2(&token.user, token.access.expose()),
            Mechanism::Oauthbearer => crate::sasl::oauthbearer(
                &token.user,
                Some(&l.server_host),
                Some(l.server_port),
                token.access.expose(),
            ),
        });
        match d.auth(up, l.mechanism, &sasl) {
            Ok(Auth::Ok) if fresh => {
                return Ok(format!(
                    "after a refresh; the server refused the cached token: {}",
                    first_refusal.unwrap_or_default()
                ));
            }
            Ok(Auth::Ok) => return Ok(format!("{} at {}", l.mechanism.name(), l.server())),
            Ok(Auth::Refused(reply)) if !fresh => first_refusal = Some(reply),
            Ok(Auth::Refused(reply)) => {
                return Err(Refusal::Denied(format!(
                    "{} refused the token of {} even after a refresh: {reply}",
                    l.server(),
                    account.name
                )));
            }
            Err(e) => return Err(Refusal::Unavailable(e.message)),
        }
    }
    Err(Refusal::Unavailable("no login".into()))
}

/// The text of a base64 SASL response (`=` is the empty one); `None` if it
/// is not base64 of UTF-8.
pub(super) fn decoded(b64: &[u8]) -> Option<String> {
    if b64 == b"=" {
        return Some(String::new());
    }
    let bytes = STANDARD.decode(b64).ok()?;
    String::from_utf8(bytes).ok()
}

/// The login of a SASL PLAIN response (RFC 4616: `authzid NUL authcid
/// NUL password`): the authcid and the password; `None` if malformed.
pub(super) fn plain_login(b64: &[u8]) -> Option<Login> {
    let text = Secret::new(decoded(b64)?);
    let mut parts = text.expose().split('\0');
    let (_authzid, authcid, password) = (parts.next()?, parts.next()?, parts.next()?);
    (!authcid.is_empty() && parts.next().is_none()).then(|| Login {
        name: authcid.to_string(),
        password: Secret::new(password),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(b64: &[u8]) -> Option<String> {
        plain_login(b64).map(|l| l.name)
    }

    #[test]
    fn plain_gives_the_authcid() {
        let b64 = STANDARD.encode("\0me@x.com\0secret");
        let login = plain_login(b64.as_bytes()).unwrap();
        assert_eq!(
            (login.name.as_str(), login.password.expose()),
            ("me@x.com", "secret")
        );
        let b64 = STANDARD.encode("admin\0me\0pw");
        assert_eq!(name(b64.as_bytes()).as_deref(), Some("me"));
        assert_eq!(name(STANDARD.encode("me\0pw").as_bytes()), None);
        assert_eq!(name(b"!!"), None);
        assert_eq!(decoded(b"=").as_deref(), Some(""));
    }
}
