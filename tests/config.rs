//! Named accounts: the config file behind `ooauth2 token work`, `login work`,
//! `account=work` and `status`, driven through the binary with
//! `OOAUTH2_CONFIG` pointing at a file in the test's own directory.

use crate::support::run::{CLIENT, Env, USER, set_mode};
use mock_idp::Grant;
use std::path::PathBuf;

/// A config naming the mock's test client as `[accounts.work]`, plus `extra` lines.
fn work_config(env: &Env, extra: &str) -> PathBuf {
    env.write_config(&format!(
        "# mail accounts\n[accounts.work]\nprovider = \"microsoft\"\nclient_id = \"{CLIENT}\"\n\
             authority = \"{}\"\n{extra}",
        env.idp.authority()
    ))
}

#[test]
fn token_work_answers_from_the_cache_without_a_provider_request() {
    let env = Env::new();
    env.seed(USER);
    let at = env.cached_access_token(USER);
    let cfg = work_config(&env, &format!("user = \"{USER}\"\n"));
    env.idp.reset_log();
    let run = env.run_with_config(&cfg, &["token", "work"], b"");
    run.expect(0);
    assert_eq!(run.stdout, format!("{at}\n"));
    assert_eq!(env.idp.total_count(), 0);
    // Without `user` the only stored account of the client is the one.
    let cfg = work_config(&env, "");
    let run = env.run_with_config(&cfg, &["token", "work", "--format", "xoauth2"], b"");
    run.expect(0);
    assert_eq!(run.stdout.lines().count(), 1);
    assert_eq!(env.idp.total_count(), 0);
}

#[test]
fn explicit_flags_and_keys_override_the_file() {
    let env = Env::new();
    env.seed(USER);
    let at = env.cached_access_token(USER);
    // The file names a user that was never signed in; the flag wins.
    let cfg = work_config(&env, "user = \"nobody@example.com\"\n");
    let failed = env.run_with_config(&cfg, &["token", "work", "--non-interactive"], b"");
    failed.expect_failure(1, &["nobody@example.com"]);
    let run1 = env.run_with_config(
        &cfg,
        &["token", "work", "--user", USER, "--non-interactive"],
        b"",
    );
    run1.expect(0);
    assert_eq!(run1.stdout, format!("{at}\n"));
    let req = format!("account=work\nuser={USER}\ninteractive=never\n\n");
    let run2 = env.run_with_config(&cfg, &["helper"], req.as_bytes());
    run2.expect(0);
    assert_eq!(run2.pairs()["access_token"], at);
    assert_eq!(run2.pairs()["user"], USER);
    // An explicit value is checked by the usual rules.
    let bad = env.run_with_config(&cfg, &["token", "work", "--user", "a b"], b"");
    bad.expect_failure(2, &["user must not contain spaces"]);
}

#[test]
fn account_key_in_the_helper_protocol() {
    let env = Env::new();
    env.seed(USER);
    let cfg = work_config(&env, &format!("user = \"{USER}\"\n"));
    env.idp.reset_log();
    let run = env.run_with_config(
        &cfg,
        &["helper"],
        b"action=get\naccount=work\ninteractive=never\n\n",
    );
    run.expect(0);
    let p = run.pairs();
    assert_eq!(p["source"], "cache");
    assert_eq!(p["user"], USER);
    assert_eq!(env.idp.total_count(), 0);
}

#[test]
fn unknown_account_names_the_file_and_the_configured_names() {
    let env = Env::new();
    let cfg = work_config(&env, "[accounts.home]\nclient_id = \"c2\"\n");
    let cfg_s = cfg.display().to_string();
    let r = env.run_with_config(&cfg, &["token", "wrok"], b"");
    r.expect_failure(2, &["no account 'wrok'", &cfg_s, "configured: work, home"]);
    let r = env.run_with_config(&cfg, &["helper"], b"account=wrok\n\n");
    r.expect(2);
    assert_eq!(r.pairs()["error"], "invalid_request");
    assert!(r.pairs()["hint"].contains("configured: work, home"));
    // No config file at all: the path it looked for is named.
    let missing = env.root.join("none.toml");
    let r = env.run_with_config(&missing, &["token", "work"], b"");
    r.expect_failure(2, &["no account 'work'", "none.toml"]);
    assert_eq!(
        r.stderr,
        format!(
            "ooauth2: error: no account 'work' is configured: there is no config file at {}\n\
             ooauth2: hint: run ooauth2 setup work, or write an [accounts.work] table to {} \
             (see the README)\n",
            missing.display(),
            missing.display()
        )
    );
    assert!(env.files().is_empty());
}

#[test]
fn bad_toml_names_the_file_and_line() {
    let env = Env::new();
    // (A bare value, `user = me@example.com`, is named as such: tests/ux.rs.)
    let cfg = env.write_config("[accounts.work]\nclient_id = \"c\"\nuser = \"me@example.com\n");
    let r = env.run_with_config(&cfg, &["token", "work"], b"");
    r.expect_failure(2, &[&format!("{}:3:", cfg.display()), "invalid TOML"]);
    assert!(env.files().is_empty());
}

#[test]
fn unknown_keys_and_bad_values_name_the_line_and_key() {
    let env = Env::new();
    for (body, needles) in [
        (
            "\n[accounts.work]\nclient_id = \"c\"\ntennant = \"x\"\n",
            vec![":4:", "unknown key 'tennant'"],
        ),
        (
            "[accounts.work]\nclient_id = \"c\"\nmin_ttl = \"soon\"\n",
            vec![":3:", "min_ttl"],
        ),
        (
            "[accounts.work]\nclient_id = \"c\"\n\ntenant = \"../x\"\n",
            vec![":4:", "tenant"],
        ),
        (
            "[accounts.work]\nprovider = \"ymail\"\n",
            vec![":2:", "unknown provider 'ymail'", "microsoft"],
        ),
        (
            "[accounts.\"a/b\"]\nclient_id = \"c\"\n",
            vec![":1:", "account name"],
        ),
    ] {
        let cfg = env.write_config(body);
        let r = env.run_with_config(&cfg, &["token", "work"], b"");
        let mut all = vec![cfg.to_str().unwrap()];
        all.extend(needles);
        r.expect_failure(2, &all);
    }
}

#[test]
fn a_client_secret_in_the_file_is_refused() {
    let env = Env::new();
    let cfg = work_config(&env, "client_secret = \"hunter2-in-file\"\n");
    let r = env.run_with_config(&cfg, &["token", "work"], b"");
    r.expect_failure(2, &[":6:", "client_secret", "client_secret_cmd"]);
    assert!(!r.stderr.contains("hunter2-in-file"), "{r:#?}");
}

#[test]
fn a_config_writable_by_others_is_refused() {
    let env = Env::new();
    env.seed(USER);
    let cfg = work_config(&env, &format!("user = \"{USER}\"\n"));
    for mode in [0o620, 0o602, 0o666] {
        set_mode(&cfg, mode);
        let r = env.run_with_config(&cfg, &["token", "work"], b"");
        r.expect_failure(74, &[cfg.to_str().unwrap(), "chmod 600"]);
    }
    // Read-only for others is fine.
    set_mode(&cfg, 0o644);
    env.run_with_config(&cfg, &["token", "work"], b"").expect(0);
    // A directory others can write to lets them replace the file...
    let dir = env.root.join("shared");
    std::fs::create_dir(&dir).unwrap();
    let inside = dir.join("config.toml");
    std::fs::copy(&cfg, &inside).unwrap();
    set_mode(&inside, 0o600);
    set_mode(&dir, 0o777);
    let r = env.run_with_config(&inside, &["token", "work"], b"");
    r.expect_failure(74, &["directory", "writable by other users", "chmod go-w"]);
    // ...unless it is sticky, like /tmp.
    set_mode(&dir, 0o1777);
    env.run_with_config(&inside, &["token", "work"], b"")
        .expect(0);
}

#[test]
fn a_config_owned_by_another_user_is_refused() {
    let env = Env::new();
    if !crate::support::run::running_as_root(&env) {
        // Only root can give a file away; the check is the same code.
        return;
    }
    env.seed(USER);
    let cfg = work_config(&env, &format!("user = \"{USER}\"\n"));
    let chown = std::process::Command::new("chown")
        .args(["nobody", cfg.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(chown.success());
    let r = env.run_with_config(&cfg, &["token", "work"], b"");
    r.expect_failure(74, &["belongs to another user", "OOAUTH2_CONFIG"]);
}

#[test]
fn a_client_secret_cmd_that_hangs_is_stopped_and_one_that_lingers_is_not_waited_for() {
    let env = Env::new();
    env.seed(USER);
    env.expire_cached(USER);
    env.idp.reset_log();
    let cfg = work_config(
        &env,
        &format!("user = \"{USER}\"\nclient_secret_cmd = \"sleep 30\"\n"),
    );
    let mut cmd = env.command(&["token", "work"]);
    cmd.env("OOAUTH2_CONFIG", &cfg)
        .env("OOAUTH2_SECRET_CMD_TIMEOUT", "0.5");
    let started = std::time::Instant::now();
    let r = env.run_with(cmd, b"");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    r.expect_failure(
        2,
        &[
            "client_secret_cmd of account 'work' did not finish within 0.5 s",
            "OOAUTH2_SECRET_CMD_TIMEOUT",
        ],
    );
    assert_eq!(env.idp.count(Grant::Refresh), 0);
    // A command that prints the secret and leaves a child holding its
    // stdout is done when it exits.
    let cfg = work_config(
        &env,
        &format!(
            "user = \"{USER}\"\nclient_secret_cmd = \"echo lingering-secret; sleep 30 2>/dev/null &\"\n"
        ),
    );
    env.idp.require_secret(CLIENT, "lingering-secret");
    let started = std::time::Instant::now();
    env.run_with_config(&cfg, &["token", "work"], b"").expect(0);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(env.idp.count(Grant::Refresh), 1);
}

#[test]
fn client_secret_cmd_runs_only_when_the_provider_is_reached() {
    let env = Env::new();
    env.seed(USER);
    let marker = env.root.join("cmd-ran");
    let secret = "s3cret-from-the-command";
    let cfg = work_config(
        &env,
        &format!(
            "user = \"{USER}\"\nclient_secret_cmd = \"touch '{}'; printf '{secret}\\\\nignored\\\\n'\"\n",
            marker.display()
        ),
    );
    // From the cache: the command is not run.
    env.run_with_config(&cfg, &["token", "work"], b"").expect(0);
    assert!(!marker.exists(), "client_secret_cmd ran for a cached token");
    // A refresh carries the command's first line as the client secret.
    env.idp.require_secret(CLIENT, secret);
    env.expire_cached(USER);
    env.idp.reset_log();
    let r = env.run_with_config(&cfg, &["token", "work"], b"");
    r.expect(0);
    assert!(marker.exists());
    let sent = env.idp.token_requests(Grant::Refresh);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].get("client_secret"), Some(secret));
    assert!(
        !r.stderr.contains(secret) && !r.stdout.contains(secret),
        "{r:#?}"
    );
    // An explicit client_secret wins, and the command is not run.
    std::fs::remove_file(&marker).unwrap();
    env.expire_cached(USER);
    let req = format!("account=work\nclient_secret={secret}\n\n");
    env.run_with_config(&cfg, &["helper"], req.as_bytes())
        .expect(0);
    assert!(!marker.exists());
}

#[test]
fn a_failing_client_secret_cmd_is_a_clear_error() {
    let env = Env::new();
    env.seed(USER);
    let cfg = work_config(
        &env,
        &format!("user = \"{USER}\"\nclient_secret_cmd = \"echo oops >&2; exit 7\"\n"),
    );
    env.expire_cached(USER);
    let before = env.snapshot();
    env.idp.reset_log();
    let r = env.run_with_config(&cfg, &["token", "work"], b"");
    r.expect_failure(
        2,
        &[
            "client_secret_cmd of account 'work' failed with exit status 7",
            ":7",
        ],
    );
    assert_eq!(env.idp.total_count(), 0);
    assert_eq!(env.snapshot().len(), before.len());
}

#[test]
fn status_lists_configured_and_stored_accounts() {
    let env = Env::new();
    env.seed(USER);
    env.seed("other@example.com");
    let cfg = work_config(
        &env,
        &format!(
            "user = \"{USER}\"\nclient_secret_cmd = \"echo never-shown\"\n\
             [accounts.new]\nclient_id = \"{CLIENT}\"\nuser = \"new@example.com\"\n"
        ),
    );
    let r = env.run_with_config(&cfg, &["status", "--wide"], b"");
    r.expect(0);
    let lines: Vec<&str> = r.stdout.lines().collect();
    // The header, three accounts, and under `new` how to sign it in.
    assert_eq!(lines.len(), 5, "{r:#?}");
    assert!(lines.contains(&"  to sign in: ooauth2 login new"), "{r:#?}");
    assert!(lines[0].starts_with("NAME") && lines[0].trim_end().ends_with("STATE"));
    let row = |needle: &str| {
        *lines
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no row for {needle}: {r:#?}"))
    };
    let work = row(USER);
    assert!(
        work.starts_with("work ") && work.trim_end().ends_with("renews itself"),
        "{work}"
    );
    assert!(work.contains("expires in"), "{work}");
    let new = row("new@example.com");
    assert!(
        new.starts_with("new ") && new.trim_end().ends_with("never signed in"),
        "{new}"
    );
    let other = row("other@example.com");
    assert!(
        other.starts_with("- ") && other.trim_end().ends_with("renews itself"),
        "{other}"
    );
    assert!(!r.stdout.contains("never-shown") && !r.stderr.contains("never-shown"));
    for (_, rec) in env.records() {
        assert!(!r.stdout.contains(rec["access_token"].as_str().unwrap()));
    }
}

#[test]
fn login_and_erase_by_name() {
    let env = Env::new();
    let cfg = work_config(&env, &format!("user = \"{USER}\"\n"));
    let r = env.run_with_config(&cfg, &["login", "work"], b"");
    r.expect(0);
    assert_eq!(r.stdout, "");
    assert!(r.stderr.contains(&format!("signed in as {USER}")), "{r:#?}");
    assert_eq!(env.idp.devicecode_count(), 1);
    assert_eq!(env.record(USER)["client_id"].as_str(), Some(CLIENT));
    env.idp.reset_log();
    env.run_with_config(&cfg, &["token", "work"], b"").expect(0);
    assert_eq!(env.idp.total_count(), 0);
    let r = env.run_with_config(&cfg, &["erase", "work"], b"");
    r.expect(0);
    assert!(r.stderr.contains(&format!("erased {USER}")), "{r:#?}");
    assert!(env.records().is_empty());
}

#[test]
fn a_named_account_that_needs_a_sign_in_is_told_to_log_in_by_name() {
    let env = Env::new();
    let cfg = work_config(&env, &format!("user = \"{USER}\"\n"));
    let run = env.run_with_config(&cfg, &["token", "work", "--non-interactive"], b"");
    run.expect_failure(1, &["ooauth2: hint: run: ooauth2 login work"]);
    assert!(env.files().is_empty());
}
