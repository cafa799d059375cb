//! `secret_store = keyring`: the refresh token in a real GNOME Keyring on
//! a private D-Bus session, never in a file; rotation, many callers, a
//! second account, erase, a store switched both ways, and a keyring that
//! is locked, gone, or out of reach (no session bus, as over ssh or in cron).

use crate::support::keyring::Keyring;
use crate::support::run::{Env, USER};
use mock_idp::Grant;

/// Whether any file under the test's root but the keyring's own holds `token`.
fn a_file_holds(env: &Env, token: &str) -> bool {
    fn walk(dir: &std::path::Path, token: &str, skip: &std::path::Path) -> bool {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return false;
        };
        entries.flatten().any(|e| {
            let p = e.path();
            if p.starts_with(skip) {
                false
            } else if p.is_dir() {
                walk(&p, token, skip)
            } else {
                std::fs::read(&p).is_ok_and(|b| String::from_utf8_lossy(&b).contains(token))
            }
        })
    }
    walk(&env.root, token, &env.root.join("keyring"))
}

/// The keyring item the record of `USER` points at, checked to be the
/// only home of the provider's newest refresh token.
fn assert_in_keyring(env: &Env, keyring: &Keyring) -> String {
    let rec = env.record(USER);
    assert!(rec["refresh_token"].is_null(), "{rec:#}");
    assert!(rec["refresh_token_sealed"].is_null(), "{rec:#}");
    assert_eq!(rec["version"], 3, "{rec:#}");
    let item = rec["refresh_token_keyring"]
        .as_str()
        .unwrap_or_else(|| panic!("no keyring item in {rec:#}"))
        .to_string();
    let newest = env.idp.last_refresh_token_for(USER).unwrap();
    assert_eq!(keyring.item(&item).as_deref(), Some(newest.as_str()));
    assert!(
        !a_file_holds(env, &newest),
        "a file holds the refresh token"
    );
    item
}

#[test]
fn the_refresh_token_lives_in_the_keyring_through_sign_in_rotation_and_erase() {
    let env = Env::new();
    env.idp.set_strict_rotation(true);
    let keyring = Keyring::start(&env);
    keyring
        .helper(&env, "action=login\ninteractive=always")
        .expect(0);
    let mut item = assert_in_keyring(&env, &keyring);
    for _ in 0..2 {
        env.expire_cached(USER);
        env.idp.reset_log();
        // Flags without --secret-store: the token stays where it rests.
        let run = keyring.token(&env, false, &["--format", "json"], &[]);
        run.expect(0);
        assert!(run.stdout.contains("\"source\":\"refresh\""), "{run:#?}");
        assert_eq!(env.idp.count(Grant::Refresh), 1);
        let next = assert_in_keyring(&env, &keyring);
        assert_ne!(next, item);
        item = next;
        // The spent token's item is gone: one item for the account.
        assert_eq!(keyring.items().len(), 1, "{:?}", keyring.items());
    }
    let status = env.run(&["status", "--json"], b"");
    status.expect(0);
    assert!(
        status.stdout.contains("\"secret_store\":\"keyring\""),
        "{status:#?}"
    );
    let mut doctor = env.command(&["doctor", "--offline"]);
    doctor.envs(keyring.vars());
    let doctor = env.run_with(doctor, b"");
    assert!(
        doctor
            .stdout
            .contains("it rests in: keyring, which answers"),
        "{doctor:#?}"
    );
    let mut erase = env.command(&env.args("erase", USER, &[]));
    erase.envs(keyring.vars());
    env.run_with(erase, b"").expect(0);
    assert!(env.records().is_empty());
    assert!(keyring.items().is_empty(), "{:?}", keyring.items());
}

#[test]
fn thirty_two_callers_on_an_expired_token_make_one_refresh() {
    let env = Env::new();
    env.idp.set_strict_rotation(true);
    let keyring = Keyring::start(&env);
    keyring.seed(&env);
    env.expire_cached(USER);
    env.idp.reset_log();
    env.idp.set_delay_ms(200);
    let children: Vec<_> = (0..32)
        .map(|_| keyring.start_helper(&env, "interactive=never"))
        .collect();
    let runs: Vec<_> = children
        .into_iter()
        .map(|c| crate::support::run::finish(c, b""))
        .collect();
    let tokens: std::collections::BTreeSet<_> = runs
        .iter()
        .map(|r| {
            assert_eq!(r.status, 0, "{r:#?}");
            r.pairs()["access_token"].clone()
        })
        .collect();
    assert_eq!(env.idp.count(Grant::Refresh), 1);
    assert_eq!(tokens.len(), 1, "every caller gets the one new token");
    assert_in_keyring(&env, &keyring);
}

#[test]
fn a_second_account_has_its_own_item() {
    let env = Env::new();
    let keyring = Keyring::start(&env);
    keyring.seed(&env);
    let other = "other@example.com";
    let rt = env
        .idp
        .issue_refresh_token(other, crate::support::run::CLIENT);
    let req = format!(
        "{}secret_store=keyring\naction=store\nrefresh_token={rt}\n",
        env.account_lines(other)
    );
    let mut cmd = env.command(&["helper"]);
    cmd.envs(keyring.vars());
    env.run_with(cmd, req.as_bytes()).expect(0);
    let items = keyring.items();
    assert_eq!(items.len(), 2, "{items:?}");
    let newest = env.idp.last_refresh_token_for(other).unwrap();
    assert!(items.iter().any(|(_, t)| *t == newest), "{items:?} {rt}");
    assert_in_keyring(&env, &keyring);
}

#[test]
fn an_account_moves_into_the_keyring_and_back_to_its_file() {
    let env = Env::new();
    let keyring = Keyring::start(&env);
    let rt = env.seed(USER);
    assert!(a_file_holds(&env, &rt));
    // secret_store = keyring: the next write moves the token there.
    env.expire_cached(USER);
    keyring.token(&env, true, &[], &[]).expect(0);
    assert_in_keyring(&env, &keyring);
    // secret_store = file: back in the record, and the item deleted.
    env.expire_cached(USER);
    let run = keyring.token(&env, false, &["--secret-store", "file"], &[]);
    run.expect(0);
    let rec = env.record(USER);
    assert_eq!(rec["version"], 1, "{rec:#}");
    assert_eq!(
        rec["refresh_token"].as_str(),
        env.idp.last_refresh_token_for(USER).as_deref()
    );
    assert!(rec["refresh_token_keyring"].is_null(), "{rec:#}");
    assert!(keyring.items().is_empty(), "{:?}", keyring.items());
}

#[test]
fn a_locked_keyring_is_a_temporary_error_that_says_to_unlock_it() {
    let env = Env::new();
    let keyring = Keyring::start(&env);
    keyring.seed(&env);
    keyring.lock();
    env.expire_cached(USER);
    let before = env.record(USER);
    env.idp.reset_log();
    let run = keyring.token(&env, true, &[], &[("OOAUTH2_SECRET_CMD_TIMEOUT", "5")]);
    run.expect_failure(75, &["keyring", "unlock"]);
    assert!(run.stdout.is_empty(), "{run:#?}");
    assert_eq!(env.idp.total_count(), 0, "nothing spent at the provider");
    assert_eq!(env.record(USER), before, "nothing changed");
}

#[test]
fn a_gone_keyring_serves_a_still_valid_token_with_a_warning_then_says_what_to_do() {
    let env = Env::new();
    let mut keyring = Keyring::start(&env);
    keyring.seed(&env);
    keyring.stop_daemon();
    let mut doctor = env.command(&["doctor", "--offline"]);
    doctor.envs(keyring.vars());
    let doctor = env.run_with(doctor, b"");
    assert_ne!(doctor.status, 0, "{doctor:#?}");
    assert!(
        doctor
            .stdout
            .contains("rests in the keyring, which does not give it"),
        "{doctor:#?}"
    );
    // Valid for 2 more minutes but under min_ttl: the cached one, said so.
    let (path, mut v) = env.record_path(USER);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    v["expires_at"] = serde_json::json!(now + 120);
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let run = keyring.token(&env, true, &[], &[]);
    run.expect(0);
    assert!(!run.stdout.trim().is_empty());
    assert!(run.stderr.contains("warning"), "{run:#?}");
    env.expire_cached(USER);
    let run = keyring.token(&env, true, &[], &[]);
    run.expect_failure(75, &["no Secret Service answers", "gnome-keyring-daemon"]);
    assert!(run.stdout.is_empty(), "{run:#?}");
}

#[test]
fn without_a_session_bus_the_error_points_ssh_and_cron_users_at_the_command_store() {
    let env = Env::new();
    let keyring = Keyring::start(&env);
    keyring.seed(&env);
    env.expire_cached(USER);
    // No DBUS_SESSION_BUS_ADDRESS and no runtime dir: as over ssh or in cron.
    let mut cmd = env.command(&env.args("token", USER, &[]));
    cmd.env_remove("DBUS_SESSION_BUS_ADDRESS");
    let run = env.run_with(cmd, b"");
    run.expect_failure(75, &["D-Bus", "ssh", "cron", "secret_store = \"command\""]);
    assert!(run.stdout.is_empty(), "{run:#?}");
}

#[test]
fn store_migrate_moves_an_account_into_the_keyring_and_out_to_age() {
    let env = Env::new();
    env.idp.set_strict_rotation(true);
    let keyring = Keyring::start(&env);
    let age = crate::support::sealer::Sealer::age(&env);
    let authority = env.idp.authority();
    let config = env.write_config(&format!(
        "# mine\n[accounts.work]\nauthority = \"{authority}\"\nclient_id = \"{}\"\nuser = \"{USER}\"\n",
        crate::support::run::CLIENT
    ));
    let run = |args: &[&str]| {
        let mut cmd = env.command(args);
        cmd.env("OOAUTH2_CONFIG", &config).envs(keyring.vars());
        env.run_with(cmd, b"")
    };
    let rt = env
        .idp
        .issue_refresh_token(USER, crate::support::run::CLIENT);
    let import = format!("account=work\naction=store\nrefresh_token={rt}\n\n");
    let mut cmd = env.command(&["helper"]);
    cmd.env("OOAUTH2_CONFIG", &config).envs(keyring.vars());
    env.run_with(cmd, import.as_bytes()).expect(0);
    // file -> keyring: the item holds it, no file does, the table says so.
    let moved = run(&["store", "migrate", "work", "--to", "keyring"]);
    moved.expect(0);
    assert!(moved.stderr.contains("the desktop keyring"), "{moved:#?}");
    assert_in_keyring(&env, &keyring);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("secret_store = \"keyring\""), "{text}");
    assert!(text.starts_with("# mine\n"), "{text}");
    // Again: already there, nothing changed.
    let again = run(&["store", "migrate", "work", "--to", "keyring"]);
    again.expect(0);
    assert!(again.stderr.contains("already"), "{again:#?}");
    // It refreshes from the keyring, with rotation.
    env.expire_cached(USER);
    env.idp.reset_log();
    run(&["token", "work"]).expect(0);
    assert_eq!(env.idp.count(Grant::Refresh), 1);
    assert_in_keyring(&env, &keyring);
    // keyring -> command (age): sealed in the record, the item deleted.
    let mut args = vec!["store", "migrate", "work", "--to", "command"];
    let (enc, dec) = (age.encrypt.clone(), age.decrypt.clone());
    args.extend(["--encrypt-cmd", &enc, "--decrypt-cmd", &dec]);
    run(&args).expect(0);
    let rec = env.record(USER);
    assert!(rec["refresh_token_keyring"].is_null(), "{rec:#}");
    let sealed = rec["refresh_token_sealed"].as_str().unwrap();
    assert_eq!(Some(age.open(sealed)), env.idp.last_refresh_token_for(USER));
    assert!(keyring.items().is_empty(), "{:?}", keyring.items());
}
