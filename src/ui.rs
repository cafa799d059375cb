//! The terminal side of a device sign-in: instructions on stderr (and on
//! /dev/tty when stderr is redirected), and ENTER to poll at once.

use crate::engine::SignInUi;
use crate::oauth::{DeviceAuth, DeviceUi};
use std::fs::OpenOptions;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// Sign-in instructions for a person at a terminal.
pub struct TerminalUi {
    /// Whether a line on stdin means "poll now" (the login command, legacy mode).
    enter_on_stdin: bool,
    enter: Option<Receiver<()>>,
}

impl TerminalUi {
    /// A UI; with `enter_on_stdin`, ENTER on stdin polls at once.
    pub fn new(enter_on_stdin: bool) -> TerminalUi {
        TerminalUi {
            enter_on_stdin,
            enter: None,
        }
    }

    fn listen_for_enter(&mut self) {
        if !self.enter_on_stdin || self.enter.is_some() {
            return;
        }
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let stdin = std::io::stdin();
            let mut line = String::new();
            while stdin.lock().read_line(&mut line).is_ok_and(|n| n > 0) {
                line.clear();
                if tx.send(()).is_err() {
                    break;
                }
            }
        });
        self.enter = Some(rx);
    }
}

fn tty() -> Option<std::fs::File> {
    OpenOptions::new().write(true).open("/dev/tty").ok()
}

impl DeviceUi for TerminalUi {
    fn show(&mut self, auth: &DeviceAuth) {
        let message = auth.message.clone().unwrap_or_else(|| {
            format!(
                "To sign in, use a web browser to open the page {} and enter the code {} to authenticate.",
                auth.verification_uri, auth.user_code
            )
        });
        self.listen_for_enter();
        let mut text = format!(
            "{message}\nWaiting for the sign-in (the code is valid for {} minutes)",
            auth.expires_in.div_ceil(60)
        );
        if self.enter.is_some() && std::io::stdin().is_terminal() {
            text.push_str("; press ENTER once you are done to check at once");
        }
        text.push_str("...\n");
        let mut stderr = std::io::stderr();
        let _ = stderr.write_all(text.as_bytes());
        if !stderr.is_terminal()
            && let Some(mut t) = tty()
        {
            let _ = t.write_all(text.as_bytes());
        }
    }

    fn wait(&mut self, interval: Duration) {
        let Some(rx) = &self.enter else {
            std::thread::sleep(interval);
            return;
        };
        let start = Instant::now();
        match rx.recv_timeout(interval) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                std::thread::sleep(interval.saturating_sub(start.elapsed()));
                self.enter = None;
            }
        }
    }
}

impl SignInUi for TerminalUi {
    fn can_prompt(&self) -> bool {
        std::io::stderr().is_terminal() || tty().is_some()
    }
}
