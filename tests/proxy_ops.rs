//! `ooauth2 proxy` run as a service: SIGHUP reloads the config file's
//! listeners (added, removed, changed, an open session kept, a broken file
//! refused), a `unix:` listener used by Python's imaplib (its socket 0600,
//! a stale one replaced, removed on exit, another uid refused by
//! SO_PEERCRED), sockets handed over by systemd (socket activation), and
//! the systemd user units of contrib/systemd.
//!
//! Against the private Dovecot of tests/support/mail.rs, like tests/proxy.rs.

use crate::support::mail::{Dovecot, Input, client_command, install_config, program, run_timeout};
use crate::support::proxy::{LineClient, Running as Proxy};
use crate::support::run::{Env, Run, USER, free_port, running_as_root};
use std::net::TcpStream;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const CLIENT_LIMIT: Duration = Duration::from_secs(30);

/// A seeded account, a Dovecot that trusts the mock provider, and the
/// config file the proxy reads (its account part; tables are added per
/// test). Fields drop in order: the proxy stops first.
struct Setup {
    proxy: Option<Proxy>,
    dc: Dovecot,
    env: Env,
    config: PathBuf,
    accounts: String,
}

/// Sends SIGHUP and waits for the reload's log line (the `n`th reload).
fn reload(proxy: &Proxy, n: usize) -> String {
    proxy.signal("HUP");
    let log = proxy.wait_count("proxy: reload", n);
    assert_eq!(log.matches("proxy: reload").count(), n, "{log}");
    log.lines()
        .filter(|l| l.starts_with("proxy: reload"))
        .nth(n - 1)
        .unwrap_or_default()
        .to_string()
}

impl Setup {
    fn new() -> Setup {
        let env = Env::new();
        env.seed(USER);
        let config = install_config(&env, &env.root.join("home/.config"));
        let accounts = std::fs::read_to_string(&config).unwrap();
        let dc = Dovecot::start(&env);
        Setup {
            proxy: None,
            dc,
            env,
            config,
            accounts,
        }
    }

    /// An IMAP listener table: `name` on `listen` (a port or `unix:PATH`)
    /// to Dovecot's implicit TLS port, for `accounts`.
    fn imap_table(&self, name: &str, listen: &str, accounts: &str) -> String {
        format!(
            "\n[proxy.{name}]\nprotocol = \"imap\"\nlisten = \"{listen}\"\n\
             server = \"127.0.0.1:{}\"\nserver_tls = \"implicit\"\n\
             accounts = [{accounts}]\nca_file = \"{}\"\n",
            self.dc.imaps_port,
            self.dc.cert.display()
        )
    }

    /// The config file: the accounts, then `tables`.
    fn write(&self, tables: &str) {
        std::fs::write(&self.config, format!("{}{tables}", self.accounts)).unwrap();
    }

    /// Starts the proxy on the config file, and waits for its `n` listeners.
    fn start(&mut self, n: usize) -> &Proxy {
        let log = self.env.root.join("proxy.log");
        self.proxy
            .insert(Proxy::start(self.env.command(&["proxy"]), log, n))
    }

    fn proxy(&self) -> &Proxy {
        self.proxy.as_ref().expect("started")
    }

    /// Runs `python3 -c script` (as `setpriv_args`' user when given).
    fn python(&self, script: &str, setpriv_args: &[&str]) -> Run {
        let mut cmd = if setpriv_args.is_empty() {
            client_command(&self.env, &program("python3"))
        } else {
            let mut c = client_command(&self.env, &program("setpriv"));
            c.args(setpriv_args).arg(program("python3"));
            c
        };
        cmd.arg("-c").arg(script);
        run_timeout(cmd, Input::Bytes(b""), CLIENT_LIMIT)
    }
}

/// Whether a TCP connection to `port` is refused (nothing listens).
fn refused(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_err()
}

#[test]
fn sighup_adds_and_removes_listeners_and_an_open_session_lives_on() {
    let mut s = Setup::new();
    let (a, b, c) = (free_port(), free_port(), free_port());
    let (ta, tc) = (
        s.imap_table("a", &a.to_string(), "\"work\""),
        s.imap_table("c", &c.to_string(), "\"work\""),
    );
    s.write(&format!("{ta}{tc}"));
    s.start(2);
    let mut open = LineClient::imap(a);
    assert!(open.command("a1", "LOGIN work pw").contains("a1 OK"));
    assert!(refused(b));
    // a removed, b added, c kept with a new name for its account.
    let tb = s.imap_table("b", &b.to_string(), "\"work\"");
    let tc2 = s.imap_table("c2", &c.to_string(), "\"work\"");
    s.write(&format!("{tb}{tc2}"));
    let line = reload(s.proxy(), 1);
    assert_eq!(
        line,
        format!("proxy: reloaded: added b (127.0.0.1:{b}); removed a (127.0.0.1:{a}); changed c2"),
        "{}",
        s.proxy().log()
    );
    assert!(refused(a), "a removed listener stops accepting");
    // Its open session goes on, through the reload.
    assert!(open.command("a2", "SELECT INBOX").contains("a2 OK"));
    assert!(open.command("a3", "NOOP").contains("a3 OK"));
    for port in [b, c] {
        let mut new = LineClient::imap(port);
        let ok = new.command("b1", "LOGIN work pw");
        assert!(ok.contains("b1 OK"), "{port}: {ok}\n{}", s.proxy().log());
    }
    let log = s.proxy().wait_count("proxy c2: ", 1);
    assert!(
        log.contains("proxy c2: 127.0.0.1:"),
        "new logins on the kept socket use the new table: {log}"
    );
    assert!(open.command("a4", "LOGOUT").contains("a4 OK"));
    // The same file again: nothing changed.
    let line = reload(s.proxy(), 2);
    assert_eq!(line, "proxy: reloaded: unchanged b, c2");
    s.dc.expect_logins("XOAUTH2", "imap-login", 3, "a, then b and c2");
}

#[test]
fn a_broken_config_on_sighup_is_refused_and_the_old_listeners_serve_on() {
    let mut s = Setup::new();
    let (a, b) = (free_port(), free_port());
    let ta = s.imap_table("a", &a.to_string(), "\"work\"");
    s.write(&ta);
    s.start(1);
    // A misspelt account, and a new listener beside it: nothing applies.
    let tb = s.imap_table("b", &b.to_string(), "\"wrok\"");
    s.write(&format!("{ta}{tb}"));
    let line = reload(s.proxy(), 1);
    assert!(
        line.starts_with("proxy: reload refused, the running listeners go on: "),
        "{line}"
    );
    assert!(
        line.contains("no account 'wrok'") && line.contains("did you mean work?"),
        "{line}"
    );
    assert!(refused(b));
    let mut c = LineClient::imap(a);
    let ok = c.command("a1", "LOGIN work pw");
    assert!(ok.contains("a1 OK"), "{ok}\n{}", s.proxy().log());
    // A new listener whose port is taken: refused too, a kept as it was.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let tb = s.imap_table("b", &port.to_string(), "\"work\"");
    s.write(&format!("{ta}{tb}"));
    let line = reload(s.proxy(), 2);
    assert!(
        line.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{line}"
    );
    assert!(c.command("a2", "NOOP").contains("a2 OK"));
    // The proxy still runs, and SIGTERM still drains it, even with a
    // SIGHUP right behind (a reload never hides a stop).
    drop(c);
    let pid = s.proxy().pid();
    let sent = Command::new("sh")
        .args(["-c", &format!("kill -TERM {pid}; kill -HUP {pid}")])
        .status()
        .unwrap();
    assert!(sent.success());
    let mut proxy = s.proxy.take().unwrap();
    let status = proxy.exited();
    assert!(status.success(), "{}", proxy.log());
    assert!(proxy.log().contains("proxy: stopped"), "{}", proxy.log());
}

#[test]
fn an_account_renamed_in_the_file_logs_in_by_its_new_name_after_sighup_only() {
    let mut s = Setup::new();
    let a = free_port();
    s.write(&s.imap_table("a", &a.to_string(), "\"work\""));
    s.start(1);
    s.accounts = s.accounts.replace("[accounts.work]\n", "[accounts.job]\n");
    s.write(&s.imap_table("a", &a.to_string(), "\"job\""));
    // Not before the reload: the proxy serves the file it loaded.
    let mut c = LineClient::imap(a);
    let no = c.command("a1", "LOGIN job pw");
    assert!(
        no.contains("a1 NO") && no.contains("no account 'job' here"),
        "{no}"
    );
    let line = reload(s.proxy(), 1);
    assert_eq!(line, "proxy: reloaded: changed a", "{}", s.proxy().log());
    // A new connection logs in by the new name only, with the same token.
    let mut c = LineClient::imap(a);
    let no = c.command("b1", "LOGIN work pw");
    assert!(
        no.contains("b1 NO") && no.contains("log in as one of: job"),
        "{no}"
    );
    let ok = c.command("b2", "LOGIN job pw");
    assert!(ok.contains("b2 OK"), "{ok}\n{}", s.proxy().log());
    assert!(
        s.proxy().log().contains("login as job: ok"),
        "{}",
        s.proxy().log()
    );
}

/// Python's imaplib over the Unix socket at `path`: LOGIN, SELECT, LOGOUT.
fn imaplib_over(path: &Path) -> String {
    format!(
        "import imaplib, socket\n\
         class Unix(imaplib.IMAP4):\n\
         \x20   def _create_socket(self, timeout):\n\
         \x20       s = socket.socket(socket.AF_UNIX)\n\
         \x20       s.settimeout(20)\n\
         \x20       s.connect({path:?})\n\
         \x20       return s\n\
         m = Unix()\n\
         m.login('work', 'any password')\n\
         typ, data = m.select('INBOX')\n\
         assert typ == 'OK', (typ, data)\n\
         m.logout()\n\
         print('ok')\n",
        path = path.display().to_string()
    )
}

#[test]
fn imaplib_logs_in_over_a_unix_socket_that_replaces_a_stale_one_and_goes_on_exit() {
    let mut s = Setup::new();
    let dir = s.env.root.join("sock");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("imap.sock");
    // A killed proxy's socket file, nobody answering on it.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let t = s.imap_table("local", &format!("unix:{}", path.display()), "\"work\"");
    s.write(&t);
    let check = s.env.run_with_config(&s.config, &["proxy", "--check"], b"");
    check.expect(0);
    let shown = format!("local: imap on unix:{} -> 127.0.0.1:", path.display());
    assert!(check.stdout.starts_with(&shown), "{check:#?}");
    s.start(1);
    let meta = std::fs::metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let run = s.python(&imaplib_over(&path), &[]);
    assert_eq!(run.status, 0, "{run:#?}\n{}", s.proxy().log());
    assert_eq!(run.stdout, "ok\n");
    let log = s.proxy().log();
    assert!(
        log.contains(&format!(
            "proxy local: listening on unix:{}",
            path.display()
        )),
        "{log}"
    );
    assert!(log.contains("proxy local: unix login as work: ok"), "{log}");
    s.dc.expect_logins("XOAUTH2", "imap-login", 1, "imaplib over the Unix socket");
    // A second proxy on the same socket is refused; the file stays the first's.
    let second = s.env.run_with_config(&s.config, &["proxy"], b"");
    second.expect_failure(75, &["a running server answers there"]);
    assert!(UnixStream::connect(&path).is_ok());
    s.proxy().signal("TERM");
    let mut proxy = s.proxy.take().unwrap();
    assert!(proxy.exited().success(), "{}", proxy.log());
    assert!(!path.exists(), "the socket file is removed on exit");
}

#[test]
fn a_unix_socket_client_of_another_uid_is_refused() {
    let mut s = Setup::new();
    if !running_as_root(&s.env) {
        // Only root can connect as another uid (setpriv); the check is the same code.
        return;
    }
    let dir = s.env.root.join("sock");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("imap.sock");
    let t = s.imap_table("local", &format!("unix:{}", path.display()), "\"work\"");
    s.write(&t);
    s.start(1);
    let nobody = ["--reuid=65534", "--regid=65534", "--clear-groups"];
    let greeting = format!(
        "import socket\ns = socket.socket(socket.AF_UNIX)\ns.settimeout(10)\n\
         s.connect({:?})\nprint(s.recv(4096).decode(), end='')\n",
        path.display().to_string()
    );
    // The mode alone keeps another user out...
    let run = s.python(&greeting, &nobody);
    assert_ne!(run.status, 0, "{run:#?}");
    assert!(run.stderr.contains("PermissionError"), "{run:#?}");
    // ...and were the file opened to everyone, SO_PEERCRED still does.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    for d in [&s.env.root, &dir] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let run = s.python(&greeting, &nobody);
    assert_eq!(run.status, 0, "{run:#?}");
    assert!(
        run.stdout
            .starts_with("* BYE ooauth2 proxy: uid 65534 is not this proxy's user"),
        "{run:#?}"
    );
    let log = s.proxy().wait_count("refused: uid 65534", 1);
    assert!(
        log.contains("proxy local: unix refused: uid 65534"),
        "{log}"
    );
    assert_eq!(s.dc.logins().len(), 0, "no login was tried");
}

/// Python's imaplib on 127.0.0.1:`port`: LOGIN, SELECT, LOGOUT.
fn imaplib_on(port: u16) -> String {
    format!(
        "import imaplib\n\
         m = imaplib.IMAP4('127.0.0.1', {port}, timeout=20)\n\
         m.login('work', 'any password')\n\
         typ, data = m.select('INBOX')\n\
         assert typ == 'OK', (typ, data)\n\
         m.logout()\n\
         print('ok')\n"
    )
}

/// The proxy under systemd-socket-activate (systemd's own tool, which
/// hands sockets over as a socket unit does), bound to `listens`; it starts
/// the proxy at the first connection, which waits in the socket meanwhile.
fn activated<'a>(s: &'a mut Setup, listens: &[String]) -> &'a Proxy {
    let tool = program("systemd-socket-activate");
    let mut wrapper = vec![tool.to_str().unwrap().to_string()];
    for l in listens {
        wrapper.extend(["-l".to_string(), l.clone()]);
    }
    // The tool passes on only the variables named with -E: the test's own.
    let own = s.env.command::<&str>(&[]);
    for (name, _) in own.get_envs() {
        wrapper.extend(["-E".to_string(), name.to_string_lossy().into_owned()]);
    }
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let cmd = s.env.command_via(&wrapper, &["proxy"]);
    let proxy = s
        .proxy
        .insert(Proxy::start(cmd, s.env.root.join("proxy.log"), 0));
    // The tool says `Listening on ADDRESS as FD.` for each once bound.
    let log = proxy.wait_count("Listening on ", listens.len());
    assert_eq!(log.matches("Listening on ").count(), listens.len(), "{log}");
    proxy
}

#[test]
fn sockets_handed_over_by_systemd_are_served_and_one_no_listener_names_is_refused() {
    let mut s = Setup::new();
    let port = free_port();
    let dir = s.env.root.join("sock");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("imap.sock");
    let tcp = s.imap_table("tcp", &format!("127.0.0.1:{port}"), "\"work\"");
    let unix = s.imap_table("local", &format!("unix:{}", path.display()), "\"work\"");
    s.write(&format!("{tcp}{unix}"));
    let listens = [format!("127.0.0.1:{port}"), path.display().to_string()];
    activated(&mut s, &listens);
    // The first client starts the proxy; it is served all the same.
    let run = s.python(&imaplib_on(port), &[]);
    assert_eq!(run.status, 0, "{run:#?}\n{}", s.proxy().log());
    let log = s.proxy().wait_count("a socket from systemd", 2);
    for line in [
        format!("proxy tcp: listening on 127.0.0.1:{port}, a socket from systemd"),
        format!(
            "proxy local: listening on unix:{}, a socket from systemd",
            path.display()
        ),
    ] {
        assert!(log.contains(&line), "{line}\n{log}");
    }
    let run = s.python(&imaplib_over(&path), &[]);
    assert_eq!(run.status, 0, "{run:#?}\n{}", s.proxy().log());
    s.dc.expect_logins("XOAUTH2", "imap-login", 2, "imaplib on both sockets");
    s.proxy().signal("TERM");
    let mut proxy = s.proxy.take().unwrap();
    assert!(proxy.exited().success(), "{}", proxy.log());
    assert!(path.exists(), "systemd's socket file is left to systemd");

    // A socket on an address no listener names would take connections
    // nobody serves: refused at start.
    let other = free_port();
    s.write(&tcp);
    activated(&mut s, &[format!("127.0.0.1:{other}")]);
    let _first = TcpStream::connect(("127.0.0.1", other)).unwrap();
    let mut proxy = s.proxy.take().unwrap();
    assert_eq!(proxy.exited().code(), Some(2), "{}", proxy.log());
    let log = proxy.log();
    for needle in [
        format!(
            "systemd handed over a socket on 127.0.0.1:{other}, and no [proxy.NAME] table listens there"
        ),
        format!("give a listener listen = \"127.0.0.1:{other}\""),
    ] {
        assert!(log.contains(&needle), "{needle}\n{log}");
    }
    assert!(
        !log.contains("listening on 127.0.0.1"),
        "nothing served: {log}"
    );
}

#[test]
fn the_proxy_unit_verifies_and_reloads_with_sighup() {
    let env = Env::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/systemd");
    let service = dir.join("ooauth2-proxy.service");
    let socket = dir.join("ooauth2-proxy.socket");
    crate::health::expect_verified(&env, &[&service, &socket]);
    let text = std::fs::read_to_string(&service).unwrap();
    for needed in [
        "ExecStart=%h/.cargo/bin/ooauth2 proxy\n",
        "ExecReload=/bin/kill -HUP $MAINPID\n",
        "Restart=on-failure\n",
        "WantedBy=default.target\n",
    ] {
        assert!(text.contains(needed), "{needed}: {text}");
    }
    // The socket unit binds the README example's listeners (smtp given,
    // imap's default), written out as their listen values.
    let text = std::fs::read_to_string(&socket).unwrap();
    let streams: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("ListenStream="))
        .collect();
    assert_eq!(streams, ["127.0.0.1:1587", "127.0.0.1:1143"], "{text}");
    assert!(text.contains("SocketMode=0600\n"), "{text}");
}
