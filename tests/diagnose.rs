//! `ooauth2 test imap|pop|smtp` against the real Dovecot of the real-client
//! tests (IMAPS, IMAP with STARTTLS, POP3S, POP3 with STLS, submission with
//! STARTTLS; tokens checked
//! at the mock provider), and `ooauth2 doctor` with each problem it claims
//! to find made for real on disk or at the mock provider.
//!
//! The `test` cases need Debian's packages like tests/real_clients.rs
//! (`.ci/run` installs them); without them they fail with the apt-get line.

use crate::support::mail::Dovecot;
use crate::support::run::{CLIENT, Env, Run, USER, free_port, set_mode};
use mock_idp::Grant;
use std::path::PathBuf;
use std::time::Duration;

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
    s.dc.expect_logins("XOAUTH2", "imap-login", 1, "");

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
    s.dc.expect_logins("OAUTHBEARER", "imap-login", 1, "");

    // STARTTLS on the plain IMAP listener.
    let run = s.test("imap", s.dc.imap_port, &["--tls", "starttls"]);
    s.expect_ok(&run, &["STARTTLS, certificate for 127.0.0.1", "list ok"]);
    s.dc.expect_logins("XOAUTH2", "imap-login", 2, "");
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
    s.dc.expect_logins("XOAUTH2", "submission-login", 1, "");
    let run = s.test(
        "smtp",
        s.dc.submission_port,
        &["--mechanism", "oauthbearer"],
    );
    s.expect_ok(&run, &["authenticate ok (OAUTHBEARER"]);
    s.dc.expect_logins("OAUTHBEARER", "submission-login", 1, "");
}

#[test]
fn test_pop_logs_in_over_pop3s_and_stls_and_reads_the_mailbox() {
    let s = setup();
    let xo = s.env.token(USER, &["--format", "xoauth2"]).stdout;
    s.dc.seed_inbox(xo.trim(), USER, "pop-marker");
    // An unusual port: POP3's default, implicit TLS, applies.
    let run = s.test("pop", s.dc.pop3s_port, &[]);
    s.expect_ok(
        &run,
        &[
            "token ok (from cache",
            "connect ok (127.0.0.1:",
            "tls ok (TLSv1.",
            "implicit TLS, certificate for 127.0.0.1)",
            "authenticate ok (XOAUTH2 as me@example.com)",
            "stat ok (1 message(s), ",
        ],
    );
    assert!(
        run.stdout
            .starts_with(&format!("POP3 login ok: {USER} at 127.0.0.1:"))
            && run
                .stdout
                .trim_end()
                .ends_with(", 1 message(s) in the mailbox"),
        "{run:#?}"
    );
    s.dc.expect_logins("XOAUTH2", "pop3-login", 1, "");
    // OAUTHBEARER with the dialogue shown: the mock's short token fits the
    // AUTH line as an initial response (RFC 5034), which is not shown.
    let run = s.test(
        "pop",
        s.dc.pop3s_port,
        &["--mechanism", "oauthbearer", "-v"],
    );
    s.expect_ok(
        &run,
        &[
            "C: CAPA",
            "C: AUTH OAUTHBEARER <OAUTHBEARER string, not shown>",
            "authenticate ok (OAUTHBEARER as me@example.com)",
            "C: STAT",
        ],
    );
    s.dc.expect_logins("OAUTHBEARER", "pop3-login", 1, "");
    // A real-sized token (1.5 KB) is too long for the 255-octet AUTH line:
    // it follows the server's empty challenge.
    s.env.idp.set_token_size(1500);
    let run = s.test("pop", s.dc.pop3s_port, &["--refresh", "-v"]);
    s.expect_ok(
        &run,
        &[
            "token ok (from refresh",
            "C: AUTH XOAUTH2\n  S: +\n  C: <XOAUTH2 string, not shown>",
            "stat ok (1 message(s)",
        ],
    );
    s.dc.expect_logins("XOAUTH2", "pop3-login", 2, "");
    // STLS on the plain POP3 listener.
    let run = s.test("pop", s.dc.pop3_port, &["--tls", "starttls", "-v"]);
    s.expect_ok(
        &run,
        &[
            "C: STLS",
            "STARTTLS, certificate for 127.0.0.1",
            "stat ok (1 message(s)",
        ],
    );
    s.dc.expect_logins("XOAUTH2", "pop3-login", 3, "");
}

#[test]
fn test_pop_reports_an_expired_or_foreign_token_with_the_servers_reason() {
    let s = setup();
    // --refresh gets a token the server takes after the provider expired the cached one.
    s.env.idp.expire_access_tokens();
    let run = s.test("pop", s.dc.pop3s_port, &["--refresh"]);
    s.expect_ok(&run, &["token ok (from refresh", "stat ok"]);
    // A token of another mailbox: the server refuses it for this one.
    s.env.seed("other@example.com");
    let foreign = s.env.cached_access_token("other@example.com");
    let (path, mut rec) = s.env.record_path(USER);
    rec["access_token"] = serde_json::json!(foreign);
    std::fs::write(&path, serde_json::to_vec_pretty(&rec).unwrap()).unwrap();
    let run = s.test("pop", s.dc.pop3s_port, &["-v"]);
    run.expect_failure(
        1,
        &[
            "token ok (from cache",
            "the POP3 server at 127.0.0.1:",
            "refused the token for me@example.com: -ERR",
            "server's reason: status ",
            "it is for another mailbox than me@example.com",
            "retry with --refresh",
        ],
    );
    assert!(!run.stderr.contains("authenticate ok"), "{run:#?}");
    assert!(!run.stderr.contains(&foreign) && !run.stdout.contains(&foreign));
    // Expired by the provider (revoked sessions look the same to the server).
    s.env.idp.expire_access_tokens();
    for mech in ["xoauth2", "oauthbearer"] {
        let run = s.test("pop", s.dc.pop3s_port, &["--mechanism", mech]);
        run.expect_failure(
            1,
            &[
                "refused the token for me@example.com: -ERR",
                "server's reason: status ",
                "hint: ",
            ],
        );
        s.no_secret(&run);
    }
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
fn test_without_host_for_a_generic_provider_fails_before_asking_anyone() {
    let env = Env::new();
    let cfg = env.write_config(&format!(
        "[accounts.custom]\nprovider = \"generic\"\nclient_id = \"{CLIENT}\"\n\
         token_endpoint = \"{}/common/oauth2/v2.0/token\"\nuser = \"{USER}\"\n\
         scope = \"imap smtp\"\n",
        env.idp.authority()
    ));
    for (service, port) in [("imap", "993"), ("pop", "995"), ("smtp", "587")] {
        let run = env.run_with_config(&cfg, &["test", service, "custom"], b"");
        run.expect_failure(
            2,
            &[
                "provider generic has no default",
                "server: pass --host (and --port)",
                &format!("--host mail.example.org --port {port}"),
            ],
        );
        assert!(!run.stderr.contains("connect"), "{run:#?}");
    }
    // No token was asked for, so nothing was stored either.
    assert_eq!(env.idp.total_count(), 0);
    assert!(env.files().is_empty());
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

/// Every line is `ok:`, `problem: ... -> ...`, `note: ... -> ...` or
/// `skipped:`; returns the problem lines.
#[track_caller]
fn problems(run: &Run) -> Vec<String> {
    for l in run.stdout.lines() {
        assert!(
            l.starts_with("ok: ")
                || l.starts_with("skipped: ")
                || ((l.starts_with("problem: ") || l.starts_with("note: ")) && l.contains(" -> ")),
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
    let offline = |args: &[&str]| {
        let mut all = args.to_vec();
        all.push("--offline");
        doctor(&env, &all, None)
    };
    let flags = env.account_flags(USER);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    env.idp.reset_log();
    for run in [offline(&flags), offline(&[])] {
        run.expect(0);
        assert_eq!(problems(&run), Vec::<String>::new());
        for n in [
            "ok: the store directory",
            "is private (0700)",
            "ok: no config file",
            "ok: account me@example.com has a refresh token, obtained ",
            "the access token is valid for ",
            "the scope covers IMAP, POP and SMTP",
            "skipped: network checks (reachability, clock skew, app registration): --offline",
        ] {
            assert!(run.stdout.contains(n), "{n:?}: {run:#?}");
        }
        let at = env.cached_access_token(USER);
        let rt = env.stored_refresh_token(USER);
        assert!(!run.stdout.contains(&at) && !run.stdout.contains(&rt));
    }
    // --offline asks nothing of the provider.
    assert_eq!(env.idp.total_count(), 0);
}

#[test]
fn doctor_online_reaches_the_provider_checks_the_clock_and_refreshes_keeping_the_rotated_token() {
    let env = Env::new();
    let old_rt = env.seed(USER);
    let old_at = env.cached_access_token(USER);
    let mut args = vec!["-v".to_string()];
    args.extend(env.account_flags(USER));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.idp.reset_log();
    let run = doctor(&env, &args, None);
    run.expect(0);
    assert_eq!(problems(&run), Vec::<String>::new());
    let host = env.idp.authority();
    for n in [
        &format!("ok: {host} is reachable (HTTP 404 in ") as &str,
        "directly, no proxy for this host)",
        &format!("ok: the clock agrees with {host} ("),
        "up to 300 s is fine)",
        "ok: me@example.com: ",
        "the provider accepted the refresh token (a new access token and the rotated \
         refresh token was stored): the app registration allows it",
    ] {
        let n = n.replace("ok: me@example.com: ", "ok: account me@example.com: ");
        assert!(run.stdout.contains(&n), "{n:?}: {run:#?}");
    }
    // One probe, one refresh; the rotated token is what the store holds now.
    assert_eq!(env.idp.count(Grant::Refresh), 1);
    assert_eq!(env.idp.total_count(), 2);
    let new_rt = env.stored_refresh_token(USER);
    assert_ne!(new_rt, old_rt);
    assert_eq!(env.idp.last_refresh_token_for(USER), Some(new_rt.clone()));
    assert!(env.idp.is_valid_refresh_token(&new_rt));
    // -v shows the exchanges, never a token.
    assert!(
        run.stderr.contains("(reachability) -> 404")
            && run.stderr.contains("grant_type=refresh_token) -> 200"),
        "{run:#?}"
    );
    let new_at = env.cached_access_token(USER);
    for secret in [&old_rt, &new_rt, &old_at, &new_at] {
        assert!(!run.stdout.contains(secret.as_str()) && !run.stderr.contains(secret.as_str()));
    }
    // The token still works for a mail client afterwards.
    env.token(USER, &["--non-interactive"]).expect(0);
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
    let cfg = env.write_config(&format!(
        "[accounts.work]\nclient_id = \"{CLIENT}\"\nauthority = \"{}\"\nuser = \"{USER}\"\n",
        env.idp.authority()
    ));
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
    let flags = env.account_flags(USER);
    let mut offline: Vec<&str> = vec!["--offline"];
    offline.extend(flags.iter().map(String::as_str));
    let run = doctor(&env, &offline, None);
    expect_problem(
        &run,
        &[
            "account me@example.com needs a new sign-in",
            "refused its refresh token",
            "-> run: ooauth2 login --client-id",
        ],
    );
    // Online, the refresh check asks again: its answer is the one problem.
    let run = doctor_account(&env);
    expect_problem(
        &run,
        &[
            "account me@example.com: the provider refused the refresh token",
            "-> ",
            "ooauth2 login --client-id",
        ],
    );
    assert_eq!(problems(&run).len(), 1, "{run:#?}");
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
    // The account does not ask for POP: a note, not a problem.
    let run = doctor_account(&env);
    run.expect(0);
    assert!(problems(&run).is_empty(), "{run:#?}");
    let note = run
        .stdout
        .lines()
        .find(|l| l.starts_with("note: "))
        .unwrap_or_else(|| panic!("no note: {run:#?}"));
    for needle in [
        "the scope does not cover POP",
        "POP.AccessAsUser.All",
        "-> if you use POP, sign in again with the full scope",
    ] {
        assert!(note.contains(needle), "{needle}: {run:#?}");
    }
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

// ---------------------------------------------------------------------------
// doctor: the network checks, each with the failure it names made for real
// ---------------------------------------------------------------------------

/// `doctor` for `user` at `authority`, with `extra` environment variables.
fn doctor_at(env: &Env, authority: &str, user: &str, vars: &[(&str, &str)]) -> Run {
    let flags = env.account_flags_at(authority, user);
    let mut cmd = env.command(
        &std::iter::once("doctor".to_string())
            .chain(flags)
            .collect::<Vec<_>>(),
    );
    for (k, v) in vars {
        cmd.env(k, v);
    }
    env.run_with(cmd, b"")
}

#[test]
fn doctor_names_an_unreachable_provider_and_skips_what_needs_it() {
    let env = Env::new();
    let port = free_port();
    let run = doctor_at(&env, &format!("http://127.0.0.1:{port}"), USER, &[]);
    expect_problem(
        &run,
        &[
            &format!("cannot reach 127.0.0.1:{port}"),
            "-> check the network connection, DNS and the firewall",
            "set HTTPS_PROXY",
        ],
    );
    assert!(
        run.stdout.contains(&format!(
            "skipped: account me@example.com: the app registration check (http://127.0.0.1:{port} was not reached)"
        )),
        "{run:#?}"
    );
    assert!(!run.stdout.contains("the clock"), "{run:#?}");
}

#[test]
fn doctor_names_the_proxy_that_fails_and_never_its_password() {
    let env = Env::new();
    let proxy = free_port();
    let proxy_url = format!("http://someone:proxy-pass-5521@127.0.0.1:{proxy}");
    // An https authority goes through HTTPS_PROXY (a closed port here). Not
    // a loopback one, which never does: 0.0.0.0, which Linux connects to
    // the local host when it is reached directly.
    let run = doctor_at(
        &env,
        &format!("https://0.0.0.0:{}", free_port()),
        USER,
        &[("HTTPS_PROXY", &proxy_url)],
    );
    expect_problem(
        &run,
        &[
            &format!("through the proxy http://127.0.0.1:{proxy} (from HTTPS_PROXY)"),
            "-> check that the proxy runs and that HTTPS_PROXY (or ALL_PROXY) names it",
        ],
    );
    assert!(
        !run.stdout.contains("proxy-pass-5521") && !run.stderr.contains("proxy-pass-5521"),
        "{run:#?}"
    );
    // NO_PROXY sends it direct: then the failure is the host's, not the proxy's.
    let host_port = free_port();
    let run = doctor_at(
        &env,
        &format!("https://0.0.0.0:{host_port}"),
        USER,
        &[("HTTPS_PROXY", &proxy_url), ("NO_PROXY", "0.0.0.0")],
    );
    expect_problem(&run, &[&format!("cannot reach 0.0.0.0:{host_port}")]);
    assert!(!run.stdout.contains("through the proxy"), "{run:#?}");
}

#[test]
fn doctor_names_a_provider_that_does_not_answer_in_time() {
    let env = Env::new();
    env.idp.set_delay_ms(3000);
    let run = doctor_at(
        &env,
        &env.idp.authority(),
        USER,
        &[("OOAUTH2_HTTP_TIMEOUT", "1")],
    );
    expect_problem(
        &run,
        &[
            "did not answer within 1 s",
            "-> check the network: a firewall that drops packets looks like this",
            "OOAUTH2_HTTP_TIMEOUT",
        ],
    );
}

#[test]
fn doctor_names_a_host_that_does_not_speak_https() {
    let env = Env::new();
    // The mock speaks plain HTTP on its port.
    let authority = format!("https://127.0.0.1:{}", env.idp.port());
    let run = doctor_at(&env, &authority, USER, &[]);
    expect_problem(
        &run,
        &[
            "the TLS handshake with 127.0.0.1:",
            "-> something that does not speak HTTPS answered there",
        ],
    );
}

/// `openssl s_server` answering HTTPS with a self-signed certificate that no
/// CA store trusts; stopped by its PID when dropped.
struct UntrustedHttps {
    child: std::process::Child,
    port: u16,
}

impl UntrustedHttps {
    fn start(dir: &std::path::Path) -> UntrustedHttps {
        let openssl = crate::support::mail::program("openssl");
        let (cert, key) = (dir.join("self.pem"), dir.join("self.key"));
        let made = std::process::Command::new(&openssl)
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .unwrap();
        assert!(made.status.success(), "{made:?}");
        let port = free_port();
        let child = std::process::Command::new(&openssl)
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "s_server not listening"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        UntrustedHttps { child, port }
    }
}

impl Drop for UntrustedHttps {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn doctor_names_a_certificate_the_ca_store_does_not_trust() {
    let env = Env::new();
    let server = UntrustedHttps::start(&env.root);
    let run = doctor_at(
        &env,
        &format!("https://127.0.0.1:{}", server.port),
        USER,
        &[],
    );
    expect_problem(
        &run,
        &[
            "the TLS certificate of 127.0.0.1:",
            "is not trusted",
            "-> a TLS-inspecting proxy or firewall may be in the way: add its CA certificate \
             to the system CA store",
        ],
    );
}

#[test]
fn doctor_finds_a_clock_that_is_fast_or_slow() {
    let env = Env::new();
    env.seed(USER);
    for (offset, way) in [(-600, "fast"), (900, "slow")] {
        env.idp.set_date_offset(offset);
        let run = doctor_account(&env);
        let found = problems(&run);
        let line = found
            .iter()
            .find(|p| p.contains("the clock is "))
            .unwrap_or_else(|| panic!("no clock problem: {run:#?}"));
        // "the clock is N s fast": N within a second or two of the offset.
        let n: i64 = line
            .split("the clock is ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!((n - offset.abs()).abs() <= 2, "{line}");
        assert!(
            line.contains(&format!(" s {way} (compared with the Date header of ")),
            "{line}"
        );
        assert!(
            line.contains("-> enable time sync (timedatectl set-ntp true)"),
            "{line}"
        );
        run.expect(1);
    }
    // Within the limit: ok.
    env.idp.set_date_offset(-120);
    let run = doctor_account(&env);
    run.expect(0);
    assert!(
        run.stdout.contains("ok: the clock agrees with "),
        "{run:#?}"
    );
}

#[test]
fn doctor_finds_an_app_registration_without_public_client_flows() {
    use mock_idp::Registration;
    let env = Env::new();
    env.seed(USER);
    env.idp.set_registration(Registration::NoPublicClientFlows);
    // Stored: the refresh is refused; the refresh token is kept.
    let rt = env.stored_refresh_token(USER);
    let run = doctor_account(&env);
    expect_problem(
        &run,
        &[
            "account me@example.com: the app registration does not allow public client flows",
            "AADSTS7000218",
            "-> enable Allow public client flows in the app registration",
            "Authentication > Advanced settings",
        ],
    );
    assert_eq!(env.stored_refresh_token(USER), rt);
    // Never signed in: a device authorization and exactly one poll.
    env.idp.reset_log();
    let flags = env.account_flags("new@example.com");
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let run = doctor(&env, &flags, None);
    expect_problem(
        &run,
        &[
            "account new@example.com: the app registration does not allow public client flows",
            "the device authorization was refused",
            "-> enable Allow public client flows in the app registration",
        ],
    );
    assert_eq!(env.idp.devicecode_count(), 1);
    assert_eq!(env.idp.count(Grant::Device), 1);
    // Neither the device code nor the user code is shown.
    let polls = env.idp.token_requests(Grant::Device);
    let code = polls[0].get("device_code").unwrap().to_string();
    assert!(!run.stdout.contains(&code) && !run.stderr.contains(&code));
    assert!(!run.stdout.contains("enter the code"), "{run:#?}");
}

#[test]
fn doctor_says_the_device_flow_is_allowed_when_the_provider_waits_for_a_sign_in() {
    let env = Env::new();
    env.seed(USER);
    let flags = env.account_flags("new@example.com");
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    env.idp.reset_log();
    let run = doctor(&env, &flags, None);
    assert!(
        run.stdout
            .contains("ok: account new@example.com: the app registration allows the device flow"),
        "{run:#?}"
    );
    assert_eq!(env.idp.devicecode_count(), 1);
    assert_eq!(env.idp.count(Grant::Device), 1);
    // Only the not-stored problem; nothing was stored by the check.
    assert_eq!(problems(&run).len(), 1, "{run:#?}");
    assert_eq!(env.records().len(), 1);
}

#[test]
fn doctor_finds_a_client_id_unknown_to_the_tenant() {
    use mock_idp::Registration;
    let env = Env::new();
    env.seed(USER);
    env.idp.set_registration(Registration::AppNotFound);
    for flags in [
        env.account_flags(USER),
        env.account_flags("new@example.com"),
    ] {
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let run = doctor(&env, &flags, None);
        expect_problem(
            &run,
            &[
                &format!("no app with client id {CLIENT} is registered in the directory"),
                "AADSTS700016",
                "-> check client_id and tenant",
            ],
        );
    }
}

#[test]
fn doctor_tells_personal_accounts_to_use_outlook_office_com_scopes() {
    use mock_idp::Registration;
    let env = Env::new();
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    let scope = "offline_access https://outlook.office365.com/IMAP.AccessAsUser.All \
                 https://outlook.office365.com/POP.AccessAsUser.All \
                 https://outlook.office365.com/SMTP.Send";
    env.helper(&format!(
        "action=store\nrefresh_token={rt}\nscope={scope}\n"
    ))
    .expect(0);
    env.idp
        .set_registration(Registration::PersonalAccountScopes);
    let run = doctor_account(&env);
    expect_problem(
        &run,
        &[
            "account me@example.com: the provider refused the scope",
            "AADSTS70011",
            "-> use outlook.office.com scopes for personal accounts",
            "--scope \"offline_access https://outlook.office.com/IMAP.AccessAsUser.All",
        ],
    );
    // A sign-in asking for those scopes is refused at the device authorization.
    let mut flags = env.account_flags("new@example.com");
    flags.extend(["--scope".to_string(), scope.to_string()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let run = doctor(&env, &flags, None);
    expect_problem(
        &run,
        &[
            "account new@example.com: the provider refused the scope",
            "-> use outlook.office.com scopes for personal accounts",
        ],
    );
}

#[test]
fn doctor_recognises_a_google_testing_app_by_the_refresh_token_age() {
    let env = Env::new();
    let secret = "google-desktop-secret-77";
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    let cfg = env.write_config(&format!(
        "[accounts.gmail]\nprovider = \"google\"\nclient_id = \"{CLIENT}\"\n\
         authority = \"{}\"\nuser = \"{USER}\"\nclient_secret_cmd = \"echo {secret}\"\n",
        env.idp.authority()
    ));
    let store = env.run(
        &["helper"],
        format!(
            "provider=google\nclient_id={CLIENT}\nauthority={}\nuser={USER}\n\
             client_secret={secret}\naction=store\nrefresh_token={rt}\n\n",
            env.idp.authority()
        )
        .as_bytes(),
    );
    store.expect(0);
    // Obtained 7 days and a minute ago; Google now refuses it.
    let set_obtained = |ago: u64| {
        let (path, mut v) = env.record_path(USER);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        v["refresh_token_obtained_at"] = serde_json::json!(now - ago);
        v["needs_login"] = serde_json::Value::Null;
        std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    };
    set_obtained(7 * 86_400 + 60);
    env.idp.google_expire_refresh_token(&rt);
    let run = doctor(&env, &["gmail"], Some(&cfg));
    expect_problem(
        &run,
        &[
            "account 'gmail' (me@example.com): this Google app is in Testing: its refresh \
             tokens expire after 7 days",
            "obtained 7 day(s) before was refused",
            "Token has been expired or revoked)",
            "-> publish the app (Google Cloud console > OAuth consent screen > Publish app) \
             or sign in again each week: ooauth2 login gmail",
        ],
    );
    for s in [secret, rt.as_str()] {
        assert!(
            !run.stdout.contains(s) && !run.stderr.contains(s),
            "{run:#?}"
        );
    }
    // The refresh token is kept, the account marked as a refresh marks it.
    assert_eq!(env.stored_refresh_token(USER), rt);
    assert!(env.record(USER)["needs_login"].is_string());
    // A day-old token refused is not the Testing expiry.
    set_obtained(86_400);
    let run = doctor(&env, &["gmail"], Some(&cfg));
    expect_problem(
        &run,
        &[
            "Google refused the refresh token: revoked or expired",
            "-> sign in again: ooauth2 login gmail",
        ],
    );
    assert!(!run.stdout.contains("Testing"), "{run:#?}");
}

// ---------------------------------------------------------------------------
// One home per rule: doctor builds, reads and names accounts as every other
// command does (each of these once drifted apart).
// ---------------------------------------------------------------------------

/// Plain `doctor` (every account) uses a configured account whole, its
/// `client_secret_cmd` included: a Google account is refresh-checked, and a
/// confidential Microsoft app is not taken for one without its secret.
#[test]
fn doctor_of_every_account_uses_each_accounts_client_secret_cmd() {
    let env = Env::new();
    let secret = "confidential-app-secret-31";
    env.seed(USER);
    let cfg = env.write_config(&format!(
        "[accounts.work]\nclient_id = \"{CLIENT}\"\nauthority = \"{}\"\nuser = \"{USER}\"\n\
         client_secret_cmd = \"echo {secret}\"\n",
        env.idp.authority()
    ));
    env.idp.require_secret(CLIENT, secret);
    env.idp.reset_log();
    let run = doctor(&env, &[], Some(&cfg));
    run.expect(0);
    assert!(
        run.stdout.contains(
            "ok: account 'work' (me@example.com): the provider accepted the refresh token"
        ),
        "{run:#?}"
    );
    let sent = env.idp.token_requests(Grant::Refresh);
    assert_eq!(sent.len(), 1, "{run:#?}");
    assert_eq!(sent[0].get("client_secret"), Some(secret));
    assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));

    // A Google account: checked, not skipped for a secret it has.
    let gmail = "me@gmail.example";
    let rt = env.idp.issue_refresh_token(gmail, CLIENT);
    env.run(
        &["helper"],
        format!(
            "provider=google\nclient_id={CLIENT}\nauthority={}\nuser={gmail}\n\
             client_secret={secret}\naction=store\nrefresh_token={rt}\n\n",
            env.idp.authority()
        )
        .as_bytes(),
    )
    .expect(0);
    let cfg = env.write_config(&format!(
        "[accounts.gmail]\nprovider = \"google\"\nclient_id = \"{CLIENT}\"\n\
         authority = \"{}\"\nuser = \"{gmail}\"\nclient_secret_cmd = \"echo {secret}\"\n",
        env.idp.authority()
    ));
    let run = doctor(&env, &[], Some(&cfg));
    assert!(
        run.stdout.contains(&format!(
            "ok: account 'gmail' ({gmail}): the provider accepted the refresh token"
        )),
        "{run:#?}"
    );
    assert!(
        !run.stdout.contains("Google wants the client secret"),
        "{run:#?}"
    );
}

/// doctor reads the config file by the rules every other command applies:
/// one in a directory others can write to is a problem, not "valid".
#[test]
fn doctor_refuses_a_config_file_every_other_command_refuses() {
    let env = Env::new();
    env.seed(USER);
    let dir = env.root.join("shared");
    std::fs::create_dir(&dir).unwrap();
    set_mode(&dir, 0o777);
    let cfg = dir.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[accounts.work]\nclient_id = \"{CLIENT}\"\nauthority = \"{}\"\nuser = \"{USER}\"\n",
            env.idp.authority()
        ),
    )
    .unwrap();
    set_mode(&cfg, 0o600);
    let mut token = env.command(&["token", "work"]);
    token.env("OOAUTH2_CONFIG", &cfg);
    env.run_with(token, b"")
        .expect_failure(74, &["directory", "writable by other users"]);
    let run = doctor(&env, &["--offline"], Some(&cfg));
    expect_problem(
        &run,
        &[
            "the config file's directory",
            "writable by other users",
            &format!("-> run: chmod go-w {}", dir.display()),
        ],
    );
    assert!(!run.stdout.contains("is valid ("), "{run:#?}");
}

/// The command doctor suggests signs the account in as it is: the
/// provider named, and a user name a shell would split quoted.
#[test]
fn doctor_suggests_a_sign_in_command_that_names_the_provider() {
    let env = Env::new();
    let user = "odd;name@gmail.example";
    let mut args = vec!["--offline", "--provider", "google"];
    let flags = env.account_flags(user);
    args.extend(flags.iter().map(String::as_str));
    let run = doctor(&env, &args, None);
    expect_problem(
        &run,
        &[
            "is not stored",
            &format!(
                "-> run: ooauth2 login --client-id {CLIENT} --user 'odd;name@gmail.example' \
                 --provider google --authority {}",
                env.idp.authority()
            ),
        ],
    );
}
