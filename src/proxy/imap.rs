//! IMAP (RFC 9051/3501, 7888, 4959): before login the client may ask for
//! CAPABILITY (the server's, with LOGINDISABLED, STARTTLS and its AUTH=
//! taken out and `AUTH=PLAIN AUTH=LOGIN SASL-IR` put in), NOOP, ID and
//! LOGOUT, and logs in with `LOGIN` (atoms, quoted strings, literals `{n}`
//! and LITERAL+ `{n+}`) or `AUTHENTICATE PLAIN` / `LOGIN` (with or without
//! SASL-IR). The server is logged in to with `AUTHENTICATE XOAUTH2` (or
//! OAUTHBEARER); its tagged OK goes to the client under the client's tag.

use super::client::{Client, MAX_LINE, SaslWords, Stop};
use super::session::{Auth, Dialect, Login, Refusal};
use super::smtp::one_line;
use super::upstream::{Upstream, quoted};
use crate::config::{Listener, Mechanism, ServerTls};
use crate::error::Result;
use crate::secret::Secret;
use std::io;
use std::sync::Arc;
use zeroize::Zeroizing;

type Taken<T> = std::result::Result<T, Stop>;

/// The IMAP dialect's state.
#[derive(Default)]
pub(crate) struct Imap {
    /// The server's capabilities.
    server: Vec<String>,
    /// The next tag the proxy uses with the server.
    next: u32,
    /// The client's tag of its login command.
    tag: String,
    /// The server's reply to the login, `OK ...` (untagged lines first).
    reply: Vec<String>,
    /// Local TLS the client may start with STARTTLS.
    starttls: Option<Arc<rustls::ServerConfig>>,
    /// Whether logins wait for STARTTLS (a listener with local passwords:
    /// they must not cross the network in the clear).
    tls_first: bool,
}

impl Imap {
    /// A fresh tag for the server.
    fn tag(&mut self) -> String {
        self.next += 1;
        format!("P{}", self.next)
    }

    /// Sends `command` and reads to its tagged reply: the untagged lines
    /// and the reply (`OK ...`, `NO ...`).
    fn command(&mut self, up: &mut Upstream, command: &str) -> Result<(Vec<String>, String)> {
        let tag = self.tag();
        up.send(&format!("{tag} {command}"))?;
        let mut untagged = Vec::new();
        loop {
            let line = up.line()?;
            match line.strip_prefix(&format!("{tag} ")) {
                Some(rest) => return Ok((untagged, rest.to_string())),
                None => untagged.push(line),
            }
        }
    }

    /// The capabilities the client is shown before login (STARTTLS when
    /// it may start TLS, `tls` saying whether it did).
    fn offered(&self, tls: bool) -> String {
        let mut caps: Vec<&str> = self
            .server
            .iter()
            .map(String::as_str)
            .filter(|c| {
                let c = c.to_ascii_uppercase();
                !(c == "LOGINDISABLED"
                    || c == "STARTTLS"
                    || c == "SASL-IR"
                    || c.starts_with("AUTH="))
            })
            .collect();
        if caps.is_empty() {
            caps.push("IMAP4rev1");
        }
        if self.starttls.is_some() && !tls {
            caps.push("STARTTLS");
        }
        if self.tls_first && !tls {
            caps.push("LOGINDISABLED");
        } else {
            caps.extend(["SASL-IR", "AUTH=PLAIN", "AUTH=LOGIN"]);
        }
        caps.join(" ")
    }

    fn has(&self, cap: &str) -> bool {
        self.server.iter().any(|c| c.eq_ignore_ascii_case(cap))
    }
}

/// The words of an untagged `* CAPABILITY ...` line among `lines`.
fn capabilities(lines: &[String]) -> Option<Vec<String>> {
    lines.iter().find_map(|l| {
        let rest = l.strip_prefix("* ")?;
        let (word, caps) = rest.split_once(' ')?;
        word.eq_ignore_ascii_case("CAPABILITY")
            .then(|| caps.split_whitespace().map(str::to_string).collect())
    })
}

/// A command line being read, astring by astring; a literal reads on.
struct Words<'c> {
    client: &'c mut Client,
    line: Vec<u8>,
    pos: usize,
}

impl Words<'_> {
    /// The next word: an atom (up to a space), or `None` at the end.
    fn atom(&mut self) -> Option<String> {
        while self.line.get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
        let start = self.pos;
        while self.line.get(self.pos).is_some_and(|&b| b != b' ') {
            self.pos += 1;
        }
        (self.pos > start)
            .then(|| String::from_utf8_lossy(&self.line[start..self.pos]).into_owned())
    }

    /// The next astring: an atom, a quoted string (`\"`, `\\`) or a literal
    /// (`{n}` answered with a continuation, `{n+}` not); `Ok(None)` when
    /// there is none or it is malformed.
    fn astring(&mut self) -> Taken<Option<Vec<u8>>> {
        while self.line.get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
        match self.line.get(self.pos) {
            None => Ok(None),
            Some(b'"') => Ok(self.quoted()),
            Some(b'{') => self.literal(),
            Some(_) => Ok(self.atom().map(String::into_bytes)),
        }
    }

    fn quoted(&mut self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.pos += 1;
        loop {
            let b = *self.line.get(self.pos)?;
            self.pos += 1;
            match b {
                b'"' => return Some(out),
                b'\\' => {
                    out.push(*self.line.get(self.pos)?);
                    self.pos += 1;
                }
                _ => out.push(b),
            }
        }
    }

    fn literal(&mut self) -> Taken<Option<Vec<u8>>> {
        let spec = &self.line[self.pos + 1..];
        let Some(spec) = spec.strip_suffix(b"}") else {
            return Ok(None);
        };
        let (digits, plus) = match spec.strip_suffix(b"+") {
            Some(d) => (d, true),
            None => (spec, false),
        };
        let Some(n) = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse::<usize>().ok())
        else {
            return Ok(None);
        };
        if n > super::client::MAX_LITERAL {
            return Err(Stop::TooLong);
        }
        if !plus {
            self.client.send("+ Ready for literal data\r\n")?;
        }
        let bytes = self.client.bytes(n)?;
        self.line = self.client.line()?;
        self.pos = 0;
        Ok(Some(bytes))
    }
}

/// The rest of a `LOGIN` command: the login, or `None` (answered).
fn login(words: &mut Words, tag: &str) -> Taken<Option<Login>> {
    let user = words.astring()?;
    let pass = words.astring()?;
    match (user, pass) {
        (Some(user), Some(pass)) if !user.is_empty() => Ok(Some(Login {
            name: String::from_utf8_lossy(&user).into_owned(),
            password: Secret::new(String::from_utf8_lossy(&pass).into_owned()),
        })),
        _ => {
            let bad = format!("{tag} BAD LOGIN needs a user name and a password\r\n");
            words.client.send(&bad)?;
            Ok(None)
        }
    }
}

/// The rest of an `AUTHENTICATE` command: the login, or `None` (answered).
fn authenticate(words: &mut Words, tag: &str) -> Taken<Option<Login>> {
    let mech = words.atom().unwrap_or_default();
    let initial = words.atom();
    let sasl = SaslWords {
        challenge: "+ ",
        cancelled: &format!("{tag} BAD AUTHENTICATE cancelled\r\n"),
        unknown: &format!("{tag} NO Only AUTHENTICATE PLAIN and LOGIN are offered\r\n"),
        undecodable: &format!("{tag} BAD Cannot decode the response\r\n"),
    };
    words.client.sasl_login(&sasl, &mech, initial.as_deref())
}

impl Imap {
    /// The dialect, `starttls` the local TLS a client may start.
    pub(super) fn new(starttls: Option<Arc<rustls::ServerConfig>>, tls_first: bool) -> Imap {
        Imap {
            starttls,
            tls_first,
            ..Imap::default()
        }
    }
}

impl Dialect for Imap {
    fn open(&mut self, up: &mut Upstream, l: &Listener) -> Result<()> {
        let greeting = up.line()?;
        if !greeting.to_ascii_uppercase().starts_with("* OK") {
            return Err(up.error(&format!("greeted with '{}'", quoted(&greeting))));
        }
        if l.server_tls == ServerTls::Starttls {
            let (_, reply) = self.command(up, "STARTTLS")?;
            if !reply.to_ascii_uppercase().starts_with("OK") {
                return Err(up.error(&format!("answered STARTTLS with '{}'", quoted(&reply))));
            }
            up.start_tls()?;
        }
        let (lines, _) = self.command(up, "CAPABILITY")?;
        self.server = capabilities(&lines).unwrap_or_default();
        Ok(())
    }

    fn greet(&mut self, client: &mut Client) -> io::Result<()> {
        client.send(&format!(
            "* OK [CAPABILITY {}] ooauth2 proxy ready\r\n",
            self.offered(client.tls())
        ))
    }

    fn turn_away(&mut self, client: &mut Client, why: &str) -> io::Result<()> {
        client.send(&format!("* BYE ooauth2 proxy: {why}\r\n"))
    }

    fn local(&mut self, client: &mut Client) -> Taken<Option<Login>> {
        loop {
            let line = client.line()?;
            let mut words = Words {
                client,
                line,
                pos: 0,
            };
            let (Some(tag), Some(verb)) = (words.atom(), words.atom()) else {
                words.client.send("* BAD Empty command\r\n")?;
                continue;
            };
            self.tag = tag.clone();
            match verb.to_ascii_uppercase().as_str() {
                "CAPABILITY" => {
                    let caps = self.offered(words.client.tls());
                    words.client.send(&format!(
                        "* CAPABILITY {caps}\r\n{tag} OK CAPABILITY completed\r\n"
                    ))?;
                }
                "NOOP" => words.client.send(&format!("{tag} OK NOOP completed\r\n"))?,
                "ID" => words
                    .client
                    .send(&format!("* ID NIL\r\n{tag} OK ID completed\r\n"))?,
                "LOGOUT" => {
                    words.client.send(&format!(
                        "* BYE Logging out\r\n{tag} OK LOGOUT completed\r\n"
                    ))?;
                    return Ok(None);
                }
                "STARTTLS" => words.client.starttls(
                    self.starttls.as_ref(),
                    &format!("{tag} OK Begin TLS negotiation now\r\n"),
                    &format!("{tag} BAD STARTTLS is not available here\r\n"),
                )?,
                "LOGIN" => {
                    if let Some(login) = login(&mut words, &tag)? {
                        return Ok(Some(login));
                    }
                }
                "AUTHENTICATE" => {
                    if let Some(login) = authenticate(&mut words, &tag)? {
                        return Ok(Some(login));
                    }
                }
                _ => words.client.send(&format!("{tag} BAD Log in first\r\n"))?,
            }
        }
    }

    fn auth(&mut self, up: &mut Upstream, mech: Mechanism, sasl: &Secret) -> Result<Auth> {
        let tag = self.tag();
        if self.has("SASL-IR") {
            // With the token in it: a copy wiped when dropped.
            let line = Zeroizing::new(format!(
                "{tag} AUTHENTICATE {} {}",
                mech.name(),
                sasl.expose()
            ));
            up.send(&line)?;
        } else {
            up.send(&format!("{tag} AUTHENTICATE {}", mech.name()))?;
            let line = up.line()?;
            if !line.starts_with('+') {
                return Ok(Auth::Refused(quoted(&line)));
            }
            up.send(sasl.expose())?;
        }
        let mut untagged = Vec::new();
        loop {
            let line = up.line()?;
            if line.starts_with('+') {
                // The error challenge: answered as the mechanism requires.
                up.send(mech.abort_answer())?;
                continue;
            }
            let Some(rest) = line.strip_prefix(&format!("{tag} ")) else {
                untagged.push(line);
                continue;
            };
            if rest.to_ascii_uppercase().starts_with("OK") {
                untagged.push(rest.to_string());
                self.reply = untagged;
                return Ok(Auth::Ok);
            }
            return Ok(Auth::Refused(quoted(rest)));
        }
    }

    fn accepted(&mut self, client: &mut Client) -> io::Result<()> {
        let mut text = String::new();
        let last = self.reply.len().saturating_sub(1);
        for (i, line) in self.reply.iter().enumerate() {
            if i == last {
                text.push_str(&format!("{} {line}\r\n", self.tag));
            } else {
                text.push_str(&format!("{line}\r\n"));
            }
        }
        client.send(&text)
    }

    fn refused(&mut self, client: &mut Client, why: &Refusal) -> io::Result<()> {
        let (code, text) = match why {
            Refusal::Denied(t) => ("AUTHENTICATIONFAILED", t),
            Refusal::Unavailable(t) => ("UNAVAILABLE", t),
        };
        client.send(&format!("{} NO [{code}] {}\r\n", self.tag, one_line(text)))
    }

    fn too_long(&mut self, client: &mut Client) -> io::Result<()> {
        client.send(&format!(
            "* BYE Line or literal too long (at most {MAX_LINE} bytes before login)\r\n"
        ))
    }
}
