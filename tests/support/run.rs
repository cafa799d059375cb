//! Drives the built binary as its users do: argv, stdin, environment, exit
//! status, stdout, stderr and the files left in a private store directory.

use mock_idp::MockIdp;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The client id every test uses.
pub const CLIENT: &str = "11111111-2222-3333-4444-555555555555";
/// The default test user.
pub const USER: &str = "me@example.com";

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ooauth2"))
}

/// A finished run.
#[derive(Debug)]
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The response pairs of a helper run.
    pub fn pairs(&self) -> BTreeMap<String, String> {
        parse_response(&self.stdout)
    }

    /// Asserts a failed run: the status, nothing on stdout (the contract
    /// msmtp relies on), the needles on stderr.
    #[track_caller]
    pub fn expect_failure(&self, status: i32, needles: &[&str]) -> &Run {
        self.expect(status);
        assert_eq!(
            self.stdout, "",
            "stdout must be empty on failure: {self:#?}"
        );
        for n in needles {
            assert!(self.stderr.contains(n), "stderr lacks {n:?}: {self:#?}");
        }
        self
    }

    /// Asserts the exit status, showing everything on failure.
    #[track_caller]
    pub fn expect(&self, status: i32) -> &Run {
        assert_eq!(self.status, status, "unexpected exit status: {self:#?}");
        self
    }
}

/// Parses `key=value` lines up to the first blank line.
pub fn parse_response(out: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for line in out.lines() {
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once('=').expect("response line without '='");
        assert!(
            map.insert(k.to_string(), v.to_string()).is_none(),
            "duplicate {k}"
        );
    }
    map
}

/// A private store directory (removed on drop) and a mock identity provider.
pub struct Env {
    pub root: PathBuf,
    pub idp: MockIdp,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Default for Env {
    fn default() -> Self {
        Env::new()
    }
}

impl Env {
    /// A fresh store and mock provider.
    pub fn new() -> Env {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let root =
            std::env::temp_dir().join(format!("ooauth2-test-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        Env {
            root,
            idp: MockIdp::start(),
        }
    }

    /// The store directory (not created until the binary writes).
    pub fn store(&self) -> PathBuf {
        self.root.join("store")
    }

    /// A command with a clean environment pointing at this store.
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new(bin());
        c.args(args);
        self.isolate(c)
    }

    /// Gives `c` a clean environment pointing at this store, and pipes.
    fn isolate(&self, mut c: Command) -> Command {
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.root.join("home"))
            .env("OOAUTH2_STORE_DIR", self.store())
            .env("OOAUTH2_HTTP_TIMEOUT", "10")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Runs the binary with `args` and `stdin`, waiting for it to finish.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S], stdin: &[u8]) -> Run {
        self.run_with(self.command(args), stdin)
    }

    /// Runs the binary with `args` and `stdin`, `OOAUTH2_CONFIG` pointing at
    /// `config`.
    pub fn run_with_config(&self, config: &Path, args: &[&str], stdin: &[u8]) -> Run {
        let mut cmd = self.command(args);
        cmd.env("OOAUTH2_CONFIG", config);
        self.run_with(cmd, stdin)
    }

    /// Writes `body` as `config.toml` in the test's directory, private (the
    /// binary refuses a config file others can write), and returns its path.
    pub fn write_config(&self, body: &str) -> PathBuf {
        let path = self.root.join("config.toml");
        std::fs::write(&path, body).unwrap();
        set_mode(&path, 0o600);
        path
    }

    /// Runs a prepared command.
    pub fn run_with(&self, mut cmd: Command, stdin: &[u8]) -> Run {
        let child = cmd.spawn().expect("spawn ooauth2");
        finish(child, stdin)
    }

    /// Starts the binary without waiting.
    pub fn spawn<S: AsRef<OsStr>>(&self, args: &[S]) -> Child {
        self.command(args).spawn().expect("spawn ooauth2")
    }

    /// The request lines naming the test account at the mock provider.
    pub fn account_lines(&self, user: &str) -> String {
        format!(
            "client_id={CLIENT}\nauthority={}\nuser={user}\n",
            self.idp.authority()
        )
    }

    /// Runs `ooauth2 helper` with a request for `USER` plus `extra` lines.
    pub fn helper(&self, extra: &str) -> Run {
        self.helper_for(USER, extra)
    }

    /// Runs `ooauth2 helper` with a request for `user` plus `extra` lines.
    pub fn helper_for(&self, user: &str, extra: &str) -> Run {
        let req = format!("{}{extra}\n", self.account_lines(user));
        self.run(&["helper"], req.as_bytes())
    }

    /// Flags naming the test account at the mock provider.
    pub fn account_flags(&self, user: &str) -> Vec<String> {
        self.account_flags_at(&self.idp.authority(), user)
    }

    /// Flags naming `user` at an explicit `authority`.
    pub fn account_flags_at(&self, authority: &str, user: &str) -> Vec<String> {
        strings(&[
            "--client-id",
            CLIENT,
            "--authority",
            authority,
            "--user",
            user,
        ])
    }

    /// `command`, the flags naming `user` at the mock provider, then `extra`.
    pub fn args(&self, command: &str, user: &str, extra: &[&str]) -> Vec<String> {
        self.args_at(command, &self.idp.authority(), user, extra)
    }

    /// `command`, the flags naming `user` at `authority`, then `extra`.
    pub fn args_at(
        &self,
        command: &str,
        authority: &str,
        user: &str,
        extra: &[&str],
    ) -> Vec<String> {
        let mut args = vec![command.to_string()];
        args.extend(self.account_flags_at(authority, user));
        args.extend(strings(extra));
        args
    }

    /// `ooauth2 token` for `user` with extra flags.
    pub fn token(&self, user: &str, extra: &[&str]) -> Run {
        self.run(&self.args("token", user, extra), b"")
    }

    /// `ooauth2 login` for `user` with extra flags.
    pub fn login(&self, user: &str, extra: &[&str]) -> Run {
        self.run(&self.args("login", user, extra), b"")
    }

    /// `ooauth2 erase` for `user` with extra flags.
    pub fn erase(&self, user: &str, extra: &[&str]) -> Run {
        self.run(&self.args("erase", user, extra), b"")
    }

    /// ooauth2.py's refresh mode: `--generate_access_token`, `flags`, the
    /// client id, `refresh_token` (the flag and its value, as one word or
    /// two), the mock's authority and, given a `user`, `--user <user>`.
    pub fn legacy_refresh_args(
        &self,
        flags: &[&str],
        refresh_token: &[&str],
        user: Option<&str>,
    ) -> Vec<String> {
        let mut args = strings(&["--generate_access_token"]);
        args.extend(strings(flags));
        args.extend(strings(&["--client_id", CLIENT]));
        args.extend(strings(refresh_token));
        args.extend(["--authority".to_string(), self.idp.authority()]);
        if let Some(user) = user {
            args.extend(strings(&["--user", user]));
        }
        args
    }

    /// Signs `user` in without a device flow: imports a refresh token the
    /// mock issued. Returns the stored refresh token.
    pub fn seed(&self, user: &str) -> String {
        let rt = self.idp.issue_refresh_token(user, CLIENT);
        let run = self.helper_for(user, &format!("action=store\nrefresh_token={rt}\n"));
        run.expect(0);
        self.stored_refresh_token(user)
    }

    /// Every record file in the store, parsed.
    pub fn records(&self) -> Vec<(PathBuf, serde_json::Value)> {
        let mut out = Vec::new();
        for p in self.files() {
            if p.extension().is_some_and(|e| e == "json") {
                let v = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                out.push((p, v));
            }
        }
        out
    }

    /// The record of `user` (panics if there is not exactly one).
    pub fn record(&self, user: &str) -> serde_json::Value {
        self.record_path(user).1
    }

    /// Path and content of the record of `user`.
    pub fn record_path(&self, user: &str) -> (PathBuf, serde_json::Value) {
        let mut found: Vec<_> = self
            .records()
            .into_iter()
            .filter(|(_, v)| {
                v["user"]
                    .as_str()
                    .is_some_and(|u| u.eq_ignore_ascii_case(user))
            })
            .collect();
        assert_eq!(found.len(), 1, "records for {user}: {found:?}");
        found.pop().unwrap()
    }

    /// Makes the cached access token of `user` expired, as if time had passed.
    pub fn expire_cached(&self, user: &str) {
        let (path, mut v) = self.record_path(user);
        v["expires_at"] = serde_json::json!(1);
        std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    }

    /// Every file under the store directory, sorted.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        walk(&self.store(), &mut out);
        out.sort();
        out
    }

    /// Every file and directory under the store with its permission bits.
    pub fn modes(&self) -> Vec<(PathBuf, u32)> {
        use std::os::unix::fs::PermissionsExt;
        let mut out = vec![];
        let mut paths = vec![self.store()];
        paths.extend(self.files());
        for p in paths {
            if let Ok(m) = std::fs::metadata(&p) {
                out.push((p, m.permissions().mode() & 0o777));
            }
        }
        out
    }

    /// A snapshot of the store: each file with its bytes.
    pub fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        self.files()
            .into_iter()
            .map(|p| {
                let b = std::fs::read(&p).unwrap_or_default();
                (p, b)
            })
            .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on (when asked; the OS does
/// not hand it out again at once): for a server to start on, or for a
/// provider or server that is not there.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Quotes `s` for sh.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Owned copies of `v`.
pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Feeds stdin, closes it and collects the outcome.
pub fn finish(child: Child, stdin: &[u8]) -> Run {
    finish_status(child, stdin).0
}

/// [`finish`], with the exit status itself: a death by signal shows there
/// (the run's `status` is then -1).
pub fn finish_status(mut child: Child, stdin: &[u8]) -> (Run, std::process::ExitStatus) {
    if let Some(mut s) = child.stdin.take() {
        let _ = s.write_all(stdin);
    }
    let out = child.wait_with_output().expect("wait for ooauth2");
    let run = Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    (run, out.status)
}

// ---------------------------------------------------------------------------
// Helpers for the stress, crash-safety and fault tests (tests/stress.rs,
// tests/crash.rs, tests/faults.rs), kept together.
// ---------------------------------------------------------------------------

/// `sh` wrapper that makes every write to a regular file fail with EFBIG
/// (a file size limit of 0, with SIGXFSZ ignored so the process lives on).
pub const NO_FILE_WRITES: &[&str] = &["sh", "-c", "trap '' XFSZ; ulimit -f 0; exec \"$0\" \"$@\""];

/// PATH with `dir` first: stubs there stand in for real programs.
pub fn path_with(dir: &Path) -> String {
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// The user id the read-only store tests drop to when they run as root.
pub const NOBODY: u32 = 65534;

impl Env {
    /// Like [`Env::command`], but runs `wrapper... <binary> args...` (e.g. under
    /// `sh -c 'ulimit ...'` or `setpriv`), with the same clean environment.
    pub fn command_via<S: AsRef<OsStr>>(&self, wrapper: &[&str], args: &[S]) -> Command {
        let (program, pre) = wrapper.split_first().expect("empty wrapper");
        let mut c = Command::new(program);
        c.args(pre).arg(bin()).args(args);
        self.isolate(c)
    }

    /// Starts a prepared command, writes `request` to its stdin and closes
    /// it, without waiting for the process.
    pub fn start_with(&self, mut cmd: Command, request: &str) -> Child {
        let mut child = cmd.spawn().expect("spawn ooauth2");
        let mut stdin = child.stdin.take().unwrap();
        // A process killed early may not read it all; that is fine.
        let _ = stdin.write_all(request.as_bytes());
        drop(stdin);
        child
    }

    /// Request lines naming `user` at an explicit `authority` (e.g. a mock
    /// that has been stopped).
    pub fn account_lines_at(&self, authority: &str, user: &str) -> String {
        format!("client_id={CLIENT}\nauthority={authority}\nuser={user}\n")
    }

    /// `ooauth2 helper`, with `OOAUTH2_LOCK_TIMEOUT` set if `lock_timeout`
    /// is given.
    pub fn helper_command(&self, lock_timeout: Option<&str>) -> Command {
        let mut cmd = self.command(&["helper"]);
        if let Some(secs) = lock_timeout {
            cmd.env("OOAUTH2_LOCK_TIMEOUT", secs);
        }
        cmd
    }

    /// The whole helper request for `user` with `extra` lines, blank line
    /// included.
    fn request(&self, user: &str, extra: &str) -> String {
        format!("{}{extra}\n\n", self.account_lines(user))
    }

    /// Starts `ooauth2 helper` (see [`Env::helper_command`]) and hands it
    /// the request for `user` with `extra` lines, without waiting.
    pub fn start_helper(&self, user: &str, extra: &str, lock_timeout: Option<&str>) -> Child {
        self.start_with(
            self.helper_command(lock_timeout),
            &self.request(user, extra),
        )
    }

    /// Starts `n` helpers (see [`Env::helper_command`]) for `user` together,
    /// hands every one its request (`extra` lines) before any is waited for,
    /// and collects them all.
    pub fn stampede(
        &self,
        n: usize,
        user: &str,
        extra: &str,
        lock_timeout: Option<&str>,
    ) -> Vec<Run> {
        let request = self.request(user, extra);
        let mut children: Vec<Child> = (0..n)
            .map(|_| {
                self.helper_command(lock_timeout)
                    .spawn()
                    .expect("spawn ooauth2")
            })
            .collect();
        for c in &mut children {
            let mut stdin = c.stdin.take().unwrap();
            stdin.write_all(request.as_bytes()).unwrap();
        }
        children.into_iter().map(|c| finish(c, b"")).collect()
    }

    /// The store's file id of `user` (the stem of its record file).
    pub fn account_id(&self, user: &str) -> String {
        let (path, _) = self.record_path(user);
        path.file_stem().unwrap().to_string_lossy().into_owned()
    }

    /// Leftover temporary files (`.<id>.json.tmp-<pid>`) in the store.
    pub fn temp_files(&self) -> Vec<PathBuf> {
        self.files()
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(".json.tmp-"))
            })
            .collect()
    }

    /// The access token cached in the record of `user`.
    pub fn cached_access_token(&self, user: &str) -> String {
        self.record(user)["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The refresh token stored in the record of `user`.
    pub fn stored_refresh_token(&self, user: &str) -> String {
        self.record(user)["refresh_token"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// Whether the tests run as root (the owner of a directory they create).
pub fn running_as_root(env: &Env) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(&env.root).unwrap().uid() == 0
}

/// A directory holding a `pass` that prints `secret` for `pass show ENTRY`
/// only, as the password store would, for a `client_secret_cmd`.
pub fn pass_stub(env: &Env, entry: &str, secret: &str) -> PathBuf {
    let dir = env.root.join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let pass = dir.join("pass");
    std::fs::write(
        &pass,
        format!(
            "#!/bin/sh\n[ \"$1 $2\" = \"show {entry}\" ] || {{ echo \"pass: no entry $2\" >&2; exit 1; }}\necho '{secret}'\n"
        ),
    )
    .unwrap();
    set_mode(&pass, 0o755);
    dir
}

/// Sets the permission bits of `path`.
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}
