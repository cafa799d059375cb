//! `ooauth2 store migrate`: an account's refresh token moved between the
//! `file` and `command` stores (real `age`), its config table changed to
//! match with every other byte of the file kept, and an account that
//! fails left as it was while the others move.

use crate::support::run::{CLIENT, Env, Run, USER};
use crate::support::sealer::{Sealer, age_identity};
use mock_idp::Grant;
use std::path::{Path, PathBuf};

/// The second account of these tests.
const OTHER: &str = "other@example.com";

/// A config file with `[accounts.work]` for `USER` (its `extra` lines
/// added) and `[accounts.home]` for `OTHER`, with comments that must stay.
fn config(env: &Env, work_extra: &str) -> PathBuf {
    let authority = env.idp.authority();
    env.write_config(&format!(
        "# my accounts\n[accounts.work] # the job\nauthority = \"{authority}\"\n\
         client_id = \"{CLIENT}\"  # from IT\nuser = \"{USER}\"\n{work_extra}\n\
         # the other one\n[accounts.home]\nauthority = \"{authority}\"\n\
         client_id = \"{CLIENT}\"\nuser = \"{OTHER}\"\n"
    ))
}

/// `ooauth2 ARGS` with the config file and `sealer`'s environment.
fn run(env: &Env, config: &Path, sealer: &Sealer, args: &[&str]) -> Run {
    let mut cmd = env.command(args);
    cmd.env("OOAUTH2_CONFIG", config);
    cmd.envs(sealer.env.iter().map(|(k, v)| (k, v)));
    env.run_with(cmd, b"")
}

/// Imports a refresh token the mock issued for config account `name`
/// (`user`); returns the one stored (the import's refresh may rotate it).
fn seed(env: &Env, config: &Path, sealer: &Sealer, (name, user): (&str, &str)) -> String {
    let rt = env.idp.issue_refresh_token(user, CLIENT);
    let import = format!("account={name}\naction=store\nrefresh_token={rt}\n\n");
    env.run_with_config(config, &["helper"], import.as_bytes())
        .expect(0);
    resting_token(env, user, sealer)
}

/// The refresh token of `user` as the record holds it: in the clear, or
/// opened by `sealer` when sealed.
fn resting_token(env: &Env, user: &str, sealer: &Sealer) -> String {
    let rec = env.record(user);
    match rec["refresh_token_sealed"].as_str() {
        Some(sealed) => sealer.open(sealed),
        None => rec["refresh_token"].as_str().unwrap().to_string(),
    }
}

/// The record file of `user` and the config file, as bytes.
fn files(env: &Env, config: &Path, user: &str) -> (Vec<u8>, Vec<u8>) {
    let record = std::fs::read(env.record_path(user).0).unwrap();
    (record, std::fs::read(config).unwrap())
}

/// After an expiry, `token NAME` refreshes once and answers.
fn refreshes(env: &Env, config: &Path, sealer: &Sealer, name: &str, user: &str) {
    env.expire_cached(user);
    env.idp.reset_log();
    run(env, config, sealer, &["token", name]).expect(0);
    assert_eq!(env.idp.count(Grant::Refresh), 1);
}

#[test]
fn a_file_account_moves_to_age_and_back_with_its_config_table() {
    let env = Env::new();
    env.idp.set_strict_rotation(true);
    let age = Sealer::age(&env);
    let config = config(&env, "");
    let rt = seed(&env, &config, &age, ("work", USER));
    let before = std::fs::read_to_string(&config).unwrap();
    let migrate = |to: &str, extra: &[&str]| {
        let mut args = vec!["store", "migrate", "work", "--to", to];
        args.extend(extra);
        let done = run(&env, &config, &age, &args);
        done.expect(0);
        assert!(done.stdout.is_empty(), "{done:#?}");
        assert!(!done.stderr.contains(&rt), "{done:#?}");
        done
    };
    let flags = ["--encrypt-cmd", &age.encrypt, "--decrypt-cmd", &age.decrypt];
    let done = migrate("command", &flags);
    assert!(
        done.stderr.contains("moved to the record, sealed"),
        "{done:#?}"
    );
    let rec = env.record(USER);
    assert!(
        rec["refresh_token"].is_null() && rec["version"] == 2,
        "{rec:#}"
    );
    assert_eq!(resting_token(&env, USER, &age), rt);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("secret_store = \"command\""), "{text}");
    assert!(
        text.contains(&format!("decrypt_cmd = \"{}\"", age.decrypt)),
        "{text}"
    );
    // Every other byte stays: the comments, the other account.
    let (head, tail) = before.split_at(before.find("\n# the other one").unwrap());
    assert!(
        text.starts_with(head.trim_end()) && text.ends_with(tail),
        "{text}"
    );
    // Later requests agree with the record: a refresh reseals the new token.
    refreshes(&env, &config, &age, "work", USER);
    assert!(env.record(USER)["refresh_token"].is_null());
    let rotated = resting_token(&env, USER, &age);
    assert_ne!(rotated, rt);
    // And back to the file: the commands go from the table.
    migrate("file", &[]);
    let rec = env.record(USER);
    assert!(
        rec["refresh_token_sealed"].is_null() && rec["version"] == 1,
        "{rec:#}"
    );
    assert_eq!(rec["refresh_token"], rotated.as_str());
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("secret_store = \"file\"") && !text.contains("_cmd"),
        "{text}"
    );
    refreshes(&env, &config, &age, "work", USER);
    // Where it already is: said, and nothing changes.
    let was = files(&env, &config, USER);
    let done = migrate("file", &[]);
    assert!(
        done.stderr
            .contains("in the file store already; nothing was changed"),
        "{done:#?}"
    );
    assert_eq!(files(&env, &config, USER), was);
}

#[test]
fn an_account_that_fails_is_left_as_it_was_and_the_others_move() {
    let env = Env::new();
    let age = Sealer::age(&env);
    let sealed = format!(
        "secret_store = \"command\"\nencrypt_cmd = \"{}\"\ndecrypt_cmd = \"{}\"",
        age.encrypt, age.decrypt
    );
    let config = config(&env, &sealed);
    seed(&env, &config, &age, ("work", USER));
    let home_rt = seed(&env, &config, &age, ("home", OTHER));
    // A stored account without a config entry.
    let loose = "loose@example.com";
    env.seed(loose);
    // work's decrypt_cmd breaks: it cannot be opened to move.
    let text = std::fs::read_to_string(&config).unwrap();
    let broken = text.replace(
        &format!("decrypt_cmd = \"{}\"", age.decrypt),
        "decrypt_cmd = \"cat >/dev/null; echo 'no key' >&2; exit 1\"",
    );
    let config = env.write_config(&broken);
    let was = files(&env, &config, USER);
    let flags = ["--encrypt-cmd", &age.encrypt, "--decrypt-cmd", &age.decrypt];
    let mut args = vec!["store", "migrate", "--all", "--to", "command"];
    args.extend(flags);
    let done = run(&env, &config, &age, &args);
    done.expect_failure(
        2,
        &[
            "ooauth2: error: work: ",
            "no key",
            "loose@example.com (client id",
            "has no config entry",
            "ooauth2 setup NAME --no-login",
            "2 of 3 accounts were not moved to command",
        ],
    );
    assert!(
        done.stdout.is_empty() && !done.stderr.contains(&home_rt),
        "{done:#?}"
    );
    // work: record and config file as they were but for home's table.
    assert_eq!(files(&env, &config, USER).0, was.0);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("exit 1\""), "{text}");
    // home moved; the loose account is untouched.
    assert_eq!(resting_token(&env, OTHER, &age), home_rt);
    assert!(env.record(OTHER)["refresh_token"].is_null());
    assert!(env.record(loose)["refresh_token"].is_string());
    refreshes(&env, &config, &age, "home", OTHER);
}

#[test]
fn bad_targets_and_unknown_accounts_change_nothing() {
    let env = Env::new();
    let age = Sealer::age(&env);
    let config = config(&env, "");
    let rt = seed(&env, &config, &age, ("work", USER));
    let was = files(&env, &config, USER);
    let cases: &[(&[&str], i32, &[&str])] = &[
        (
            &["--to", "keychain", "work"],
            2,
            &["unknown --to 'keychain'", "use file"],
        ),
        (
            &["--to", "command", "work"],
            2,
            &["needs an encrypt_cmd and a decrypt_cmd", "--encrypt-cmd"],
        ),
        (
            &["--to", "file", "nosuch"],
            2,
            &["nosuch", "1 of 1 accounts"],
        ),
        (
            // What the decrypt command opens must be what was sealed.
            &[
                "--to",
                "command",
                "work",
                "--encrypt-cmd",
                &age.encrypt,
                "--decrypt-cmd",
                "cat >/dev/null; echo other-token",
            ],
            75,
            &["did not give back the refresh token", "nothing was changed"],
        ),
    ];
    for (extra, status, needles) in cases {
        let mut args = vec!["store", "migrate"];
        args.extend(*extra);
        let done = run(&env, &config, &age, &args);
        done.expect_failure(*status, needles);
        assert!(
            done.stdout.is_empty() && !done.stderr.contains(&rt),
            "{done:#?}"
        );
        assert_eq!(files(&env, &config, USER), was, "{extra:?}");
    }
    // Neither a name nor --all: a usage error.
    run(&env, &config, &age, &["store", "migrate", "--to", "file"]).expect(2);
}

#[test]
fn an_account_that_keeps_its_access_token_sealed_cannot_go_to_file() {
    let env = Env::new();
    let age = Sealer::age(&env);
    let sealed = format!(
        "secret_store = \"command\"\nencrypt_cmd = \"{}\"\ndecrypt_cmd = \"{}\"\n\
         cache_access_token = false",
        age.encrypt, age.decrypt
    );
    let config = config(&env, &sealed);
    let rt = seed(&env, &config, &age, ("work", USER));
    assert!(env.record(USER)["access_token_sealed"].is_string());
    let was = files(&env, &config, USER);
    let done = run(
        &env,
        &config,
        &age,
        &["store", "migrate", "work", "--to", "file"],
    );
    done.expect_failure(2, &["work: ", "needs --secret-store command"]);
    assert!(!done.stderr.contains(&rt), "{done:#?}");
    assert_eq!(files(&env, &config, USER), was);
    // To other commands it moves, and the access token stays out of the record.
    let key = env.root.join("age-key-2.txt");
    let other = Sealer {
        encrypt: format!("age -r {}", age_identity(&key)),
        decrypt: format!("age -d -i {}", key.display()),
        env: Vec::new(),
    };
    let flags = [
        "--encrypt-cmd",
        &other.encrypt,
        "--decrypt-cmd",
        &other.decrypt,
    ];
    let mut args = vec!["store", "migrate", "work", "--to", "command"];
    args.extend(flags);
    run(&env, &config, &age, &args).expect(0);
    let rec = env.record(USER);
    assert!(
        rec["access_token"].is_null() && rec["access_token_sealed"].is_null(),
        "{rec:#}"
    );
    assert_eq!(resting_token(&env, USER, &other), rt);
    refreshes(&env, &config, &other, "work", USER);
    assert!(env.record(USER)["access_token_sealed"].is_string());
}
