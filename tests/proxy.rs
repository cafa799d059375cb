//! `ooauth2 proxy`: password-only clients (Python's imaplib, poplib and
//! smtplib, curl -u, msmtp with `auth plain`, raw IMAP with literals,
//! LITERAL+ and SASL-IR) log in through the proxy to the private Dovecot of
//! the real-client tests, which checks every token at the mock provider;
//! the proxy logs in there with XOAUTH2 or OAUTHBEARER over implicit TLS
//! or STARTTLS. Also: `--check`, the config file's refusals, a refused
//! token refreshed once, the server down, an endless line, 50 clients.
//!
//! Password-only mail programs, configured as their users would (the
//! proxy's host and port, a login name, any password): mbsync with
//! `AuthMechs LOGIN`, neomutt with `imap_pass`/`smtp_pass` (batch sending,
//! reading under script(1)), getmail over POP3 and IMAP, and Alpine on a
//! pseudo-terminal. Long sessions: IDLE for 30 s (the suite's one slow
//! test) with a mail announced meanwhile, a 20 MB APPEND fetched back
//! byte-identical, a token that expires during a session.
//!
//! Needs Debian's packages like tests/real_clients.rs (and `alpine`).

use crate::support::mail::{
    Dovecot, Input, client_command, install_config, program, run_timeout, tagged_ok,
};
use crate::support::proxy::{LineClient, Running};
use crate::support::run::{Env, Run, USER, free_port};
use mock_idp::Grant;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

const CLIENT_LIMIT: Duration = Duration::from_secs(30);

/// A seeded account, a Dovecot that trusts the mock provider, and a
/// running proxy with one listener per protocol. Fields drop in order:
/// the proxy stops first.
struct Setup {
    proxy: Proxy,
    dc: Dovecot,
    env: Env,
    config: PathBuf,
}

/// The running `ooauth2 proxy` and its three listeners' ports.
struct Proxy {
    run: Running,
    imap: u16,
    pop: u16,
    smtp: u16,
}

impl std::ops::Deref for Proxy {
    type Target = Running;
    fn deref(&self) -> &Running {
        &self.run
    }
}

impl std::ops::DerefMut for Proxy {
    fn deref_mut(&mut self) -> &mut Running {
        &mut self.run
    }
}

/// The `[proxy.*]` tables: IMAP over implicit TLS, POP3 over STLS, SMTP
/// over STARTTLS, the first with `mechanism`.
fn tables(dc: &Dovecot, ports: (u16, u16, u16), mechanism: &str, imap_server: u16) -> String {
    let ca = dc.cert.display();
    format!(
        "\n[proxy.imap]\nprotocol = \"imap\"\nlisten = \"127.0.0.1:{}\"\n\
         server = \"127.0.0.1:{imap_server}\"\nserver_tls = \"implicit\"\n\
         mechanism = \"{mechanism}\"\naccounts = [\"work\"]\nca_file = \"{ca}\"\n\
         \n[proxy.pop]\nprotocol = \"pop\"\nlisten = \"127.0.0.1:{}\"\n\
         server = \"127.0.0.1:{}\"\nserver_tls = \"starttls\"\naccounts = [\"work\"]\nca_file = \"{ca}\"\n\
         \n[proxy.smtp]\nprotocol = \"smtp\"\nlisten = \"127.0.0.1:{}\"\n\
         server = \"127.0.0.1:{}\"\nserver_tls = \"starttls\"\naccounts = [\"work\"]\nca_file = \"{ca}\"\n",
        ports.0, ports.1, dc.pop3_port, ports.2, dc.submission_port
    )
}

fn setup_with(mechanism: &str, imap_server: Option<u16>) -> Setup {
    setup_local(mechanism, imap_server, None)
}

/// [`setup_with`], every listener with `local_tls = local` (the harness's
/// certificate) when given.
fn setup_local(mechanism: &str, imap_server: Option<u16>, local: Option<&str>) -> Setup {
    let env = Env::new();
    env.seed(USER);
    let config = install_config(&env, &env.root.join("home/.config"));
    let dc = Dovecot::start(&env);
    let ports = (free_port(), free_port(), free_port());
    let mut text = std::fs::read_to_string(&config).unwrap();
    let mut proxies = tables(&dc, ports, mechanism, imap_server.unwrap_or(dc.imaps_port));
    if let Some(local) = local {
        let key = dc.dir.join("key.pem");
        let with = format!(
            "accounts = [\"work\"]\nlocal_tls = \"{local}\"\nlocal_cert = \"{}\"\nlocal_key = \"{}\"\n",
            dc.cert.display(),
            key.display()
        );
        proxies = proxies.replace("accounts = [\"work\"]\n", &with);
    }
    text.push_str(&proxies);
    std::fs::write(&config, text).unwrap();
    let log = env.root.join("proxy.log");
    let mut cmd = env.command(&["proxy"]);
    if let Ok(release) = std::env::var("PROXY_BENCH_BIN") {
        // bench/proxy.sh measures the release binary (sh execs it: same PID).
        cmd = env.command_via::<&str>(&["sh", "-c", "exec \"$0\" proxy", &release], &[]);
    }
    let proxy = Proxy {
        run: Running::start(cmd, log, 3),
        imap: ports.0,
        pop: ports.1,
        smtp: ports.2,
    };
    Setup {
        proxy,
        dc,
        env,
        config,
    }
}

fn setup() -> Setup {
    setup_with("xoauth2", None)
}

impl Setup {
    /// Runs `python3 -c script`.
    fn python(&self, script: &str) -> Run {
        let mut cmd = client_command(&self.env, &program("python3"));
        cmd.arg("-c").arg(script);
        run_timeout(cmd, Input::Bytes(b""), CLIENT_LIMIT)
    }

    #[track_caller]
    fn expect_ok(&self, what: &str, run: &Run) {
        assert_eq!(
            run.status,
            0,
            "{what} failed: {run:#?}\n--- proxy ---\n{}\n{}",
            self.proxy.log(),
            self.dc.logs()
        );
    }

    /// A raw connection to the IMAP listener, greeting read.
    fn raw_imap(&self) -> LineClient {
        LineClient::tcp(self.proxy.imap)
    }

    /// Puts a message with Subject `marker` in the INBOX, directly.
    fn seed_inbox(&self, marker: &str) {
        let xo = self.env.token(USER, &["--format", "xoauth2"]);
        xo.expect(0);
        self.dc.seed_inbox(xo.stdout.trim(), USER, marker);
    }
}

#[test]
fn python_smtplib_sends_and_imaplib_and_poplib_read_through_the_proxy() {
    let s = setup();
    s.seed_inbox("proxy-seeded");
    let script = format!(
        "import smtplib\n\
         s = smtplib.SMTP('127.0.0.1', {port}, timeout=20)\n\
         s.ehlo()\n\
         assert 'starttls' not in s.esmtp_features, s.esmtp_features\n\
         s.login('{USER}', 'any password')\n\
         s.sendmail('{USER}', ['rcpt@example.org'], 'From: {USER}\\r\\nTo: rcpt@example.org\\r\\nSubject: via-proxy-smtplib\\r\\n\\r\\nHello.\\r\\n')\n\
         s.quit()\n",
        port = s.proxy.smtp
    );
    let run = s.python(&script);
    s.expect_ok("smtplib", &run);
    assert!(s.dc.sink.delivered("via-proxy-smtplib"), "not relayed");
    let script = format!(
        "import imaplib\n\
         m = imaplib.IMAP4('127.0.0.1', {port})\n\
         assert 'AUTH=PLAIN' in m.capabilities and 'LOGINDISABLED' not in m.capabilities, m.capabilities\n\
         m.login('work', 'whatever')\n\
         m.select('INBOX')\n\
         typ, data = m.search(None, 'SUBJECT', 'proxy-seeded')\n\
         typ, msg = m.fetch(data[0].split()[0], '(RFC822)')\n\
         print(msg[0][1].decode())\n\
         m.logout()\n",
        port = s.proxy.imap
    );
    let run = s.python(&script);
    s.expect_ok("imaplib", &run);
    assert!(run.stdout.contains("Subject: proxy-seeded"), "{run:#?}");
    let script = format!(
        "import poplib\n\
         p = poplib.POP3('127.0.0.1', {port}, timeout=20)\n\
         p.user('{USER}')\n\
         p.pass_('x')\n\
         n = p.stat()[0]\n\
         print(b'\\n'.join(p.retr(n)[1]).decode())\n\
         p.quit()\n",
        port = s.proxy.pop
    );
    let run = s.python(&script);
    s.expect_ok("poplib", &run);
    assert!(run.stdout.contains("Subject: proxy-seeded"), "{run:#?}");
    s.dc.expect_logins("XOAUTH2", "imap-login", 2, "seed + imaplib");
    s.dc.expect_logins("XOAUTH2", "pop3-login", 1, "poplib");
    s.dc.expect_logins("XOAUTH2", "submission-login", 1, "smtplib");
    // One line per login and per connection; never the token.
    let log = s.proxy.wait_log("bytes down");
    assert!(log.contains("login as work: ok"), "{log}");
    assert!(!log.contains(&s.env.cached_access_token(USER)), "{log}");
}

#[test]
fn curl_and_msmtp_with_a_password_log_in_through_the_proxy() {
    let s = setup();
    s.seed_inbox("curl-seeded");
    for (url, needle) in [
        (
            format!(
                "imap://127.0.0.1:{}/INBOX?SUBJECT%20curl-seeded",
                s.proxy.imap
            ),
            "SEARCH",
        ),
        (
            format!("pop3://127.0.0.1:{}/1", s.proxy.pop),
            "Subject: curl-seeded",
        ),
    ] {
        let mut cmd = client_command(&s.env, &program("curl"));
        cmd.args(["-sS", "--max-time", "20", "-u", &format!("{USER}:pw"), &url]);
        let run = run_timeout(cmd, Input::Bytes(b""), CLIENT_LIMIT);
        s.expect_ok(&url, &run);
        assert!(run.stdout.contains(needle), "{url}: {run:#?}");
    }
    let mail =
        format!("From: {USER}\r\nTo: rcpt@example.org\r\nSubject: via-proxy-curl\r\n\r\nHi.\r\n");
    let mut cmd = client_command(&s.env, &program("curl"));
    cmd.args(["-sS", "--max-time", "20", "-u", "work:pw"])
        .arg(format!("smtp://127.0.0.1:{}", s.proxy.smtp))
        .args([
            "--mail-from",
            USER,
            "--mail-rcpt",
            "rcpt@example.org",
            "-T",
            "-",
        ]);
    let run = run_timeout(cmd, Input::Bytes(mail.as_bytes()), CLIENT_LIMIT);
    s.expect_ok("curl smtp", &run);
    assert!(s.dc.sink.delivered("via-proxy-curl"));
    let rc = s.env.root.join("msmtprc");
    std::fs::write(
        &rc,
        format!(
            "account work\nhost 127.0.0.1\nport {}\ntls off\nauth plain\nuser {USER}\n\
             password printer-password\nfrom {USER}\n",
            s.proxy.smtp
        ),
    )
    .unwrap();
    crate::support::run::set_mode(&rc, 0o600);
    let mut cmd = client_command(&s.env, &program("msmtp"));
    cmd.arg("-C")
        .arg(&rc)
        .args(["-a", "work", "rcpt@example.org"]);
    let mail =
        format!("From: {USER}\r\nTo: rcpt@example.org\r\nSubject: via-proxy-msmtp\r\n\r\nHi.\r\n");
    let run = run_timeout(cmd, Input::Bytes(mail.as_bytes()), CLIENT_LIMIT);
    s.expect_ok("msmtp", &run);
    assert!(s.dc.sink.delivered("via-proxy-msmtp"));
}

#[test]
fn imap_literals_literal_plus_and_sasl_ir_log_in() {
    let s = setup_with("oauthbearer", None);
    let mut c = s.raw_imap();
    // A synchronizing literal: the proxy asks for it with a continuation.
    c.send(format!("a1 LOGIN {{{}}}\r\n", USER.len()).as_bytes());
    assert!(c.line().starts_with("+ "), "no continuation");
    c.send(format!("{USER} \"pa\\\"ss\"\r\n").as_bytes());
    let out = c.until("a1");
    assert!(out.contains("a1 OK"), "{out}\n{}", s.proxy.log());
    c.send(b"a2 SELECT INBOX\r\n");
    assert!(c.until("a2").contains("a2 OK"));
    // LITERAL+: no continuation, the bytes follow at once.
    let mut c = s.raw_imap();
    c.send(b"b1 LOGIN {4+}\r\nwork {3+}\r\npw!\r\n");
    let out = c.until("b1");
    assert!(out.contains("b1 OK"), "{out}\n{}", s.proxy.log());
    // SASL-IR, and AUTHENTICATE PLAIN with the response after the `+`.
    use base64::Engine as _;
    let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0{USER}\0pw"));
    let mut c = s.raw_imap();
    c.send(format!("c1 AUTHENTICATE PLAIN {plain}\r\n").as_bytes());
    assert!(tagged_ok(&c.until("c1")));
    let mut c = s.raw_imap();
    c.send(b"d1 AUTHENTICATE PLAIN\r\n");
    assert!(c.line().starts_with("+"));
    c.send(format!("{plain}\r\n").as_bytes());
    let out = c.until("d1");
    assert!(tagged_ok(&out), "{out}");
    // A name the listener does not serve is refused before any token is used.
    let mut c = s.raw_imap();
    c.send(b"e1 LOGIN someone.else pw\r\n");
    let out = c.until("e1");
    assert!(
        out.contains("e1 NO [AUTHENTICATIONFAILED] no account 'someone.else'"),
        "{out}"
    );
    s.dc.expect_logins("OAUTHBEARER", "imap-login", 4, "four logins");
}

#[test]
fn a_refused_token_is_refreshed_once_and_the_login_retried() {
    let s = setup();
    s.env.token(USER, &[]).expect(0);
    s.env.idp.reset_log();
    // The store still holds it as fresh; Dovecot's introspection says no.
    s.env.idp.expire_access_tokens();
    let mut c = s.raw_imap();
    c.send(b"a1 LOGIN work pw\r\n");
    let out = c.until("a1");
    assert!(out.contains("a1 OK"), "{out}\n{}", s.proxy.log());
    assert_eq!(s.env.idp.count(Grant::Refresh), 1);
    let log = s.proxy.wait_log("after a refresh");
    assert!(log.contains("after a refresh"), "{log}");
    // The refreshed token is the store's: the CLI sees it, no new refresh.
    s.env.token(USER, &[]).expect(0);
    assert_eq!(s.env.idp.count(Grant::Refresh), 1);
}

#[test]
fn the_server_down_and_an_endless_line_get_the_protocols_refusals() {
    let s = setup_with("xoauth2", Some(free_port()));
    let mut c = s.raw_imap();
    c.send(b"a1 LOGIN work pw\r\n");
    let out = c.until("a1");
    assert!(
        out.contains("a1 NO [UNAVAILABLE] cannot reach the server: cannot connect to 127.0.0.1:"),
        "{out}"
    );
    // POP3 and SMTP still work (their server is up); a line over the limit
    // before login is cut off with the protocol's error.
    let mut p = LineClient::tcp(s.proxy.pop);
    p.send(&vec![b'x'; 100_000]);
    let line = p.line();
    assert!(line.starts_with("-ERR Line too long"), "{line}");
    let mut m = LineClient::tcp(s.proxy.smtp);
    m.send(b"EHLO me\r\n");
    let mut ehlo = String::new();
    while !ehlo.contains("250 ") {
        ehlo.push_str(&m.line());
    }
    assert!(
        ehlo.contains("AUTH PLAIN LOGIN") && !ehlo.contains("STARTTLS"),
        "{ehlo}"
    );
    m.send(b"AUTH PLAIN\r\n");
    assert!(m.line().starts_with("334"));
    m.send(b"*\r\n");
    assert!(m.line().starts_with("501"));
    let log = s.proxy.wait_log("cut off");
    assert!(log.contains("cut off"), "{log}");
    // The rest of the IMAP line after the limit never reaches anyone.
    let mut c = s.raw_imap();
    c.send(&vec![b'a'; 20_000]);
    let mut rest = String::new();
    let _ = c.read_to_string(&mut rest);
    assert!(rest.starts_with("* BYE Line or literal too long"), "{rest}");
}

#[test]
fn fifty_clients_at_once() {
    let s = setup();
    s.env.token(USER, &[]).expect(0);
    s.env.idp.reset_log();
    let port = s.proxy.imap;
    let threads: Vec<_> = (0..50)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = LineClient::tcp(port);
                c.send(format!("t{i} LOGIN work pw\r\nn{i} NOOP\r\nl{i} LOGOUT\r\n").as_bytes());
                let out = c.until(&format!("l{i}"));
                (
                    out.contains(&format!("t{i} OK")) && out.contains(&format!("n{i} OK")),
                    out,
                )
            })
        })
        .collect();
    for t in threads {
        let (ok, out) = t.join().unwrap();
        assert!(ok, "{out}\n{}", s.proxy.log());
    }
    assert_eq!(s.env.idp.count(Grant::Refresh), 0, "all from the cache");
    s.dc.expect_logins("XOAUTH2", "imap-login", 50, "fifty clients");
}

#[test]
fn check_prints_the_listeners_and_bad_tables_are_refused_by_line() {
    let env = Env::new();
    let base = format!(
        "[accounts.work]\nclient_id = \"c\"\nuser = \"{USER}\"\nauthority = \"{}\"\n",
        env.idp.authority()
    );
    let cfg = env.write_config(&format!(
        "{base}[proxy.mail]\nprotocol = \"imap\"\naccounts = [\"work\"]\n\
         [proxy.send]\nprotocol = \"smtp\"\nlisten = \"127.0.0.1:2587\"\nmechanism = \"oauthbearer\"\naccounts = [\"work\"]\n"
    ));
    let run = env.run_with_config(&cfg, &["proxy", "--check"], b"");
    run.expect(0);
    assert_eq!(
        run.stdout,
        format!(
            "mail: imap on 127.0.0.1:1143 -> outlook.office365.com:993 (implicit TLS, XOAUTH2) for work ({USER})\n\
             send: smtp on 127.0.0.1:2587 -> smtp.office365.com:587 (STARTTLS, OAUTHBEARER) for work ({USER})\n"
        )
    );
    for (table, needles) in [
        (
            "[proxy.lan]\nprotocol = \"smtp\"\nlisten = \"0.0.0.0:2525\"\naccounts = [\"work\"]\n",
            &[":7:", "0.0.0.0:2525 is not a loopback address"][..],
        ),
        (
            "[proxy.m]\nprotocol = \"imap\"\nservre = \"x:1\"\naccounts = [\"work\"]\n",
            &[":7:", "unknown key 'servre'", "did you mean server?"][..],
        ),
        (
            "[proxy.m]\nprotocol = \"imap\"\naccounts = [\"work\"]\nca_file = \"/nonexistent/ca.pem\"\n",
            &[
                "cannot read [proxy.m] ca_file /nonexistent/ca.pem",
                "names a PEM file of the server's CA certificate",
            ][..],
        ),
    ] {
        let cfg = env.write_config(&format!("{base}{table}"));
        let run = env.run_with_config(&cfg, &["proxy", "--check"], b"");
        run.expect_failure(2, needles);
        assert!(run.stdout.is_empty());
    }
    let cfg = env.write_config(&base);
    env.run_with_config(&cfg, &["proxy", "--check"], b"")
        .expect_failure(2, &["no [proxy.NAME] table"]);
}

#[test]
fn a_busy_listen_port_is_an_error_before_serving() {
    let s = setup();
    let run = s.env.run_with_config(&s.config, &["proxy"], b"");
    run.expect_failure(
        75,
        &["cannot listen on 127.0.0.1:", "pick another listen port"],
    );
}

#[test]
fn a_connection_from_another_user_is_turned_away() {
    let s = setup();
    if !crate::support::run::running_as_root(&s.env) {
        // Only root can connect as another uid (setpriv); the check is the same code.
        return;
    }
    // curl's telnet:// prints what the proxy says until it closes.
    let mut cmd = client_command(&s.env, &program("setpriv"));
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(program("curl"))
        .args(["-sS", "--max-time", "10"])
        .arg(format!("telnet://127.0.0.1:{}", s.proxy.imap));
    let run = run_timeout(cmd, Input::Bytes(b""), CLIENT_LIMIT);
    s.expect_ok("curl as nobody", &run);
    assert!(
        run.stdout
            .starts_with("* BYE ooauth2 proxy: uid 65534 is not this proxy's user"),
        "{run:#?}"
    );
    let log = s.proxy.wait_log("refused: uid 65534");
    assert!(log.contains("refused: uid 65534"), "{log}");
    assert_eq!(s.dc.logins().len(), 0, "no login was tried");
}

#[test]
fn the_readme_example_checks_as_shown() {
    let env = Env::new();
    let section = crate::readme::readme_section("Mail programs that cannot do OAuth2");
    let toml = crate::readme::fenced_block(&section, "[proxy.NAME]", "toml");
    let cfg = env.write_config(&toml);
    let run = env.run_with_config(&cfg, &["proxy", "--check"], b"");
    run.expect(0);
    let shown = crate::readme::fenced_block(&section, "check what would listen", "sh");
    let expected: String = shown
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(run.stdout, expected);
}

#[test]
fn sigterm_stops_new_connections_and_lets_open_ones_finish_within_a_bound() {
    let mut s = setup();
    let mut c = s.raw_imap();
    c.send(b"a1 LOGIN work pw\r\n");
    assert!(c.until("a1").contains("a1 OK"), "{}", s.proxy.log());
    s.proxy.signal("TERM");
    s.proxy.wait_log("no new connections");
    // The open connection goes on; a new one is closed at once.
    c.send(b"a2 NOOP\r\n");
    assert!(c.until("a2").contains("a2 OK"), "{}", s.proxy.log());
    let mut late = TcpStream::connect(("127.0.0.1", s.proxy.imap)).unwrap();
    late.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let _ = late.read_to_end(&mut got);
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    // A connection held open past the drain limit does not keep it running.
    let status = s.proxy.exited();
    assert!(status.success(), "{status:?}\n{}", s.proxy.log());
    assert!(
        s.proxy
            .log()
            .contains("1 connections still open (drain limit)"),
        "{}",
        s.proxy.log()
    );
}

/// The figures of bench/README.md (bench/proxy.sh runs this with
/// `--ignored --nocapture`, in release): the same Python client through the
/// proxy and straight to Dovecot over TLS, one run side by side. Prints,
/// asserts only that everything worked.
#[test]
#[ignore = "a benchmark: bench/proxy.sh runs it"]
fn bench_proxy_against_direct() {
    let s = setup();
    let token = s.env.token(USER, &[]);
    token.expect(0);
    let rss = |when: &str| {
        let status = std::fs::read_to_string(format!("/proc/{}/status", s.proxy.pid())).unwrap();
        for l in status
            .lines()
            .filter(|l| l.starts_with("Vm") || l.starts_with("Threads"))
        {
            if ["VmRSS", "VmHWM", "Threads"]
                .iter()
                .any(|k| l.starts_with(k))
            {
                println!("proxy {when}: {l}");
            }
        }
    };
    rss("with no connection");
    let script = format!(
        r#"
import imaplib, os, ssl, time
ctx = ssl.create_default_context(cafile='{ca}')
def direct():
    m = imaplib.IMAP4_SSL('127.0.0.1', {imaps}, ssl_context=ctx)
    m.authenticate('XOAUTH2', lambda _: 'user={USER}\x01auth=Bearer {token}\x01\x01')
    return m
def proxied():
    m = imaplib.IMAP4('127.0.0.1', {proxy})
    m.login('work', 'x')
    return m
def login_ms(connect, n=20):
    t = time.perf_counter()
    for _ in range(n):
        connect().logout()
    return (time.perf_counter() - t) / n * 1000
def noop_ms(m, n=500):
    t = time.perf_counter()
    for _ in range(n):
        m.noop()
    return (time.perf_counter() - t) / n * 1000
body = b'x' * (20 * 1024 * 1024 - 100)
msg = b'From: a@example.org\r\nSubject: big\r\n\r\n' + body
m = direct(); m.append('INBOX', None, None, msg); m.select('INBOX')
n = m.search(None, 'SUBJECT', 'big')[1][0].split()[-1]
def fetch_mbs(m):
    # Three FETCHes a round: one takes a tenth of a second, short enough
    # for a passing stall of the machine to halve it.
    m.select('INBOX')
    t = time.perf_counter()
    for _ in range(3):
        data = m.fetch(n, '(BODY.PEEK[])')[1][0][1]
        assert len(data) == len(msg), len(data)
    return 3 * len(data) / (time.perf_counter() - t) / 1e6
def append_mbs(m):
    t = time.perf_counter()
    m.append('INBOX', None, None, msg)
    return len(msg) / (time.perf_counter() - t) / 1e6
# Rounds alternate which side goes first, and each round's pair is taken
# within a second or two, so that a load that comes and goes on the machine
# falls on both sides alike: the ratio is of each round's pair.
d, p = direct(), proxied()
med = lambda xs: sorted(xs)[len(xs) // 2]
ROUNDS = 9
def proxy_cpu_s():
    # utime and stime, fields 14 and 15 of /proc/PID/stat (after the name).
    f = open('/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK')
for name, f in [('noop_ms', noop_ms), ('fetch_MBps', fetch_mbs), ('append_MBps', append_mbs)]:
    pairs, cpu = [], 0.0
    for r in range(ROUNDS):
        order = [(0, d), (1, p)] if r % 2 == 0 else [(1, p), (0, d)]
        got = {{}}
        for i, m in order:
            before = proxy_cpu_s()
            got[i] = f(m)
            if i == 1:
                cpu += proxy_cpu_s() - before
        pairs.append((got[0], got[1]))
    ratio = [b / a for a, b in pairs]
    print(f'{{name}} direct={{med([a for a, _ in pairs]):.3f}} proxy={{med([b for _, b in pairs]):.3f}} '
          f'ratio={{med(ratio):.3f}} (rounds {{min(ratio):.2f}}..{{max(ratio):.2f}}) '
          f'added={{med([b - a for a, b in pairs]):.3f}} proxy_cpu_ms_per_round={{cpu / ROUNDS * 1000:.1f}}')
print(f'login_ms direct={{login_ms(direct):.2f}} proxy={{login_ms(proxied):.2f}}')
# Dovecot allows 10 logins per user and address: 5 logged in, 95 greeted
# (each of those holds its TLS connection to the server too).
idle = [proxied() for _ in range(5)] + [imaplib.IMAP4("127.0.0.1", {proxy}) for _ in range(95)]
print('idle=100', flush=True)
import sys; sys.stdin.read()
"#,
        ca = s.dc.cert.display(),
        imaps = s.dc.imaps_port,
        proxy = s.proxy.imap,
        pid = s.proxy.pid(),
        token = token.stdout.trim(),
    );
    let mut child = client_command(&s.env, &program("python3"))
        .arg("-c")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "{}", s.proxy.log());
        print!("{line}");
        if line.starts_with("idle=") {
            break;
        }
    }
    rss("with 100 idle connections");
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
}

#[test]
fn local_tls_implicit_and_starttls_with_the_users_certificate() {
    for (local, imap, pop, smtp) in [
        (
            "implicit",
            "m = imaplib.IMAP4_SSL('127.0.0.1', {imap}, ssl_context=ctx)",
            "p = poplib.POP3_SSL('127.0.0.1', {pop}, context=ctx)",
            "s = smtplib.SMTP_SSL('127.0.0.1', {smtp}, context=ctx)",
        ),
        (
            "starttls",
            "m = imaplib.IMAP4('127.0.0.1', {imap}); assert 'STARTTLS' in m.capabilities; m.starttls(ssl_context=ctx); assert 'STARTTLS' not in m.capabilities",
            "p = poplib.POP3('127.0.0.1', {pop}); p.stls(context=ctx)",
            "s = smtplib.SMTP('127.0.0.1', {smtp}); s.starttls(context=ctx); s.ehlo(); assert 'starttls' not in s.esmtp_features",
        ),
    ] {
        let s = setup_local("xoauth2", None, Some(local));
        s.seed_inbox("local-tls");
        let fill = |t: &str| {
            t.replace("{imap}", &s.proxy.imap.to_string())
                .replace("{pop}", &s.proxy.pop.to_string())
                .replace("{smtp}", &s.proxy.smtp.to_string())
        };
        let script = format!(
            "import imaplib, poplib, smtplib, ssl\n\
             ctx = ssl.create_default_context(cafile='{ca}')\n\
             {imap}\nm.login('work', 'x'); m.select('INBOX'); print(m.search(None, 'SUBJECT', 'local-tls')); m.logout()\n\
             {pop}\np.user('work'); p.pass_('x'); print(b'\\n'.join(p.retr(1)[1]).decode()); p.quit()\n\
             {smtp}\ns.login('work', 'x'); s.sendmail('{USER}', ['r@example.org'], 'Subject: local-tls-sent\\r\\n\\r\\nHi.\\r\\n'); s.quit()\n",
            ca = s.dc.cert.display(),
            imap = fill(imap),
            pop = fill(pop),
            smtp = fill(smtp),
        );
        let run = s.python(&script);
        s.expect_ok(local, &run);
        assert!(
            run.stdout.contains("Subject: local-tls"),
            "{local}: {run:#?}"
        );
        assert!(s.dc.sink.delivered("local-tls-sent"), "{local}");
    }
}

#[test]
fn auth_login_and_pop_auth_plain_log_in_and_a_missing_sign_in_is_refused_with_its_hint() {
    use base64::Engine as _;
    let b64 = |t: &str| base64::engine::general_purpose::STANDARD.encode(t);
    let s = setup();
    // SMTP AUTH LOGIN: user and password each after a 334.
    let mut m = LineClient::tcp(s.proxy.smtp);
    m.send(b"EHLO me\r\nAUTH LOGIN\r\n");
    while !m.line().starts_with("250 ") {}
    assert!(m.line().starts_with("334 VXNlcm5hbWU6"));
    m.send(format!("{}\r\n", b64(USER)).as_bytes());
    assert!(m.line().starts_with("334 UGFzc3dvcmQ6"));
    m.send(format!("{}\r\n", b64("pw")).as_bytes());
    let line = m.line();
    assert!(line.starts_with("235 "), "{line}\n{}", s.proxy.log());
    // IMAP AUTHENTICATE LOGIN.
    let mut c = s.raw_imap();
    c.send(b"a1 AUTHENTICATE LOGIN\r\n");
    assert!(c.line().starts_with("+ VXNlcm5hbWU6"));
    c.send(format!("{}\r\n", b64("work")).as_bytes());
    assert!(c.line().starts_with("+ UGFzc3dvcmQ6"));
    c.send(format!("{}\r\n", b64("pw")).as_bytes());
    assert!(tagged_ok(&c.until("a1")));
    // POP3 AUTH PLAIN with the initial response.
    let mut p = LineClient::tcp(s.proxy.pop);
    p.send(format!("AUTH PLAIN {}\r\n", b64(&format!("\0{USER}\0pw"))).as_bytes());
    let line = p.line();
    assert!(line.starts_with("+OK"), "{line}\n{}", s.proxy.log());
    s.dc.expect_logins("XOAUTH2", "submission-login", 1, "AUTH LOGIN");
    s.dc.expect_logins("XOAUTH2", "imap-login", 1, "AUTHENTICATE LOGIN");
    s.dc.expect_logins("XOAUTH2", "pop3-login", 1, "AUTH PLAIN");
    // Without a stored sign-in the login is refused, naming the command
    // that fixes it; nothing asks anyone to sign in.
    s.env.erase(USER, &[]).expect(0);
    let mut c = s.raw_imap();
    c.send(b"b1 LOGIN work pw\r\n");
    let out = c.until("b1");
    assert!(
        out.contains("b1 NO [UNAVAILABLE] no token for work:"),
        "{out}"
    );
    assert!(out.contains("ooauth2 login work"), "{out}");
    assert_eq!(s.env.idp.devicecode_count(), 0);
}

#[test]
fn the_cli_and_the_proxy_on_an_expired_token_make_one_refresh() {
    let s = setup();
    s.env.token(USER, &[]).expect(0);
    s.env.expire_cached(USER);
    s.env.idp.reset_log();
    s.env.idp.set_delay_ms(300);
    let cli = s.env.spawn(&s.env.args("token", USER, &[]));
    let mut c = s.raw_imap();
    c.send(b"a1 LOGIN work pw\r\n");
    let out = c.until("a1");
    assert!(out.contains("a1 OK"), "{out}\n{}", s.proxy.log());
    let run = crate::support::run::finish(cli, b"");
    run.expect(0);
    assert_eq!(s.env.idp.count(Grant::Refresh), 1, "{}", s.proxy.log());
}

// ---------------------------------------------------------------------------
// Password-only mail programs through the proxy: mbsync, neomutt, getmail
// and Alpine, each configured as a user of a password-only program would
// (host, port, a login name and any password; no token command).
// ---------------------------------------------------------------------------

impl Setup {
    /// Writes `text` as `name` (mode 0600) in the test's directory.
    fn rc(&self, name: &str, text: &str) -> PathBuf {
        let path = self.env.root.join(name);
        std::fs::write(&path, text).unwrap();
        crate::support::run::set_mode(&path, 0o600);
        path
    }
}

#[test]
fn mbsync_with_authmechs_login_syncs_the_inbox_through_the_proxy() {
    let s = setup();
    s.seed_inbox("waiting for mbsync via the proxy");
    let maildir = s.env.root.join("mbsync-mail");
    std::fs::create_dir_all(&maildir).unwrap();
    let rc = s.rc(
        "mbsyncrc",
        &format!(
            "IMAPAccount work\nHost 127.0.0.1\nPort {}\nUser work\nPass mbsync-password\n\
             AuthMechs LOGIN\nSSLType None\n\n\
             IMAPStore work-remote\nAccount work\n\n\
             MaildirStore work-local\nPath {m}/\nInbox {m}/INBOX\nSubFolders Verbatim\n\n\
             Channel work\nFar :work-remote:\nNear :work-local:\nPatterns INBOX\n\
             Create Near\nSyncState *\n",
            s.proxy.imap,
            m = maildir.display()
        ),
    );
    let mut cmd = client_command(&s.env, &program("mbsync"));
    cmd.arg("-c").arg(&rc).arg("work");
    let run = run_timeout(cmd, Input::Bytes(b""), CLIENT_LIMIT);
    s.expect_ok("mbsync", &run);
    assert!(
        crate::support::mail::in_maildir(
            &maildir.join("INBOX"),
            "waiting for mbsync via the proxy"
        ),
        "not synced: {run:#?}\n{}",
        s.proxy.log()
    );
    s.dc.expect_logins("XOAUTH2", "imap-login", 2, "seed + mbsync");
}

#[test]
fn neomutt_with_imap_pass_and_smtp_pass_sends_and_reads_through_the_proxy() {
    let s = setup();
    s.seed_inbox("waiting for neomutt via the proxy");
    let rc = s.rc(
        "neomuttrc",
        &format!(
            "set from = \"{USER}\"\n\
             set folder = \"imap://127.0.0.1:{imap}/\"\nset spool_file = \"+INBOX\"\n\
             set imap_user = \"work\"\nset imap_pass = \"neomutt-password\"\n\
             set smtp_url = \"smtp://work@127.0.0.1:{smtp}/\"\nset smtp_pass = \"neomutt-password\"\n\
             set ssl_starttls = no\nset ssl_force_tls = no\nset record = \"\"\n",
            imap = s.proxy.imap,
            smtp = s.proxy.smtp
        ),
    );
    let rc = rc.to_str().unwrap();
    let mut cmd = client_command(&s.env, &program("neomutt"));
    cmd.args(["-n", "-F", rc, "-s", "sent by neomutt via the proxy"])
        .arg("rcpt@example.org");
    let run = run_timeout(
        cmd,
        Input::Bytes(b"Hello through the proxy.\n"),
        CLIENT_LIMIT,
    );
    s.expect_ok("neomutt send", &run);
    assert!(
        s.dc.sink.delivered("sent by neomutt via the proxy"),
        "not relayed: {run:#?}\n{}",
        s.proxy.log()
    );
    let neomutt = program("neomutt");
    let words = [
        neomutt.to_str().unwrap(),
        "-n",
        "-F",
        rc,
        "-e",
        "push <quit>",
    ];
    let run = run_timeout(
        crate::support::mail::terminal_command(&s.env, &words),
        Input::KeysWhen(b"", &|| false),
        CLIENT_LIMIT,
    );
    s.expect_ok("neomutt read", &run);
    // The index shows the message: neomutt logged in and read INBOX.
    assert!(
        run.stdout.contains("waiting for neomutt via the proxy"),
        "{run:#?}\n{}",
        s.proxy.log()
    );
    s.dc.expect_logins("XOAUTH2", "submission-login", 1, "neomutt send");
    s.dc.expect_logins("XOAUTH2", "imap-login", 2, "seed + neomutt read");
}

#[test]
fn getmail_with_a_password_retrieves_over_pop3_and_imap_through_the_proxy() {
    let s = setup();
    s.seed_inbox("waiting for getmail via the proxy");
    let as_root = crate::support::run::running_as_root(&s.env);
    for (kind, port) in [("POP3", s.proxy.pop), ("IMAP", s.proxy.imap)] {
        let gmdir = s.env.root.join(format!("getmail-{kind}"));
        let maildir = gmdir.join("Mail");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        // getmail refuses to deliver as root; its Maildir `user` does the
        // delivery as nobody while getmail (same user as the proxy) fetches.
        let user = if as_root {
            let nobody = Some(crate::support::run::NOBODY);
            for sub in ["", "cur", "new", "tmp"] {
                std::os::unix::fs::chown(maildir.join(sub), nobody, nobody).unwrap();
            }
            "user = nobody\n"
        } else {
            ""
        };
        let mailboxes = if kind == "IMAP" {
            "mailboxes = (\"INBOX\",)\n"
        } else {
            ""
        };
        let rc = s.rc(
            &format!("getmailrc-{kind}"),
            &format!(
                "[retriever]\ntype = Simple{kind}Retriever\nserver = 127.0.0.1\nport = {port}\n\
                 username = work\npassword = getmail-password\n{mailboxes}\n\
                 [destination]\ntype = Maildir\npath = {}/\n{user}\n\
                 [options]\nread_all = true\ndelete = false\n",
                maildir.display()
            ),
        );
        let mut cmd = client_command(&s.env, &program("getmail"));
        cmd.arg("--rcfile").arg(&rc).arg("--getmaildir").arg(&gmdir);
        let run = run_timeout(cmd, Input::Bytes(b""), CLIENT_LIMIT);
        s.expect_ok(kind, &run);
        assert!(
            crate::support::mail::in_maildir(&maildir, "waiting for getmail via the proxy"),
            "{kind}: not delivered: {run:#?}\n{}",
            s.proxy.log()
        );
        assert!(run.stdout.contains("1 messages"), "{kind}: {run:#?}");
    }
    s.dc.expect_logins("XOAUTH2", "pop3-login", 1, "getmail POP3");
    s.dc.expect_logins("XOAUTH2", "imap-login", 2, "seed + getmail IMAP");
}

#[test]
fn alpine_with_a_password_reads_inbox_through_the_proxy_on_a_terminal() {
    let s = setup();
    s.seed_inbox("waiting for alpine via the proxy");
    let folder = format!("{{127.0.0.1:{}/user=work/notls}}INBOX", s.proxy.imap);
    // last-version-used (Alpine writes 2.26 as 6.26): no first-run greeting;
    // quitting asks nothing.
    let pinerc = s.rc(
        "pinerc",
        &format!(
            "personal-name=Test\nuser-domain=example.com\ninbox-path={folder}\n\
             last-version-used=6.26\nfeature-list=quit-without-confirm\n"
        ),
    );
    let words = [
        program("alpine").display().to_string(),
        "-d".into(),
        "0".into(),
        "-p".into(),
        pinerc.display().to_string(),
        "-i".into(),
    ];
    let vars = [("TERM", "xterm"), ("LANG", "C.UTF-8")];
    let mut pty = crate::support::pty::Pty::start_program(&s.env, &words, &vars, (100, 30));
    pty.answer("ENTER PASSWORD:", "alpine-password");
    pty.wait_for("Preserve password on DISK");
    pty.type_text("n");
    pty.wait_for("waiting for alpine");
    pty.type_text("q");
    let (status, screen, _) = pty.finish();
    assert_eq!(status, 0, "{screen}\n{}", s.proxy.log());
    s.dc.expect_logins("XOAUTH2", "imap-login", 2, "seed + alpine");
}

// ---------------------------------------------------------------------------
// Long sessions: IDLE, a large message, a token that expires meanwhile
// ---------------------------------------------------------------------------

impl LineClient {
    /// Logs in as `work` and selects INBOX (tags `l` and `s`).
    fn login_and_select(&mut self, s: &Setup) -> String {
        self.send(b"l LOGIN work pw\r\n");
        let out = self.until("l");
        assert!(tagged_ok(&out), "{out}\n{}", s.proxy.log());
        self.send(b"s SELECT INBOX\r\n");
        let out = self.until("s");
        assert!(tagged_ok(&out), "{out}");
        out
    }
}

/// RFC 2177 clients idle for up to 29 minutes; 30 s shows that nothing in
/// between (the pump's poll, a timeout) cuts the session or holds back the
/// server's untagged EXISTS.
#[test]
fn idle_for_30_seconds_through_the_proxy_announces_a_mail_delivered_meanwhile() {
    let s = setup();
    s.seed_inbox("there before the idle");
    let mut c = s.raw_imap();
    assert!(c.login_and_select(&s).contains("* 1 EXISTS"));
    let started = Instant::now();
    c.send(b"i IDLE\r\n");
    let l = c.line();
    assert!(l.starts_with("+ "), "{l}");
    std::thread::sleep(Duration::from_secs(15));
    // Delivered straight to Dovecot, not through the proxy.
    s.seed_inbox("delivered during the idle");
    let mut seen = String::new();
    while !seen.contains("* 2 EXISTS") {
        let l = c.line();
        assert!(
            !l.is_empty(),
            "closed while idling: {seen}\n{}",
            s.proxy.log()
        );
        seen.push_str(&l);
    }
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "EXISTS came late"
    );
    std::thread::sleep(Duration::from_secs(30).saturating_sub(started.elapsed()));
    c.send(b"DONE\r\n");
    let out = c.until("i");
    assert!(tagged_ok(&out), "{out}\n{}", s.proxy.log());
    c.send(b"f FETCH 2 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n");
    let out = c.until("f");
    assert!(out.contains("Subject: delivered during the idle"), "{out}");
    assert!(started.elapsed() >= Duration::from_secs(30));
}

/// `len` bytes of CRLF-ended lines of varied text (a message Dovecot
/// stores and gives back unchanged).
fn big_message(len: usize) -> Vec<u8> {
    let mut msg = b"From: big@example.org\r\nSubject: twenty megabytes\r\n\r\n".to_vec();
    let mut x: u32 = 12345;
    while msg.len() < len - 2 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let width = 1 + (x >> 16) as usize % 200;
        let line: Vec<u8> = (0..width.min(len - 2 - msg.len()))
            .map(|i| b'!' + ((x as usize >> 3).wrapping_add(i * 7) % 94) as u8)
            .collect();
        msg.extend_from_slice(&line);
        msg.extend_from_slice(b"\r\n");
    }
    msg
}

#[test]
fn a_20_mb_message_appended_through_the_proxy_is_fetched_back_byte_identical() {
    let s = setup();
    let msg = big_message(20 * 1024 * 1024);
    let mut c = s.raw_imap();
    c.login_and_select(&s);
    let before = s.proxy.status_kib("VmHWM");
    c.send(format!("a APPEND INBOX {{{}}}\r\n", msg.len()).as_bytes());
    let l = c.line();
    assert!(l.starts_with("+ "), "{l}");
    c.send(&msg);
    c.send(b"\r\n");
    let out = c.until("a");
    assert!(tagged_ok(&out), "{out}\n{}", s.proxy.log());
    // One command at a time: Dovecot may finish a pipelined NOOP after
    // the FETCH that follows it.
    c.send(b"f FETCH 1 BODY.PEEK[]\r\n");
    let head = c.line();
    let size: usize = head
        .strip_prefix("* 1 FETCH (BODY[] {")
        .and_then(|r| r.strip_suffix("}\r\n"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{head}"));
    assert_eq!(size, msg.len());
    let mut back = vec![0; size];
    c.read_exact(&mut back).unwrap();
    assert!(back == msg, "the message came back changed");
    assert_eq!(c.line(), ")\r\n");
    assert!(tagged_ok(&c.until("f")));
    // Streamed, never held whole: the proxy's peak grew by far less than
    // the message (a quarter of it is a loose bound, not a target).
    let grown = s.proxy.status_kib("VmHWM") - before;
    assert!(grown < msg.len() as u64 / 4 / 1024, "grew by {grown} KiB");
    c.send(b"o LOGOUT\r\n");
    c.until("o");
    let log = s.proxy.wait_log("bytes down");
    assert!(log.contains("bytes up"), "{log}");
}

#[test]
fn a_token_that_expires_during_a_session_keeps_it_and_new_logins_refresh_once() {
    let s = setup();
    s.env.token(USER, &[]).expect(0);
    s.env.idp.reset_log();
    let mut long = s.raw_imap();
    long.login_and_select(&s);
    // Time passes: the store's token is past its expiry and the server no
    // longer takes it for a new login.
    s.env.expire_cached(USER);
    s.env.idp.expire_access_tokens();
    long.send(b"a1 NOOP\r\n");
    assert!(tagged_ok(&long.until("a1")), "{}", s.proxy.log());
    let port = s.proxy.imap;
    let logins: Vec<_> = (0..5)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = LineClient::tcp(port);
                c.send(format!("t{i} LOGIN work pw\r\nl{i} LOGOUT\r\n").as_bytes());
                let out = c.until(&format!("l{i}"));
                (out.contains(&format!("t{i} OK")), out)
            })
        })
        .collect();
    for t in logins {
        let (ok, out) = t.join().unwrap();
        assert!(ok, "{out}\n{}", s.proxy.log());
    }
    assert_eq!(s.env.idp.count(Grant::Refresh), 1, "{}", s.proxy.log());
    // The first session never noticed.
    long.send(b"a2 STATUS INBOX (MESSAGES)\r\na3 NOOP\r\n");
    assert!(tagged_ok(&long.until("a3")), "{}", s.proxy.log());
    assert!(
        !s.proxy.log().contains("after a refresh"),
        "{}",
        s.proxy.log()
    );
    s.dc.expect_logins("XOAUTH2", "imap-login", 6, "one long, five new");
}
