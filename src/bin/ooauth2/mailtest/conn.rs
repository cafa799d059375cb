//! The connection under every dialogue: TCP to the first address that
//! answers, TLS from the first byte or after STARTTLS (system roots plus the
//! certificates of `--ca-file`), lines and literals read within limits, and
//! the transcript, in which the caller may replace what a line really said.

use super::{Report, Target, Tls, shorten};
use ooauth2::error::{Code, Error, Result};
use rustls::pki_types::ServerName;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;

/// A server line longer than this is not a mail protocol line.
const MAX_LINE: usize = 64 * 1024;

/// A TCP connection to the first address of the host that answers.
fn connect(target: &Target) -> Result<(TcpStream, SocketAddr)> {
    let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| {
            Error::new(
                Code::NetworkError,
                format!("cannot resolve {}: {e}", target.host),
            )
            .hint("check --host and the network (DNS)")
        })?
        .collect();
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, target.connect_timeout) {
            Ok(s) => {
                let timeout = Some(target.timeout);
                s.set_read_timeout(timeout)
                    .and_then(|()| s.set_write_timeout(timeout))
                    .map_err(|e| Error::new(Code::NetworkError, format!("socket set-up: {e}")))?;
                return Ok((s, *addr));
            }
            Err(e) => last = Some((addr, e)),
        }
    }
    let why = match last {
        Some((addr, e)) => format!("{addr}: {e}"),
        None => "no address".to_string(),
    };
    Err(Error::new(
        Code::NetworkError,
        format!("cannot connect to {} ({why})", target.at()),
    )
    .hint(format!(
        "check --host and --port ({} usually listens on {} with {}) and the network",
        target.service.label(),
        target.service.default_port(),
        Tls::for_port(target.service, target.service.default_port()).label()
    )))
}

/// The socket, plain or under TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    /// Between the two, while the handshake runs.
    Gone,
}

/// One connection: the stream, bytes read but not yet consumed, and where
/// the dialogue is reported.
pub(super) struct Conn<'t, 'r, 'o> {
    stream: Stream,
    buf: Vec<u8>,
    pub(super) target: &'t Target,
    pub(super) report: &'r mut Report<'o>,
    /// The TLS version once the handshake is done, for the summary.
    pub(super) tls_version: Option<String>,
}

impl<'t, 'r, 'o> Conn<'t, 'r, 'o> {
    /// Connects to `target` and reports where.
    pub(super) fn open(target: &'t Target, report: &'r mut Report<'o>) -> Result<Self> {
        let (tcp, addr) = connect(target)?;
        if addr.ip().to_string() == target.host.trim_matches(['[', ']']) {
            report.step(&format!("connect ok ({})", target.at()));
        } else {
            report.step(&format!("connect ok ({}, {addr})", target.at()));
        }
        Ok(Conn {
            stream: Stream::Plain(tcp),
            buf: Vec::new(),
            target,
            report,
            tls_version: None,
        })
    }
}

impl Conn<'_, '_, '_> {
    /// A reply this protocol does not allow, quoted (shortened) after what
    /// the server `did`.
    pub(super) fn unexpected(&self, code: Code, did: &str, reply: &str) -> Error {
        Error::new(
            code,
            format!("{} {did} '{}'", self.target.at(), shorten(reply)),
        )
    }

    /// The error of a failed read, write or handshake; a timeout says why
    /// servers are slow.
    fn io_error(&self, doing: &str, e: &std::io::Error) -> Error {
        let msg = match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => {
                return Error::new(
                    Code::NetworkError,
                    format!(
                        "{} did not answer within {} s",
                        self.target.at(),
                        self.target.timeout.as_secs_f32()
                    ),
                )
                .hint(
                    "servers slow down after failed logins; try again in a minute \
                     (OOAUTH2_HTTP_TIMEOUT sets the wait)",
                );
            }
            _ => format!("{doing} {} failed: {e}", self.target.at()),
        };
        Error::new(Code::NetworkError, msg)
    }

    /// Reads more bytes into the buffer; the connection closing is an error.
    fn fill(&mut self) -> Result<()> {
        let mut chunk = [0u8; 8192];
        let n = match &mut self.stream {
            Stream::Plain(s) => s.read(&mut chunk),
            Stream::Tls(s) => s.read(&mut chunk),
            Stream::Gone => Ok(0),
        }
        .map_err(|e| self.io_error("reading from", &e))?;
        if n == 0 {
            return Err(Error::new(
                Code::NetworkError,
                format!("{} closed the connection", self.target.at()),
            ));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// One line from the server, without its CRLF.
    pub(super) fn read_line(&mut self) -> Result<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let raw: Vec<u8> = self.buf.drain(..=i).collect();
                let line = String::from_utf8_lossy(&raw)
                    .trim_end_matches(['\r', '\n'])
                    .to_string();
                self.report.wire("S:", &line);
                return Ok(line);
            }
            if self.buf.len() > MAX_LINE {
                return Err(Error::new(
                    Code::BadResponse,
                    format!(
                        "{} sent a line longer than {MAX_LINE} bytes",
                        self.target.at()
                    ),
                ));
            }
            self.fill()?;
        }
    }

    /// Exactly `n` bytes (an IMAP literal).
    pub(super) fn read_bytes(&mut self, n: usize) -> Result<Vec<u8>> {
        while self.buf.len() < n {
            self.fill()?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Sends one line; the transcript shows `shown` instead when given.
    pub(super) fn send(&mut self, line: &str, shown: Option<&str>) -> Result<()> {
        self.report.wire("C:", shown.unwrap_or(line));
        let data = format!("{line}\r\n");
        match &mut self.stream {
            Stream::Plain(s) => s.write_all(data.as_bytes()).and_then(|()| s.flush()),
            Stream::Tls(s) => s.write_all(data.as_bytes()).and_then(|()| s.flush()),
            Stream::Gone => Ok(()),
        }
        .map_err(|e| self.io_error("writing to", &e))
    }

    /// The TLS handshake on the plain stream; reports the version.
    pub(super) fn start_tls(&mut self, config: &Arc<rustls::ClientConfig>) -> Result<()> {
        // Bytes the server sent before the handshake would be read as if they
        // came over TLS (the STARTTLS command injection attack): refuse.
        if !self.buf.is_empty() {
            return Err(Error::new(
                Code::BadResponse,
                format!(
                    "{} sent data before the TLS handshake; refusing to go on",
                    self.target.at()
                ),
            ));
        }
        let Stream::Plain(mut tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return Err(Error::new(Code::BadResponse, "TLS is already on"));
        };
        let host = &self.target.host;
        let name = ServerName::try_from(host.clone())
            .map_err(|_| Error::invalid(format!("--host '{host}' is not a valid host name")))?;
        let mut tls = rustls::ClientConnection::new(Arc::clone(config), name)
            .map_err(|e| Error::new(Code::NetworkError, format!("TLS set-up failed: {e}")))?;
        while tls.is_handshaking() {
            if let Err(e) = tls.complete_io(&mut tcp) {
                return Err(self.handshake_error(&e));
            }
        }
        let version = tls
            .protocol_version()
            .map(|v| format!("{v:?}").replace('_', "."))
            .unwrap_or_else(|| "TLS".into());
        self.report.step(&format!(
            "tls ok ({version}, {}, certificate for {host})",
            self.target.tls.label()
        ));
        self.tls_version = Some(version);
        self.stream = Stream::Tls(Box::new(rustls::StreamOwned::new(tls, tcp)));
        Ok(())
    }

    /// A failed handshake, with a hint for the two usual causes: the other
    /// kind of TLS on that port, and a certificate not trusted for the host.
    fn handshake_error(&self, e: &std::io::Error) -> Error {
        let err = self.io_error("the TLS handshake with", e);
        if err.message.contains("corrupt message") {
            let other = match self.target.tls {
                Tls::Implicit => "STARTTLS",
                Tls::Starttls => "implicit TLS",
            };
            err.hint(format!(
                "the server did not answer with TLS: check --port and --tls ({other} there?)"
            ))
        } else if err.message.contains("certificate") {
            err.hint(format!(
                "the server's certificate is not trusted for {}: check --host; \
                 for a private CA or a self-signed certificate pass it with --ca-file FILE.pem",
                self.target.host
            ))
        } else {
            err
        }
    }
}
