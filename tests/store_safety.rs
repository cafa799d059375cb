//! The store and the config file against odd environments (issue 11,
//! "Smaller"): relative paths in the environment are refused, and every
//! engine knob is checked before anything runs.

use crate::support::run::{CLIENT, Env, Run, USER, set_mode};
use std::path::Path;

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
