//! SMTP (RFC 5321, 4954, 3207): the client's EHLO is answered with the
//! server's extensions, STARTTLS and the server's AUTH taken out and
//! `AUTH PLAIN LOGIN` put in; the client logs in with AUTH PLAIN or AUTH
//! LOGIN; the server is logged in to with `AUTH XOAUTH2` (or OAUTHBEARER),
//! the token sent after the `334` (Dovecot refuses command lines over
//! 1026 bytes, and a Microsoft token is longer).

use super::client::{Client, MAX_LINE, SaslWords, Stop};
use super::session::{Auth, Dialect, Login, Refusal};
use super::upstream::{Upstream, quoted};
use crate::config::{Listener, Mechanism, ServerTls};
use crate::error::Result;
use crate::secret::Secret;
use std::io;
use std::sync::Arc;

/// The SMTP dialect's state.
#[derive(Default)]
pub(crate) struct Smtp {
    /// The server's EHLO extensions, rewritten for the client.
    extensions: Vec<String>,
    /// Local TLS the client may start with STARTTLS.
    starttls: Option<Arc<rustls::ServerConfig>>,
    /// Whether logins wait for STARTTLS (a listener with local passwords:
    /// they must not cross the network in the clear).
    tls_first: bool,
}

/// A reply: its code and its lines' texts.
fn reply(up: &mut Upstream) -> Result<(u16, Vec<String>)> {
    let mut texts = Vec::new();
    loop {
        let line = up.line()?;
        let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
        let Some(code) = code else {
            return Err(up.error(&format!("answered '{}', not an SMTP reply", quoted(&line))));
        };
        texts.push(line.get(4..).unwrap_or_default().to_string());
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok((code, texts));
        }
    }
}

/// A reply that must have `code`.
fn expect(up: &mut Upstream, code: u16, after: &str) -> Result<Vec<String>> {
    let (got, texts) = reply(up)?;
    if got != code {
        let text = texts.join(" ");
        return Err(up.error(&format!("answered {after} with '{got} {}'", quoted(&text))));
    }
    Ok(texts)
}

impl Smtp {
    /// The extensions offered to the client: the server's, without what
    /// only the proxy may use, with the logins the proxy takes.
    fn rewrite(&mut self, server: &[String]) {
        self.extensions = server
            .iter()
            .skip(1)
            .filter(|e| {
                let word = e.split_whitespace().next().unwrap_or_default();
                !["STARTTLS", "AUTH"]
                    .iter()
                    .any(|w| word.eq_ignore_ascii_case(w))
            })
            .cloned()
            .collect();
        self.extensions.push("AUTH PLAIN LOGIN".into());
    }

    /// The answer to EHLO (STARTTLS offered when the client may start TLS,
    /// `tls` saying whether it did).
    fn ehlo(&self, tls: bool) -> String {
        let mut text = String::from("250-localhost\r\n");
        let starttls = (self.starttls.is_some() && !tls).then(|| "STARTTLS".to_string());
        let hide_auth = self.tls_first && !tls;
        let all: Vec<&String> = starttls
            .iter()
            .chain(&self.extensions)
            .filter(|e| !(hide_auth && e.to_ascii_uppercase().starts_with("AUTH ")))
            .collect();
        let last = all.len().saturating_sub(1);
        for (i, e) in all.into_iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            text.push_str(&format!("250{sep}{e}\r\n"));
        }
        text
    }
}

/// SMTP's words in a SASL exchange (RFC 4954).
const SASL: SaslWords = SaslWords {
    challenge: "334 ",
    cancelled: "501 5.7.0 Authentication cancelled\r\n",
    unknown: "504 5.5.4 Only AUTH PLAIN and AUTH LOGIN are offered\r\n",
    undecodable: "501 5.5.2 Cannot decode the response\r\n",
};

impl Smtp {
    /// The dialect, `starttls` the local TLS a client may start.
    pub(super) fn new(starttls: Option<Arc<rustls::ServerConfig>>, tls_first: bool) -> Smtp {
        Smtp {
            starttls,
            tls_first,
            ..Smtp::default()
        }
    }
}

impl Dialect for Smtp {
    fn open(&mut self, up: &mut Upstream, l: &Listener) -> Result<()> {
        if l.server_tls == ServerTls::Starttls {
            expect(up, 220, "the connection")?;
            up.send("EHLO localhost")?;
            expect(up, 250, "EHLO")?;
            up.send("STARTTLS")?;
            expect(up, 220, "STARTTLS")?;
            up.start_tls()?;
        } else {
            expect(up, 220, "the connection")?;
        }
        up.send("EHLO localhost")?;
        let server = expect(up, 250, "EHLO")?;
        self.rewrite(&server);
        Ok(())
    }

    fn greet(&mut self, client: &mut Client) -> io::Result<()> {
        if self.extensions.is_empty() {
            self.extensions.push("AUTH PLAIN LOGIN".into());
        }
        client.send("220 localhost ESMTP ooauth2 proxy\r\n")
    }

    fn turn_away(&mut self, client: &mut Client, why: &str) -> io::Result<()> {
        client.send(&format!("554 5.7.1 ooauth2 proxy: {why}\r\n"))
    }

    fn local(&mut self, client: &mut Client) -> std::result::Result<Option<Login>, Stop> {
        loop {
            let (line, verb) = client.command()?;
            let words: Vec<&str> = line.split_whitespace().collect();
            match verb.as_str() {
                "EHLO" => client.send(&self.ehlo(client.tls()))?,
                "HELO" => client.send("250 localhost\r\n")?,
                "NOOP" | "RSET" => client.send("250 2.0.0 OK\r\n")?,
                "QUIT" => {
                    client.send("221 2.0.0 Bye\r\n")?;
                    return Ok(None);
                }
                "STARTTLS" => client.starttls(
                    self.starttls.as_ref(),
                    "220 2.0.0 Ready to start TLS\r\n",
                    "454 4.7.0 TLS is not available here\r\n",
                )?,
                "AUTH" => {
                    let mech = words.get(1).copied().unwrap_or_default();
                    if let Some(login) = client.sasl_login(&SASL, mech, words.get(2).copied())? {
                        return Ok(Some(login));
                    }
                }
                _ => client.send("530 5.7.0 Authentication required\r\n")?,
            }
        }
    }

    fn auth(&mut self, up: &mut Upstream, mech: Mechanism, sasl: &Secret) -> Result<Auth> {
        up.send(&format!("AUTH {}", mech.name()))?;
        let (code, texts) = reply(up)?;
        if code != 334 {
            return Ok(Auth::Refused(format!("{code} {}", texts.join(" "))));
        }
        up.send(sasl.expose())?;
        let (mut code, mut texts) = reply(up)?;
        if code == 334 {
            // The error challenge (base64 JSON): answered as the mechanism
            // requires, then the final reply.
            up.send(mech.abort_answer())?;
            (code, texts) = reply(up)?;
        }
        Ok(if code == 235 {
            Auth::Ok
        } else {
            Auth::Refused(quoted(&format!("{code} {}", texts.join(" "))))
        })
    }

    fn accepted(&mut self, client: &mut Client) -> io::Result<()> {
        client.send("235 2.7.0 Authentication successful\r\n")
    }

    fn refused(&mut self, client: &mut Client, why: &Refusal) -> io::Result<()> {
        let (Refusal::Denied(text) | Refusal::Unavailable(text)) = why;
        client.send(&format!("535 5.7.8 {}\r\n", one_line(text)))
    }

    fn too_long(&mut self, client: &mut Client) -> io::Result<()> {
        client.send(&format!(
            "500 5.5.6 Line too long (at most {MAX_LINE} bytes before login)\r\n"
        ))
    }
}

/// `text` on one line of at most 400 bytes, for a reply.
pub(super) fn one_line(text: &str) -> String {
    crate::error::shorten(&crate::error::one_line(text), 400)
}
