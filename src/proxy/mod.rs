//! `ooauth2 proxy`: local IMAP, POP3 and SMTP listeners for mail programs
//! that only know passwords. A client logs in with `LOGIN` / `AUTH PLAIN` /
//! `USER`+`PASS`; the login name picks one of the listener's accounts; the
//! proxy logs in to the real server with that account's token (XOAUTH2 or
//! OAUTHBEARER, over implicit TLS or STARTTLS) and from then on only
//! copies bytes both ways.
//!
//! The pieces: [`session`] runs one connection (who is it, which dialect,
//! the one-refresh retry, the log lines); `imap.rs`, `pop.rs` and `smtp.rs`
//! are the dialects (what the client may say before login, and how the
//! server is logged in to); `client.rs` and `upstream.rs` are the two
//! sockets with bounded line reading; `pump.rs` is the byte pump after
//! login; `peer.rs` says which user is on the other end of a loopback
//! or Unix socket connection; `listen.rs` binds the listening sockets
//! (TCP, or a Unix socket file); `reload.rs` applies a SIGHUP's config;
//! `guard.rs` checks local passwords (listeners for other users or a LAN)
//! and slows down who keeps getting them wrong.
//!
//! Concurrency: one thread per connection, blocking sockets, and after the
//! login one poll(2) over both sockets in that same thread. Why not tokio:
//! the proxy is the only long-running part of ooauth2, its connections are
//! few (a mail program holds a handful), the TLS and SASL code it shares
//! with `ooauth2 test` is blocking rustls, and the engine it takes tokens
//! from (store locks, HTTP with retries) is blocking too: an async runtime
//! would have to push all of that onto a blocking pool anyway. A thread
//! with a small stack costs its touched pages only (a few dozen KiB), so
//! 100 idle connections stay far under the 20 MiB target. The cached
//! `token` path never reaches this module (fast_token.rs does not parse
//! the command line that could name it).
//!
//! Tokens come from [`Tokens`], which the front end implements over the
//! engine exactly as `ooauth2 token NAME` gets them: the same store, lock,
//! min_ttl and secret stores, never a second token path. A token, a SASL
//! string or a client's password is never written anywhere but the socket
//! it is meant for.

mod client;
mod guard;
mod imap;
mod listen;
mod peer;
mod pop;
mod pump;
mod reload;
pub mod session;
mod smtp;
mod upstream;
mod wire;

pub use guard::resolve_passwords;
pub use listen::Given;

use crate::config::Listener;
use crate::error::Result;
use crate::secret::Secret;
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use signal_hook::consts::SIGHUP;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An account's token, as the engine answered it.
pub struct Token {
    /// The mailbox the token is for (the SASL string names it).
    pub user: String,
    /// The access token.
    pub access: Secret,
}

/// Where the proxy gets tokens: the engine, through the front end.
pub trait Tokens: Send + Sync {
    /// The token of the configured account `account`; with `fresh`, a
    /// refreshed one (the server refused the one it had).
    fn token(&self, account: &str, fresh: bool) -> Result<Token>;
}

/// The limits every connection runs under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long a client may take to log in.
    pub handshake: Duration,
    /// How long a logged-in connection may stay silent both ways (IMAP
    /// IDLE clients speak every 29 minutes at most, RFC 2177).
    pub idle: Duration,
    /// How long connecting to the server may take.
    pub connect: Duration,
    /// How long open connections may go on after SIGTERM or SIGINT.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            handshake: Duration::from_secs(60),
            idle: Duration::from_secs(31 * 60),
            connect: Duration::from_secs(15),
            drain: Duration::from_secs(10),
        }
    }
}

/// The stack of a connection's thread: its deepest user is the TLS
/// handshake; pages never touched cost no memory.
const STACK: usize = 256 * 1024;

/// The connections open now, and whether the proxy is stopping.
#[derive(Default)]
struct Running {
    open: AtomicUsize,
    stopping: AtomicBool,
}

/// Counts one connection while it lives.
struct Open(Arc<Running>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The configuration read again for a reload (SIGHUP).
pub struct Loaded {
    /// The listeners.
    pub listeners: Vec<Listener>,
    /// Makes the rest of what was read (the accounts' values) the one new
    /// logins use; called only once the listeners are applied, so that a
    /// refused reload changes nothing.
    pub apply: Box<dyn FnOnce()>,
}

/// What `ooauth2 proxy --check` checks beyond the config file: each
/// listener's TLS files (ca_file, local_cert and local_key) are read and
/// made into the configurations serving would use.
pub fn check(listeners: &[Listener]) -> Result<()> {
    reload::tls_configs(listeners).map(drop)
}

/// Reads the configuration again, for a reload.
pub type Load<'a> = &'a dyn Fn() -> Result<Loaded>;

/// Binds every listener, says so on stderr, and serves them until SIGTERM
/// or SIGINT: then no new connection is taken, and the open ones may
/// finish within the drain limit. SIGHUP reloads: `load` is asked for the
/// listeners again (`reload.rs`). A listener that cannot bind is an error
/// before any serves, as is a socket in `given` that no listener takes.
pub fn serve(
    listeners: &[Listener],
    load: Load,
    tokens: Arc<dyn Tokens>,
    limits: Limits,
    mut given: Given,
) -> Result<()> {
    let prepared = reload::prepare(listeners, &[], &mut given)?;
    given.all_taken()?;
    let shared = Shared {
        tokens,
        limits,
        running: Arc::new(Running::default()),
    };
    let draining = crate::signals::drain();
    let mut live = reload::Listeners::start(prepared, &shared);
    if !draining {
        // Without handlers a signal ends the process at once, as by default.
        loop {
            std::thread::park();
        }
    }
    // A SIGTERM or SIGINT comes first: pending() names it even with a
    // SIGHUP beside it.
    let sig = loop {
        match crate::signals::pending() {
            Some(SIGHUP) => {
                crate::signals::take_hangup();
                live.reload(load(), &shared);
            }
            Some(sig) => break sig,
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    shared.running.stopping.store(true, Ordering::SeqCst);
    drain(&shared.running, sig, limits.drain);
    // Their sockets closed, and socket files removed.
    live.stop_all();
    Ok(())
}

/// Waits for the open connections to end, at most `limit`.
fn drain(running: &Running, sig: i32, limit: Duration) {
    let open = running.open.load(Ordering::SeqCst);
    eprintln!(
        "proxy: signal {sig}: no new connections; {open} open, waiting up to {} s",
        limit.as_secs()
    );
    let deadline = Instant::now() + limit;
    while running.open.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    match running.open.load(Ordering::SeqCst) {
        0 => eprintln!("proxy: stopped"),
        n => eprintln!("proxy: stopped with {n} connections still open (drain limit)"),
    }
}

/// What every listener's connections share.
#[derive(Clone)]
struct Shared {
    tokens: Arc<dyn Tokens>,
    limits: Limits,
    running: Arc<Running>,
}

/// What a listener serves now: a reload swaps it, each accepted
/// connection takes the one of its moment to its end.
struct Serving {
    listener: Arc<Listener>,
    tls: Arc<session::Configs>,
}

/// A running listener's state, shared with its accept thread.
struct Slot {
    serving: Mutex<Arc<Serving>>,
    /// Set when a reload removed it: the socket closes, open connections
    /// go on.
    stop: AtomicBool,
}

/// How often an accept loop looks up to see whether it was stopped.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// Accepts connections on `socket`, each on its own thread, until its
/// listener is stopped (the socket is then closed); while the proxy
/// drains, a new connection is closed at once.
fn accept(socket: &listen::Socket, slot: &Slot, shared: &Shared) {
    let wait = Timespec {
        tv_sec: 0,
        tv_nsec: STOP_CHECK.as_nanos().try_into().unwrap_or(100_000_000),
    };
    while !slot.stop.load(Ordering::SeqCst) {
        let mut fds = [PollFd::new(socket, PollFlags::IN)];
        if !matches!(poll(&mut fds, Some(&wait)), Ok(n) if n > 0) {
            // Nothing yet, or a signal interrupted the wait.
            continue;
        }
        let stream = match socket.accept() {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => {
                // EMFILE and friends: say so, breathe, go on.
                let name = &slot.now().listener.name;
                eprintln!("proxy {name}: accept failed: {e}");
                std::thread::sleep(STOP_CHECK);
                continue;
            }
        };
        if shared.running.stopping.load(Ordering::SeqCst) {
            // Closed at once: the client sees the proxy going away.
            continue;
        }
        connection(stream, slot.now(), shared);
    }
}

impl Slot {
    /// What the listener serves at this moment.
    fn now(&self) -> Arc<Serving> {
        Arc::clone(&self.serving.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Runs one accepted connection on its own thread.
fn connection(stream: wire::Sock, serving: Arc<Serving>, shared: &Shared) {
    shared.running.open.fetch_add(1, Ordering::SeqCst);
    let open = Open(Arc::clone(&shared.running));
    let (tokens, limits) = (Arc::clone(&shared.tokens), shared.limits);
    let name = serving.listener.name.clone();
    let spawned = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let _open = open;
            let s = &serving;
            session::run(stream, &s.listener, &s.tls, tokens.as_ref(), limits);
        });
    if let Err(e) = spawned {
        eprintln!("proxy {name}: cannot start a thread: {e}");
    }
}
