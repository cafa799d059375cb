//! No token is ever lost, under a hostile provider and an unlucky user: a
//! rotated refresh token is kept whatever else is wrong with its answer,
//! harmless variants of an answer are accepted, imports of one token send
//! one grant, a refused one-off scope marks nothing, a clock stepped back
//! does not serve a token the provider calls expired, and termination
//! signals wait until a grant's answer is on disk (issue 11, contract 2),
//! and a name the provider chose is quoted where a command shows it.

use crate::support::run::{CLIENT, Env, Run, USER, finish, finish_status};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mock_idp::{DeviceScript, Fault, Grant};
use serde_json::{Value, json};
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A signed-in account at a provider whose refresh tokens are single use,
/// with its access token expired: the next `get` must refresh.
fn strict_and_expired() -> Env {
    let env = Env::new();
    env.idp.set_strict_rotation(true);
    env.seed(USER);
    env.expire_cached(USER);
    env.idp.reset_log();
    env
}

/// An id_token (unsigned: ooauth2 reads it from the token endpoint) naming `user`.
fn id_token(user: &str) -> String {
    let payload = URL_SAFE_NO_PAD.encode(json!({ "preferred_username": user }).to_string());
    format!("e30.{payload}.sig")
}

/// A token answer with these members set (the rest as the provider made it).
fn patch(members: Value) -> Fault {
    Fault::Patch(members)
}

#[test]
fn a_rotated_refresh_token_is_kept_whatever_else_is_wrong_with_the_answer() {
    for (label, fault, status) in [
        ("no access_token", Fault::MissingAccessToken, 75),
        ("a space in it", patch(json!({"access_token": "a b"})), 75),
        ("negative expires_in", patch(json!({"expires_in": -5})), 75),
        (
            "expires_in in words",
            patch(json!({"expires_in": "soon"})),
            75,
        ),
        ("token_type mac", patch(json!({"token_type": "mac"})), 75),
        (
            "an id_token naming another user",
            patch(json!({"id_token": id_token("renamed@example.com")})),
            1,
        ),
    ] {
        let env = strict_and_expired();
        env.idp.push_fault(fault);
        let run = env.token(USER, &["--non-interactive"]);
        assert_eq!(run.status, status, "{label}: {run:#?}");
        assert!(run.stdout.is_empty(), "{label}: {run:#?}");
        // The answer's refresh token is the one stored, and it still works:
        // the next get needs no sign-in although the old token is spent.
        let issued = env.idp.last_refresh_token_for(USER).unwrap();
        assert_eq!(env.stored_refresh_token(USER), issued, "{label}");
        let next = env.token(USER, &["--non-interactive"]);
        next.expect(0);
        assert_eq!(env.idp.count(Grant::Refresh), 2, "{label}");
        assert!(env.record(USER)["needs_login"].is_null(), "{label}");
    }
}

#[test]
fn harmless_variants_of_the_token_answer_are_accepted() {
    for (label, fault, lifetime) in [
        (
            "expires_in as a string (Azure AD v1)",
            patch(json!({"expires_in": "1800"})),
            1800,
        ),
        (
            "expires_in with a fraction",
            patch(json!({"expires_in": 1799.6})),
            1799,
        ),
        (
            "no expires_in (an hour, as documented)",
            Fault::MissingExpiresIn,
            3600,
        ),
        (
            "token_type in lower case",
            patch(json!({"token_type": "bearer"})),
            3600,
        ),
    ] {
        let env = strict_and_expired();
        env.idp.push_fault(fault);
        let before = now();
        let run = env.helper("action=get\ninteractive=never\n");
        run.expect(0);
        let p = run.pairs();
        assert_eq!(p["source"], "refresh", "{label}");
        let expires_at: u64 = p["expires_at"].parse().unwrap();
        assert!(
            (before + lifetime..=now() + lifetime).contains(&expires_at),
            "{label}: expires_at {expires_at}, lifetime {lifetime}"
        );
    }
}

#[test]
fn a_refused_one_off_scope_does_not_mark_the_account() {
    let env = Env::new();
    env.seed(USER);
    env.expire_cached(USER);
    // Microsoft refuses a scope the user never consented to as invalid_grant.
    env.idp.push_fault(Fault::OAuthError {
        status: 400,
        error: "invalid_grant".into(),
        description: "The user or administrator has not consented to use the application".into(),
        code: 65001,
    });
    let run = env.token(
        USER,
        &[
            "--non-interactive",
            "--scope",
            "https://graph.microsoft.com/Mail.Read",
        ],
    );
    run.expect_failure(1, &["65001"]);
    assert!(env.record(USER)["needs_login"].is_null(), "{run:#?}");
    // The account's own scope still refreshes.
    env.token(USER, &["--non-interactive"]).expect(0);
}

#[test]
fn a_record_written_in_the_future_is_refreshed_not_served() {
    let env = Env::new();
    env.seed(USER);
    let (path, mut v) = env.record_path(USER);
    // The clock stepped back an hour since the record was written: its
    // token's lifetime cannot be trusted (the provider may call it expired).
    v["updated_at"] = json!(now() + 3600);
    v["expires_at"] = json!(now() + 2 * 3600);
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    env.idp.reset_log();
    let run = env.helper("action=get\ninteractive=never\n");
    run.expect(0);
    assert_eq!(run.pairs()["source"], "refresh", "{run:#?}");
    assert_eq!(env.idp.count(Grant::Refresh), 1);
    // Written again at today's time, it serves from the cache once more.
    let run = env.helper("action=get\ninteractive=never\n");
    assert_eq!(run.pairs()["source"], "cache");
}

/// Starts `n` copies of `args` at once and waits for all.
fn all_at_once(env: &Env, n: usize, args: &[String]) -> Vec<Run> {
    let children: Vec<_> = (0..n).map(|_| env.spawn(args)).collect();
    children.into_iter().map(|c| finish(c, b"")).collect()
}

/// A provider that rotates strictly, a token of USER's it just issued, and
/// the ooauth2.py command line importing it (with `user`: for an account
/// already stored, which a get may be refreshing at any moment).
fn strict_import(user: Option<&str>) -> (Env, Vec<String>) {
    let env = Env::new();
    env.idp.set_strict_rotation(true);
    if user.is_some() {
        env.seed(USER);
        env.expire_cached(USER);
    }
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    env.idp.reset_log();
    let args = env.legacy_refresh_args(&[], &["--refresh_token", &rt], user);
    (env, args)
}

#[test]
fn concurrent_imports_of_one_token_send_one_grant() {
    for user in [None, Some(USER)] {
        let (env, args) = strict_import(user);
        let runs = all_at_once(&env, 8, &args);
        for run in &runs {
            run.expect(0);
            assert_eq!(run.stdout.lines().count(), 1, "{run:#?}");
        }
        assert_eq!(env.idp.count(Grant::Refresh), 1, "user {user:?}");
        let tokens: std::collections::BTreeSet<&str> =
            runs.iter().map(|r| r.stdout.trim()).collect();
        assert_eq!(tokens.len(), 1, "user {user:?}: {tokens:?}");
    }
}

/// A sync started a moment after the others finds the import done rather
/// than running: it reuses the answer too, and never spends the token again.
#[test]
fn an_import_just_after_another_of_the_same_token_reuses_its_answer() {
    for user in [None, Some(USER)] {
        let (env, args) = strict_import(user);
        let first = env.run(&args, b"");
        first.expect(0);
        let second = env.run(&args, b"");
        second.expect(0);
        assert_eq!(first.stdout, second.stdout, "user {user:?}");
        assert_eq!(env.idp.count(Grant::Refresh), 1, "user {user:?}");
    }
}

#[test]
fn store_and_get_at_once_lose_nothing_at_a_strictly_rotating_provider() {
    let env = Env::new();
    env.idp.set_strict_rotation(true);
    env.seed(USER);
    for round in 0..4 {
        env.expire_cached(USER);
        let stored = env.stored_refresh_token(USER);
        let get = env.spawn(&env.args("token", USER, &["--non-interactive"]));
        let store = env.start_helper(
            USER,
            &format!("action=store\nrefresh_token={stored}\n"),
            None,
        );
        let get = finish(get, b"");
        let store = finish(store, b"");
        get.expect(0);
        store.expect(0);
        let rt = env.stored_refresh_token(USER);
        assert!(env.idp.is_valid_refresh_token(&rt), "round {round}");
    }
}

/// Sends `sig` to `pid` with kill(1).
fn kill(sig: &str, pid: u32) {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn a_termination_signal_during_a_refresh_waits_for_its_answer_to_be_stored() {
    for (sig, number) in [("-TERM", 15), ("-INT", 2), ("-HUP", 1)] {
        let env = strict_and_expired();
        // The provider takes its time: the signal comes while it thinks.
        env.idp.set_delay_ms(400);
        let child = env.spawn(&env.args("token", USER, &["--non-interactive"]));
        std::thread::sleep(Duration::from_millis(150));
        let started = Instant::now();
        kill(sig, child.id());
        let run = finish_status(child, b"");
        assert_eq!(run.1.signal(), Some(number), "{sig}: {:?}", run.0);
        assert!(started.elapsed() < Duration::from_secs(5), "{sig}");
        // The provider carries out a grant whether or not its client is
        // still there to read the answer: let it finish this one.
        std::thread::sleep(Duration::from_millis(500));
        env.idp.set_delay_ms(0);
        // The rotated token reached the store before the process ended.
        let issued = env.idp.last_refresh_token_for(USER).unwrap();
        assert_eq!(env.stored_refresh_token(USER), issued, "{sig}");
        env.token(USER, &["--non-interactive"]).expect(0);
    }
}

#[test]
fn a_termination_signal_outside_a_grant_ends_the_process_at_once() {
    let env = Env::new();
    // A sign-in waits for the person: nothing is held while it waits.
    env.idp.set_device_script(DeviceScript {
        pending_polls: 1000,
        ..DeviceScript::default()
    });
    env.idp.set_device_interval(1);
    let child = env.spawn(&env.args("login", USER, &["--flow", "device"]));
    std::thread::sleep(Duration::from_millis(300));
    kill("-TERM", child.id());
    let run = finish_status(child, b"");
    assert_eq!(run.1.signal(), Some(15), "{:?}", run.0);
}

#[test]
fn a_file_size_limit_is_a_store_error_not_a_silent_death() {
    let env = Env::new();
    env.seed(USER);
    env.expire_cached(USER);
    env.idp.set_token_size(64 * 1024);
    // No `trap '' XFSZ`: the limit's signal as a shell leaves it.
    let cmd = env.command_via(
        &["sh", "-c", "ulimit -f 16; exec \"$0\" \"$@\""],
        &env.args("token", USER, &["--non-interactive"]),
    );
    let run = env.run_with(cmd, b"");
    run.expect_failure(74, &["File too large", "ulimit -f"]);
    assert!(run.stdout.is_empty());
}

#[test]
fn a_granted_scope_is_stored_whole() {
    let env = strict_and_expired();
    let scope: Vec<String> = (0..60)
        .map(|i| format!("https://outlook.office.com/Scope{i}.ReadWrite"))
        .collect();
    let scope = scope.join(" ");
    assert!(scope.len() > 600);
    env.idp.push_fault(patch(json!({"scope": scope.clone()})));
    env.token(USER, &["--non-interactive"]).expect(0);
    assert_eq!(env.record(USER)["granted_scope"], scope.as_str());
}

#[test]
fn a_provider_chosen_user_name_is_quoted_in_every_suggested_command() {
    // A name a provider may hand out: no space, but shell syntax.
    let user = "x@y.z;touch$IFS/tmp/PWNED;#";
    let env = Env::new();
    env.seed(user);
    env.idp.revoke_all_for_user(user);
    env.expire_cached(user);
    let run = env.token(user, &["--non-interactive"]);
    run.expect_failure(1, &["--user 'x@y.z;touch$IFS/tmp/PWNED;#'"]);
    assert!(!run.stderr.contains(&format!("--user {user}")), "{run:#?}");
}

#[test]
fn a_store_that_cannot_be_written_fails_before_a_sign_in_or_an_import_starts() {
    let env = Env::new();
    // Every write to a file fails (EFBIG), the directory can still be made.
    let login = env.command_via(
        crate::support::run::NO_FILE_WRITES,
        &[
            "login".to_string(),
            "--client-id".into(),
            CLIENT.into(),
            "--authority".into(),
            env.idp.authority(),
        ],
    );
    let run = env.run_with(login, b"");
    run.expect_failure(74, &["File too large"]);
    assert_eq!(env.idp.devicecode_count(), 0, "a sign-in started: {run:#?}");
    // An import without user= learns its account only from the answer:
    // the store is tried before the token is spent.
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    let args = env.legacy_refresh_args(&[], &["--refresh_token", &rt], None);
    let run = env.run_with(
        env.command_via(crate::support::run::NO_FILE_WRITES, &args),
        b"",
    );
    run.expect_failure(74, &["File too large"]);
    assert_eq!(
        env.idp.count(Grant::Refresh),
        0,
        "the token was spent: {run:#?}"
    );
    assert!(env.idp.is_valid_refresh_token(&rt));
}
