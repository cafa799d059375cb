//! The store and the config file against odd owners, planted files and odd
//! environments (issue 11, item 7 and "Smaller"): a store directory or a
//! config file's directory of another user is refused, records, locks,
//! cached documents and the config file are never read from FIFOs or
//! devices, nor the store's files through symbolic links, modes do not
//! depend on the umask, relative paths in the environment are refused, and
//! every engine knob is checked before anything runs.

use crate::support::run::{CLIENT, Env, NOBODY, Run, USER, running_as_root, set_mode};
use mock_idp::{DeviceOutcome, DeviceScript, Grant};
use std::os::unix::fs::{FileTypeExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs the binary under a time limit and a memory limit, so a run that
/// would hang on a FIFO or read `/dev/zero` forever fails instead.
const BOUNDED: &[&str] = &[
    "timeout",
    "20",
    "sh",
    "-c",
    "ulimit -v 2000000; exec \"$0\" \"$@\"",
];

/// Runs the binary with a umask that takes every bit but the owner's write.
const UMASK_0477: &[&str] = &["sh", "-c", "umask 0477; exec \"$0\" \"$@\""];

/// `args` run under [`BOUNDED`], with `vars` set.
fn bounded(env: &Env, args: &[String], vars: &[(&str, &Path)], stdin: &str) -> Run {
    let mut cmd = env.command_via(BOUNDED, args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    env.run_with(cmd, stdin.as_bytes())
}

/// `ooauth2 token` for `USER`, non-interactive, under [`BOUNDED`].
fn token(env: &Env) -> Run {
    bounded(
        env,
        &env.args("token", USER, &["--non-interactive"]),
        &[],
        "",
    )
}

/// The lock file beside the record of `USER`.
fn lock_path(env: &Env) -> PathBuf {
    env.record_path(USER).0.with_extension("lock")
}

/// The permission bits of `path`.
fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Makes a FIFO at `path`.
fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success(), "mkfifo {}", path.display());
}

/// Gives `path` to nobody.
fn give_to_nobody(path: &Path) {
    std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY)).unwrap();
}

/// A config file naming `work`, `USER` at the env's mock, at `path`, 0600.
fn write_work_config(env: &Env, path: &Path) {
    let body = format!(
        "[accounts.work]\nclient_id = \"{CLIENT}\"\nauthority = \"{}\"\nuser = \"{USER}\"\n",
        env.idp.authority()
    );
    std::fs::write(path, body).unwrap();
    set_mode(path, 0o600);
}

// ---------------------------------------------------------------------------
// Another user's store directory
// ---------------------------------------------------------------------------

#[test]
fn a_store_directory_owned_by_another_user_is_refused_and_left_alone() {
    let env = Env::new();
    if !running_as_root(&env) {
        // Only root can give a directory away; the check is the same code.
        return;
    }
    env.seed(USER);
    env.idp.reset_log();
    let store = env.store();
    set_mode(&store, 0o755);
    give_to_nobody(&store);
    let before = env.snapshot();
    let shown = store.display().to_string();
    let needles = [shown.as_str(), "belongs to uid 65534", "OOAUTH2_STORE_DIR"];
    // Reading a cached token, storing one, erasing, listing: all refused.
    token(&env).expect_failure(74, &needles);
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    let run = env.helper(&format!("action=store\nrefresh_token={rt}\n"));
    run.expect(74);
    assert_eq!(run.pairs()["error"], "store_error", "{run:#?}");
    env.erase(USER, &[]).expect_failure(74, &needles);
    let status = env.run(&["status"], b"");
    status.expect_failure(74, &needles);
    assert_eq!(env.snapshot(), before, "the store changed");
    assert_eq!(mode(&store), 0o755, "the directory was chmod'ed");
    assert_eq!(env.idp.count(Grant::Refresh), 0);
}

// ---------------------------------------------------------------------------
// Planted files: symbolic links, FIFOs, devices
// ---------------------------------------------------------------------------

#[test]
fn a_record_or_lock_that_is_a_symbolic_link_is_not_followed() {
    let env = Env::new();
    env.seed(USER);
    env.idp.reset_log();
    let (record, _) = env.record_path(USER);
    let elsewhere = env.root.join("elsewhere.json");
    std::fs::rename(&record, &elsewhere).unwrap();
    symlink(&elsewhere, &record).unwrap();
    let shown = record.display().to_string();
    token(&env).expect_failure(74, &[&shown, "symbolic link"]);

    // A record pointing at /dev/zero is refused at once, not read forever.
    std::fs::remove_file(&record).unwrap();
    symlink("/dev/zero", &record).unwrap();
    token(&env).expect_failure(74, &[&shown, "symbolic link"]);

    // A lock pointing elsewhere: nothing is created there.
    std::fs::remove_file(&record).unwrap();
    std::fs::rename(&elsewhere, &record).unwrap();
    env.expire_cached(USER);
    let lock = lock_path(&env);
    let victim = env.root.join("victim");
    std::fs::remove_file(&lock).unwrap();
    symlink(&victim, &lock).unwrap();
    let shown = lock.display().to_string();
    token(&env).expect_failure(74, &[&shown, "symbolic link"]);
    assert!(!victim.exists(), "the lock was created through the link");
    assert_eq!(env.idp.count(Grant::Refresh), 0);
}

#[test]
fn a_fifo_or_a_device_planted_as_a_record_is_refused_at_once() {
    let env = Env::new();
    env.seed(USER);
    let (record, _) = env.record_path(USER);
    std::fs::remove_file(&record).unwrap();
    mkfifo(&record);
    let shown = record.display().to_string();
    token(&env).expect_failure(74, &[&shown, "not a regular file", "FIFO"]);
    let run = bounded(&env, &["status".into()], &[], "");
    assert_ne!(run.status, 124, "status hung on the FIFO: {run:#?}");
    assert!(run.stderr.contains("not a regular file"), "{run:#?}");
    let helper = bounded(&env, &["helper".into()], &[], &env.account_lines(USER));
    helper.expect(74);
    assert!(helper.pairs()["error_description"].contains("not a regular file"));
    if running_as_root(&env) {
        // /dev/zero's numbers: only root can make a device.
        std::fs::remove_file(&record).unwrap();
        let made = Command::new("mknod")
            .args([record.to_str().unwrap(), "c", "1", "5"])
            .status()
            .unwrap();
        assert!(made.success());
        token(&env).expect_failure(74, &[&shown, "not a regular file", "device"]);
    }
}

#[test]
fn a_fifo_planted_as_a_lock_is_refused() {
    let env = Env::new();
    env.seed(USER);
    env.idp.reset_log();
    env.expire_cached(USER);
    let lock = lock_path(&env);
    std::fs::remove_file(&lock).unwrap();
    mkfifo(&lock);
    let shown = lock.display().to_string();
    token(&env).expect_failure(74, &[&shown, "not a regular file", "FIFO"]);
    assert_eq!(env.idp.count(Grant::Refresh), 0);
}

#[test]
fn a_fifo_in_the_discovery_cache_is_ignored_and_replaced() {
    use sha2::{Digest, Sha256};
    let env = Env::new();
    let issuer = env.idp.issuer("common");
    let id: String = Sha256::digest(issuer.as_bytes())[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = env.store().join("discovery");
    std::fs::create_dir_all(&dir).unwrap();
    set_mode(&env.store(), 0o700);
    set_mode(&dir, 0o700);
    let cache = dir.join(format!("{id}.json"));
    mkfifo(&cache);
    env.idp.set_device_script(DeviceScript {
        outcome: DeviceOutcome::Approve(USER.into()),
        ..Default::default()
    });
    let req = format!(
        "issuer={issuer}\nclient_id={CLIENT}\nuser={USER}\nscope=offline_access https://mail.example/imap\n\
         action=login\ninteractive=always\nflow=device\n\n"
    );
    let run = bounded(&env, &["helper".into()], &[], &req);
    run.expect(0);
    assert_eq!(env.idp.discovery_count(), 1);
    let kind = std::fs::symlink_metadata(&cache).unwrap().file_type();
    assert!(kind.is_file() && !kind.is_fifo(), "{kind:?}");
    assert_eq!(mode(&cache), 0o600);
}

// ---------------------------------------------------------------------------
// The config file: a FIFO, another user's directory
// ---------------------------------------------------------------------------

#[test]
fn a_config_file_that_is_a_fifo_is_refused_at_once() {
    let env = Env::new();
    env.seed(USER);
    let cfg = env.root.join("config.toml");
    mkfifo(&cfg);
    let args = ["token".to_string(), "work".to_string()];
    let run = bounded(&env, &args, &[("OOAUTH2_CONFIG", &cfg)], "");
    let shown = cfg.display().to_string();
    run.expect_failure(74, &[&shown, "not a regular file"]);
}

#[test]
fn a_config_file_in_a_directory_of_another_user_is_refused() {
    let env = Env::new();
    if !running_as_root(&env) {
        // Only root can give a directory away; the check is the same code.
        return;
    }
    env.seed(USER);
    let dir = env.root.join("theirs");
    std::fs::create_dir(&dir).unwrap();
    set_mode(&dir, 0o755);
    let cfg = dir.join("config.toml");
    write_work_config(&env, &cfg);
    // The set-up is sound: the same file in a directory of ours is used.
    env.run_with_config(&cfg, &["token", "work"], b"").expect(0);
    give_to_nobody(&dir);
    let run = env.run_with_config(&cfg, &["token", "work"], b"");
    let shown = dir.display().to_string();
    run.expect_failure(74, &[&shown, "belongs to another user (uid 65534)"]);
    // Reached through a symbolic link in a directory of ours: the same.
    let link = env.root.join("link.toml");
    symlink(&cfg, &link).unwrap();
    let run = env.run_with_config(&link, &["token", "work"], b"");
    run.expect_failure(74, &[&shown, "belongs to another user (uid 65534)"]);
    // A directory of root's (like /etc) is trusted, as root's files are.
    std::os::unix::fs::chown(&dir, Some(0), Some(0)).unwrap();
    env.run_with_config(&cfg, &["token", "work"], b"").expect(0);
    env.run_with_config(&link, &["token", "work"], b"")
        .expect(0);
}

// ---------------------------------------------------------------------------
// umask
// ---------------------------------------------------------------------------

#[test]
fn under_umask_0477_the_store_is_still_0700_and_its_files_0600() {
    let env = Env::new();
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    let req = format!(
        "{}action=store\nrefresh_token={rt}\n\n",
        env.account_lines(USER)
    );
    let run = env.run_with(env.command_via(UMASK_0477, &["helper"]), req.as_bytes());
    run.expect(0);
    let (record, _) = env.record_path(USER);
    assert_eq!(mode(&env.store()), 0o700, "{:o}", mode(&env.store()));
    assert_eq!(mode(&record), 0o600, "{:o}", mode(&record));
    assert_eq!(mode(&lock_path(&env)), 0o600);
    let args = env.args("token", USER, &["--non-interactive"]);
    let run = env.run_with(env.command_via(UMASK_0477, &args), b"");
    run.expect(0);
    assert_eq!(run.stdout, format!("{}\n", env.cached_access_token(USER)));
}

#[test]
fn under_umask_0477_a_user_signs_in_and_gets_tokens() {
    let env = Env::new();
    // As root, a user bound by the permission bits: nobody, in a home of its own.
    let home = env.root.join("nobody");
    std::fs::create_dir(&home).unwrap();
    let mut wrapper = vec!["sh"];
    if running_as_root(&env) {
        give_to_nobody(&home);
        wrapper = vec![
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "sh",
        ];
    }
    wrapper.extend(&UMASK_0477[1..]);
    let store = home.join("store");
    let command = |args: &[String]| {
        let mut cmd = env.command_via(&wrapper, args);
        cmd.env("HOME", &home).env("OOAUTH2_STORE_DIR", &store);
        cmd
    };
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    let req = format!(
        "{}action=store\nrefresh_token={rt}\n\n",
        env.account_lines(USER)
    );
    let run = env.run_with(command(&["helper".into()]), req.as_bytes());
    run.expect(0);
    assert_eq!(run.pairs()["user"], USER, "{run:#?}");
    let run = env.run_with(
        command(&env.args("token", USER, &["--non-interactive"])),
        b"",
    );
    run.expect(0);
    assert_eq!(run.stdout.lines().count(), 1, "{run:#?}");
    // A refresh replaces the record and reads it again.
    let run = env.run_with(
        command(&env.args("token", USER, &["--min-ttl", "7200", "--non-interactive"])),
        b"",
    );
    run.expect(0);
    assert_eq!(env.idp.count(Grant::Refresh), 2, "{run:#?}");
}

// ---------------------------------------------------------------------------
// Relative paths in the environment
// ---------------------------------------------------------------------------

/// `args` run in `env.root` with `vars` set and `unset` removed.
fn in_root(env: &Env, args: &[String], vars: &[(&str, &str)], unset: &[&str]) -> Run {
    let mut cmd = env.command(args);
    cmd.current_dir(&env.root);
    for k in unset {
        cmd.env_remove(k);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    env.run_with(cmd, b"")
}

/// A refusal of the relative `name`: usage error, the variable named, the
/// next step an absolute path.
#[track_caller]
fn refused_as_relative(run: &Run, name: &str) {
    run.expect_failure(2, &[&format!("ooauth2: error: {name} "), "relative"]);
    assert!(
        run.stderr.contains("ooauth2: hint: ") && run.stderr.contains("absolute path"),
        "{run:#?}"
    );
}

#[test]
fn relative_store_config_and_home_paths_are_refused() {
    let env = Env::new();
    let token = env.args("token", USER, &["--non-interactive"]);
    let store = ["OOAUTH2_STORE_DIR"];
    let run = in_root(&env, &token, &[("OOAUTH2_STORE_DIR", "rel-store")], &[]);
    refused_as_relative(&run, "OOAUTH2_STORE_DIR");
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    let req = format!(
        "{}action=store\nrefresh_token={rt}\n\n",
        env.account_lines(USER)
    );
    let mut cmd = env.command(&["helper"]);
    cmd.current_dir(&env.root)
        .env("OOAUTH2_STORE_DIR", "rel-store");
    let run = env.run_with(cmd, req.as_bytes());
    run.expect(2);
    assert!(run.stderr.contains("OOAUTH2_STORE_DIR"), "{run:#?}");
    assert!(
        !env.root.join("rel-store").exists(),
        "a relative store was made"
    );
    let run = in_root(&env, &token, &[("HOME", "home")], &store);
    refused_as_relative(&run, "HOME");
    let run = in_root(&env, &token, &[("XDG_DATA_HOME", "data")], &store);
    refused_as_relative(&run, "XDG_DATA_HOME");
    // The config file: a relative name, or a relative home for it.
    write_work_config(&env, &env.root.join("config.toml"));
    let work = ["token".to_string(), "work".to_string()];
    let run = in_root(&env, &work, &[("OOAUTH2_CONFIG", "config.toml")], &[]);
    refused_as_relative(&run, "OOAUTH2_CONFIG");
    let run = in_root(&env, &work, &[("XDG_CONFIG_HOME", ".")], &[]);
    refused_as_relative(&run, "XDG_CONFIG_HOME");
    let run = in_root(&env, &work, &[("HOME", ".")], &[]);
    refused_as_relative(&run, "HOME");
}

// ---------------------------------------------------------------------------
// The engine's knobs
// ---------------------------------------------------------------------------

#[test]
fn a_bad_secret_cmd_timeout_fails_every_command_that_builds_an_engine() {
    let env = Env::new();
    env.seed(USER);
    let before = env.snapshot();
    let var = "OOAUTH2_SECRET_CMD_TIMEOUT";
    let needle = format!("{var} must be a number of seconds");
    for value in ["abc", "0", "-1", "86401"] {
        let run = |args: &[String], stdin: &str| {
            let mut cmd = env.command(args);
            cmd.env(var, value);
            env.run_with(cmd, stdin.as_bytes())
        };
        // A cached token, no secret command anywhere: refused all the same.
        let t = run(&env.args("token", USER, &["--non-interactive"]), "");
        t.expect_failure(2, &[&needle]);
        let h = run(
            &["helper".into()],
            &format!("{}\n", env.account_lines(USER)),
        );
        h.expect(2);
        assert_eq!(h.pairs()["error"], "invalid_request", "{h:#?}");
        assert!(h.pairs()["error_description"].contains(&needle), "{h:#?}");
        run(&env.args("erase", USER, &[]), "").expect_failure(2, &[&needle]);
    }
    assert_eq!(env.snapshot(), before);
}
