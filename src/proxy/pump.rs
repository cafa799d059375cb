//! After login, the proxy only copies bytes: client to server through the
//! TLS session, server to client out of it, in 16 KiB pieces (a 20 MB
//! FETCH or APPEND is streamed, never held whole), one poll(2) over both
//! sockets in the connection's own thread. A slow reader slows the other
//! side down (writes block): flow control, not a buffer that grows.

use super::client::Client;
use super::upstream::Upstream;
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use std::io::{self, ErrorKind, Read, Write};
use std::net::Shutdown;
use std::time::Duration;

/// One read's worth.
const CHUNK: usize = 16 * 1024;

/// What went through, for the log line.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Counts {
    /// Bytes from the client to the server.
    pub(super) up: u64,
    /// Bytes from the server to the client.
    pub(super) down: u64,
}

/// Why the pump stopped.
pub(super) enum End {
    /// The client closed.
    Client,
    /// The server closed.
    Server,
    /// Nothing moved for the idle limit.
    Idle,
    /// A socket or the TLS session failed.
    Failed(String),
}

/// Copies bytes both ways until one side closes, fails or idles out.
pub(super) fn run(client: &mut Client, up: &mut Upstream, idle: Duration) -> (End, Counts) {
    let mut counts = Counts::default();
    let end = pump(client, up, idle, &mut counts).unwrap_or_else(|e| End::Failed(e.to_string()));
    let _ = client.tcp.shutdown(Shutdown::Both);
    if let Some(tls) = &mut up.tls {
        tls.send_close_notify();
        let _ = tls.write_tls(&mut up.tcp);
    }
    let _ = up.tcp.shutdown(Shutdown::Both);
    (end, counts)
}

fn pump(client: &mut Client, up: &mut Upstream, idle: Duration, c: &mut Counts) -> io::Result<End> {
    // What either side sent along with its login reply goes first.
    let early = std::mem::take(&mut client.buf);
    if !early.is_empty() {
        to_server(up, &early)?;
        c.up += early.len() as u64;
    }
    let early = std::mem::take(&mut up.buf);
    client.tcp.write_all(&early)?;
    c.down += early.len() as u64;
    if let Some(end) = from_tls(client, up, c)? {
        return Ok(end);
    }
    let timeout = Timespec {
        tv_sec: idle.as_secs().try_into().unwrap_or(i64::MAX),
        tv_nsec: 0,
    };
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let (from_client, from_server) = {
            let mut fds = [
                PollFd::new(&client.tcp, PollFlags::IN),
                PollFd::new(&up.tcp, PollFlags::IN),
            ];
            if poll(&mut fds, Some(&timeout))? == 0 {
                return Ok(End::Idle);
            }
            let ready = |f: &PollFd| !f.revents().is_empty();
            (ready(&fds[0]), ready(&fds[1]))
        };
        if from_server && let Some(end) = server_readable(client, up, c)? {
            return Ok(end);
        }
        if from_client {
            let n = client.tcp.read(&mut chunk)?;
            if n == 0 {
                return Ok(End::Client);
            }
            to_server(up, &chunk[..n])?;
            c.up += n as u64;
        }
    }
}

/// The server's socket is readable: takes in what TLS records came and
/// passes their plain text on; `Some` once the server closed.
fn server_readable(
    client: &mut Client,
    up: &mut Upstream,
    c: &mut Counts,
) -> io::Result<Option<End>> {
    let Some(tls) = &mut up.tls else {
        return Ok(Some(End::Failed("no TLS session".into())));
    };
    let n = tls.read_tls(&mut up.tcp)?;
    if n == 0 {
        // Whatever plain text came before the end still goes.
        from_tls(client, up, c)?;
        return Ok(Some(End::Server));
    }
    tls.process_new_packets()
        .map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
    from_tls(client, up, c)
}

/// Passes the plain text the TLS session holds to the client, and sends
/// what the session wants to send (alerts, key updates).
fn from_tls(client: &mut Client, up: &mut Upstream, c: &mut Counts) -> io::Result<Option<End>> {
    let Some(tls) = &mut up.tls else {
        return Ok(None);
    };
    let mut chunk = [0u8; CHUNK];
    loop {
        match tls.reader().read(&mut chunk) {
            Ok(0) => return Ok(Some(End::Server)),
            Ok(n) => {
                client.tcp.write_all(&chunk[..n])?;
                c.down += n as u64;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            // The server closed without close_notify: it is gone.
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(Some(End::Server)),
            Err(e) => return Err(e),
        }
    }
    while tls.wants_write() {
        tls.write_tls(&mut up.tcp)?;
    }
    Ok(None)
}

/// Sends `data` to the server through the TLS session.
fn to_server(up: &mut Upstream, data: &[u8]) -> io::Result<()> {
    let Some(tls) = &mut up.tls else {
        return up.tcp.write_all(data);
    };
    tls.writer().write_all(data)?;
    while tls.wants_write() {
        tls.write_tls(&mut up.tcp)?;
    }
    Ok(())
}
