//! The commands people and `passwordeval`/`PassCmd` use: `token`, `login`,
//! `status`, `erase`, and the help texts. stdout is data: one line on
//! success, nothing on failure.

use crate::support::run::{CLIENT, Env, Run, USER, finish, strings};
use base64::Engine as _;
use mock_idp::{DeviceOutcome, DeviceScript, Fault, Grant};
use std::ffi::OsStr;
use std::process::Stdio;

fn decode(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim_end_matches('\n'))
        .unwrap_or_else(|e| panic!("not base64 ({e}): {s:?}"))
}

/// `ooauth2 token --non-interactive` for the client at the mock, naming no
/// user.
fn token_without_user(env: &Env) -> Run {
    let a = env.idp.authority();
    env.run(
        &[
            "token",
            "--client-id",
            CLIENT,
            "--authority",
            &a,
            "--non-interactive",
        ],
        b"",
    )
}

/// Asserts a failed run: the status, nothing on stdout, the needles on stderr.
#[track_caller]
fn assert_failed(run: &Run, status: i32, needles: &[&str]) {
    run.expect_failure(status, needles);
    assert!(run.stderr.contains("error"), "{run:#?}");
}

/// Asserts exactly one line on stdout and returns it without its newline.
#[track_caller]
fn one_line(run: &Run) -> &str {
    run.expect(0);
    let line = run
        .stdout
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("no trailing newline: {run:#?}"));
    assert!(!line.contains('\n'), "more than one line: {run:#?}");
    assert!(!line.is_empty(), "{run:#?}");
    line
}

// ---------------------------------------------------------------------------
// token
// ---------------------------------------------------------------------------

#[test]
fn token_prints_the_cached_access_token_on_one_line() {
    let env = Env::new();
    env.seed(USER);
    let at = env.cached_access_token(USER);
    env.idp.reset_log();
    let run = env.token(USER, &[]);
    assert_eq!(one_line(&run), at);
    assert_eq!(run.stdout, format!("{at}\n"));
    assert_eq!(run.stderr, "", "{run:#?}");
    assert_eq!(env.idp.total_count(), 0, "a fresh token needs no request");
    let run = env.token(USER, &["--non-interactive", "--format", "raw"]);
    assert_eq!(run.stdout, format!("{at}\n"));
}

#[test]
fn token_formats_xoauth2_and_oauthbearer() {
    let env = Env::new();
    env.seed(USER);
    let at = env.cached_access_token(USER);
    let run = env.token(USER, &["--format", "xoauth2"]);
    assert_eq!(
        decode(one_line(&run)),
        format!("user={USER}\x01auth=Bearer {at}\x01\x01").into_bytes()
    );
    let run = env.token(
        USER,
        &["--format", "oauthbearer", "--host", "h", "--port", "993"],
    );
    assert_eq!(
        decode(one_line(&run)),
        format!("n,a={USER},\x01host=h\x01port=993\x01auth=Bearer {at}\x01\x01").into_bytes()
    );
    // Host and port are optional in RFC 7628.
    let run = env.token(USER, &["--format", "oauthbearer"]);
    assert_eq!(
        decode(one_line(&run)),
        format!("n,a={USER},\x01auth=Bearer {at}\x01\x01").into_bytes()
    );
}

#[test]
fn token_json_is_one_line_of_json() {
    let env = Env::new();
    env.seed(USER);
    let at = env.cached_access_token(USER);
    let run = env.token(USER, &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(one_line(&run)).unwrap();
    assert_eq!(v["user"], USER);
    assert_eq!(v["access_token"].as_str(), Some(at.as_str()));
    assert_eq!(v["source"], "cache");
    assert_eq!(v["token_type"], "Bearer");
    let expires_at = v["expires_at"].as_u64().unwrap();
    assert_eq!(Some(expires_at), env.record(USER)["expires_at"].as_u64());
    let expires_in = v["expires_in"].as_u64().unwrap();
    assert!((3500..=3600).contains(&expires_in), "{expires_in}");
}

#[test]
fn token_without_an_account_fails_with_empty_stdout_and_a_hint() {
    let env = Env::new();
    let run = env.token(USER, &["--non-interactive"]);
    let authority = env.idp.authority();
    assert_failed(
        &run,
        1,
        &[
            "error:",
            "hint:",
            &format!("ooauth2 login --client-id {CLIENT} --user {USER} --authority {authority}"),
        ],
    );
    // Without --user the hint still shows the whole command.
    let run = token_without_user(&env);
    assert_failed(
        &run,
        1,
        &[
            "hint:",
            &format!("ooauth2 login --client-id {CLIENT} --user "),
        ],
    );
    assert_eq!(env.idp.total_count(), 0);
    assert!(env.files().is_empty(), "{:?}", env.files());
}

#[test]
fn invalid_flags_are_usage_errors_with_empty_stdout() {
    let env = Env::new();
    env.seed(USER);
    let snapshot = env.snapshot();
    env.idp.reset_log();
    let a = env.idp.authority();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (env.args("token", USER, &["--min-ttl", "abc"]), "--min-ttl"),
        (
            env.args_at("token", "http://example.com", USER, &[]),
            "http://example.com",
        ),
        (env.args("token", USER, &["--port", "70000"]), "--port"),
        (env.args("token", USER, &["--format", "pdf"]), "pdf"),
        (env.args("token", USER, &["--tenant", "../x"]), "--tenant"),
        (
            strings(&["token", "--authority", &a, "--user", USER]),
            "--client-id",
        ),
        (
            strings(&["token", "--client-id", CLIENT, "--bogus"]),
            "--bogus",
        ),
        (strings(&["frobnicate"]), "frobnicate"),
        (
            strings(&[
                "login",
                "--client-id",
                CLIENT,
                "--authority",
                "http://example.com",
            ]),
            "http://example.com",
        ),
        (
            strings(&["erase", "--user", USER, "--authority", &a]),
            "--client-id",
        ),
    ];
    for (argv, needle) in cases {
        let run = env.run(&argv, b"");
        run.expect(2);
        assert_eq!(run.stdout, "", "{argv:?}: {run:#?}");
        assert!(run.stderr.contains(needle), "{argv:?}: {run:#?}");
    }
    assert_eq!(env.idp.total_count(), 0);
    assert_eq!(
        env.snapshot(),
        snapshot,
        "a rejected command changed the store"
    );
}

#[test]
fn corrupt_record_is_a_store_error_and_left_alone() {
    let env = Env::new();
    env.seed(USER);
    let (path, _) = env.record_path(USER);
    std::fs::write(&path, b"{ not json").unwrap();
    env.idp.reset_log();
    let run = env.token(USER, &["--non-interactive"]);
    assert_failed(&run, 74, &[&path.display().to_string()]);
    assert_eq!(std::fs::read(&path).unwrap(), b"{ not json");
    assert_eq!(env.idp.total_count(), 0);
}

#[test]
fn provider_down_is_a_temporary_failure() {
    let env = Env::new();
    let rt = env.seed(USER);
    env.expire_cached(USER);
    for _ in 0..4 {
        env.idp.push_fault(Fault::Status(503));
    }
    let run = env.token(USER, &["--non-interactive"]);
    assert_failed(&run, 75, &[]);
    assert_eq!(env.idp.pending_faults(), 0, "not retried");
    assert_eq!(
        env.record(USER)["refresh_token"].as_str(),
        Some(rt.as_str())
    );
}

#[test]
fn expired_token_is_refreshed_once_and_the_new_one_printed() {
    let env = Env::new();
    let old_rt = env.seed(USER);
    let old_at = env.cached_access_token(USER);
    env.expire_cached(USER);
    env.idp.reset_log();
    let run = env.token(USER, &["--non-interactive"]);
    let at = one_line(&run).to_string();
    assert_ne!(at, old_at);
    assert!(env.idp.is_active_access_token(&at));
    assert_eq!(env.idp.count(Grant::Refresh), 1);
    assert_eq!(env.idp.total_count(), 1);
    let rec = env.record(USER);
    assert_eq!(rec["access_token"].as_str(), Some(at.as_str()));
    let new_rt = rec["refresh_token"].as_str().unwrap();
    assert_ne!(new_rt, old_rt);
    assert_eq!(
        env.idp.last_refresh_token_for(USER).as_deref(),
        Some(new_rt)
    );
    // Fresh again: served from the cache.
    let run = env.token(USER, &["--non-interactive"]);
    assert_eq!(run.stdout, format!("{at}\n"));
    assert_eq!(env.idp.count(Grant::Refresh), 1);
}

#[test]
fn min_ttl_forces_an_early_refresh() {
    let env = Env::new();
    env.seed(USER);
    let old_at = env.cached_access_token(USER);
    env.idp.reset_log();
    let run = env.token(USER, &["--min-ttl", "7200"]);
    let at = one_line(&run);
    assert_ne!(at, old_at);
    assert_eq!(env.idp.count(Grant::Refresh), 1);
}

#[test]
fn transient_failure_with_a_valid_cached_token_still_prints_it() {
    let env = Env::new();
    env.seed(USER);
    let at = env.cached_access_token(USER);
    for _ in 0..4 {
        env.idp.push_fault(Fault::Status(503));
    }
    // --min-ttl above the lifetime asks for a refresh, which fails.
    let run = env.token(USER, &["--min-ttl", "7200", "--non-interactive"]);
    assert_eq!(one_line(&run), at);
    assert!(run.stderr.contains("warning"), "{run:#?}");
    assert!(!run.stdout.contains("warning"));
}

#[test]
fn verbose_shows_the_exchange_but_no_secret() {
    let env = Env::new();
    let old_rt = env.seed(USER);
    env.expire_cached(USER);
    let run = env.token(USER, &["--verbose", "--non-interactive"]);
    let at = one_line(&run).to_string();
    assert!(run.stderr.contains("/oauth2/v2.0/token"), "{run:#?}");
    let new_rt = env.record(USER)["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    for secret in [&old_rt, &new_rt, &at] {
        assert!(
            !run.stderr.contains(secret.as_str()),
            "{secret} on stderr: {run:#?}"
        );
    }
}

#[test]
fn token_without_user_needs_one_unambiguous_account() {
    let env = Env::new();
    env.seed(USER);
    let run = token_without_user(&env);
    assert_eq!(one_line(&run), env.cached_access_token(USER));
    env.seed("other@example.com");
    let run = token_without_user(&env);
    assert_failed(&run, 2, &[USER, "other@example.com"]);
}

// ---------------------------------------------------------------------------
// login, status, erase
// ---------------------------------------------------------------------------

#[test]
fn login_then_status_shows_the_account_without_secrets() {
    let env = Env::new();
    let run = env.login(USER, &[]);
    run.expect(0);
    assert_eq!(run.stdout, "", "login printed on stdout: {run:#?}");
    assert!(run.stderr.contains("enter the code"), "{run:#?}");
    assert!(
        run.stderr.contains(&format!("signed in as {USER}")),
        "{run:#?}"
    );
    assert_eq!(env.idp.devicecode_count(), 1);
    let rec = env.record(USER);
    let at = rec["access_token"].as_str().unwrap().to_string();
    let rt = rec["refresh_token"].as_str().unwrap().to_string();
    assert!(env.idp.is_active_access_token(&at));
    assert_eq!(env.idp.last_refresh_token_for(USER), Some(rt.clone()));
    assert!(!run.stderr.contains(&at) && !run.stderr.contains(&rt));

    // --wide: every column in full (the default table shortens the client id).
    let status = env.run(&["status", "--wide"], b"");
    status.expect(0);
    let out = &status.stdout;
    for needle in [USER, CLIENT, "common", "expires in"] {
        assert!(out.contains(needle), "status lacks {needle:?}: {status:#?}");
    }
    assert_eq!(
        out.lines().count(),
        2,
        "header and one account: {status:#?}"
    );
    for secret in [&at, &rt] {
        assert!(
            !out.contains(secret.as_str()) && !status.stderr.contains(secret.as_str()),
            "status shows a token: {status:#?}"
        );
    }
    // The stored account now answers token without a request.
    env.idp.reset_log();
    assert_eq!(
        env.token(USER, &["--non-interactive"]).stdout,
        format!("{at}\n")
    );
    assert_eq!(env.idp.total_count(), 0);
}

#[test]
fn login_without_user_learns_it_from_the_id_token() {
    let env = Env::new();
    let a = env.idp.authority();
    let run = env.run(&["login", "--client-id", CLIENT, "--authority", &a], b"");
    run.expect(0);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains(&format!("signed in as {USER}")),
        "{run:#?}"
    );
    assert_eq!(env.records().len(), 1);
    assert_eq!(env.record(USER)["client_id"].as_str(), Some(CLIENT));
}

#[test]
fn login_failure_stores_nothing_and_prints_nothing() {
    let env = Env::new();
    env.idp.set_device_script(DeviceScript {
        outcome: DeviceOutcome::Expire,
        ..DeviceScript::default()
    });
    let run = env.login(USER, &[]);
    assert_failed(&run, 1, &["expired"]);
    assert!(env.records().is_empty());
}

#[test]
fn status_with_an_empty_store_says_so() {
    let env = Env::new();
    let run = env.run(&["status"], b"");
    run.expect(0);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("no accounts stored"), "{run:#?}");
}

#[test]
fn status_lists_several_accounts_and_their_state() {
    let env = Env::new();
    env.seed(USER);
    let rt = env.seed("other@example.com");
    // The provider refuses the other account's token: status says it needs a sign-in.
    env.expire_cached("other@example.com");
    env.idp.revoke_refresh_token(&rt);
    env.token("other@example.com", &["--non-interactive"])
        .expect(1);
    let run = env.run(&["status", "--wide"], b"");
    run.expect(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    // The header, two accounts (in the store's order), and under the other
    // one what fixes it.
    assert_eq!(lines.len(), 4, "{run:#?}");
    let fix = lines
        .iter()
        .position(|l| l.contains("other@example.com"))
        .and_then(|i| lines.get(i + 1));
    assert!(
        fix.is_some_and(|l| l.starts_with("  to sign in again: ooauth2 login --client-id ")),
        "{run:#?}"
    );
    let me = lines.iter().find(|l| l.contains(USER)).unwrap();
    let other = lines
        .iter()
        .find(|l| l.contains("other@example.com"))
        .unwrap();
    assert!(
        me.contains("expires in") && me.trim_end().ends_with("renews itself"),
        "{me}"
    );
    assert!(other.contains("expired"), "{other}");
    assert!(other.contains("needs sign-in"), "{other}");
    for (_, rec) in env.records() {
        for k in ["access_token", "refresh_token"] {
            let s = rec[k].as_str().unwrap();
            assert!(!run.stdout.contains(s), "status shows {k}");
        }
    }
}

#[test]
fn erase_removes_the_record_and_says_so() {
    let env = Env::new();
    env.seed(USER);
    let run = env.erase(USER, &[]);
    run.expect(0);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains(&format!("erased {USER}")), "{run:#?}");
    assert!(env.records().is_empty(), "{:?}", env.records());
    // Erasing it again is an error: nothing is there to erase.
    let run = env.erase(USER, &[]);
    run.expect_failure(2, &["nothing was erased: no account is stored for"]);
    // And token now needs a sign-in.
    assert_failed(
        &env.token(USER, &["--non-interactive"]),
        1,
        &["ooauth2 login"],
    );
}

#[test]
fn erase_leaves_other_accounts_alone() {
    let env = Env::new();
    env.seed(USER);
    env.seed("other@example.com");
    env.erase(USER, &[]).expect(0);
    let left: Vec<String> = env
        .records()
        .into_iter()
        .map(|(_, v)| v["user"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left, vec!["other@example.com".to_string()]);
}

// ---------------------------------------------------------------------------
// Help and version
// ---------------------------------------------------------------------------

#[test]
fn help_has_examples_for_every_command() {
    let env = Env::new();
    for argv in [
        vec!["--help"],
        vec!["help"],
        vec!["helper", "--help"],
        vec!["token", "--help"],
        vec!["login", "--help"],
        vec!["status", "--help"],
        vec!["erase", "--help"],
        vec!["help", "token"],
    ] {
        let run = env.run(&argv, b"");
        run.expect(0);
        assert!(run.stdout.contains("Example"), "{argv:?}: {run:#?}");
        assert!(run.stdout.contains("ooauth2"), "{argv:?}");
    }
    let top = env.run(&["--help"], b"").stdout;
    for cmd in ["helper", "token", "login", "status", "erase"] {
        assert!(top.contains(cmd), "top-level help lacks {cmd}");
    }
    assert!(top.contains("--generate_access_token"), "legacy example");
    assert!(env.files().is_empty());
}

#[test]
fn version_is_printed() {
    let env = Env::new();
    let run = env.run(&["--version"], b"");
    run.expect(0);
    assert_eq!(
        run.stdout,
        format!("ooauth2 {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn no_command_is_a_usage_error_with_empty_stdout() {
    let env = Env::new();
    let run = env.run::<&str>(&[], b"");
    run.expect(2);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("Usage"), "{run:#?}");
}

// ---------------------------------------------------------------------------
// A reader that goes away
// ---------------------------------------------------------------------------

/// Runs with stdout closed before the program writes (like `| head -c0`).
fn run_with_closed_stdout<S: AsRef<OsStr>>(env: &Env, args: &[S]) -> Run {
    let mut cmd = env.command(args);
    cmd.stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn ooauth2");
    drop(child.stdout.take());
    let run = finish(child, b"");
    assert_eq!(run.stdout, "");
    run
}

#[test]
fn closed_stdout_is_not_an_error() {
    let env = Env::new();
    env.seed(USER);
    let a = env.idp.authority();
    let account = ["--client-id", CLIENT, "--authority", &a, "--user", USER];
    let mut cases: Vec<Vec<&str>> = vec![
        vec!["token"],
        vec!["token", "--format", "json"],
        vec!["status"],
        vec!["--version"],
        vec!["--help"],
    ];
    cases[0].extend(account);
    cases[1].extend(account);
    for argv in cases {
        let run = run_with_closed_stdout(&env, &argv);
        assert_eq!(run.status, 0, "{argv:?}: {run:#?}");
        assert!(!run.stderr.contains("panicked"), "{argv:?}: {run:#?}");
        assert!(!run.stderr.contains("error"), "{argv:?}: {run:#?}");
    }
}

#[test]
fn closed_stdout_still_persists_the_rotated_refresh_token() {
    let env = Env::new();
    let old_rt = env.seed(USER);
    env.expire_cached(USER);
    env.idp.reset_log();
    let run = run_with_closed_stdout(&env, &env.args("token", USER, &[]));
    assert_eq!(run.status, 0, "{run:#?}");
    assert!(!run.stderr.contains("panicked"), "{run:#?}");
    assert_eq!(env.idp.count(Grant::Refresh), 1);
    let rec = env.record(USER);
    assert_ne!(rec["refresh_token"].as_str(), Some(old_rt.as_str()));
    assert_eq!(
        rec["refresh_token"].as_str(),
        env.idp.last_refresh_token_for(USER).as_deref()
    );
}

#[test]
fn legacy_refresh_mode_with_closed_stdout_is_not_an_error() {
    let env = Env::new();
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    let path = env.root.join("rt.txt");
    std::fs::write(&path, &rt).unwrap();
    let rt_flag = format!("--refresh_token=@{}", path.display());
    let argv = env.legacy_refresh_args(&[], &[&rt_flag], Some(USER));
    let run = run_with_closed_stdout(&env, &argv);
    assert_eq!(run.status, 0, "{run:#?}");
    assert!(!run.stderr.contains("panicked") && !run.stderr.contains("error"));
    assert_eq!(
        env.record(USER)["refresh_token"].as_str(),
        env.idp.last_refresh_token_for(USER).as_deref()
    );
}
