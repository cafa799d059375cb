//! The terminal's echo, off while the device countdown runs (what the
//! person types, ENTER to check at once or a stray key, would otherwise
//! land on the countdown line and each ENTER push a stale copy of it up)
//! and while `ooauth2 proxy hash-password` reads a password.

use std::io::IsTerminal;

/// While this lives, what is typed on stdin's terminal is not echoed; the
/// terminal's settings come back when it is dropped (also on a panic, and
/// before a signal ends the sign-in).
pub(crate) struct EchoOff {
    /// The settings before, restored on drop.
    before: rustix::termios::Termios,
}

impl EchoOff {
    /// Turns the echo of stdin's terminal off; `None` when stdin is no
    /// terminal or its echo is off already.
    pub(crate) fn start() -> Option<EchoOff> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return None;
        }
        let before = rustix::termios::tcgetattr(&stdin).ok()?;
        if !before
            .local_modes
            .contains(rustix::termios::LocalModes::ECHO)
        {
            return None;
        }
        let mut quiet = before.clone();
        quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
        rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &quiet).ok()?;
        Some(EchoOff { before })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // A terminal gone away has no echo to restore.
        let _ = rustix::termios::tcsetattr(
            std::io::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.before,
        );
    }
}
