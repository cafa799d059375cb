//! After login, the proxy only copies bytes: each side's plain text to the
//! other, in pieces of up to 64 KiB (a 20 MB FETCH or APPEND is streamed,
//! never held whole), one poll(2) over both sockets in the connection's own
//! thread, each readable side drained in turn without waiting. A
//! slow reader slows the other side down (writes block): flow control, not
//! a buffer that grows.

use super::client::Client;
use super::upstream::Upstream;
use super::wire::{Room, Wire};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use std::io;
use std::time::Duration;

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
    /// A socket or a TLS session failed.
    Failed(String),
}

/// A turn that moved this much from the server is part of a bulk transfer
/// (a large FETCH, a RETR): the next read of the server waits a moment.
const STREAMING: u64 = 32 * 1024;

/// That moment: the server's bytes gather in the socket meanwhile, and the
/// next turn takes them at once. A server sends a large message in pieces
/// of its own size (Dovecot about 30 KB) and a wake-up for each costs more
/// than the bytes (about 45 µs each on the 2-core machine of
/// bench/README.md, where waiting halved the proxy's CPU time per 20 MB
/// FETCH). The client is listened to all the while, so a command it sends
/// (an IDLE's DONE) goes on at once; at most this is added to the end of
/// a bulk answer.
const GATHER: Timespec = Timespec {
    tv_sec: 0,
    tv_nsec: 500_000,
};

/// Copies bytes both ways until one side closes, fails or idles out.
pub(super) fn run(client: &mut Client, up: &mut Upstream, idle: Duration) -> (End, Counts) {
    let mut counts = Counts::default();
    let end = pump(client, up, idle, &mut counts).unwrap_or_else(|e| End::Failed(e.to_string()));
    client.wire.close();
    up.wire.close();
    (end, counts)
}

/// Waits for either side, after the [`GATHER`] moment when `streaming`:
/// whether to read the client and the server, or `None` when both were
/// silent for `idle`. While streaming the server is read whatever poll(2)
/// says (a read that finds nothing costs one EAGAIN).
fn wait(
    client: &Client,
    up: &Upstream,
    streaming: bool,
    idle: &Timespec,
) -> io::Result<Option<(bool, bool)>> {
    let mut fds = [
        PollFd::new(&client.wire.sock, PollFlags::IN),
        PollFd::new(&up.wire.sock, PollFlags::IN),
    ];
    if streaming {
        poll_again(&mut fds[..1], &GATHER)?;
    }
    if fds[0].revents().is_empty() && poll_again(&mut fds, idle)? == 0 {
        return Ok(None);
    }
    let ready = |f: &PollFd| !f.revents().is_empty();
    Ok(Some((ready(&fds[0]), ready(&fds[1]) || streaming)))
}

/// poll(2), again when a signal interrupts it: a SIGHUP for a reload may
/// land on any thread, and must not end a session.
fn poll_again(fds: &mut [PollFd], timeout: &Timespec) -> io::Result<usize> {
    loop {
        match poll(fds, Some(timeout)) {
            Err(rustix::io::Errno::INTR) => continue,
            done => return done.map_err(io::Error::from),
        }
    }
}

/// Moves what `from` has to `to` through `room`, counting; `false` once
/// `from` closed.
fn pass(
    (from, to): (&mut Wire, &mut Wire),
    from_socket: bool,
    room: &mut Room,
    count: &mut u64,
) -> io::Result<bool> {
    from.pull(from_socket, room, &mut |bytes| {
        *count += bytes.len() as u64;
        to.write_all(bytes)
    })
}

fn pump(client: &mut Client, up: &mut Upstream, idle: Duration, c: &mut Counts) -> io::Result<End> {
    // What either side sent along with its login goes first, then what
    // their TLS sessions already hold.
    let early = std::mem::take(&mut client.buf);
    up.wire.write_all(&early)?;
    c.up += early.len() as u64;
    let early = std::mem::take(&mut up.buf);
    client.wire.write_all(&early)?;
    c.down += early.len() as u64;
    let room = &mut Room::new();
    if !pass((&mut up.wire, &mut client.wire), false, room, &mut c.down)? {
        return Ok(End::Server);
    }
    if !pass((&mut client.wire, &mut up.wire), false, room, &mut c.up)? {
        return Ok(End::Client);
    }
    let idle = Timespec {
        tv_sec: idle.as_secs().try_into().unwrap_or(i64::MAX),
        tv_nsec: 0,
    };
    let mut streaming = false;
    loop {
        let Some((from_client, from_server)) = wait(client, up, streaming, &idle)? else {
            return Ok(End::Idle);
        };
        let before = c.down;
        if from_server && !pass((&mut up.wire, &mut client.wire), true, room, &mut c.down)? {
            return Ok(End::Server);
        }
        streaming = from_server && c.down - before >= STREAMING;
        if from_client && !pass((&mut client.wire, &mut up.wire), true, room, &mut c.up)? {
            return Ok(End::Client);
        }
    }
}
