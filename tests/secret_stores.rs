//! `secret_store = command`: the refresh token sealed in the record by the
//! account's `encrypt_cmd` and opened by its `decrypt_cmd`, with real `age`
//! and `gpg`, and commands that fail, hang or print garbage.

use crate::support::run::{CLIENT, Env, USER, set_mode, sh_quote};
use crate::support::sealer::{Sealer, age_identity};
use mock_idp::Grant;
use std::path::{Path, PathBuf};

/// The record file of `USER`, as bytes.
fn record_bytes(env: &Env) -> Vec<u8> {
    std::fs::read(env.record_path(USER).0).unwrap()
}

/// Whether the record of `USER` holds `token` anywhere, in any field.
fn record_holds(env: &Env, token: &str) -> bool {
    String::from_utf8_lossy(&record_bytes(env)).contains(token)
}

/// Checks that the record of `USER` is sealed: no plaintext refresh token
/// field, the new record version, and not the provider's newest token.
fn assert_sealed(env: &Env) {
    let rec = env.record(USER);
    assert!(rec["refresh_token"].is_null(), "{rec:#}");
    assert!(rec["refresh_token_sealed"].is_string(), "{rec:#}");
    // Version 2, or 4 when the access token is sealed too.
    let version = match rec["access_token_sealed"].is_string() {
        true => 4,
        false => 2,
    };
    assert_eq!(rec["version"], version, "{rec:#}");
    let newest = env.idp.last_refresh_token_for(USER).unwrap();
    assert!(
        !record_holds(env, &newest),
        "plaintext refresh token in {rec:#}"
    );
}

/// Sets the record's access token to expire in `secs` (under min_ttl).
fn expire_in(env: &Env, secs: u64) {
    let (path, mut v) = env.record_path(USER);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    v["expires_at"] = serde_json::json!(now + secs);
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

#[test]
fn age_seals_at_sign_in_and_rotation_reseals_the_newest_token() {
    let env = Env::new();
    env.idp.set_strict_rotation(true);
    let age = Sealer::age(&env);
    // A device sign-in stores no plaintext refresh token.
    let run = age.helper(&env, "action=login\ninteractive=always");
    run.expect(0);
    assert_sealed(&env);
    for _ in 0..2 {
        let before = env.record(USER)["refresh_token_sealed"].clone();
        env.expire_cached(USER);
        env.idp.reset_log();
        let run = age.token(&env, &["--format", "json"], &[]);
        run.expect(0);
        assert!(run.stdout.contains("\"source\":\"refresh\""), "{run:#?}");
        assert_eq!(env.idp.count(Grant::Refresh), 1);
        assert_sealed(&env);
        assert_ne!(env.record(USER)["refresh_token_sealed"], before);
    }
    // The cached path never runs decrypt_cmd: a broken one does not matter.
    let broken = age.decrypting_with("exit 1");
    broken.token(&env, &[], &[]).expect(0);
    let status = env.run(&["status", "--json"], b"");
    status.expect(0);
    assert!(
        status
            .stdout
            .contains("\"secret_store\":\"command (sealed)\""),
        "{status:#?}"
    );
    // erase removes the sealed token with the record.
    let erase = env.run(&env.args("erase", USER, &[]), b"");
    erase.expect(0);
    assert!(env.records().is_empty());
}

#[test]
fn gpg_seals_and_opens_the_refresh_token() {
    let env = Env::new();
    env.idp.set_strict_rotation(true);
    let gpg = Sealer::gpg(&env);
    let rt = gpg.seed(&env);
    assert_sealed(&env);
    assert!(!record_holds(&env, &rt));
    for _ in 0..2 {
        env.expire_cached(USER);
        env.idp.reset_log();
        gpg.token(&env, &[], &[]).expect(0);
        assert_eq!(env.idp.count(Grant::Refresh), 1);
        assert_sealed(&env);
    }
}

#[test]
fn an_unusable_decrypt_is_secret_store_unavailable_and_changes_nothing() {
    let env = Env::new();
    let age = Sealer::age(&env);
    let rt = age.seed(&env);
    let cases: &[(&str, &str)] = &[
        (
            "cat >/dev/null; echo 'gpg: decryption failed: No secret key' >&2; exit 1",
            "failed with exit status 1: gpg: decryption failed: No secret key",
        ),
        ("sleep 30", "did not finish within 1 s"),
        (
            "cat >/dev/null; printf '\\001\\002garbage'",
            "no usable refresh token",
        ),
        ("cat >/dev/null", "no usable refresh token"),
        (
            "cat >/dev/null; head -c 20000 /dev/zero | tr '\\0' a",
            "no usable refresh token",
        ),
    ];
    for (decrypt, said) in cases {
        let mut bad = age.decrypting_with(decrypt);
        bad.env
            .push(("OOAUTH2_SECRET_CMD_TIMEOUT".into(), PathBuf::from("1")));
        env.expire_cached(USER);
        let before = record_bytes(&env);
        env.idp.reset_log();
        let run = bad.token(&env, &[], &[]);
        run.expect_failure(
            75,
            &[said, "ooauth2: hint: is gpg-agent", "check --decrypt-cmd"],
        );
        assert!(!run.stderr.contains(&rt), "{run:#?}");
        assert_eq!(record_bytes(&env), before, "{decrypt}");
        assert_eq!(env.idp.total_count(), 0, "{decrypt}");
        let helper = bad.helper(&env, "");
        assert_eq!(
            helper.pairs().get("error").map(String::as_str),
            Some("secret_store_unavailable")
        );
        // A cached token still valid (though under min_ttl) is served, with a warning.
        expire_in(&env, 120);
        let run = bad.token(&env, &[], &[]);
        run.expect(0);
        assert_eq!(run.stdout.trim(), env.cached_access_token(USER));
        assert!(
            run.stderr.contains("ooauth2: warning: could not refresh") && run.stderr.contains(said),
            "{run:#?}"
        );
    }
    // With a working decrypt_cmd the account refreshes as before.
    env.expire_cached(USER);
    age.token(&env, &[], &[]).expect(0);
}

#[test]
fn a_broken_encrypt_fails_before_any_token_request() {
    let env = Env::new();
    let age = Sealer::age(&env);
    let broken = age.encrypting_with("cat >/dev/null; echo 'age: no recipient' >&2; exit 2");
    // At sign-in (device) and at an import, before the provider is asked.
    for request in [
        "action=login\ninteractive=always",
        "action=store\nrefresh_token=rt-x",
    ] {
        let run = broken.helper(&env, request);
        assert_eq!(
            run.pairs().get("error").map(String::as_str),
            Some("secret_store_unavailable"),
            "{run:#?}"
        );
        assert!(
            run.stdout
                .contains("encrypt_cmd failed with exit status 2: age: no recipient")
        );
        assert_eq!(env.idp.total_count(), 0, "{request}");
    }
    assert!(env.records().is_empty());
    // At a refresh.
    age.seed(&env);
    env.expire_cached(USER);
    let before = record_bytes(&env);
    env.idp.reset_log();
    let run = broken.token(&env, &[], &[]);
    run.expect_failure(
        75,
        &[
            "ooauth2: error: --encrypt-cmd failed with exit status 2: age: no recipient",
            "ooauth2: hint: check --encrypt-cmd (its recipient or key)",
        ],
    );
    assert_eq!(env.idp.total_count(), 0);
    assert_eq!(record_bytes(&env), before);
}

/// A hardware key's "touch it" (age-plugin-yubikey, gpg's card) comes on
/// the decrypt command's stderr: the person sees it while it waits.
#[test]
fn what_the_decrypt_command_says_reaches_the_person() {
    let env = Env::new();
    let age = Sealer::age(&env);
    age.seed(&env);
    env.expire_cached(USER);
    let prompting = age.decrypting_with(&format!("echo 'touch your key now' >&2; {}", age.decrypt));
    let run = prompting.token(&env, &[], &[]);
    run.expect(0);
    assert!(run.stderr.contains("touch your key now\n"), "{run:#?}");
}

#[test]
fn a_plaintext_account_switched_to_command_is_sealed_at_its_next_refresh() {
    let env = Env::new();
    env.idp.set_strict_rotation(true);
    let age = Sealer::age(&env);
    let rt = env.seed(USER);
    let config = env.write_config(&format!(
        "[accounts.work]\nclient_id = \"{CLIENT}\"\nauthority = \"{}\"\nuser = \"{USER}\"\n\
         secret_store = \"command\"\nencrypt_cmd = \"{}\"\ndecrypt_cmd = \"{}\"\n",
        env.idp.authority(),
        age.encrypt,
        age.decrypt.replace('\'', "")
    ));
    let status = || {
        let run = env.run_with_config(&config, &["status", "--json"], b"");
        run.expect(0);
        run.stdout.clone()
    };
    // A cached answer writes nothing: the record stays as it was.
    env.run_with_config(&config, &["token", "work"], b"")
        .expect(0);
    assert!(record_holds(&env, &rt));
    assert!(status().contains("\"secret_store\":\"command (not sealed yet)\""));
    env.expire_cached(USER);
    env.run_with_config(&config, &["token", "work"], b"")
        .expect(0);
    assert_sealed(&env);
    assert!(status().contains("\"secret_store\":\"command (sealed)\""));
    let doctor = env.run_with_config(&config, &["doctor", "--offline", "work"], b"");
    assert!(
        doctor
            .stdout
            .contains("it rests in: command (sealed) (its encrypt_cmd answers)"),
        "{doctor:#?}"
    );
    // An encrypt command that fails is doctor's problem, named.
    let text = std::fs::read_to_string(&config).unwrap();
    let broken = env.write_config(&text.replace(&age.encrypt, "echo no recipient >&2; exit 3"));
    let doctor = env.run_with_config(&broken, &["doctor", "--offline", "work"], b"");
    assert_ne!(doctor.status, 0, "{doctor:#?}");
    assert!(
        doctor
            .stdout
            .contains("a command store whose encrypt_cmd fails")
            && doctor.stdout.contains("no recipient"),
        "{doctor:#?}"
    );
    env.write_config(&text);
    env.expire_cached(USER);
    env.run_with_config(&config, &["token", "work"], b"")
        .expect(0);
    assert_sealed(&env);
    // The account without its commands: a sealed token it cannot open.
    env.expire_cached(USER);
    let run = env.token(USER, &[]);
    run.expect_failure(
        2,
        &[
            "is sealed, but no decrypt_cmd is configured",
            "secret_store",
        ],
    );
}

#[test]
fn thirty_two_callers_on_an_expired_sealed_account_make_one_refresh() {
    let env = Env::new();
    env.idp.set_strict_rotation(true);
    let age = Sealer::age(&env);
    age.seed(&env);
    env.expire_cached(USER);
    env.idp.reset_log();
    let runs = env.stampede(32, USER, &age.lines(), None);
    let tokens: Vec<String> = runs
        .iter()
        .map(|run| {
            run.expect(0);
            run.pairs()["access_token"].clone()
        })
        .collect();
    assert_eq!(env.idp.count(Grant::Refresh), 1);
    assert!(tokens.iter().all(|t| t == &tokens[0]));
    assert_sealed(&env);
    env.expire_cached(USER);
    age.token(&env, &[], &[]).expect(0);
}

/// A stub command that logs its argv and environment to `log`, then runs `body`.
fn logging_stub(dir: &Path, name: &str, log: &Path, body: &str) -> String {
    let path = dir.join(name);
    let log = sh_quote(&log.to_string_lossy());
    std::fs::write(
        &path,
        format!("#!/bin/sh\n{{ echo \"argv: $0 $*\"; env; }} >> {log}\n{body}\n"),
    )
    .unwrap();
    set_mode(&path, 0o755);
    sh_quote(&path.to_string_lossy())
}

#[test]
fn the_refresh_token_never_reaches_stderr_argv_or_the_environment() {
    let env = Env::new();
    env.idp.set_strict_rotation(true);
    let log = env.root.join("stub.log");
    let stub = Sealer {
        encrypt: logging_stub(&env.root, "enc", &log, "exec rev"),
        decrypt: logging_stub(&env.root, "dec", &log, "exec rev"),
        env: Vec::new(),
    };
    let first = stub.seed(&env);
    let mut seen = vec![first];
    for _ in 0..2 {
        env.expire_cached(USER);
        let run = stub.token(&env, &["-vv"], &[]);
        run.expect(0);
        seen.push(env.idp.last_refresh_token_for(USER).unwrap());
        for rt in &seen {
            assert!(!run.stderr.contains(rt.as_str()), "{run:#?}");
            assert!(!record_holds(&env, rt));
        }
        assert!(!run.stderr.contains(&env.cached_access_token(USER)));
    }
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("argv: "), "{logged}");
    for rt in &seen {
        assert!(!logged.contains(rt.as_str()), "{logged}");
    }
}

#[test]
fn store_commands_without_command_or_half_a_pair_are_refused() {
    let env = Env::new();
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--encrypt-cmd", "age -r K"],
            &[
                "ooauth2: error: --encrypt-cmd and --decrypt-cmd are used only with --secret-store command",
                "ooauth2: hint: add --secret-store command",
            ],
        ),
        (
            &["--secret-store", "command", "--decrypt-cmd", "age -d"],
            &[
                "ooauth2: error: --secret-store command needs both --encrypt-cmd and --decrypt-cmd",
                "ooauth2: hint: e.g. --encrypt-cmd",
            ],
        ),
        (
            &["--secret-store", "keychain"],
            &[
                "ooauth2: error: unknown --secret-store 'keychain'",
                "ooauth2: hint: use file",
            ],
        ),
    ];
    for (flags, said) in cases {
        env.token(USER, flags).expect_failure(2, said);
    }
    assert!(env.files().is_empty());
}

#[test]
fn a_token_that_cannot_be_sealed_after_the_grant_is_kept_unsealed_and_sealed_next_time() {
    let env = Env::new();
    env.idp.set_strict_rotation(true);
    let age = Sealer::age(&env);
    // Seals the probe, and fails for anything else: as a disk filling up
    // between the probe and the provider's answer.
    let flaky = age.encrypting_with(&format!(
        "t=$(cat); if [ \"$t\" = 'ooauth2 encrypt_cmd probe' ]; then printf %s \"$t\" | {}; \
         else echo 'age: no space left on device' >&2; exit 1; fi",
        age.encrypt
    ));
    flaky.seed(&env);
    let rec = env.record(USER);
    let newest = env.idp.last_refresh_token_for(USER);
    assert_eq!(rec["refresh_token"].as_str(), newest.as_deref(), "{rec:#}");
    assert_eq!(rec["version"], 1);
    env.expire_cached(USER);
    let run = flaky.token(&env, &[], &[]);
    run.expect(0);
    assert!(
        run.stderr.contains(
            "ooauth2: warning: the refresh token of me@example.com is stored unsealed in its \
             record: --encrypt-cmd failed with exit status 1: age: no space left on device; \
             the next renewal seals it"
        ),
        "{run:#?}"
    );
    let newest = env.idp.last_refresh_token_for(USER).unwrap();
    assert_eq!(env.stored_refresh_token(USER), newest);
    // The next renewal with a working encrypt_cmd seals it.
    env.expire_cached(USER);
    age.token(&env, &[], &[]).expect(0);
    assert_sealed(&env);
}

#[test]
fn a_sealed_account_written_without_its_store_says_so_aloud() {
    let env = Env::new();
    let age = Sealer::age(&env);
    age.seed(&env);
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    let run = env.helper_for(USER, &format!("action=store\nrefresh_token={rt}"));
    run.expect(0);
    assert!(
        run.stderr.contains(
            "ooauth2: warning: the refresh token of me@example.com was sealed, but this request \
             has no secret_store = command: it is stored in the clear now"
        ),
        "{run:#?}"
    );
    let rec = env.record(USER);
    assert!(
        rec["refresh_token_sealed"].is_null() && rec["version"] == 1,
        "{rec:#}"
    );
}

/// The README's age example, pasted (its recipient and client id made the
/// test's): a sign-in seals the refresh token, and the account refreshes.
#[test]
fn the_readmes_age_example_seals_the_refresh_token() {
    let env = Env::new();
    env.idp.set_strict_rotation(true);
    let section = crate::readme::readme_section("Secrets at rest");
    let toml = crate::readme::fenced_block(&section, "With [age]", "toml");
    // `~` of the README's decrypt_cmd is the test's HOME.
    let key_dir = env.root.join("home/.config/age");
    std::fs::create_dir_all(&key_dir).unwrap();
    let public = age_identity(&key_dir.join("key.txt"));
    let readme_client = "9e5f94bc-e8a4-4e73-b8be-63364c29d753";
    assert!(
        toml.contains("age1yourrecipient...") && toml.contains(readme_client),
        "{toml}"
    );
    let body = toml
        .replace("age1yourrecipient...", &public)
        .replace(readme_client, CLIENT)
        .replace(
            "[accounts.work]\n",
            &format!("[accounts.work]\nauthority = \"{}\"\n", env.idp.authority()),
        );
    let config = env.write_config(&body);
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    let import = format!("account=work\naction=store\nrefresh_token={rt}\n\n");
    env.run_with_config(&config, &["helper"], import.as_bytes())
        .expect(0);
    assert_sealed(&env);
    env.expire_cached(USER);
    env.run_with_config(&config, &["token", "work"], b"")
        .expect(0);
    assert_sealed(&env);
}

/// The entries of the pass folder `ooauth2/work` in `store`, oldest first.
fn pass_entries(store: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(store.join("ooauth2/work"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().replace(".gpg", ""))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The README's pass example, pasted, with real `pass` (a throwaway
/// GNUPGHOME and PASSWORD_STORE_DIR): the record holds only the name of a
/// new entry per token; an entry newer than the record's (a seal whose
/// record write never happened) survives the next refresh, and entries are
/// removed only once a newer record replaced them.
#[test]
fn the_readmes_pass_example_keeps_each_token_in_an_entry_of_its_own() {
    let env = Env::new();
    env.idp.set_strict_rotation(true);
    let mut gpg = Sealer::gpg(&env);
    let store = env.root.join("password-store");
    gpg.env.push(("PASSWORD_STORE_DIR".into(), store.clone()));
    let init = std::process::Command::new("pass")
        .args(["init", "seal@example.com"])
        .envs(gpg.env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(init.status.success(), "pass init: {init:?}");
    let section = crate::readme::readme_section("Secrets at rest");
    let toml = crate::readme::fenced_block(&section, "With [pass]", "toml");
    let readme_client = "9e5f94bc-e8a4-4e73-b8be-63364c29d753";
    let body = toml.replace(readme_client, CLIENT).replace(
        "[accounts.work]\n",
        &format!("[accounts.work]\nauthority = \"{}\"\n", env.idp.authority()),
    );
    let config = env.write_config(&body);
    let run = |args: &[&str], stdin: &str| {
        let mut cmd = env.command(args);
        cmd.env("OOAUTH2_CONFIG", &config);
        cmd.envs(gpg.env.iter().map(|(k, v)| (k, v)));
        env.run_with(cmd, stdin.as_bytes())
    };
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    run(
        &["helper"],
        &format!("account=work\naction=store\nrefresh_token={rt}\n\n"),
    )
    .expect(0);
    assert_sealed(&env);
    // The record names the newest entry, which holds the newest token.
    let named = |env: &Env| {
        let sealed = env.record(USER)["refresh_token_sealed"].clone();
        let name = gpg.decrypting_with("cat").open(sealed.as_str().unwrap());
        name.strip_prefix("ooauth2/work/").unwrap().to_string()
    };
    let shown = |entry: &str| {
        let out = std::process::Command::new("pass")
            .args(["show", &format!("ooauth2/work/{entry}")])
            .envs(gpg.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(pass_entries(&store).last(), Some(&named(&env)));
    assert_eq!(
        shown(&named(&env)),
        env.idp.last_refresh_token_for(USER).unwrap()
    );
    // A seal whose record write never happened: a newer entry.
    let encrypt = body
        .lines()
        .find_map(|l| l.strip_prefix("encrypt_cmd = '"))
        .unwrap()
        .trim_end_matches('\'');
    let crashed = gpg
        .encrypting_with(encrypt)
        .seal_by_hand("rt-of-a-crashed-write");
    let crashed = crashed.strip_prefix("ooauth2/work/").unwrap().to_string();
    for round in 0..2 {
        env.expire_cached(USER);
        env.idp.reset_log();
        let before = named(&env);
        let done = run(&["token", "work"], "");
        done.expect(0);
        assert_eq!(env.idp.count(Grant::Refresh), 1);
        assert!(!done.stderr.contains("mockrt"), "{done:#?}");
        assert_sealed(&env);
        let entries = pass_entries(&store);
        // Nothing older than the entry the last record named is kept;
        // that one is (the record it replaced may still be on disk).
        assert_eq!(entries.first(), Some(&before), "{entries:?}");
        assert_eq!(entries.last(), Some(&named(&env)), "{entries:?}");
        assert_eq!(entries.contains(&crashed), round == 0, "{entries:?}");
        assert_eq!(
            shown(&named(&env)),
            env.idp.last_refresh_token_for(USER).unwrap()
        );
    }
}

/// A decrypt command that hangs is stopped after the timeout with what it
/// started: a grandchild that would outlive it is gone too.
#[test]
fn a_hanging_decrypt_is_stopped_with_its_process_tree() {
    let env = Env::new();
    let age = Sealer::age(&env);
    age.seed(&env);
    let pidfile = env.root.join("grandchild.pid");
    let hang = format!(
        "cat >/dev/null; sh -c 'echo $$ > {}; exec sleep 60' & wait",
        sh_quote(&pidfile.to_string_lossy())
    );
    let mut bad = age.decrypting_with(&hang);
    bad.env
        .push(("OOAUTH2_SECRET_CMD_TIMEOUT".into(), PathBuf::from("1")));
    env.expire_cached(USER);
    let before = record_bytes(&env);
    let started = std::time::Instant::now();
    bad.token(&env, &[], &[])
        .expect_failure(75, &["did not finish within 1 s and was stopped"]);
    assert!(
        started.elapsed().as_secs() < 20,
        "waited for the grandchild"
    );
    assert_eq!(record_bytes(&env), before);
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let proc = PathBuf::from(format!("/proc/{}", pid.trim()));
    let gone = (0..100).any(|_| {
        let state = std::fs::read_to_string(proc.join("stat")).unwrap_or_default();
        // Gone, or a zombie waiting for its reaper.
        let done = state.is_empty() || state.split(' ').nth(2) == Some("Z");
        if !done {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        done
    });
    assert!(gone, "the grandchild {pid} still runs");
}

/// `cache_access_token = false`: the record holds the access token sealed
/// too, and every cached answer opens it (one decrypt a call, no grant);
/// a decrypt that fails is the answer's failure; with `file` it is refused.
#[test]
fn cache_access_token_false_seals_the_access_token_and_opens_it_per_call() {
    let env = Env::new();
    let age = Sealer::age(&env);
    let log = env.root.join("decrypts.log");
    let counted = age.decrypting_with(&format!(
        "echo run >> {}; {}",
        sh_quote(&log.to_string_lossy()),
        age.decrypt
    ));
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    let import = format!("cache_access_token=false\naction=store\nrefresh_token={rt}");
    counted.helper(&env, &import).expect(0);
    assert_sealed(&env);
    let rec = env.record(USER);
    assert!(rec["access_token"].is_null(), "{rec:#}");
    assert!(rec["access_token_sealed"].is_string(), "{rec:#}");
    let decrypts = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let flags = ["--cache-access-token", "false", "--format", "json"];
    let before = decrypts();
    env.idp.reset_log();
    for n in 1..=2 {
        let run = counted.token(&env, &flags, &[]);
        run.expect(0);
        assert!(run.stdout.contains("\"source\":\"cache\""), "{run:#?}");
        let answer: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let at = answer["access_token"].as_str().unwrap();
        assert!(env.idp.is_active_access_token(at), "{run:#?}");
        assert!(!record_holds(&env, at), "the access token is in the record");
        assert_eq!(decrypts(), before + n);
    }
    assert_eq!(env.idp.total_count(), 0);
    // A refresh seals the new access token as well.
    env.expire_cached(USER);
    counted.token(&env, &flags, &[]).expect(0);
    assert!(env.record(USER)["access_token"].is_null());
    assert!(env.record(USER)["access_token_sealed"].is_string());
    // A decrypt that fails fails the cached answer: nothing in the clear to serve.
    let before = record_bytes(&env);
    let broken = age.decrypting_with("cat >/dev/null; echo 'no key' >&2; exit 1");
    broken
        .token(&env, &flags, &[])
        .expect_failure(75, &["failed with exit status 1: no key"]);
    assert_eq!(record_bytes(&env), before);
    // With the file store it makes no sense: refused, naming what to do.
    let mut args = env.args("token", USER, &["--cache-access-token", "false"]);
    args.push("--non-interactive".into());
    env.run(&args, b"").expect_failure(
        2,
        &[
            "--cache-access-token false keeps the access token out of the record's plain text, \
             which needs --secret-store command",
            "ooauth2: hint: with --secret-store file",
        ],
    );
    // With the keyring too, whose hint says what rests where.
    let mut args = env.args(
        "token",
        USER,
        &["--cache-access-token", "false", "--secret-store", "keyring"],
    );
    args.push("--non-interactive".into());
    let run = env.run(&args, b"");
    run.expect_failure(
        2,
        &[
            "which needs --secret-store command",
            "ooauth2: hint: with --secret-store keyring the refresh token is in the keyring",
        ],
    );
    assert!(!run.stderr.contains("--secret-store file"), "{run:#?}");
    let bad = env.write_config("[accounts.w]\ncache_access_token = false\n");
    env.run_with_config(&bad, &["token", "w"], b"")
        .expect_failure(2, &["--cache-access-token false", "--secret-store command"]);
    // The helper names its keys.
    let run = env.helper("cache_access_token=false\ninteractive=never");
    assert_eq!(run.status, 2, "{run:#?}");
    assert!(
        run.stdout
            .contains("cache_access_token=false keeps the access token"),
        "{run:#?}"
    );
}
