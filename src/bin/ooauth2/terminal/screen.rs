//! Where the sign-in text goes and how it may look: stderr when it is a
//! terminal, else the controlling terminal (`/dev/tty`), so that a person
//! sees the instructions even when a mail client captures our stderr; and
//! the one rule for styling, shared with `status`.

use std::fs::OpenOptions;
use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;

/// Where the sign-in screen is drawn: stderr when it is a terminal, else
/// the controlling terminal.
pub(super) enum Screen {
    /// Our stderr, which is a terminal.
    Stderr,
    /// The controlling terminal, opened for writing.
    Tty(std::fs::File),
}

impl Screen {
    /// The terminal that can show the screen, if any.
    pub(super) fn open() -> Option<Screen> {
        if std::io::stderr().is_terminal() {
            Some(Screen::Stderr)
        } else {
            tty().map(Screen::Tty)
        }
    }

    /// Writes `text` at once; a terminal gone away is not an error worth
    /// stopping a sign-in for.
    pub(super) fn write(&mut self, text: &str) {
        let _ = match self {
            Screen::Stderr => {
                let mut e = std::io::stderr().lock();
                e.write_all(text.as_bytes()).and_then(|()| e.flush())
            }
            Screen::Tty(f) => f.write_all(text.as_bytes()).and_then(|()| f.flush()),
        };
    }

    /// Columns and rows of the window.
    pub(super) fn size(&self) -> Option<(u16, u16)> {
        let size = match self {
            Screen::Stderr => terminal_size::terminal_size_of(std::io::stderr().as_fd()),
            Screen::Tty(f) => terminal_size::terminal_size_of(f.as_fd()),
        };
        size.map(|(w, h)| (w.0, h.0))
    }
}

/// The controlling terminal, if this process has one.
fn tty() -> Option<std::fs::File> {
    OpenOptions::new().write(true).open("/dev/tty").ok()
}

/// Whether a terminal can show the instructions.
pub(super) fn terminal() -> bool {
    std::io::stderr().is_terminal() || tty().is_some()
}

/// Whether text may be styled: `NO_COLOR` unset or empty
/// (<https://no-color.org>) and a `TERM` that is known and not `dumb`.
pub fn colour_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").is_ok_and(|t| !t.is_empty() && t != "dumb")
}

/// `text` in bold when `styled`.
pub(super) fn bold(text: &str, styled: bool) -> String {
    if styled {
        format!("\x1b[1m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}
