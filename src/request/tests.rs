//! Unit and property tests of the request's validation.

use super::*;
use crate::error::Code;
use crate::protocol::keys::RequestKey;
use crate::provider;

/// The request of key/value pairs: names not in the table are dropped, and
/// the first of a repeated key wins (the wire parser refuses both).
fn raw_of<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Raw {
    let mut raw = Raw::default();
    for (k, v) in pairs {
        if let Some(key) = RequestKey::from_name(k.as_ref())
            && !raw.has(key)
        {
            raw.set(key, v.as_ref().to_string());
        }
    }
    raw
}

fn req(pairs: &[(&str, &str)]) -> Result<Request> {
    Request::validate(raw_of(pairs))
}

#[test]
fn defaults() {
    let r = req(&[("client_id", "abc")]).unwrap();
    assert_eq!(r.action(), Action::Get);
    assert_eq!(r.tenant(), "common");
    assert_eq!(r.authority(), provider::DEFAULT_AUTHORITY);
    assert_eq!(r.min_ttl(), 300);
    assert_eq!(r.interactive(), Interactive::Auto);
    assert_eq!(r.flow(), Flow::Device);
    assert_eq!((r.redirect_port(), r.signin_timeout()), (0, 300));
    assert_eq!(r.open_browser(), None);
    for (v, want) in [("true", Some(true)), ("false", Some(false)), ("auto", None)] {
        let r = req(&[("client_id", "abc"), ("open_browser", v)]).unwrap();
        assert_eq!(r.open_browser(), want, "{v}");
    }
}

#[test]
fn hostile_values_are_refused() {
    for pairs in [
        vec![("client_id", "a/b")],
        vec![("client_id", "a"), ("tenant", "../x")],
        vec![("client_id", "a"), ("tenant", "a/b")],
        vec![("client_id", "a"), ("user", "a b")],
        vec![("client_id", "a"), ("min_ttl", "-1")],
        vec![("client_id", "a"), ("min_ttl", "+5")],
        vec![("client_id", "a"), ("port", "0")],
        vec![("client_id", "a"), ("authority", "http://evil.example")],
        vec![("client_id", "a"), ("action", "nope")],
        vec![("client_id", "a"), ("refresh_token", "x")],
        vec![("action", "store"), ("client_id", "a")],
        vec![("action", "get")],
        vec![("client_id", "a"), ("scope", "a\"b")],
        vec![("client_id", "a"), ("flow", "browser")],
        vec![("client_id", "a"), ("redirect_port", "65536")],
        vec![("client_id", "a"), ("signin_timeout", "0")],
        vec![("client_id", "a"), ("signin_timeout", "3601")],
        vec![("client_id", "a"), ("open_browser", "yes")],
        vec![("client_id", "a"), ("provider", "gmail")],
        vec![("client_id", "a"), ("provider", "google"), ("tenant", "t")],
        vec![("client_id", "a"), ("provider", "yahoo")],
        vec![("client_id", "a"), ("token_endpoint", "https://x/t")],
        vec![("client_id", "a"), ("provider", "generic"), ("user", "u")],
        vec![
            ("client_id", "a"),
            ("provider", "generic"),
            ("user", "u"),
            ("scope", "s"),
            ("token_endpoint", "http://evil.example/token"),
        ],
    ] {
        assert!(req(&pairs).is_err(), "{pairs:?}");
    }
}

#[test]
fn presets_pick_flows_and_refuse_what_they_cannot_do() {
    let r = req(&[("client_id", "a"), ("provider", "google")]).unwrap();
    assert_eq!(r.flow(), Flow::AuthCode);
    assert_eq!(r.endpoints().token, "https://oauth2.googleapis.com/token");
    assert_eq!(r.account("u").tenant, "");
    let e = req(&[
        ("client_id", "a"),
        ("provider", "google"),
        ("flow", "device"),
    ])
    .unwrap_err();
    assert!(
        e.message
            .contains("Google does not allow mail scopes on the device flow")
    );
    let e = req(&[
        ("client_id", "a"),
        ("provider", "fastmail"),
        ("user", "u"),
        ("flow", "device"),
    ])
    .unwrap_err();
    assert!(e.message.contains("no device flow"), "{}", e.message);
    let r = req(&[("client_id", "a"), ("provider", "microsoft-us")]).unwrap();
    assert_eq!(r.flow(), Flow::Device);
    assert_eq!(r.authority(), "https://login.microsoftonline.us");
    let generic = [
        ("client_id", "a"),
        ("provider", "generic"),
        ("user", "u"),
        ("scope", "s"),
        ("token_endpoint", "https://idp.example/token"),
    ];
    let r = req(&generic).unwrap();
    assert_eq!(r.authority(), "https://idp.example/token");
    assert!(req(&[&generic[..], &[("flow", "authcode")]].concat()).is_err());
    let with_auth = [
        &generic[..],
        &[("authorization_endpoint", "https://idp.example/a")],
    ]
    .concat();
    assert_eq!(req(&with_auth).unwrap().flow(), Flow::AuthCode);
}

#[test]
fn secrets_do_not_debug_print() {
    let r = req(&[
        ("action", "store"),
        ("client_id", "a"),
        ("refresh_token", "SECRETVALUE"),
    ])
    .unwrap();
    assert!(!format!("{r:?}").contains("SECRETVALUE"));
}

mod properties {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    fn wire_names() -> Vec<&'static str> {
        crate::protocol::keys::wire_keys()
            .map(RequestKey::name)
            .collect()
    }

    /// Pairs for [`Request::validate`]: known keys (sometimes twice) and
    /// unknown ones, with valid, borderline and hostile values.
    fn any_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
        let key = prop_oneof![
            8 => proptest::sample::select(wire_names()).prop_map(str::to_string),
            1 => "\\PC{0,10}",
        ];
        let value = prop_oneof![
            3 => proptest::sample::select(vec![
                "get", "login", "refresh", "store", "erase", "capability", "never", "auto",
                "always", "0", "1", "65535", "65536", "86400", "86401", "-1", "+5", "١",
                "18446744073709551616", "common", "../x", "a/b", "http://127.0.0.1:1",
                "http://[::1]:8080/", "http://localhost", "http://evil.example", "https://x",
                "https://u:p@x", "https://x/?q", "https://x/#f", "ftp://x", "https://x/../../y",
                "offline_access a b", "a\"b", "a\\b", "me@example.com", "a b", "SeCrEt-value",
                "google", "yahoo", "generic", "microsoft-us", "device", "authcode",
                "",
            ])
            .prop_map(str::to_string),
            3 => any::<String>(),
            1 => "[ -~]{0,20}",
            1 => (1usize..20_000).prop_map(|n| "a".repeat(n)),
            1 => "SeCrEt[!-~]{1,30}",
        ];
        vec((key, value), 0..14)
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 2_000,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn validation_never_panics_and_accepts_only_valid_requests(pairs in any_pairs()) {
            let is_secret = |k: &str| k == "client_secret" || k == "refresh_token";
            // Marked secrets that no other key or value holds, so seeing one means a leak.
            let secrets: Vec<&str> = pairs
                .iter()
                .filter(|(k, v)| is_secret(k) && v.starts_with("SeCrEt"))
                .map(|(_, v)| v.as_str())
                .filter(|s| !pairs.iter().any(|(k, v)| (!is_secret(k) && v.contains(s)) || k.contains(s)))
                .collect();
            match Request::validate(raw_of(&pairs)) {
                Ok(r) => {
                    let first = |k: &str| {
                        pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
                    };
                    prop_assert!(r.client_id().is_some() || r.action() == Action::Capability);
                    prop_assert_eq!(r.refresh_token().is_some(), r.action() == Action::Store);
                    prop_assert!(
                        r.authority().starts_with("https://")
                            || crate::provider::is_loopback_host(
                                reqwest::Url::parse(r.authority())
                                    .ok()
                                    .and_then(|u| u.host_str().map(str::to_string))
                                    .unwrap_or_default()
                                    .as_str()
                            ),
                        "authority {}", r.authority()
                    );
                    prop_assert!(!r.tenant().is_empty() && !r.tenant().starts_with('.'));
                    prop_assert!(r.user().is_some() || r.provider().has_id_token() || r.action() == Action::Capability);
                    prop_assert!(!(r.provider() == crate::provider::Provider::Google && r.flow() == crate::provider::Flow::Device && first("flow").is_some()));
                    // With an issuer, the token endpoint may wait for discovery.
                    prop_assert!(!r.endpoints().token.is_empty() || r.issuer().is_some());
                    for url in [Some(r.endpoints().token.as_str()).filter(|t| !t.is_empty()), r.endpoints().authorize.as_deref(), r.endpoints().device.as_deref(), r.issuer()].into_iter().flatten() {
                        prop_assert!(url.starts_with("https://") || url.starts_with("http://127.0.0.1") || url.starts_with("http://[::1]") || url.starts_with("http://localhost"), "endpoint {}", url);
                    }
                    prop_assert!(r.tenant().bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
                    if let Some(u) = r.user() {
                        prop_assert!(!u.chars().any(|c| c.is_control() || c.is_whitespace()));
                        prop_assert!(!u.is_empty() && u.len() <= 320);
                    }
                    prop_assert!(r.min_ttl() <= 86_400);
                    prop_assert!(r.port() != Some(0));
                    if let Some(v) = first("min_ttl") {
                        prop_assert_eq!(v.parse::<u64>().ok(), Some(r.min_ttl()));
                    }
                    let shown = format!("{r:?}");
                    for s in &secrets {
                        prop_assert!(!shown.contains(s), "Debug shows a secret: {shown}");
                    }
                }
                Err(e) => {
                    prop_assert_eq!(e.code, Code::InvalidRequest);
                    let text = format!("{} {}", e.message, e.hint.clone().unwrap_or_default());
                    prop_assert!(!text.chars().any(char::is_control), "{text:?}");
                    for s in &secrets {
                        prop_assert!(!text.contains(s), "error echoes a secret: {text}");
                    }
                }
            }
        }
    }
}
