//! The person's side of a sign-in. At a terminal: the page and the code set
//! apart, a QR code of the page when the window is large enough, and a live
//! countdown until the code expires; ENTER polls at once, and in the auth
//! code flow a pasted redirect URL (or code) stands in for the browser. In a
//! pipe: the same instructions as plain text. With no terminal at all: the
//! user's `notify_cmd`, else a desktop notification (`notify-send`). A
//! browser is opened when asked, or by default in a desktop session.

use ooauth2::flows::SignInUi;
use ooauth2::oauth::DeviceAuth;
use qrcodegen::{QrCode, QrCodeEcc};
use std::fs::OpenOptions;
use std::io::{BufRead, IsTerminal, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError, channel};
use std::time::{Duration, Instant};

/// Sign-in instructions for a person at a terminal.
pub struct TerminalUi {
    /// Whether lines on stdin are the person's (the login command, legacy
    /// mode): ENTER polls now, a pasted line answers the auth code flow.
    enter_on_stdin: bool,
    lines: Option<Receiver<String>>,
    notify: Option<Notify>,
    /// The account signing in, if known (for notifications).
    user: String,
    /// `open_browser`: `None` opens one when a desktop session is detected.
    open: Option<bool>,
    /// The live countdown of a device sign-in shown on a terminal.
    countdown: Option<Countdown>,
    /// Whether `notify-send` may stand in for a missing `notify_cmd`.
    notify_send: bool,
}

/// How long `show` waits for a notifier before polling anyway.
const NOTIFY_WAIT: Duration = Duration::from_secs(2);

/// The QR code's quiet zone, in modules (ISO/IEC 18004 asks for 4).
const QUIET: i32 = 4;

/// Lines of the sign-in screen besides the QR code; the window must hold
/// them too, or the QR code is left out.
const SCREEN_LINES: u16 = 12;

/// Columns the countdown line is padded to, so a shorter text overwrites a
/// longer one without an escape sequence.
const COUNTDOWN_WIDTH: usize = 32;

/// A `notify_cmd` and the account it speaks for.
struct Notify {
    command: String,
    user: String,
}

/// Where the sign-in screen is drawn: stderr when it is a terminal, else
/// the controlling terminal.
enum Screen {
    Stderr,
    Tty(std::fs::File),
}

impl Screen {
    /// The terminal that can show the screen, if any.
    fn open() -> Option<Screen> {
        if std::io::stderr().is_terminal() {
            Some(Screen::Stderr)
        } else {
            tty().map(Screen::Tty)
        }
    }

    fn write(&mut self, text: &str) {
        let _ = match self {
            Screen::Stderr => {
                let mut e = std::io::stderr().lock();
                e.write_all(text.as_bytes()).and_then(|()| e.flush())
            }
            Screen::Tty(f) => f.write_all(text.as_bytes()).and_then(|()| f.flush()),
        };
    }

    /// Columns and rows of the window.
    fn size(&self) -> Option<(u16, u16)> {
        let size = match self {
            Screen::Stderr => terminal_size::terminal_size_of(std::io::stderr().as_fd()),
            Screen::Tty(f) => terminal_size::terminal_size_of(f.as_fd()),
        };
        size.map(|(w, h)| (w.0, h.0))
    }
}

/// The countdown line under the sign-in screen.
struct Countdown {
    screen: Screen,
    deadline: Instant,
    /// The line on the screen now: redrawn only when it changes.
    shown: String,
}

impl Countdown {
    /// Redraws the line in place (a carriage return, no escape sequence).
    fn tick(&mut self) {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let line = countdown_line(left);
        if line != self.shown {
            self.screen
                .write(&format!("\r{line:<w$}", w = COUNTDOWN_WIDTH));
            self.shown = line;
        }
    }

    /// Blanks the line, leaving the cursor at its start.
    fn clear(&mut self) {
        self.screen
            .write(&format!("\r{:w$}\r", "", w = COUNTDOWN_WIDTH));
        self.shown.clear();
    }

    /// How long until the shown number of seconds changes (just past it).
    fn until_next_change(&self, now: Instant) -> Duration {
        let left = self.deadline.saturating_duration_since(now);
        let frac = Duration::from_nanos(u64::from(left.subsec_nanos()));
        let step = if frac.is_zero() {
            Duration::from_secs(1)
        } else {
            frac
        };
        step + Duration::from_millis(5)
    }
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
            .map(|command| Notify {
                command,
                user: user.unwrap_or_default().to_string(),
            });
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
        notify_send(self.notify_send)
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

    /// Whether to open the sign-in page in a browser.
    fn should_open(&self) -> bool {
        self.open
            .unwrap_or_else(|| graphical_session() && on_path("xdg-open").is_some())
    }

    /// Tells the person by `notify_cmd`, else `notify-send`, when no
    /// terminal can show the instructions.
    fn notify_elsewhere(&self, uri: &str, code: &str, expires_in: u64, message: &str) {
        if terminal() {
            return;
        }
        let user = self.user.as_str();
        if let Some(notify) = &self.notify {
            notify.run(uri, code, expires_in, message);
        } else if let Some(program) = self.notify_send() {
            let account = if user.is_empty() {
                String::new()
            } else {
                format!(" for {user}")
            };
            let body = if code.is_empty() {
                format!("Open this page to sign in: {uri}")
            } else {
                format!(
                    "Open {uri} and enter the code {code} (valid for {} minutes).",
                    expires_in.div_ceil(60)
                )
            };
            let mut cmd = Command::new(program);
            cmd.arg("--app-name=ooauth2")
                .arg("--urgency=critical")
                .arg(format!("ooauth2: sign-in needed{account}"))
                .arg(body);
            run_notifier(cmd, "notify-send");
        }
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

fn tty() -> Option<std::fs::File> {
    OpenOptions::new().write(true).open("/dev/tty").ok()
}

/// Whether a terminal can show the instructions.
fn terminal() -> bool {
    std::io::stderr().is_terminal() || tty().is_some()
}

/// Whether the environment variable is set to something.
fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// A display a browser can open on (X11 or Wayland).
fn graphical_session() -> bool {
    env_set("DISPLAY") || env_set("WAYLAND_DISPLAY")
}

/// A desktop session that can show a notification.
fn desktop_session() -> bool {
    env_set("DBUS_SESSION_BUS_ADDRESS") || graphical_session()
}

/// `notify-send`, when it may be used: not turned off, a desktop session,
/// and the program on PATH.
fn notify_send(allowed: bool) -> Option<PathBuf> {
    if !allowed || !desktop_session() {
        return None;
    }
    on_path("notify-send")
}

/// The executable `name` in a directory of PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Whether text may be styled: `NO_COLOR` unset or empty
/// (<https://no-color.org>) and a `TERM` that is known and not `dumb`.
pub fn colour_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").is_ok_and(|t| !t.is_empty() && t != "dumb")
}

/// Runs a notifier with stdin closed and its stdout sent to our stderr, so
/// it can neither read the helper request nor write into our answer. Waits
/// a couple of seconds at most; a failure is a warning, the sign-in goes on.
fn run_notifier(mut cmd: Command, name: &str) {
    let warn = |why: String| {
        eprintln!("ooauth2: warning: {name} {why}; still waiting for the sign-in");
    };
    let child = cmd
        .stdin(Stdio::null())
        .stdout(our_stderr())
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

impl Notify {
    /// Runs the command with the code in its environment (never in argv).
    fn run(&self, uri: &str, code: &str, expires_in: u64, message: &str) {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(&self.command)
            .env("OOAUTH2_VERIFICATION_URI", uri)
            .env("OOAUTH2_USER_CODE", code)
            .env("OOAUTH2_EXPIRES_IN", expires_in.to_string())
            .env("OOAUTH2_MESSAGE", message)
            .env("OOAUTH2_ACCOUNT", &self.user);
        run_notifier(cmd, "notify_cmd");
    }
}

/// Whether `url` is a web page (what a browser may be handed).
fn is_web_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// The QR code of `text` drawn with Unicode half blocks, quiet zone
/// included: two module rows per line, the dark modules in ink (`▀` top,
/// `▄` bottom, `█` both). `None` if `text` is too long for a QR code.
pub fn qr_rows(text: &str) -> Option<Vec<String>> {
    let qr = QrCode::encode_text(text, QrCodeEcc::Low).ok()?;
    let (lo, hi) = (-QUIET, qr.size() + QUIET);
    let rows = (lo..hi)
        .step_by(2)
        .map(|y| {
            (lo..hi)
                .map(|x| match (qr.get_module(x, y), qr.get_module(x, y + 1)) {
                    (true, true) => '█',
                    (true, false) => '▀',
                    (false, true) => '▄',
                    (false, false) => ' ',
                })
                .collect()
        })
        .collect();
    Some(rows)
}

/// The QR code block for a window of `cols` x `rows`, or `None` when it
/// does not fit. With `colour`, black on white whatever the theme.
fn qr_block(text: &str, cols: u16, rows: u16, colour: bool) -> Option<String> {
    let lines = qr_rows(text)?;
    let width = lines.first().map(|l| l.chars().count())?;
    if width > usize::from(cols) || lines.len() + usize::from(SCREEN_LINES) > usize::from(rows) {
        return None;
    }
    let mut out = String::new();
    for line in lines {
        if colour {
            out.push_str(&format!("\x1b[30;107m{line}\x1b[0m\n"));
        } else {
            out.push_str(&line);
            out.push('\n');
        }
    }
    Some(out)
}

/// "code expires in 14:32", or that it expired.
pub fn countdown_line(left: Duration) -> String {
    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    if secs == 0 {
        return "the code has expired".to_string();
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("code expires in {h}:{m:02}:{s:02}")
    } else {
        format!("code expires in {m}:{s:02}")
    }
}

/// The device sign-in screen for a terminal: the page and the code set
/// apart (bold with `bold`), then the QR code block if there is one.
fn device_screen(auth: &DeviceAuth, bold: bool, qr: Option<&str>, enter_hint: bool) -> String {
    let b = |s: &str| {
        if bold {
            format!("\x1b[1m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut text = format!(
        "To sign in, open this page in a web browser:\n\n    {}\n\nand enter the code:\n\n    {}\n\n",
        b(&auth.verification_uri),
        b(&auth.user_code)
    );
    if let Some(qr) = qr {
        text.push_str(qr);
        text.push_str(if auth.verification_uri_complete.is_some() {
            "Or scan the QR code with a phone: it opens the page with the code filled in.\n\n"
        } else {
            "Or scan the QR code with a phone to open the page.\n\n"
        });
    }
    text.push_str("Waiting for the sign-in");
    if enter_hint {
        text.push_str("; press ENTER once you are done to check at once");
    }
    text.push_str("...\n");
    text
}

impl SignInUi for TerminalUi {
    fn can_prompt(&self) -> bool {
        terminal() || self.notify.is_some() || self.notify_send().is_some()
    }

    fn show(&mut self, auth: &DeviceAuth) {
        let message = auth.message.clone().unwrap_or_else(|| {
            format!(
                "To sign in, use a web browser to open the page {} and enter the code {} to authenticate.",
                auth.verification_uri, auth.user_code
            )
        });
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
            let mut text = format!(
                "{message}\nWaiting for the sign-in (the code is valid for {} minutes)",
                auth.expires_in.div_ceil(60)
            );
            if enter_hint {
                text.push_str("; press ENTER once you are done to check at once");
            }
            text.push_str("...\n");
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
        if let Some(mut screen) = screen {
            let colour = colour_allowed();
            let qr = screen
                .size()
                .and_then(|(cols, rows)| qr_block(page, cols, rows, colour));
            screen.write(&device_screen(auth, colour, qr.as_deref(), enter_hint));
            let mut countdown = Countdown {
                screen,
                deadline: Instant::now() + Duration::from_secs(auth.expires_in),
                shown: String::new(),
            };
            countdown.tick();
            self.countdown = Some(countdown);
        }
        if self.should_open() && is_web_url(page) {
            open_browser(page);
        }
        self.notify_elsewhere(
            &auth.verification_uri,
            &auth.user_code,
            auth.expires_in,
            &message,
        );
    }

    fn wait(&mut self, interval: Duration) {
        let end = Instant::now() + interval;
        loop {
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
            if self.wait_for_line(step) {
                return;
            }
        }
    }

    fn finish(&mut self) {
        if let Some(mut c) = self.countdown.take() {
            c.clear();
        }
    }

    fn warn(&mut self, message: &str) {
        // The warning must not land in the middle of the countdown line.
        if let Some(c) = &mut self.countdown
            && matches!(c.screen, Screen::Stderr)
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
        let port = redirect_uri
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .unwrap_or("PORT");
        let mut text = format!(
            "To sign in, open this page in a web browser:\n\n  {url}\n\n\
             Waiting up to {} for the browser to come back to {redirect_uri}\n\
             (a browser on another machine needs the port forwarded first: ssh -L {port}:127.0.0.1:{port} THIS-HOST)...\n",
            minutes(wait)
        );
        if self.lines.is_some() {
            text.push_str(&format!(
                "No browser here? Open the page on any device, sign in, then paste the address \
                 the browser ends up at (it starts with {redirect_uri}, the page itself may fail \
                 to load), or just its code, and press ENTER.\n"
            ));
        }
        let _ = std::io::stderr().write_all(text.as_bytes());
        // Redirected stderr: the person sees it on the terminal too.
        if let Some(mut tty @ Screen::Tty(_)) = Screen::open() {
            tty.write(&text);
        }
        if self.should_open() && is_web_url(url) {
            open_browser(url);
        }
        // The browser flow has no code to type: the page itself is the message.
        self.notify_elsewhere(url, "", wait.as_secs(), &text);
    }
}

/// Our stderr, as a child's stdout: what a helper program prints must never
/// reach our stdout, which is the answer.
fn our_stderr() -> Stdio {
    match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::null(),
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
    match Command::new("xdg-open")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(our_stderr())
        .stderr(Stdio::inherit())
        .spawn()
    {
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => eprintln!("ooauth2: warning: cannot start xdg-open ({e}); open the page by hand"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a half-block rendering back into module rows.
    fn decode(rows: &[String]) -> Vec<Vec<bool>> {
        let mut out = Vec::new();
        for row in rows {
            let (mut top, mut bottom) = (Vec::new(), Vec::new());
            for c in row.chars() {
                let (t, b) = match c {
                    '█' => (true, true),
                    '▀' => (true, false),
                    '▄' => (false, true),
                    ' ' => (false, false),
                    other => panic!("unexpected {other:?} in the QR code"),
                };
                top.push(t);
                bottom.push(b);
            }
            out.push(top);
            out.push(bottom);
        }
        out
    }

    #[test]
    fn qr_rendering_decodes_to_the_encoders_modules_with_a_quiet_zone() {
        for text in [
            "https://microsoft.com/devicelogin",
            "http://127.0.0.1:4242/devicelogin?otc=ABCD1234",
            "x",
        ] {
            let qr = QrCode::encode_text(text, QrCodeEcc::Low).unwrap();
            let rows = qr_rows(text).unwrap();
            let side = (qr.size() + 2 * QUIET) as usize;
            assert_eq!(rows.len(), side.div_ceil(2));
            let m = decode(&rows);
            // The odd last half row is light padding.
            assert!(m[side..].iter().flatten().all(|d| !d));
            for (y, row) in m[..side].iter().enumerate() {
                assert_eq!(row.len(), side);
                for (x, &dark) in row.iter().enumerate() {
                    let (qx, qy) = (x as i32 - QUIET, y as i32 - QUIET);
                    assert_eq!(dark, qr.get_module(qx, qy), "{text}: module {qx},{qy}");
                }
            }
        }
    }

    #[test]
    fn qr_block_needs_room_and_is_plain_without_colour() {
        let url = "https://microsoft.com/devicelogin";
        let width = qr_rows(url).unwrap()[0].chars().count() as u16;
        let height = qr_rows(url).unwrap().len() as u16;
        assert!(qr_block(url, width - 1, 100, true).is_none());
        assert!(qr_block(url, 200, height + SCREEN_LINES - 1, true).is_none());
        let plain = qr_block(url, width, height + SCREEN_LINES, false).unwrap();
        assert!(!plain.contains('\x1b'));
        assert_eq!(plain.lines().count(), height as usize);
        let styled = qr_block(url, width, height + SCREEN_LINES, true).unwrap();
        assert!(styled.lines().all(|l| l.starts_with("\x1b[30;107m")));
        assert!(qr_rows(&"x".repeat(8000)).is_none());
    }

    #[test]
    fn countdown_shows_minutes_and_seconds_rounded_up() {
        let s = Duration::from_secs;
        assert_eq!(countdown_line(s(872)), "code expires in 14:32");
        assert_eq!(
            countdown_line(Duration::from_millis(871_200)),
            "code expires in 14:32"
        );
        assert_eq!(countdown_line(s(59)), "code expires in 0:59");
        assert_eq!(countdown_line(s(3600)), "code expires in 1:00:00");
        assert_eq!(countdown_line(Duration::ZERO), "the code has expired");
        assert!(countdown_line(s(3600)).len() <= COUNTDOWN_WIDTH);
    }

    fn auth(complete: Option<&str>) -> DeviceAuth {
        DeviceAuth {
            device_code: "SECRET-DEVICE-CODE".into(),
            user_code: "ABCD1234".into(),
            verification_uri: "https://example.com/device".into(),
            verification_uri_complete: complete.map(str::to_string),
            expires_in: 900,
            interval: 5,
            message: None,
        }
    }

    #[test]
    fn screen_sets_page_and_code_apart_bold_only_when_allowed() {
        let plain = device_screen(&auth(None), false, None, true);
        assert!(
            plain.contains("\n    https://example.com/device\n"),
            "{plain}"
        );
        assert!(plain.contains("\n    ABCD1234\n"), "{plain}");
        assert!(plain.contains("press ENTER"));
        assert!(!plain.contains('\x1b') && !plain.contains("QR"));
        assert!(!plain.contains("SECRET-DEVICE-CODE"));
        let bold = device_screen(&auth(Some("https://e/x?c=1")), true, Some("QR\n"), false);
        assert!(bold.contains("\x1b[1mABCD1234\x1b[0m"), "{bold}");
        assert!(bold.contains("QR\nOr scan") && bold.contains("code filled in"));
        assert!(!bold.contains("press ENTER"));
    }

    #[test]
    fn only_web_pages_are_opened() {
        assert!(is_web_url("https://x/y") && is_web_url("HTTP://127.0.0.1/"));
        assert!(!is_web_url("file:///etc/passwd") && !is_web_url("javascript:x"));
    }
}
