//! Real clients log in to a real Dovecot with what ooauth2 prints: curl,
//! msmtp, mbsync and the contrib/ scripts, each with the contrib/ file users
//! copy (only host, port and paths substituted), naming the account `work`
//! of contrib/config.toml, installed as the config file with the mock
//! provider's authority. Dovecot checks every bearer token at the mock provider's
//! RFC 7662 introspection endpoint and relays submitted mail to a sink.
//!
//! Needs Debian's packages (`.ci/run` installs them); without them every
//! test fails with the apt-get line to run.

use crate::support::mail::{
    Dovecot, Input, client_command, in_maildir, install_config, program, repo, repo_file,
    run_timeout, substitute, tagged_ok,
};
use crate::support::run::{Env, Run, USER};
use mock_idp::Grant;
use std::path::PathBuf;
use std::time::Duration;

/// Tokens the size Microsoft issues.
const MICROSOFT_SIZE: usize = 2500;
/// How long a client may take before the test calls it hung.
const CLIENT_LIMIT: Duration = Duration::from_secs(30);

/// A seeded account at the mock provider and a Dovecot that trusts it.
/// Dovecot is declared first so that it stops before the store goes.
struct Setup {
    dc: Dovecot,
    env: Env,
}

fn setup(token_size: usize) -> Setup {
    let env = Env::new();
    if token_size > 0 {
        env.idp.set_token_size(token_size);
    }
    env.seed(USER);
    install_config(&env, &env.root.join("home/.config"));
    let dc = Dovecot::start(&env);
    Setup { dc, env }
}

impl Setup {
    /// `ooauth2 token` for the account with `extra` flags; its one line.
    fn token(&self, extra: &[&str]) -> String {
        let run = self.env.token(USER, extra);
        run.expect(0);
        let line = run.stdout.strip_suffix('\n').unwrap();
        assert!(!line.contains('\n'), "more than one line: {run:?}");
        line.to_string()
    }

    /// contrib/msmtp/msmtprc, substituted, written as `name`.
    fn msmtprc(&self, name: &str) -> PathBuf {
        let text = substitute(
            &repo_file("contrib/msmtp/msmtprc"),
            &[
                ("smtp.office365.com", "127.0.0.1"),
                ("port 587", &format!("port {}", self.dc.submission_port)),
                (
                    "/etc/ssl/certs/ca-certificates.crt",
                    self.dc.cert.to_str().unwrap(),
                ),
                ("you@example.com", USER),
            ],
        );
        let path = self.dc.dir.join(name);
        std::fs::write(&path, text).unwrap();
        crate::support::run::set_mode(&path, 0o600);
        path
    }

    /// Sends a message with msmtp and `rc`; the marker goes in its subject.
    fn msmtp(&self, rc: &PathBuf, marker: &str) -> Run {
        let mut cmd = client_command(&self.env, &program("msmtp"));
        cmd.arg("-C")
            .arg(rc)
            .args(["-a", "work", "rcpt@example.org"]);
        let msg = format!(
            "From: {USER}\r\nTo: rcpt@example.org\r\nSubject: {marker}\r\n\r\nSent by msmtp with ooauth2.\r\n"
        );
        run_timeout(cmd, Input::Bytes(msg.as_bytes()), CLIENT_LIMIT)
    }

    /// contrib/isync/mbsyncrc, substituted, syncing into `name/`.
    fn mbsyncrc(&self, name: &str) -> (PathBuf, PathBuf) {
        let maildir = self.dc.dir.join(name);
        let text = substitute(
            &repo_file("contrib/isync/mbsyncrc"),
            &[
                ("outlook.office365.com", "127.0.0.1"),
                ("Port 993", &format!("Port {}", self.dc.imaps_port)),
                (
                    "/etc/ssl/certs/ca-certificates.crt",
                    self.dc.cert.to_str().unwrap(),
                ),
                ("you@example.com", USER),
                ("~/Mail/work/", &format!("{}/", maildir.display())),
            ],
        );
        // As the README says: mbsync does not create the store's directory.
        std::fs::create_dir_all(&maildir).unwrap();
        let path = self.dc.dir.join(format!("{name}.mbsyncrc"));
        std::fs::write(&path, text).unwrap();
        (path, maildir)
    }

    /// Runs mbsync's channel `work` with `rc` under a deadline (a refused
    /// token can hang it); the file's other channel is Gmail's.
    fn mbsync(&self, rc: &PathBuf) -> Run {
        let mut cmd = client_command(&self.env, &program("mbsync"));
        cmd.arg("-c").arg(rc).arg("work");
        run_timeout(cmd, Input::Bytes(b""), CLIENT_LIMIT)
    }

    /// Puts a message with `marker` in the account's INBOX over raw IMAP.
    fn seed_inbox(&self, marker: &str) {
        let xoauth2 = self.token(&["--format", "xoauth2"]);
        self.dc.seed_inbox(&xoauth2, USER, marker);
    }
}

// ---------------------------------------------------------------------------
// curl and raw IMAP
// ---------------------------------------------------------------------------

fn curl_and_raw_imap(token_size: usize) {
    let s = setup(token_size);
    let token = s.token(&[]);
    if token_size > 0 {
        assert!(token.len() >= token_size, "token of {} bytes", token.len());
    }
    // curl with the bare token (curl 7.88 picks OAUTHBEARER when offered).
    let mut cmd = client_command(&s.env, &program("curl"));
    cmd.args(["-sS", "--max-time", "20", "--cacert"])
        .arg(&s.dc.cert)
        .args(["--oauth2-bearer", &token, "-u", &format!("{USER}:")])
        .arg(format!("imaps://127.0.0.1:{}/", s.dc.imaps_port));
    let run = run_timeout(cmd, Input::Bytes(b""), CLIENT_LIMIT);
    s.dc.expect_ok("curl", &run);
    assert!(run.stdout.contains("INBOX"), "curl listed: {run:?}");
    s.dc.expect_logins("OAUTHBEARER", "imap-login", 1, "");

    // AUTHENTICATE XOAUTH2 with `--format xoauth2`.
    let xoauth2 = s.token(&["--format", "xoauth2"]);
    let mut imap = s.dc.imap();
    let ex = imap.authenticate("XOAUTH2", &xoauth2);
    assert!(tagged_ok(&ex), "XOAUTH2 refused: {ex}\n{}", s.dc.logs());
    let ex = imap.command("SELECT INBOX", None);
    assert!(tagged_ok(&ex), "{ex}");
    imap.command("LOGOUT", None);

    // AUTHENTICATE OAUTHBEARER with `--format oauthbearer`.
    let port = s.dc.imap_port.to_string();
    let bearer = s.token(&[
        "--format",
        "oauthbearer",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
    ]);
    let mut imap = s.dc.imap();
    let ex = imap.authenticate("OAUTHBEARER", &bearer);
    assert!(tagged_ok(&ex), "OAUTHBEARER refused: {ex}\n{}", s.dc.logs());
    imap.command("LOGOUT", None);
    s.dc.expect_logins("XOAUTH2", "imap-login", 1, "");
    s.dc.expect_logins("OAUTHBEARER", "imap-login", 2, "");

    // A token the provider no longer accepts is refused by Dovecot too:
    // the server really checks.
    s.env.idp.expire_access_tokens();
    let mut imap = s.dc.imap();
    let ex = imap.authenticate("XOAUTH2", &xoauth2);
    assert!(!tagged_ok(&ex), "expired token accepted: {ex}");
}

#[test]
fn curl_and_raw_imap_log_in_with_the_printed_token_and_sasl_strings() {
    curl_and_raw_imap(0);
}

#[test]
fn curl_and_raw_imap_with_microsoft_sized_tokens() {
    curl_and_raw_imap(MICROSOFT_SIZE);
}

// ---------------------------------------------------------------------------
// msmtp
// ---------------------------------------------------------------------------

fn msmtp_sends(token_size: usize) {
    let s = setup(token_size);
    let rc = s.msmtprc("msmtprc");
    let run = s.msmtp(&rc, "hello from msmtp");
    s.dc.expect_ok("msmtp", &run);
    assert!(
        s.dc.sink.delivered("hello from msmtp"),
        "not at the sink: {:?}\n{}",
        s.dc.sink.messages(),
        s.dc.logs()
    );
    let m = &s.dc.sink.messages()[0];
    assert!(m.from.contains(USER), "{m:?}");
    assert!(m.to.iter().any(|t| t.contains("rcpt@example.org")), "{m:?}");
    s.dc.expect_logins("XOAUTH2", "submission-login", 1, "");
}

#[test]
fn msmtp_with_the_contrib_config_sends_through_dovecot_submission() {
    msmtp_sends(0);
}

#[test]
fn msmtp_with_microsoft_sized_tokens() {
    msmtp_sends(MICROSOFT_SIZE);
}

/// Why contrib/msmtp says `auth xoauth2`: msmtp sends the OAUTHBEARER string
/// on the AUTH line, which Dovecot 2.3 refuses beyond 1026 bytes.
#[test]
fn msmtp_oauthbearer_works_with_small_tokens_but_not_microsoft_sized_ones() {
    for (size, works) in [(0, true), (MICROSOFT_SIZE, false)] {
        let s = setup(size);
        let rc = s.msmtprc("msmtprc");
        let text = std::fs::read_to_string(&rc).unwrap();
        std::fs::write(
            &rc,
            substitute(&text, &[("auth xoauth2", "auth oauthbearer")]),
        )
        .unwrap();
        let run = s.msmtp(&rc, "bearer");
        assert_eq!(
            run.status == 0,
            works,
            "token size {size}: {run:#?}\n{}",
            s.dc.logs()
        );
        assert_eq!(s.dc.sink.delivered("bearer"), works);
    }
}

#[test]
fn msmtp_after_the_access_token_expired_refreshes_once_and_sends() {
    let s = setup(0);
    let rc = s.msmtprc("msmtprc");
    s.dc.expect_ok("first msmtp", &s.msmtp(&rc, "first"));
    s.env.idp.reset_log();
    s.env.idp.expire_access_tokens();
    s.env.expire_cached(USER);
    let run = s.msmtp(&rc, "second");
    s.dc.expect_ok("second msmtp", &run);
    assert!(s.dc.sink.delivered("first") && s.dc.sink.delivered("second"));
    assert_eq!(s.env.idp.count(Grant::Refresh), 1, "refreshes");
    assert!(
        s.env
            .idp
            .is_active_access_token(&s.env.cached_access_token(USER))
    );
}

#[test]
fn msmtp_with_a_revoked_refresh_token_fails_and_sends_nothing() {
    let s = setup(0);
    let old_token = s.env.cached_access_token(USER);
    let rt = s.env.stored_refresh_token(USER);
    s.env.idp.revoke_refresh_token(&rt);
    s.env.idp.expire_access_tokens();
    s.env.expire_cached(USER);
    s.env.idp.reset_log();
    let rc = s.msmtprc("msmtprc");
    // No terminal: stdin is a pipe, and the test process has no tty for it.
    let run = s.msmtp(&rc, "never");
    assert_ne!(run.status, 0, "msmtp succeeded: {run:#?}");
    assert!(
        run.stderr.contains("ooauth2: error:"),
        "ooauth2's message not on msmtp's stderr: {run:#?}"
    );
    assert!(run.stdout.is_empty(), "{run:#?}");
    // msmtp gives up on the empty output, before any AUTH.
    assert!(run.stderr.contains("msmtp: cannot read output"), "{run:#?}");
    // Nothing reached the relay, and no login was attempted.
    assert!(s.dc.sink.messages().is_empty());
    assert!(
        !s.dc.sink.transcript().contains("MAIL"),
        "{}",
        s.dc.sink.transcript()
    );
    // Let Dovecot's log process catch up before looking for what is absent.
    std::thread::sleep(Duration::from_millis(300));
    let log = s.dc.log_text();
    assert!(
        !log.contains("client in: AUTH"),
        "an AUTH reached Dovecot:\n{log}"
    );
    assert!(!log.contains("Login: user="), "{log}");
    for leak in [
        old_token.as_str(),
        &rt,
        "ooauth2:",
        "login_required",
        "invalid_grant",
    ] {
        assert!(!log.contains(leak), "{leak:?} in the server log:\n{log}");
    }
    assert_eq!(s.env.idp.count(Grant::Refresh), 1, "one refused refresh");
}

// ---------------------------------------------------------------------------
// mbsync
// ---------------------------------------------------------------------------

fn mbsync_syncs(token_size: usize) {
    let s = setup(token_size);
    s.seed_inbox("waiting for mbsync");
    let (rc, maildir) = s.mbsyncrc("mail");
    let run = s.mbsync(&rc);
    s.dc.expect_ok("mbsync", &run);
    assert!(
        in_maildir(&maildir.join("INBOX"), "waiting for mbsync"),
        "message not synced to {}: {run:#?}\n{}",
        maildir.display(),
        s.dc.logs()
    );
    s.dc.expect_logins("XOAUTH2", "imap-login", 2, "");
}

#[test]
fn mbsync_with_the_contrib_config_syncs_the_inbox() {
    mbsync_syncs(0);
}

#[test]
fn mbsync_with_microsoft_sized_tokens() {
    mbsync_syncs(MICROSOFT_SIZE);
}

#[test]
fn mbsync_and_msmtp_at_once_on_an_expired_token_make_one_refresh() {
    let s = setup(0);
    s.seed_inbox("for everyone");
    s.env.idp.expire_access_tokens();
    s.env.expire_cached(USER);
    s.env.idp.reset_log();
    // A slow provider keeps the clients' ooauth2 runs overlapping.
    s.env.idp.set_delay_ms(300);
    let n = 3;
    let msmtprcs: Vec<PathBuf> = (0..n).map(|i| s.msmtprc(&format!("msmtprc{i}"))).collect();
    let mbsyncrcs: Vec<(PathBuf, PathBuf)> =
        (0..n).map(|i| s.mbsyncrc(&format!("mail{i}"))).collect();
    let s = &s;
    std::thread::scope(|scope| {
        let sends: Vec<_> = msmtprcs
            .iter()
            .enumerate()
            .map(|(i, rc)| scope.spawn(move || s.msmtp(rc, &format!("concurrent {i}"))))
            .collect();
        let syncs: Vec<_> = mbsyncrcs
            .iter()
            .map(|(rc, _)| scope.spawn(move || s.mbsync(rc)))
            .collect();
        for h in sends {
            s.dc.expect_ok("msmtp", &h.join().unwrap());
        }
        for h in syncs {
            s.dc.expect_ok("mbsync", &h.join().unwrap());
        }
    });
    assert_eq!(s.env.idp.count(Grant::Refresh), 1, "refreshes");
    for i in 0..n {
        assert!(s.dc.sink.delivered(&format!("concurrent {i}")));
    }
    for (_, maildir) in &mbsyncrcs {
        assert!(
            in_maildir(&maildir.join("INBOX"), "for everyone"),
            "{}",
            maildir.display()
        );
    }
}

// ---------------------------------------------------------------------------
// contrib/scripts
// ---------------------------------------------------------------------------

#[test]
fn python_script_logs_in_with_the_helper_protocol_and_selects_inbox() {
    let s = setup(MICROSOFT_SIZE);
    s.seed_inbox("one");
    let script = repo().join("contrib/scripts/imap_login.py");
    let mut cmd = client_command(&s.env, &program("python3"));
    cmd.arg(&script)
        .args(["work", "--host", "127.0.0.1"])
        .args(["--port", &s.dc.imaps_port.to_string()])
        .arg("--cafile")
        .arg(&s.dc.cert);
    let run = run_timeout(cmd, Input::Bytes(b""), CLIENT_LIMIT);
    s.dc.expect_ok("imap_login.py", &run);
    assert_eq!(run.stdout, "INBOX: 1 messages\n", "{run:#?}");
    s.dc.expect_logins("XOAUTH2", "imap-login", 2, "");

    // A refused account: ooauth2's error on stderr, status 1, no login.
    s.env.idp.revoke_all_for_user(USER);
    s.env.expire_cached(USER);
    let mut cmd = client_command(&s.env, &program("python3"));
    cmd.arg(&script)
        .args(["work", "--host", "127.0.0.1"])
        .args(["--port", &s.dc.imaps_port.to_string()]);
    let run = run_timeout(cmd, Input::Bytes(b""), CLIENT_LIMIT);
    assert_eq!(run.status, 1, "{run:#?}");
    assert!(run.stdout.is_empty(), "{run:#?}");
    said_once(&run);
    s.dc.expect_logins("XOAUTH2", "imap-login", 2, "");
}

#[test]
fn sh_script_prints_the_helper_values_that_dovecot_accepts() {
    let s = setup(0);
    let script = repo().join("contrib/scripts/get_token.sh");
    let run_sh = |key: &str| {
        let mut cmd = client_command(&s.env, &program("sh"));
        cmd.arg(&script).args(["work", key]);
        run_timeout(cmd, Input::Bytes(b""), CLIENT_LIMIT)
    };
    let run = run_sh("access_token");
    s.dc.expect_ok("get_token.sh", &run);
    assert_eq!(run.stdout.trim_end(), s.token(&[]));
    let run = run_sh("xoauth2");
    s.dc.expect_ok("get_token.sh xoauth2", &run);
    let xoauth2 = run.stdout.trim_end().to_string();
    assert_eq!(xoauth2, s.token(&["--format", "xoauth2"]));
    let mut imap = s.dc.imap();
    let ex = imap.authenticate("XOAUTH2", &xoauth2);
    assert!(tagged_ok(&ex), "{ex}\n{}", s.dc.logs());

    s.env.idp.revoke_all_for_user(USER);
    s.env.expire_cached(USER);
    let run = run_sh("access_token");
    assert_eq!(run.status, 1, "{run:#?}");
    assert!(run.stdout.is_empty(), "{run:#?}");
    said_once(&run);
}

/// A script's failure: ooauth2's own two lines (what failed, what to do),
/// each once, and nothing the script added to them.
#[track_caller]
fn said_once(run: &Run) {
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{run:#?}");
    assert!(lines[0].starts_with("ooauth2: error: "), "{run:#?}");
    assert!(lines[1].starts_with("ooauth2: hint: "), "{run:#?}");
    assert!(lines[1].contains("ooauth2 login work"), "{run:#?}");
}

/// get_token.sh asked for a value the answer lacks: one line, no empty
/// "token" on stdout.
#[test]
fn sh_script_names_a_missing_value_and_fails() {
    let s = setup(0);
    let mut cmd = client_command(&s.env, &program("sh"));
    cmd.arg(repo().join("contrib/scripts/get_token.sh"))
        .args(["work", "password"]);
    let run = run_timeout(cmd, Input::Bytes(b""), CLIENT_LIMIT);
    assert_eq!(run.status, 1, "{run:#?}");
    assert_eq!(run.stdout, "", "{run:#?}");
    assert_eq!(
        run.stderr,
        "get_token: the answer has no password; try access_token, xoauth2, oauthbearer or expires_at\n"
    );
}

#[test]
fn mbsync_with_a_revoked_refresh_token_fails_without_logging_in() {
    let s = setup(0);
    s.env.idp.revoke_all_for_user(USER);
    s.env.idp.expire_access_tokens();
    s.env.expire_cached(USER);
    let (rc, _) = s.mbsyncrc("mail");
    let run = s.mbsync(&rc);
    assert_ne!(run.status, 0, "{run:#?}");
    assert!(run.stderr.contains("ooauth2: error:"), "{run:#?}");
    // mbsync checks PassCmd's exit status and never connects.
    assert!(
        run.stderr.contains("PassCmd exited with status 1"),
        "{run:#?}"
    );
    std::thread::sleep(Duration::from_millis(300));
    let log = s.dc.log_text();
    assert!(!log.contains("Login: user="), "{log}");
}
