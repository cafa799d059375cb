//! The `command` secret store: a refresh token sealed by the account's
//! `encrypt_cmd` and opened by its `decrypt_cmd` (age, gpg,
//! systemd-creds). The secret passes on the commands' stdin and stdout
//! only, never argv or the environment; their failures are
//! `secret_store_unavailable`, quoting the command's first stderr line.

use super::{MAX_OUTPUT, Secret, SecretCommand, printable_ascii};
use crate::error::{Code, Error, Result, printable, shorten};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use zeroize::Zeroizing;

/// The longest refresh token a decrypt command (or the keyring) may give (as a request's).
const MAX_TOKEN: usize = 16 * 1024;

/// The most of a command's stderr that is kept, for its first line.
const MAX_STDERR: usize = 4096;

/// What the encrypt command seals before a grant, to know it works.
const PROBE: &str = "ooauth2 encrypt_cmd probe";

/// What to check when the decrypt command `place` fails.
fn decrypt_advice(place: &str) -> String {
    format!(
        "is gpg-agent (or the key's agent) running, is the key unlocked, is the identity \
         file readable? check {place} and run it yourself"
    )
}

/// What to check when the encrypt command `place` fails.
fn encrypt_advice(place: &str) -> String {
    format!("check {place} (its recipient or key) and run it yourself: echo test | COMMAND")
}

/// An account's `command` secret store: the command pair that seals and
/// opens its refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealCommands {
    encrypt: SecretCommand,
    decrypt: SecretCommand,
}

impl SealCommands {
    /// The pair, each named in messages by `what` (`decrypt_cmd of account 'work'`).
    pub(crate) fn new(
        (encrypt_what, encrypt): (String, String),
        (decrypt_what, decrypt): (String, String),
    ) -> SealCommands {
        let command = |what: String, command| SecretCommand {
            place: what.clone(),
            what,
            command,
            code: Code::SecretStoreUnavailable,
        };
        SealCommands {
            encrypt: command(encrypt_what, encrypt),
            decrypt: command(decrypt_what, decrypt),
        }
    }

    /// Whether either command is empty or holds a NUL.
    pub(crate) fn is_unusable(&self) -> bool {
        self.encrypt.is_unusable() || self.decrypt.is_unusable()
    }

    /// Seals `token`: the base64 of what the encrypt command printed for it.
    pub(crate) fn seal(&self, token: &Secret, timeout: Duration) -> Result<String> {
        let out = self
            .encrypt
            .run_piped(token.expose().as_bytes(), timeout)
            .map_err(|e| e.hint(encrypt_advice(&self.encrypt.place)))?;
        if out.is_empty() {
            let advice = encrypt_advice(&self.encrypt.place);
            return Err(self.encrypt.fail("printed nothing").hint(advice));
        }
        Ok(STANDARD.encode(&*out))
    }

    /// Seals a fixed text and drops it: whether the encrypt command works,
    /// known before a grant spends anything at the provider (and by `doctor`).
    pub fn probe(&self, timeout: Duration) -> Result<()> {
        self.seal(&Secret::new(PROBE), timeout).map(drop)
    }

    /// Opens a sealed refresh token (`refresh_token_sealed`, base64).
    pub(crate) fn open(&self, sealed: &str, timeout: Duration) -> Result<Secret> {
        let bytes = Zeroizing::new(STANDARD.decode(sealed).map_err(|_| {
            Error::new(Code::StoreError, "refresh_token_sealed is not base64")
                .hint("move the record away and sign in again")
        })?);
        let out = self
            .decrypt
            .run_piped(&bytes, timeout)
            .map_err(|e| e.hint(decrypt_advice(&self.decrypt.place)))?;
        token_of(&out).ok_or_else(|| {
            self.decrypt
                .fail(format_args!(
                    "printed no usable refresh token (empty, not printable ASCII, \
                     or over {} KiB; value not shown)",
                    MAX_TOKEN / 1024
                ))
                .hint(decrypt_advice(&self.decrypt.place))
        })
    }
}

/// The refresh token a decrypt command printed: one line of printable
/// ASCII (a final newline dropped), 1 byte to `MAX_TOKEN`.
pub(super) fn token_of(out: &[u8]) -> Option<Secret> {
    let out = out.strip_suffix(b"\n").unwrap_or(out);
    let out = out.strip_suffix(b"\r").unwrap_or(out);
    let usable = !out.is_empty() && out.len() <= MAX_TOKEN && printable_ascii(out);
    // Printable ASCII is UTF-8.
    let text = std::str::from_utf8(out).ok().filter(|_| usable)?;
    Some(Secret::new(text))
}

impl SecretCommand {
    /// Runs the command with `sh -c`, `input` on its stdin, and returns all
    /// it printed on stdout (at most `MAX_OUTPUT`); a failure names its exit
    /// status and its first stderr line. Stopped (with what it started)
    /// after `timeout`.
    fn run_piped(&self, input: &[u8], timeout: Duration) -> Result<Zeroizing<Vec<u8>>> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.fail(format_args!("could not be started ({e})")))?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(self.fail("has no stdin, stdout or stderr"));
        };
        // Fed and drained on threads of their own: a command may print
        // before it has read all of its input.
        let input = Zeroizing::new(input.to_vec());
        std::thread::spawn(move || {
            // A command that reads nothing closes the pipe: its exit says why.
            let _ = stdin.write_all(&input);
        });
        let out = drain(stdout, MAX_OUTPUT as usize + 1, false);
        // What the command says (a hardware key's "touch it" prompt) reaches
        // the person as it says it; its first line also goes in a failure.
        let err = drain(stderr, MAX_STDERR, true);
        let status = self.wait(&mut child, timeout)?;
        let wait = Duration::from_secs(1);
        if !status.success() {
            let err = err.recv_timeout(wait).unwrap_or_default();
            let first = String::from_utf8_lossy(&err);
            let first = first.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            let said = match first.is_empty() {
                true => String::new(),
                false => format!(": {}", shorten(&printable(first.trim()), 200)),
            };
            return Err(self.failed(status, &said));
        }
        let out = out.recv_timeout(wait).unwrap_or_default();
        if out.len() > MAX_OUTPUT as usize {
            return Err(self.fail(format_args!("printed more than {MAX_OUTPUT} bytes")));
        }
        Ok(out)
    }
}

/// Reads `from` to its end on a thread, keeping at most `keep` bytes (the
/// rest is read and dropped, so the command never blocks on a full pipe),
/// and, with `echo`, passing all of it on to our stderr as it comes.
fn drain(
    mut from: impl Read + Send + 'static,
    keep: usize,
    echo: bool,
) -> mpsc::Receiver<Zeroizing<Vec<u8>>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut kept = Zeroizing::new(Vec::new());
        let mut buf = Zeroizing::new([0u8; 8192]);
        while let Ok(n) = from.read(&mut buf[..]) {
            if n == 0 {
                break;
            }
            if echo {
                let _ = std::io::stderr().write_all(&buf[..n]);
            }
            let room = keep.saturating_sub(kept.len());
            kept.extend_from_slice(&buf[..n.min(room)]);
        }
        let _ = tx.send(kept);
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(encrypt: &str, decrypt: &str) -> SealCommands {
        SealCommands::new(
            ("encrypt_cmd".into(), encrypt.into()),
            ("decrypt_cmd".into(), decrypt.into()),
        )
    }

    #[test]
    fn seals_and_opens_through_stdin_and_stdout() {
        let p = pair("rev", "rev");
        let t = Duration::from_secs(10);
        let sealed = p.seal(&Secret::new("rt-1"), t).unwrap();
        assert_eq!(p.open(&sealed, t).unwrap().expose(), "rt-1");
    }

    #[test]
    fn failures_name_the_status_and_stderr_but_never_the_secret() {
        let t = Duration::from_secs(10);
        let e = pair("cat", "cat >/dev/null; echo 'no key' >&2; exit 3")
            .open(&STANDARD.encode("rt-SECRET"), t)
            .unwrap_err();
        assert_eq!(e.code, Code::SecretStoreUnavailable);
        assert!(
            e.message.contains("failed with exit status 3: no key"),
            "{}",
            e.message
        );
        let e = pair("cat", "printf '\\001\\002'")
            .open(&STANDARD.encode("x"), t)
            .unwrap_err();
        assert!(
            e.message.contains("no usable refresh token"),
            "{}",
            e.message
        );
        let e = pair("cat", "cat").open("rt!", t).unwrap_err();
        assert_eq!(e.code, Code::StoreError);
    }
}
