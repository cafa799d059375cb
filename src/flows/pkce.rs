//! PKCE (RFC 7636) and the authorization URL (RFC 6749 §4.1.1): random
//! values from the OS, the verifier and its S256 challenge, and the page
//! the user opens to sign in.

use crate::error::{Code, Error, Result};
use crate::secret::Secret;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Url;
use sha2::{Digest, Sha256};
use std::io::Read;

/// `bytes` random bytes from the OS, base64url without padding.
pub(super) fn random_token(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| {
            Error::new(
                Code::StoreError,
                format!("cannot read random bytes from /dev/urandom: {e}"),
            )
        })?;
    Ok(URL_SAFE_NO_PAD.encode(&buf))
}

/// RFC 7636 §4.1 `code_verifier` (32 random bytes: 43 characters) and its
/// §4.2 S256 `code_challenge`.
pub(super) struct Pkce {
    pub(super) verifier: Secret,
    pub(super) challenge: String,
}

impl Pkce {
    /// A fresh verifier and its challenge.
    pub(super) fn new() -> Result<Pkce> {
        let verifier = Secret::new(random_token(32)?);
        let challenge = s256(verifier.expose());
        Ok(Pkce {
            verifier,
            challenge,
        })
    }
}

/// `BASE64URL(SHA256(ASCII(verifier)))`, RFC 7636 §4.2.
fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// What goes into the authorization URL besides the endpoint.
pub(super) struct AuthorizeParams<'a> {
    pub(super) client_id: &'a str,
    pub(super) redirect_uri: &'a str,
    pub(super) scope: &'a str,
    pub(super) state: &'a str,
    pub(super) challenge: &'a str,
    /// The account expected to sign in, as `login_hint`.
    pub(super) user: Option<&'a str>,
    /// The provider's own additions (`prompt`, `access_type`, ...).
    pub(super) extra: &'a [(&'a str, &'a str)],
}

/// The URL the user opens: the authorize endpoint with the request in its
/// query (RFC 6749 §4.1.1, RFC 7636 §4.3). It holds no secret.
pub(super) fn authorize_url(endpoint: &str, p: &AuthorizeParams) -> Result<String> {
    let mut url = Url::parse(endpoint).map_err(|e| {
        Error::invalid(format!(
            "the authorize endpoint {endpoint} is not a URL ({e})"
        ))
    })?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", p.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", p.redirect_uri)
            .append_pair("scope", p.scope)
            .append_pair("state", p.state)
            .append_pair("code_challenge", p.challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(u) = p.user.filter(|u| !u.is_empty()) {
            q.append_pair("login_hint", u);
        }
        for (k, v) in p.extra {
            q.append_pair(k, v);
        }
    }
    Ok(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc_7636_appendix_b() {
        // The verifier and challenge printed in RFC 7636 Appendix B.
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifiers_are_long_random_and_unreserved() {
        let a = Pkce::new().unwrap();
        let b = Pkce::new().unwrap();
        assert_ne!(a.verifier, b.verifier);
        assert!((43..=128).contains(&a.verifier.len()));
        assert!(
            a.verifier
                .expose()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"-._~".contains(&c))
        );
        assert_eq!(a.challenge, s256(a.verifier.expose()));
    }

    #[test]
    fn authorize_url_carries_the_request() {
        let u = authorize_url(
            "http://127.0.0.1:9/common/oauth2/v2.0/authorize",
            &AuthorizeParams {
                client_id: "cid",
                redirect_uri: "http://127.0.0.1:5000/",
                scope: "a b",
                state: "st",
                challenge: "ch",
                user: Some("me@x.com"),
                extra: &[("prompt", "consent")],
            },
        )
        .unwrap();
        let url = Url::parse(&u).unwrap();
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("redirect_uri"), Some("http://127.0.0.1:5000/"));
        assert_eq!(get("scope"), Some("a b"));
        assert_eq!(get("code_challenge_method"), Some("S256"));
        assert_eq!(get("login_hint"), Some("me@x.com"));
        assert_eq!(get("response_type"), Some("code"));
        assert_eq!(get("prompt"), Some("consent"));
    }
}
