//! Token health: `keepalive` refreshes the accounts left idle (and only
//! those, once each, beside running `get`s), says what it did per account
//! and tells the person when a sign-in is due; `status`, `status --json`
//! and `doctor` say when a refresh token is expected to die; a `get` warns
//! once a day before it does; the systemd units verify. Idle time is made
//! by moving a record's timestamps back, as `expire_cached` moves its
//! access token's.

use crate::support::run::{CLIENT, Env, USER, finish, set_mode};
use mock_idp::Grant;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const DAY: u64 = 86_400;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Moves the refresh token of `user` back in time: obtained and last used
/// (the record's last write) `days` ago.
fn idle_for(env: &Env, user: &str, days: u64) {
    let (path, mut v) = env.record_path(user);
    let then = now() - days * DAY;
    v["refresh_token_obtained_at"] = serde_json::json!(then);
    v["updated_at"] = serde_json::json!(then);
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

/// A fresh store with `USER` signed in, its refresh token idle for `days`.
fn idle_account(days: u64) -> Env {
    let env = Env::new();
    env.seed(USER);
    idle_for(&env, USER, days);
    env
}

/// Changes one field of `user`'s record.
fn set_field(env: &Env, user: &str, key: &str, value: serde_json::Value) {
    let (path, mut v) = env.record_path(user);
    v[key] = value;
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

/// `ooauth2 keepalive` with `args` and extra environment.
fn keepalive(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> crate::support::run::Run {
    let mut all = vec!["keepalive"];
    all.extend(args);
    let mut cmd = env.command(&all);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    env.run_with(cmd, b"")
}

/// Seeds `users` at once, a few processes at a time.
fn seed_many(env: &Env, users: &[String]) {
    for chunk in users.chunks(16) {
        let children: Vec<_> = chunk
            .iter()
            .map(|u| {
                let rt = env.idp.issue_refresh_token(u, CLIENT);
                let req = format!(
                    "{}action=store\nrefresh_token={rt}\n\n",
                    env.account_lines(u)
                );
                (env.start_with(env.command(&["helper"]), &req), u)
            })
            .collect();
        for (child, u) in children {
            let run = finish(child, b"");
            assert_eq!(run.status, 0, "seeding {u}: {run:?}");
        }
    }
}

#[test]
fn an_idle_account_is_refreshed_and_one_used_yesterday_is_not() {
    let env = Env::new();
    let (idle, busy) = ("idle@example.com", "busy@example.com");
    let old = env.seed(idle);
    env.seed(busy);
    idle_for(&env, idle, 8);
    idle_for(&env, busy, 1);
    env.idp.reset_log();
    let r = keepalive(&env, &[], &[]);
    r.expect(0);
    assert!(
        r.stdout
            .contains("refreshed: account idle@example.com; the new refresh token is stored"),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("ok: account busy@example.com: used 1 day ago"),
        "{r:?}"
    );
    assert_eq!(r.stdout.lines().count(), 2, "{r:?}");
    let sent = env.idp.token_requests(Grant::Refresh);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].get("refresh_token"), Some(old.as_str()));
    // The rotated token is what the record holds now, and it was used now.
    let rec = env.record(idle);
    assert_eq!(
        rec["refresh_token"].as_str(),
        env.idp.last_refresh_token_for(idle).as_deref()
    );
    assert_ne!(rec["refresh_token"].as_str(), Some(old.as_str()));
    assert!(rec["updated_at"].as_u64().unwrap() + 60 > now());
    // Nothing new in it: every ooauth2 still reads it.
    assert_eq!(rec["version"], 1);
    // Run again at once: nothing is idle any more.
    env.idp.reset_log();
    keepalive(&env, &[], &[]).expect(0);
    assert_eq!(env.idp.count(Grant::Refresh), 0);
}

#[test]
fn a_rotated_refresh_token_is_persisted_before_the_old_one_is_spent() {
    let env = idle_account(30);
    env.expire_cached(USER);
    // Single-use refresh tokens: only the stored new one works afterwards.
    env.idp.set_strict_rotation(true);
    keepalive(&env, &["--idle", "7d"], &[]).expect(0);
    env.expire_cached(USER);
    env.idp.reset_log();
    let r = env.token(USER, &["--non-interactive"]);
    r.expect(0);
    assert_eq!(env.idp.count(Grant::Refresh), 1);
    assert!(env.idp.is_active_access_token(r.stdout.trim()));
}

#[test]
fn a_get_refreshing_beside_keepalive_leaves_it_nothing_to_send() {
    let env = idle_account(8);
    env.expire_cached(USER);
    env.idp.reset_log();
    // The get holds the account's lock while its slow refresh runs; keepalive
    // saw an idle record before the lock and must look again under it.
    env.idp.set_user_delay_ms(USER, 1500);
    let get = env.spawn(&env.args("token", USER, &["--non-interactive"]));
    std::thread::sleep(std::time::Duration::from_millis(500));
    let r = keepalive(&env, &[], &[]);
    finish(get, b"").expect(0);
    r.expect(0);
    assert!(
        r.stdout.starts_with("ok: account me@example.com: used "),
        "{r:?}"
    );
    assert_eq!(env.idp.count(Grant::Refresh), 1);
}

#[test]
fn keepalive_of_200_accounts_reports_each_and_refreshes_each_once() {
    let env = Env::new();
    let users: Vec<String> = (0..200).map(|i| format!("u{i:03}@example.com")).collect();
    seed_many(&env, &users);
    for u in &users {
        idle_for(&env, u, 10);
    }
    let refused: Vec<&String> = users.iter().skip(3).step_by(20).collect();
    let slow: Vec<&String> = users.iter().skip(7).step_by(40).collect();
    assert_eq!((refused.len(), slow.len()), (10, 5));
    for u in &refused {
        env.idp.revoke_all_for_user(u);
    }
    for u in &slow {
        env.idp.set_user_delay_ms(u, 4000);
    }
    // Gets beside keepalive for twenty accounts whose access token expired.
    let beside: Vec<&String> = users.iter().skip(1).step_by(10).take(20).collect();
    for u in &beside {
        env.expire_cached(u);
    }
    let stored: BTreeMap<String, String> = users
        .iter()
        .map(|u| (env.stored_refresh_token(u), u.clone()))
        .collect();
    env.idp.reset_log();
    let notified = env.root.join("notified");
    let notify = format!("echo \"$OOAUTH2_ACCOUNT\" >> '{}'", notified.display());
    let mut cmd = env.command(&["keepalive"]);
    cmd.env("OOAUTH2_HTTP_TIMEOUT", "2")
        .env("OOAUTH2_NOTIFY_CMD", &notify);
    let child = cmd.spawn().unwrap();
    let gets: Vec<_> = beside
        .iter()
        .map(|u| env.spawn(&env.args("token", u, &["--non-interactive"])))
        .collect();
    let r = finish(child, b"");
    for g in gets {
        finish(g, b"").expect(0);
    }
    r.expect(1);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 200, "{r:?}");
    let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(count("needs sign-in: "), 10, "{r:?}");
    assert_eq!(count("temporary failure: "), 5, "{r:?}");
    assert_eq!(count("refreshed: ") + count("ok: "), 185, "{r:?}");
    for u in &refused {
        let line = format!("needs sign-in: account {u}: ");
        let l = lines.iter().find(|l| l.starts_with(&line)).unwrap();
        assert!(
            l.contains(&format!("-> run: ooauth2 login --client-id {CLIENT}")),
            "{l}"
        );
        assert!(l.contains(&format!("--user {u}")), "{l}");
    }
    for u in &slow {
        assert!(
            r.stdout
                .contains(&format!("temporary failure: account {u}: ")),
            "{r:?}"
        );
    }
    // Exactly one refresh request per account, whoever made it.
    let mut per_user: BTreeMap<String, usize> = BTreeMap::new();
    for req in env.idp.token_requests(Grant::Refresh) {
        let rt = req.get("refresh_token").unwrap_or_default().to_string();
        let user = stored.get(&rt).cloned().unwrap_or(rt);
        *per_user.entry(user).or_default() += 1;
    }
    assert_eq!(per_user.len(), 200, "{per_user:?}");
    assert!(per_user.values().all(|&n| n == 1), "{per_user:?}");
    // The person is told of each account that needs a sign-in, and only those.
    let mut told: Vec<String> = std::fs::read_to_string(&notified)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    told.sort();
    let mut want: Vec<String> = refused.iter().map(|u| u.to_string()).collect();
    want.sort();
    assert_eq!(told, want);
}

#[test]
fn only_temporary_failures_exit_75_and_unknown_names_exit_2() {
    let env = idle_account(8);
    env.idp.set_user_delay_ms(USER, 3000);
    let r = keepalive(&env, &[USER], &[("OOAUTH2_HTTP_TIMEOUT", "1")]);
    r.expect(75);
    assert!(
        r.stdout
            .starts_with("temporary failure: account me@example.com: "),
        "{r:?}"
    );
    env.idp.reset_log();
    let r = keepalive(&env, &["nobody@example.com"], &[]);
    r.expect_failure(2, &["no stored account is named 'nobody@example.com'"]);
    let r = keepalive(&env, &["--idle", "soon"], &[]);
    r.expect_failure(2, &["--idle 'soon' is not a duration"]);
    assert_eq!(env.idp.total_count(), 0);
}

#[test]
fn a_configured_account_keeps_its_name_and_its_notify_cmd() {
    let env = idle_account(8);
    env.idp.revoke_all_for_user(USER);
    let told = env.root.join("told");
    let cfg = env.write_config(&format!(
        "[accounts.work]\nclient_id = \"{CLIENT}\"\nauthority = \"{}\"\nuser = \"{USER}\"\n\
         notify_cmd = \"printf '%s|%s' \\\"$OOAUTH2_EVENT\\\" \\\"$OOAUTH2_MESSAGE\\\" > '{}'\"\n",
        env.idp.authority(),
        told.display()
    ));
    let mut cmd = env.command(&["keepalive", "work"]);
    cmd.env("OOAUTH2_CONFIG", &cfg);
    let r = env.run_with(cmd, b"");
    r.expect(1);
    assert!(
        r.stdout
            .starts_with("needs sign-in: account 'work' (me@example.com): ")
            && r.stdout.trim_end().ends_with("-> run: ooauth2 login work"),
        "{r:?}"
    );
    let said = std::fs::read_to_string(&told).unwrap();
    assert_eq!(
        said,
        "sign-in-needed|account 'work' (me@example.com) needs a new sign-in: run ooauth2 login work"
    );
    // status says the same.
    let r = env.run_with_config(&cfg, &["status"], b"");
    r.expect(0);
    assert!(r.stdout.contains("needs sign-in"), "{r:?}");
    assert!(
        r.stdout.contains("to sign in again: ooauth2 login work"),
        "{r:?}"
    );
}

#[test]
fn without_a_notify_cmd_a_desktop_session_gets_notify_send_and_stdout_stays_ours() {
    let env = idle_account(8);
    env.idp.revoke_all_for_user(USER);
    let (dir, log) = crate::experience::stub_notify_send(&env, 0);
    let path = crate::support::run::path_with(&dir);
    let r = keepalive(&env, &[], &[("PATH", &path), ("DISPLAY", ":9")]);
    r.expect(1);
    assert!(!r.stdout.contains("NOTIFY-SEND-STDOUT"), "{r:?}");
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(
        said.contains("ARG=ooauth2: sign-in needed for me@example.com"),
        "{said}"
    );
    assert!(
        said.contains("ARG=account me@example.com needs a new sign-in: run ooauth2 login"),
        "{said}"
    );
    // OOAUTH2_NOTIFY_SEND=0 turns it off; nothing else changes.
    std::fs::remove_file(&log).unwrap();
    let r = keepalive(
        &env,
        &[],
        &[
            ("PATH", &path),
            ("DISPLAY", ":9"),
            ("OOAUTH2_NOTIFY_SEND", "0"),
        ],
    );
    r.expect(1);
    assert!(!log.exists());
}

#[test]
fn a_time_limited_grant_warns_once_a_day_before_it_dies() {
    let env = Env::new();
    env.idp.set_refresh_token_expires_in(Some(5 * 3600));
    env.seed(USER);
    let rec = env.record(USER);
    let dies = rec["refresh_token_expires_at"].as_u64().unwrap();
    assert!(dies.abs_diff(now() + 5 * 3600) < 60, "{rec}");
    // A field an older ooauth2 does not know: it refuses the record as newer.
    assert_eq!(rec["version"], 5);
    let warning = "warning: the refresh token of me@example.com dies in 5 hours \
                   (a time-limited grant); sign in again: ooauth2 login";
    let first = env.token(USER, &[]);
    first.expect(0);
    assert!(first.stderr.contains(warning), "{first:?}");
    assert_eq!(first.stdout.lines().count(), 1, "{first:?}");
    let second = env.token(USER, &[]);
    second.expect(0);
    assert_eq!(second.stderr, "", "warned twice in a day: {second:?}");
    assert_eq!(first.stdout, second.stdout);
    // A day later (the mark moved back), it warns again.
    set_field(
        &env,
        USER,
        "health_warned_at",
        serde_json::json!(now() - DAY - 1),
    );
    let later = env.helper("action=get\n");
    later.expect(0);
    assert!(later.stderr.contains(warning), "{later:?}");
    // status and doctor say the same.
    let r = env.run(&["status", "--json"], b"");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let health = &v[0]["health"];
    assert_eq!(
        health["phrase"], "dies in 5 hours (a time-limited grant)",
        "{v}"
    );
    assert_eq!(health["expected_death_source"], "provider", "{v}");
    assert_eq!(health["expected_death_at"], dies, "{v}");
}

#[test]
fn status_and_json_show_when_a_refresh_token_dies() {
    let env = Env::new();
    let (fresh, idle) = ("fresh@example.com", "idle@example.com");
    env.seed(fresh);
    env.seed(idle);
    idle_for(&env, idle, 87);
    let r = env.run(&["status"], b"");
    r.expect(0);
    for line in r.stdout.lines() {
        assert!(line.chars().count() <= 80, "{line:?}");
    }
    let row = |u: &str| {
        r.stdout
            .lines()
            .find(|l| l.contains(u))
            .unwrap()
            .to_string()
    };
    assert!(row(fresh).ends_with("renews itself"), "{r:?}");
    assert!(row(idle).ends_with("dies in 3 days unless used"), "{r:?}");
    let wide = env.run(&["status", "--wide"], b"");
    assert!(wide.stdout.contains("HEALTH"), "{wide:?}");
    let r = env.run(&["status", "--json"], b"");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let of = |u: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|a| a["user"] == u)
            .unwrap()["health"]
            .clone()
    };
    let h = of(idle);
    let used = h["refresh_token_last_used_at"].as_u64().unwrap();
    assert_eq!(h["refresh_token_obtained_at"].as_u64(), Some(used));
    assert_eq!(h["expected_death_at"].as_u64(), Some(used + 90 * DAY));
    assert_eq!(h["expected_death_source"], "inactivity rule");
    assert_eq!(h["phrase"], "dies in 3 days unless used");
    assert_eq!(of(fresh)["phrase"], "renews itself");
    // keepalive brings it back.
    keepalive(&env, &[], &[]).expect(0);
    let r = env.run(&["status"], b"");
    assert!(
        r.stdout
            .lines()
            .filter(|l| l.ends_with("renews itself"))
            .count()
            == 2,
        "{r:?}"
    );
}

#[test]
fn doctor_reports_health_and_a_testing_app_is_told_to_publish() {
    let env = idle_account(85);
    let r = env.run(&["doctor", "--offline"], b"");
    assert!(
        r.stdout
            .contains("note: account me@example.com: its refresh token dies in 5 days unless used"),
        "{r:?}"
    );
    assert!(r.stdout.contains("-> run: ooauth2 keepalive"), "{r:?}");
    // A Google grant that the provider limits in time: the app is in Testing.
    set_field(&env, USER, "provider", serde_json::json!("google"));
    set_field(&env, USER, "tenant", serde_json::json!(""));
    set_field(
        &env,
        USER,
        "refresh_token_expires_at",
        serde_json::json!(now() + 3 * DAY),
    );
    let r = env.run(&["doctor", "--offline"], b"");
    assert!(
        r.stdout
            .contains("its refresh token dies in 3 days (a time-limited grant)")
            && r.stdout
                .contains("publish the app, or sign in again every 7 days"),
        "{r:?}"
    );
}

#[test]
fn min_ttl_in_the_config_file_applies_to_its_account_only() {
    let env = Env::new();
    let home = "home@example.com";
    env.seed(USER);
    env.seed(home);
    let cfg = env.write_config(&format!(
        "[accounts.work]\nclient_id = \"{CLIENT}\"\nauthority = \"{a}\"\nuser = \"{USER}\"\n\
         min_ttl = 4000\n\n[accounts.home]\nclient_id = \"{CLIENT}\"\nauthority = \"{a}\"\n\
         user = \"{home}\"\n",
        a = env.idp.authority()
    ));
    env.idp.reset_log();
    // The mock's tokens live an hour: work's 4000 s are never left, home's 300 are.
    env.run_with_config(&cfg, &["token", "work"], b"").expect(0);
    assert_eq!(env.idp.count(Grant::Refresh), 1);
    env.run_with_config(&cfg, &["token", "home"], b"").expect(0);
    assert_eq!(env.idp.count(Grant::Refresh), 1);
    // The flag still wins over the file.
    env.run_with_config(&cfg, &["token", "work", "--min-ttl", "60"], b"")
        .expect(0);
    assert_eq!(env.idp.count(Grant::Refresh), 1);
}

/// Runs `systemd-analyze verify` on `units`, in a user manager whose home
/// holds the binary where the service expects it (also for the proxy's
/// unit, tests/proxy_ops.rs).
pub(crate) fn verify(env: &Env, units: &[&Path]) -> std::process::Output {
    let home = env.root.join("unit-home");
    let bin = home.join(".cargo/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(crate::support::run::bin(), bin.join("ooauth2")).ok();
    let runtime = env.root.join("runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    set_mode(&runtime, 0o700);
    // Failing rather than skipping when it is missing: .ci/packages.txt has systemd.
    Command::new("systemd-analyze")
        .args(["--user", "--man=no", "verify"])
        .args(units)
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", &runtime)
        .output()
        .expect("systemd-analyze (Debian package systemd, in .ci/packages.txt)")
}

/// [`verify`] of `units`, which must pass without a word on stderr.
#[track_caller]
pub(crate) fn expect_verified(env: &Env, units: &[&Path]) {
    let out = verify(env, units);
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_systemd_units_verify() {
    let env = Env::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/systemd");
    let service = dir.join("ooauth2-keepalive.service");
    let timer = dir.join("ooauth2-keepalive.timer");
    expect_verified(&env, &[&service, &timer]);
    let text = std::fs::read_to_string(&timer).unwrap();
    for needed in ["OnCalendar=daily", "Persistent=true", "RandomizedDelaySec="] {
        assert!(text.contains(needed), "{needed}: {text}");
    }
    // The check can fail: a broken timer is refused.
    let bad = env.root.join("ooauth2-bad.timer");
    std::fs::write(&bad, "[Timer]\nOnCalendar=dailyx\n").unwrap();
    assert!(!verify(&env, &[&bad]).status.success());
}
