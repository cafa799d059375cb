//! `ooauth2 proxy` for other users and the LAN: local passwords (an
//! argon2 hash from `ooauth2 proxy hash-password`, or a command printing
//! the password), checked before any token is fetched; local TLS with a
//! certificate generated once in the data dir and reused; a listen address
//! off loopback refused without local TLS and passwords. Python's imaplib,
//! smtplib and poplib log in over TLS with the right and a wrong password
//! to the private Dovecot of the real-client tests.
//!
//! Needs Debian's packages like tests/real_clients.rs.

use crate::support::mail::{Dovecot, Input, client_command, install_config, program, run_timeout};
use crate::support::proxy::Running;
use crate::support::run::{Env, Run, USER, free_port, running_as_root};
use mock_idp::Grant;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const CLIENT_LIMIT: Duration = Duration::from_secs(30);

/// The local password of the tests' listeners.
const PASSWORD: &str = "scanner pass 1";

/// A wrong password.
const GUESS: &str = "Tr0ub4dor-guess";

/// The password `local_password_cmd` prints for the POP3 listener.
const CMD_PASSWORD: &str = "from-a-command";

/// Starts `ooauth2 proxy` in `env` (on `config` when given) and waits
/// until its `listeners` listen.
fn serve(env: &Env, config: Option<&Path>, listeners: usize) -> Running {
    let log = env.root.join(format!("proxy-{}.log", free_port()));
    let mut cmd = env.command(&["proxy"]);
    if let Some(c) = config {
        cmd.env("OOAUTH2_CONFIG", c);
    }
    Running::start(cmd, log, listeners)
}

/// `ooauth2 proxy hash-password` with `stdin`.
fn hash_password(env: &Env, stdin: &[u8]) -> Run {
    env.run(&["proxy", "hash-password"], stdin)
}

/// Runs `python3 -c script` as a mail client.
fn python(env: &Env, script: &str) -> Run {
    let mut cmd = client_command(env, &program("python3"));
    cmd.arg("-c").arg(script);
    run_timeout(cmd, Input::Bytes(b""), CLIENT_LIMIT)
}

/// The SHA-256 fingerprint `--check` prints for the generated certificate.
fn fingerprint(check: &Run) -> String {
    let line = check
        .stdout
        .lines()
        .find(|l| l.contains("SHA-256 "))
        .unwrap_or_else(|| panic!("no fingerprint: {check:#?}"));
    line.rsplit("SHA-256 ").next().unwrap().to_string()
}

/// Python that prints the SHA-256 fingerprint of the certificate served
/// with implicit TLS on `port`, as `--check` shows it.
fn served_fingerprint(env: &Env, port: u16) -> String {
    let script = format!(
        "import socket, ssl, hashlib\n\
         c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n\
         c.check_hostname = False\n\
         c.verify_mode = ssl.CERT_NONE\n\
         s = c.wrap_socket(socket.create_connection(('127.0.0.1', {port}), timeout=20))\n\
         d = hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest().upper()\n\
         print(':'.join(d[i:i+2] for i in range(0, len(d), 2)))\n"
    );
    let run = python(env, &script);
    assert_eq!(run.status, 0, "{run:#?}");
    run.stdout.trim().to_string()
}

/// A seeded account, a Dovecot, and a proxy whose three listeners take
/// only local passwords over local TLS: IMAP with implicit TLS and the
/// hash, SMTP with STARTTLS and the hash, POP3 with STLS and a command.
struct Lan {
    proxy: Running,
    dc: Dovecot,
    env: Env,
    ports: (u16, u16, u16),
}

fn lan() -> Lan {
    lan_on("127.0.0.1")
}

/// The three listeners on `host`, clients reaching each at 127.0.0.1.
fn lan_on(host: &str) -> Lan {
    let env = Env::new();
    env.seed(USER);
    let hashed = hash_password(&env, format!("{PASSWORD}\n").as_bytes());
    hashed.expect(0);
    let hash = hashed.stdout.trim().to_string();
    let config = install_config(&env, &env.root.join("home/.config"));
    let dc = Dovecot::start(&env);
    let ports = (free_port(), free_port(), free_port());
    let ca = dc.cert.display();
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[proxy.imap]\nprotocol = \"imap\"\nlisten = \"{host}:{}\"\n\
         server = \"127.0.0.1:{}\"\nserver_tls = \"implicit\"\naccounts = [\"work\"]\nca_file = \"{ca}\"\n\
         local_tls = \"implicit\"\nlocal_password_hash = \"{hash}\"\n\
         \n[proxy.smtp]\nprotocol = \"smtp\"\nlisten = \"{host}:{}\"\n\
         server = \"127.0.0.1:{}\"\nserver_tls = \"starttls\"\naccounts = [\"work\"]\nca_file = \"{ca}\"\n\
         local_tls = \"starttls\"\nlocal_password_hash = {{ work = \"{hash}\" }}\n\
         \n[proxy.pop]\nprotocol = \"pop\"\nlisten = \"{host}:{}\"\n\
         server = \"127.0.0.1:{}\"\nserver_tls = \"starttls\"\naccounts = [\"work\"]\nca_file = \"{ca}\"\n\
         local_tls = \"starttls\"\nlocal_password_cmd = \"printf '%s\\\\n' '{CMD_PASSWORD}'\"\n",
        ports.0, dc.imaps_port, ports.1, dc.submission_port, ports.2, dc.pop3_port
    ));
    std::fs::write(&config, text).unwrap();
    let proxy = serve(&env, None, 3);
    Lan {
        proxy,
        dc,
        env,
        ports,
    }
}

impl Lan {
    /// The generated certificate (the store dir's), which clients trust.
    fn cert(&self) -> PathBuf {
        self.env.store().join("proxy-cert.pem")
    }

    /// Runs `body` in Python, `c` an SSL context trusting the generated
    /// certificate and `port` the listener's port; `login` in the body
    /// prints `refused` and the error on a refused login.
    fn client(&self, port: u16, body: &str, refusal: &str) -> Run {
        let script = format!(
            "import imaplib, poplib, smtplib, ssl\n\
             c = ssl.create_default_context(cafile='{}')\n\
             port = {port}\n\
             def refused(e):\n    print('refused', {refusal}); raise SystemExit(0)\n{body}",
            self.cert().display()
        );
        python(&self.env, &script)
    }

    /// imaplib over implicit TLS; prints OK or the refusal.
    fn imap(&self, password: &str) -> Run {
        let body = format!(
            "m = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=c)\n\
             try:\n    m.login('{USER}', '{password}')\nexcept imaplib.IMAP4.error as e:\n    refused(e)\n\
             m.select('INBOX')\n\
             print('OK', m.search(None, 'ALL')[0])\n\
             m.logout()\n"
        );
        self.client(self.ports.0, &body, "e")
    }

    /// smtplib with STARTTLS; prints OK or the refusal's code.
    fn smtp(&self, password: &str, subject: &str) -> Run {
        let body = format!(
            "s = smtplib.SMTP('127.0.0.1', port, timeout=20)\n\
             s.starttls(context=c)\n\
             try:\n    s.login('work', '{password}')\nexcept smtplib.SMTPAuthenticationError as e:\n    refused(e)\n\
             s.sendmail('{USER}', ['rcpt@example.org'], 'From: {USER}\\r\\nTo: rcpt@example.org\\r\\nSubject: {subject}\\r\\n\\r\\nScanned.\\r\\n')\n\
             s.quit()\n\
             print('OK')\n"
        );
        self.client(self.ports.1, &body, "e.smtp_code, e.smtp_error.decode()")
    }

    /// poplib with STLS; prints OK or the refusal.
    fn pop(&self, password: &str) -> Run {
        let body = format!(
            "p = poplib.POP3('127.0.0.1', port, timeout=20)\n\
             p.stls(context=c)\n\
             p.user('{USER}')\n\
             try:\n    p.pass_('{password}')\nexcept poplib.error_proto as e:\n    refused(e)\n\
             print('OK', p.stat())\n\
             p.quit()\n"
        );
        self.client(self.ports.2, &body, "e.args[0].decode()")
    }

    #[track_caller]
    fn expect_ok(&self, what: &str, run: &Run) {
        assert!(
            run.status == 0 && run.stdout.starts_with("OK"),
            "{what}: {run:#?}\n--- proxy ---\n{}\n{}",
            self.proxy.log(),
            self.dc.logs()
        );
    }

    #[track_caller]
    fn expect_refused(&self, what: &str, run: &Run, needle: &str) {
        assert!(
            run.status == 0 && run.stdout.starts_with("refused") && run.stdout.contains(needle),
            "{what}: {run:#?}\n--- proxy ---\n{}",
            self.proxy.log()
        );
    }
}

#[test]
fn python_clients_log_in_over_tls_with_the_local_password_and_a_wrong_one_never_reaches_the_token()
{
    let s = lan();
    // An expired token: a wrong password that reached the engine would refresh it.
    s.env.expire_cached(USER);
    let before = std::fs::read(s.env.record_path(USER).0).unwrap();
    let refreshes = s.env.idp.count(Grant::Refresh);
    s.expect_refused(
        "imaplib, wrong password",
        &s.imap(GUESS),
        "[AUTHENTICATIONFAILED]",
    );
    s.expect_refused(
        "smtplib, wrong password",
        &s.smtp(GUESS, "never"),
        "535 5.7.8",
    );
    // The command's password is the POP3 listener's, not the hash's.
    s.expect_refused(
        "poplib, the other listener's password",
        &s.pop(PASSWORD),
        "-ERR [AUTH]",
    );
    // smtplib tries PLAIN, then LOGIN: four refusals in all.
    let log = s.proxy.wait_count("wrong user name or password", 4);
    assert_eq!(
        log.matches("wrong user name or password").count(),
        4,
        "{log}"
    );
    assert!(
        log.contains("failure 4 from 127.0.0.1 in 15 min, answered after 4.0 s"),
        "later failures wait longer: {log}"
    );
    for secret in [PASSWORD, CMD_PASSWORD, GUESS] {
        assert!(!log.contains(secret), "{secret:?} in the log: {log}");
    }
    assert_eq!(
        s.env.idp.count(Grant::Refresh),
        refreshes,
        "no token was asked for"
    );
    assert_eq!(std::fs::read(s.env.record_path(USER).0).unwrap(), before);
    assert!(
        s.dc.logins().is_empty(),
        "no server login: {:?}",
        s.dc.logins()
    );

    s.expect_ok("smtplib", &s.smtp(PASSWORD, "scanned-via-lan-proxy"));
    assert!(s.dc.sink.delivered("scanned-via-lan-proxy"), "not relayed");
    s.expect_ok("imaplib", &s.imap(PASSWORD));
    s.expect_ok("poplib", &s.pop(CMD_PASSWORD));
    assert_eq!(
        s.env.idp.count(Grant::Refresh),
        refreshes + 1,
        "one refresh for all"
    );
    s.dc.expect_logins("XOAUTH2", "imap-login", 1, "imaplib");
    s.dc.expect_logins("XOAUTH2", "submission-login", 1, "smtplib");
    s.dc.expect_logins("XOAUTH2", "pop3-login", 1, "poplib");
    let log = s.proxy.wait_count("login as work: ok", 3);
    assert!(
        !log.contains(PASSWORD) && !log.contains(CMD_PASSWORD),
        "{log}"
    );
}

/// A scanner's listener, bound on every address of the machine (0.0.0.0
/// is not loopback, so it needs TLS and passwords): it serves, and the
/// password is what lets a client in, whatever address it came from.
#[test]
fn a_listener_on_every_address_serves_with_tls_and_the_password() {
    let s = lan_on("0.0.0.0");
    let log = s.proxy.log();
    assert!(
        log.contains(&format!("imap: listening on 0.0.0.0:{}", s.ports.0)),
        "{log}"
    );
    s.expect_refused(
        "imaplib, wrong password",
        &s.imap(GUESS),
        "[AUTHENTICATIONFAILED]",
    );
    s.expect_ok("imaplib", &s.imap(PASSWORD));
    s.expect_ok("smtplib", &s.smtp(PASSWORD, "scanned-on-every-address"));
    assert!(
        s.dc.sink.delivered("scanned-on-every-address"),
        "not relayed"
    );
    s.expect_ok("poplib", &s.pop(CMD_PASSWORD));
    s.dc.expect_logins("XOAUTH2", "imap-login", 1, "imaplib");
}

#[test]
fn with_local_passwords_another_user_may_log_in_with_the_password() {
    let s = lan();
    if !running_as_root(&s.env) {
        // Only root can connect as another uid (setpriv).
        return;
    }
    let script = format!(
        "import imaplib, ssl\n\
         c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n\
         c.check_hostname = False\n\
         c.verify_mode = ssl.CERT_NONE\n\
         m = imaplib.IMAP4_SSL('127.0.0.1', {}, ssl_context=c)\n\
         m.login('work', '{PASSWORD}')\n\
         print('OK', m.select('INBOX'))\n\
         m.logout()\n",
        s.ports.0
    );
    let mut cmd = client_command(&s.env, &program("setpriv"));
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(program("python3"))
        .arg("-c")
        .arg(script);
    let run = run_timeout(cmd, Input::Bytes(b""), CLIENT_LIMIT);
    s.expect_ok("imaplib as nobody", &run);
    assert!(!s.proxy.log().contains("refused: uid"), "{}", s.proxy.log());
}

#[test]
fn a_listen_address_off_loopback_needs_local_tls_and_passwords() {
    let env = Env::new();
    let hash = hash_password(&env, b"pw\n");
    hash.expect(0);
    let hash = hash.stdout.trim();
    let base = format!(
        "[accounts.work]\nclient_id = \"c\"\nuser = \"{USER}\"\nauthority = \"{}\"\n\
         [accounts.home]\nclient_id = \"c\"\nuser = \"home@example.org\"\nauthority = \"{}\"\n\
         [proxy.lan]\nprotocol = \"smtp\"\nlisten = \"192.168.1.10:2525\"\naccounts = [\"work\", \"home\"]\n",
        env.idp.authority(),
        env.idp.authority()
    );
    let tls = "local_tls = \"starttls\"\n";
    let both = format!("local_password_hash = \"{hash}\"\n");
    let one = format!("local_password_hash = {{ work = \"{hash}\" }}\n");
    for (extra, needles) in [
        (
            String::new(),
            &[
                "config.toml:11:",
                "192.168.1.10:2525 is not a loopback address",
                "add local_tls = \"starttls\"",
                "and local_password_hash",
            ][..],
        ),
        (tls.to_string(), &["add local_password_hash"][..]),
        (
            both.clone(),
            &["add local_tls = \"starttls\" (or \"implicit\"), or listen"][..],
        ),
        (format!("{tls}{one}"), &["account 'home' has none"][..]),
        (
            format!("{tls}local_password_hash = \"plain-password\"\n"),
            &["is not a PHC string", "ooauth2 proxy hash-password"][..],
        ),
    ] {
        let cfg = env.write_config(&format!("{base}{extra}"));
        let run = env.run_with_config(&cfg, &["proxy", "--check"], b"");
        run.expect_failure(2, needles);
        assert!(run.stdout.is_empty(), "{run:#?}");
        // Serving is refused the same way, before anything listens.
        env.run_with_config(&cfg, &["proxy"], b"")
            .expect_failure(2, needles);
    }
    let cfg = env.write_config(&format!("{base}{tls}{both}"));
    let run = env.run_with_config(&cfg, &["proxy", "--check"], b"");
    run.expect(0);
    assert!(
        run.stdout.starts_with(
            "lan: smtp on 192.168.1.10:2525, local STARTTLS, local passwords -> smtp.office365.com:587"
        ),
        "{run:#?}"
    );
    assert!(run.stdout.contains("\n  certificate "), "{run:#?}");
}

#[test]
fn hash_password_reads_stdin_and_prints_only_an_argon2_hash() {
    let env = Env::new();
    let run = hash_password(&env, b"correct horse battery\n");
    run.expect(0);
    assert!(run.stdout.starts_with("$argon2id$v=19$m="), "{run:#?}");
    assert_eq!(run.stdout.lines().count(), 1);
    assert!(!run.stdout.contains("correct") && !run.stderr.contains("correct"));
    // A fresh salt each time: the same password, another hash.
    let again = hash_password(&env, b"correct horse battery\n");
    assert_ne!(again.stdout, run.stdout);
    for empty in [&b""[..], b"\n"] {
        let run = hash_password(&env, empty);
        run.expect_failure(2, &["the password is empty; nothing printed"]);
        assert!(run.stdout.is_empty());
    }
    assert!(!env.store().exists(), "nothing written");
}

#[test]
fn the_generated_certificate_is_private_and_the_same_across_starts() {
    let env = Env::new();
    let port = free_port();
    // The server is never reached: TLS with the client comes first.
    let cfg = env.write_config(&format!(
        "[accounts.work]\nclient_id = \"c\"\nuser = \"{USER}\"\nauthority = \"{}\"\n\
         [proxy.imap]\nprotocol = \"imap\"\nlisten = \"127.0.0.1:{port}\"\nserver = \"127.0.0.1:1\"\n\
         server_tls = \"implicit\"\naccounts = [\"work\"]\nlocal_tls = \"implicit\"\n",
        env.idp.authority()
    ));
    let check = env.run_with_config(&cfg, &["proxy", "--check"], b"");
    check.expect(0);
    let pinned = fingerprint(&check);
    assert_eq!(pinned.len(), 32 * 3 - 1, "{pinned}");
    for name in ["proxy-cert.pem", "proxy-key.pem"] {
        let mode = std::fs::metadata(env.store().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    let mut seen = Vec::new();
    for _ in 0..2 {
        let proxy = serve(&env, Some(&cfg), 1);
        seen.push(served_fingerprint(&env, port));
        drop(proxy);
    }
    assert_eq!(
        seen,
        [pinned.clone(), pinned.clone()],
        "one certificate, kept"
    );
    let check = env.run_with_config(&cfg, &["proxy", "--check"], b"");
    assert_eq!(fingerprint(&check), pinned);
}

#[test]
fn the_readme_scanner_example_checks_as_shown() {
    let env = Env::new();
    let section = crate::readme::readme_section("Mail programs that cannot do OAuth2");
    let first = crate::readme::fenced_block(&section, "[proxy.NAME]", "toml");
    let account = first.split("[proxy.").next().unwrap();
    let scanner = crate::readme::fenced_block(&section, "### A scanner on the LAN", "toml");
    let hash = hash_password(&env, b"scanner\n");
    hash.expect(0);
    let scanner = scanner.replace("$argon2id$v=19$m=19456,t=2,p=1$...", hash.stdout.trim());
    let cfg = env.write_config(&format!("{account}{scanner}"));
    let run = env.run_with_config(&cfg, &["proxy", "--check"], b"");
    run.expect(0);
    let shown = crate::readme::fenced_block(&section, "prints its SHA-256 fingerprint", "sh");
    let shown: Vec<&str> = shown.lines().filter_map(|l| l.strip_prefix("# ")).collect();
    let got: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(got.len(), 2, "{run:#?}");
    assert_eq!(got[0], shown[0]);
    // The path and the fingerprint are this machine's.
    let prefix = |l: &str| l.split(" /").next().unwrap().to_string();
    assert_eq!(prefix(got[1]), prefix(shown[1]));
    assert!(got[1].contains(".pem, SHA-256 "), "{}", got[1]);
}

#[test]
fn hash_password_at_a_terminal_asks_twice_without_echo() {
    let env = Env::new();
    let args = crate::support::run::strings(&["proxy", "hash-password"]);
    let mut pty = crate::support::pty::Pty::start(&env, &args, &[], (100, 30));
    pty.answer("local password: ", "typed at the terminal");
    pty.answer("again: ", "typed at the terminal");
    let (status, screen, stdout) = pty.finish();
    assert_eq!(status, 0, "{screen}");
    assert!(!screen.contains("typed at"), "echoed: {screen}");
    assert!(stdout.starts_with("$argon2id$v=19$"), "{stdout:?}");
    // Two that differ print nothing.
    let mut pty = crate::support::pty::Pty::start(&env, &args, &[], (100, 30));
    pty.answer("local password: ", "one");
    pty.answer("again: ", "two");
    let (status, screen, stdout) = pty.finish();
    assert_eq!(status, 2, "{screen}");
    assert!(screen.contains("the two passwords differ"), "{screen}");
    assert!(stdout.is_empty(), "{stdout:?}");
}

#[test]
fn before_starttls_a_password_listener_offers_no_login_and_takes_none() {
    let s = lan();
    let script = format!(
        "import base64, poplib, smtplib\n\
         s = smtplib.SMTP('127.0.0.1', {smtp}, timeout=20)\n\
         s.ehlo()\n\
         assert s.has_extn('starttls') and not s.has_extn('auth'), s.esmtp_features\n\
         code, text = s.docmd('AUTH', 'PLAIN ' + base64.b64encode(b'\\0work\\0{PASSWORD}').decode())\n\
         print(code, text.decode())\n\
         p = poplib.POP3('127.0.0.1', {pop}, timeout=20)\n\
         caps = p.capa()\n\
         assert 'STLS' in caps and 'USER' not in caps and 'SASL' not in caps, caps\n\
         p.user('work')\n\
         try:\n    p.pass_('{CMD_PASSWORD}')\nexcept poplib.error_proto as e:\n    print(e.args[0].decode())\n",
        smtp = s.ports.1,
        pop = s.ports.2
    );
    let run = python(&s.env, &script);
    assert_eq!(run.status, 0, "{run:#?}\n{}", s.proxy.log());
    assert!(
        run.stdout.contains("535 5.7.8 STARTTLS first")
            && run.stdout.contains("-ERR [AUTH] STARTTLS first"),
        "{run:#?}"
    );
    assert!(s.dc.logins().is_empty(), "no server login");
}

#[test]
fn imap_before_starttls_on_a_password_listener_says_logindisabled() {
    use std::io::{BufRead, BufReader, Write};
    let env = Env::new();
    let hash = hash_password(&env, b"pw\n");
    let port = free_port();
    // The server is never reached: the login is refused before it.
    let cfg = env.write_config(&format!(
        "[accounts.work]\nclient_id = \"c\"\nuser = \"{USER}\"\nauthority = \"{}\"\n\
         [proxy.imap]\nprotocol = \"imap\"\nlisten = \"127.0.0.1:{port}\"\nserver = \"127.0.0.1:1\"\n\
         server_tls = \"implicit\"\naccounts = [\"work\"]\nlocal_tls = \"starttls\"\n\
         local_password_hash = \"{}\"\n",
        env.idp.authority(),
        hash.stdout.trim()
    ));
    let proxy = serve(&env, Some(&cfg), 1);
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut r = BufReader::new(tcp.try_clone().unwrap());
    let mut greeting = String::new();
    r.read_line(&mut greeting).unwrap();
    assert!(
        greeting.contains("STARTTLS LOGINDISABLED") && !greeting.contains("AUTH="),
        "{greeting}"
    );
    (&tcp).write_all(b"a1 LOGIN work pw\r\n").unwrap();
    let mut answer = String::new();
    r.read_line(&mut answer).unwrap();
    assert!(
        answer.starts_with("a1 NO [AUTHENTICATIONFAILED] STARTTLS first"),
        "{answer}\n{}",
        proxy.log()
    );
}
