//! Many processes at once: one refresh per account, the same token for all,
//! and device-flow pacing that follows the provider.

use crate::support::run::{Env, USER, finish};
use mock_idp::{DeviceOutcome, DeviceScript, Grant};
use std::time::Duration;

/// `n` gets of `USER` at once; the access token each one printed.
fn stampede(env: &Env, n: usize) -> Vec<String> {
    env.stampede(n, USER, "interactive=never", None)
        .into_iter()
        .map(|run| {
            run.expect(0);
            run.pairs()["access_token"].clone()
        })
        .collect()
}

#[test]
fn sixteen_processes_on_an_expired_token_make_one_refresh() {
    let env = Env::new();
    env.seed(USER);
    env.expire_cached(USER);
    env.idp.reset_log();
    // A slow provider keeps every process waiting on the same lock.
    env.idp.set_delay_ms(300);
    let tokens = stampede(&env, 16);
    assert_eq!(env.idp.count(Grant::Refresh), 1, "refreshes");
    assert!(
        tokens.iter().all(|t| t == &tokens[0]),
        "different tokens handed out"
    );
    assert!(env.idp.is_active_access_token(&tokens[0]));
    let rec = env.record(USER);
    assert_eq!(
        rec["refresh_token"].as_str(),
        env.idp.last_refresh_token_for(USER).as_deref()
    );
}

#[test]
fn single_use_refresh_tokens_never_see_invalid_grant() {
    let env = Env::new();
    env.idp.set_strict_rotation(true);
    env.seed(USER);
    for _ in 0..3 {
        env.expire_cached(USER);
        env.idp.reset_log();
        let tokens = stampede(&env, 8);
        assert_eq!(env.idp.count(Grant::Refresh), 1);
        assert!(tokens.iter().all(|t| t == &tokens[0]));
    }
    let rec = env.record(USER);
    assert!(
        env.idp
            .is_valid_refresh_token(rec["refresh_token"].as_str().unwrap())
    );
}

#[test]
fn slow_down_makes_polling_slower() {
    let env = Env::new();
    env.idp.set_device_script(DeviceScript {
        slow_down_polls: 1,
        pending_polls: 0,
        outcome: DeviceOutcome::Approve(USER.into()),
    });
    let run = env.helper("action=login\ninteractive=always");
    run.expect(0);
    let polls = env.idp.token_requests(Grant::Device);
    assert_eq!(polls.len(), 2);
    let gap = polls[1].at - polls[0].at;
    assert!(gap >= Duration::from_secs(5), "second poll after {gap:?}");
}

#[test]
fn a_cached_get_does_not_wait_behind_another_accounts_sign_in() {
    let env = Env::new();
    env.seed("cached@example.com");
    // A sign-in for another account that stays pending for a while.
    env.idp.set_device_interval(1);
    env.idp.set_device_script(DeviceScript {
        slow_down_polls: 0,
        pending_polls: 3,
        outcome: DeviceOutcome::Approve("slow@example.com".into()),
    });
    let signin = env.start_helper("slow@example.com", "action=login\ninteractive=always", None);
    std::thread::sleep(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let run = env.helper_for("cached@example.com", "interactive=never");
    run.expect(0);
    assert_eq!(run.pairs()["source"], "cache");
    assert!(started.elapsed() < Duration::from_secs(2));
    finish(signin, b"").expect(0);
}

#[test]
fn lock_wait_is_bounded_and_ends_in_store_busy() {
    let env = Env::new();
    env.seed(USER);
    env.expire_cached(USER);
    let before = env.snapshot();
    // A sign-in of the same account holds its lock while the user is away.
    env.idp.set_device_interval(1);
    env.idp.set_device_script(DeviceScript {
        slow_down_polls: 0,
        pending_polls: 3,
        outcome: DeviceOutcome::Approve(USER.into()),
    });
    let signin = env.start_helper(USER, "action=login\ninteractive=always", None);
    std::thread::sleep(Duration::from_millis(500));
    let cmd = env.helper_command(Some("0.5"));
    let req = format!("{}interactive=never\n", env.account_lines(USER));
    let started = std::time::Instant::now();
    let run = env.run_with(cmd, req.as_bytes());
    run.expect(75);
    assert_eq!(run.pairs()["error"], "store_busy");
    assert!(started.elapsed() < Duration::from_secs(3));
    // The sign-in holding the lock has its own write prepared (a temp file
    // with room for the record); the request that failed changed nothing.
    let not_temp = |files: Vec<(std::path::PathBuf, Vec<u8>)>| {
        files
            .into_iter()
            .filter(|(p, _)| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        not_temp(env.snapshot()),
        not_temp(before),
        "store changed by a request that failed"
    );
    finish(signin, b"").expect(0);
}
