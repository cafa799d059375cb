//! The auth code flow with PKCE on a loopback redirect (RFC 7636, RFC 8252),
//! end to end: the binary prints the authorization URL on stderr, the test
//! plays the browser (GET the URL at the mock, redirects not followed, then
//! GET the Location on the binary's loopback listener), and checks the page,
//! the answer, the store and what reached the mock's token endpoint.

use crate::support::browser::{Page, SignIn, get};
use crate::support::run::{CLIENT, Env, USER, free_port};
use mock_idp::{AuthorizeMode, Grant};
use std::net::TcpStream;

/// `ooauth2 helper` with an `action=login` request for `USER` and `extra` lines.
fn helper(env: &Env, extra: &str) -> SignIn {
    let req = format!(
        "{}action=login\ninteractive=always\nflow=authcode\n{extra}\n",
        env.account_lines(USER)
    );
    SignIn::start(env, &["helper"], &req, None)
}

/// The authorization URL the binary printed.
fn authorize_url(sign_in: &SignIn) -> String {
    sign_in.url_matching("http://", "/oauth2/v2.0/authorize?")
}

/// The value of `key` in the query of `url`, percent-decoded.
fn query(url: &str, key: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Plays the browser: the authorize endpoint, then its redirect. Returns the
/// loopback listener's page.
fn browse(url: &str) -> Page {
    let at_idp = get(url);
    assert_eq!(at_idp.status, 302, "authorize answered: {}", at_idp.body);
    get(&at_idp.location.unwrap())
}

#[test]
fn success_stores_the_account_and_the_exchange_carries_the_verifier() {
    let env = Env::new();
    let signin = helper(&env, "");
    let url = authorize_url(&signin);
    assert_eq!(query(&url, "client_id").as_deref(), Some(CLIENT));
    assert_eq!(query(&url, "login_hint").as_deref(), Some(USER));
    assert_eq!(query(&url, "prompt").as_deref(), Some("select_account"));
    assert_eq!(
        query(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    let redirect_uri = query(&url, "redirect_uri").unwrap();
    assert!(redirect_uri.starts_with("http://127.0.0.1:") && redirect_uri.ends_with('/'));
    let page = browse(&url);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Signed in"), "{}", page.body);
    let run = signin.finish();
    run.expect(0);
    let p = run.pairs();
    assert_eq!(p["source"], "login");
    assert_eq!(p["user"], USER);
    assert!(p["access_token"].starts_with("mockat."));
    let rec = env.record(USER);
    assert!(
        rec["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("mockrt.")
    );
    assert_eq!(
        rec["access_token"].as_str(),
        Some(p["access_token"].as_str())
    );
    let exchanges = env.idp.token_requests(Grant::AuthCode);
    assert_eq!(exchanges.len(), 1);
    let x = &exchanges[0];
    let verifier = x.get("code_verifier").unwrap();
    assert!((43..=128).contains(&verifier.len()));
    assert_eq!(x.get("redirect_uri"), Some(redirect_uri.as_str()));
    assert!(x.get("client_secret").is_none());
    assert!(x.get("scope").unwrap().contains("offline_access"));
    assert_eq!(env.idp.count(Grant::Device), 0);
    // A second visit finds the listener closed.
    assert!(
        TcpStream::connect(
            redirect_uri
                .trim_start_matches("http://")
                .trim_end_matches('/')
        )
        .is_err()
    );
    // The stored account renews like any other.
    env.expire_cached(USER);
    let again = env.helper("");
    again.expect(0);
    assert_eq!(again.pairs()["source"], "refresh");
}

#[test]
fn wrong_state_is_refused_and_the_code_is_never_exchanged() {
    let env = Env::new();
    env.idp.set_authorize_mode(AuthorizeMode::WrongState);
    let signin = helper(&env, "");
    let page = browse(&authorize_url(&signin));
    assert_eq!(page.status, 400);
    assert!(page.body.contains("state does not match"), "{}", page.body);
    let run = signin.finish();
    run.expect(1);
    assert_eq!(run.pairs()["error"], "bad_redirect");
    assert!(
        run.stderr.contains("nothing was exchanged"),
        "{}",
        run.stderr
    );
    assert_eq!(env.idp.count(Grant::AuthCode), 0);
    assert!(env.records().is_empty());
}

#[test]
fn access_denied_in_the_redirect_is_a_typed_error() {
    let env = Env::new();
    env.idp.set_authorize_mode(AuthorizeMode::Deny);
    let signin = helper(&env, "");
    let page = browse(&authorize_url(&signin));
    assert_eq!(page.status, 400);
    assert!(page.body.contains("access_denied"), "{}", page.body);
    let run = signin.finish();
    run.expect(1);
    let p = run.pairs();
    assert_eq!(p["error"], "access_denied");
    assert!(p["error_description"].contains("AADSTS65004"), "{p:?}");
    assert!(p["hint"].contains("declined"));
    assert_eq!(
        run.stdout
            .lines()
            .filter(|l| l.starts_with("access_token"))
            .count(),
        0
    );
    assert_eq!(env.idp.count(Grant::AuthCode), 0);
    assert!(env.records().is_empty());
}

#[test]
fn a_redirect_without_a_code_is_refused() {
    let env = Env::new();
    env.idp.set_authorize_mode(AuthorizeMode::NoCode);
    let signin = helper(&env, "");
    let page = browse(&authorize_url(&signin));
    assert_eq!(page.status, 400);
    let run = signin.finish();
    run.expect(1);
    assert_eq!(run.pairs()["error"], "bad_redirect");
    assert!(run.pairs()["error_description"].contains("neither a code nor an error"));
    assert_eq!(env.idp.count(Grant::AuthCode), 0);
}

#[test]
fn other_paths_get_404_and_the_sign_in_goes_on() {
    let env = Env::new();
    let signin = helper(&env, "");
    let url = authorize_url(&signin);
    let base = query(&url, "redirect_uri").unwrap();
    let favicon = get(&format!("{base}favicon.ico"));
    assert_eq!(favicon.status, 404);
    let probe = get(&format!("{base}callback?code=x&state=y"));
    assert_eq!(probe.status, 404);
    let page = browse(&url);
    assert_eq!(page.status, 200);
    let run = signin.finish();
    run.expect(0);
    assert_eq!(run.pairs()["source"], "login");
    assert_eq!(env.idp.count(Grant::AuthCode), 1);
}

#[test]
fn no_browser_within_signin_timeout_is_expired_token() {
    let env = Env::new();
    let signin = helper(&env, "signin_timeout=1\n");
    let url = authorize_url(&signin);
    let run = signin.finish();
    run.expect(1);
    let p = run.pairs();
    assert_eq!(p["error"], "expired_token");
    assert!(p["error_description"].contains("within 1 s"), "{p:?}");
    assert!(p["hint"].contains("signin_timeout"));
    // The listener is gone.
    let base = query(&url, "redirect_uri").unwrap();
    assert!(TcpStream::connect(base.trim_start_matches("http://").trim_end_matches('/')).is_err());
    assert_eq!(env.idp.count(Grant::AuthCode), 0);
    assert!(env.records().is_empty());
}

#[test]
fn login_command_with_a_fixed_redirect_port() {
    let env = Env::new();
    let port = free_port();
    let args = env.args(
        "login",
        USER,
        &["--flow", "authcode", "--redirect-port", &port.to_string()],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let signin = SignIn::start(&env, &args, "", None);
    let url = authorize_url(&signin);
    assert_eq!(
        query(&url, "redirect_uri").unwrap(),
        format!("http://127.0.0.1:{port}/")
    );
    assert_eq!(browse(&url).status, 200);
    let run = signin.finish();
    run.expect(0);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr
            .contains(&format!("ssh -L {port}:127.0.0.1:{port}")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("signed in as me@example.com"),
        "{}",
        run.stderr
    );
    assert!(env.stored_refresh_token(USER).starts_with("mockrt."));
    // A port in use is a clear error before anything is sent.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port().to_string();
    let run = env.login(USER, &["--flow", "authcode", "--redirect-port", &busy_port]);
    run.expect(2);
    assert!(
        run.stderr.contains("cannot listen on 127.0.0.1:"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("redirect_port"), "{}", run.stderr);
}

#[test]
fn the_mock_checks_pkce_so_a_stolen_code_is_useless() {
    let env = Env::new();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let redirect = "http%3A%2F%2F127.0.0.1%3A1%2F";
    let url = format!(
        "{}/common/oauth2/v2.0/authorize?client_id={CLIENT}&response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2F&scope=offline_access+openid&state=s1&code_challenge={challenge}&code_challenge_method=S256",
        env.idp.authority()
    );
    let code = |_: ()| {
        let page = get(&url);
        assert_eq!(page.status, 302, "{}", page.body);
        query(&page.location.unwrap(), "code").unwrap()
    };
    let exchange = |code: &str, verifier: &str| {
        let body = format!(
            "client_id={CLIENT}&grant_type=authorization_code&code={code}&redirect_uri={redirect}&code_verifier={verifier}"
        );
        let resp = reqwest::blocking::Client::new()
            .post(format!("{}/common/oauth2/v2.0/token", env.idp.authority()))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .unwrap();
        (resp.status().as_u16(), resp.text().unwrap())
    };
    // A code taken without the verifier cannot be redeemed, even once.
    let stolen = code(());
    let (status, body) = exchange(&stolen, &"x".repeat(43));
    assert_eq!(status, 400);
    assert!(body.contains("AADSTS501481"), "{body}");
    // The right verifier works, once.
    let good = code(());
    let (status, body) = exchange(&good, verifier);
    assert_eq!(status, 200, "{body}");
    let (status, body) = exchange(&good, verifier);
    assert_eq!(status, 400);
    assert!(body.contains("AADSTS54005"), "{body}");
    // The authorize endpoint refuses a plain challenge.
    let plain = get(&url.replace("S256", "plain"));
    assert_eq!(plain.status, 400);
}

// ---------------------------------------------------------------------------
// The paste fallback: the user pastes the address the browser ended up at
// (or just its code) on stdin instead of the browser reaching the listener.
// ---------------------------------------------------------------------------

/// `ooauth2 login --flow authcode` for `USER` whose stdin stays open for
/// pastes and whose stderr is read line by line.
struct Pasting(SignIn);

impl Pasting {
    fn start(env: &Env) -> Pasting {
        Pasting(SignIn::spawn_open(env.command(&env.args(
            "login",
            USER,
            &["--flow", "authcode"],
        ))))
    }

    /// The authorization URL printed on stderr, once the paste instruction
    /// that follows it is there too.
    fn url(&self) -> String {
        let mut url = None;
        loop {
            let line = self.0.line();
            let l = line.trim();
            if l.starts_with("http://") && l.contains("/oauth2/v2.0/authorize?") {
                url = Some(l.to_string());
            }
            if line.contains("paste the address") {
                return url.expect("the instruction came before the URL");
            }
        }
    }

    /// Types `line` and ENTER on stdin.
    fn paste(&mut self, line: &str) {
        self.0.type_line(line);
    }

    /// Closes stdin, waits for the exit (killed by PID after 30 s).
    fn finish(self) -> crate::support::run::Run {
        self.0.finish()
    }
}

/// The address the mock's authorize endpoint sends the browser to, without
/// following it: what the user sees in the address bar.
fn redirected_address(url: &str) -> String {
    let at_idp = get(url);
    assert_eq!(at_idp.status, 302, "authorize answered: {}", at_idp.body);
    at_idp.location.unwrap()
}

/// Whether the listener of `url`'s redirect_uri still takes connections.
fn listener_open(url: &str) -> bool {
    let base = query(url, "redirect_uri").unwrap();
    TcpStream::connect(base.trim_start_matches("http://").trim_end_matches('/')).is_ok()
}

#[test]
fn pasting_the_redirected_address_signs_in_and_closes_the_listener() {
    let env = Env::new();
    let mut signin = Pasting::start(&env);
    let url = signin.url();
    let address = redirected_address(&url);
    assert!(address.starts_with("http://127.0.0.1:"), "{address}");
    signin.paste(&address);
    let run = signin.finish();
    run.expect(0);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains("signed in as me@example.com"),
        "{run:#?}"
    );
    assert_eq!(env.idp.count(Grant::AuthCode), 1);
    let x = &env.idp.token_requests(Grant::AuthCode)[0];
    assert_eq!(x.get("code"), query(&address, "code").as_deref());
    assert!(x.get("code_verifier").is_some());
    assert!(env.stored_refresh_token(USER).starts_with("mockrt."));
    assert!(!listener_open(&url), "the listener was left open");
}

#[test]
fn pasting_the_bare_code_signs_in() {
    let env = Env::new();
    let mut signin = Pasting::start(&env);
    let url = signin.url();
    let code = query(&redirected_address(&url), "code").unwrap();
    signin.paste(&format!("  {code}  "));
    let run = signin.finish();
    run.expect(0);
    assert!(
        run.stderr.contains("signed in as me@example.com"),
        "{run:#?}"
    );
    assert_eq!(env.idp.count(Grant::AuthCode), 1);
    assert_eq!(
        env.idp.token_requests(Grant::AuthCode)[0].get("code"),
        Some(code.as_str())
    );
}

#[test]
fn a_pasted_address_with_the_wrong_state_is_refused_and_nothing_is_exchanged() {
    let env = Env::new();
    env.idp.set_authorize_mode(AuthorizeMode::WrongState);
    let mut signin = Pasting::start(&env);
    let url = signin.url();
    signin.paste(&redirected_address(&url));
    let run = signin.finish();
    run.expect_failure(1, &["state does not match", "nothing was exchanged"]);
    assert_eq!(env.idp.count(Grant::AuthCode), 0);
    assert!(env.records().is_empty());
    assert!(!listener_open(&url));
}

#[test]
fn a_pasted_address_with_an_error_is_that_error() {
    let env = Env::new();
    env.idp.set_authorize_mode(AuthorizeMode::Deny);
    let mut signin = Pasting::start(&env);
    let url = signin.url();
    signin.paste(&redirected_address(&url));
    let run = signin.finish();
    run.expect_failure(1, &["access_denied", "declined"]);
    assert_eq!(env.idp.count(Grant::AuthCode), 0);
}

#[test]
fn pasted_garbage_is_explained_and_the_wait_goes_on() {
    let env = Env::new();
    let mut signin = Pasting::start(&env);
    let url = signin.url();
    signin.paste("");
    signin.paste("I have no idea what to paste");
    signin.paste("https://example.com/some/page");
    signin.paste(&redirected_address(&url));
    let run = signin.finish();
    run.expect(0);
    assert_eq!(
        run.stderr
            .matches("neither the address the browser ended up at nor a code")
            .count(),
        2,
        "{run:#?}"
    );
    assert_eq!(env.idp.count(Grant::AuthCode), 1);
}

#[test]
fn the_browser_still_wins_when_it_comes_first() {
    let env = Env::new();
    let mut signin = Pasting::start(&env);
    let url = signin.url();
    let address = redirected_address(&url);
    assert_eq!(get(&address).status, 200);
    // A paste after the sign-in ended changes nothing.
    signin.paste("too-late-a-code-12345");
    let run = signin.finish();
    run.expect(0);
    assert_eq!(env.idp.count(Grant::AuthCode), 1);
    assert_eq!(
        env.idp.token_requests(Grant::AuthCode)[0].get("code"),
        query(&address, "code").as_deref()
    );
}
