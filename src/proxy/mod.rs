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
//! connection; `guard.rs` checks local passwords (listeners for other
//! users or a LAN) and slows down who keeps getting them wrong.
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
mod peer;
mod pop;
mod pump;
pub mod session;
mod smtp;
mod upstream;
mod wire;

pub use guard::resolve_passwords;

use crate::config::Listener;
use crate::error::{Code, Error, Result};
use crate::secret::Secret;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
    /// How long open connections may go on after SIGTERM.
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

/// Binds every listener, says so on stderr, and serves them until SIGTERM
/// (or SIGINT, SIGHUP): then no new connection is taken, and the open ones
/// may finish within the drain limit. A listener that cannot bind is an
/// error before any serves.
pub fn serve(listeners: &[Listener], tokens: Arc<dyn Tokens>, limits: Limits) -> Result<()> {
    let mut bound = Vec::new();
    for l in listeners {
        let socket = TcpListener::bind(l.listen).map_err(|e| {
            Error::new(
                Code::NetworkError,
                format!("[proxy.{}] cannot listen on {}: {e}", l.name, l.listen),
            )
            .hint("pick another listen port in the config file, or stop what listens there")
        })?;
        // Made once: the system's roots are read and parsed here, not per
        // connection, and a bad ca_file is an error before anything serves.
        let tls = session::Configs {
            upstream: crate::tls::client_config(l.ca_file.as_deref())?,
            local: match &l.local_cert {
                Some((cert, key)) => Some(crate::tls::server_config(cert, key)?),
                None => None,
            },
        };
        bound.push((socket, Arc::new(l.clone()), Arc::new(tls)));
    }
    let draining = crate::signals::drain();
    let running = Arc::new(Running::default());
    for (socket, l, tls) in bound {
        eprintln!(
            "proxy {}: listening on {} ({} to {})",
            l.name,
            l.listen,
            l.protocol_name(),
            l.server()
        );
        let (tokens, running) = (Arc::clone(&tokens), Arc::clone(&running));
        let server = Server {
            listener: l,
            tls,
            tokens,
            limits,
            running,
        };
        std::thread::spawn(move || accept(&socket, &server));
    }
    if !draining {
        // Without handlers a signal ends the process at once, as by default.
        loop {
            std::thread::park();
        }
    }
    let sig = loop {
        if let Some(sig) = crate::signals::pending() {
            break sig;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    running.stopping.store(true, Ordering::SeqCst);
    drain(&running, sig, limits.drain);
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

/// What one listener's connections share.
struct Server {
    listener: Arc<Listener>,
    tls: Arc<session::Configs>,
    tokens: Arc<dyn Tokens>,
    limits: Limits,
    running: Arc<Running>,
}

/// Accepts connections on `socket`, each on its own thread, until the
/// proxy stops.
fn accept(socket: &TcpListener, server: &Server) {
    let name = &server.listener.name;
    for conn in socket.incoming() {
        let stream = match conn {
            Ok(s) => s,
            Err(e) => {
                // EMFILE and friends: say so, breathe, go on.
                eprintln!("proxy {name}: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if server.running.stopping.load(Ordering::SeqCst) {
            // Closed at once: the client sees the proxy going away.
            continue;
        }
        server.running.open.fetch_add(1, Ordering::SeqCst);
        let open = Open(Arc::clone(&server.running));
        let (l, tls, tokens) = (
            Arc::clone(&server.listener),
            Arc::clone(&server.tls),
            Arc::clone(&server.tokens),
        );
        let limits = server.limits;
        let spawned = std::thread::Builder::new()
            .stack_size(STACK)
            .spawn(move || {
                let _open = open;
                session::run(stream, &l, &tls, tokens.as_ref(), limits);
            });
        if let Err(e) = spawned {
            eprintln!("proxy {name}: cannot start a thread: {e}");
        }
    }
}
