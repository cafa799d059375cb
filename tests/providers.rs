//! Provider presets end to end against the mock, which serves every
//! preset's paths with that provider's behaviour: Google (auth code + PKCE
//! only, access_type=offline and prompt=consent, client secret, no refresh
//! token rotation), Yahoo and Fastmail (no identity scopes, so `user` is
//! required), and `generic` with explicit endpoints. `authority` moves a
//! preset's endpoints to the mock, keeping the preset's own paths.

use crate::support::browser::{SignIn, get};
use crate::support::run::{CLIENT, Env, Run, USER};
use mock_idp::Grant;

const SECRET: &str = "GOCSPX-mock-desktop-secret";
const FASTMAIL_SCOPE: &str = "https://www.fastmail.com/dev/protocol-imap https://www.fastmail.com/dev/protocol-pop https://www.fastmail.com/dev/protocol-smtp";

/// `ooauth2 helper` signing in with `lines` (which name the provider).
fn helper(env: &Env, lines: &str) -> SignIn {
    let req = format!("action=login\ninteractive=always\n{lines}\n");
    SignIn::start(env, &["helper"], &req, None)
}

/// Plays the browser: the authorize endpoint, then its redirect.
fn browse(url: &str) {
    let page = get(url);
    assert_eq!(page.status, 302, "authorize refused {url}");
    assert_eq!(get(&page.location.unwrap()).status, 200);
}

fn query(url: &str, key: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Request lines for `provider` at the mock, for `USER`.
fn lines(env: &Env, provider: &str, extra: &str) -> String {
    format!(
        "provider={provider}\nclient_id={CLIENT}\nauthority={}\nuser={USER}\n{extra}",
        env.idp.authority()
    )
}

/// Signs in at `provider` through the helper; returns the authorize URL
/// and the finished run.
fn sign_in(env: &Env, provider: &str, path: &str, extra: &str) -> (String, Run) {
    let signin = helper(env, &lines(env, provider, extra));
    let url = signin.url_matching(&format!("{}{path}?", env.idp.authority()), "");
    browse(&url);
    (url, signin.finish())
}

#[test]
fn google_signs_in_with_auth_code_offline_consent_and_the_client_secret() {
    let env = Env::new();
    env.idp.require_secret(CLIENT, SECRET);
    let (url, run) = sign_in(
        &env,
        "google",
        "/o/oauth2/v2/auth",
        &format!("client_secret={SECRET}\n"),
    );
    run.expect(0);
    assert_eq!(query(&url, "access_type").as_deref(), Some("offline"));
    assert_eq!(query(&url, "prompt").as_deref(), Some("consent"));
    assert_eq!(
        query(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(query(&url, "code_challenge").unwrap().len(), 43);
    assert_eq!(query(&url, "response_mode"), None);
    assert_eq!(
        query(&url, "scope").as_deref(),
        Some("https://mail.google.com/ openid profile email")
    );
    assert!(!url.contains(SECRET));
    let p = run.pairs();
    assert_eq!((p["source"].as_str(), p["user"].as_str()), ("login", USER));
    // The exchange went to Google's token path with the secret and the verifier.
    let x = env.idp.token_requests(Grant::AuthCode);
    assert_eq!(x.len(), 1);
    assert_eq!(x[0].path, "/token");
    assert_eq!(x[0].get("client_secret"), Some(SECRET));
    assert_eq!(x[0].get("code_verifier").unwrap().len(), 43);
    assert_eq!(env.idp.count(Grant::Device), 0);
    assert_eq!(env.idp.devicecode_count(), 0);
    let rec = env.record(USER);
    assert_eq!(rec["provider"], "google");
    assert_eq!(rec["tenant"], "");
    let rt = env.stored_refresh_token(USER);
    // Google does not rotate: the refresh answer has no refresh token, and
    // the stored one is kept.
    env.expire_cached(USER);
    let again = env.helper_for(
        USER,
        &format!("provider=google\nclient_secret={SECRET}\naction=get\n"),
    );
    // helper_for adds client_id, authority and user.
    again.expect(0);
    assert_eq!(again.pairs()["source"], "refresh");
    let refreshes = env.idp.token_requests(Grant::Refresh);
    assert_eq!(refreshes.len(), 1);
    assert_eq!(refreshes[0].path, "/token");
    assert_eq!(refreshes[0].get("client_secret"), Some(SECRET));
    assert_eq!(env.stored_refresh_token(USER), rt);
    assert!(env.idp.is_valid_refresh_token(&rt));
}

#[test]
fn google_without_its_client_secret_is_refused_by_the_provider() {
    let env = Env::new();
    let (_, run) = sign_in(&env, "google", "/o/oauth2/v2/auth", "");
    run.expect(1);
    assert!(
        run.pairs()["error_description"].contains("client_secret is missing"),
        "{run:#?}"
    );
    assert!(env.records().is_empty());
}

#[test]
fn google_device_flow_is_refused_before_any_request() {
    let env = Env::new();
    let run = env.run(
        &["helper"],
        lines(
            &env,
            "google",
            "flow=device\naction=login\ninteractive=always\n",
        )
        .as_bytes(),
    );
    run.expect(2);
    let p = run.pairs();
    assert_eq!(p["error"], "invalid_request");
    assert!(
        p["error_description"].contains("Google does not allow mail scopes on the device flow"),
        "{p:?}"
    );
    assert!(p["hint"].contains("authcode"));
    // The same through the command line.
    let args = [
        "token",
        "--provider",
        "google",
        "--client-id",
        CLIENT,
        "--user",
        USER,
        "--flow",
        "device",
    ];
    env.run(&args, b"")
        .expect_failure(2, &["Google does not allow mail scopes on the device flow"]);
    assert_eq!(env.idp.total_count(), 0);
    assert!(env.records().is_empty());
}

#[test]
fn fastmail_signs_in_on_its_paths_without_identity_scopes() {
    let env = Env::new();
    let (url, run) = sign_in(&env, "fastmail", "/oauth/authorize", "");
    run.expect(0);
    assert_eq!(query(&url, "scope").as_deref(), Some(FASTMAIL_SCOPE));
    assert_eq!(query(&url, "prompt"), None);
    assert_eq!(query(&url, "login_hint").as_deref(), Some(USER));
    assert!(query(&url, "code_challenge").is_some());
    let x = env.idp.token_requests(Grant::AuthCode);
    assert_eq!(x.len(), 1);
    assert_eq!(x[0].path, "/oauth/refresh");
    assert!(x[0].get("client_secret").is_none());
    assert!(x[0].get("scope").is_none());
    let p = run.pairs();
    assert_eq!(p["user"], USER);
    assert_eq!(p["scope"], FASTMAIL_SCOPE);
    assert_eq!(env.record(USER)["provider"], "fastmail");
    // Renewal goes to the same token endpoint with the stored scope.
    env.expire_cached(USER);
    let again = env.run(
        &["helper"],
        format!("{}\n", lines(&env, "fastmail", "")).as_bytes(),
    );
    again.expect(0);
    assert_eq!(again.pairs()["source"], "refresh");
    let r = env.idp.token_requests(Grant::Refresh);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].path, "/oauth/refresh");
    assert_eq!(r[0].get("scope"), Some(FASTMAIL_SCOPE));
}

#[test]
fn yahoo_signs_in_on_its_paths_and_needs_user() {
    let env = Env::new();
    let (url, run) = sign_in(&env, "yahoo", "/oauth2/request_auth", "");
    run.expect(0);
    assert_eq!(query(&url, "scope").as_deref(), Some("mail-w"));
    let x = env.idp.token_requests(Grant::AuthCode);
    assert_eq!(x.len(), 1);
    assert_eq!(x[0].path, "/oauth2/get_token");
    assert_eq!(env.record(USER)["provider"], "yahoo");
    // Without user: refused, nothing sent (Yahoo names no account).
    env.idp.reset_log();
    let req = format!(
        "provider=yahoo\nclient_id={CLIENT}\nauthority={}\naction=login\n\n",
        env.idp.authority()
    );
    let run = env.run(&["helper"], req.as_bytes());
    run.expect(2);
    assert!(
        run.pairs()["error_description"].contains("provider=yahoo needs user"),
        "{run:#?}"
    );
    assert_eq!(env.idp.total_count(), 0);
}

#[test]
fn generic_with_explicit_endpoints_signs_in_by_auth_code_and_by_device() {
    let env = Env::new();
    let base = format!("{}/common/oauth2/v2.0", env.idp.authority());
    let generic = format!(
        "provider=generic\nclient_id={CLIENT}\nuser={USER}\nscope=offline_access https://mail.example/imap\n\
         authorization_endpoint={base}/authorize\ntoken_endpoint={base}/token\n"
    );
    let signin = helper(&env, &generic);
    let url = signin.url_matching(&format!("{base}/authorize?"), "");
    assert_eq!(
        query(&url, "scope").as_deref(),
        Some("offline_access https://mail.example/imap")
    );
    browse(&url);
    let run = signin.finish();
    run.expect(0);
    assert_eq!(run.pairs()["source"], "login");
    let rec = env.record(USER);
    assert_eq!(rec["provider"], "generic");
    assert_eq!(rec["authority"], format!("{base}/token"));
    // The device flow, where the provider has one.
    let device = format!(
        "provider=generic\nclient_id={CLIENT}\nuser=dev@example.com\nscope=offline_access x\n\
         token_endpoint={base}/token\ndevice_authorization_endpoint={base}/devicecode\n\
         action=login\ninteractive=always\n\n"
    );
    env.idp.set_device_script(mock_idp::DeviceScript {
        outcome: mock_idp::DeviceOutcome::Approve("dev@example.com".into()),
        ..Default::default()
    });
    let run = env.run(&["helper"], device.as_bytes());
    run.expect(0);
    assert_eq!(env.idp.devicecode_count(), 1);
    assert_eq!(env.records().len(), 2);
}

#[test]
fn generic_endpoints_must_be_https_or_loopback() {
    let env = Env::new();
    for (key, value) in [
        ("token_endpoint", "http://idp.example/token"),
        ("token_endpoint", "ftp://idp.example/token"),
        ("token_endpoint", "https://u:p@idp.example/token"),
    ] {
        let req = format!(
            "provider=generic\nclient_id={CLIENT}\nuser={USER}\nscope=s\n{key}={value}\n\n"
        );
        let run = env.run(&["helper"], req.as_bytes());
        run.expect(2);
        assert!(
            run.pairs()["error_description"].contains("token_endpoint"),
            "{run:#?}"
        );
    }
    let req = format!(
        "provider=generic\nclient_id={CLIENT}\nuser={USER}\nscope=s\n\
         token_endpoint=https://idp.example/token\nauthorization_endpoint=http://evil.example/a\n\n"
    );
    let run = env.run(&["helper"], req.as_bytes());
    run.expect(2);
    assert!(run.pairs()["error_description"].contains("non-loopback"));
    // Endpoint keys belong to generic only.
    let run = env.run(
        &["helper"],
        lines(&env, "google", "token_endpoint=https://x/t\n\n").as_bytes(),
    );
    run.expect(2);
    assert_eq!(env.idp.total_count(), 0);
}

#[test]
fn the_same_user_at_microsoft_and_google_is_two_records() {
    let env = Env::new();
    env.seed(USER);
    let ms_path = env.record_path(USER).0;
    let (_, run) = sign_in(
        &env,
        "google",
        "/o/oauth2/v2/auth",
        &format!("client_secret={SECRET}\n"),
    );
    run.expect(0);
    let recs = env.records();
    assert_eq!(recs.len(), 2, "{recs:?}");
    let providers: Vec<&str> = recs
        .iter()
        .map(|(_, v)| v["provider"].as_str().unwrap())
        .collect();
    assert!(providers.contains(&"microsoft") && providers.contains(&"google"));
    assert!(recs.iter().any(|(p, _)| *p == ms_path));
    // Each answers for its own provider.
    let ms = env.helper("");
    ms.expect(0);
    let g = env.helper(&format!("provider=google\nclient_secret={SECRET}\n"));
    g.expect(0);
    assert_ne!(ms.pairs()["access_token"], g.pairs()["access_token"]);
    // erase --provider google leaves the Microsoft record.
    let erase = env.run(
        &[
            "erase",
            "--provider",
            "google",
            "--client-id",
            CLIENT,
            "--authority",
            &env.idp.authority(),
            "--user",
            USER,
        ],
        b"",
    );
    erase.expect(0);
    let recs = env.records();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].0, ms_path);
}

#[test]
fn a_gmail_account_from_the_config_file_logs_in_and_gives_tokens() {
    let env = Env::new();
    env.idp.require_secret(CLIENT, SECRET);
    let config = env.write_config(&format!(
        "[accounts.gmail]\nprovider = \"google\"\nclient_id = \"{CLIENT}\"\n\
         client_secret_cmd = \"echo {SECRET}\"\nuser = \"{USER}\"\nauthority = \"{}\"\n",
        env.idp.authority()
    ));
    let signin = SignIn::start(&env, &["login", "gmail"], "", Some(&config));
    let url = signin.url_matching(&format!("{}/o/oauth2/v2/auth?", env.idp.authority()), "");
    browse(&url);
    let run = signin.finish();
    run.expect(0);
    assert!(
        run.stderr.contains("signed in as me@example.com"),
        "{run:#?}"
    );
    let token = env.run_with_config(&config, &["token", "gmail"], b"");
    token.expect(0);
    assert_eq!(token.stdout, format!("{}\n", env.cached_access_token(USER)));
}

/// Request lines of a generic account known only by its issuer.
fn issuer_lines(env: &Env, extra: &str) -> String {
    format!(
        "issuer={}\nclient_id={CLIENT}\nuser={USER}\nscope=offline_access https://mail.example/imap\n{extra}",
        env.idp.issuer("common")
    )
}

/// `ooauth2 helper` with the issuer account's lines and `extra`.
fn issuer_helper(env: &Env, extra: &str) -> Run {
    env.run(
        &["helper"],
        format!("{}\n", issuer_lines(env, extra)).as_bytes(),
    )
}

/// The discovery cache files in the store.
fn discovery_files(env: &Env) -> Vec<std::path::PathBuf> {
    env.files()
        .into_iter()
        .filter(|p| p.parent().is_some_and(|d| d.ends_with("discovery")))
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect()
}

#[test]
fn an_issuer_is_discovered_once_cached_and_used_for_sign_in_and_refresh() {
    let env = Env::new();
    let signin = helper(&env, &issuer_lines(&env, ""));
    // The document has an authorization endpoint, so the browser flow is the default.
    let base = format!("{}/common/oauth2/v2.0", env.idp.authority());
    let url = signin.url_matching(&format!("{base}/authorize?"), "");
    browse(&url);
    let run = signin.finish();
    run.expect(0);
    assert_eq!(run.pairs()["source"], "login");
    assert_eq!(env.idp.discovery_count(), 1);
    let rec = env.record(USER);
    assert_eq!(rec["provider"], "generic");
    // The issuer names the account, whatever its endpoints become.
    assert_eq!(rec["authority"], env.idp.issuer("common"));
    let cache = discovery_files(&env);
    assert_eq!(cache.len(), 1, "{:?}", env.files());
    let modes: std::collections::HashMap<_, _> = env.modes().into_iter().collect();
    assert_eq!(modes[&cache[0]] & 0o777, 0o600);
    use std::os::unix::fs::PermissionsExt;
    let dir_mode = std::fs::metadata(cache[0].parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    // A cached token needs no document; an expired one is refreshed at the
    // discovered token endpoint without fetching the document again.
    issuer_helper(&env, "").expect(0);
    env.expire_cached(USER);
    let run = issuer_helper(&env, "");
    run.expect(0);
    assert_eq!(run.pairs()["source"], "refresh");
    assert_eq!(env.idp.count(Grant::Refresh), 1);
    assert_eq!(env.idp.discovery_count(), 1);
    // The same account from the command line.
    let run = env.run(
        &[
            "token",
            "--issuer",
            &env.idp.issuer("common"),
            "--client-id",
            CLIENT,
            "--user",
            USER,
            "--scope",
            "offline_access https://mail.example/imap",
        ],
        b"",
    );
    run.expect(0);
    assert_eq!(run.stdout.lines().count(), 1);
}

#[test]
fn rfc8414_metadata_serves_when_openid_configuration_is_missing() {
    let env = Env::new();
    env.idp
        .set_discovery_mode(mock_idp::DiscoveryMode::Rfc8414Only);
    env.idp.set_device_script(mock_idp::DeviceScript {
        outcome: mock_idp::DeviceOutcome::Approve(USER.into()),
        ..Default::default()
    });
    let run = issuer_helper(&env, "action=login\ninteractive=always\nflow=device\n");
    run.expect(0);
    assert_eq!(env.idp.discovery_count(), 2);
    assert_eq!(env.idp.devicecode_count(), 1);
    // One pending poll, then the approval.
    assert_eq!(env.idp.count(Grant::Device), 2);
}

#[test]
fn a_document_naming_another_issuer_is_refused_before_any_grant() {
    let env = Env::new();
    env.idp
        .set_discovery_mode(mock_idp::DiscoveryMode::WrongIssuer);
    let run = issuer_helper(&env, "action=login\ninteractive=always\n");
    run.expect(75);
    assert!(
        run.stderr.contains("names another issuer"),
        "{}",
        run.stderr
    );
    assert_eq!(run.pairs()["error"], "bad_response");
    assert_eq!(env.idp.total_count(), env.idp.discovery_count());
    assert!(discovery_files(&env).is_empty());
    // A flow the document does not offer is refused before any grant too.
    env.idp
        .set_discovery_mode(mock_idp::DiscoveryMode::NoDevice);
    let run = issuer_helper(&env, "action=login\ninteractive=always\nflow=device\n");
    run.expect(2);
    assert!(
        run.stderr
            .contains("flow=device needs device_authorization_endpoint"),
        "{}",
        run.stderr
    );
    assert_eq!(env.idp.devicecode_count(), 0);
    // issuer belongs to generic.
    let google = format!(
        "provider=google\nissuer={}\nclient_id={CLIENT}\n\n",
        env.idp.issuer("common")
    );
    let run = env.run(&["helper"], google.as_bytes());
    run.expect(2);
    assert!(
        run.stderr
            .contains("issuer applies only to provider=generic")
    );
    let plain = format!(
        "provider=generic\nissuer=http://example.com\nclient_id={CLIENT}\nuser={USER}\nscope=s\n\n"
    );
    let run = env.run(&["helper"], plain.as_bytes());
    run.expect(2);
    assert!(
        run.stderr
            .contains("issuer 'http://example.com' uses http on a non-loopback host"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_stale_document_serves_while_the_issuer_is_down_and_is_renewed_after_a_day() {
    let env = Env::new();
    env.idp.set_device_script(mock_idp::DeviceScript {
        outcome: mock_idp::DeviceOutcome::Approve(USER.into()),
        ..Default::default()
    });
    issuer_helper(&env, "action=login\ninteractive=always\nflow=device\n").expect(0);
    assert_eq!(env.idp.discovery_count(), 1);
    // Two days old.
    let cache = discovery_files(&env).pop().unwrap();
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
    let old = doc["fetched_at"].as_u64().unwrap() - 2 * 86_400;
    doc["fetched_at"] = old.into();
    std::fs::write(&cache, doc.to_string()).unwrap();
    env.idp
        .set_discovery_mode(mock_idp::DiscoveryMode::Unavailable);
    env.expire_cached(USER);
    let run = issuer_helper(&env, "");
    run.expect(0);
    assert!(
        run.stderr
            .contains("using the discovery document fetched 48 h ago"),
        "{}",
        run.stderr
    );
    assert_eq!(env.idp.count(Grant::Refresh), 1);
    // Back up: the next renewal fetches a new copy and caches it.
    env.idp.set_discovery_mode(mock_idp::DiscoveryMode::Both);
    env.expire_cached(USER);
    let before = env.idp.discovery_count();
    issuer_helper(&env, "").expect(0);
    assert_eq!(env.idp.discovery_count(), before + 1);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
    assert!(doc["fetched_at"].as_u64().unwrap() > old + 86_400);
}

#[test]
fn google_from_the_command_line_alone_with_client_secret_cmd() {
    let env = Env::new();
    env.idp.require_secret(CLIENT, SECRET);
    let marker = env.root.join("secret-cmd-ran");
    let cmd = format!("touch '{}'; echo {SECRET}", marker.display());
    let flags = |command: &str| {
        let mut args = vec![command.to_string()];
        for a in [
            "--provider",
            "google",
            "--client-id",
            CLIENT,
            "--user",
            USER,
            "--authority",
            &env.idp.authority(),
            "--client-secret-cmd",
            &cmd,
        ] {
            args.push(a.to_string());
        }
        args
    };
    let login = flags("login");
    let login: Vec<&str> = login.iter().map(String::as_str).collect();
    let signin = SignIn::start(&env, &login, "", None);
    let url = signin.url_matching(&format!("{}/o/oauth2/v2/auth?", env.idp.authority()), "");
    browse(&url);
    let run = signin.finish();
    run.expect(0);
    assert!(!run.stderr.contains(SECRET), "{}", run.stderr);
    let x = env.idp.token_requests(Grant::AuthCode);
    assert_eq!(x[0].get("client_secret"), Some(SECRET));
    // A cached token: the command does not run.
    std::fs::remove_file(&marker).unwrap();
    env.run(&flags("token"), b"").expect(0);
    assert!(!marker.exists(), "client_secret_cmd ran for a cached token");
    // A refresh runs it and sends its line.
    env.expire_cached(USER);
    let run = env.run(&flags("token"), b"");
    run.expect(0);
    assert!(marker.exists());
    let r = env.idp.token_requests(Grant::Refresh);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].get("client_secret"), Some(SECRET));
    // An empty command is refused before anything runs.
    let mut bad = flags("token");
    let last = bad.len() - 1;
    bad[last] = " ".into();
    env.run(&bad, b"").expect_failure(
        2,
        &["--client-secret-cmd must be a non-empty shell command"],
    );
}
