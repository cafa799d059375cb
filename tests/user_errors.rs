//! Issue 12's errors, as a newcomer meets them: each mistake ends in a
//! message that names the real cause and the exact fix, in the words of
//! the front end that was used (the helper's keys, the subcommands' flags,
//! `ooauth2.py`'s options). Golden lines where the text is the point.

use crate::support::run::{CLIENT, Env, Run, USER, strings};

/// The last two lines of a failure's stderr: its error and its hint.
#[track_caller]
fn error_and_hint(run: &Run) -> (String, String) {
    let lines: Vec<&str> = run.stderr.lines().collect();
    let n = lines.len();
    assert!(n >= 2, "no error and hint: {run:#?}");
    let error = lines[n - 2].strip_prefix("ooauth2: error: ");
    let hint = lines[n - 1].strip_prefix("ooauth2: hint: ");
    match (error, hint) {
        (Some(e), Some(h)) => (e.to_string(), h.to_string()),
        _ => panic!("not an error and a hint: {run:#?}"),
    }
}

/// Asserts a failure with `status`, empty stdout, and exactly this error
/// and hint.
#[track_caller]
fn fails_with(run: &Run, status: i32, error: &str, hint: &str) {
    run.expect_failure(status, &[]);
    let (e, h) = error_and_hint(run);
    assert_eq!(e, error, "{run:#?}");
    assert_eq!(h, hint, "{run:#?}");
}

// ---------------------------------------------------------------------------
// Item 7: the CLI speaks flags, the helper keys, ooauth2.py its options
// ---------------------------------------------------------------------------

#[test]
fn request_errors_name_the_key_as_the_front_end_spells_it() {
    let env = Env::new();
    // No client id.
    let run = env.run(&["token", "--user", USER], b"");
    fails_with(
        &run,
        2,
        "no client id: pass --client-id or an account name",
        "--client-id takes the application (client) id of your app registration; \
         an account name stands for an [accounts.NAME] table of the config file",
    );
    let run = env.run(&["helper"], format!("user={USER}\n\n").as_bytes());
    assert_eq!(
        run.pairs()["error_description"],
        "action=get needs client_id"
    );
    assert!(
        run.pairs()["hint"].starts_with("pass client_id= "),
        "{run:#?}"
    );
    // A bad value: the flag and --help, or the key and protocol.md.
    let run = env.token(USER, &["--min-ttl", "soon"]);
    fails_with(
        &run,
        2,
        "--min-ttl must be a whole number, not 'soon'",
        "add --help to the command for its flags and their values",
    );
    let run = env.helper("min_ttl=soon\n");
    let p = run.pairs();
    assert_eq!(
        p["error_description"],
        "min_ttl must be a whole number, not 'soon'"
    );
    assert_eq!(
        p["hint"],
        "see protocol.md section 3 for the keys and their values"
    );
    // ooauth2.py's command line names its own options.
    let run = env.run(
        &env.legacy_refresh_args(&[], &["--refresh_token=-"], Some("a b")),
        b"0.token\n",
    );
    fails_with(
        &run,
        2,
        "--user must not contain spaces or control characters",
        "run 'ooauth2 --help' for the options of ooauth2.py",
    );
    // A rule between two keys.
    let run = env.run(
        &[
            "token",
            "--client-id",
            CLIENT,
            "--provider",
            "google",
            "--tenant",
            "x",
        ],
        b"",
    );
    fails_with(
        &run,
        2,
        "--tenant applies only to Microsoft, not to --provider google",
        "add --help to the command for its flags and their values",
    );
}

#[test]
fn several_stored_accounts_are_told_apart_with_the_front_ends_words() {
    let env = Env::new();
    env.seed(USER);
    env.seed("other@example.com");
    let a = env.idp.authority();
    let run = env.run(
        &[
            "token",
            "--client-id",
            CLIENT,
            "--authority",
            &a,
            "--non-interactive",
        ],
        b"",
    );
    let (error, _) = error_and_hint(&run);
    assert!(error.ends_with("say which with --user"), "{run:#?}");
    let req = format!("client_id={CLIENT}\nauthority={a}\n\n");
    let run = env.run(&strings(&["helper"]), req.as_bytes());
    assert!(
        run.pairs()["error_description"].ends_with("say which with user="),
        "{run:#?}"
    );
}

// ---------------------------------------------------------------------------
// Item 9: the command that signs in again keeps what was given beside a name
// ---------------------------------------------------------------------------

#[test]
fn the_sign_in_command_keeps_the_overrides_of_a_named_account() {
    let env = Env::new();
    let cfg = env.write_config(&format!(
        "[accounts.work]\nclient_id = \"{CLIENT}\"\nauthority = \"{}\"\nuser = \"{USER}\"\n",
        env.idp.authority()
    ));
    let other = "other@example.com";
    let run = env.run_with_config(
        &cfg,
        &["token", "work", "--user", other, "--non-interactive"],
        b"",
    );
    fails_with(
        &run,
        1,
        &format!("no refresh token is stored for {other} (tenant common)"),
        &format!("run: ooauth2 login work --user {other}"),
    );
    // The same value as the file's is no override.
    let run = env.run_with_config(
        &cfg,
        &["token", "work", "--user", USER, "--non-interactive"],
        b"",
    );
    assert_eq!(
        error_and_hint(&run).1,
        "run: ooauth2 login work",
        "{run:#?}"
    );
    // The helper's account= with user= gets the same command.
    let mut cmd = env.command(&["helper"]);
    cmd.env("OOAUTH2_CONFIG", &cfg);
    let req = format!("account=work\nuser={other}\ntenant=contoso.com\ninteractive=never\n\n");
    let run = env.run_with(cmd, req.as_bytes());
    assert_eq!(
        run.pairs()["hint"],
        format!("run: ooauth2 login work --tenant contoso.com --user {other}"),
        "{run:#?}"
    );
    // And so does doctor's.
    env.seed(other);
    let (path, mut rec) = env.record_path(other);
    rec["needs_login"] = serde_json::json!("refused");
    std::fs::write(&path, serde_json::to_vec_pretty(&rec).unwrap()).unwrap();
    let run = env.run_with_config(&cfg, &["doctor", "work", "--user", other, "--offline"], b"");
    assert!(
        run.stdout
            .contains(&format!("-> run: ooauth2 login work --user {other}\n")),
        "{run:#?}"
    );
}
