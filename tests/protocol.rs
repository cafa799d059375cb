//! The helper protocol end to end: every action, key and error code of
//! protocol.md, driven through `ooauth2 helper` against the mock provider.

use crate::support::run::{CLIENT, Env, USER, free_port, parse_response};
use mock_idp::{DeviceOutcome, DeviceScript, Fault, Grant};

#[test]
fn capability_lists_actions_keys_and_errors() {
    let env = Env::new();
    let run = env.run(&["helper"], b"action=capability\n\n");
    run.expect(0);
    let p = run.pairs();
    assert_eq!(p["version"], "1");
    assert_eq!(p["actions"], "get login refresh store erase capability");
    for k in [
        "client_id",
        "tenant",
        "authority",
        "min_ttl",
        "interactive",
        "host",
        "port",
    ] {
        assert!(p["request_keys"].split(' ').any(|x| x == k), "{k}");
    }
    assert!(p["errors"].contains("login_required"));
    assert!(p["secret_keys"].contains("refresh_token"));
    assert!(env.files().is_empty(), "capability wrote files");
}

#[test]
fn protocol_md_documents_every_key_and_error() {
    let env = Env::new();
    let p = env.run(&["helper"], b"action=capability\n").pairs();
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/protocol.md")).unwrap();
    for list in ["request_keys", "response_keys", "errors", "actions"] {
        for name in p[list].split(' ') {
            assert!(
                doc.contains(&format!("`{name}`")),
                "protocol.md lacks `{name}` ({list})"
            );
        }
    }
}

#[test]
fn malformed_requests_are_refused_and_touch_nothing() {
    let env = Env::new();
    let big = format!("user={}\n", "a".repeat(70 * 1024));
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"action=get\ntennant=x\n\n".to_vec(),
            "unknown key 'tennant' on line 2",
        ),
        (
            b"user=a\nuser=b\n".to_vec(),
            "duplicate key 'user' on line 2",
        ),
        (b"client_id\n".to_vec(), "line 1 has no '='"),
        (b"user=a\0b\n".to_vec(), "line 1 contains a NUL byte"),
        (b"user=\xc3\x28\n".to_vec(), "line 1 is not valid UTF-8"),
        (big.into_bytes(), "larger than 65536 bytes"),
        (b"action=get\n\n".to_vec(), "needs client_id"),
        (
            b"client_id=a\naction=fly\n".to_vec(),
            "unknown action 'fly'",
        ),
        (
            b"client_id=a\nuser=../../etc/passwd x\n".to_vec(),
            "user must not contain spaces",
        ),
        (b"client_id=a\ntenant=../x\n".to_vec(), "tenant '../x'"),
        (
            b"client_id=a\nauthority=http://evil.example\n".to_vec(),
            "non-loopback",
        ),
        (
            b"client_id=a\nmin_ttl=abc\n".to_vec(),
            "min_ttl must be a whole number",
        ),
        (
            b"client_id=a\ninteractive=maybe\n".to_vec(),
            "interactive must be",
        ),
        (
            b"client_id=a\nport=70000\n".to_vec(),
            "port must be between",
        ),
        (
            b"client_id=a\nrefresh_token=x\n".to_vec(),
            "only with action=store",
        ),
        (b"client_id=a\naccess_token=x\n".to_vec(), "response key"),
    ];
    for (input, needle) in cases {
        let run = env.run(&["helper"], &input);
        run.expect(2);
        let p = run.pairs();
        assert_eq!(p["error"], "invalid_request", "{run:?}");
        assert!(p["error_description"].contains(needle), "{needle}: {run:?}");
        assert!(run.stderr.contains(needle));
        assert!(env.files().is_empty(), "a rejected request left files");
    }
    assert_eq!(env.idp.total_count(), 0);
}

#[test]
fn get_with_nothing_stored_and_no_terminal_is_login_required() {
    let env = Env::new();
    let run = env.helper("interactive=never");
    run.expect(1);
    let p = run.pairs();
    assert_eq!(p["error"], "login_required");
    assert!(p["hint"].contains(&format!("ooauth2 login --client-id {CLIENT} --user {USER}")));
    assert!(p["hint"].contains("--authority http://127.0.0.1:"));
    assert!(!p.contains_key("access_token"));
    assert!(env.files().is_empty());
    assert_eq!(env.idp.total_count(), 0);
    // auto without a terminal behaves like never.
    let run = env.run(
        &["helper"],
        format!("{}\n", env.account_lines(USER)).as_bytes(),
    );
    assert_eq!(run.pairs()["error"], "login_required");
}

#[test]
fn store_imports_refreshes_and_persists_the_rotated_token() {
    let env = Env::new();
    let rt = env.idp.issue_refresh_token(USER, CLIENT);
    let run = env.helper(&format!("action=store\nrefresh_token={rt}\n"));
    run.expect(0);
    let p = run.pairs();
    assert_eq!(p["source"], "refresh");
    assert_eq!(p["user"], USER);
    assert_eq!(p["token_type"], "Bearer");
    assert!(env.idp.is_active_access_token(&p["access_token"]));
    let rec = env.record(USER);
    let stored = rec["refresh_token"].as_str().unwrap();
    assert_ne!(stored, rt, "rotated token not stored");
    assert_eq!(
        env.idp.last_refresh_token_for(USER).as_deref(),
        Some(stored)
    );
    assert_eq!(rec["version"], 1);
    // The scope is sent on refresh.
    let reqs = env.idp.token_requests(Grant::Refresh);
    assert!(
        reqs[0]
            .get("scope")
            .unwrap()
            .contains("IMAP.AccessAsUser.All")
    );
    assert!(!run.stderr.contains(&rt));
}

#[test]
fn store_without_user_learns_it_from_the_id_token() {
    let env = Env::new();
    let rt = env.idp.issue_refresh_token("Someone@Example.com", CLIENT);
    let req = format!(
        "action=store\nclient_id={CLIENT}\nauthority={}\nrefresh_token={rt}\n",
        env.idp.authority()
    );
    let run = env.run(&["helper"], req.as_bytes());
    run.expect(0);
    assert_eq!(run.pairs()["user"], "Someone@Example.com");
    // A later get without user finds the only stored account.
    let req = format!("client_id={CLIENT}\nauthority={}\n", env.idp.authority());
    let run = env.run(&["helper"], req.as_bytes());
    run.expect(0);
    assert_eq!(run.pairs()["source"], "cache");
}

#[test]
fn store_with_a_bad_refresh_token_stores_nothing() {
    let env = Env::new();
    let run = env.helper("action=store\nrefresh_token=not-a-valid-token\n");
    run.expect(1);
    let p = run.pairs();
    assert_eq!(p["error"], "invalid_grant");
    assert!(p["error_description"].contains("AADSTS70000"));
    assert!(env.records().is_empty());
}

#[test]
fn cached_get_makes_no_request_and_carries_sasl_strings() {
    let env = Env::new();
    env.seed(USER);
    env.idp.reset_log();
    let run = env.helper("host=outlook.office365.com\nport=993\ninteractive=never");
    run.expect(0);
    let p = run.pairs();
    assert_eq!(p["source"], "cache");
    assert_eq!(
        env.idp.total_count(),
        0,
        "cached get contacted the provider"
    );
    let at = &p["access_token"];
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    assert_eq!(
        b64.decode(&p["xoauth2"]).unwrap(),
        format!("user={USER}\x01auth=Bearer {at}\x01\x01").into_bytes()
    );
    assert_eq!(
        b64.decode(&p["oauthbearer"]).unwrap(),
        format!(
            "n,a={USER},\x01host=outlook.office365.com\x01port=993\x01auth=Bearer {at}\x01\x01"
        )
        .into_bytes()
    );
    let expires_in: u64 = p["expires_in"].parse().unwrap();
    assert!((3500..=3600).contains(&expires_in), "{expires_in}");
    let expires_at: u64 = p["expires_at"].parse().unwrap();
    assert!(expires_at > 1_700_000_000);
    assert!(run.stdout.ends_with("\n\n"));
}

#[test]
fn expired_token_is_refreshed_once_and_rotation_persisted() {
    let env = Env::new();
    let old_rt = env.seed(USER);
    env.expire_cached(USER);
    env.idp.reset_log();
    let run = env.helper("interactive=never");
    run.expect(0);
    assert_eq!(run.pairs()["source"], "refresh");
    assert_eq!(env.idp.count(Grant::Refresh), 1);
    let reqs = env.idp.token_requests(Grant::Refresh);
    assert_eq!(reqs[0].get("refresh_token"), Some(old_rt.as_str()));
    let new_rt = env.record(USER)["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_rt, old_rt);
    assert_eq!(env.idp.last_refresh_token_for(USER), Some(new_rt));
    // Now fresh again: no further request.
    env.helper("interactive=never").expect(0);
    assert_eq!(env.idp.count(Grant::Refresh), 1);
}

#[test]
fn min_ttl_decides_freshness() {
    let env = Env::new();
    env.idp.set_token_lifetime(600);
    env.seed(USER);
    env.idp.reset_log();
    assert_eq!(env.helper("min_ttl=300").pairs()["source"], "cache");
    assert_eq!(env.helper("min_ttl=900").pairs()["source"], "refresh");
    assert_eq!(env.idp.count(Grant::Refresh), 1);
}

#[test]
fn refresh_action_forces_a_refresh() {
    let env = Env::new();
    env.seed(USER);
    env.idp.reset_log();
    let run = env.helper("action=refresh");
    run.expect(0);
    assert_eq!(run.pairs()["source"], "refresh");
    assert_eq!(env.idp.count(Grant::Refresh), 1);
}

#[test]
fn erase_says_whether_there_was_an_account() {
    let env = Env::new();
    env.seed(USER);
    let run = env.helper("action=erase");
    run.expect(0);
    assert_eq!(run.pairs()["erased"], "true");
    assert!(env.records().is_empty());
    let run = env.helper("action=erase");
    run.expect(0);
    assert_eq!(run.pairs()["erased"], "false");
}

#[test]
fn invalid_grant_marks_the_account_and_keeps_the_refresh_token() {
    let env = Env::new();
    let rt = env.seed(USER);
    env.expire_cached(USER);
    env.idp.expire_refresh_token(&rt);
    let run = env.helper("interactive=never");
    run.expect(1);
    let p = run.pairs();
    assert_eq!(p["error"], "invalid_grant");
    assert!(p["error_description"].contains("AADSTS700082"), "{p:?}");
    assert!(p["hint"].contains("90 days"));
    assert!(p["hint"].contains("ooauth2 login"));
    let rec = env.record(USER);
    assert_eq!(
        rec["refresh_token"].as_str(),
        Some(rt.as_str()),
        "token deleted"
    );
    assert!(
        rec["needs_login"]
            .as_str()
            .unwrap()
            .contains("AADSTS700082")
    );
    // Marked: the next get does not hammer the provider.
    env.idp.reset_log();
    let run = env.helper("interactive=never");
    run.expect(1);
    assert_eq!(run.pairs()["error"], "login_required");
    assert_eq!(env.idp.total_count(), 0);
}

#[test]
fn aadsts_codes_get_plain_hints() {
    for (code, error, needle) in [
        (50173, "invalid_grant", "revoked"),
        (70000, "invalid_grant", "not valid"),
        (70043, "invalid_grant", "sign-in frequency"),
        (7000218, "invalid_client", "Allow public client flows"),
        (900144, "invalid_request", "scope"),
        (65001, "invalid_grant", "consent"),
        (70011, "invalid_scope", "outlook.office.com"),
    ] {
        let env = Env::new();
        env.seed(USER);
        env.expire_cached(USER);
        env.idp.push_fault(Fault::OAuthError {
            status: 400,
            error: error.into(),
            description: "Something went wrong.".into(),
            code,
        });
        let run = env.helper("interactive=never");
        run.expect(1);
        let p = run.pairs();
        assert!(p["hint"].contains(needle), "{code}: {p:?}");
        assert!(p["error_description"].contains(&format!("AADSTS{code}")));
    }
}

#[test]
fn server_errors_are_retried() {
    let env = Env::new();
    env.seed(USER);
    env.expire_cached(USER);
    env.idp.reset_log();
    env.idp.push_fault(Fault::Status(500));
    env.idp.push_fault(Fault::TooManyRequests {
        retry_after_secs: 1,
    });
    let started = std::time::Instant::now();
    let run = env.helper("interactive=never");
    run.expect(0);
    assert_eq!(run.pairs()["source"], "refresh");
    assert_eq!(env.idp.count(Grant::Refresh), 3);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After ignored"
    );
}

#[test]
fn transient_failure_serves_a_still_valid_cached_token() {
    let env = Env::new();
    env.seed(USER);
    let cached = env.record(USER)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..4 {
        env.idp.push_fault(Fault::Status(503));
    }
    // min_ttl above the lifetime forces a refresh attempt.
    let run = env.helper("min_ttl=7200\ninteractive=never");
    run.expect(0);
    let p = run.pairs();
    assert_eq!(p["access_token"], cached);
    assert_eq!(p["source"], "cache");
    assert!(run.stderr.contains("warning"), "{run:?}");
    // Expired: the same failure is exit 75 with empty token output.
    env.expire_cached(USER);
    for _ in 0..4 {
        env.idp.push_fault(Fault::Status(503));
    }
    let run = env.helper("interactive=never");
    run.expect(75);
    assert_eq!(run.pairs()["error"], "server_error");
}

#[test]
fn bad_provider_answers_are_bad_response() {
    // A missing or string expires_in is accepted (tests/token_safety.rs).
    for fault in [
        Fault::InvalidJson,
        Fault::Html,
        Fault::MissingAccessToken,
        Fault::Huge(2 * 1024 * 1024),
        Fault::Redirect("https://elsewhere.example/steal".into()),
    ] {
        let env = Env::new();
        let rt = env.seed(USER);
        env.expire_cached(USER);
        env.idp.push_fault(fault.clone());
        let run = env.helper("interactive=never");
        run.expect(75);
        assert_eq!(run.pairs()["error"], "bad_response", "{fault:?}: {run:?}");
        // The stored refresh token is the seeded one, or the one the
        // refused answer carried (kept: the old one may be spent).
        let stored = env.stored_refresh_token(USER);
        let issued = env.idp.last_refresh_token_for(USER).unwrap();
        assert!(stored == rt || stored == issued, "{fault:?}");
        assert!(env.idp.is_valid_refresh_token(&stored), "{fault:?}");
    }
}

#[test]
fn unreachable_provider_is_network_error() {
    let env = Env::new();
    // A port nobody listens on.
    let port = free_port();
    let req = format!(
        "client_id={CLIENT}\nauthority=http://127.0.0.1:{port}\nuser={USER}\naction=store\nrefresh_token=x\n"
    );
    let run = env.run(&["helper"], req.as_bytes());
    run.expect(75);
    assert_eq!(run.pairs()["error"], "network_error");
}

#[test]
fn device_login_stores_the_account_and_checks_the_user() {
    let env = Env::new();
    let run = env.helper("action=login\ninteractive=always");
    run.expect(0);
    let p = run.pairs();
    assert_eq!(p["source"], "login");
    assert!(run.stderr.contains("enter the code"), "{run:?}");
    let rec = env.record(USER);
    assert!(
        rec["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("mockrt.")
    );
    let devreq = &env.idp.requests()[0];
    let scope = devreq.get("scope").unwrap();
    for s in ["offline_access", "openid", "profile", "email", "SMTP.Send"] {
        assert!(scope.contains(s), "{scope}");
    }
    // Someone else signs in: refused, nothing stored for them.
    env.idp.set_device_script(DeviceScript {
        outcome: DeviceOutcome::Approve("intruder@example.com".into()),
        ..DeviceScript::default()
    });
    let run = env.helper_for("other@example.com", "action=login\ninteractive=always");
    run.expect(1);
    assert_eq!(run.pairs()["error"], "user_mismatch");
    assert_eq!(env.records().len(), 1);
}

#[test]
fn get_signs_in_when_allowed() {
    let env = Env::new();
    let run = env.helper("interactive=always");
    run.expect(0);
    assert_eq!(run.pairs()["source"], "login");
    assert_eq!(env.records().len(), 1);
}

#[test]
fn device_flow_failures_have_their_codes() {
    for (outcome, code) in [
        (DeviceOutcome::Decline, "access_denied"),
        (DeviceOutcome::Expire, "expired_token"),
        (DeviceOutcome::BadCode, "bad_verification_code"),
    ] {
        let env = Env::new();
        env.idp.set_device_script(DeviceScript {
            outcome,
            ..DeviceScript::default()
        });
        let run = env.helper("action=login\ninteractive=always");
        run.expect(1);
        assert_eq!(run.pairs()["error"], code);
        assert!(env.records().is_empty());
    }
}

#[test]
fn files_are_private_and_names_safe() {
    let env = Env::new();
    let user = "../../escape,=me@example.com";
    let rt = env.idp.issue_refresh_token(user, CLIENT);
    env.helper_for(user, &format!("action=store\nrefresh_token={rt}\n"))
        .expect(0);
    let modes = env.modes();
    assert!(!modes.is_empty());
    for (p, mode) in &modes {
        let want = if p.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{}", p.display());
        assert!(p.starts_with(env.store()), "{} escaped", p.display());
    }
    assert!(!env.root.join("escape").exists());
    // The OAUTHBEARER authzid is GS2-escaped.
    let p = env.helper_for(user, "").pairs();
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&p["oauthbearer"])
        .unwrap();
    assert!(raw.starts_with(b"n,a=../../escape=2C=3Dme@example.com,\x01"));
}

#[test]
fn corrupt_and_newer_records_are_store_errors_and_untouched() {
    for content in [&b"{ not json"[..], br#"{"version": 7, "future": true}"#] {
        let env = Env::new();
        env.seed(USER);
        let (path, _) = env.record_path(USER);
        std::fs::write(&path, content).unwrap();
        let run = env.helper("interactive=never");
        run.expect(74);
        let p = run.pairs();
        assert_eq!(p["error"], "store_error");
        assert!(p["error_description"].contains(&path.display().to_string()));
        assert_eq!(std::fs::read(&path).unwrap(), content);
        let run = env.helper("action=login\ninteractive=always");
        run.expect(74);
        assert_eq!(std::fs::read(&path).unwrap(), content);
    }
}

#[test]
fn crlf_requests_and_eof_without_blank_line_work() {
    let env = Env::new();
    env.seed(USER);
    let req = env.account_lines(USER).replace('\n', "\r\n");
    let run = env.run(&["helper"], req.trim_end().as_bytes());
    run.expect(0);
    assert_eq!(parse_response(&run.stdout)["source"], "cache");
}

#[test]
fn a_one_off_scope_does_not_change_the_account() {
    let env = Env::new();
    env.seed(USER);
    let before = env.record(USER);
    let run = env.helper("scope=https://outlook.office.com/SMTP.Send offline_access");
    run.expect(0);
    let p = run.pairs();
    assert_eq!(p["source"], "refresh");
    assert_eq!(p["scope"], "https://outlook.office.com/SMTP.Send");
    let after = env.record(USER);
    assert_eq!(after["scope"], before["scope"]);
    assert_eq!(after["access_token"], before["access_token"]);
    // The rotated refresh token is kept all the same.
    assert_ne!(after["refresh_token"], before["refresh_token"]);
    assert_eq!(
        after["refresh_token"].as_str(),
        env.idp.last_refresh_token_for(USER).as_deref()
    );
    // The usual get still comes from the cache.
    assert_eq!(env.helper("").pairs()["source"], "cache");
}

#[test]
fn a_refused_refresh_token_still_lets_a_valid_cached_token_through() {
    let env = Env::new();
    let rt = env.seed(USER);
    let cached = env.record(USER)["access_token"].clone();
    env.idp
        .revoke_refresh_token(&env.idp.last_refresh_token_for(USER).unwrap());
    let _ = rt;
    let run = env.helper("min_ttl=7200\ninteractive=never");
    run.expect(0);
    assert_eq!(run.pairs()["access_token"], cached.as_str().unwrap());
    assert!(run.stderr.contains("ooauth2 login"), "{run:?}");
    assert!(
        env.record(USER)["needs_login"]
            .as_str()
            .unwrap()
            .contains("AADSTS50173")
    );
}

#[test]
fn erasing_an_unknown_account_writes_nothing() {
    let env = Env::new();
    let run = env.helper("action=erase");
    run.expect(0);
    assert_eq!(run.pairs()["erased"], "false");
    assert!(env.files().is_empty());
}

#[test]
fn a_record_with_a_line_break_in_a_token_is_corrupt() {
    let env = Env::new();
    env.seed(USER);
    let (path, mut v) = env.record_path(USER);
    v["access_token"] = serde_json::json!("abc\nerror=x");
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    let run = env.helper("interactive=never");
    run.expect(74);
    assert_eq!(run.pairs()["error"], "store_error");
    assert!(run.pairs()["error_description"].contains("access_token holds a control character"));
}
