//! A run of the binary on a pseudo-terminal (util-linux `script`), as a
//! person at a terminal has it: the screen collected as it comes, text
//! typed, stdout sent to a file.

use crate::support::run::{Env, bin, sh_quote};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A run of the binary on a pseudo-terminal of `cols` x `rows`, its stdout
/// sent to a file (as msmtp or mbsync capture it) and its terminal output
/// collected as it comes.
pub struct Pty {
    child: Child,
    input: Option<ChildStdin>,
    screen: Arc<Mutex<Vec<u8>>>,
    stdout: PathBuf,
    /// How much of the screen the prompts answered so far used up.
    seen: usize,
}

impl Pty {
    /// `ooauth2 ARGS` at a terminal of `size` (columns, rows), with `vars`
    /// in its environment.
    pub fn start(env: &Env, args: &[String], vars: &[(&str, &str)], size: (u16, u16)) -> Pty {
        let words: Vec<String> = std::iter::once(bin().display().to_string())
            .chain(args.iter().cloned())
            .collect();
        Pty::spawn(env, &words, vars, size, true)
    }

    /// Another program (`words`: its path and arguments) at a terminal,
    /// its stdout the screen: a mail client such as Alpine.
    pub fn start_program(
        env: &Env,
        words: &[String],
        vars: &[(&str, &str)],
        size: (u16, u16),
    ) -> Pty {
        Pty::spawn(env, words, vars, size, false)
    }

    /// `words` under script(1); stdout to a file when `capture`.
    fn spawn(
        env: &Env,
        words: &[String],
        vars: &[(&str, &str)],
        size: (u16, u16),
        capture: bool,
    ) -> Pty {
        // One file a run: a test may start several.
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let n = RUNS.fetch_add(1, Ordering::Relaxed);
        let stdout = env.root.join(format!("stdout-{n}"));
        let mut line = format!("stty cols {} rows {} && exec", size.0, size.1);
        for a in words {
            line.push(' ');
            line.push_str(&sh_quote(a));
        }
        if capture {
            line.push_str(&format!(" >{}", sh_quote(&stdout.display().to_string())));
        }
        let mut cmd = Command::new("script");
        cmd.args(["-q", "-f", "-e", "-c", &line, "/dev/null"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("SHELL", "/bin/sh")
            .env("HOME", env.root.join("home"))
            .env("OOAUTH2_STORE_DIR", env.store())
            .env("OOAUTH2_HTTP_TIMEOUT", "10")
            .envs(vars.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("util-linux script");
        let input = child.stdin.take();
        let mut out = child.stdout.take().unwrap();
        let screen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Pty {
            child,
            input,
            screen,
            stdout,
            seen: 0,
        }
    }

    /// Everything the terminal showed so far.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    /// Waits until the terminal showed `needle`.
    pub fn wait_for(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the terminal never showed {needle:?}: {s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for `prompt` after what the prompts answered so far showed,
    /// then types `answer` and ENTER.
    pub fn answer(&mut self, prompt: &str, answer: &str) {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if let Some(i) = screen[self.seen..].find(prompt) {
                self.seen += i + prompt.len();
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the terminal never showed {prompt:?}: {screen}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.type_text(&format!("{answer}\n"));
    }

    /// Types `text` on the terminal.
    pub fn type_text(&mut self, text: &str) {
        let input = self.input.as_mut().unwrap();
        input.write_all(text.as_bytes()).unwrap();
        input.flush().unwrap();
    }

    /// Waits for the exit (killing the run by its PID after 60 s); returns
    /// the status, the screen and stdout.
    pub fn finish(mut self) -> (i32, String, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > Duration::from_secs(60) {
                let _ = self.child.kill();
                panic!("the run did not end: {}", self.screen());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        drop(self.input.take());
        // The reader drains the rest after the exit.
        std::thread::sleep(Duration::from_millis(200));
        let stdout = std::fs::read_to_string(&self.stdout).unwrap_or_default();
        (status.code().unwrap_or(-1), self.screen(), stdout)
    }
}

impl Drop for Pty {
    /// A test that failed before [`Pty::finish`] leaves no program behind:
    /// script(1) is stopped by its PID, and the program gets the hang-up
    /// of its closed terminal.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
