//! POP3 (RFC 1939, 2449, 5034): before login the client may ask for CAPA
//! (the server's, with STLS and its SASL taken out and `USER` and `SASL
//! PLAIN` put in) and logs in with `USER` + `PASS` or `AUTH PLAIN`; the
//! server is logged in to with `AUTH XOAUTH2` (or OAUTHBEARER), the token
//! sent after the `+`, and its `+OK` goes to the client.

use super::client::{Client, MAX_LINE, SaslWords, Stop};
use super::session::{Auth, Dialect, Login, Refusal};
use super::smtp::one_line;
use super::upstream::{Upstream, quoted};
use crate::config::{Listener, Mechanism, ServerTls};
use crate::error::Result;
use crate::secret::Secret;
use std::io;
use std::sync::Arc;

type Taken<T> = std::result::Result<T, Stop>;

/// The POP3 dialect's state.
#[derive(Default)]
pub(crate) struct Pop {
    /// The capabilities offered to the client.
    capa: Vec<String>,
    /// The server's `+OK` to the login.
    reply: String,
    /// Local TLS the client may start with STLS.
    starttls: Option<Arc<rustls::ServerConfig>>,
    /// Whether logins wait for STARTTLS (a listener with local passwords:
    /// they must not cross the network in the clear).
    tls_first: bool,
}

/// POP3's words in a SASL exchange (RFC 5034).
const SASL: SaslWords = SaslWords {
    challenge: "+ ",
    cancelled: "-ERR AUTH cancelled\r\n",
    unknown: "-ERR Only AUTH PLAIN is offered\r\n",
    undecodable: "-ERR Cannot decode the response\r\n",
};

impl Pop {
    /// The dialect, `starttls` the local TLS a client may start.
    pub(super) fn new(starttls: Option<Arc<rustls::ServerConfig>>, tls_first: bool) -> Pop {
        Pop {
            starttls,
            tls_first,
            ..Pop::default()
        }
    }
}

impl Pop {
    /// The answer to CAPA; before STLS on a listener that wants it first,
    /// without the logins.
    fn capa_list(&self, tls: bool) -> String {
        let mut text = String::from("+OK Capability list follows\r\n");
        let hide_login = self.tls_first && !tls;
        for c in &self.capa {
            if !(hide_login && (c == "USER" || c.starts_with("SASL"))) {
                text.push_str(&format!("{c}\r\n"));
            }
        }
        if self.starttls.is_some() && !tls {
            text.push_str("STLS\r\n");
        }
        text.push_str(".\r\n");
        text
    }
}

impl Dialect for Pop {
    fn open(&mut self, up: &mut Upstream, l: &Listener) -> Result<()> {
        let ok = |up: &mut Upstream, after: &str| -> Result<String> {
            let line = up.line()?;
            if line.starts_with("+OK") {
                Ok(line)
            } else {
                Err(up.error(&format!("answered {after} with '{}'", quoted(&line))))
            }
        };
        ok(up, "the connection")?;
        if l.server_tls == ServerTls::Starttls {
            up.send("STLS")?;
            ok(up, "STLS")?;
            up.start_tls()?;
        }
        up.send("CAPA")?;
        ok(up, "CAPA")?;
        loop {
            let line = up.line()?;
            if line == "." {
                break;
            }
            let word = line
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            if !["STLS", "SASL", "USER"].contains(&word.as_str()) {
                self.capa.push(line);
            }
        }
        Ok(())
    }

    fn greet(&mut self, client: &mut Client) -> io::Result<()> {
        self.capa
            .extend(["USER".to_string(), "SASL PLAIN".to_string()]);
        client.send("+OK ooauth2 proxy ready\r\n")
    }

    fn turn_away(&mut self, client: &mut Client, why: &str) -> io::Result<()> {
        client.send(&format!("-ERR ooauth2 proxy: {why}\r\n"))
    }

    fn local(&mut self, client: &mut Client) -> Taken<Option<Login>> {
        let mut user: Option<String> = None;
        loop {
            let (line, verb) = client.command()?;
            let words: Vec<&str> = line.split_whitespace().collect();
            match verb.as_str() {
                "CAPA" => client.send(&self.capa_list(client.tls()))?,
                "USER" if words.len() > 1 => {
                    // The name is the rest of the line: it may hold spaces.
                    user = Some(line[4..].trim().to_string());
                    client.send("+OK\r\n")?;
                }
                "PASS" => match user.take() {
                    // The password is the rest of the line (RFC 1939: it
                    // may hold spaces).
                    Some(name) => {
                        let pass = line.get(5..).unwrap_or_default();
                        return Ok(Some(Login {
                            name,
                            password: Secret::new(pass),
                        }));
                    }
                    None => client.send("-ERR USER first\r\n")?,
                },
                // RFC 5034: AUTH alone lists the mechanisms.
                "AUTH" if words.len() == 1 => client.send("+OK\r\nPLAIN\r\n.\r\n")?,
                "AUTH" => {
                    if let Some(login) =
                        client.sasl_login(&SASL, words[1], words.get(2).copied())?
                    {
                        return Ok(Some(login));
                    }
                }
                "NOOP" => client.send("+OK\r\n")?,
                "QUIT" => {
                    client.send("+OK Bye\r\n")?;
                    return Ok(None);
                }
                "STLS" => client.starttls(
                    self.starttls.as_ref(),
                    "+OK Begin TLS negotiation\r\n",
                    "-ERR STLS is not available here\r\n",
                )?,
                _ => client.send("-ERR Log in first\r\n")?,
            }
        }
    }

    fn auth(&mut self, up: &mut Upstream, mech: Mechanism, sasl: &Secret) -> Result<Auth> {
        up.send(&format!("AUTH {}", mech.name()))?;
        let line = up.line()?;
        if !line.starts_with('+') || line.starts_with("+OK") {
            return Ok(Auth::Refused(quoted(&line)));
        }
        up.send(sasl.expose())?;
        let mut line = up.line()?;
        if line.starts_with("+ ") || line == "+" {
            up.send(mech.abort_answer())?;
            line = up.line()?;
        }
        if line.starts_with("+OK") {
            self.reply = line;
            Ok(Auth::Ok)
        } else {
            Ok(Auth::Refused(quoted(&line)))
        }
    }

    fn accepted(&mut self, client: &mut Client) -> io::Result<()> {
        client.send(&format!("{}\r\n", self.reply))
    }

    fn refused(&mut self, client: &mut Client, why: &Refusal) -> io::Result<()> {
        let (code, text) = match why {
            Refusal::Denied(t) => ("AUTH", t),
            Refusal::Unavailable(t) => ("SYS/TEMP", t),
        };
        client.send(&format!("-ERR [{code}] {}\r\n", one_line(text)))
    }

    fn too_long(&mut self, client: &mut Client) -> io::Result<()> {
        client.send(&format!(
            "-ERR Line too long (at most {MAX_LINE} bytes before login)\r\n"
        ))
    }
}
