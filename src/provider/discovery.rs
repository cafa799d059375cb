//! What an issuer's OpenID Connect discovery document (or RFC 8414
//! metadata) says, read with the rules that keep a document from sending
//! an account's grants elsewhere.

use super::endpoints::normalize_url;
use crate::error::{Code, Error, Result, shorten};
use reqwest::Url;

/// What an issuer's OpenID Connect discovery document (or RFC 8414
/// metadata) says about the endpoints ooauth2 uses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Discovery {
    /// The issuer the document is about (equal to the one asked for).
    pub(crate) issuer: String,
    /// Where a browser signs in (auth code flow).
    pub(crate) authorization_endpoint: Option<String>,
    /// Where grants go.
    pub(crate) token_endpoint: String,
    /// Where a device code is asked for (RFC 8628).
    pub(crate) device_authorization_endpoint: Option<String>,
}

/// The most a discovery document may be trusted without asking again.
pub const DISCOVERY_MAX_AGE: u64 = 24 * 3600;

/// Where `issuer`'s discovery documents are: OpenID Connect Discovery 1.0 §4
/// first, then RFC 8414 §3 (the well-known part before the issuer's path).
pub fn discovery_urls(issuer: &str) -> Vec<String> {
    let mut urls = vec![format!("{issuer}/.well-known/openid-configuration")];
    if let Ok(u) = Url::parse(issuer) {
        let path = u.path().trim_end_matches('/');
        let mut origin = u.clone();
        origin.set_path("");
        let origin = origin.as_str().trim_end_matches('/').to_string();
        urls.push(format!(
            "{origin}/.well-known/oauth-authorization-server{path}"
        ));
    }
    urls
}

/// Reads a discovery document of `issuer` (as normalised by
/// [`normalize_url`]): its `issuer` must be the one asked for (OpenID
/// Connect Discovery §4.3, so a document cannot redirect an account's
/// grants elsewhere), and every endpoint must pass the authority rules.
pub fn parse_discovery(issuer: &str, body: &[u8]) -> Result<Discovery> {
    let bad = |why: String| {
        Error::new(
            Code::BadResponse,
            format!("the discovery document of {issuer} {why}"),
        )
        .hint("check issuer=; it must be the provider's issuer URL exactly")
    };
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| bad("is not JSON".into()))?;
    let text = |k: &str| v.get(k).and_then(serde_json::Value::as_str);
    let named = text("issuer").ok_or_else(|| bad("has no issuer".into()))?;
    if named.trim_end_matches('/') != issuer {
        return Err(bad(format!(
            "names another issuer ({}); refused",
            shorten(named, 80)
        )));
    }
    let url = |k: &str| -> Result<Option<String>> {
        text(k)
            .map(|u| normalize_url(k, u).map_err(|e| bad(format!("has a bad {k}: {}", e.message))))
            .transpose()
    };
    let token_endpoint =
        url("token_endpoint")?.ok_or_else(|| bad("has no token_endpoint".into()))?;
    Ok(Discovery {
        issuer: issuer.to_string(),
        authorization_endpoint: url("authorization_endpoint")?,
        token_endpoint,
        device_authorization_endpoint: url("device_authorization_endpoint")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_documents() {
        let iss = "https://idp.example/realms/mail";
        assert_eq!(
            discovery_urls(iss),
            [
                "https://idp.example/realms/mail/.well-known/openid-configuration",
                "https://idp.example/.well-known/oauth-authorization-server/realms/mail"
            ]
        );
        let doc = br#"{"issuer":"https://idp.example/realms/mail/","token_endpoint":"https://idp.example/t",
            "authorization_endpoint":"https://idp.example/a","jwks_uri":"https://idp.example/k"}"#;
        let d = parse_discovery(iss, doc).unwrap();
        assert_eq!(d.token_endpoint, "https://idp.example/t");
        assert_eq!(
            d.authorization_endpoint.as_deref(),
            Some("https://idp.example/a")
        );
        assert_eq!(d.device_authorization_endpoint, None);
        let other =
            br#"{"issuer":"https://evil.example","token_endpoint":"https://evil.example/t"}"#;
        assert!(
            parse_discovery(iss, other)
                .unwrap_err()
                .message
                .contains("another issuer")
        );
        let http = br#"{"issuer":"https://idp.example/realms/mail","token_endpoint":"http://idp.example/t"}"#;
        assert!(
            parse_discovery(iss, http)
                .unwrap_err()
                .message
                .contains("token_endpoint")
        );
        let none = br#"{"issuer":"https://idp.example/realms/mail"}"#;
        assert!(parse_discovery(iss, none).is_err());
        assert!(parse_discovery(iss, b"<html>").is_err());
    }
}
