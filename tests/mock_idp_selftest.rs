//! Tests of the mock identity platform itself.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mock_idp::{DeviceOutcome, DeviceScript, Fault, Grant, MockIdp};
use reqwest::blocking::Client;
use serde_json::Value;

const CLIENT: &str = "9e5f94bc-e8a4-4e73-b8be-63364c29d753";
const SCOPE: &str = "offline_access openid https://outlook.office.com/IMAP.AccessAsUser.All \
                     https://outlook.office.com/SMTP.Send";
const API_SCOPE: &str =
    "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send";

fn client() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("reqwest client")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).expect("JSON body")
    }
}

fn post(c: &Client, url: &str, params: &[(&str, &str)]) -> Answer {
    let body = params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let r = c
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    Answer {
        status,
        headers,
        text: r.text().expect("body"),
    }
}

fn token_url(idp: &MockIdp) -> String {
    format!("{}/common/oauth2/v2.0/token", idp.authority())
}

fn refresh(c: &Client, idp: &MockIdp, rt: &str) -> Answer {
    post(
        c,
        &token_url(idp),
        &[
            ("client_id", CLIENT),
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("scope", SCOPE),
        ],
    )
}

fn start_device(c: &Client, idp: &MockIdp) -> Value {
    let a = post(
        c,
        &format!("{}/organizations/oauth2/v2.0/devicecode", idp.authority()),
        &[("client_id", CLIENT), ("scope", SCOPE)],
    );
    assert_eq!(a.status, 200, "{}", a.text);
    a.json()
}

fn poll(c: &Client, idp: &MockIdp, device_code: &str) -> Answer {
    post(
        c,
        &format!("{}/organizations/oauth2/v2.0/token", idp.authority()),
        &[
            ("client_id", CLIENT),
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device_code),
        ],
    )
}

fn assert_ms_error(a: &Answer, status: u16, error: &str, code: u64) {
    assert_eq!(a.status, status, "{}", a.text);
    let v = a.json();
    assert_eq!(v["error"], error, "{}", a.text);
    assert_eq!(v["error_codes"][0], code, "{}", a.text);
    let d = v["error_description"].as_str().expect("description");
    assert!(d.starts_with(&format!("AADSTS{code}: ")), "{d}");
    assert!(d.contains("\r\nTrace ID: "), "{d}");
    assert!(d.contains("\r\nCorrelation ID: "), "{d}");
    assert!(d.contains("\r\nTimestamp: "), "{d}");
    assert!(v["trace_id"].is_string() && v["correlation_id"].is_string());
}

#[test]
fn device_flow_default_script() {
    let idp = MockIdp::start();
    let c = client();
    let dc = start_device(&c, &idp);
    let user_code = dc["user_code"].as_str().expect("user_code");
    assert_eq!(user_code.len(), 8);
    assert!(
        user_code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    );
    let uri = format!("{}/devicelogin", idp.authority());
    assert_eq!(dc["verification_uri"], uri.as_str());
    assert_eq!(dc["expires_in"], 900);
    assert_eq!(dc["interval"], 0);
    assert_eq!(
        dc["message"],
        format!(
            "To sign in, use a web browser to open the page {uri} and enter the code \
             {user_code} to authenticate."
        )
        .as_str()
    );
    let device_code = dc["device_code"].as_str().expect("device_code");
    assert!(device_code.len() > 64);

    let a = poll(&c, &idp, device_code);
    assert_ms_error(&a, 400, "authorization_pending", 70016);
    assert!(a.json()["error_description"]
        .as_str()
        .expect("description")
        .starts_with(
            "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling."
        ));

    let a = poll(&c, &idp, device_code);
    assert_eq!(a.status, 200, "{}", a.text);
    let v = a.json();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["scope"], API_SCOPE);
    assert_eq!(v["expires_in"], 3600);
    let at = v["access_token"].as_str().expect("access_token");
    let rt = v["refresh_token"].as_str().expect("refresh_token");
    assert!(at.starts_with("mockat.") && rt.starts_with("mockrt."));
    let id = v["id_token"].as_str().expect("id_token");
    assert!(id.ends_with('.'));
    let parts: Vec<&str> = id.split('.').collect();
    assert_eq!(parts.len(), 3);
    let payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("base64url"))
            .expect("payload JSON");
    assert_eq!(payload["preferred_username"], "me@example.com");
    assert_eq!(payload["aud"], CLIENT);
    assert_eq!(payload["tid"], "9188040d-6c67-4c5b-b112-36a304b66dad");

    assert!(idp.is_active_access_token(at));
    assert!(idp.is_valid_refresh_token(rt));
    assert_eq!(
        idp.last_refresh_token_for("me@example.com").as_deref(),
        Some(rt)
    );

    // The device code is consumed.
    assert_ms_error(
        &poll(&c, &idp, device_code),
        400,
        "bad_verification_code",
        70000,
    );
    assert_eq!(idp.devicecode_count(), 1);
    assert_eq!(idp.count(Grant::Device), 3);
    assert_eq!(idp.count(Grant::Refresh), 0);
    assert_eq!(idp.total_count(), 4);
    let reqs = idp.token_requests(Grant::Device);
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].tenant, "organizations");
    assert_eq!(reqs[0].get("device_code"), Some(device_code));

    // Introspection, by form and by bearer header.
    let url = format!("{}/introspect", idp.authority());
    let v = post(&c, &url, &[("token", at)]).json();
    assert_eq!(v["active"], true);
    assert_eq!(v["username"], "me@example.com");
    assert_eq!(v["client_id"], CLIENT);
    let r = c.get(&url).bearer_auth(at).send().expect("introspect");
    let v: Value = serde_json::from_str(&r.text().expect("body")).expect("json");
    assert_eq!(v["active"], true);
    idp.expire_access_tokens();
    assert_eq!(post(&c, &url, &[("token", at)]).json()["active"], false);
}

#[test]
fn device_flow_slow_down_decline_expire() {
    let idp = MockIdp::start();
    let c = client();
    idp.set_device_script(DeviceScript {
        slow_down_polls: 2,
        pending_polls: 1,
        outcome: DeviceOutcome::Approve("alice@example.org".to_string()),
    });
    let dc = start_device(&c, &idp);
    let code = dc["device_code"].as_str().expect("device_code");
    assert_ms_error(&poll(&c, &idp, code), 400, "slow_down", 70016);
    assert_ms_error(&poll(&c, &idp, code), 400, "slow_down", 70016);
    assert_ms_error(&poll(&c, &idp, code), 400, "authorization_pending", 70016);
    let a = poll(&c, &idp, code);
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(idp.last_refresh_token_for("alice@example.org").is_some());

    idp.set_device_script(DeviceScript {
        slow_down_polls: 0,
        pending_polls: 0,
        outcome: DeviceOutcome::Decline,
    });
    let dc = start_device(&c, &idp);
    let code = dc["device_code"].as_str().expect("device_code");
    assert_ms_error(&poll(&c, &idp, code), 400, "authorization_declined", 70000);

    idp.set_device_expires_in(0);
    let dc = start_device(&c, &idp);
    let code = dc["device_code"].as_str().expect("device_code");
    assert_ms_error(&poll(&c, &idp, code), 400, "expired_token", 70020);
    assert_ms_error(
        &poll(&c, &idp, "nonsense"),
        400,
        "bad_verification_code",
        70000,
    );
}

#[test]
fn refresh_rotation_lenient_and_strict() {
    let idp = MockIdp::start();
    let c = client();
    idp.set_token_size(2000);
    let rt = idp.issue_refresh_token("me@example.com", CLIENT);
    let a = refresh(&c, &idp, &rt);
    assert_eq!(a.status, 200, "{}", a.text);
    let v = a.json();
    assert_eq!(v["access_token"].as_str().expect("at").len(), 2000);
    let rt2 = v["refresh_token"].as_str().expect("new rt").to_string();
    assert_ne!(rt2, rt);
    // Microsoft's behaviour: the old refresh token stays valid.
    assert!(idp.is_valid_refresh_token(&rt));
    assert_eq!(refresh(&c, &idp, &rt).status, 200);

    idp.set_strict_rotation(true);
    let a = refresh(&c, &idp, &rt2);
    assert_eq!(a.status, 200, "{}", a.text);
    let rt3 = a.json()["refresh_token"]
        .as_str()
        .expect("new rt")
        .to_string();
    assert!(!idp.is_valid_refresh_token(&rt2));
    assert_ms_error(&refresh(&c, &idp, &rt2), 400, "invalid_grant", 70000);
    assert_eq!(
        idp.last_refresh_token_for("me@example.com").as_deref(),
        Some(rt3.as_str())
    );

    // Rotation off: no refresh_token in the answer, the old one keeps working.
    idp.set_rotation(false);
    let v = refresh(&c, &idp, &rt3).json();
    assert!(v["access_token"].is_string());
    assert!(v.get("refresh_token").is_none());
    assert!(idp.is_valid_refresh_token(&rt3));

    idp.revoke_refresh_token(&rt3);
    assert_ms_error(&refresh(&c, &idp, &rt3), 400, "invalid_grant", 50173);
    let rt4 = idp.issue_refresh_token("me@example.com", CLIENT);
    idp.expire_refresh_token(&rt4);
    assert_ms_error(&refresh(&c, &idp, &rt4), 400, "invalid_grant", 700082);
    assert_ms_error(
        &refresh(&c, &idp, "mockrt.0.x"),
        400,
        "invalid_grant",
        70000,
    );
    assert_eq!(idp.count(Grant::Refresh), 8);
}

#[test]
fn missing_parameters_and_confidential_client() {
    let idp = MockIdp::start();
    let c = client();
    let rt = idp.issue_refresh_token("me@example.com", CLIENT);
    let a = post(
        &c,
        &token_url(&idp),
        &[
            ("client_id", CLIENT),
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
        ],
    );
    assert_ms_error(&a, 400, "invalid_request", 900144);
    assert!(a.text.contains("parameter: 'scope'"), "{}", a.text);

    let a = post(
        &c,
        &format!("{}/common/oauth2/v2.0/devicecode", idp.authority()),
        &[("scope", SCOPE)],
    );
    assert_ms_error(&a, 400, "invalid_request", 900144);
    assert!(a.text.contains("parameter: 'client_id'"), "{}", a.text);

    let a = post(
        &c,
        &token_url(&idp),
        &[("client_id", CLIENT), ("grant_type", "password")],
    );
    assert_ms_error(&a, 400, "unsupported_grant_type", 70003);
    assert_eq!(idp.count(Grant::Other), 1);

    idp.require_secret(CLIENT, "s3cret");
    assert_ms_error(&refresh(&c, &idp, &rt), 401, "invalid_client", 7000218);
    let a = post(
        &c,
        &token_url(&idp),
        &[
            ("client_id", CLIENT),
            ("client_secret", "s3cret"),
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("scope", SCOPE),
        ],
    );
    assert_eq!(a.status, 200, "{}", a.text);

    let r = c
        .get(format!("{}/nowhere", idp.authority()))
        .send()
        .expect("request");
    assert_eq!(r.status().as_u16(), 404);
}

#[test]
fn faults_then_normal() {
    let idp = MockIdp::start();
    let c = client();
    let rt = idp.issue_refresh_token("me@example.com", CLIENT);
    idp.push_fault(Fault::Status(500));
    idp.push_fault(Fault::TooManyRequests {
        retry_after_secs: 7,
    });
    idp.push_fault(Fault::InvalidJson);
    idp.push_fault(Fault::ExpiresInString);
    idp.push_fault(Fault::Redirect("http://127.0.0.1:9/elsewhere".to_string()));
    idp.push_fault(Fault::OAuthError {
        status: 400,
        error: "invalid_grant".to_string(),
        description: "AADSTS50076: Due to a configuration change made by your administrator, \
                      you must use multi-factor authentication."
            .to_string(),
        code: 50076,
    });
    idp.push_fault(Fault::Huge(300_000));
    idp.push_fault(Fault::CloseWithoutAnswer);

    assert_ms_error(&refresh(&c, &idp, &rt), 500, "server_error", 50000);
    let a = refresh(&c, &idp, &rt);
    assert_eq!(a.status, 429);
    assert_eq!(
        a.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("7")
    );
    let a = refresh(&c, &idp, &rt);
    assert_eq!((a.status, a.text.as_str()), (200, "{\"access_token\": "));
    let a = refresh(&c, &idp, &rt);
    assert_eq!(a.json()["expires_in"], "3600");
    let a = refresh(&c, &idp, &rt);
    assert_eq!(a.status, 302);
    assert_eq!(
        a.headers.get("location").and_then(|v| v.to_str().ok()),
        Some("http://127.0.0.1:9/elsewhere")
    );
    assert_ms_error(&refresh(&c, &idp, &rt), 400, "invalid_grant", 50076);
    let a = refresh(&c, &idp, &rt);
    assert_eq!((a.status, a.text.len()), (200, 300_000));
    assert!(a.json()["access_token"].is_string());
    let body = "client_id=x&grant_type=refresh_token&refresh_token=y&scope=z";
    let e = c
        .post(token_url(&idp))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send();
    assert!(e.is_err());

    assert_eq!(idp.pending_faults(), 0);
    assert_eq!(refresh(&c, &idp, &rt).status, 200);
    assert_eq!(idp.count(Grant::Refresh), 9);
}

#[test]
fn counts_are_exact_under_concurrency() {
    let idp = MockIdp::start();
    let c = client();
    idp.set_delay_ms(30);
    let rt = idp.issue_refresh_token("me@example.com", CLIENT);
    let statuses: Vec<u16> = thread::scope(|s| {
        let handles: Vec<_> = (0..32)
            .map(|_| {
                let c = c.clone();
                let (idp, rt) = (&idp, &rt);
                s.spawn(move || refresh(&c, idp, rt).status)
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    assert_eq!(idp.count(Grant::Refresh), 32);
    assert_eq!(idp.total_count(), 32);
    assert_eq!(idp.token_requests(Grant::Refresh).len(), 32);
    // The log holds what the mock-idp program prints for each request.
    let token_path = token_url(&idp).replace(&idp.authority(), "");
    assert!(
        idp.requests()
            .iter()
            .all(|r| r.method == "POST" && r.path == token_path),
        "{:?}",
        idp.requests()
    );
    idp.reset_log();
    assert_eq!(idp.count(Grant::Refresh), 0);
    assert!(idp.requests().is_empty());
}

#[test]
fn malformed_http_gets_400() {
    let idp = MockIdp::start();
    let mut s = TcpStream::connect(("127.0.0.1", idp.port())).expect("connect");
    s.write_all(b"\x16\x03\x01garbage\r\n\r\n").expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
    assert!(out.contains("Connection: close"));

    // A TLS ClientHello (no CRLF at all) is refused at once, not after a timeout.
    let t = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", idp.port())).expect("connect");
    s.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(idp.total_count(), 0);
}

#[test]
fn drop_with_never_answer_connection_is_quick() {
    let idp = MockIdp::start();
    idp.push_fault(Fault::NeverAnswer);
    let url = token_url(&idp);
    let waiter = thread::spawn(move || {
        client()
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("client_id=x&grant_type=refresh_token&refresh_token=y&scope=z")
            .send()
            .map(|r| r.status().as_u16())
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while idp.total_count() == 0 {
        assert!(Instant::now() < deadline, "request never arrived");
        thread::sleep(Duration::from_millis(5));
    }
    let t = Instant::now();
    drop(idp);
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    // The held connection is closed, so the client sees an error, not a hang.
    assert!(waiter.join().expect("thread").is_err());
}

/// The controls a person trying ooauth2 uses with curl: revoke a user's
/// refresh tokens, end the access tokens, decline the next sign-in.
#[test]
fn controls_revoke_expire_and_decline_over_http() {
    let idp = MockIdp::start();
    let c = client();
    let control = |name: &str, params: &[(&str, &str)]| {
        post(&c, &format!("{}/mock/{name}", idp.authority()), params)
    };
    let rt = idp.issue_refresh_token("me@example.com", CLIENT);
    let other = idp.issue_refresh_token("other@example.com", CLIENT);
    let at = refresh(&c, &idp, &rt).json()["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();

    let a = control("revoke", &[]);
    assert_ms_error(&a, 400, "invalid_request", 900144);
    let a = control("revoke", &[("user", "me@example.com")]);
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(a.text.ends_with("}\n"), "one line: {:?}", a.text);
    assert_eq!(
        a.json()["revoked_refresh_tokens"],
        2,
        "the issued and the rotated"
    );
    assert!(!idp.is_valid_refresh_token(&rt));
    assert!(idp.is_valid_refresh_token(&other), "another user's stays");
    assert_ms_error(&refresh(&c, &idp, &rt), 400, "invalid_grant", 50173);
    // As at Microsoft, the access tokens live on until they expire...
    assert!(idp.is_active_access_token(&at));
    // ...unless they are ended too.
    let a = control("expire", &[]);
    assert_eq!(a.json()["expired_access_tokens"], 1, "{}", a.text);
    assert!(!idp.is_active_access_token(&at));

    // A GET is refused: nothing changes by following a link.
    let got = c
        .get(format!("{}/mock/decline", idp.authority()))
        .send()
        .expect("request");
    assert_eq!(got.status().as_u16(), 405);
    let a = control("decline", &[]);
    assert_eq!(a.status, 200, "{}", a.text);
    idp.set_device_script(DeviceScript {
        slow_down_polls: 0,
        pending_polls: 0,
        outcome: DeviceOutcome::Approve("me@example.com".into()),
    });
    let declined = start_device(&c, &idp);
    let code = declined["device_code"].as_str().expect("device_code");
    assert_eq!(
        poll(&c, &idp, code).json()["error"],
        "authorization_declined"
    );
    // Only the next sign-in.
    let approved = start_device(&c, &idp);
    let code = approved["device_code"].as_str().expect("device_code");
    assert_eq!(poll(&c, &idp, code).status, 200);
    assert_eq!(
        post(&c, &format!("{}/mock/nothing", idp.authority()), &[]).status,
        404
    );
}
