//! The programs started for the person: the user's `notify_cmd`, a desktop
//! notification (`notify-send`) and the browser (`xdg-open`). Each gets
//! stdin closed and our stderr as its stdout, so it can neither read the
//! helper request nor write into our answer; none of them is ever handed a
//! secret in argv, nor the browser sign-in's URL (its `state` would let
//! another local user finish the sign-in with an account of theirs): the
//! browser opens a private page leading there.

use ooauth2::protocol::keys::RequestKey;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long `show` waits for a notifier before polling anyway.
const NOTIFY_WAIT: Duration = Duration::from_secs(2);

/// A `notify_cmd` and the account it speaks for.
pub(super) struct Notify {
    /// The command, run with `sh -c`.
    command: String,
    /// The account signing in, or empty.
    user: String,
}

impl Notify {
    /// The `notify_cmd` `command`, speaking for `user` (empty if unknown).
    pub(super) fn new(command: String, user: &str) -> Notify {
        Notify {
            command,
            user: user.to_string(),
        }
    }

    /// Runs the command with the code in its environment (never in argv).
    pub(super) fn run(&self, uri: &str, code: &str, expires_in: u64, message: &str) {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(&self.command)
            .env("OOAUTH2_VERIFICATION_URI", uri)
            .env("OOAUTH2_USER_CODE", code)
            .env("OOAUTH2_EXPIRES_IN", expires_in.to_string())
            .env("OOAUTH2_MESSAGE", message)
            .env("OOAUTH2_ACCOUNT", &self.user);
        run_notifier(cmd, RequestKey::NotifyCmd.name());
    }
}

/// Tells the page (and the code, if there is one) by `notify-send`
/// (`program`), for `user` if known.
pub(super) fn desktop_notification(
    program: PathBuf,
    user: &str,
    uri: &str,
    code: &str,
    expires_in: u64,
) {
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

/// A notifier started and not waited for (`keepalive`): its child and name.
pub struct Started(std::process::Child, &'static str);

/// Tells the person that `user` needs a new sign-in, `message` saying how:
/// by the `notify_cmd` `command` (the message in `OOAUTH2_MESSAGE`, the
/// account in `OOAUTH2_ACCOUNT`, `OOAUTH2_EVENT=sign-in-needed`, no page or
/// code), else by `notify-send` when `notify_send` allows it and a desktop
/// session is there. Never waits: see [`settle`].
pub fn tell_sign_in_needed(
    command: Option<&str>,
    notify_send_allowed: bool,
    user: &str,
    message: &str,
) -> Option<Started> {
    let (mut cmd, name) = match command {
        Some(command) => {
            let mut cmd = Command::new("sh");
            cmd.arg("-c")
                .arg(command)
                .env("OOAUTH2_EVENT", "sign-in-needed")
                .env("OOAUTH2_VERIFICATION_URI", "")
                .env("OOAUTH2_USER_CODE", "")
                .env("OOAUTH2_EXPIRES_IN", "0")
                .env("OOAUTH2_MESSAGE", message)
                .env("OOAUTH2_ACCOUNT", user);
            (cmd, RequestKey::NotifyCmd.name())
        }
        None => {
            let mut cmd = Command::new(notify_send(notify_send_allowed)?);
            cmd.arg("--app-name=ooauth2")
                .arg("--urgency=critical")
                .arg(format!("ooauth2: sign-in needed for {user}"))
                .arg(message);
            (cmd, "notify-send")
        }
    };
    let child = cmd
        .stdin(Stdio::null())
        .stdout(our_stderr())
        .stderr(Stdio::inherit())
        .spawn();
    match child {
        Ok(child) => Some(Started(child, name)),
        Err(e) => {
            eprintln!("ooauth2: warning: {name} could not be started ({e})");
            None
        }
    }
}

/// Gives the started notifiers up to `wait` in all to finish, warning of
/// each that failed; one still running then is left to run on its own.
pub fn settle(started: Vec<Started>, wait: Duration) {
    let deadline = Instant::now() + wait;
    for Started(mut child, name) in started {
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => break,
                Ok(Some(status)) => {
                    eprintln!("ooauth2: warning: {name} failed ({status})");
                    break;
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) | Err(_) => break,
            }
        }
    }
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

/// Our stderr, as a child's stdout: what a helper program prints must never
/// reach our stdout, which is the answer.
fn our_stderr() -> Stdio {
    match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::null(),
    }
}

/// A page only this user can read that sends a browser on to a URL, so
/// that the URL (an authorization URL holds the sign-in's `state`, a
/// device page its code) is never on a command line, which every local
/// user can read in /proc. It lives in a fresh 0700 directory under
/// `$XDG_RUNTIME_DIR` (else the temp directory), is 0600, and is removed
/// with its directory on drop.
pub(super) struct PrivatePage {
    dir: PathBuf,
    file: PathBuf,
}

impl PrivatePage {
    /// Writes the page leading to `url`.
    pub(super) fn write(url: &str) -> std::io::Result<PrivatePage> {
        let dir = private_dir()?;
        // From here on, drop removes what was made.
        let page = PrivatePage {
            file: dir.join("sign-in.html"),
            dir,
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&page.file)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(redirect_page(url).as_bytes())?;
        Ok(page)
    }

    /// The page, as a `file://` URL.
    pub(super) fn url(&self) -> String {
        format!("file://{}", self.file.display())
    }
}

impl Drop for PrivatePage {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A new directory only this user can enter, under `$XDG_RUNTIME_DIR`
/// (absolute and a directory) or else the temp directory.
fn private_dir() -> std::io::Result<PathBuf> {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute() && d.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let mut last = None;
    for n in 0..16u32 {
        let dir = base.join(format!(
            "ooauth2-sign-in-{}-{stamp:x}-{n}",
            std::process::id()
        ));
        // Made 0700 at once (the umask can only take bits away), then set
        // so whatever the umask; a name already there is never reused.
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
                return Ok(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free name")))
}

/// The page: a refresh to `url` at once, and a link to it.
fn redirect_page(url: &str) -> String {
    let url = html_attribute(url);
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta http-equiv=\"refresh\" content=\"0; url={url}\">\n\
         <title>ooauth2: sign in</title></head>\n\
         <body><p><a href=\"{url}\">Continue to the sign-in page</a></p></body></html>\n"
    )
}

/// `s` escaped for an HTML attribute value in double quotes.
fn html_attribute(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Opens `url` in a browser with `xdg-open`, by way of a [`PrivatePage`]
/// (`url` is never in its argv); its output goes to stderr, never into
/// our answer. The page must live until the sign-in ends: the caller
/// keeps it. A failure is a warning: the URL is printed.
pub(super) fn open_browser(url: &str) -> Option<PrivatePage> {
    let page = match PrivatePage::write(url) {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "ooauth2: warning: cannot write the private page that opens the browser \
                 ({e}); open the page by hand"
            );
            return None;
        }
    };
    match Command::new("xdg-open")
        .arg(&page.file)
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
    Some(page)
}

/// Whether `url` is a web page (what a browser may be handed).
pub(super) fn is_web_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// Whether a browser can be opened unasked: a display and `xdg-open`.
pub(super) fn browser_available() -> bool {
    graphical_session() && on_path("xdg-open").is_some()
}

/// `notify-send`, when it may be used: not turned off, a desktop session,
/// and the program on PATH.
pub(super) fn notify_send(allowed: bool) -> Option<PathBuf> {
    if !allowed || !desktop_session() {
        return None;
    }
    on_path("notify-send")
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

/// The executable `name` in a directory of PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_pages_are_opened() {
        assert!(is_web_url("https://x/y") && is_web_url("HTTP://127.0.0.1/"));
        assert!(!is_web_url("file:///etc/passwd") && !is_web_url("javascript:x"));
    }
}
