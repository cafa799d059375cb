//! A socket of either side, plain or under TLS (a client session to the
//! server, a server session to a local client that asked for TLS): blocking
//! reads and writes for the dialogue before login, and one readiness
//! event's worth of bytes for the pump. The TLS state stays apart from the
//! socket so that the pump can poll the socket.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;

/// One read's worth.
pub(super) const CHUNK: usize = 16 * 1024;

/// A socket and its TLS session, once started.
pub(super) struct Wire {
    pub(super) tcp: TcpStream,
    pub(super) tls: Option<rustls::Connection>,
}

impl Wire {
    /// A plain socket.
    pub(super) fn new(tcp: TcpStream) -> Wire {
        Wire { tcp, tls: None }
    }

    /// The TLS handshake of `tls` on the plain socket.
    pub(super) fn start(&mut self, mut tls: rustls::Connection) -> io::Result<()> {
        while tls.is_handshaking() {
            tls.complete_io(&mut self.tcp)?;
        }
        self.tls = Some(tls);
        Ok(())
    }

    /// Reads some plain text, blocking; 0 at the end.
    pub(super) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = &mut self.tls else {
            return self.tcp.read(buf);
        };
        loop {
            match tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            if tls.read_tls(&mut self.tcp)? == 0 {
                return Ok(0);
            }
            tls.process_new_packets()
                .map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
            flush_tls(tls, &mut self.tcp)?;
        }
    }

    /// Writes all of `data`.
    pub(super) fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        let Some(tls) = &mut self.tls else {
            self.tcp.write_all(data)?;
            return self.tcp.flush();
        };
        tls.writer().write_all(data)?;
        flush_tls(tls, &mut self.tcp)
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
            let n = self.tcp.read(&mut chunk)?;
            if n > 0 {
                out(&chunk[..n])?;
            }
            return Ok(n > 0);
        };
        let mut open = true;
        if from_socket {
            open = tls.read_tls(&mut self.tcp)? > 0;
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
        flush_tls(tls, &mut self.tcp)?;
        Ok(open)
    }

    /// Says goodbye (TLS close_notify) and closes the socket.
    pub(super) fn close(&mut self) {
        if let Some(tls) = &mut self.tls {
            tls.send_close_notify();
            let _ = flush_tls(tls, &mut self.tcp);
        }
        let _ = self.tcp.shutdown(std::net::Shutdown::Both);
    }
}

/// Sends what the TLS session has to send (records, alerts, key updates).
fn flush_tls(tls: &mut rustls::Connection, tcp: &mut TcpStream) -> io::Result<()> {
    while tls.wants_write() {
        tls.write_tls(tcp)?;
    }
    Ok(())
}
