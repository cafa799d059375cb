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

/// The size of each of the pump's two buffers per connection.
const ROOM: usize = 64 * 1024;

/// The pump's buffers, made once per connection as it starts pumping:
/// plain text gathered for the other side, and what one read of a TLS
/// socket gave. A TLS session reads its socket 4 KiB at a time; reading
/// 64 KiB here and feeding the session from memory makes a 20 MB FETCH
/// some 300 reads instead of 5,000.
pub(super) struct Room {
    plain: Vec<u8>,
    sealed: Vec<u8>,
}

impl Room {
    /// Both buffers, zeroed.
    pub(super) fn new() -> Room {
        Room {
            plain: vec![0; ROOM],
            sealed: vec![0; ROOM],
        }
    }
}

/// The most one side hands on in one turn of the pump before the other
/// direction is looked at: a 20 MB FETCH must not hold up the client's
/// next command, nor starve an IDLE's DONE.
const TURN: usize = 256 * 1024;

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
        // The session takes what its send buffer has room for (64 KiB by
        // default); what it took goes out before the rest is offered.
        let mut rest = data;
        while !rest.is_empty() {
            let n = tls.writer().write(rest)?;
            flush_tls(tls, &mut self.sock)?;
            rest = &rest[n..];
        }
        Ok(())
    }

    /// For the pump: takes in what the socket has without waiting (with
    /// `from_socket`, after poll(2) said it is readable), up to a turn's
    /// worth, and hands every byte of plain text to `out` in pieces of up
    /// to [`ROOM`]. `false` once this side has closed.
    pub(super) fn pull(
        &mut self,
        from_socket: bool,
        room: &mut Room,
        out: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<bool> {
        match &mut self.tls {
            None => pull_plain(&self.sock, from_socket, &mut room.plain, out),
            Some(tls) => pull_tls(tls, &mut self.sock, from_socket, room, out),
        }
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

/// A plain socket's bytes, read without waiting until it has no more or
/// the turn is over; `false` once the peer closed.
fn pull_plain(
    sock: &Sock,
    from_socket: bool,
    room: &mut [u8],
    out: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<bool> {
    let mut taken = 0;
    while from_socket && taken < TURN {
        match (NoWait(sock)).read(room) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                taken += n;
                out(&room[..n])?;
                if n < room.len() {
                    // A short read emptied the socket: no second read only
                    // to hear EAGAIN (poll(2) tells of what comes next).
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// A TLS session's plain text: what it holds, then what the socket has,
/// read without waiting until it has no more or the turn is over and fed
/// to the session from memory, the plain text gathered so that a FETCH
/// reaches the client in few large writes. `false` once the peer closed.
fn pull_tls(
    tls: &mut rustls::Connection,
    sock: &mut Sock,
    from_socket: bool,
    room: &mut Room,
    out: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<bool> {
    let (mut open, mut taken, mut filled) = (true, 0, 0);
    open &= drain(tls, &mut room.plain, &mut filled, out)?;
    while from_socket && open && taken < TURN {
        let n = match NoWait(sock).read(&mut room.sealed) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        taken += n;
        open = n > 0;
        // A short read emptied the socket (see pull_plain).
        let emptied = n < room.sealed.len();
        // An empty read tells the session the socket has closed.
        let mut sealed = &room.sealed[..n];
        loop {
            tls.read_tls(&mut sealed)?;
            tls.process_new_packets()
                .map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
            open &= drain(tls, &mut room.plain, &mut filled, out)?;
            if sealed.is_empty() {
                break;
            }
        }
        if emptied {
            break;
        }
    }
    if filled > 0 {
        out(&room.plain[..filled])?;
    }
    flush_tls(tls, sock)?;
    Ok(open)
}

/// Moves the session's plain text into `room` after its first `filled`
/// bytes, handing `room` on each time it is full; `false` once the peer
/// has closed (with close_notify or without).
fn drain(
    tls: &mut rustls::Connection,
    room: &mut [u8],
    filled: &mut usize,
    out: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<bool> {
    loop {
        match tls.reader().read(&mut room[*filled..]) {
            Ok(0) => return Ok(false),
            Ok(n) => *filled += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(false),
            Err(e) => return Err(e),
        }
        if *filled == room.len() {
            out(room)?;
            *filled = 0;
        }
    }
}

/// A read of a socket that never waits: `WouldBlock` when it has nothing,
/// whatever the socket's own blocking mode (the dialogue before login
/// wants blocking reads, the pump must not block on a second read).
struct NoWait<'a>(&'a Sock);

impl Read for NoWait<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (n, _) = rustix::net::recv(self.0, buf, rustix::net::RecvFlags::DONTWAIT)?;
        Ok(n)
    }
}
