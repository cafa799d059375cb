//! The connection to the real mail server: TCP to the first address that
//! answers, TLS from the first byte or after the dialect's STARTTLS (the
//! verifier of [`crate::tls`]), and bounded line reading before login. The
//! TLS state and the socket stay apart so that the pump can poll the socket.

use super::wire::{Sock, Wire};
use crate::config::{Listener, ServerTls};
use crate::error::{Code, Error, Result, shorten};
use rustls::pki_types::ServerName;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroizing;

/// A server line longer than this is not a mail protocol line.
const MAX_LINE: usize = 64 * 1024;

/// The server's connection.
pub(super) struct Upstream {
    pub(super) wire: Wire,
    /// Plain text read and not yet consumed.
    pub(super) buf: Vec<u8>,
    /// `host:port`, for messages.
    pub(super) at: String,
    host: String,
    /// The listener's TLS configuration, made once when it starts.
    config: Arc<rustls::ClientConfig>,
}

impl Upstream {
    /// Connects to the listener's server; with implicit TLS, the handshake too.
    pub(super) fn connect(
        l: &Listener,
        config: &Arc<rustls::ClientConfig>,
        timeout: Duration,
    ) -> Result<Upstream> {
        let at = l.server();
        let addrs: Vec<SocketAddr> = (l.server_host.as_str(), l.server_port)
            .to_socket_addrs()
            .map_err(|e| Error::new(Code::NetworkError, format!("cannot resolve {at}: {e}")))?
            .collect();
        let mut last = String::from("no address");
        for addr in &addrs {
            match TcpStream::connect_timeout(addr, timeout) {
                Ok(tcp) => {
                    tcp.set_read_timeout(Some(timeout))
                        .and_then(|()| tcp.set_write_timeout(Some(timeout)))
                        .map_err(|e| Error::new(Code::NetworkError, format!("socket: {e}")))?;
                    let _ = tcp.set_nodelay(true);
                    let mut up = Upstream {
                        wire: Wire::new(Sock::Tcp(tcp)),
                        buf: Vec::new(),
                        at,
                        host: l.server_host.clone(),
                        config: Arc::clone(config),
                    };
                    if l.server_tls == ServerTls::Implicit {
                        up.start_tls()?;
                    }
                    return Ok(up);
                }
                Err(e) => last = format!("{addr}: {e}"),
            }
        }
        Err(Error::new(
            Code::NetworkError,
            format!("cannot connect to {at} ({last})"),
        ))
    }

    /// The TLS handshake on the plain socket.
    pub(super) fn start_tls(&mut self) -> Result<()> {
        // Bytes sent before the handshake would pass for TLS-protected
        // ones (the STARTTLS injection attack): refuse.
        if !self.buf.is_empty() {
            return Err(self.error("sent data before the TLS handshake"));
        }
        let name = ServerName::try_from(self.host.clone())
            .map_err(|_| Error::invalid(format!("'{}' is not a valid host name", self.host)))?;
        let tls = rustls::ClientConnection::new(Arc::clone(&self.config), name)
            .map_err(|e| Error::new(Code::NetworkError, format!("TLS set-up failed: {e}")))?;
        self.wire
            .start(rustls::Connection::Client(tls))
            .map_err(|e| {
                Error::new(
                    Code::NetworkError,
                    format!("the TLS handshake with {} failed: {e}", self.at),
                )
            })
    }

    /// An error about what the server did.
    pub(super) fn error(&self, what: &str) -> Error {
        Error::new(Code::BadResponse, format!("{} {what}", self.at))
    }

    /// Reads more plain text.
    fn fill(&mut self) -> Result<()> {
        let mut chunk = [0u8; 8192];
        let n = self.wire.read(&mut chunk).map_err(|e| {
            Error::new(Code::NetworkError, format!("reading from {}: {e}", self.at))
        })?;
        if n == 0 {
            return Err(Error::new(
                Code::NetworkError,
                format!("{} closed the connection", self.at),
            ));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// One line from the server, without its CRLF.
    pub(super) fn line(&mut self) -> Result<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let raw: Vec<u8> = self.buf.drain(..=i).collect();
                return Ok(String::from_utf8_lossy(&raw)
                    .trim_end_matches(['\r', '\n'])
                    .to_string());
            }
            if self.buf.len() > MAX_LINE {
                return Err(self.error(&format!("sent a line longer than {MAX_LINE} bytes")));
            }
            self.fill()?;
        }
    }

    /// Sends one line (the CRLF is added). The line may carry a token
    /// (an AUTHENTICATE's answer): its copy is overwritten when dropped.
    pub(super) fn send(&mut self, line: &str) -> Result<()> {
        let mut data = Zeroizing::new(String::with_capacity(line.len() + 2));
        data.push_str(line);
        data.push_str("\r\n");
        self.wire
            .write_all(data.as_bytes())
            .map_err(|e| Error::new(Code::NetworkError, format!("writing to {}: {e}", self.at)))
    }
}

/// A server's reply cut to a length a message can hold.
pub(super) fn quoted(reply: &str) -> String {
    shorten(reply, 200)
}
