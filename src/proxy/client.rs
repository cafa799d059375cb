//! The local client's socket before login: lines and literals read within
//! limits (a client that sends an endless line is cut off, not buffered),
//! answers written whole.

use super::session::Login;
use super::wire::{Sock, Wire};
use crate::secret::Secret;
use std::io;
use std::sync::Arc;

/// The longest command line taken before login: a LOGIN with two long
/// astrings, or an AUTH PLAIN with its initial response, fits many times.
pub(super) const MAX_LINE: usize = 8 * 1024;

/// The longest literal taken before login (a user name or password).
pub(super) const MAX_LITERAL: usize = 8 * 1024;

/// Why reading from the client stopped.
#[derive(Debug)]
pub(super) enum Stop {
    /// It closed the connection (or the socket failed, or timed out).
    Gone,
    /// It sent more than a limit allows.
    TooLong,
}

impl From<io::Error> for Stop {
    fn from(_: io::Error) -> Stop {
        Stop::Gone
    }
}

/// The client's connection, with what was read and not yet consumed.
pub(super) struct Client {
    pub(super) wire: Wire,
    pub(super) buf: Vec<u8>,
}

impl Client {
    /// Wraps an accepted socket.
    pub(super) fn new(sock: Sock) -> Client {
        Client {
            wire: Wire::new(sock),
            buf: Vec::new(),
        }
    }

    /// Whether the connection is under TLS.
    pub(super) fn tls(&self) -> bool {
        self.wire.tls.is_some()
    }

    /// The TLS handshake as the server; bytes the client sent before it are
    /// refused (the STARTTLS injection attack).
    pub(super) fn start_tls(&mut self, config: &Arc<rustls::ServerConfig>) -> Result<(), Stop> {
        if !self.buf.is_empty() {
            return Err(Stop::Gone);
        }
        let tls = rustls::ServerConnection::new(Arc::clone(config)).map_err(|_| Stop::Gone)?;
        self.wire.start(rustls::Connection::Server(tls))?;
        Ok(())
    }

    /// STARTTLS (or STLS) from the client: `ok` and the handshake when the
    /// listener offers it and it is not on yet, else `refused`.
    pub(super) fn starttls(
        &mut self,
        config: Option<&Arc<rustls::ServerConfig>>,
        ok: &str,
        refused: &str,
    ) -> Result<(), Stop> {
        match config {
            Some(config) if !self.tls() => {
                self.send(ok)?;
                self.start_tls(config)
            }
            _ => Ok(self.send(refused)?),
        }
    }

    /// Reads more bytes; the connection closing is [`Stop::Gone`].
    fn fill(&mut self) -> Result<(), Stop> {
        let mut chunk = [0u8; 4096];
        let n = self.wire.read(&mut chunk)?;
        if n == 0 {
            return Err(Stop::Gone);
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// One line, without its CRLF (or LF), at most [`MAX_LINE`] bytes.
    pub(super) fn line(&mut self) -> Result<Vec<u8>, Stop> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                if i > MAX_LINE {
                    return Err(Stop::TooLong);
                }
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buf.len() > MAX_LINE {
                return Err(Stop::TooLong);
            }
            self.fill()?;
        }
    }

    /// Exactly `n` bytes (an IMAP literal); more than [`MAX_LITERAL`] is refused
    /// before any is read.
    pub(super) fn bytes(&mut self, n: usize) -> Result<Vec<u8>, Stop> {
        if n > MAX_LITERAL {
            return Err(Stop::TooLong);
        }
        while self.buf.len() < n {
            self.fill()?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Sends `text` (which ends with its CRLF).
    pub(super) fn send(&mut self, text: &str) -> io::Result<()> {
        self.wire.write_all(text.as_bytes())
    }
}

/// How one protocol words the steps of a SASL exchange with the client.
pub(super) struct SaslWords<'w> {
    /// A challenge's start: `+ ` (IMAP, POP3) or `334 ` (SMTP).
    pub(super) challenge: &'w str,
    /// The line that answers a `*` (cancel).
    pub(super) cancelled: &'w str,
    /// The line that answers another mechanism than PLAIN or LOGIN.
    pub(super) unknown: &'w str,
    /// The line that answers a response that is not base64 of a login.
    pub(super) undecodable: &'w str,
}

impl Client {
    /// One command line as text, and its first word in capitals.
    pub(super) fn command(&mut self) -> Result<(String, String), Stop> {
        let line = String::from_utf8_lossy(&self.line()?).into_owned();
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        Ok((line, verb))
    }

    /// A challenge, and the client's answer; `None` when it cancelled
    /// (answered).
    fn answer(&mut self, w: &SaslWords, prompt: &str) -> Result<Option<Vec<u8>>, Stop> {
        self.send(&format!("{}{prompt}\r\n", w.challenge))?;
        let line = self.line()?;
        if line == b"*" {
            self.send(w.cancelled)?;
            return Ok(None);
        }
        Ok(Some(line))
    }

    /// A SASL PLAIN (RFC 4616) or LOGIN exchange, `initial` the response
    /// sent with the command: the login, or `None` when the client
    /// cancelled or sent what cannot be used (answered).
    pub(super) fn sasl_login(
        &mut self,
        w: &SaslWords,
        mech: &str,
        initial: Option<&str>,
    ) -> Result<Option<Login>, Stop> {
        let initial = initial.map(|i| i.as_bytes().to_vec());
        let first = |c: &mut Client, prompt: &str| match initial.clone() {
            Some(i) => Ok(Some(i)),
            None => c.answer(w, prompt),
        };
        let login = match mech.to_ascii_uppercase().as_str() {
            "PLAIN" => match first(self, "")? {
                Some(resp) => super::session::plain_login(&resp),
                None => return Ok(None),
            },
            "LOGIN" => {
                let Some(user) = first(self, "VXNlcm5hbWU6")? else {
                    return Ok(None);
                };
                let Some(pass) = self.answer(w, "UGFzc3dvcmQ6")? else {
                    return Ok(None);
                };
                let pass = Secret::new(super::session::decoded(&pass).unwrap_or_default());
                super::session::decoded(&user)
                    .filter(|u| !u.is_empty())
                    .map(|name| Login {
                        name,
                        password: pass,
                    })
            }
            _ => {
                self.send(w.unknown)?;
                return Ok(None);
            }
        };
        if login.is_none() {
            self.send(w.undecodable)?;
        }
        Ok(login)
    }
}
