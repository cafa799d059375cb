//! A socket of either side, plain or under TLS (a client session to the
//! server, a server session to a local client that asked for TLS): blocking
//! reads and writes for the dialogue before login, and one readiness
//! event's worth of bytes for the pump. The TLS state stays apart from the
//! socket so that the pump can poll the socket. A local client's socket is
//! TCP or, on a `unix:` listener, a Unix stream socket ([`Sock`]).

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// One read's worth.
pub(super) const CHUNK: usize = 16 * 1024;

/// A connected stream socket of either family.
pub enum Sock {
    /// TCP (the server side, and a local client on a TCP listener).
    Tcp(TcpStream),
    /// A local client on a `unix:` listener.
    Unix(UnixStream),
}

impl Sock {
    /// Bounds each blocking read.
    pub(super) fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => s.set_read_timeout(t),
            Sock::Unix(s) => s.set_read_timeout(t),
        }
    }

    /// Bounds each blocking write.
    pub(super) fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => s.set_write_timeout(t),
            Sock::Unix(s) => s.set_write_timeout(t),
        }
    }

    /// No Nagle delay on TCP (a Unix socket has none).
    pub(super) fn set_nodelay(&self) {
        if let Sock::Tcp(s) = self {
            let _ = s.set_nodelay(true);
        }
    }

    /// The other end's IP address (a TCP peer's), for the password guard.
    pub(super) fn peer_ip(&self) -> Option<std::net::IpAddr> {
        match self {
            Sock::Tcp(s) => s.peer_addr().ok().map(|a| a.ip()),
            Sock::Unix(_) => None,
        }
    }

    /// The other end, for log lines: its address, or `unix` for a Unix
    /// socket's client (which has no name).
    pub(super) fn peer_name(&self) -> String {
        match self {
            Sock::Tcp(s) => s.peer_addr().map_or_else(|_| "?".into(), |a| a.to_string()),
            Sock::Unix(_) => "unix".into(),
        }
    }

    /// Closes both directions.
    pub(super) fn shutdown(&self) {
        let _ = match self {
            Sock::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
            Sock::Unix(s) => s.shutdown(std::net::Shutdown::Both),
        };
    }
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.read(buf),
            Sock::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.write(buf),
            Sock::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => s.flush(),
            Sock::Unix(s) => s.flush(),
        }
    }
}

impl AsFd for Sock {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Sock::Tcp(s) => s.as_fd(),
            Sock::Unix(s) => s.as_fd(),
        }
    }
}

/// A socket and its TLS session, once started.
pub(super) struct Wire {
    pub(super) sock: Sock,
    pub(super) tls: Option<rustls::Connection>,
}

impl Wire {
    /// A plain socket.
    pub(super) fn new(sock: Sock) -> Wire {
        Wire { sock, tls: None }
    }

    /// The TLS handshake of `tls` on the plain socket.
    pub(super) fn start(&mut self, mut tls: rustls::Connection) -> io::Result<()> {
        while tls.is_handshaking() {
            tls.complete_io(&mut self.sock)?;
        }
        self.tls = Some(tls);
        Ok(())
    }

    /// Reads some plain text, blocking; 0 at the end.
    pub(super) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = &mut self.tls else {
            return self.sock.read(buf);
        };
        loop {
            match tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            if tls.read_tls(&mut self.sock)? == 0 {
                return Ok(0);
            }
            tls.process_new_packets()
                .map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
            flush_tls(tls, &mut self.sock)?;
        }
    }

    /// Writes all of `data`.
    pub(super) fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        let Some(tls) = &mut self.tls else {
            self.sock.write_all(data)?;
            return self.sock.flush();
        };
        tls.writer().write_all(data)?;
        flush_tls(tls, &mut self.sock)
    }

    /// For the pump: takes in what the socket has (with `from_socket`; a
    /// socket poll(2) said is readable does not block), and hands every
    /// byte of plain text to `out`. `false` once this side has closed.
    pub(super) fn pull(
        &mut self,
        from_socket: bool,
        out: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<bool> {
        let mut chunk = vec![0u8; CHUNK];
        let Some(tls) = &mut self.tls else {
            if !from_socket {
                return Ok(true);
            }
            let n = self.sock.read(&mut chunk)?;
            if n > 0 {
                out(&chunk[..n])?;
            }
            return Ok(n > 0);
        };
        let mut open = true;
        if from_socket {
            open = tls.read_tls(&mut self.sock)? > 0;
            tls.process_new_packets()
                .map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
        }
        loop {
            match tls.reader().read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => out(&chunk[..n])?,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                // Closed without close_notify: gone all the same.
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        flush_tls(tls, &mut self.sock)?;
        Ok(open)
    }

    /// Says goodbye (TLS close_notify) and closes the socket.
    pub(super) fn close(&mut self) {
        if let Some(tls) = &mut self.tls {
            tls.send_close_notify();
            let _ = flush_tls(tls, &mut self.sock);
        }
        self.sock.shutdown();
    }
}

/// Sends what the TLS session has to send (records, alerts, key updates).
fn flush_tls(tls: &mut rustls::Connection, sock: &mut Sock) -> io::Result<()> {
    while tls.wants_write() {
        tls.write_tls(sock)?;
    }
    Ok(())
}
