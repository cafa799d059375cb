//! Real mail servers and clients for tests/real_clients.rs: a private Dovecot
//! (IMAP, IMAPS, POP3, POP3S, submission) that checks bearer tokens at the mock identity
//! provider's RFC 7662 introspection endpoint, a tiny SMTP sink that Dovecot's
//! submission service relays to, and helpers that run msmtp, mbsync, curl and
//! the contrib/ scripts as a user would, with the contrib/ files substituted.
//!
//! Everything lives under the test's temporary directory and on free
//! 127.0.0.1 ports; Dovecot runs in the foreground as a child of the test and
//! is stopped by its PID. No system service or file is touched.

use super::run::{CLIENT, Env, NOBODY, Run, USER, bin, free_port, set_mode, sh_quote};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What installs the Debian 12 packages the real-client tests need: the one
/// list, `.ci/packages.txt`, that CONTRIBUTING.md and `.ci/run` install.
pub const INSTALL: &str =
    "xargs sudo apt-get install -y --no-install-recommends < .ci/packages.txt";

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file of the repository, as text.
pub fn repo_file(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    // Debian puts dovecot in /usr/sbin, which a user's PATH may lack; prefer
    // the system python3 over version managers' shims.
    dirs.insert(0, PathBuf::from("/usr/bin"));
    dirs.extend(["/usr/sbin", "/sbin"].map(PathBuf::from));
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// The path of a program the tests need; fails naming the apt-get line.
pub fn program(name: &str) -> PathBuf {
    find_program(name).unwrap_or_else(|| {
        panic!(
            "{name} is not installed; the real-client tests need Debian's packages: \
             {INSTALL} (see CONTRIBUTING.md)"
        )
    })
}

/// Fails, naming the apt-get line, unless every program and the Cyrus SASL
/// XOAUTH2 plugin are installed.
pub fn require_programs() {
    let missing: Vec<&str> = ["dovecot", "msmtp", "mbsync", "curl", "openssl", "python3"]
        .into_iter()
        .filter(|p| find_program(p).is_none())
        .collect();
    let sasl_dirs = [
        "/usr/lib/x86_64-linux-gnu/sasl2",
        "/usr/lib/aarch64-linux-gnu/sasl2",
        "/usr/lib/sasl2",
        "/usr/lib64/sasl2",
    ];
    let plugin = sasl_dirs.iter().any(|d| {
        std::fs::read_dir(d).is_ok_and(|rd| {
            rd.flatten()
                .any(|e| e.file_name().to_string_lossy().contains("xoauth2"))
        })
    });
    let mut missing: Vec<String> = missing.into_iter().map(String::from).collect();
    // Dovecot's POP3 server is its own package, dovecot-pop3d.
    if !Path::new(DOVECOT_POP3).is_file() {
        missing.push(DOVECOT_POP3.into());
    }
    if !plugin {
        missing.push("Cyrus SASL XOAUTH2 plugin".into());
    }
    assert!(
        missing.is_empty(),
        "missing {}; the real-client tests need Debian's packages: {INSTALL} \
         (see CONTRIBUTING.md)",
        missing.join(", ")
    );
}

/// Replaces every `from` in `text` with `to`; panics if `from` is absent, so
/// a contrib file that drifts from its test fails loudly.
pub fn substitute(text: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (from, to) in pairs {
        assert!(out.contains(from), "{from:?} not found in:\n{out}");
        out = out.replace(from, to);
    }
    out
}

/// Whether a Maildir folder `dir` holds a message with `Subject: {marker}`.
pub fn in_maildir(dir: &Path, marker: &str) -> bool {
    let header = format!("Subject: {marker}");
    ["cur", "new"].iter().any(|sub| {
        std::fs::read_dir(dir.join(sub)).is_ok_and(|rd| {
            rd.flatten()
                .any(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains(&header)))
        })
    })
}

/// Installs contrib/config.toml, the named accounts every contrib file
/// uses, as the config file under `config_home` (`$XDG_CONFIG_HOME`, by
/// default `~/.config`), mode 0600: `YOUR-CLIENT-ID` and `you@example.com`
/// become the test account, and each account gets the mock provider's
/// `authority`.
pub fn install_config(env: &Env, config_home: &Path) -> PathBuf {
    let mut text = substitute(
        &repo_file("contrib/config.toml"),
        &[("YOUR-CLIENT-ID", CLIENT), ("you@example.com", USER)],
    );
    for header in ["[accounts.work]\n", "[accounts.gmail]\n"] {
        let with = format!("{header}authority = \"{}\"\n", env.idp.authority());
        text = substitute(&text, &[(header, &with)]);
    }
    let dir = config_home.join("ooauth2");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    set_mode(&path, 0o600);
    path
}

/// Uid and gid of the test process (the owner of a file it creates).
fn current_ids(dir: &Path) -> (u32, u32) {
    let probe = dir.join(".ids");
    std::fs::write(&probe, b"").unwrap();
    let m = std::fs::metadata(&probe).unwrap();
    let _ = std::fs::remove_file(&probe);
    (m.uid(), m.gid())
}

/// The name of the entry whose third field is `id` in `file`: /etc/passwd
/// for a uid, /etc/group for a gid.
fn name_of(file: &str, id: u32) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == id.to_string()).then(|| f[0].to_string())
        })
        .unwrap_or_else(|| panic!("{id} has no name in {file}"))
}

// ---------------------------------------------------------------------------
// Running programs with a deadline
// ---------------------------------------------------------------------------

/// The outcome of a finished (or killed) client, with its drained output.
fn collect(
    status: std::process::ExitStatus,
    timed_out: bool,
    limit: Duration,
    out: std::thread::JoinHandle<Vec<u8>>,
    err: std::thread::JoinHandle<Vec<u8>>,
) -> Run {
    let stdout = String::from_utf8_lossy(&out.join().unwrap()).into_owned();
    let mut stderr = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
    if timed_out {
        stderr.push_str(&format!("\n[test: killed after {limit:?}]"));
    }
    Run {
        status: if timed_out {
            -1
        } else {
            status.code().unwrap_or(-1)
        },
        stdout,
        stderr,
    }
}

/// Reads a child's stdout and stderr on threads, so neither pipe can fill
/// up and stall it; join the handles once it has exited.
fn drain(
    child: &mut std::process::Child,
) -> (
    std::thread::JoinHandle<Vec<u8>>,
    std::thread::JoinHandle<Vec<u8>>,
) {
    let read = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    (
        read(Box::new(child.stdout.take().unwrap())),
        read(Box::new(child.stderr.take().unwrap())),
    )
}

/// What a program run by [`run_timeout`] gets on stdin.
pub enum Input<'a> {
    /// These bytes, then end of file.
    Bytes(&'a [u8]),
    /// These keys once `ready()` holds (nothing if the program ends first),
    /// and no end of file until the program ends: script(1) may end its
    /// session when its input closes.
    KeysWhen(&'a [u8], &'a dyn Fn() -> bool),
}

/// Runs `cmd` with `input`, killing it after `limit`. A run that timed out has
/// status -1 and says so on stderr.
pub fn run_timeout(mut cmd: Command, input: Input, limit: Duration) -> Run {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let (keys, ready, close): (&[u8], &dyn Fn() -> bool, bool) = match input {
        Input::Bytes(bytes) => (bytes, &|| true, true),
        Input::KeysWhen(keys, ready) => (keys, ready, false),
    };
    let mut stdin = child.stdin.take();
    let mut writer = None;
    let (out, err) = drain(&mut child);
    let deadline = Instant::now() + limit;
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        if stdin.is_some() && ready() {
            writer = stdin.take().map(|s| type_in(s, keys.to_vec(), close));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // Only now is a held stdin closed.
    if let Some(w) = writer {
        let _ = w.join();
    }
    // A grandchild (PassCmd) may hold the pipes open after a kill.
    collect(status, timed_out, limit, out, err)
}

/// Writes `keys` on a thread, so that a program that does not read cannot
/// hold up the deadline; hands stdin back, to be held open, unless `close`.
fn type_in(
    mut stdin: ChildStdin,
    keys: Vec<u8>,
    close: bool,
) -> std::thread::JoinHandle<Option<ChildStdin>> {
    std::thread::spawn(move || {
        let _ = stdin.write_all(&keys);
        let _ = stdin.flush();
        (!close).then_some(stdin)
    })
}

/// A command for a mail client: the same clean environment as the binary
/// under test gets, with the binary's directory first on PATH so that
/// `ooauth2` in a contrib file runs the binary under test.
pub fn client_command(env: &Env, program: &Path) -> Command {
    let bin_dir = bin().parent().unwrap().to_path_buf();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin_dir];
    dirs.extend(std::env::split_paths(&path));
    let home = env.root.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut c = Command::new(program);
    c.env_clear()
        .env("PATH", std::env::join_paths(dirs).unwrap())
        .env("HOME", home)
        .env("OOAUTH2_STORE_DIR", env.store())
        .env("OOAUTH2_HTTP_TIMEOUT", "10");
    c
}

// ---------------------------------------------------------------------------
// The SMTP sink Dovecot's submission service relays to
// ---------------------------------------------------------------------------

/// One message the sink accepted.
#[derive(Clone, Debug)]
pub struct Delivered {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// What the sink saw: messages, and every command line (for leak checks).
#[derive(Default)]
struct SinkState {
    messages: Vec<Delivered>,
    transcript: Vec<String>,
}

/// An ESMTP server on 127.0.0.1 that accepts every message and keeps it.
pub struct Sink {
    port: u16,
    state: Arc<Mutex<SinkState>>,
    stop: Arc<AtomicBool>,
}

impl Sink {
    pub fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(SinkState::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (Arc::clone(&state), Arc::clone(&stop));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let st = Arc::clone(&st);
                    std::thread::spawn(move || {
                        let _ = sink_session(conn, &st);
                    });
                }
            }
        });
        Sink { port, state, stop }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The messages delivered so far.
    pub fn messages(&self) -> Vec<Delivered> {
        self.state.lock().unwrap().messages.clone()
    }

    /// Whether a message with `Subject: {subject}` was delivered.
    pub fn delivered(&self, subject: &str) -> bool {
        let header = format!("Subject: {subject}");
        self.messages().iter().any(|m| m.data.contains(&header))
    }

    /// Every line the sink received, commands and message data.
    pub fn transcript(&self) -> String {
        self.state.lock().unwrap().transcript.join("\n")
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn sink_session(conn: TcpStream, state: &Mutex<SinkState>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut w = conn.try_clone()?;
    let mut r = BufReader::new(conn);
    w.write_all(b"220 localhost ESMTP ooauth2-test-sink\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        state.lock().unwrap().transcript.push(line.clone());
        let verb = line
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => {
                b"250-localhost\r\n250-8BITMIME\r\n250-SIZE 10485760\r\n250 ENHANCEDSTATUSCODES\r\n"
            }
            "HELO" => b"250 localhost\r\n",
            "MAIL" => {
                from = line.clone();
                to.clear();
                b"250 2.1.0 Ok\r\n"
            }
            "RCPT" => {
                to.push(line.clone());
                b"250 2.1.5 Ok\r\n"
            }
            "DATA" => {
                w.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
                let mut data = String::new();
                loop {
                    let mut l = String::new();
                    if r.read_line(&mut l)? == 0 {
                        return Ok(());
                    }
                    if l == ".\r\n" || l == ".\n" {
                        break;
                    }
                    let l = l.strip_prefix('.').unwrap_or(&l);
                    data.push_str(l);
                }
                let mut s = state.lock().unwrap();
                s.transcript.push(data.clone());
                s.messages.push(Delivered {
                    from: from.clone(),
                    to: to.clone(),
                    data,
                });
                b"250 2.0.0 Ok: queued\r\n"
            }
            "RSET" => {
                from.clear();
                to.clear();
                b"250 2.0.0 Ok\r\n"
            }
            "NOOP" => b"250 2.0.0 Ok\r\n",
            "QUIT" => {
                w.write_all(b"221 2.0.0 Bye\r\n")?;
                return Ok(());
            }
            _ => b"502 5.5.2 Command not implemented\r\n",
        };
        w.write_all(reply)?;
    }
}

// ---------------------------------------------------------------------------
// Dovecot
// ---------------------------------------------------------------------------

/// Dovecot's POP3 server program (Debian's dovecot-pop3d).
pub const DOVECOT_POP3: &str = "/usr/lib/dovecot/pop3";

/// A private Dovecot instance: IMAP (plain, for raw protocol tests), IMAPS,
/// POP3 (STLS) and POP3S, and submission (STARTTLS, and TLS from the first
/// byte) relaying to a [`Sink`].
pub struct Dovecot {
    pub dir: PathBuf,
    child: Option<Child>,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub submission_port: u16,
    /// Submission over TLS from the first byte (like port 465).
    pub submissions_port: u16,
    /// POP3 with STLS.
    pub pop3_port: u16,
    /// POP3 over TLS from the first byte.
    pub pop3s_port: u16,
    pub cert: PathBuf,
    pub log: PathBuf,
    pub sink: Sink,
}

impl Dovecot {
    /// Starts Dovecot under `env.root/dovecot`, checking tokens at `env.idp`.
    pub fn start(env: &Env) -> Dovecot {
        require_programs();
        // A free port can be taken by someone else before Dovecot binds it,
        // and a loaded machine can be slow to start it: try three times, so
        // only a failure that repeats (a real misconfiguration) fails the test.
        for attempt in 0.. {
            match Dovecot::try_start(env, attempt) {
                Ok(d) => return d,
                Err(e) if attempt < 2 => {
                    eprintln!("dovecot start {attempt} failed, retrying:\n{e}")
                }
                Err(e) => panic!("{e}"),
            }
        }
        unreachable!()
    }

    fn try_start(env: &Env, attempt: u32) -> Result<Dovecot, String> {
        let dir = env.root.join(match attempt {
            0 => "dovecot".to_string(),
            n => format!("dovecot{n}"),
        });
        std::fs::create_dir_all(&dir).unwrap();
        // The unprivileged Dovecot processes must reach the files below.
        set_mode(&env.root, 0o755);
        set_mode(&dir, 0o755);
        let (uid, gid) = current_ids(&dir);
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        make_cert(&cert, &key);
        let log = dir.join("dovecot.log");
        let home = dir.join("home");
        std::fs::create_dir_all(&home).unwrap();
        // As root: Dovecot's own users for its processes, and nobody for the
        // mailboxes (Dovecot never accesses mail as uid 0). Otherwise all of
        // it runs as the current user.
        let (internal_user, internal_group, login_user, mail_uid, mail_gid) = if uid == 0 {
            for u in ["dovecot", "dovenull"] {
                assert!(
                    Command::new("id")
                        .arg(u)
                        .output()
                        .is_ok_and(|o| o.status.success()),
                    "user {u} missing; install Dovecot with: {INSTALL}"
                );
            }
            std::os::unix::fs::chown(&home, Some(NOBODY), Some(NOBODY)).unwrap();
            (
                "dovecot".to_string(),
                "dovecot".to_string(),
                "dovenull".to_string(),
                NOBODY,
                NOBODY,
            )
        } else {
            let name = name_of("/etc/passwd", uid);
            (name.clone(), name_of("/etc/group", gid), name, uid, gid)
        };
        let sink = Sink::start();
        let (imap_port, imaps_port, submission_port) = (free_port(), free_port(), free_port());
        let (pop3_port, pop3s_port, submissions_port) = (free_port(), free_port(), free_port());
        let oauth2 = dir.join("dovecot-oauth2.conf.ext");
        std::fs::write(
            &oauth2,
            substitute(
                &repo_file("tests/mail/dovecot-oauth2.conf.ext"),
                &[("@IDP@", &env.idp.authority())],
            ),
        )
        .unwrap();
        let s = |p: &Path| p.to_str().unwrap().to_string();
        let conf = dir.join("dovecot.conf");
        std::fs::write(
            &conf,
            substitute(
                &repo_file("tests/mail/dovecot.conf"),
                &[
                    ("@BASE_DIR@", &s(&dir.join("run"))),
                    ("@STATE_DIR@", &s(&dir.join("state"))),
                    ("@LOG@", &s(&log)),
                    ("@INTERNAL_USER@", &internal_user),
                    ("@INTERNAL_GROUP@", &internal_group),
                    ("@LOGIN_USER@", &login_user),
                    ("@UID@", &mail_uid.to_string()),
                    ("@GID@", &mail_gid.to_string()),
                    ("@HOME@", &s(&home)),
                    ("@OAUTH2_CONF@", &s(&oauth2)),
                    ("@CERT@", &s(&cert)),
                    ("@KEY@", &s(&key)),
                    ("@PORT_IMAP@", &imap_port.to_string()),
                    ("@PORT_IMAPS@", &imaps_port.to_string()),
                    ("@PORT_SUBMISSION@", &submission_port.to_string()),
                    ("@PORT_SUBMISSIONS@", &submissions_port.to_string()),
                    ("@PORT_POP3@", &pop3_port.to_string()),
                    ("@PORT_POP3S@", &pop3s_port.to_string()),
                    ("@PORT_SINK@", &sink.port().to_string()),
                ],
            ),
        )
        .unwrap();
        let child = Command::new(program("dovecot"))
            .arg("-F")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("dovecot.stderr")).unwrap())
            .spawn()
            .unwrap();
        let mut d = Dovecot {
            dir,
            child: Some(child),
            imap_port,
            imaps_port,
            submission_port,
            submissions_port,
            pop3_port,
            pop3s_port,
            cert,
            log,
            sink,
        };
        d.wait_ready()?;
        Ok(d)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        for port in [
            self.imap_port,
            self.imaps_port,
            self.submission_port,
            self.submissions_port,
            self.pop3_port,
            self.pop3s_port,
        ] {
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    break;
                }
                if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                    return Err(format!(
                        "dovecot exited ({st}) before listening:\n{}",
                        self.logs()
                    ));
                }
                if Instant::now() > deadline {
                    return Err(format!("dovecot not listening on {port}:\n{}", self.logs()));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// Puts a message with Subject `marker` in `user`'s INBOX over raw IMAP,
    /// logging in with the base64 XOAUTH2 string `xoauth2`.
    pub fn seed_inbox(&self, xoauth2: &str, user: &str, marker: &str) {
        let mut imap = self.imap();
        let auth = imap.authenticate("XOAUTH2", xoauth2);
        assert!(tagged_ok(&auth), "{auth}\n{}", self.logs());
        let msg = format!(
            "From: someone@example.org\r\nTo: {user}\r\nSubject: {marker}\r\n\r\nHello.\r\n"
        );
        let app = imap.append("INBOX", &msg);
        assert!(tagged_ok(&app), "{app}\n{}", self.logs());
        imap.command("LOGOUT", None);
    }

    /// Dovecot's log (without the HTTP client's chatter) and stderr, for
    /// failure messages.
    pub fn logs(&self) -> String {
        let log: String = self
            .log_text()
            .lines()
            .filter(|l| !l.contains("Debug: http-client"))
            .map(|l| format!("{l}\n"))
            .collect();
        let err = std::fs::read_to_string(self.dir.join("dovecot.stderr")).unwrap_or_default();
        format!("--- dovecot log ---\n{log}--- dovecot stderr ---\n{err}")
    }

    /// Dovecot's whole log, debug lines included.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The successful logins in the log, as `(user, method, service)`.
    pub fn logins(&self) -> Vec<(String, String, String)> {
        self.log_text()
            .lines()
            .filter(|l| l.contains("Login: user=<"))
            .map(|l| {
                let field = |k: &str| {
                    l.split(k)
                        .nth(1)
                        .map(|r| r.split([',', '>']).next().unwrap_or("").to_string())
                        .unwrap_or_default()
                };
                let service = l
                    .split(": ")
                    .nth(0)
                    .and_then(|h| h.rsplit(' ').next())
                    .unwrap_or("")
                    .to_string();
                (field("user=<"), field("method="), service)
            })
            .collect()
    }

    /// The logins of `USER` with `method` at `service` in the log.
    pub fn login_count(&self, method: &str, service: &str) -> usize {
        self.logins()
            .iter()
            .filter(|(u, m, s)| u == USER && m == method && s == service)
            .count()
    }

    /// Asserts that Dovecot logged exactly `n` logins of `USER` with
    /// `method` at `service`. Its log process writes a line a moment after
    /// the client got its answer: wait for it (5 s at most). `context` goes
    /// into the failure message.
    #[track_caller]
    pub fn expect_logins(&self, method: &str, service: &str, n: usize, context: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.login_count(method, service) < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(
            self.login_count(method, service),
            n,
            "{method} logins at {service}: {context}\n{}",
            self.logs()
        );
    }

    /// Asserts that a client's `run` succeeded, showing Dovecot's logs if not.
    #[track_caller]
    pub fn expect_ok(&self, what: &str, run: &Run) {
        assert_eq!(run.status, 0, "{what} failed: {run:#?}\n{}", self.logs());
    }

    /// Plain IMAP to the extra 127.0.0.1 listener.
    pub fn imap(&self) -> Imap {
        Imap::connect(self.imap_port, &self.logs_path_hint())
    }

    fn logs_path_hint(&self) -> String {
        self.log.display().to_string()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// A self-signed certificate for localhost and 127.0.0.1 (as an IP address
/// and, for isync 1.4, which checks only DNS names, as a DNS name).
pub fn make_cert(cert: &Path, key: &Path) {
    let out = Command::new(program("openssl"))
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost"])
        .args([
            "-addext",
            "subjectAltName=DNS:localhost,DNS:127.0.0.1,IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    set_mode(key, 0o644);
}

// ---------------------------------------------------------------------------
// A raw IMAP session
// ---------------------------------------------------------------------------

/// A plain IMAP connection that speaks the protocol by hand.
pub struct Imap {
    r: BufReader<TcpStream>,
    w: TcpStream,
    tag: u32,
}

impl Imap {
    fn connect(port: u16, log: &str) -> Imap {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        let mut greeting = String::new();
        r.read_line(&mut greeting)
            .unwrap_or_else(|e| panic!("no IMAP greeting ({e}); see {log}"));
        Imap { r, w, tag: 0 }
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        assert!(!l.is_empty(), "server closed the connection");
        l
    }

    /// Sends `cmd` (without tag). On a continuation request, answers with
    /// `continuation` (or cancels with `*` when there is none). Returns the
    /// whole exchange, the tagged line last.
    pub fn command(&mut self, cmd: &str, continuation: Option<&str>) -> String {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        write!(self.w, "{tag} {cmd}\r\n").unwrap();
        let mut out = String::new();
        loop {
            let l = self.line();
            out.push_str(&l);
            if l.starts_with('+') {
                let answer = continuation.unwrap_or("*");
                write!(self.w, "{answer}\r\n").unwrap();
            } else if l.starts_with(&format!("{tag} ")) {
                return out;
            }
        }
    }

    /// `AUTHENTICATE <mech> <initial response>` (SASL-IR); on the server's
    /// error challenge answers as the mechanism says (XOAUTH2: empty line,
    /// OAUTHBEARER: %x01). Returns the exchange.
    pub fn authenticate(&mut self, mech: &str, b64: &str) -> String {
        let answer = if mech.eq_ignore_ascii_case("OAUTHBEARER") {
            "AQ=="
        } else {
            ""
        };
        self.command(&format!("AUTHENTICATE {mech} {b64}"), Some(answer))
    }

    /// Appends `msg` to `mailbox` with a synchronizing literal: the
    /// message is the answer to the server's continuation request.
    pub fn append(&mut self, mailbox: &str, msg: &str) -> String {
        self.command(&format!("APPEND {mailbox} {{{}}}", msg.len()), Some(msg))
    }
}

/// Whether an IMAP exchange ended with a tagged OK.
pub fn tagged_ok(exchange: &str) -> bool {
    exchange
        .lines()
        .last()
        .is_some_and(|l| l.split(' ').nth(1) == Some("OK"))
}

// ---------------------------------------------------------------------------
// For tests/other_clients.rs: neomutt, offlineimap, getmail and aerc, and
// script(1) for the clients that need a terminal.
// ---------------------------------------------------------------------------

/// Fails, naming the whole apt-get line, unless the other clients and
/// script(1) are installed (besides what [`require_programs`] checks).
pub fn require_other_programs() {
    require_programs();
    let missing: Vec<&str> = ["neomutt", "offlineimap", "getmail", "aerc", "script"]
        .into_iter()
        .filter(|p| find_program(p).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "missing {}; the other-client tests need Debian's packages: {INSTALL} \
         (see CONTRIBUTING.md)",
        missing.join(", ")
    );
}

/// `words` run under script(1), which gives them a pseudo-terminal (80x24,
/// TERM=xterm), with the environment of [`client_command`]. script's exit
/// status is the program's; its stdout is the program's screen output.
pub fn terminal_command(env: &Env, words: &[&str]) -> Command {
    let line: Vec<String> = words.iter().map(|w| sh_quote(w)).collect();
    let mut cmd = client_command(env, &program("script"));
    cmd.args(["-q", "-e", "-c", &line.join(" "), "/dev/null"])
        .env("TERM", "xterm")
        .env("COLUMNS", "80")
        .env("LINES", "24");
    cmd
}
