//! Golden cases for every command line Alpine's `ooauth2.py` accepts: the same
//! output lines on stdout, messages on stderr, exit statuses, and what is left
//! in the store, driven against the mock identity provider.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::support::run::{CLIENT, Env, Run, USER, strings};
use base64::Engine as _;
use mock_idp::{DeviceOutcome, DeviceScript, Fault, Grant};

const DEVICE: &str = "--generate_refresh_and_access_token";
const REFRESH: &str = "--generate_access_token";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The XOAUTH2 line ooauth2.py prints with `--encoded`.
fn xoauth2(user: &str, at: &str) -> String {
    b64(&format!("user={user}\x01auth=Bearer {at}\x01\x01"))
}

/// Device mode: `--generate_refresh_and_access_token`, `flags`, the client
/// id and the mock's authority, then `tail`.
fn device_args(env: &Env, flags: &[&str], tail: &[&str]) -> Vec<String> {
    let mut args = strings(&[DEVICE]);
    args.extend(strings(flags));
    args.extend(strings(&["--client_id", CLIENT]));
    args.extend(["--authority".to_string(), env.idp.authority()]);
    args.extend(strings(tail));
    args
}

/// Runs device mode (see [`device_args`]) with nothing on stdin.
fn legacy_device(env: &Env, flags: &[&str], tail: &[&str]) -> Run {
    env.run(&device_args(env, flags, tail), b"")
}

/// Runs refresh mode (see [`Env::legacy_refresh_args`]) with nothing on stdin.
fn legacy_refresh(env: &Env, flags: &[&str], refresh_token: &[&str], user: Option<&str>) -> Run {
    env.run(&env.legacy_refresh_args(flags, refresh_token, user), b"")
}

/// Writes a refresh token the mock issued for `user` to a file; returns (token, path).
fn rt_file(env: &Env, user: &str, name: &str) -> (String, PathBuf) {
    let rt = env.idp.issue_refresh_token(user, CLIENT);
    let path = env.root.join(name);
    std::fs::write(&path, format!("{rt}\n")).expect("write the refresh token file");
    (rt, path)
}

fn at_arg(path: &std::path::Path) -> String {
    format!("@{}", path.display())
}

/// A fresh env with a refresh token of `USER` in `rt.txt`; returns it with
/// the `@<path>` argument naming that file.
fn env_with_rt_file() -> (Env, String) {
    let env = Env::new();
    let (_, path) = rt_file(&env, USER, "rt.txt");
    (env, at_arg(&path))
}

/// No request reached the provider and no file was written.
#[track_caller]
fn assert_nothing_done(env: &Env) {
    assert_eq!(env.idp.total_count(), 0);
    assert!(env.files().is_empty());
}

/// The three lines of device mode, split and checked for shape.
#[track_caller]
fn three_lines(run: &Run) -> (String, String, u64) {
    run.expect(0);
    assert!(run.stdout.ends_with('\n'), "{run:#?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "device mode prints three lines: {run:#?}");
    let rt = lines[0]
        .strip_prefix("Refresh Token: ")
        .unwrap_or_else(|| panic!("line 1: {:?}", lines[0]));
    let secs = lines[2]
        .strip_prefix("Access Token Expiration Seconds: ")
        .unwrap_or_else(|| panic!("line 3: {:?}", lines[2]));
    let secs: u64 = secs.parse().expect("expiration seconds is a number");
    (rt.to_string(), lines[1].to_string(), secs)
}

// ---------------------------------------------------------------------------
// Device mode: --generate_refresh_and_access_token
// ---------------------------------------------------------------------------

#[test]
fn device_mode_prints_the_three_lines_and_stores_the_account() {
    let env = Env::new();
    let run = env.run(
        &[
            DEVICE,
            &format!("--client_id={CLIENT}"),
            &format!("--authority={}", env.idp.authority()),
        ],
        b"",
    );
    let (rt, line2, secs) = three_lines(&run);
    let at = line2
        .strip_prefix("Access Token: ")
        .unwrap_or_else(|| panic!("line 2: {line2:?}"));
    assert_eq!(Some(rt.clone()), env.idp.last_refresh_token_for(USER));
    assert!(env.idp.is_active_access_token(at), "{at}");
    assert!(secs == 3599 || secs == 3600, "expiration seconds {secs}");
    // The sign-in message is for the person: stderr, never stdout.
    assert!(run.stderr.contains("enter the code"), "{run:#?}");
    assert!(!run.stdout.contains("enter the code"));
    assert!(!run.stdout.contains("ENTER"));
    // One devicecode request with ooauth2.py's scope, against tenant common.
    assert_eq!(env.idp.devicecode_count(), 1);
    let reqs = env.idp.requests();
    assert!(reqs.iter().all(|r| r.tenant == "common"), "{reqs:?}");
    let scope = reqs[0].get("scope").unwrap();
    for s in [
        "offline_access",
        "https://outlook.office.com/IMAP.AccessAsUser.All",
        "https://outlook.office.com/SMTP.Send",
    ] {
        assert!(scope.split(' ').any(|x| x == s), "{s} not in {scope}");
    }
    assert!(!scope.contains("POP.AccessAsUser"), "{scope}");
    assert_eq!(reqs[0].get("client_id"), Some(CLIENT));
    // Stored (ooauth2.py stored nothing): the user comes from the id_token.
    let rec = env.record(USER);
    assert_eq!(rec["refresh_token"].as_str(), Some(rt.as_str()));
    assert_eq!(rec["access_token"].as_str(), Some(at));
    assert_eq!(rec["client_id"].as_str(), Some(CLIENT));
    assert_eq!(rec["tenant"].as_str(), Some("common"));
    for (p, mode) in env.modes() {
        let want = if p.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, want, "{}", p.display());
    }
    // A later token command answers from the cache without a request.
    let before = env.idp.total_count();
    let run = env.token(USER, &["--non-interactive"]);
    run.expect(0);
    assert_eq!(run.stdout, format!("{at}\n"));
    assert_eq!(
        env.idp.total_count(),
        before,
        "token contacted the provider"
    );
}

#[test]
fn device_mode_encoded_prints_the_bare_xoauth2_string() {
    let env = Env::new();
    let run = env.run(
        &[
            DEVICE,
            "--encoded",
            &format!("--user={USER}"),
            &format!("--client_id={CLIENT}"),
            &format!("--authority={}", env.idp.authority()),
        ],
        b"",
    );
    let (rt, line2, secs) = three_lines(&run);
    assert_eq!(Some(rt), env.idp.last_refresh_token_for(USER));
    assert!(secs == 3599 || secs == 3600, "{secs}");
    let at = env.record(USER)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(env.idp.is_active_access_token(&at));
    assert_eq!(line2, xoauth2(USER, &at));
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&line2)
        .unwrap();
    assert_eq!(
        raw,
        format!("user={USER}\x01auth=Bearer {at}\x01\x01").into_bytes()
    );
}

#[test]
fn device_mode_with_a_tenant_uses_it_everywhere() {
    let env = Env::new();
    let tenant = "contoso.onmicrosoft.com";
    let run = env.run(
        &[
            DEVICE,
            "--client_id",
            CLIENT,
            "--tenant",
            tenant,
            "--authority",
            &env.idp.authority(),
        ],
        b"",
    );
    three_lines(&run);
    let reqs = env.idp.requests();
    assert!(reqs.len() >= 2, "{reqs:?}");
    assert!(reqs.iter().all(|r| r.tenant == tenant), "{reqs:?}");
    assert_eq!(env.record(USER)["tenant"].as_str(), Some(tenant));
}

#[test]
fn device_mode_sends_the_given_scope_and_prints_the_provider_lifetime() {
    let env = Env::new();
    env.idp.set_token_lifetime(1234);
    let scope = "offline_access https://outlook.office.com/POP.AccessAsUser.All";
    let run = legacy_device(&env, &[], &[&format!("--scope={scope}")]);
    let (_, _, secs) = three_lines(&run);
    assert!(
        secs == 1233 || secs == 1234,
        "the lifetime is the provider's: {secs}"
    );
    let sent = env.idp.requests()[0].get("scope").unwrap().to_string();
    assert!(sent.contains("POP.AccessAsUser.All"), "{sent}");
    assert!(!sent.contains("IMAP.AccessAsUser.All"), "{sent}");
}

#[test]
fn device_mode_failures_leave_stdout_empty() {
    // Declined at the device page.
    let env = Env::new();
    env.idp.set_device_script(DeviceScript {
        outcome: DeviceOutcome::Decline,
        ..DeviceScript::default()
    });
    let run = legacy_device(&env, &[], &[]);
    run.expect_failure(1, &["declined"]);
    assert!(run.stderr.contains("enter the code"), "{run:#?}");
    assert!(env.records().is_empty());

    // Someone else signs in although --user names the account.
    let env = Env::new();
    env.idp.set_device_script(DeviceScript {
        outcome: DeviceOutcome::Approve("intruder@example.com".into()),
        ..DeviceScript::default()
    });
    let run = legacy_device(&env, &["--encoded", "--user", USER], &[]);
    run.expect_failure(1, &["intruder@example.com"]);
    assert!(env.records().is_empty());
}

#[test]
fn declined_sign_in_gets_a_sign_in_hint_not_a_refresh_token_hint() {
    for (outcome, needle) in [
        (DeviceOutcome::Decline, "declined"),
        (DeviceOutcome::BadCode, "code"),
    ] {
        let env = Env::new();
        env.idp.set_device_script(DeviceScript {
            outcome,
            ..DeviceScript::default()
        });
        let run = legacy_device(&env, &[], &[]);
        run.expect_failure(1, &["hint:"]);
        let hint = run
            .stderr
            .lines()
            .find(|l| l.contains("hint:"))
            .unwrap()
            .to_string();
        assert!(hint.contains(needle), "{hint}");
        assert!(!hint.contains("refresh token"), "{hint}");
    }
}

#[test]
fn enter_on_stdin_polls_at_once() {
    let env = Env::new();
    env.idp.set_device_interval(30);
    env.idp.set_device_script(DeviceScript {
        pending_polls: 0,
        ..DeviceScript::default()
    });
    let started = Instant::now();
    let mut child = env.spawn(&device_args(&env, &[], &[]));
    let mut stdin = child.stdin.take().unwrap();
    // Wait for the sign-in message on stderr, then press ENTER.
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 1024];
        let mut told = false;
        loop {
            match stderr.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
            if !told && String::from_utf8_lossy(&all).contains("enter the code") {
                told = true;
                let _ = tx.send(());
            }
        }
        String::from_utf8_lossy(&all).into_owned()
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("no sign-in message on stderr");
    std::thread::sleep(Duration::from_millis(300));
    // Without ENTER it honours the 30 s interval: no poll yet, still running.
    assert_eq!(
        env.idp.count(Grant::Device),
        0,
        "polled before the interval"
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "finished without a poll"
    );
    stdin.write_all(b"\n").unwrap();
    stdin.flush().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = child.wait().unwrap();
    drop(stdin);
    let err = reader.join().unwrap();
    let elapsed = started.elapsed();
    assert!(status.success(), "{status:?} {err}");
    assert!(
        elapsed < Duration::from_secs(10),
        "ENTER did not poll at once: {elapsed:?}"
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("Refresh Token: mockrt."), "{out}");
    assert!(lines[1].starts_with("Access Token: mockat."), "{out}");
    assert_eq!(env.idp.count(Grant::Device), 1);
}

// ---------------------------------------------------------------------------
// Refresh mode: --generate_access_token
// ---------------------------------------------------------------------------

#[test]
fn refresh_mode_from_a_file_prints_the_bare_token_and_persists_rotation() {
    let env = Env::new();
    let (rt, path) = rt_file(&env, USER, "rt.txt");
    let rt_flag = format!("--refresh_token={}", at_arg(&path));
    let run = legacy_refresh(&env, &[], &[&rt_flag], Some(USER));
    run.expect(0);
    let at = run
        .stdout
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("{run:#?}"));
    assert!(!at.contains('\n'), "more than one line: {run:#?}");
    assert!(env.idp.is_active_access_token(at), "{run:#?}");
    assert!(!run.stderr.contains("visible to other users"), "{run:#?}");
    assert!(!run.stderr.contains(&rt), "secret on stderr");
    // The rotated refresh token is kept.
    let rec = env.record(USER);
    let stored = rec["refresh_token"].as_str().unwrap();
    assert_ne!(stored, rt);
    assert_eq!(
        env.idp.last_refresh_token_for(USER).as_deref(),
        Some(stored)
    );
    assert_eq!(rec["access_token"].as_str(), Some(at));
    // One refresh with ooauth2.py's scope (which ooauth2.py itself forgot to send).
    let reqs = env.idp.token_requests(Grant::Refresh);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].get("refresh_token"), Some(rt.as_str()));
    assert_eq!(reqs[0].get("client_id"), Some(CLIENT));
    assert_eq!(reqs[0].tenant, "common");
    let scope = reqs[0].get("scope").unwrap();
    assert!(scope.contains("IMAP.AccessAsUser.All"), "{scope}");
    assert!(scope.contains("SMTP.Send"), "{scope}");
    assert_eq!(env.idp.devicecode_count(), 0);
    // The file is only read.
    assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{rt}\n"));
}

#[test]
fn refresh_mode_encoded_prints_the_xoauth2_line() {
    let (env, f) = env_with_rt_file();
    let run = legacy_refresh(&env, &["--encoded"], &["--refresh_token", &f], Some(USER));
    run.expect(0);
    let at = env.record(USER)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(env.idp.is_active_access_token(&at));
    assert_eq!(run.stdout, format!("{}\n", xoauth2(USER, &at)));
}

#[test]
fn refresh_mode_reads_the_token_from_stdin() {
    let env = Env::new();
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    let run = env.run(
        &env.legacy_refresh_args(&[], &["--refresh_token=-"], Some(USER)),
        format!("{rt}\r\n").as_bytes(),
    );
    run.expect(0);
    let at = run.stdout.trim_end_matches('\n');
    assert_eq!(run.stdout, format!("{at}\n"));
    assert!(env.idp.is_active_access_token(at));
    assert_eq!(
        env.idp.token_requests(Grant::Refresh)[0].get("refresh_token"),
        Some(rt.as_str())
    );
    assert!(!run.stderr.contains("visible to other users"));
}

#[test]
fn refresh_token_in_argv_works_with_a_warning() {
    let env = Env::new();
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    let run = env.run(
        &[
            REFRESH,
            &format!("--client_id={CLIENT}"),
            &format!("--refresh_token={rt}"),
            &format!("--authority={}", env.idp.authority()),
            &format!("--user={USER}"),
        ],
        b"",
    );
    run.expect(0);
    let at = run.stdout.trim_end_matches('\n');
    assert_eq!(run.stdout, format!("{at}\n"));
    assert!(env.idp.is_active_access_token(at));
    assert!(run.stderr.contains("visible to other users"), "{run:#?}");
    assert!(!run.stderr.contains(&rt), "the warning repeats the secret");
    assert_eq!(
        env.record(USER)["refresh_token"].as_str(),
        env.idp.last_refresh_token_for(USER).as_deref()
    );
}

#[test]
fn refresh_mode_without_user_learns_it_from_the_provider() {
    let (env, f) = env_with_rt_file();
    let run = legacy_refresh(&env, &[], &["--refresh_token", &f], None);
    run.expect(0);
    let at = run.stdout.trim_end_matches('\n');
    assert!(env.idp.is_active_access_token(at), "{run:#?}");
    assert_eq!(env.record(USER)["access_token"].as_str(), Some(at));
}

#[test]
fn refresh_mode_tenant_default_and_given() {
    let (env, f) = env_with_rt_file();
    let base = |tenant: Option<&str>| {
        let mut v = vec![
            REFRESH.to_string(),
            format!("--client_id={CLIENT}"),
            format!("--refresh_token={f}"),
            format!("--authority={}", env.idp.authority()),
            format!("--user={USER}"),
        ];
        if let Some(t) = tenant {
            v.push(format!("--tenant={t}"));
        }
        v
    };
    env.run(&base(None), b"").expect(0);
    assert_eq!(env.idp.token_requests(Grant::Refresh)[0].tenant, "common");
    env.idp.reset_log();
    env.run(&base(Some("contoso.onmicrosoft.com")), b"")
        .expect(0);
    let reqs = env.idp.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].tenant, "contoso.onmicrosoft.com");
    assert_eq!(
        reqs[0].path, "/contoso.onmicrosoft.com/oauth2/v2.0/token",
        "{reqs:?}"
    );
}

#[test]
fn access_token_option_is_accepted_and_unused() {
    let (env, f) = env_with_rt_file();
    let run = legacy_refresh(
        &env,
        &["--access_token=not-used-at"],
        &["--refresh_token", &f],
        Some(USER),
    );
    run.expect(0);
    let at = run.stdout.trim_end_matches('\n');
    assert_ne!(at, "not-used-at");
    assert!(env.idp.is_active_access_token(at));
    for r in env.idp.requests() {
        assert!(
            r.form.iter().all(|(_, v)| !v.contains("not-used-at")),
            "{r:?}"
        );
    }
    assert_ne!(
        env.record(USER)["access_token"].as_str(),
        Some("not-used-at")
    );
    // Unused, but on argv: other local users can read it there.
    assert!(run.stderr.contains("--access_token"), "{run:#?}");
    assert!(run.stderr.contains("visible to other"), "{run:#?}");
    assert!(run.stderr.contains("leave it out"), "{run:#?}");
    assert!(!run.stderr.contains("not-used-at"), "{run:#?}");
}

#[test]
fn access_token_in_two_words_or_a_prefix_is_warned_about_too() {
    let (env, f) = env_with_rt_file();
    for flags in [
        &["--access_token", "SECRET-at-1"][..],
        &["--access", "SECRET-at-1"],
    ] {
        let run = legacy_refresh(&env, flags, &["--refresh_token", &f], Some(USER));
        run.expect(0);
        assert!(run.stderr.contains("visible to other"), "{run:#?}");
        assert!(!run.stderr.contains("SECRET-at-1"), "{run:#?}");
    }
}

#[test]
fn stray_arguments_are_ignored_without_showing_them() {
    let (env, f) = env_with_rt_file();
    // A mistyped `-r TOKEN`: both words are stray, then a plain word.
    let token = "SECRET-0.AXoAbCdEfGh";
    let flags = ["-r", token, "imap"];
    let run = legacy_refresh(&env, &flags, &["--refresh_token", &f], Some(USER));
    run.expect(0);
    assert!(!run.stderr.contains(token), "{run:#?}");
    assert!(!run.stderr.contains("imap"), "{run:#?}");
    // A short option is shown (it is no secret), the others by position and length.
    assert!(run.stderr.contains("ignoring argument 2, '-r'"), "{run:#?}");
    assert!(
        run.stderr
            .contains("ignoring argument 3 (20 characters, not shown"),
        "{run:#?}"
    );
    assert!(
        run.stderr
            .contains("ignoring argument 4 (4 characters, not shown"),
        "{run:#?}"
    );
    assert_eq!(run.stdout.lines().count(), 1);
}

#[test]
fn refresh_failures_leave_stdout_empty_and_store_nothing() {
    let env = Env::new();
    let run_with =
        |rt_arg: &str| legacy_refresh(&env, &[], &["--refresh_token", rt_arg], Some(USER));
    // Revoked.
    let (rt, path) = rt_file(&env, USER, "revoked.txt");
    env.idp.revoke_refresh_token(&rt);
    let run = run_with(&at_arg(&path));
    run.expect_failure(1, &["AADSTS50173", "error"]);
    assert!(!run.stderr.contains(&rt), "secret on stderr");
    // Unknown to the provider.
    let path = env.root.join("unknown.txt");
    std::fs::write(&path, "not-a-valid-token\n").unwrap();
    run_with(&at_arg(&path)).expect_failure(1, &["AADSTS70000"]);
    // Expired after 90 days of inactivity.
    let (rt, path) = rt_file(&env, USER, "expired.txt");
    env.idp.expire_refresh_token(&rt);
    run_with(&at_arg(&path)).expect_failure(1, &["AADSTS700082"]);
    assert!(env.records().is_empty(), "{:?}", env.records());
    assert_eq!(env.idp.count(Grant::Refresh), 3);
    // Provider down: temporary failure.
    let (_, path) = rt_file(&env, USER, "ok.txt");
    for _ in 0..4 {
        env.idp.push_fault(Fault::Status(503));
    }
    run_with(&at_arg(&path)).expect_failure(75, &["error"]);
    assert!(env.records().is_empty());
}

#[test]
fn unreadable_or_empty_refresh_token_is_a_usage_error() {
    let env = Env::new();
    let empty = env.root.join("empty.txt");
    std::fs::write(&empty, "\n").unwrap();
    let missing = env.root.join("missing.txt");
    for (rt_arg, stdin, needle) in [
        (at_arg(&missing), "", "missing.txt"),
        (at_arg(&empty), "", "empty"),
        ("-".to_string(), "", "empty"),
    ] {
        let run = env.run(
            &env.legacy_refresh_args(&[], &["--refresh_token", &rt_arg], None),
            stdin.as_bytes(),
        );
        run.expect_failure(2, &[needle]);
    }
    assert_nothing_done(&env);
}

// ---------------------------------------------------------------------------
// optparse spellings
// ---------------------------------------------------------------------------

#[test]
fn every_spelling_of_the_refresh_command_works() {
    let (env, f) = env_with_rt_file();
    let a = env.idp.authority();
    let cases: Vec<(Vec<String>, bool)> = vec![
        // --opt=value
        (
            strings(&[
                "--generate_access_token",
                &format!("--client_id={CLIENT}"),
                &format!("--refresh_token={f}"),
                &format!("--authority={a}"),
                &format!("--user={USER}"),
            ]),
            false,
        ),
        // --opt value
        (
            strings(&[
                "--generate_access_token",
                "--client_id",
                CLIENT,
                "--refresh_token",
                &f,
                "--authority",
                &a,
                "--user",
                USER,
            ]),
            false,
        ),
        // Hyphens.
        (
            strings(&[
                "--generate-access-token",
                "--client-id",
                CLIENT,
                &format!("--refresh-token={f}"),
                "--authority",
                &a,
                "--user",
                USER,
            ]),
            false,
        ),
        // Unambiguous prefixes, options in any order.
        (
            strings(&[
                "--client",
                CLIENT,
                "--refresh_t",
                &f,
                "--generate_acc",
                "--auth",
                &a,
                "--us",
                USER,
            ]),
            false,
        ),
        (
            strings(&[
                "--generate_acc",
                "--enc",
                &format!("--client={CLIENT}"),
                &format!("--refresh_t={f}"),
                &format!("--authority={a}"),
                &format!("--user={USER}"),
            ]),
            true,
        ),
        // Hyphenated prefix.
        (
            strings(&[
                "--generate-acc",
                "--client-i",
                CLIENT,
                "--refresh-tok",
                &f,
                "--authority",
                &a,
                "--user",
                USER,
            ]),
            false,
        ),
    ];
    for (argv, encoded) in cases {
        // A token of its own for each spelling: an import of a token
        // imported a moment ago reuses that answer without a grant.
        rt_file(&env, USER, "rt.txt");
        let run = env.run(&argv, b"");
        run.expect(0);
        let at = env.record(USER)["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(env.idp.is_active_access_token(&at), "{argv:?}");
        let want = if encoded { xoauth2(USER, &at) } else { at };
        assert_eq!(run.stdout, format!("{want}\n"), "{argv:?}");
    }
    assert_eq!(env.idp.count(Grant::Refresh), 6);
}

#[test]
fn ambiguous_and_unknown_options_are_usage_errors() {
    let env = Env::new();
    let a = env.idp.authority();
    let run = env.run(&["--gen", "--client_id", CLIENT, "--authority", &a], b"");
    run.expect_failure(
        2,
        &[
            "ambiguous option: --gen",
            "--generate_refresh_and_access_token",
            "--generate_access_token",
        ],
    );
    // An unknown option after one of ooauth2.py's is the legacy parser's;
    // first, it is no ooauth2.py command line, and clap refuses it.
    let run = env.run(&[REFRESH, "--bogus", "--client_id", CLIENT], b"");
    run.expect_failure(2, &["no such option: --bogus"]);
    let run = env.run(&["--bogus", "--client_id", CLIENT], b"");
    run.expect_failure(2, &["unexpected argument '--bogus'"]);
    let run = env.run(&[REFRESH, "--client_id"], b"");
    run.expect_failure(2, &["--client_id option requires 1 argument"]);
    let run = env.run(&[REFRESH, "--encoded=yes", "--client_id", CLIENT], b"");
    run.expect_failure(2, &["--encoded option does not take a value"]);
    assert_nothing_done(&env);
}

#[test]
fn legacy_help_is_shown_and_does_nothing() {
    let env = Env::new();
    let run = env.run(&[REFRESH, "--client_id", CLIENT, "--help"], b"");
    run.expect(0);
    let all = format!("{}{}", run.stdout, run.stderr);
    for opt in [
        "--generate_refresh_and_access_token",
        "--generate_access_token",
        "--refresh_token",
        "--encoded",
    ] {
        assert!(all.contains(opt), "{opt}: {run:#?}");
    }
    assert_nothing_done(&env);
}

// ---------------------------------------------------------------------------
// Missing options are reported before any request
// ---------------------------------------------------------------------------

#[test]
fn missing_options_are_named_before_any_request() {
    let (env, f) = env_with_rt_file();
    let a = env.idp.authority();
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec![REFRESH, "--client_id", CLIENT, "--authority", &a],
            vec!["--refresh_token"],
        ),
        (
            vec![
                DEVICE,
                "--encoded",
                "--client_id",
                CLIENT,
                "--authority",
                &a,
            ],
            vec!["--user"],
        ),
        (
            vec![
                REFRESH,
                "--encoded",
                "--client_id",
                CLIENT,
                "--refresh_token",
                &f,
            ],
            vec!["--user"],
        ),
        (
            vec![REFRESH, "--refresh_token", &f, "--authority", &a],
            vec!["--client_id"],
        ),
        (vec![DEVICE, "--authority", &a], vec!["--client_id"]),
        (vec![REFRESH], vec!["--client_id", "--refresh_token"]),
    ];
    for (argv, needles) in cases {
        let run = env.run(&argv, b"");
        let mut all = vec!["missing options"];
        all.extend(needles);
        run.expect_failure(2, &all);
        assert_eq!(env.idp.total_count(), 0, "{argv:?}: a request was made");
        assert_eq!(env.idp.devicecode_count(), 0);
    }
    // Nothing to do.
    let run = env.run(&["--client_id", CLIENT, "--authority", &a], b"");
    run.expect_failure(2, &["nothing to do", "--generate_access_token"]);
    assert_nothing_done(&env);
}
