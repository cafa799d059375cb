//! Many processes at once, under load: one refresh per round however many
//! processes ask, single-use refresh tokens that never see `invalid_grant`,
//! accounts that do not wait for each other, readers that never wait behind
//! a refresh, and locks that die with a SIGKILLed holder.

use crate::support::run::{Env, Run, USER, finish};
use mock_idp::{DeviceOutcome, DeviceScript, Grant};
use std::collections::HashSet;
use std::process::Child;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

const PROCESSES: usize = 64;
const ROUNDS: usize = 20;

/// Stampedes may share the machine with each other; tests with time bounds
/// run alone, so 64 busy processes cannot make them miss their bounds.
static MACHINE: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    MACHINE.read().unwrap_or_else(PoisonError::into_inner)
}

fn alone() -> RwLockWriteGuard<'static, ()> {
    MACHINE.write().unwrap_or_else(PoisonError::into_inner)
}

/// `ooauth2 helper` for `user` with `extra` request lines, started and
/// handed its request; a lock wait longer than `lock_timeout` seconds fails.
fn start(env: &Env, user: &str, extra: &str, lock_timeout: &str) -> Child {
    env.start_helper(user, extra, Some(lock_timeout))
}

/// Waits until `cond` holds, failing after `limit`.
fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// 20 rounds of 64 processes on an expired token: each round makes exactly
/// one refresh request, every process succeeds, all print the same new token.
fn rounds(strict: bool) {
    let _machine = shared();
    let env = Env::new();
    env.idp.set_strict_rotation(strict);
    env.seed(USER);
    // A slow provider keeps most processes waiting on the account's lock.
    env.idp.set_delay_ms(100);
    let mut seen = HashSet::new();
    for round in 0..ROUNDS {
        env.expire_cached(USER);
        let rt_before = env.stored_refresh_token(USER);
        env.idp.reset_log();
        let runs = env.stampede(PROCESSES, USER, "interactive=never", Some("30"));
        for (i, run) in runs.iter().enumerate() {
            assert_eq!(run.status, 0, "round {round}, process {i}: {run:#?}");
        }
        let refreshes = env.idp.token_requests(Grant::Refresh);
        assert_eq!(refreshes.len(), 1, "round {round}: refresh requests");
        assert_eq!(
            refreshes[0].get("refresh_token"),
            Some(rt_before.as_str()),
            "round {round}: the refresh did not use the stored refresh token"
        );
        let pairs: Vec<_> = runs.iter().map(Run::pairs).collect();
        let token = pairs[0]["access_token"].clone();
        for (i, p) in pairs.iter().enumerate() {
            assert_eq!(p["access_token"], token, "round {round}, process {i}");
        }
        let from_refresh = pairs.iter().filter(|p| p["source"] == "refresh").count();
        assert_eq!(from_refresh, 1, "round {round}: processes that refreshed");
        assert!(seen.insert(token.clone()), "round {round}: an old token");
        assert!(env.idp.is_active_access_token(&token), "round {round}");
        let rec = env.record(USER);
        assert_eq!(rec["access_token"].as_str(), Some(token.as_str()));
        let rt = rec["refresh_token"].as_str().unwrap();
        assert_ne!(rt, rt_before, "round {round}: rotation not stored");
        assert_eq!(
            env.idp.last_refresh_token_for(USER).as_deref(),
            Some(rt),
            "round {round}: the newest refresh token is not the stored one"
        );
        assert!(env.idp.is_valid_refresh_token(rt), "round {round}");
        assert!(rec["needs_login"].is_null(), "round {round}: {rec}");
    }
}

#[test]
fn sixty_four_processes_over_twenty_rounds_make_one_refresh_per_round() {
    rounds(false);
}

#[test]
fn single_use_refresh_tokens_survive_twenty_stampedes_without_invalid_grant() {
    // Every round's single request used the then-stored token and succeeded
    // (no process failed), so the provider never answered invalid_grant.
    rounds(true);
}

#[test]
fn two_accounts_refresh_at_the_same_time() {
    let _machine = alone();
    let env = Env::new();
    let (a, b) = ("a@example.com", "b@example.com");
    for u in [a, b] {
        env.seed(u);
        env.expire_cached(u);
    }
    env.idp.reset_log();
    // The provider holds each answer this long: had the accounts waited
    // for each other, the second request would come after the first's
    // answer, at least this much later.
    let delay = Duration::from_millis(1500);
    env.idp.set_delay_ms(delay.as_millis() as u64);
    let children = [
        start(&env, a, "interactive=never", "30"),
        start(&env, b, "interactive=never", "30"),
    ];
    let runs: Vec<Run> = children.into_iter().map(|c| finish(c, b"")).collect();
    for (u, run) in [a, b].iter().zip(&runs) {
        run.expect(0);
        assert_eq!(run.pairs()["user"], *u);
        assert_eq!(run.pairs()["source"], "refresh");
    }
    let reqs = env.idp.token_requests(Grant::Refresh);
    assert_eq!(reqs.len(), 2);
    let gap = if reqs[1].at > reqs[0].at {
        reqs[1].at - reqs[0].at
    } else {
        reqs[0].at - reqs[1].at
    };
    assert!(
        gap < delay,
        "requests {gap:?} apart: one waited for the other"
    );
}

#[test]
fn cached_gets_never_wait_behind_a_refresh() {
    let _machine = alone();
    let env = Env::new();
    let other = "other@example.com";
    env.seed(USER);
    env.seed(other);
    env.idp.reset_log();
    env.idp.set_delay_ms(2000);
    // A forced refresh of USER holds USER's lock for two seconds.
    let refresher = start(&env, USER, "action=refresh", "30");
    wait_for("the refresh request", Duration::from_secs(5), || {
        env.idp.count(Grant::Refresh) == 1
    });
    for u in [USER, other] {
        let started = Instant::now();
        let run = env.helper_for(u, "interactive=never");
        let took = started.elapsed();
        run.expect(0);
        assert_eq!(run.pairs()["source"], "cache", "{u}");
        assert!(
            took < Duration::from_millis(700),
            "{u}: cached get took {took:?}"
        );
    }
    assert_eq!(env.idp.count(Grant::Refresh), 1, "a cached get refreshed");
    let run = finish(refresher, b"");
    run.expect(0);
    assert_eq!(run.pairs()["source"], "refresh");
}

#[test]
fn a_sign_in_killed_while_holding_the_lock_does_not_block_the_next_process() {
    let _machine = alone();
    let env = Env::new();
    env.seed(USER);
    env.expire_cached(USER);
    // A sign-in that stays pending (the user is away) holds the account's lock.
    env.idp.set_device_interval(1);
    env.idp.set_device_script(DeviceScript {
        slow_down_polls: 0,
        pending_polls: 1000,
        outcome: DeviceOutcome::Approve(USER.into()),
    });
    env.idp.reset_log();
    let mut signin = start(&env, USER, "action=login\ninteractive=always", "30");
    wait_for("the device code request", Duration::from_secs(5), || {
        env.idp.devicecode_count() == 1
    });
    // The lock is really held: a short wait ends in store_busy.
    let probe = env.helper_command(Some("0.3"));
    let req = format!("{}interactive=never\n", env.account_lines(USER));
    let run = env.run_with(probe, req.as_bytes());
    run.expect(75);
    assert_eq!(run.pairs()["error"], "store_busy");

    signin.kill().unwrap();
    signin.wait().unwrap();
    let started = Instant::now();
    let next = env.helper_command(Some("5"));
    let run = env.run_with(next, req.as_bytes());
    let took = started.elapsed();
    run.expect(0);
    assert_eq!(run.pairs()["source"], "refresh");
    assert!(took < Duration::from_secs(1), "next get took {took:?}");
    assert!(
        env.idp
            .is_valid_refresh_token(&env.stored_refresh_token(USER))
    );
}

#[test]
fn a_refresh_killed_while_holding_the_lock_frees_the_process_waiting_for_it() {
    let _machine = alone();
    let env = Env::new();
    env.seed(USER);
    env.expire_cached(USER);
    env.idp.reset_log();
    // The first refresh hangs at the provider for five seconds.
    env.idp.set_delay_ms(5000);
    let mut holder = start(&env, USER, "interactive=never", "30");
    wait_for("the first refresh request", Duration::from_secs(5), || {
        env.idp.count(Grant::Refresh) == 1
    });
    env.idp.set_delay_ms(0);
    let mut waiter = start(&env, USER, "interactive=never", "10");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        waiter.try_wait().unwrap().is_none(),
        "the second get did not wait for the lock"
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    let killed = Instant::now();
    let run = finish(waiter, b"");
    let took = killed.elapsed();
    run.expect(0);
    assert_eq!(run.pairs()["source"], "refresh");
    assert!(took < Duration::from_secs(1), "waiter took {took:?} more");
    assert_eq!(env.idp.count(Grant::Refresh), 2);
    let rt = env.stored_refresh_token(USER);
    assert!(env.idp.is_valid_refresh_token(&rt));
}
