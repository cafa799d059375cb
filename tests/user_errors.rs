//! Issue 12's errors, as a newcomer meets them: each mistake ends in a
//! message that names the real cause and the exact fix, in the words of
//! the front end that was used (the helper's keys, the subcommands' flags,
//! `ooauth2.py`'s options). Golden lines where the text is the point.

use crate::support::mail::{make_cert, program};
use crate::support::run::free_port;
use crate::support::run::{CLIENT, Env, Run, USER, strings};
use mock_idp::Fault;

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

// ---------------------------------------------------------------------------
// Item 1: a near-miss account is named with what differs and the flags
// ---------------------------------------------------------------------------

const TENANT: &str = "contoso.onmicrosoft.com";

/// Signs `USER` in under [`TENANT`] at the mock provider.
fn seed_in_tenant(env: &Env) {
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    let req = format!(
        "{}tenant={TENANT}\naction=store\nrefresh_token={rt}\n\n",
        env.account_lines(USER)
    );
    env.run(&["helper"], req.as_bytes()).expect(0);
}

#[test]
fn a_request_that_misses_the_stored_tenant_names_it_and_the_flag() {
    let env = Env::new();
    seed_in_tenant(&env);
    let a = env.idp.authority();
    let login = format!("ooauth2 login --client-id {CLIENT} --user {USER} --authority {a}");
    let run = env.token(USER, &["--non-interactive"]);
    fails_with(
        &run,
        1,
        &format!(
            "no refresh token is stored for {USER} (tenant common); \
             {USER} is stored under tenant {TENANT}"
        ),
        &format!("to use it, give --tenant {TENANT}; to sign in as asked instead, run: {login}"),
    );
    // A mistyped client id is named as such.
    let run = env.run(
        &strings(&[
            "token",
            "--client-id",
            "typo",
            "--authority",
            &a,
            "--user",
            USER,
            "--tenant",
            TENANT,
            "--non-interactive",
        ]),
        b"",
    );
    let (error, hint) = error_and_hint(&run);
    assert!(
        error.ends_with(&format!("; {USER} is stored with client id {CLIENT}")),
        "{run:#?}"
    );
    assert!(
        hint.starts_with(&format!("to use it, give --client-id {CLIENT};")),
        "{run:#?}"
    );
    // Without a user: the stored users it nearly names, with --user.
    let run = env.run(
        &strings(&[
            "token",
            "--client-id",
            "typo",
            "--authority",
            &a,
            "--non-interactive",
        ]),
        b"",
    );
    fails_with(
        &run,
        1,
        &format!(
            "no account is stored for client id typo (tenant common); \
             {USER} is stored under tenant {TENANT} with client id {CLIENT}"
        ),
        &format!(
            "to use it, give --tenant {TENANT} --client-id {CLIENT} --user {USER}; \
             to sign in as asked instead, run: ooauth2 login --client-id typo \
             --user YOU@EXAMPLE.COM --authority {a}"
        ),
    );
    // The helper names its keys.
    let run = env.helper("interactive=never\n");
    run.expect(1);
    assert!(
        run.pairs()["hint"].starts_with(&format!("to use it, give tenant={TENANT};")),
        "{run:#?}"
    );
    // A named account's fix may belong in its table.
    let cfg = env.write_config(&format!(
        "[accounts.work]\nclient_id = \"{CLIENT}\"\nauthority = \"{a}\"\nuser = \"{USER}\"\n"
    ));
    let run = env.run_with_config(&cfg, &["token", "work", "--non-interactive"], b"");
    assert_eq!(
        error_and_hint(&run).1,
        format!(
            "to use it, give --tenant {TENANT} (or put that in [accounts.work] of the config \
             file); to sign in as asked instead, run: ooauth2 login work"
        ),
        "{run:#?}"
    );
    // doctor names it too.
    let flags = env.account_flags(USER);
    let mut args = vec!["doctor", "--offline"];
    args.extend(flags.iter().map(String::as_str));
    let run = env.run(&args, b"");
    assert!(
        run.stdout.contains(&format!(
            "problem: account {USER} is not stored; {USER} is stored under tenant {TENANT} -> \
             to use it, give --tenant {TENANT}; to sign in as asked instead, run: {login}\n"
        )),
        "{run:#?}"
    );
    // A sign-in that may go ahead says it first, while it can be stopped.
    let run = env.helper("interactive=always\n");
    run.expect(0);
    assert!(
        run.stderr.contains(&format!(
            "ooauth2: note: nothing is stored for this request, but {USER} is stored under \
             tenant {TENANT}; to use it, give tenant={TENANT} instead (Ctrl-C stops this sign-in)"
        )),
        "{run:#?}"
    );
}

#[test]
fn erasing_an_account_that_is_not_stored_fails_and_names_the_near_miss() {
    let env = Env::new();
    seed_in_tenant(&env);
    let before = env.snapshot();
    let run = env.erase(USER, &[]);
    fails_with(
        &run,
        2,
        &format!(
            "nothing was erased: no account is stored for {USER} (tenant common); \
             {USER} is stored under tenant {TENANT}"
        ),
        &format!("to erase it, give --tenant {TENANT}"),
    );
    let run = env.erase("nobody@example.com", &[]);
    fails_with(
        &run,
        2,
        "nothing was erased: no account is stored for nobody@example.com (tenant common)",
        "'ooauth2 status' lists the stored accounts",
    );
    assert_eq!(env.snapshot(), before);
    // The helper's erase stays an answer: erased=false, exit 0.
    let run = env.helper("action=erase\n");
    run.expect(0);
    assert_eq!(run.pairs()["erased"], "false", "{run:#?}");
    // With the flag it names, the erase works.
    env.erase(USER, &["--tenant", TENANT]).expect(0);
    assert!(env.records().is_empty());
}

// ---------------------------------------------------------------------------
// Item 4: Microsoft 365 refusals only an administrator can lift
// ---------------------------------------------------------------------------

/// Queues Microsoft's refusal `code` for the next token request.
fn refuse_with(env: &Env, error: &str, code: u32, description: &str) {
    env.idp.push_fault(Fault::OAuthError {
        status: 400,
        error: error.into(),
        description: format!("AADSTS{code}: {description}"),
        code,
    });
}

#[test]
fn refusals_only_an_administrator_can_lift_name_the_administrators_fix() {
    let env = Env::new();
    let a = env.idp.authority();
    let login =
        |user: &str| format!("ooauth2 login --client-id {CLIENT} --user {user} --authority {a}");
    // Consent: the admin-consent page of the tenant and the app.
    let user = "consent@example.com";
    env.seed(user);
    env.expire_cached(user);
    refuse_with(
        &env,
        "invalid_grant",
        65001,
        "The user or administrator has not consented to use the application.",
    );
    let run = env.token(user, &["--non-interactive"]);
    fails_with(
        &run,
        1,
        &format!(
            "{} refused: invalid_grant: AADSTS65001: The user or administrator \
             has not consented to use the application",
            a.trim_start_matches("http://")
        ),
        &format!(
            "the app has no consent for these permissions; sign in again and accept, or ask \
             an administrator to grant consent: {a}/common/adminconsent?client_id={CLIENT}; \
             then sign in again: {}",
            login(user)
        ),
    );
    // Conditional Access, whatever the OAuth error it comes with.
    let user = "blocked@example.com";
    env.seed(user);
    env.expire_cached(user);
    refuse_with(
        &env,
        "access_denied",
        53003,
        "Access has been blocked by Conditional Access policies.",
    );
    let (_, hint) = error_and_hint(&env.token(user, &["--non-interactive"]));
    assert_eq!(
        hint,
        format!(
            "your organisation's Conditional Access policy blocked the sign-in; ask an \
             administrator which policy applies (the Entra sign-in logs name it), or sign in \
             from a device or network it allows; then sign in again: {}",
            login(user)
        )
    );
    // doctor decodes them the same way.
    let user = "unassigned@example.com";
    env.seed(user);
    for code in [90094, 50105] {
        refuse_with(&env, "invalid_grant", code, "Admin approval required.");
        let flags = env.account_flags(user);
        let mut args = vec!["doctor"];
        args.extend(flags.iter().map(String::as_str));
        let run = env.run(&args, b"");
        let problem = run
            .stdout
            .lines()
            .find(|l| l.contains(&format!("AADSTS{code}")))
            .unwrap_or_else(|| panic!("no AADSTS{code} problem: {run:#?}"));
        assert!(
            problem.contains("only an administrator of the organisation can lift this refusal"),
            "{run:#?}"
        );
        let fix = problem.split(" -> ").nth(1).unwrap();
        let expected = match code {
            90094 => {
                format!("ask one to grant consent: {a}/common/adminconsent?client_id={CLIENT}")
            }
            _ => "ask an administrator to assign it".to_string(),
        };
        assert!(fix.contains(&expected), "{run:#?}");
        assert!(
            fix.ends_with(&format!("then sign in again: {}", login(user))),
            "{run:#?}"
        );
    }
}

/// A TLS server on 127.0.0.1 that sends `script` whatever the client says
/// (`openssl s_server` relays its stdin); stopped by its PID when dropped.
struct Scripted {
    child: std::process::Child,
    _stdin: std::process::ChildStdin,
    port: u16,
    cert: std::path::PathBuf,
}

impl Scripted {
    fn start(env: &Env, name: &str, script: &str) -> Scripted {
        use std::io::Write;
        let dir = env.root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        make_cert(&cert, &key);
        let port = free_port();
        let mut child = std::process::Command::new(program("openssl"))
            .args(["s_server", "-quiet", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(script.as_bytes()).unwrap();
        // Listening, seen without connecting (s_server would give a probe the script).
        let listening = format!(":{port:04X} 00000000:0000 0A");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !std::fs::read_to_string("/proc/net/tcp")
            .unwrap()
            .contains(&listening)
        {
            assert!(
                std::time::Instant::now() < deadline,
                "s_server not listening"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // Kept open: s_server ends the session at the end of its input.
        Scripted {
            child,
            _stdin: stdin,
            port,
            cert,
        }
    }

    /// `ooauth2 test smtp` of `USER` against it.
    fn test_smtp(&self, env: &Env) -> Run {
        let port = self.port.to_string();
        let cert = self.cert.to_str().unwrap();
        let more = [
            "smtp",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--tls",
            "implicit",
            "--ca-file",
            cert,
        ];
        env.run(&env.args("test", USER, &more), b"")
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Microsoft 365's SMTP dialogue up to the answer to the XOAUTH2 string.
fn smtp_script(answer: &str) -> String {
    format!(
        "220 fake.outlook.com ESMTP\r\n250-fake.outlook.com\r\n250 AUTH LOGIN XOAUTH2\r\n334 \r\n{answer}\r\n"
    )
}

#[test]
fn microsoft_365_smtp_refusals_name_the_real_cause_and_who_fixes_it() {
    let env = Env::new();
    env.seed(USER);
    let server = Scripted::start(
        &env,
        "smtp-auth-off",
        &smtp_script(
            "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled \
             for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.",
        ),
    );
    let run = server.test_smtp(&env);
    let (error, hint) = error_and_hint(&run);
    run.expect_failure(1, &[]);
    assert!(
        error.ends_with(
            "SmtpClientAuthentication is disabled for the Tenant. Visit \
             https://aka.ms/smtp_auth_disabled for more information.: authenticated SMTP \
             (SMTP AUTH) is turned off for this mailbox or the whole organisation; the token is fine"
        ),
        "{run:#?}"
    );
    assert!(
        hint.starts_with(&format!(
            "only an Exchange administrator can change this: turn Authenticated SMTP on for {USER}"
        )),
        "{run:#?}"
    );
    assert!(!hint.contains("ooauth2 login"), "not a sign-in: {run:#?}");
    drop(server);
    let server = Scripted::start(
        &env,
        "smtp-expire-soon",
        &smtp_script("501 5.5.127 Invalid XOAUTH2 auth data - Token will expire soon"),
    );
    let run = server.test_smtp(&env);
    let (error, hint) = error_and_hint(&run);
    assert!(
        error.ends_with(": the server wants a token with at least 10 minutes left"),
        "{run:#?}"
    );
    assert!(hint.starts_with("retry with --min-ttl 600"), "{run:#?}");
}

// ---------------------------------------------------------------------------
// Item 14: migrating from ooauth2.py
// ---------------------------------------------------------------------------

#[test]
fn ooauth2_py_output_lines_import_as_the_refresh_token_they_hold() {
    let env = Env::new();
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    // The whole of ooauth2.py's output, saved to a file.
    let file = env.root.join("refresh-token.txt");
    std::fs::write(
        &file,
        format!("Refresh Token: {rt}\nAccess Token: at\nAccess Token Expiration Seconds: 3599\n"),
    )
    .unwrap();
    let at_file = format!("@{}", file.display());
    let run = env.run(
        &env.legacy_refresh_args(&[], &["--refresh_token", &at_file], Some(USER)),
        b"",
    );
    run.expect(0);
    assert_eq!(env.records().len(), 1, "{run:#?}");
    // And its first line pasted on stdin.
    let env = Env::new();
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    let run = env.run(
        &env.legacy_refresh_args(&[], &["--refresh_token=-"], None),
        format!("Refresh Token: {rt}\n").as_bytes(),
    );
    run.expect(0);
    assert_eq!(env.record(USER)["client_id"].as_str(), Some(CLIENT));
}

#[test]
fn an_import_under_a_mistyped_user_is_refused_when_the_provider_names_another() {
    let env = Env::new();
    let typo = "me@exmaple.com";
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    let run = env.run(
        &env.legacy_refresh_args(&[], &["--refresh_token=-"], Some(typo)),
        format!("{rt}\n").as_bytes(),
    );
    fails_with(
        &run,
        1,
        &format!(
            "the refresh token is {USER}'s (the provider says so), not {typo}'s; nothing was stored"
        ),
        &format!("check --user: to store it as {USER}'s, give --user={USER}"),
    );
    assert!(env.records().is_empty(), "{:?}", env.records());
    // The helper, also when the mistyped account is stored already.
    env.seed(typo);
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    let run = env.helper_for(typo, &format!("action=store\nrefresh_token={rt}\n"));
    run.expect(1);
    assert_eq!(run.pairs()["error"], "user_mismatch", "{run:#?}");
    assert_eq!(
        run.pairs()["hint"],
        format!("check user: to store it as {USER}'s, give user={USER}")
    );
    assert_eq!(env.records().len(), 1);
    assert_ne!(env.stored_refresh_token(typo), rt);
}

// ---------------------------------------------------------------------------
// Item 6: one ooauth2.py run keeps the account's POP scope
// ---------------------------------------------------------------------------

const POP: &str = "https://outlook.office.com/POP.AccessAsUser.All";

#[test]
fn a_legacy_run_keeps_the_scope_the_account_has() {
    let env = Env::new();
    env.seed(USER);
    assert!(env.record(USER)["scope"].as_str().unwrap().contains(POP));
    // Refresh mode: ooauth2.py's scope, widened to the account's on the wire too.
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    env.idp.reset_log();
    let run = env.run(
        &env.legacy_refresh_args(&[], &["--refresh_token=-"], Some(USER)),
        format!("{rt}\n").as_bytes(),
    );
    run.expect(0);
    assert!(
        run.stderr.contains(&format!(
            "ooauth2: note: kept the scope {USER} already has ("
        )),
        "{run:#?}"
    );
    let sent = env.idp.requests()[0].get("scope").unwrap().to_string();
    assert!(sent.contains(POP), "{sent}");
    assert!(env.record(USER)["scope"].as_str().unwrap().contains(POP));
    // Device mode without --user: the record keeps it too.
    let run = env.run(
        &[
            "--generate_refresh_and_access_token",
            &format!("--client_id={CLIENT}"),
            &format!("--authority={}", env.idp.authority()),
        ],
        b"",
    );
    run.expect(0);
    assert!(run.stderr.contains("note: kept the scope"), "{run:#?}");
    assert!(env.record(USER)["scope"].as_str().unwrap().contains(POP));
    // doctor: POP asked for but not granted is a problem.
    let (path, mut rec) = env.record_path(USER);
    rec["granted_scope"] = serde_json::json!(
        "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send"
    );
    std::fs::write(&path, serde_json::to_vec_pretty(&rec).unwrap()).unwrap();
    let flags = env.account_flags(USER);
    let mut args = vec!["doctor", "--offline"];
    args.extend(flags.iter().map(String::as_str));
    let run = env.run(&args, b"");
    run.expect(1);
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("problem: ") && l.contains("does not cover POP")),
        "{run:#?}"
    );
}

// ---------------------------------------------------------------------------
// The smaller wording items
// ---------------------------------------------------------------------------

#[test]
fn doctor_says_a_refused_token_once_and_tells_two_accounts_of_one_user_apart() {
    let env = Env::new();
    let rt = env.seed(USER);
    seed_in_tenant(&env);
    // The provider refuses the refresh token of the one in tenant common,
    // and a token command marks it.
    env.idp.revoke_refresh_token(&rt);
    let (path, mut rec) = env
        .records()
        .into_iter()
        .find(|(_, r)| r["tenant"] == "common")
        .unwrap();
    rec["expires_at"] = serde_json::json!(1);
    std::fs::write(&path, serde_json::to_vec_pretty(&rec).unwrap()).unwrap();
    env.token(USER, &["--non-interactive"]).expect(1);
    let run = env.run(&["doctor"], b"");
    run.expect(1);
    let problems: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("problem: "))
        .collect();
    assert_eq!(problems.len(), 1, "one refusal, said once: {run:#?}");
    assert!(
        problems[0].starts_with(&format!(
            "problem: account {USER} (tenant common): the provider refused the refresh token"
        )),
        "{run:#?}"
    );
    assert!(
        run.stdout.contains(&format!(
            "ok: account {USER} (tenant {TENANT}): the provider accepted the refresh token"
        )),
        "{run:#?}"
    );
}

#[test]
fn short_lifetimes_and_renewal_are_worded_as_they_are() {
    let env = Env::new();
    env.idp.set_token_lifetime(30);
    let run = env.login(USER, &[]);
    run.expect(0);
    assert!(
        run.stderr.contains(&format!(
            "ooauth2: signed in as {USER}; the access token is valid for under a minute, and the \
             next 'ooauth2 token' after that renews it (nothing runs in the background)"
        )),
        "{run:#?}"
    );
    // A second login of the signed-in account says what it replaces.
    let run = env.login(USER, &[]);
    run.expect(0);
    assert!(
        run.stderr.contains(&format!(
            "ooauth2: note: {USER} (tenant common) is signed in already; this sign-in replaces \
             its stored tokens"
        )),
        "{run:#?}"
    );
}

#[test]
fn command_line_mistakes_read_in_the_two_line_style() {
    let env = Env::new();
    let run = env.run(&["token", "--usr", USER], b"");
    fails_with(
        &run,
        2,
        "unexpected argument '--usr' found",
        "a similar argument exists: '--user'",
    );
    let run = env.run(&["token", "--format", "base64"], b"");
    fails_with(
        &run,
        2,
        "invalid value 'base64' for '--format <FORMAT>'",
        "possible values: raw, xoauth2, oauthbearer, json",
    );
    let run = env.run(&["test"], b"");
    fails_with(
        &run,
        2,
        "the following required arguments were not provided: <SERVICE>",
        "see 'ooauth2 test --help'",
    );
    // erase --help lists the flags that name an account, not those of a grant.
    let help = env.run(&["erase", "--help"], b"").stdout;
    for flag in [
        "--client-id",
        "--tenant",
        "--user",
        "--authority",
        "--provider",
    ] {
        assert!(help.contains(flag), "{flag}: {help}");
    }
    for flag in [
        "--scope",
        "--authorization-endpoint",
        "--device-authorization-endpoint",
        "--client-secret-cmd",
    ] {
        assert!(!help.contains(flag), "{flag}: {help}");
    }
}

#[test]
fn a_provider_that_cannot_be_reached_is_named_with_its_endpoint_and_the_cause_in_words() {
    let env = Env::new();
    let port = free_port();
    let authority = format!("http://127.0.0.1:{port}");
    // A sign-in asks the device authorization endpoint first.
    let run = env.run(&env.args_at("login", &authority, USER, &[]), b"");
    fails_with(
        &run,
        75,
        &format!(
            "cannot connect to 127.0.0.1:{port} (device authorization endpoint): the connection \
             was refused (nothing listens on that port, or a firewall rejects it)"
        ),
        "check the network connection and try again",
    );
    // doctor says it in the same words, without the HTTP stack's layers.
    let flags = env.account_flags_at(&authority, USER);
    let mut args = vec!["doctor"];
    args.extend(flags.iter().map(String::as_str));
    let run = env.run(&args, b"");
    assert!(
        run.stdout.contains(&format!(
            "problem: cannot reach 127.0.0.1:{port}: the connection was refused (nothing \
             listens on that port, or a firewall rejects it) -> "
        )),
        "{run:#?}"
    );
    for internal in ["client error", "tcp connect error", "os error"] {
        assert!(!run.stdout.contains(internal), "{internal}: {run:#?}");
    }
}
