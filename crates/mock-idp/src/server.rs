//! The server's threads: the accept loop, one thread per connection, the
//! faults that act on the connection itself (never answer, hang up, a huge
//! body), and a stop that ends them all quickly.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::Fault;
use crate::doctor::dated;
use crate::fault::mutate;
use crate::http::{Request, Response, head_bytes, json_response, read_request, write_response};
use crate::route::Route;
use crate::state::State;

/// How often blocked connection threads look at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(50);
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a stop waits for connection threads to finish.
const DROP_GRACE: Duration = Duration::from_millis(500);

/// What the handle and every server thread share.
pub(crate) struct Shared {
    pub(crate) addr: SocketAddr,
    stop: AtomicBool,
    state: Mutex<State>,
    /// Live connection threads.
    active: Mutex<usize>,
    idle: Condvar,
}

impl Shared {
    pub(crate) fn new(addr: SocketAddr) -> Shared {
        Shared {
            addr,
            stop: AtomicBool::new(false),
            state: Mutex::new(State::new()),
            active: Mutex::new(0),
            idle: Condvar::new(),
        }
    }

    /// The state; a thread that panicked holding it does not poison the
    /// mock for the rest of the test.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    pub(crate) fn authority(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    /// Stops accepting, then waits (briefly) for connection threads, which
    /// notice the stop flag within STOP_POLL.
    pub(crate) fn stop(&self, accept: Option<JoinHandle<()>>) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept thread.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = accept {
            let _ = h.join();
        }
        let deadline = Instant::now() + DROP_GRACE;
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        while *active > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            active = match self.idle.wait_timeout(active, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }
}

pub(crate) fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stopped() {
            break;
        }
        let Ok(stream) = conn else {
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        *shared.active.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        let sh = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name("mock-idp-conn".to_string())
            .spawn(move || {
                let _guard = ActiveGuard(Arc::clone(&sh));
                handle_conn(&sh, stream);
            });
        if spawned.is_err() {
            // The closure (and its stream) was dropped without running.
            ActiveGuard(Arc::clone(&shared)).release();
        }
    }
}

/// Decrements the live-connection count when a connection thread ends.
struct ActiveGuard(Arc<Shared>);

impl ActiveGuard {
    fn release(self) {}
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let mut n = self.0.active.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.saturating_sub(1);
        self.0.idle.notify_all();
    }
}

fn handle_conn(shared: &Shared, mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    // Reads wake up this often to look at the stop flag.
    let _ = stream.set_read_timeout(Some(STOP_POLL));
    let req = match read_request(&mut stream, &shared.stop) {
        Ok(Some(r)) => r,
        Ok(None) => return,
        Err(e) => {
            let body = json!({"error": "invalid_request", "error_description": e.message});
            write_response(&mut stream, &json_response(e.status, &body));
            finish(&mut stream);
            return;
        }
    };
    let route = Route::of(&req.path);
    let (fault, delay) = {
        let mut st = shared.lock();
        st.record(&req, route.tenant());
        let fault = if route.faultable() {
            st.faults.pop_front()
        } else {
            None
        };
        (fault, st.delay_for(&req))
    };
    if delay > 0 && !sleep_unless_stopped(shared, Duration::from_millis(delay)) {
        return;
    }
    if let Some(resp) = answer(shared, &mut stream, &req, &route, fault) {
        let resp = dated(resp, shared.lock().doctor.date_offset);
        write_response(&mut stream, &resp);
        finish(&mut stream);
    }
}

/// The answer to `req`, or `None` when a fault has already dealt with the
/// connection.
fn answer(
    shared: &Shared,
    stream: &mut TcpStream,
    req: &Request,
    route: &Route,
    fault: Option<Fault>,
) -> Option<Response> {
    let authority = shared.authority();
    let resp = match fault {
        None => shared.lock().dispatch(&authority, req, route),
        Some(Fault::NeverAnswer) => {
            hold_open(shared, stream);
            return None;
        }
        Some(Fault::CloseWithoutAnswer) => {
            let _ = stream.shutdown(Shutdown::Both);
            return None;
        }
        Some(Fault::Huge(n)) => {
            write_huge(shared, stream, n);
            finish(stream);
            return None;
        }
        Some(
            f @ (Fault::MissingAccessToken
            | Fault::MissingExpiresIn
            | Fault::ExpiresInString
            | Fault::Patch(_)
            | Fault::Echo(_)),
        ) => {
            let r = shared.lock().dispatch(&authority, req, route);
            mutate(r, &f, req)
        }
        Some(f) => shared.lock().fault_response(&f),
    };
    Some(resp)
}

/// A 200 response of exactly `n` bytes, written in chunks; write errors
/// (client hung up) end it silently.
fn write_huge(shared: &Shared, stream: &mut TcpStream, n: usize) {
    let prefix = b"{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"";
    let suffix = b"\"}";
    let head = head_bytes(200, "application/json; charset=utf-8", &[], n);
    if stream.write_all(&head).is_err() {
        return;
    }
    let (pre, fill, suf): (&[u8], u8, &[u8]) = if n >= prefix.len() + suffix.len() {
        (prefix, b'A', suffix)
    } else if n >= 2 {
        (b"{", b' ', b"}")
    } else {
        (b"", b' ', b"")
    };
    if stream.write_all(pre).is_err() {
        return;
    }
    let chunk = vec![fill; 64 * 1024];
    let mut left = n - pre.len() - suf.len();
    while left > 0 {
        if shared.stopped() {
            return;
        }
        let k = left.min(chunk.len());
        if stream.write_all(&chunk[..k]).is_err() {
            return;
        }
        left -= k;
    }
    let _ = stream.write_all(suf);
    let _ = stream.flush();
}

/// Stops sending, then reads whatever the client still sends (briefly) so
/// closing does not reset the connection before the answer is read.
fn finish(stream: &mut TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let deadline = Instant::now() + Duration::from_millis(300);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

/// Holds the connection without answering until the client hangs up or the
/// mock stops.
fn hold_open(shared: &Shared, stream: &mut TcpStream) {
    let _ = stream.set_read_timeout(Some(STOP_POLL));
    let mut buf = [0u8; 1024];
    while !shared.stopped() {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// Sleeps unless the mock stops first; false if it stopped.
fn sleep_unless_stopped(shared: &Shared, d: Duration) -> bool {
    let deadline = Instant::now() + d;
    loop {
        if shared.stopped() {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        thread::sleep((deadline - now).min(STOP_POLL));
    }
}
