//! A running `ooauth2 proxy` for the proxy tests: started with its stderr
//! in a log file and waited for until its listeners listen; its log read
//! and waited on, signalled, and stopped by its PID when dropped. And the
//! line client the tests speak IMAP, POP3 and SMTP with by hand.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// An `ooauth2 proxy` process and the file its stderr goes to.
pub struct Running {
    child: Child,
    log: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// Starts `cmd` (an `ooauth2 proxy`) with its stderr in `log`, and
    /// waits (20 s at most) until `listeners` listeners listen.
    pub fn start(mut cmd: Command, log: PathBuf, listeners: usize) -> Running {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let running = Running { child, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        while running.log().matches("listening on").count() < listeners {
            assert!(
                Instant::now() < deadline,
                "proxy not listening:\n{}",
                running.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        running
    }

    /// Its PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it wrote on stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log once it holds `needle` `n` times (10 s at most).
    pub fn wait_count(&self, needle: &str, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if log.matches(needle).count() >= n || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The log once it holds `needle` (10 s at most).
    pub fn wait_log(&self, needle: &str) -> String {
        self.wait_count(needle, 1)
    }

    /// Sends `signal` (`HUP`, `TERM`) by PID.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Waits for it to exit (30 s at most): its exit status.
    pub fn exited(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "still running:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A `kB` field of its /proc status (VmHWM: its peak memory).
    pub fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with(field)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}

/// A client of a listener that writes bytes and reads lines, its greeting
/// read first: the dialogues the tests type by hand.
pub struct LineClient {
    r: BufReader<TcpStream>,
    /// The server's first line.
    pub greeting: String,
}

impl LineClient {
    /// Connects to `port` on 127.0.0.1 (reads wait 20 s at most).
    pub fn tcp(port: u16) -> LineClient {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut c = LineClient {
            r: BufReader::new(s),
            greeting: String::new(),
        };
        c.greeting = c.line();
        c
    }

    /// Connects to an IMAP listener, whose greeting must be `* OK`.
    pub fn imap(port: u16) -> LineClient {
        let c = LineClient::tcp(port);
        assert!(c.greeting.starts_with("* OK"), "{:?}", c.greeting);
        c
    }

    /// Writes `bytes` as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.r.get_mut().write_all(bytes).unwrap();
    }

    /// The next line, with its line end; empty at the end of the stream.
    pub fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        l
    }

    /// Lines up to and including the one starting with `tag `.
    pub fn until(&mut self, tag: &str) -> String {
        let mut all = String::new();
        loop {
            let l = self.line();
            all.push_str(&l);
            if l.is_empty() || l.starts_with(&format!("{tag} ")) {
                return all;
            }
        }
    }

    /// Sends `tag command` and reads up to the tagged answer.
    pub fn command(&mut self, tag: &str, command: &str) -> String {
        self.send(format!("{tag} {command}\r\n").as_bytes());
        self.until(tag)
    }
}

/// The bytes after what was read as lines (a literal, the rest of a session).
impl Read for LineClient {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.r.read(buf)
    }
}
