//! The person's side of a device sign-in: instructions on stderr (and on
//! /dev/tty when stderr is redirected), ENTER to poll at once, and, when no
//! terminal can show them, the user's `notify_cmd` told the code instead.

use crate::engine::SignInUi;
use crate::oauth::{DeviceAuth, DeviceUi};
use std::fs::OpenOptions;
use std::io::{BufRead, IsTerminal, Write};
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// Sign-in instructions for a person at a terminal.
pub struct TerminalUi {
    /// Whether a line on stdin means "poll now" (the login command, legacy mode).
    enter_on_stdin: bool,
    enter: Option<Receiver<()>>,
    notify: Option<Notify>,
}

/// Environment variable giving a `notify_cmd` to accounts that have none.
pub const NOTIFY_ENV: &str = "OOAUTH2_NOTIFY_CMD";

/// How long `show` waits for a `notify_cmd` before polling anyway.
const NOTIFY_WAIT: Duration = Duration::from_secs(2);

/// A `notify_cmd` and the account it speaks for.
struct Notify {
    command: String,
    user: String,
}

impl TerminalUi {
    /// A UI; with `enter_on_stdin`, ENTER on stdin polls at once.
    pub fn new(enter_on_stdin: bool) -> TerminalUi {
        TerminalUi {
            enter_on_stdin,
            enter: None,
            notify: None,
        }
    }

    /// Tells the code to `command` (run with `sh -c`) when no terminal can
    /// show it; `user` is the account signing in, if known. With a command,
    /// a sign-in is possible without a terminal.
    pub fn with_notify(mut self, command: Option<String>, user: Option<&str>) -> TerminalUi {
        self.notify = command
            .filter(|c| !c.trim().is_empty())
            .map(|command| Notify {
                command,
                user: user.unwrap_or_default().to_string(),
            });
        self
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

/// Whether a terminal can show the instructions.
fn terminal() -> bool {
    std::io::stderr().is_terminal() || tty().is_some()
}

impl Notify {
    /// Runs the command with the code in its environment (never in argv),
    /// stdin closed and its stdout sent to our stderr, so it can neither
    /// read the helper request nor write into our answer. Waits a couple
    /// of seconds at most; a failure is a warning, the sign-in goes on.
    fn run(&self, uri: &str, code: &str, expires_in: u64, message: &str) {
        let warn = |why: String| {
            eprintln!("ooauth2: warning: notify_cmd {why}; still waiting for the sign-in");
        };
        let stdout = match std::io::stderr().as_fd().try_clone_to_owned() {
            Ok(fd) => Stdio::from(fd),
            Err(_) => Stdio::null(),
        };
        let child = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .env("OOAUTH2_VERIFICATION_URI", uri)
            .env("OOAUTH2_USER_CODE", code)
            .env("OOAUTH2_EXPIRES_IN", expires_in.to_string())
            .env("OOAUTH2_MESSAGE", message)
            .env("OOAUTH2_ACCOUNT", &self.user)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::inherit())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => return warn(format!("could not be started ({e})")),
        };
        let start = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return,
                Ok(Some(status)) => {
                    return warn(match status.code() {
                        Some(c) => format!("failed with exit status {c}"),
                        None => "was killed by a signal".to_string(),
                    });
                }
                Ok(None) if start.elapsed() < NOTIFY_WAIT => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => {
                    // Still running (a notifier that waits for a click): reap it later.
                    std::thread::spawn(move || child.wait());
                    return;
                }
                Err(e) => return warn(format!("could not be waited for ({e})")),
            }
        }
    }
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
        if let Some(notify) = &self.notify
            && !terminal()
        {
            notify.run(
                &auth.verification_uri,
                &auth.user_code,
                auth.expires_in,
                &message,
            );
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

    fn show_authorize(&mut self, url: &str, redirect_uri: &str, wait: Duration, open: bool) {
        let port = redirect_uri
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .unwrap_or("PORT");
        let text = format!(
            "To sign in, open this page in a web browser:\n\n  {url}\n\n\
             Waiting up to {} for the browser to come back to {redirect_uri}\n\
             (a browser on another machine needs the port forwarded first: ssh -L {port}:127.0.0.1:{port} THIS-HOST)...\n",
            minutes(wait)
        );
        let mut stderr = std::io::stderr();
        let _ = stderr.write_all(text.as_bytes());
        if !stderr.is_terminal()
            && let Some(mut t) = tty()
        {
            let _ = t.write_all(text.as_bytes());
        }
        if open {
            open_browser(url);
        }
        // The browser flow has no code to type: the page itself is the message.
        if let Some(notify) = &self.notify
            && !terminal()
        {
            notify.run(url, "", wait.as_secs(), &text);
        }
    }
}

/// "5 minutes", "1 minute", "30 seconds".
fn minutes(d: Duration) -> String {
    let s = d.as_secs();
    match (s % 60, s / 60) {
        (0, 1) => "1 minute".to_string(),
        (0, m) => format!("{m} minutes"),
        _ => format!("{s} seconds"),
    }
}

/// Opens `url` (which holds no secret) with `xdg-open`; its output goes to
/// stderr, never into our answer. A failure is a warning: the URL is printed.
fn open_browser(url: &str) {
    let out = match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::null(),
    };
    match Command::new("xdg-open")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::inherit())
        .spawn()
    {
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => eprintln!("ooauth2: warning: cannot start xdg-open ({e}); open the page by hand"),
    }
}

impl SignInUi for TerminalUi {
    fn can_prompt(&self) -> bool {
        terminal() || self.notify.is_some()
    }
}
