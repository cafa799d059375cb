//! The local client's socket before login: lines and literals read within
//! limits (a client that sends an endless line is cut off, not buffered),
//! answers written whole.

use std::io::{self, Read, Write};
use std::net::TcpStream;

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
    pub(super) tcp: TcpStream,
    pub(super) buf: Vec<u8>,
}

impl Client {
    /// Wraps an accepted socket.
    pub(super) fn new(tcp: TcpStream) -> Client {
        Client {
            tcp,
            buf: Vec::new(),
        }
    }

    /// Reads more bytes; the connection closing is [`Stop::Gone`].
    fn fill(&mut self) -> Result<(), Stop> {
        let mut chunk = [0u8; 4096];
        let n = self.tcp.read(&mut chunk)?;
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
        self.tcp.write_all(text.as_bytes())?;
        self.tcp.flush()
    }
}
