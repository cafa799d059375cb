//! The person's side of a sign-in. At a terminal: the page and the code set
//! apart, a QR code of the page when the window is large enough, and a live
//! countdown until the code expires; ENTER polls at once (nothing typed is
//! echoed onto the countdown, and a pending answer says so), Ctrl-C says
//! that nothing was stored, and in the auth
//! code flow a pasted redirect URL (or code) stands in for the browser. In a
//! pipe: the same instructions as plain text. With no terminal at all: the
//! user's `notify_cmd`, else a desktop notification (`notify-send`). A
//! browser is opened when asked, or by default in a desktop session.
//!
//! This file is what the engine sees: [`TerminalUi`] and its one `impl` per
//! trait. Where text goes and when it may be styled is screen.rs, the words
//! instructions.rs, the QR code qr.rs, the countdown countdown.rs, the
//! echo under it echo.rs, and the programs started for the person
//! (notifiers, the browser) launch.rs.

mod countdown;
pub(crate) mod echo;
mod instructions;
mod launch;
mod qr;
mod screen;

pub use launch::{Started, settle, tell_sign_in_needed};
pub use screen::colour_allowed;

use countdown::Countdown;
use launch::Notify;
use ooauth2::flows::SignInUi;
use ooauth2::oauth::DeviceAuth;
use ooauth2::signals::{self, Held};
use screen::Screen;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError, channel};
use std::time::{Duration, Instant};

/// What the countdown line says for a while after ENTER when the provider
/// answered that the person has not signed in yet.
const STILL_WAITING: &str = "not signed in yet, still waiting";

/// How long that note stays before the countdown comes back.
const NOTE_FOR: Duration = Duration::from_secs(3);

/// How often a wait looks for a termination signal that arrived.
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// Sign-in instructions for a person at a terminal.
pub struct TerminalUi {
    /// Whether lines on stdin are the person's (the login command, legacy
    /// mode): ENTER polls now, a pasted line answers the auth code flow.
    enter_on_stdin: bool,
    /// The person's stdin lines, once something listens for them.
    lines: Option<Receiver<String>>,
    /// The `notify_cmd`, if there is one.
    notify: Option<Notify>,
    /// The account signing in, if known (for notifications).
    user: String,
    /// `open_browser`: `None` opens one when a desktop session is detected.
    open: Option<bool>,
    /// The live countdown of a device sign-in shown on a terminal.
    countdown: Option<Countdown>,
    /// Whether `notify-send` may stand in for a missing `notify_cmd`.
    notify_send: bool,
    /// The private page a browser was sent to, kept until the sign-in ends.
    page: Option<launch::PrivatePage>,
    /// Termination signals, held while a device sign-in waits, so that the
    /// wait can say what they stop before they act.
    held: Option<Held>,
    /// The terminal's echo, off while the countdown runs.
    echo: Option<echo::EchoOff>,
    /// Whether the last wait ended with ENTER (the poll after it was pending
    /// if the next wait comes).
    entered: bool,
}

impl TerminalUi {
    /// A UI; with `enter_on_stdin`, lines on stdin are the person's.
    pub fn new(enter_on_stdin: bool) -> TerminalUi {
        TerminalUi {
            enter_on_stdin,
            lines: None,
            notify: None,
            user: String::new(),
            open: None,
            countdown: None,
            notify_send: true,
            page: None,
            held: None,
            echo: None,
            entered: false,
        }
    }

    /// Whether `notify-send` may tell the code when nothing else can
    /// (`OOAUTH2_NOTIFY_SEND=0` says no).
    pub fn with_notify_send(mut self, allowed: bool) -> TerminalUi {
        self.notify_send = allowed;
        self
    }

    /// Tells the code to `command` (run with `sh -c`) when no terminal can
    /// show it; `user` is the account signing in, if known. With a command,
    /// a sign-in is possible without a terminal.
    pub fn with_notify(mut self, command: Option<String>, user: Option<&str>) -> TerminalUi {
        self.user = user.unwrap_or_default().to_string();
        self.notify = command
            .filter(|c| !c.trim().is_empty())
            .map(|command| Notify::new(command, user.unwrap_or_default()));
        self
    }

    /// The `open_browser` wish: `Some(true)` always opens the sign-in page,
    /// `Some(false)` never, `None` when a desktop session is detected.
    pub fn with_open(mut self, open: Option<bool>) -> TerminalUi {
        self.open = open;
        self
    }

    /// `notify-send`, when this UI may use it.
    fn notify_send(&self) -> Option<PathBuf> {
        launch::notify_send(self.notify_send)
    }

    /// Starts reading stdin lines, once, if they are the person's.
    fn listen_for_lines(&mut self) {
        if !self.enter_on_stdin || self.lines.is_some() {
            return;
        }
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let stdin = std::io::stdin();
            let mut line = String::new();
            while stdin.lock().read_line(&mut line).is_ok_and(|n| n > 0) {
                if tx.send(std::mem::take(&mut line)).is_err() {
                    break;
                }
            }
        });
        self.lines = Some(rx);
    }

    /// Opens `page` in a browser when that is wished (or, unsaid, when a
    /// desktop session can show one) and it is a web page. The browser is
    /// handed a private page leading there, kept until the sign-in ends.
    fn maybe_open(&mut self, page: &str) {
        let open = self.open.unwrap_or_else(launch::browser_available);
        if open && launch::is_web_url(page) {
            self.page = launch::open_browser(page);
        }
    }

    /// Tells the person by `notify_cmd` (`uri` in its environment), else
    /// `notify-send`, when no terminal can show the instructions. With
    /// `private`, `uri` must stay off command lines: notify-send names the
    /// private page leading there instead.
    fn notify_elsewhere(
        &mut self,
        uri: &str,
        code: &str,
        expires_in: u64,
        message: &str,
        private: bool,
    ) {
        if screen::terminal() {
            return;
        }
        if let Some(notify) = &self.notify {
            notify.run(uri, code, expires_in, message);
            return;
        }
        let Some(program) = self.notify_send() else {
            return;
        };
        let shown = match private {
            false => uri.to_string(),
            true => match self.private_page(uri) {
                Some(page) => page,
                None => return,
            },
        };
        launch::desktop_notification(program, &self.user, &shown, code, expires_in);
    }

    /// The private page leading to `url` (the browser's, else one written
    /// now), as a `file://` URL.
    fn private_page(&mut self, url: &str) -> Option<String> {
        if self.page.is_none() {
            match launch::PrivatePage::write(url) {
                Ok(page) => self.page = Some(page),
                Err(e) => eprintln!(
                    "ooauth2: warning: cannot write the private sign-in page ({e}); \
                     no notification was sent"
                ),
            }
        }
        self.page.as_ref().map(launch::PrivatePage::url)
    }

    /// Tells that the check ENTER asked for found no sign-in yet: in the
    /// countdown's place for a moment, else on a line of its own.
    fn still_waiting(&mut self) {
        match &mut self.countdown {
            Some(c) => c.note(STILL_WAITING, NOTE_FOR),
            None => eprintln!("ooauth2: {STILL_WAITING}"),
        }
    }

    /// Ends the process as a termination signal that arrived during the
    /// wait asks, first tidying the screen and saying that nothing was
    /// stored (a device sign-in stores only once the person is done).
    fn stop_if_signalled(&mut self) {
        let Some(sig) = signals::pending() else {
            return;
        };
        let how = match sig {
            libc::SIGINT => " (Ctrl-C)",
            _ => "",
        };
        if let Some(mut c) = self.countdown.take() {
            c.clear();
        }
        self.echo = None;
        let _ = std::io::stderr().write_all(
            format!(
                "ooauth2: error: the sign-in was interrupted{how}; nothing was stored\n\
                 ooauth2: hint: run the same command again to sign in\n"
            )
            .as_bytes(),
        );
        self.page = None;
        // The last guard: the signal acts now, as it would have at once.
        self.held = None;
        std::process::exit(128 + sig);
    }

    /// Waits up to `d` for a line on stdin; true if one came (poll now).
    fn wait_for_line(&mut self, d: Duration) -> bool {
        let Some(rx) = &self.lines else {
            std::thread::sleep(d);
            return false;
        };
        let start = Instant::now();
        match rx.recv_timeout(d) {
            Ok(_) => true,
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => {
                std::thread::sleep(d.saturating_sub(start.elapsed()));
                self.lines = None;
                false
            }
        }
    }
}

impl SignInUi for TerminalUi {
    fn can_prompt(&self) -> bool {
        screen::terminal() || self.notify.is_some() || self.notify_send().is_some()
    }

    fn show(&mut self, auth: &DeviceAuth) {
        // Every place below shows the provider's strings: neutralised once here.
        let auth = &instructions::shown(auth);
        let message = instructions::device_message(auth);
        self.listen_for_lines();
        let enter_hint = self.lines.is_some() && std::io::stdin().is_terminal();
        let screen = Screen::open();
        // The page with the code filled in, where the provider gives one.
        let page = auth
            .verification_uri_complete
            .as_deref()
            .unwrap_or(&auth.verification_uri);
        if !matches!(screen, Some(Screen::Stderr)) {
            // A pipe or a log file: the plain text, no escapes, no redraws.
            let text = instructions::device_plain(&message, auth.expires_in, enter_hint);
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
        if let Some(mut screen) = screen {
            let colour = colour_allowed();
            let qr = screen
                .size()
                .map(|(cols, rows)| qr::qr_block(page, cols, rows, colour));
            let no_qr = qr.as_ref().and_then(|q| q.as_ref().err()?.line());
            screen.write(&instructions::device_screen(
                auth,
                colour,
                qr.as_ref().and_then(|q| q.as_deref().ok()),
                no_qr.as_deref(),
                enter_hint,
            ));
            let expires_in = Duration::from_secs(auth.expires_in);
            self.countdown = Some(Countdown::start(screen, expires_in));
            if enter_hint {
                self.echo = echo::EchoOff::start();
            }
        }
        self.held = Some(signals::hold());
        self.maybe_open(page);
        self.notify_elsewhere(
            &auth.verification_uri,
            &auth.user_code,
            auth.expires_in,
            &message,
            false,
        );
    }

    fn wait(&mut self, interval: Duration) {
        if std::mem::take(&mut self.entered) {
            self.still_waiting();
        }
        let end = Instant::now() + interval;
        loop {
            self.stop_if_signalled();
            if let Some(c) = &mut self.countdown {
                c.tick();
            }
            let now = Instant::now();
            if now >= end {
                return;
            }
            let step = match &self.countdown {
                Some(c) => c.until_next_change(now).min(end - now),
                None => end - now,
            };
            if self.wait_for_line(step.min(SIGNAL_CHECK)) {
                self.entered = true;
                return;
            }
        }
    }

    fn finish(&mut self) {
        if let Some(mut c) = self.countdown.take() {
            c.clear();
        }
        self.echo = None;
        // The browser has the page by now; nobody else may read it later.
        self.page = None;
        // A signal that came meanwhile acts now (a token it waited for is
        // stored first: the grant holds it too).
        self.held = None;
    }

    fn warn(&mut self, message: &str) {
        // The warning must not land in the middle of the countdown line.
        if let Some(c) = &mut self.countdown
            && c.on_stderr()
        {
            c.clear();
        }
        eprintln!("ooauth2: warning: {message}");
    }

    fn pasted(&mut self) -> Option<String> {
        let rx = self.lines.as_ref()?;
        match rx.try_recv() {
            Ok(line) => Some(line),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                self.lines = None;
                None
            }
        }
    }

    fn show_authorize(&mut self, url: &str, redirect_uri: &str, wait: Duration) {
        self.listen_for_lines();
        let text = instructions::authorize(url, redirect_uri, wait, self.lines.is_some());
        let _ = std::io::stderr().write_all(text.as_bytes());
        // Redirected stderr: the person sees it on the terminal too.
        if let Some(mut tty @ Screen::Tty(_)) = Screen::open() {
            tty.write(&text);
        }
        self.maybe_open(url);
        // The browser flow has no code to type: the page itself is the
        // message; its state must stay off notify-send's command line.
        self.notify_elsewhere(url, "", wait.as_secs(), &text, true);
    }
}
