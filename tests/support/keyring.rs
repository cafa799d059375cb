//! A private desktop keyring for the tests: a D-Bus session bus of our
//! own (a config with no service activation, so nothing starts behind the
//! test's back) and `gnome-keyring-daemon` unlocked with a test password,
//! both stopped by PID; the environment that reaches them; and
//! `secret-tool` to look at what the keyring holds.

use crate::support::run::{CLIENT, Env, Run, USER};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The keyring's password, for its unlock at start.
const PASSWORD: &str = "ooauth2-test-keyring";

/// A running private D-Bus session with an unlocked GNOME Keyring.
pub struct Keyring {
    dir: PathBuf,
    bus: Child,
    daemon: Option<Child>,
    pub address: String,
}

impl Keyring {
    /// Starts the bus and the keyring under `env`'s root.
    pub fn start(env: &Env) -> Keyring {
        let dir = env.root.join("keyring");
        let run = dir.join("run");
        std::fs::create_dir_all(&run).unwrap();
        crate::support::run::set_mode(&run, 0o700);
        let socket = run.join("bus");
        let config = dir.join("bus.conf");
        std::fs::write(&config, bus_config(&socket.to_string_lossy())).unwrap();
        let mut bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian's dbus-daemon) must be installed");
        let mut line = String::new();
        BufReader::new(bus.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let mut k = Keyring {
            dir,
            bus,
            daemon: None,
            address: line.trim().to_string(),
        };
        assert!(!k.address.is_empty(), "dbus-daemon printed no address");
        k.start_daemon();
        k
    }

    /// Starts gnome-keyring-daemon and waits until it owns the Secret
    /// Service name.
    fn start_daemon(&mut self) {
        let mut cmd = Command::new("gnome-keyring-daemon");
        cmd.args(["--foreground", "--unlock", "--components=secrets"]);
        let mut daemon = self
            .own_env(&mut cmd)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon (Debian's gnome-keyring) must be installed");
        let mut stdin = daemon.stdin.take().unwrap();
        stdin.write_all(PASSWORD.as_bytes()).unwrap();
        drop(stdin);
        self.daemon = Some(daemon);
        let start = Instant::now();
        while !self.service_answers() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "gnome-keyring-daemon did not take the Secret Service name"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The environment the daemon and `secret-tool` run in.
    fn own_env<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        let home = self.dir.join("home");
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_RUNTIME_DIR", self.dir.join("run"))
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
    }

    /// Whether the Secret Service name has an owner on the bus.
    fn service_answers(&self) -> bool {
        let mut cmd = Command::new("dbus-send");
        let out = self
            .own_env(&mut cmd)
            .args(["--session", "--print-reply", "--dest=org.freedesktop.DBus"])
            .args(["/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner"])
            .arg("string:org.freedesktop.secrets")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("boolean true")
    }

    /// The variables that point a run of the binary at this keyring.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![("DBUS_SESSION_BUS_ADDRESS", self.address.clone())]
    }

    /// Every ooauth2 item: (its name, the token it holds).
    pub fn items(&self) -> Vec<(String, String)> {
        let mut cmd = Command::new("secret-tool");
        let out = self
            .own_env(&mut cmd)
            .args(["search", "--all", "service", "ooauth2"])
            .output()
            .expect("secret-tool (Debian's libsecret-tools) must be installed");
        // secret-tool prints each item's attributes on stderr.
        let names: Vec<String> = String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter_map(|l| l.strip_prefix("attribute.username = "))
            .map(str::to_string)
            .collect();
        names
            .into_iter()
            .filter_map(|n| self.item(&n).map(|t| (n, t)))
            .collect()
    }

    /// The token the item `name` holds, if there is one.
    pub fn item(&self, name: &str) -> Option<String> {
        let mut cmd = Command::new("secret-tool");
        let out = self
            .own_env(&mut cmd)
            .args(["lookup", "service", "ooauth2", "username", name])
            .output()
            .unwrap();
        let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.status.success() && !token.is_empty()).then_some(token)
    }

    /// Locks the collection the items are in, as a screen lock would.
    pub fn lock(&self) {
        let mut cmd = Command::new("dbus-send");
        let out = self
            .own_env(&mut cmd)
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.secrets",
            ])
            .args([
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.Lock",
            ])
            .arg("array:objpath:/org/freedesktop/secrets/collection/login")
            .output()
            .unwrap();
        assert!(out.status.success(), "lock: {out:?}");
    }

    /// Stops the keyring daemon (the bus stays).
    pub fn stop_daemon(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
        let start = Instant::now();
        while self.service_answers() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `ooauth2 ARGS` for `USER` with `secret_store = keyring` flags
    /// (unless `store` is false) and `vars` besides the keyring's.
    pub fn token(&self, env: &Env, store: bool, extra: &[&str], vars: &[(&str, &str)]) -> Run {
        let mut args = env.args("token", USER, extra);
        if store {
            args.extend(["--secret-store".to_string(), "keyring".to_string()]);
        }
        let mut cmd = env.command(&args);
        cmd.envs(self.vars()).envs(vars.iter().copied());
        env.run_with(cmd, b"")
    }

    /// `ooauth2 helper` for `USER` with `secret_store=keyring` and `extra` lines.
    pub fn helper(&self, env: &Env, extra: &str) -> Run {
        let req = format!("{}secret_store=keyring\n{extra}\n", env.account_lines(USER));
        let mut cmd = env.command(&["helper"]);
        cmd.envs(self.vars());
        env.run_with(cmd, req.as_bytes())
    }

    /// Starts `ooauth2 helper` for `USER` with this store and `extra`
    /// lines (`OOAUTH2_LOCK_TIMEOUT` 10 s), without waiting.
    pub fn start_helper(&self, env: &Env, extra: &str) -> Child {
        let mut cmd = env.helper_command(Some("10"));
        cmd.envs(self.vars());
        let req = format!(
            "{}secret_store=keyring\n{extra}\n\n",
            env.account_lines(USER)
        );
        env.start_with(cmd, &req)
    }

    /// Stores a refresh token the mock issued for `USER` in the keyring.
    pub fn seed(&self, env: &Env) -> String {
        let rt = env.idp.issue_refresh_token(USER, CLIENT);
        self.helper(env, &format!("action=store\nrefresh_token={rt}"))
            .expect(0);
        rt
    }

    /// The token the account's record points at: the next generation's
    /// item when a crash left one, as ooauth2 reads it.
    pub fn newest_for(&self, item: &str) -> Option<String> {
        let (slot, generation) = item.rsplit_once('.')?;
        let next = format!("{slot}.{}", generation.parse::<u64>().ok()? + 1);
        self.item(&next).or_else(|| self.item(item))
    }
}

/// A session bus that listens on `socket` only and activates nothing.
fn bus_config(socket: &str) -> String {
    format!(
        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n \
         \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
         <busconfig>\n  <type>session</type>\n  <listen>unix:path={socket}</listen>\n  \
         <policy context=\"default\">\n    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n    \
         <allow eavesdrop=\"true\"/>\n    <allow own=\"*\"/>\n  </policy>\n</busconfig>\n"
    )
}

impl Drop for Keyring {
    fn drop(&mut self) {
        self.stop_daemon();
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}
