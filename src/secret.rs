//! Secrets as a type: [`Secret`] carries every token, code and client
//! secret (redacted in `Debug`, zeroized on drop), and [`SecretCommand`]
//! runs a `client_secret_cmd`, whose secret arrives on a pipe, never argv
//! (and, in `seal`, the `encrypt_cmd`/`decrypt_cmd` of the `command`
//! secret store, fed on stdin; in `keyring`, the desktop's Secret Service).
//! [`SecretStore`] says which of them holds an account's refresh token.

pub(crate) mod keyring;
mod kind;
mod seal;

pub use kind::StoreKind;
pub use seal::SealCommands;

/// Where an account's refresh token rests (`secret_store`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretStore {
    /// In the record, in the clear (0600): the default.
    File,
    /// In the record, sealed by the account's `encrypt_cmd`.
    Command(SealCommands),
    /// In the desktop's Secret Service; the record names the item.
    Keyring,
}

impl SecretStore {
    /// Which store it is.
    pub fn kind(&self) -> StoreKind {
        match self {
            SecretStore::File => StoreKind::File,
            SecretStore::Command(_) => StoreKind::Command,
            SecretStore::Keyring => StoreKind::Keyring,
        }
    }

    /// The name `secret_store` gives it.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }
}

use crate::error::{Code, Error, Result};
use crate::settings::SECRET_CMD_TIMEOUT_ENV;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use zeroize::{Zeroize, Zeroizing};

/// A secret string: its `Debug` never shows the value, and its memory is
/// overwritten when it is dropped (copies the allocator made while it grew
/// are beyond reach; values are built at their final size where possible).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub(crate) fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret value, for the one place that sends or stores it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Its length in bytes, which may be shown (`-vv`).
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// A `client_secret_cmd`: run only when a request is about to reach the provider.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretCommand {
    /// Whose command it is, for messages: "client_secret_cmd of account 'work'".
    what: String,
    /// Where it was given, for hints: "client_secret_cmd at PATH:LINE".
    place: String,
    command: String,
    /// The code of its failures: `invalid_request` for a client secret's,
    /// `secret_store_unavailable` for a secret store's.
    code: Code,
}

impl fmt::Debug for SecretCommand {
    // The command line may embed a secret (`echo s3cret`): never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretCommand({}, <command not shown>)", self.what)
    }
}

/// Whether `bytes` are all printable ASCII (space to `~`): the one rule
/// for a token or secret that travels on one line of the wire, the store
/// and a mail client's config.
pub(crate) fn printable_ascii(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| (0x20..=0x7e).contains(b))
}

impl SecretCommand {
    /// A command given as a plain request value, named in messages by `key`.
    pub(crate) fn given_as(key: &str, command: String) -> SecretCommand {
        SecretCommand {
            what: key.to_string(),
            place: key.to_string(),
            command,
            code: Code::InvalidRequest,
        }
    }
}

/// The most of a command's stdout that is read: a secret is one short line.
const MAX_OUTPUT: u64 = 64 * 1024;

impl SecretCommand {
    /// The `client_secret_cmd` of account `account`, at `path`:`line`.
    pub(crate) fn from_config(
        account: &str,
        path: &Path,
        line: usize,
        command: String,
    ) -> SecretCommand {
        SecretCommand {
            what: format!("client_secret_cmd of account '{account}'"),
            place: format!("client_secret_cmd at {}:{line}", path.display()),
            command,
            code: Code::InvalidRequest,
        }
    }

    /// Another command of the config file: `what` names it in messages,
    /// `place` (`KEY at PATH:LINE`) in hints.
    pub(crate) fn from_config_key(what: String, place: String, command: String) -> SecretCommand {
        SecretCommand {
            what,
            place,
            command,
            code: Code::InvalidRequest,
        }
    }

    /// A `--client-secret-cmd` given on the command line.
    pub fn from_flag(command: &str) -> Result<SecretCommand> {
        let cmd = SecretCommand {
            what: "--client-secret-cmd".into(),
            place: "--client-secret-cmd".into(),
            command: command.to_string(),
            code: Code::InvalidRequest,
        };
        if cmd.is_unusable() {
            return Err(
                Error::invalid("--client-secret-cmd must be a non-empty shell command")
                    .hint("e.g. --client-secret-cmd 'pass show mail/client-secret'"),
            );
        }
        Ok(cmd)
    }

    /// The command line, as given (for the config file `ooauth2 setup` writes).
    pub(crate) fn command(&self) -> &str {
        &self.command
    }

    /// Runs the command once and drops what it printed: whether it works,
    /// known before the command is written anywhere (`ooauth2 setup`).
    pub fn check(&self, timeout: Duration) -> Result<()> {
        self.run(timeout).map(drop)
    }

    /// Whether the command is empty or holds a NUL, which no shell runs.
    pub(crate) fn is_unusable(&self) -> bool {
        self.command.trim().is_empty() || self.command.contains('\0')
    }

    /// The command ended with `status` (not success), having said `said`.
    fn failed(&self, status: ExitStatus, said: &str) -> Error {
        self.fail(match status.code() {
            Some(c) => format!("failed with exit status {c}{said}"),
            None => format!("was killed by a signal{said}"),
        })
    }

    fn fail(&self, why: impl fmt::Display) -> Error {
        Error::new(self.code, format!("{} {why}", self.what)).hint(format!(
            "check {} and run it yourself to see why",
            self.place
        ))
    }

    /// Runs the command with `sh -c`, stopping it (and what it started)
    /// after `timeout`, and returns its first stdout line.
    pub(crate) fn run(&self, timeout: Duration) -> Result<Secret> {
        // stdin is not the child's: in helper mode it carried the request.
        // Its stderr and /dev/tty stay ours, so a pinentry can still ask.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| self.fail(format_args!("could not be started ({e})")))?;
        let Some(stdout) = child.stdout.take() else {
            return Err(self.fail("has no stdout"));
        };
        // Only the first line is wanted; a program it left running in the
        // background may hold the pipe open long after.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = Zeroizing::new(Vec::new());
            let mut reader = std::io::BufReader::new(stdout.take(MAX_OUTPUT));
            let _ = std::io::BufRead::read_until(&mut reader, b'\n', &mut line);
            let _ = tx.send(line);
        });
        let status = self.wait(&mut child, timeout)?;
        if !status.success() {
            return Err(self.failed(status, ""));
        }
        let line = rx.recv_timeout(Duration::from_secs(1)).unwrap_or_default();
        self.secret_of(&line)
    }

    /// Waits for the command, stopping it and its descendants after `timeout`.
    fn wait(&self, child: &mut Child, timeout: Duration) -> Result<ExitStatus> {
        let started = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) if started.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Ok(None) => {
                    kill_descendants(child.id());
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(self
                        .fail(format_args!(
                            "did not finish within {} s and was stopped",
                            timeout.as_secs_f32()
                        ))
                        .hint(format!(
                            "check {}; {SECRET_CMD_TIMEOUT_ENV} sets the wait in seconds",
                            self.place
                        )));
                }
                Err(e) => return Err(self.fail(format_args!("could not be waited for ({e})"))),
            }
        }
    }

    /// The secret on the first line of the command's output.
    fn secret_of(&self, output: &[u8]) -> Result<Secret> {
        let first = output.split(|&b| b == b'\n').next().unwrap_or_default();
        let first = first.strip_suffix(b"\r").unwrap_or(first);
        if first.is_empty() {
            return Err(self.fail("printed no secret on its first line"));
        }
        let text = std::str::from_utf8(first)
            .map_err(|_| self.fail("printed a secret that is not printable ASCII"))?;
        if !printable_ascii(text.as_bytes()) || text.len() > 1024 {
            return Err(self.fail(
                "printed a secret that is not 1 to 1024 bytes of printable ASCII (value not shown)",
            ));
        }
        Ok(Secret::new(text))
    }
}

/// Stops what a timed-out `sh -c` started (a `sleep` or a stuck `gpg`), so
/// nothing lingers holding our stderr: its descendants by /proc's parent
/// links, signalled with kill(1) (no unsafe code here for kill(2)).
fn kill_descendants(root: u32) {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    let parents: Vec<(u32, u32)> = entries
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    if found.len() > 1 {
        let _ = Command::new("kill")
            .arg("-KILL")
            .args(found[1..].iter().map(u32::to_string))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_debug_print() {
        let s = Secret::new("SECRETVALUE");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!((s.expose(), s.len()), ("SECRETVALUE", 11));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"SECRETVALUE\"");
        assert_eq!(serde_json::from_str::<Secret>(&json).unwrap(), s);
    }

    #[test]
    fn secret_command_gives_its_first_line_or_a_clear_error() {
        let cmd = |c: &str| SecretCommand::from_config("w", Path::new("/c.toml"), 4, c.into());
        assert_eq!(
            cmd("printf 's3cret\\r\\nmore\\n'")
                .run(Duration::from_secs(10))
                .unwrap()
                .expose(),
            "s3cret"
        );
        let e = cmd("exit 3").run(Duration::from_secs(10)).unwrap_err();
        assert!(
            e.message.contains("account 'w' failed with exit status 3"),
            "{}",
            e.message
        );
        assert!(e.hint.unwrap_or_default().contains("/c.toml:4"));
        assert!(
            cmd("true")
                .run(Duration::from_secs(10))
                .unwrap_err()
                .message
                .contains("no secret")
        );
    }
}
