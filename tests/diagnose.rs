//! `ooauth2 test imap|smtp` against the real Dovecot of the real-client
//! tests (IMAPS, IMAP with STARTTLS, submission with STARTTLS; tokens checked
//! at the mock provider), and `ooauth2 doctor` with each problem it claims
//! to find made for real on disk or at the mock provider.
//!
//! The `test` cases need Debian's packages like tests/real_clients.rs
//! (`.ci/run` installs them); without them they fail with the apt-get line.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;
use std::time::Duration;
use support::mail::{Dovecot, free_port};
use support::run::{CLIENT, Env, Run, USER, set_mode};

/// A seeded account at the mock provider and a Dovecot that trusts it.
/// Dovecot is declared first so that it stops before the store goes.
struct Setup {
    dc: Dovecot,
    env: Env,
}

fn setup() -> Setup {
    let env = Env::new();
    env.seed(USER);
    let dc = Dovecot::start(&env);
    Setup { dc, env }
}

impl Setup {
    /// `ooauth2 test SERVICE` for the account at 127.0.0.1:`port`, with the
    /// harness's certificate and `extra` flags.
    fn test(&self, service: &str, port: u16, extra: &[&str]) -> Run {
        let port = port.to_string();
        let cert = self.dc.cert.to_str().unwrap();
        let mut more = vec![
            service,
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--ca-file",
            cert,
        ];
        more.extend_from_slice(extra);
        self.env.run(&self.env.args("test", USER, &more), b"")
    }

    /// Asserts that neither the access token nor a SASL string built from
    /// it appears in the run's output.
    #[track_caller]
    fn no_secret(&self, run: &Run) {
        let at = self.env.cached_access_token(USER);
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(!all.contains(&at), "the token leaked: {run:#?}");
        // Any base64 run of the SASL strings would hold this prefix.
        let xo = self
            .env
            .token(USER, &["--format", "xoauth2"])
            .stdout
            .trim()
            .to_string();
        assert!(!all.contains(&xo[..40]), "the SASL string leaked: {run:#?}");
    }

    /// Asserts that Dovecot logged `n` logins of the account with `method`
    /// at `service`. Its log process writes a moment after the client is
    /// answered: wait for it.
    #[track_caller]
    fn expect_logins(&self, method: &str, service: &str, n: usize) {
        let count = || {
            self.dc
                .logins()
                .iter()
                .filter(|(u, m, s)| u == USER && m == method && s == service)
                .count()
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while count() < n && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(count(), n, "{method} at {service}:\n{}", self.dc.logs());
    }

    #[track_caller]
    fn expect_ok(&self, run: &Run, needles: &[&str]) {
        assert_eq!(run.status, 0, "{run:#?}\n{}", self.dc.logs());
        assert_eq!(run.stdout.lines().count(), 1, "one summary line: {run:#?}");
        for n in needles {
            assert!(
                run.stderr.contains(n) || run.stdout.contains(n),
                "{n:?} missing: {run:#?}"
            );
        }
        self.no_secret(run);
    }
}

#[test]
fn test_imap_logs_in_over_imaps_with_xoauth2_and_oauthbearer_and_lists_inbox() {
    let s = setup();
    let run = s.test("imap", s.dc.imaps_port, &[]);
    s.expect_ok(
        &run,
        &[
            "token ok (from cache",
            "connect ok (127.0.0.1:",
            "tls ok (TLSv1.",
            "implicit TLS, certificate for 127.0.0.1)",
            "authenticate ok (XOAUTH2 as me@example.com)",
            "list ok (INBOX found)",
        ],
    );
    assert!(
        run.stdout
            .starts_with(&format!("IMAP login ok: {USER} at 127.0.0.1:")),
        "{run:#?}"
    );
    s.expect_logins("XOAUTH2", "imap-login", 1);

    // OAUTHBEARER, with the dialogue shown: still no secret.
    let run = s.test(
        "imap",
        s.dc.imaps_port,
        &["--mechanism", "oauthbearer", "-v"],
    );
    s.expect_ok(
        &run,
        &[
            "authenticate ok (OAUTHBEARER as me@example.com)",
            "C: o2 AUTHENTICATE OAUTHBEARER <OAUTHBEARER string, not shown>",
            "list ok (INBOX found)",
        ],
    );
    s.expect_logins("OAUTHBEARER", "imap-login", 1);

    // STARTTLS on the plain IMAP listener.
    let run = s.test("imap", s.dc.imap_port, &["--tls", "starttls"]);
    s.expect_ok(&run, &["STARTTLS, certificate for 127.0.0.1", "list ok"]);
    s.expect_logins("XOAUTH2", "imap-login", 2);
}

#[test]
fn test_smtp_logs_in_to_submission_after_starttls() {
    let s = setup();
    // An unusual port: SMTP's default, STARTTLS, applies.
    let run = s.test("smtp", s.dc.submission_port, &[]);
    s.expect_ok(
        &run,
        &[
            "connect ok",
            "tls ok (TLSv1.",
            "STARTTLS, certificate for 127.0.0.1",
            "authenticate ok (XOAUTH2 as me@example.com)",
            "SMTP login ok",
        ],
    );
    s.expect_logins("XOAUTH2", "submission-login", 1);
    let run = s.test(
        "smtp",
        s.dc.submission_port,
        &["--mechanism", "oauthbearer"],
    );
    s.expect_ok(&run, &["authenticate ok (OAUTHBEARER"]);
    s.expect_logins("OAUTHBEARER", "submission-login", 1);
}

#[test]
fn a_token_the_provider_expired_early_is_reported_with_the_servers_reason() {
    let s = setup();
    // The cached token still looks valid to ooauth2; the mock no longer
    // accepts it. --refresh gets a new one, which the server takes.
    s.env.idp.expire_access_tokens();
    let run = s.test("imap", s.dc.imaps_port, &["--refresh"]);
    s.expect_ok(&run, &["token ok (from refresh", "list ok"]);
    // Without it the cached token is used, and Dovecot refuses it. (Done
    // last: after a failed login Dovecot delays that address's next ones.)
    s.env.idp.expire_access_tokens();
    for (service, port, mech) in [
        ("imap", s.dc.imaps_port, "xoauth2"),
        ("imap", s.dc.imaps_port, "oauthbearer"),
        ("smtp", s.dc.submission_port, "xoauth2"),
    ] {
        let run = s.test(service, port, &["--mechanism", mech, "-v"]);
        run.expect_failure(
            1,
            &[
                "token ok (from cache",
                "tls ok",
                "refused the token for me@example.com",
                "server's reason: status ",
                "hint: ",
                "retry with --refresh",
                "ooauth2 login --client-id",
            ],
        );
        assert!(!run.stderr.contains("authenticate ok"), "{run:#?}");
        s.no_secret(&run);
    }
}

#[test]
fn network_and_tls_failures_exit_75() {
    let s = setup();
    let run = s.test("imap", free_port(), &[]);
    run.expect_failure(
        75,
        &[
            "cannot connect to 127.0.0.1:",
            "hint: check --host and --port",
        ],
    );
    s.no_secret(&run);
    // Without the harness's CA the certificate is not trusted.
    let port = s.dc.imaps_port.to_string();
    let run = s.env.run(
        &s.env.args(
            "test",
            USER,
            &["imap", "--host", "127.0.0.1", "--port", &port],
        ),
        b"",
    );
    run.expect_failure(75, &["TLS handshake", "certificate", "--ca-file"]);
    assert!(run.stderr.contains("connect ok"), "{run:#?}");
    // Implicit TLS against the plain listener: no TLS server there.
    let run = s.test("imap", s.dc.imap_port, &["--tls", "implicit"]);
    run.expect_failure(75, &["TLS handshake", "did not answer with TLS"]);
}

#[test]
fn test_refuses_a_bad_ca_file_before_connecting() {
    let env = Env::new();
    env.seed(USER);
    let bad = env.root.join("bad.pem");
    std::fs::write(&bad, "not a certificate\n").unwrap();
    let run = env.run(
        &env.args(
            "test",
            USER,
            &["imap", "--port", "1", "--ca-file", bad.to_str().unwrap()],
        ),
        b"",
    );
    run.expect_failure(2, &["no PEM certificate"]);
    assert!(!run.stderr.contains("connect"), "{run:#?}");
}

// ---------------------------------------------------------------------------
// doctor
// ---------------------------------------------------------------------------

/// `ooauth2 doctor` with `args`, the config file at `config` if given.
fn doctor(env: &Env, args: &[&str], config: Option<&PathBuf>) -> Run {
    let mut all = vec!["doctor"];
    all.extend_from_slice(args);
    let mut cmd = env.command(&all);
    if let Some(c) = config {
        cmd.env("OOAUTH2_CONFIG", c);
    }
    env.run_with(cmd, b"")
}

/// `doctor` with the flags naming the test account.
fn doctor_account(env: &Env) -> Run {
    let flags = env.account_flags(USER);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    doctor(env, &flags, None)
}

/// Every line is `ok:`, `problem: ... -> ...` or `skipped:`; returns the
/// problem lines.
#[track_caller]
fn problems(run: &Run) -> Vec<String> {
    for l in run.stdout.lines() {
        assert!(
            l.starts_with("ok: ")
                || l.starts_with("skipped: ")
                || (l.starts_with("problem: ") && l.contains(" -> ")),
            "malformed line {l:?}: {run:#?}"
        );
    }
    run.stdout
        .lines()
        .filter(|l| l.starts_with("problem: "))
        .map(String::from)
        .collect()
}

#[track_caller]
fn expect_problem(run: &Run, needles: &[&str]) {
    run.expect(1);
    let found = problems(run);
    assert!(
        found.iter().any(|p| needles.iter().all(|n| p.contains(n))),
        "no problem line with {needles:?}: {run:#?}"
    );
}

#[test]
fn doctor_is_all_ok_for_a_seeded_account() {
    let env = Env::new();
    env.seed(USER);
    for run in [doctor_account(&env), doctor(&env, &[], None)] {
        run.expect(0);
        assert_eq!(problems(&run), Vec::<String>::new());
        for n in [
            "ok: the store directory",
            "is private (0700)",
            "ok: no config file",
            "ok: account me@example.com has a refresh token, obtained ",
            "the access token is valid for ",
            "the scope covers IMAP, POP and SMTP",
            "skipped: network checks",
        ] {
            assert!(run.stdout.contains(n), "{n:?}: {run:#?}");
        }
        let at = env.cached_access_token(USER);
        let rt = env.stored_refresh_token(USER);
        assert!(!run.stdout.contains(&at) && !run.stdout.contains(&rt));
    }
}

#[test]
fn doctor_finds_an_open_store_directory_and_files() {
    let env = Env::new();
    env.seed(USER);
    let (record, _) = env.record_path(USER);
    set_mode(&env.store(), 0o755);
    let run = doctor_account(&env);
    expect_problem(&run, &["store directory", "mode 0755", "-> chmod 700"]);
    set_mode(&env.store(), 0o700);
    set_mode(&record, 0o644);
    let run = doctor_account(&env);
    expect_problem(
        &run,
        &["mode 0644", &format!("-> chmod 600 {}", record.display())],
    );
    set_mode(&record, 0o600);
    doctor_account(&env).expect(0);
}

#[test]
fn doctor_finds_a_config_file_others_can_write() {
    let env = Env::new();
    env.seed(USER);
    let cfg = env.root.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[accounts.work]\nclient_id = \"{CLIENT}\"\nauthority = \"{}\"\nuser = \"{USER}\"\n",
            env.idp.authority()
        ),
    )
    .unwrap();
    set_mode(&cfg, 0o600);
    let run = doctor(&env, &["work"], Some(&cfg));
    run.expect(0);
    assert!(
        run.stdout
            .contains("is valid (1 account(s), not writable by others)"),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .contains("ok: account 'work' (me@example.com) has a refresh token"),
        "{run:#?}"
    );
    set_mode(&cfg, 0o664);
    let run = doctor(&env, &[], Some(&cfg));
    expect_problem(
        &run,
        &[
            "config file",
            "mode 0664",
            &format!("-> chmod 600 {}", cfg.display()),
        ],
    );
    // A file that does not parse is a problem too, named by line.
    set_mode(&cfg, 0o600);
    std::fs::write(&cfg, "[accounts.work]\ntennant = \"x\"\n").unwrap();
    let run = doctor(&env, &[], Some(&cfg));
    expect_problem(&run, &[":2:", "unknown key 'tennant'"]);
}

#[test]
fn doctor_finds_an_account_that_needs_a_new_sign_in() {
    let env = Env::new();
    env.seed(USER);
    // The provider revokes the refresh token; the next refresh marks the account.
    env.idp.revoke_all_for_user(USER);
    env.expire_cached(USER);
    env.token(USER, &["--non-interactive"])
        .expect_failure(1, &[]);
    let run = doctor_account(&env);
    expect_problem(
        &run,
        &[
            "account me@example.com needs a new sign-in",
            "refused its refresh token",
            "-> run: ooauth2 login --client-id",
        ],
    );
}

#[test]
fn doctor_finds_a_scope_without_pop() {
    let env = Env::new();
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    let scope = "offline_access https://outlook.office.com/IMAP.AccessAsUser.All \
                 https://outlook.office.com/SMTP.Send";
    env.helper(&format!(
        "action=store\nrefresh_token={rt}\nscope={scope}\n"
    ))
    .expect(0);
    let run = doctor_account(&env);
    expect_problem(
        &run,
        &[
            "the scope does not cover POP",
            "POP.AccessAsUser.All",
            "-> if you use POP, sign in again with the full scope",
        ],
    );
    assert!(!run.stdout.contains("does not cover IMAP"), "{run:#?}");
}

#[test]
fn doctor_reports_an_account_never_signed_in() {
    let env = Env::new();
    env.seed(USER);
    let flags = env.account_flags("other@example.com");
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let run = doctor(&env, &flags, None);
    expect_problem(
        &run,
        &[
            "account other@example.com is not stored",
            "-> run: ooauth2 login",
        ],
    );
    // The other account is not looked at when one is named.
    assert!(!run.stdout.contains("account me@example.com"), "{run:#?}");
}
