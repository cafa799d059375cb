//! The first hour's rough edges (issue 12), each through the built binary:
//! `status` at 80 columns with what fixes each account, a leading
//! subcommand flag that is not ooauth2.py's, config typos named with their
//! fix, and account names offered by the shell completions.

use crate::support::mail::program;
use crate::support::run::{Env, Run, USER, bin, path_with};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A client id as Microsoft hands them out.
const GUID: &str = "9e5f94bc-e8a4-4e73-b8be-63364c29d753";
/// A second one.
const GUID2: &str = "0c1d2e3f-4a5b-4c6d-8e7f-90a1b2c3d4e5";
/// A long address, as companies make them.
const LONG_USER: &str = "firstname.lastname@contoso.onmicrosoft.com";
/// Its tenant.
const TENANT: &str = "contoso.onmicrosoft.com";

/// Stores a refresh token the mock issued for `user` of `client` in `tenant`.
fn store(env: &Env, client: &str, tenant: &str, user: &str) {
    let rt = env.idp.issue_refresh_token(user, client);
    let req = format!(
        "action=store\nclient_id={client}\ntenant={tenant}\nauthority={}\nuser={user}\n\
         refresh_token={rt}\n\n",
        env.idp.authority()
    );
    env.run(&["helper"], req.as_bytes()).expect(0);
}

/// A config of `work` (stored, ready), `home` (never signed in) and
/// `shared` (no client id yet); `old@example.com` is stored under no name
/// and its refresh token was refused.
fn accounts(env: &Env) -> std::path::PathBuf {
    store(env, GUID, TENANT, LONG_USER);
    let rt = env.seed("old@example.com");
    env.expire_cached("old@example.com");
    env.idp.revoke_refresh_token(&rt);
    env.token("old@example.com", &["--non-interactive"])
        .expect(1);
    let a = env.idp.authority();
    env.write_config(&format!(
        "[accounts.work]\nclient_id = \"{GUID}\"\ntenant = \"{TENANT}\"\nauthority = \"{a}\"\n\
         user = \"{LONG_USER}\"\n\
         [accounts.home]\nclient_id = \"{GUID2}\"\ntenant = \"consumers\"\nuser = \"me@outlook.com\"\n\
         [accounts.shared]\nuser = \"team@example.com\"\n"
    ))
}

/// `run`'s stdout with the mock's address and the config's path as words.
fn normalised(env: &Env, config: &Path, run: &Run) -> String {
    run.stdout
        .replace(&env.idp.authority(), "AUTHORITY")
        .replace(&config.display().to_string(), "CONFIG")
}

#[test]
fn status_fits_80_columns_and_says_what_fixes_each_account() {
    let env = Env::new();
    let config = accounts(&env);
    let run = env.run_with_config(&config, &["status"], b"");
    run.expect(0);
    let golden = "\
NAME    USER                       CLIENT ID  TENANT             STATE
work    firstname.lastname@conto…  9e5f94bc…  contoso.onmicros…  renews itself
home    me@outlook.com             0c1d2e3f…  consumers          never signed in
  to sign in: ooauth2 login home
shared  -                          -          -                  incomplete
  to complete it: add client_id = \"...\" to [accounts.shared] in CONFIG
-       old@example.com            11111111…  common             needs sign-in
  to sign in again: ooauth2 login --client-id 11111111-2222-3333-4444-555555555555 \
--user old@example.com --authority AUTHORITY
";
    let table = normalised(&env, &config, &run);
    for line in table.lines().filter(|l| !l.starts_with("  ")) {
        assert!(line.chars().count() <= 80, "{line:?} in\n{table}");
    }
    assert_eq!(table, golden, "\n{table}");
}

#[test]
fn status_wide_shows_every_column_in_full_and_json_the_fix() {
    let env = Env::new();
    let config = accounts(&env);
    let run = env.run_with_config(&config, &["status", "--wide"], b"");
    run.expect(0);
    let table = normalised(&env, &config, &run);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("REFRESH TOKEN OBTAINED"),
        "{table}"
    );
    let work = lines.iter().find(|l| l.starts_with("work ")).unwrap();
    for needle in [
        LONG_USER,
        GUID,
        "contoso.onmicrosoft.com (AUTHORITY)",
        "expires in",
    ] {
        assert!(work.contains(needle), "{needle:?} not in {work:?}");
    }
    assert!(
        table.contains("\n  to sign in: ooauth2 login home\n"),
        "{table}"
    );
    let run = env.run_with_config(&config, &["status", "--json"], b"");
    run.expect(0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let by_name = |n: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("home")["fix"], "to sign in: ooauth2 login home");
    assert_eq!(by_name("work")["fix"], serde_json::Value::Null);
    assert_eq!(by_name("work")["client_id"], GUID);
    assert_eq!(by_name("shared")["state"], "incomplete: no client_id");
    env.run(&["status", "--json", "--wide"], b"").expect(2);
}

// ---------------------------------------------------------------------------
// A leading flag: ooauth2.py's options select the legacy front end, nothing else
// ---------------------------------------------------------------------------

#[test]
fn a_leading_subcommand_flag_is_clap_s_not_the_legacy_parser_s() {
    let env = Env::new();
    let mut args = vec!["--no-open".to_string()];
    args.extend(env.args("login", USER, &[]));
    let run = env.run(&args, b"");
    run.expect_failure(2, &["unexpected argument '--no-open'", "'login --no-open'"]);
    assert!(!run.stderr.contains("no such option"), "{run:#?}");
    assert!(env.records().is_empty());
    // A global flag first runs the command.
    env.seed(USER);
    let mut args = vec!["--verbose".to_string()];
    args.extend(env.args("token", USER, &["--non-interactive"]));
    let run = env.run(&args, b"");
    run.expect(0);
    assert_eq!(run.stdout, format!("{}\n", env.cached_access_token(USER)));
}

#[test]
fn help_points_at_the_legacy_options_and_that_pointer_works() {
    let env = Env::new();
    let run = env.run(&["--help"], b"");
    run.expect(0);
    let pointer = "`ooauth2 --generate_access_token --help` lists them";
    assert!(
        run.stdout.contains("Alpine's ooauth2.py options"),
        "{run:#?}"
    );
    assert!(run.stdout.contains(pointer), "{run:#?}");
    let run = env.run(&["--generate_access_token", "--help"], b"");
    run.expect(0);
    let all = format!("{}{}", run.stdout, run.stderr);
    for option in [
        "--generate_refresh_and_access_token",
        "--client_id",
        "--encoded",
    ] {
        assert!(all.contains(option), "{option} not listed: {run:#?}");
    }
}

// ---------------------------------------------------------------------------
// Config typos
// ---------------------------------------------------------------------------

#[test]
fn an_unquoted_value_is_named_with_the_line_as_it_should_read() {
    let env = Env::new();
    let config = env.write_config("# mail\n[accounts.work]\nclient_id = test-client\n");
    let run = env.run_with_config(&config, &["token", "work"], b"");
    let at = format!("{}:3:", config.display());
    run.expect_failure(2, &[&at]);
    assert_eq!(
        run.stderr,
        format!(
            "ooauth2: error: {at} [accounts.work] client_id: the value is not quoted\n\
             ooauth2: hint: values are quoted: client_id = \"test-client\"\n"
        )
    );
    assert!(!run.stderr.contains("boolean"), "{run:#?}");
}

#[test]
fn a_mistyped_key_gets_did_you_mean_and_a_far_one_the_list() {
    let env = Env::new();
    let config = env.write_config("[accounts.work]\nclientid = \"test-client\"\n");
    let run = env.run_with_config(&config, &["token", "work"], b"");
    let at = format!("{}:2:", config.display());
    run.expect_failure(2, &[]);
    assert_eq!(
        run.stderr,
        format!(
            "ooauth2: error: {at} [accounts.work]: unknown key 'clientid'\n\
             ooauth2: hint: did you mean client_id?\n"
        )
    );
    let config = env.write_config("[accounts.work]\npassword = \"x\"\n");
    let run = env.run_with_config(&config, &["status"], b"");
    run.expect_failure(
        2,
        &[
            "unknown key 'password'",
            "the keys are: provider, client_id,",
        ],
    );
}

// ---------------------------------------------------------------------------
// Account names in the shell completions
// ---------------------------------------------------------------------------

/// A config of `work` and `home`, the completion script for `shell` in
/// `dir`, and a PATH whose `ooauth2` is the built binary (the scripts call
/// `ooauth2 accounts`).
fn completion_setup(env: &Env, shell: &str) -> (PathBuf, PathBuf, String) {
    let config = env
        .write_config("[accounts.work]\nclient_id = \"c\"\n\n[accounts.home]\nclient_id = \"d\"\n");
    let run = env.run(&["completions", shell], b"");
    run.expect(0);
    let dir = env.root.join(format!("completions-{shell}"));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join(if shell == "zsh" {
        "_ooauth2"
    } else {
        "ooauth2"
    });
    std::fs::write(&script, &run.stdout).unwrap();
    let bin_dir = bin().parent().unwrap().to_path_buf();
    (config, script, path_with(&bin_dir))
}

#[test]
fn the_hidden_lister_prints_the_config_s_account_names() {
    let env = Env::new();
    let (config, _, _) = completion_setup(&env, "bash");
    let run = env.run_with_config(&config, &["accounts"], b"");
    run.expect(0);
    assert_eq!(run.stdout, "work\nhome\n");
    // No config file: no names, no error.
    let run = env.run_with_config(&env.root.join("none.toml"), &["accounts"], b"");
    run.expect(0);
    assert_eq!(run.stdout, "");
    // Hidden: not in the help.
    let run = env.run(&["--help"], b"");
    assert!(!run.stdout.contains("\n  accounts"), "{run:#?}");
}

#[test]
fn bash_completes_account_names_for_the_commands_that_take_one() {
    let env = Env::new();
    let (config, script, path) = completion_setup(&env, "bash");
    // COMP_WORDS as bash sets them; the function's arguments are the
    // command, the word being completed and the one before it.
    let complete = |words: &str| {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source {} && COMP_WORDS=({words}) && COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)) && \
                 _ooauth2 ooauth2 \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\" && \
                 printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                script.display()
            ))
            .env("PATH", &path)
            .env("OOAUTH2_CONFIG", &config)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    for sub in ["token", "login", "erase", "doctor"] {
        let words = complete(&format!("ooauth2 {sub} ''"));
        assert!(words.starts_with("work\nhome\n"), "{sub}: {words}");
        assert_eq!(complete(&format!("ooauth2 {sub} w")), "work\n", "{sub}");
    }
    assert_eq!(complete("ooauth2 test imap h"), "home\n");
    assert_eq!(complete("ooauth2 store migrate w"), "work\n");
    // A flag's value, a command without accounts, the hidden lister: no names.
    assert!(!complete("ooauth2 token --user w").contains("work"));
    assert!(!complete("ooauth2 status ''").contains("work"));
    assert_eq!(complete("ooauth2 acc"), "\n");
}

#[test]
fn zsh_completes_account_names_on_a_terminal() {
    // Fails, naming the packages, when zsh is not installed.
    program("zsh");
    let env = Env::new();
    let (config, script, path) = completion_setup(&env, "zsh");
    // An interactive zsh on a pseudo-terminal (util-linux script): TAB
    // after `ooauth2 doctor h`, then the line shown is killed (^U).
    let keys = format!(
        "fpath=({} $fpath); autoload -U compinit; compinit -u -D\n\
         ooauth2 doctor h\t",
        script.parent().unwrap().display()
    );
    let screen = on_terminal(&["zsh", "-f", "-i"], &keys, &path, &config, "doctor home ");
    assert!(screen.contains("ooauth2 doctor home "), "{screen}");
}

#[test]
fn fish_completes_account_names() {
    program("fish");
    let env = Env::new();
    let (config, script, path) = completion_setup(&env, "fish");
    let complete = |line: &str| {
        let out = Command::new("fish")
            .args(["--no-config", "-c"])
            .arg(format!("source {}; complete -C '{line}'", script.display()))
            .env("PATH", &path)
            .env("HOME", env.root.join("home"))
            .env("OOAUTH2_CONFIG", &config)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    for sub in ["token", "login", "erase", "doctor", "test imap"] {
        assert_eq!(
            complete(&format!("ooauth2 {sub} ")),
            "home\taccount\nwork\taccount\n",
            "{sub}"
        );
    }
    assert!(!complete("ooauth2 status ").contains("work"));
    assert_eq!(complete("ooauth2 acc"), "");
}

/// Runs `shell` on a pseudo-terminal, types `keys`, and returns what the
/// terminal showed once it shows `needle` (or after 20 s).
fn on_terminal(shell: &[&str], keys: &str, path: &str, config: &Path, needle: &str) -> String {
    let mut child = Command::new("script")
        .args(["-q", "-f", "-e", "-c", &shell.join(" "), "/dev/null"])
        .env_clear()
        .env("PATH", path)
        .env("TERM", "dumb")
        .env("HOME", config.parent().unwrap())
        .env("OOAUTH2_CONFIG", config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("util-linux script");
    let mut input = child.stdin.take().unwrap();
    let mut out = child.stdout.take().unwrap();
    let screen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&screen);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = out.read(&mut buf) {
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let shown = || String::from_utf8_lossy(&screen.lock().unwrap()).into_owned();
    for line in keys.split_inclusive('\n') {
        input.write_all(line.as_bytes()).unwrap();
        input.flush().unwrap();
        // Each line's prompt first, so the keys are not typed ahead.
        std::thread::sleep(Duration::from_millis(500));
    }
    let start = Instant::now();
    while !shown().contains(needle) && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    input.write_all(b"\x15exit\n").unwrap();
    drop(input);
    let _ = child.wait();
    shown()
}
