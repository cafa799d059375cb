//! Crash safety: SIGKILL at many points of a refresh and of a sign-in never
//! tears the store or loses the account, and temporary files left by a crash
//! are never read as records.
//!
//! The kill points come from a fixed pseudo-random sequence, so a failure
//! names its iteration and repeats; `OOAUTH2_CRASH_SEED=<n>` tries another.

use crate::support::keyring::Keyring;
use crate::support::run::{Env, Run, USER};
use crate::support::sealer::Sealer;
use mock_idp::{DeviceOutcome, DeviceScript};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

const DEFAULT_SEED: u64 = 0x5eed_0a11_2026_0003;

/// splitmix64: small, deterministic, good enough to spread kill points.
struct Rng(u64);

/// The seed of the kill points: `OOAUTH2_CRASH_SEED`, else a fixed one.
fn seed() -> u64 {
    std::env::var("OOAUTH2_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

impl Rng {
    fn new(stream: u64) -> Rng {
        Rng(seed() ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..=max`.
    fn upto(&mut self, max: u64) -> u64 {
        self.next() % (max + 1)
    }
}

/// Where the kill landed, judged from outside.
#[derive(Default, Debug)]
struct Tally {
    /// No request had reached the provider.
    before_request: usize,
    /// A request reached the provider, the record was not replaced.
    in_flight: usize,
    /// The record had been replaced (the grant's tokens were saved).
    saved: usize,
    /// The process had already exited when the kill came.
    exited: usize,
    /// A temp file was left behind by the kill.
    temp_left: usize,
}

/// Starts `ooauth2 helper` with `extra` request lines for `user`.
fn start(env: &Env, user: &str, extra: &str) -> Child {
    env.start_helper(user, extra, Some("10"))
}

/// SIGKILLs the child `ms` after its start or, with `after_request`, after
/// its first request reached the provider; says whether it had exited already.
fn kill_at(
    env: &Env,
    child: &mut Child,
    after_request: bool,
    requests_before: usize,
    ms: u64,
) -> bool {
    if after_request {
        let started = Instant::now();
        while env.idp.total_count() == requests_before && child.try_wait().unwrap().is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "no request reached the provider"
            );
            std::thread::sleep(Duration::from_micros(500));
        }
    }
    std::thread::sleep(Duration::from_millis(ms));
    let exited = child.try_wait().unwrap().is_some();
    let _ = child.kill();
    child.wait().unwrap();
    exited
}

/// Every file in the store is a record, a lock or a crash leftover, and
/// every record parses completely.
fn check_store(env: &Env, ctx: &str) {
    for path in env.files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if (name.starts_with('.') && name.contains(".json.tmp-")) || name.ends_with(".lock") {
            continue;
        }
        assert!(name.ends_with(".json"), "{ctx}: unexpected file {name}");
        check_record(&path, ctx);
    }
}

fn check_record(path: &Path, ctx: &str) {
    let bytes = std::fs::read(path).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{ctx}: torn record {}: {e}\n{}",
            path.display(),
            String::from_utf8_lossy(&bytes)
        )
    });
    for key in ["user", "client_id", "authority", "tenant", "scope"] {
        assert!(v[key].is_string(), "{ctx}: record without {key}: {v}");
    }
    // In the clear in a version 1 record, sealed in a version 2 one, a
    // keyring item in a version 3 one.
    let field = match v["version"].as_u64() {
        Some(1) => "refresh_token",
        Some(2) => "refresh_token_sealed",
        Some(3) => "refresh_token_keyring",
        _ => panic!("{ctx}: a record of no known version: {v}"),
    };
    assert!(
        v[field].is_string(),
        "{ctx}: record without a refresh token: {v}"
    );
}

/// The refresh token as a record keeps it: in the clear, sealed, or by
/// its keyring item.
fn at_rest(v: &serde_json::Value) -> Option<String> {
    v["refresh_token"]
        .as_str()
        .or_else(|| v["refresh_token_sealed"].as_str())
        .or_else(|| v["refresh_token_keyring"].as_str())
        .map(str::to_string)
}

/// After a kill: the store parses, `user` holds a refresh token the provider
/// accepts, and a get that may not sign in succeeds.
fn check_account(env: &Env, user: &str, ctx: &str) {
    check_store(env, ctx);
    let rt = env.stored_refresh_token(user);
    assert!(
        env.idp.is_valid_refresh_token(&rt),
        "{ctx}: the stored refresh token is not accepted"
    );
    let run = env.helper_for(user, "interactive=never");
    assert_eq!(run.status, 0, "{ctx}: the next get failed: {run:#?}");
    let p = run.pairs();
    assert!(
        p["source"] == "cache" || p["source"] == "refresh",
        "{ctx}: {p:?}"
    );
    assert!(
        env.idp.is_active_access_token(&p["access_token"]),
        "{ctx}: the next get answered a token the provider does not know"
    );
    if p["source"] == "refresh" {
        // It held the lock: the account's crash leftovers are gone.
        let own = format!(".{}.json.tmp-", env.account_id(user));
        let left: Vec<_> = env
            .temp_files()
            .into_iter()
            .filter(|t| t.file_name().unwrap().to_string_lossy().starts_with(&own))
            .collect();
        assert!(
            left.is_empty(),
            "{ctx}: leftovers after a locked write: {left:?}"
        );
    }
    check_store(env, ctx);
}

/// What the store held before a kill.
struct Before {
    requests: usize,
    refresh_token: String,
    temps: usize,
}

impl Before {
    fn take(env: &Env, user: &str) -> Before {
        Before {
            requests: env.idp.total_count(),
            refresh_token: env
                .records()
                .into_iter()
                .find(|(_, v)| v["user"] == user)
                .and_then(|(_, v)| at_rest(&v))
                .unwrap_or_default(),
            temps: env.temp_files().len(),
        }
    }
}

/// Classifies a kill by what reached the provider and the store.
fn tally(t: &mut Tally, env: &Env, before: &Before, user: &str) {
    if env.temp_files().len() > before.temps {
        t.temp_left += 1;
    }
    let rec_rt = env
        .records()
        .into_iter()
        .find(|(_, v)| v["user"] == user)
        .and_then(|(_, v)| at_rest(&v));
    if rec_rt.is_some_and(|rt| rt != before.refresh_token) {
        t.saved += 1;
    } else if env.idp.total_count() > before.requests {
        t.in_flight += 1;
    } else {
        t.before_request += 1;
    }
}

fn assert_varied(t: &Tally, name: &str) {
    eprintln!("{name}: {t:?}");
    assert!(
        t.before_request > 0 && t.in_flight > 0 && t.saved > 0,
        "{name}: the kills did not land before, during and after the grant: {t:?}"
    );
}

/// Refreshes of `USER`, each SIGKILLed at a point drawn from stream
/// `stream`: before, during or after the grant, now and then (with `big`)
/// while a large record is written. `start` starts the process with the
/// request's extra line; `check` judges the account after each kill.
struct RefreshKills {
    name: &'static str,
    iterations: usize,
    stream: u64,
    /// The latest kill, in ms after the start or the request.
    latest_kill: u64,
    big: bool,
}

impl RefreshKills {
    fn run(&self, env: &Env, start: impl Fn(&str) -> Child, check: impl Fn(&str)) {
        let mut rng = Rng::new(self.stream);
        let mut t = Tally::default();
        let started = Instant::now();
        for i in 0..self.iterations {
            let delay = rng.upto(40);
            let kill_ms = rng.upto(self.latest_kill);
            let forced = rng.upto(2) == 0;
            let big = self.big && rng.upto(3) == 0;
            let after_request = rng.upto(1) == 0;
            let after = if after_request {
                "the request"
            } else {
                "the start"
            };
            let ctx = format!(
                "seed {}, {} iteration {i} (delay {delay} ms, kill {kill_ms} ms after {after}, forced {forced}, big {big})",
                seed(),
                self.name
            );
            env.expire_cached(USER);
            env.idp.set_token_size(if big { 256 * 1024 } else { 0 });
            env.idp.set_delay_ms(delay);
            let before = Before::take(env, USER);
            let mut child = start(if forced {
                "action=refresh"
            } else {
                "interactive=never"
            });
            if kill_at(env, &mut child, after_request, before.requests, kill_ms) {
                t.exited += 1;
            }
            check_store(env, &ctx);
            tally(&mut t, env, &before, USER);
            env.idp.set_delay_ms(0);
            env.idp.set_token_size(0);
            check(&ctx);
        }
        eprintln!(
            "{} {} kills in {:?}",
            self.iterations,
            self.name,
            started.elapsed()
        );
        assert_varied(&t, self.name);
    }
}

#[test]
fn sigkill_at_many_points_of_a_refresh_loses_nothing() {
    let env = Env::new();
    env.seed(USER);
    let kills = RefreshKills {
        name: "refresh",
        iterations: 140,
        stream: 1,
        latest_kill: 60,
        big: true,
    };
    kills.run(
        &env,
        |extra| start(&env, USER, extra),
        |ctx| check_account(&env, USER, ctx),
    );
}

/// After a kill of a refresh of an account whose token rests away from
/// the record's plain text: `resting` (that token, opened as ooauth2
/// opens it) is one the provider accepts, and `next_get`, a get that may
/// not sign in, succeeds with a token the provider knows.
fn check_resting_account(env: &Env, ctx: &str, resting: &str, next_get: Run) {
    assert!(
        env.idp.is_valid_refresh_token(resting),
        "{ctx}: the stored refresh token is not accepted"
    );
    assert_eq!(
        next_get.status, 0,
        "{ctx}: the next get failed: {next_get:#?}"
    );
    assert!(
        env.idp
            .is_active_access_token(&next_get.pairs()["access_token"]),
        "{ctx}: the next get answered a token the provider does not know"
    );
    check_store(env, ctx);
}

/// After a kill of a sealed account's refresh: its record holds a sealed
/// refresh token the provider accepts, and the next get succeeds.
fn check_sealed_account(env: &Env, sealer: &Sealer, ctx: &str) {
    let rec = env.record(USER);
    let sealed = rec["refresh_token_sealed"]
        .as_str()
        .unwrap_or_else(|| panic!("{ctx}: the record is not sealed: {rec}"));
    let resting = sealer.open(sealed);
    check_resting_account(env, ctx, &resting, sealer.helper(env, "interactive=never"));
}

#[test]
fn sigkill_at_many_points_of_a_sealed_refresh_loses_nothing() {
    let env = Env::new();
    let age = Sealer::age(&env);
    age.seed(&env);
    let kills = RefreshKills {
        name: "sealed refresh",
        iterations: 100,
        stream: 7,
        // age runs three times around the grant (probe, open, seal).
        latest_kill: 90,
        big: false,
    };
    kills.run(
        &env,
        |extra| age.start_helper(&env, extra),
        |ctx| check_sealed_account(&env, &age, ctx),
    );
}

/// After a kill of a keyring account's refresh: the record points at an
/// item (or the one a crash left after it) whose token the provider
/// accepts, and a get that may not sign in succeeds.
fn check_keyring_account(env: &Env, keyring: &Keyring, ctx: &str) {
    let rec = env.record(USER);
    let item = rec["refresh_token_keyring"]
        .as_str()
        .unwrap_or_else(|| panic!("{ctx}: the record names no keyring item: {rec}"));
    let resting = keyring
        .newest_for(item)
        .unwrap_or_else(|| panic!("{ctx}: the keyring has no item {item}"));
    check_resting_account(env, ctx, &resting, keyring.helper(env, "interactive=never"));
}

#[test]
fn sigkill_at_many_points_of_a_keyring_refresh_loses_nothing() {
    let env = Env::new();
    let keyring = Keyring::start(&env);
    keyring.seed(&env);
    let kills = RefreshKills {
        name: "keyring refresh",
        iterations: 100,
        stream: 11,
        // D-Bus round trips around the grant: probe, open, write, read back, delete.
        latest_kill: 60,
        big: false,
    };
    kills.run(
        &env,
        |extra| keyring.start_helper(&env, extra),
        |ctx| check_keyring_account(&env, &keyring, ctx),
    );
}

#[test]
fn sigkill_at_many_points_of_a_sign_in_loses_nothing() {
    const ITERATIONS: usize = 80;
    let env = Env::new();
    env.seed(USER);
    env.idp.set_device_interval(0);
    let mut rng = Rng::new(2);
    let mut t = Tally::default();
    let started = Instant::now();
    for i in 0..ITERATIONS {
        let delay = rng.upto(40);
        let kill_ms = rng.upto(60);
        // Mostly a new sign-in of the stored account; sometimes a first one.
        let user = if rng.upto(3) == 0 {
            format!("new{i}@example.com")
        } else {
            USER.to_string()
        };
        let pending_polls = rng.upto(1) as u32;
        // A sign-in makes two or three requests: mostly count from the first.
        let after_request = rng.upto(3) != 0;
        let ctx = format!(
            "seed {}, sign-in iteration {i} (user {user}, delay {delay} ms, kill {kill_ms} ms after {}, {pending_polls} pending polls)",
            seed(),
            if after_request {
                "the first request"
            } else {
                "the start"
            }
        );
        env.idp.set_device_script(DeviceScript {
            slow_down_polls: 0,
            pending_polls,
            outcome: DeviceOutcome::Approve(user.clone()),
        });
        env.idp.set_delay_ms(delay);
        let before = Before::take(&env, &user);
        let mut child = start(&env, &user, "action=login\ninteractive=always");
        if kill_at(&env, &mut child, after_request, before.requests, kill_ms) {
            t.exited += 1;
        }
        check_store(&env, &ctx);
        tally(&mut t, &env, &before, &user);
        env.idp.set_delay_ms(0);
        check_account(&env, USER, &ctx);
        if user != USER {
            // A first sign-in cut short leaves nothing, or a whole account.
            let stored = env
                .records()
                .iter()
                .any(|(_, v)| v["user"] == user.as_str());
            if stored {
                check_account(&env, &user, &ctx);
            } else {
                let run = env.helper_for(&user, "interactive=never");
                run.expect(1);
                assert_eq!(run.pairs()["error"], "login_required", "{ctx}");
            }
        }
    }
    eprintln!("{ITERATIONS} sign-in kills in {:?}", started.elapsed());
    assert_varied(&t, "sign-in");
}

#[test]
fn leftover_temp_files_are_ignored_and_cleaned_up_under_the_lock() {
    let env = Env::new();
    let other = "other@example.com";
    env.seed(USER);
    env.seed(other);
    let id = env.account_id(USER);
    let other_id = env.account_id(other);
    let dir = env.store();
    let cached = env.cached_access_token(USER);

    // What a crash mid-save leaves: a torn temp, a complete temp with
    // different tokens, and a temp of another account.
    let mut planted_record = env.record(USER);
    planted_record["access_token"] = serde_json::json!("planted-access-token");
    planted_record["refresh_token"] = serde_json::json!("planted-refresh-token");
    planted_record["expires_at"] = serde_json::json!(4_000_000_000u64);
    let mut ghost = env.record(other);
    ghost["user"] = serde_json::json!("ghost@example.com");
    let planted = [
        (
            format!(".{id}.json.tmp-999991"),
            b"{\"version\": 1, \"us".to_vec(),
        ),
        (
            format!(".{id}.json.tmp-999992"),
            serde_json::to_vec_pretty(&planted_record).unwrap(),
        ),
        (
            format!(".{other_id}.json.tmp-999993"),
            serde_json::to_vec_pretty(&ghost).unwrap(),
        ),
        (
            ".0123456789abcdef0123456789abcdef.json.tmp-1".to_string(),
            b"\x00\xffgarbage".to_vec(),
        ),
    ];
    for (name, body) in &planted {
        std::fs::write(dir.join(name), body).unwrap();
    }
    let before = env.snapshot();

    // A cached get reads the record, not a temp, and writes nothing.
    let run = env.helper("interactive=never");
    run.expect(0);
    assert_eq!(run.pairs()["source"], "cache");
    assert_eq!(run.pairs()["access_token"], cached);
    // status lists the two accounts, no leftover, no warning.
    let run = env.run(&["status"], b"");
    run.expect(0);
    assert!(run.stdout.contains(USER) && run.stdout.contains(other));
    assert!(!run.stdout.contains("ghost"), "{run:#?}");
    assert_eq!(run.stdout.lines().count(), 3, "{run:#?}");
    assert!(!run.stderr.contains("warning"), "{run:#?}");
    // The ghost in a temp file is no account.
    let run = env.helper_for("ghost@example.com", "interactive=never");
    run.expect(1);
    assert_eq!(run.pairs()["error"], "login_required");
    assert_eq!(env.snapshot(), before, "reads changed the store");

    // A write under USER's lock removes USER's leftovers, no one else's.
    env.expire_cached(USER);
    let run = env.helper("interactive=never");
    run.expect(0);
    assert_eq!(run.pairs()["source"], "refresh");
    assert_ne!(run.pairs()["access_token"], "planted-access-token");
    let rt = env.stored_refresh_token(USER);
    assert!(env.idp.is_valid_refresh_token(&rt));
    let left: Vec<String> = env
        .temp_files()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut expected = vec![
        ".0123456789abcdef0123456789abcdef.json.tmp-1".to_string(),
        format!(".{other_id}.json.tmp-999993"),
    ];
    expected.sort();
    assert_eq!(left, expected, "leftovers after USER's write");
    check_store(&env, "after the write");
}
