//! The parts of ooauth2 people look at rather than scripts: `status` (table
//! and `--json`), the shell completions and man page generated from the
//! command line, and sign-in instructions sent by `notify_cmd` when no
//! terminal can show them.

use crate::support::run::{CLIENT, Env, Run, USER, set_mode};
use std::path::Path;
use std::process::Command;

const OTHER: &str = "other@example.com";

// ---------------------------------------------------------------------------
// status
// ---------------------------------------------------------------------------

#[test]
fn status_json_lists_accounts_with_their_state_and_no_secret() {
    let env = Env::new();
    env.seed(USER);
    let rt = env.seed(OTHER);
    env.expire_cached(OTHER);
    env.idp.revoke_refresh_token(&rt);
    env.token(OTHER, &["--non-interactive"]).expect(1);
    let a = env.idp.authority();
    let config = env.write_config(&format!(
            "[accounts.work]\nclient_id = \"{CLIENT}\"\nauthority = \"{a}\"\nuser = \"{USER}\"\n\
             [accounts.new]\nclient_id = \"{CLIENT}\"\nauthority = \"{a}\"\nuser = \"new@example.com\"\n"
        ),
    );
    let run = env.run_with_config(&config, &["status", "--json"], b"");
    run.expect(0);
    assert_eq!(run.stdout.lines().count(), 1, "one JSON document: {run:#?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let all = v.as_array().unwrap();
    assert_eq!(all.len(), 3, "{v:#}");
    let find = |user: &str| {
        all.iter()
            .find(|x| x["user"] == user)
            .unwrap_or_else(|| panic!("no {user} in {v:#}"))
    };
    let me = find(USER);
    assert_eq!(me["name"], "work");
    assert_eq!(me["provider"], "microsoft");
    assert_eq!(me["state"], "ready");
    assert_eq!(me["client_id"], CLIENT);
    assert_eq!(me["tenant"], "common");
    assert_eq!(me["authority"], a.as_str());
    let exp = me["access_token_expires_at"].as_u64().unwrap();
    assert_eq!(exp, env.record(USER)["expires_at"].as_u64().unwrap());
    assert!(me["expires_in"].as_u64().unwrap() > 60, "{me}");
    assert!(me["refresh_token_obtained_at"].as_u64().is_some(), "{me}");

    let other = find(OTHER);
    assert_eq!(other["name"], serde_json::Value::Null);
    assert_eq!(other["state"], "needs sign-in");
    assert_eq!(other["access_token_expires_at"], 1);
    assert_eq!(other["expires_in"], 0);

    let new = find("new@example.com");
    assert_eq!(new["name"], "new");
    assert_eq!(new["provider"], "microsoft");
    assert_eq!(new["state"], "never signed in");
    assert_eq!(new["access_token_expires_at"], serde_json::Value::Null);
    assert_eq!(new["refresh_token_obtained_at"], serde_json::Value::Null);

    for (_, rec) in env.records() {
        for k in ["access_token", "refresh_token"] {
            let s = rec[k].as_str().unwrap();
            assert!(!run.stdout.contains(s), "status --json shows {k}");
            assert!(!run.stderr.contains(s), "status --json shows {k}");
        }
    }
    // The table tells the same states.
    let table = env.run_with_config(&config, &["status"], b"");
    table.expect(0);
    // A ready account's state is its health: "renews itself".
    for state in ["renews itself", "needs sign-in", "never signed in"] {
        assert!(table.stdout.contains(state), "{table:#?}");
    }
}

#[test]
fn status_json_with_no_account_is_an_empty_array() {
    let env = Env::new();
    let run = env.run(&["status", "--json"], b"");
    run.expect(0);
    assert_eq!(run.stdout, "[]\n");
}

#[test]
fn status_table_in_a_pipe_has_no_escape_sequences() {
    let env = Env::new();
    env.seed(USER);
    for no_color in [None, Some("1")] {
        let mut cmd = env.command(&["status"]);
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let run = env.run_with(cmd, b"");
        run.expect(0);
        assert!(run.stdout.starts_with("NAME"), "{run:#?}");
        assert!(!run.stdout.contains('\x1b'), "{run:#?}");
        assert!(!run.stderr.contains('\x1b'), "{run:#?}");
    }
}

// ---------------------------------------------------------------------------
// completions and man page
// ---------------------------------------------------------------------------

const SUBCOMMANDS: &[&str] = &[
    "helper",
    "token",
    "login",
    "status",
    "erase",
    "completions",
    "man",
];

fn generated(args: &[&str]) -> String {
    let env = Env::new();
    let run = env.run(args, b"");
    run.expect(0);
    assert_eq!(run.stderr, "", "{run:#?}");
    assert!(!run.stdout.trim().is_empty(), "{args:?} printed nothing");
    run.stdout
}

#[test]
fn completions_for_each_shell_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let script = generated(&["completions", shell]);
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell} script lacks {sub}");
        }
        assert!(script.contains("client-id"), "{shell} script lacks flags");
    }
    let fish = generated(&["completions", "fish"]);
    assert!(fish.contains("complete -c ooauth2"), "{fish}");
    let zsh = generated(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef ooauth2"), "{zsh}");
}

#[test]
fn bash_completion_script_is_valid_bash() {
    let script = generated(&["completions", "bash"]);
    let env = Env::new();
    let path = env.root.join("ooauth2.bash");
    std::fs::write(&path, &script).unwrap();
    let out = Command::new("bash").arg("-n").arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Sourced, it registers a completion for ooauth2.
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p ooauth2", path.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ooauth2"),
        "{out:?}"
    );
}

#[test]
fn unknown_completion_shell_is_a_usage_error() {
    let env = Env::new();
    let run = env.run(&["completions", "cmd.exe"], b"");
    run.expect(2);
    assert_eq!(run.stdout, "");
}

#[test]
fn man_page_is_roff_with_the_subcommands() {
    let page = generated(&["man"]);
    assert!(
        page.lines().any(|l| l.starts_with(".TH ooauth2 1")),
        "{page}"
    );
    assert!(page.contains(".SH SUBCOMMANDS"), "{page}");
    for sub in SUBCOMMANDS {
        assert!(page.contains(sub), "man page lacks {sub}");
    }
}

#[test]
fn man_page_renders_with_man_when_installed() {
    let page = generated(&["man"]);
    let env = Env::new();
    let path = env.root.join("ooauth2.1");
    std::fs::write(&path, &page).unwrap();
    let Ok(out) = Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(&path)
        .env("MANWIDTH", "100")
        .output()
    else {
        return; // man is optional
    };
    if !out.status.success() {
        return; // man-db without groff, e.g. a minimal container
    }
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ooauth2"), "{text}");
}

// ---------------------------------------------------------------------------
// notify_cmd: sign-in instructions when no terminal can show them
// ---------------------------------------------------------------------------

/// A `notify_cmd` script that records its argv and environment in `name`.log
/// (and prints a line on stdout, which must not reach ours), then exits
/// with `status`. Returns the script's path and the log's.
fn stub_notifier(env: &Env, name: &str, status: i32) -> (String, std::path::PathBuf) {
    let log = env.root.join(format!("{name}.log"));
    let script = env.root.join(format!("{name}.sh"));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n{{ echo \"ARGC=$#\"; echo \"ARGV=$0 $*\"; env; }} > '{}'\n\
             echo NOTIFIER-STDOUT\nexit {status}\n",
            log.display()
        ),
    )
    .unwrap();
    set_mode(&script, 0o700);
    (script.display().to_string(), log)
}

/// `ooauth2 token` for `USER` at the mock with no controlling terminal (a
/// new session, stdin/stdout/stderr pipes), like mbsync run from cron.
fn token_without_terminal(env: &Env, notify_env: Option<&str>, config: Option<&Path>) -> Run {
    let args = match config {
        Some(_) => vec!["token".to_string(), "work".to_string()],
        None => env.args("token", USER, &[]),
    };
    let mut cmd = env.command_via(&["setsid", "-w"], &args);
    if let Some(n) = notify_env {
        cmd.env("OOAUTH2_NOTIFY_CMD", n);
    }
    if let Some(c) = config {
        cmd.env("OOAUTH2_CONFIG", c);
    }
    env.run_with(cmd, b"")
}

/// The `KEY=value` lines of a stub's log.
fn log_value(log: &str, key: &str) -> Option<String> {
    log.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_string)
}

fn pending_then_approve(env: &Env) {
    env.idp.set_device_script(mock_idp::DeviceScript {
        pending_polls: 3,
        ..Default::default()
    });
}

#[test]
fn notify_cmd_is_told_the_code_and_the_sign_in_completes_without_a_terminal() {
    let env = Env::new();
    pending_then_approve(&env);
    let (stub, log) = stub_notifier(&env, "notify", 0);
    let run = token_without_terminal(&env, Some(&stub), None);
    run.expect(0);
    let at = env.record(USER)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(run.stdout, format!("{at}\n"), "only the token on stdout");
    assert!(run.stderr.contains("NOTIFIER-STDOUT"), "{run:#?}");
    assert_eq!(env.idp.devicecode_count(), 1);

    let log = std::fs::read_to_string(&log).unwrap();
    let code = log_value(&log, "OOAUTH2_USER_CODE").expect("code in env");
    let uri = log_value(&log, "OOAUTH2_VERIFICATION_URI").expect("URI in env");
    assert!(code.len() >= 6, "{log}");
    assert!(uri.starts_with("http"), "{log}");
    assert!(run.stderr.contains(&code), "the code is on stderr too");
    assert_eq!(log_value(&log, "OOAUTH2_ACCOUNT").as_deref(), Some(USER));
    let expires: u64 = log_value(&log, "OOAUTH2_EXPIRES_IN")
        .unwrap()
        .parse()
        .unwrap();
    assert!(expires > 0);
    assert!(
        log_value(&log, "OOAUTH2_MESSAGE").is_some_and(|m| m.contains(&code)),
        "{log}"
    );
    assert_eq!(log_value(&log, "ARGC").as_deref(), Some("0"), "{log}");
    let argv = log_value(&log, "ARGV").unwrap();
    assert!(!argv.contains(&code) && !argv.contains(&uri), "{argv}");
}

#[test]
fn without_notify_cmd_and_terminal_a_sign_in_is_login_required() {
    let env = Env::new();
    let run = token_without_terminal(&env, None, None);
    run.expect(1);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("login"), "{run:#?}");
    assert_eq!(env.idp.devicecode_count(), 0);
    // An empty variable is no command.
    let run = token_without_terminal(&env, Some(""), None);
    run.expect(1);
    assert_eq!(env.idp.devicecode_count(), 0);
}

#[test]
fn a_failing_notify_cmd_is_a_warning_and_the_sign_in_goes_on() {
    let env = Env::new();
    pending_then_approve(&env);
    let (stub, log) = stub_notifier(&env, "broken", 3);
    let run = token_without_terminal(&env, Some(&stub), None);
    run.expect(0);
    assert_eq!(run.stdout.lines().count(), 1, "{run:#?}");
    assert!(
        run.stderr.contains("notify_cmd failed with exit status 3"),
        "{run:#?}"
    );
    assert!(log.exists());
    // A command that cannot run at all is a warning too.
    let env = Env::new();
    let run = token_without_terminal(&env, Some("/nonexistent/notifier"), None);
    run.expect(0);
    assert!(run.stderr.contains("notify_cmd failed"), "{run:#?}");
}

#[test]
fn a_slow_notify_cmd_does_not_hold_up_the_sign_in() {
    let env = Env::new();
    let started = std::time::Instant::now();
    // Its own fds redirected: the harness reads our stderr until EOF.
    let run = token_without_terminal(&env, Some("exec sleep 20 >/dev/null 2>&1"), None);
    run.expect(0);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "waited for the notifier"
    );
}

#[test]
fn the_accounts_notify_cmd_wins_over_the_environment() {
    let env = Env::new();
    let (mine, my_log) = stub_notifier(&env, "account", 0);
    let (other, other_log) = stub_notifier(&env, "environment", 0);
    let a = env.idp.authority();
    let config = env.write_config(&format!(
        "[accounts.work]\nclient_id = \"{CLIENT}\"\nauthority = \"{a}\"\nuser = \"{USER}\"\n\
             notify_cmd = \"{mine}\"\n"
    ));
    let run = token_without_terminal(&env, Some(&other), Some(&config));
    run.expect(0);
    assert!(my_log.exists(), "{run:#?}");
    assert!(!other_log.exists(), "{run:#?}");
}

// ---------------------------------------------------------------------------
// notify-send: the default notifier in a desktop session
// ---------------------------------------------------------------------------

/// A stub `notify-send`, alone in a directory to put first on PATH, that
/// records each argument (`ARG=...`) and its environment in a log, prints a
/// line on stdout (which must not reach ours) and exits with `status`.
pub(crate) fn stub_notify_send(env: &Env, status: i32) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = env.root.join("desktop-bin");
    std::fs::create_dir_all(&dir).unwrap();
    let log = env.root.join("notify-send.log");
    let script = dir.join("notify-send");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n{{ for a in \"$@\"; do echo \"ARG=$a\"; done; env; }} > '{}'\n\
             echo NOTIFY-SEND-STDOUT\nexit {status}\n",
            log.display()
        ),
    )
    .unwrap();
    set_mode(&script, 0o755);
    (dir, log)
}

/// `ooauth2 token` for `USER` with no controlling terminal, `dir` first on
/// PATH and `vars` set.
fn token_on_desktop(env: &Env, dir: &Path, vars: &[(&str, &str)]) -> Run {
    let mut cmd = env.command_via(&["setsid", "-w"], &env.args("token", USER, &[]));
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    cmd.env("PATH", path).envs(vars.iter().copied());
    env.run_with(cmd, b"")
}

/// A D-Bus session address nobody listens on: the stub needs none.
const BUS: (&str, &str) = ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");

#[test]
fn notify_send_tells_page_and_code_when_a_desktop_session_has_no_terminal() {
    let env = Env::new();
    pending_then_approve(&env);
    let (dir, log) = stub_notify_send(&env, 0);
    let run = token_on_desktop(&env, &dir, &[BUS]);
    run.expect(0);
    let at = env.cached_access_token(USER);
    assert_eq!(run.stdout, format!("{at}\n"), "only the token on stdout");
    assert!(run.stderr.contains("NOTIFY-SEND-STDOUT"), "{run:#?}");

    let log = std::fs::read_to_string(&log).unwrap();
    let args: Vec<&str> = log.lines().filter_map(|l| l.strip_prefix("ARG=")).collect();
    let page = format!("{}/devicelogin", env.idp.authority());
    let code = run
        .stderr
        .split("enter the code ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap();
    assert!(
        args.iter()
            .any(|a| a.contains("sign-in needed for me@example.com")),
        "{args:?}"
    );
    assert!(
        args.iter()
            .any(|a| a.contains(&page) && a.contains(&format!("the code {code} "))),
        "{args:?}"
    );
    // The device code is a secret: never handed to another program.
    let device_code = env.idp.token_requests(mock_idp::Grant::Device)[0]
        .get("device_code")
        .unwrap()
        .to_string();
    assert!(!log.contains(&device_code), "{log}");
    assert!(log.contains("DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/bus"));
}

#[test]
fn notify_send_needs_a_desktop_session_and_can_be_turned_off() {
    let env = Env::new();
    let (dir, log) = stub_notify_send(&env, 0);
    // No desktop session: nobody could be told, so no sign-in starts.
    let run = token_on_desktop(&env, &dir, &[]);
    run.expect_failure(1, &["login"]);
    // Turned off, in a desktop session.
    for off in ["0", "false", "off"] {
        let run = token_on_desktop(
            &env,
            &dir,
            &[BUS, ("DISPLAY", ":0"), ("OOAUTH2_NOTIFY_SEND", off)],
        );
        run.expect_failure(1, &["login"]);
    }
    assert_eq!(env.idp.devicecode_count(), 0);
    assert!(!log.exists());
}

#[test]
fn notify_cmd_wins_over_notify_send_and_a_failing_notify_send_is_a_warning() {
    let env = Env::new();
    let (dir, send_log) = stub_notify_send(&env, 3);
    let (mine, my_log) = stub_notifier(&env, "mine", 0);
    let run = token_on_desktop(&env, &dir, &[BUS, ("OOAUTH2_NOTIFY_CMD", &mine)]);
    run.expect(0);
    assert!(my_log.exists(), "{run:#?}");
    assert!(!send_log.exists(), "{run:#?}");

    let env = Env::new();
    let (dir, send_log) = stub_notify_send(&env, 3);
    let run = token_on_desktop(&env, &dir, &[BUS]);
    run.expect(0);
    assert_eq!(run.stdout.lines().count(), 1, "{run:#?}");
    assert!(
        run.stderr.contains("notify-send failed with exit status 3"),
        "{run:#?}"
    );
    assert!(send_log.exists());
}
