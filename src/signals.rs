//! Signals that would lose a token: a termination signal (SIGTERM, SIGINT,
//! SIGHUP from `timeout`, systemd or a mail client giving up) that arrives
//! after a grant was sent and before its answer is on disk would leave a
//! single-use refresh token spent and its successor unknown. [`hold`] defers
//! them for that window, which the HTTP timeout bounds; SIGKILL cannot be
//! deferred by anyone. And a file size limit (`ulimit -f`) would kill the
//! process silently with SIGXFSZ mid-write: [`survive_file_size_limit`]
//! turns that into the EFBIG error the store reports.
//!
//! Handlers are installed on first use only, so the cached path never pays
//! for them, and stay installed: outside a held window they act as the
//! default action would (signal-hook cannot restore the previous handler).

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGXFSZ};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The termination signals held off while a grant's answer is unsaved.
const HELD: [i32; 3] = [SIGTERM, SIGINT, SIGHUP];

/// The handlers' shared state, once installed.
struct Deferral {
    /// Whether a signal may act at once (no window is open).
    free: Arc<AtomicBool>,
    /// The last SIGTERM or SIGINT that arrived, 0 for none.
    arrived: Arc<AtomicUsize>,
    /// Whether a SIGHUP arrived: apart, so that a reload request (the
    /// proxy's) never hides a SIGTERM that came just before it.
    hangup: Arc<AtomicBool>,
    /// How many windows are open (grants may nest: a refresh inside a check).
    open: Mutex<usize>,
    /// Whether a long-running server handles the signals itself ([`drain`]).
    draining: AtomicBool,
}

fn deferral() -> &'static Option<Deferral> {
    static D: OnceLock<Option<Deferral>> = OnceLock::new();
    D.get_or_init(|| {
        let free = Arc::new(AtomicBool::new(true));
        let arrived = Arc::new(AtomicUsize::new(0));
        let hangup = Arc::new(AtomicBool::new(false));
        for sig in HELD {
            // The default action first (it ends the process when no window
            // is open), then the note for a window that is open.
            let installed = signal_hook::flag::register_conditional_default(sig, free.clone())
                .and_then(|_| match sig {
                    SIGHUP => signal_hook::flag::register(sig, hangup.clone()),
                    _ => signal_hook::flag::register_usize(sig, arrived.clone(), sig as usize),
                });
            if installed.is_err() {
                // Without handlers the signals keep their default action:
                // nothing held, nothing worse than before.
                return None;
            }
        }
        Some(Deferral {
            free,
            arrived,
            hangup,
            open: Mutex::new(0),
            draining: AtomicBool::new(false),
        })
    })
}

/// While this lives, SIGTERM, SIGINT and SIGHUP wait; when the last one is
/// dropped, a signal that arrived meanwhile takes its default action (the
/// process ends as it would have).
#[must_use = "signals are held only while the guard lives"]
pub struct Held(());

/// Holds the termination signals until the returned guard is dropped.
pub fn hold() -> Held {
    if let Some(d) = deferral() {
        let mut open = d.open.lock().unwrap_or_else(|p| p.into_inner());
        *open += 1;
        d.free.store(false, Ordering::SeqCst);
    }
    Held(())
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(d) = deferral() else {
            return;
        };
        let mut open = d.open.lock().unwrap_or_else(|p| p.into_inner());
        *open = open.saturating_sub(1);
        if *open > 0 || d.draining.load(Ordering::SeqCst) {
            return;
        }
        d.free.store(true, Ordering::SeqCst);
        drop(open);
        let mut sig = d.arrived.swap(0, Ordering::SeqCst);
        if sig == 0 && d.hangup.swap(false, Ordering::SeqCst) {
            sig = SIGHUP as usize;
        }
        if sig != 0 {
            // Ends the process as the signal would have; it never returns
            // for these signals.
            let _ = signal_hook::low_level::emulate_default_handler(sig as i32);
        }
    }
}

/// For a long-running server (`ooauth2 proxy`): from now on SIGTERM,
/// SIGINT and SIGHUP never end the process by themselves, not even after a
/// grant's window closes; the server polls [`pending`]: it drains on
/// SIGTERM or SIGINT, and reloads on SIGHUP ([`take_hangup`]). `false`
/// if the handlers could not be installed (the signals keep their default
/// action).
pub fn drain() -> bool {
    let Some(d) = deferral() else {
        return false;
    };
    d.draining.store(true, Ordering::SeqCst);
    d.free.store(false, Ordering::SeqCst);
    true
}

/// For a server that reloads on SIGHUP: takes the one that arrived (it is
/// no longer [`pending`]); a SIGTERM or SIGINT stays pending.
pub fn take_hangup() {
    if let Some(d) = deferral() {
        d.hangup.store(false, Ordering::SeqCst);
    }
}

/// The held signal that arrived, if one did (SIGTERM or SIGINT before
/// SIGHUP): it acts when the last guard is dropped (a wait that holds them
/// may first say what it stops).
pub fn pending() -> Option<i32> {
    let d = deferral().as_ref()?;
    match d.arrived.load(Ordering::SeqCst) {
        0 => d.hangup.load(Ordering::SeqCst).then_some(SIGHUP),
        sig => i32::try_from(sig).ok(),
    }
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Held")
    }
}

/// Makes a write past the file size limit fail with EFBIG (reported as a
/// store error with its hint) instead of killing the process silently.
pub fn survive_file_size_limit() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        // A handler that only notes the signal: the write then returns EFBIG.
        let _ = signal_hook::flag::register(SIGXFSZ, Arc::new(AtomicBool::new(false)));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_nest_and_close() {
        let outer = hold();
        let inner = hold();
        drop(inner);
        if let Some(d) = deferral() {
            assert!(
                !d.free.load(Ordering::SeqCst),
                "still inside the outer window"
            );
        }
        drop(outer);
        if let Some(d) = deferral() {
            assert!(d.free.load(Ordering::SeqCst));
        }
    }
}
