//! The browser side of a loopback sign-in: a running `ooauth2` whose stderr
//! is read line by line (to pick up the authorization URL), and a raw HTTP
//! GET that never follows redirects.

use super::run::{Env, Run};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdin};
use std::sync::mpsc::{Receiver, channel};
use std::thread::JoinHandle;
use std::time::Duration;

/// A running sign-in whose stderr is read line by line, and whose stdin
/// may stay open for what the person types.
pub struct SignIn {
    child: Child,
    input: Option<ChildStdin>,
    lines: Receiver<String>,
    reader: JoinHandle<String>,
}

impl SignIn {
    /// Starts `args` with `stdin` (closed after) and, if given, `OOAUTH2_CONFIG`.
    pub fn start(env: &Env, args: &[&str], stdin: &str, config: Option<&Path>) -> SignIn {
        let mut cmd = env.command(args);
        if let Some(c) = config {
            cmd.env("OOAUTH2_CONFIG", c);
        }
        SignIn::spawn(cmd, stdin)
    }

    /// Starts a prepared command (stdin, stdout and stderr piped) with `stdin`.
    pub fn spawn(cmd: std::process::Command, stdin: &str) -> SignIn {
        let mut s = SignIn::spawn_open(cmd);
        let mut input = s.input.take().unwrap();
        input.write_all(stdin.as_bytes()).unwrap();
        s
    }

    /// Starts a prepared command and keeps its stdin open for [`SignIn::type_line`].
    pub fn spawn_open(mut cmd: std::process::Command) -> SignIn {
        let mut child = cmd.spawn().unwrap();
        let input = child.stdin.take();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = channel();
        let reader = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                all.push_str(&line);
                all.push('\n');
                let _ = tx.send(line);
            }
            all
        });
        SignIn {
            child,
            input,
            lines,
            reader,
        }
    }

    /// The next line on stderr (20 s at most).
    pub fn line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(20))
            .expect("nothing more on stderr")
    }

    /// The first URL on stderr that starts with `prefix` and contains `needle`.
    pub fn url_matching(&self, prefix: &str, needle: &str) -> String {
        loop {
            let line = self.line();
            if let Some(i) = line.find(prefix) {
                let url = line[i..].trim();
                if url.contains(needle) {
                    return url.to_string();
                }
            }
        }
    }

    /// Types `line` and ENTER on stdin.
    pub fn type_line(&mut self, line: &str) {
        let input = self.input.as_mut().expect("stdin was closed");
        input.write_all(format!("{line}\n").as_bytes()).unwrap();
        input.flush().unwrap();
    }

    /// Closes stdin, waits for the exit (killed by PID after 30 s) and
    /// collects everything.
    pub fn finish(mut self) -> Run {
        drop(self.input.take());
        let start = std::time::Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!("the sign-in did not end");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = self.child.wait_with_output().unwrap();
        Run {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: self.reader.join().unwrap(),
        }
    }
}

/// A raw HTTP/1.1 answer.
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

/// GET `url` (plain http) with a raw socket: no redirect is followed.
pub fn get(url: &str) -> Page {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: test-browser\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let location = head
        .lines()
        .find_map(|l| l.strip_prefix("Location: "))
        .map(str::to_string);
    Page {
        status,
        location,
        body: body.to_string(),
    }
}
