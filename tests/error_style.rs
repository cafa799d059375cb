//! One style for every error (issue 6, "Conventions"; protocol.md section
//! 6): what failed and why on one line, what to do next on the next, the
//! same in the helper's response block and on stderr. A catalogue of real
//! failures, one or more per front end and error code, each produced for
//! real against the mock provider, a closed port or a broken store.

use crate::support::run::{CLIENT, Env, Run, USER, free_port, set_mode};
use mock_idp::Fault;

/// The two closing lines of a failure's stderr, checked for the style.
#[track_caller]
fn styled(label: &str, run: &Run) -> (String, String) {
    assert_ne!(run.status, 0, "{label}: did not fail: {run:#?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    let n = lines.len();
    assert!(n >= 2, "{label}: stderr has no error and hint: {run:#?}");
    let message = lines[n - 2]
        .strip_prefix("ooauth2: error: ")
        .unwrap_or_else(|| panic!("{label}: next-to-last line is not the error: {run:#?}"));
    let hint = lines[n - 1]
        .strip_prefix("ooauth2: hint: ")
        .unwrap_or_else(|| panic!("{label}: last line is not the hint: {run:#?}"));
    for (what, text) in [("error", message), ("hint", hint)] {
        assert!(!text.trim().is_empty(), "{label}: empty {what}");
        assert!(
            text.len() <= 600,
            "{label}: {what} longer than 600 bytes: {text}"
        );
        assert!(
            !text.ends_with('.'),
            "{label}: {what} ends with a period: {text}"
        );
        // Lower case, like a clause; a name in capitals (OOAUTH2_CONFIG,
        // TLS) may open it.
        let mut chars = text.chars();
        let capitalised = chars.next().is_some_and(|c| c.is_ascii_uppercase())
            && chars.next().is_some_and(|c| c.is_ascii_lowercase());
        assert!(
            !capitalised,
            "{label}: {what} starts with a capital: {text}"
        );
    }
    assert_ne!(message, hint, "{label}: the hint repeats the error");
    (message.to_string(), hint.to_string())
}

/// A helper failure: the response block says what stderr says.
#[track_caller]
fn helper_styled(label: &str, run: &Run) {
    let (message, hint) = styled(label, run);
    let p = run.pairs();
    assert_eq!(
        p.keys().map(String::as_str).collect::<Vec<_>>(),
        ["error", "error_description", "hint"],
        "{label}: {p:?}"
    );
    assert_eq!(p["error_description"], message, "{label}");
    assert_eq!(p["hint"], hint, "{label}");
}

/// A command failure: stdout stays empty.
#[track_caller]
pub(crate) fn command_styled(label: &str, run: &Run) {
    styled(label, run);
    assert_eq!(run.stdout, "", "{label}: stdout not empty");
}

#[test]
fn helper_failures_read_the_same_way() {
    let env = Env::new();
    let raw = |label: &str, req: &str| {
        let run = env.run(&["helper"], req.as_bytes());
        helper_styled(label, &run);
        run
    };
    raw("no equals sign", "action=get\nclient_id\n\n");
    raw("NUL byte", "action=get\nuser=a\0b\n\n");
    raw("duplicate key", "action=get\naction=get\n\n");
    raw("unknown key", "tennant=x\n\n");
    raw("response key", "access_token=x\n\n");
    raw("unknown action", "action=fetch\n\n");
    raw("no client_id", "action=get\n\n");
    raw("bad tenant", "client_id=c\ntenant=../x\n\n");
    raw("bad min_ttl", "client_id=c\nmin_ttl=soon\n\n");
    raw("bad flow", "client_id=c\nflow=browser\n\n");
    raw(
        "google device flow",
        "client_id=c\nprovider=google\nflow=device\n\n",
    );
    raw(
        "generic without endpoints",
        "client_id=c\nprovider=generic\nuser=u@x\nscope=s\n\n",
    );
    raw(
        "plain http authority",
        "client_id=c\nauthority=http://example.com\n\n",
    );
    raw("store without token", "action=store\nclient_id=c\n\n");
    raw("unknown account", "account=nowhere\n\n");
    let big = format!("user={}\n\n", "x".repeat(70_000));
    raw("oversized request", &big);

    // Failures that reach the store or the provider.
    let run = env.helper("interactive=never\n");
    helper_styled("login required", &run);
    let rt = env.seed(USER);
    env.expire_cached(USER);
    env.idp.revoke_refresh_token(&rt);
    let run = env.helper("interactive=never\n");
    helper_styled("invalid grant", &run);
    assert_eq!(run.pairs()["error"], "invalid_grant");

    let env = Env::new();
    env.seed(USER);
    env.expire_cached(USER);
    for _ in 0..4 {
        env.idp.push_fault(Fault::Status(503));
    }
    let run = env.helper("interactive=never\n");
    helper_styled("server error", &run);
    assert_eq!(run.pairs()["error"], "server_error");
    env.idp.push_fault(Fault::Html);
    let run = env.helper("interactive=never\n");
    helper_styled("bad response", &run);
    env.idp.push_fault(Fault::OAuthError {
        status: 401,
        error: "invalid_client".into(),
        description: "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".into(),
        code: 7000218,
    });
    let run = env.helper("interactive=never\n");
    helper_styled("invalid client", &run);
    assert_eq!(run.pairs()["error"], "invalid_client");
}

#[test]
fn command_failures_read_the_same_way() {
    let env = Env::new();
    command_styled(
        "token, nothing stored",
        &env.token(USER, &["--non-interactive"]),
    );
    command_styled(
        "token, bad min-ttl",
        &env.token(USER, &["--min-ttl", "soon"]),
    );
    command_styled(
        "token, no client id",
        &env.run(&["token", "--user", USER], b""),
    );
    command_styled(
        "login, bad redirect port",
        &env.login(USER, &["--flow", "authcode", "--redirect-port", "99999"]),
    );
    // A provider that is not there.
    let port = free_port();
    let run = env.run(
        &[
            "token",
            "--client-id",
            CLIENT,
            "--user",
            USER,
            "--authority",
            &format!("http://127.0.0.1:{port}"),
        ],
        b"",
    );
    // Nothing stored and no terminal: login_required before any request.
    command_styled("token at a closed port", &run);
    env.seed(USER);
    env.expire_cached(USER);
    let run = env.run(
        &env.args_at(
            "token",
            &format!("http://127.0.0.1:{port}"),
            USER,
            &["--non-interactive"],
        ),
        b"",
    );
    command_styled("token, provider down", &run);
    // A corrupt record.
    let (path, _) = env.record_path(USER);
    std::fs::write(&path, "{ not json").unwrap();
    command_styled("token, corrupt record", &env.token(USER, &[]));
    // The config file.
    let cfg = env.write_config("[accounts.work]\nclient_id = 3\n");
    command_styled(
        "config, wrong type",
        &env.run_with_config(&cfg, &["token", "work"], b""),
    );
    std::fs::write(&cfg, "[accounts.work\n").unwrap();
    command_styled(
        "config, bad TOML",
        &env.run_with_config(&cfg, &["token", "work"], b""),
    );
    set_mode(&cfg, 0o666);
    command_styled(
        "config, writable by others",
        &env.run_with_config(&cfg, &["status"], b""),
    );
    // A mail server that is not there.
    let run = env.run(
        &[
            "test",
            "imap",
            "--client-id",
            CLIENT,
            "--user",
            "nobody@example.com",
            "--non-interactive",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ],
        b"",
    );
    command_styled("test imap, nothing stored", &run);
    let fresh = Env::new();
    fresh.seed(USER);
    let mut args = fresh.args("test", USER, &["--host", "127.0.0.1", "--port"]);
    args.insert(1, "imap".into());
    args.push(port.to_string());
    command_styled("test imap, server down", &fresh.run(&args, b""));
    // Environment.
    let mut cmd = env.command(&["token", "--client-id", CLIENT, "--user", USER]);
    cmd.env("OOAUTH2_HTTP_TIMEOUT", "never");
    command_styled("bad timeout variable", &env.run_with(cmd, b""));
}

#[test]
fn ooauth2_py_command_lines_fail_in_the_same_style() {
    let env = Env::new();
    for (label, args) in [
        ("missing options", vec!["--generate_access_token"]),
        (
            "empty refresh token file",
            vec![
                "--generate_access_token",
                "--client_id",
                CLIENT,
                "--refresh_token=@/dev/null",
            ],
        ),
    ] {
        let run = env.run(&args, b"");
        command_styled(label, &run);
    }
}
