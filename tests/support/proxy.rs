//! A running `ooauth2 proxy` for the proxy tests: started with its stderr
//! in a log file and waited for until its listeners listen; its log read
//! and waited on, signalled, and stopped by its PID when dropped.

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
