//! Where a provider's grants go: the sign-in flows, the endpoints of a
//! preset at its authority (or of `generic`), and the rules every
//! authority and endpoint URL must pass (https, or http on loopback only).

use super::Provider;
use crate::error::{Error, Result, shorten};
use reqwest::Url;
use std::net::IpAddr;

/// How an interactive sign-in is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// RFC 8628 device code: a code typed in on any browser.
    Device,
    /// RFC 6749 §4.1 authorization code with PKCE (RFC 7636) on a loopback
    /// redirect (RFC 8252): a browser on this machine, or one whose traffic
    /// reaches it (`ssh -L`).
    AuthCode,
}

/// The endpoints of one provider (and, for Microsoft, authority and tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Where a browser signs in (auth code flow), if the provider has it.
    pub(crate) authorize: Option<String>,
    /// Where a device code is asked for, if the provider has the device flow.
    pub device: Option<String>,
    /// Where every grant goes (empty until an issuer's discovery fills it).
    pub token: String,
    /// Extra query pairs of the authorize URL (the provider's quirks).
    pub(crate) authorize_extra: &'static [(&'static str, &'static str)],
    /// Whether the code exchange repeats the scope (Microsoft wants it).
    pub(crate) scope_on_exchange: bool,
}

impl Endpoints {
    /// The flow used when the request names none: the device flow where
    /// there is one and no browser flow, and for Microsoft; else auth code.
    pub(crate) fn default_flow(&self, provider: Provider) -> Flow {
        if provider.is_microsoft() || self.authorize.is_none() {
            Flow::Device
        } else {
            Flow::AuthCode
        }
    }
}

/// The endpoints of `provider=generic`.
pub fn generic_endpoints(
    authorize: Option<String>,
    token: String,
    device: Option<String>,
) -> Endpoints {
    Endpoints {
        authorize,
        device,
        token,
        authorize_extra: &[],
        scope_on_exchange: false,
    }
}

/// Checks and normalises the URL of key `key` (an authority, an endpoint,
/// an issuer): https, or http on a loopback host only; no credentials,
/// query or fragment; no trailing slash.
pub fn normalize_url(key: &str, raw: &str) -> Result<String> {
    let bad = |why: &str| Error::invalid(format!("{key} '{}' {why}", shorten(raw, 80)));
    if raw.len() > 512 {
        return Err(Error::invalid(format!("{key} is longer than 512 bytes")));
    }
    let url = Url::parse(raw).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    let host = url.host_str().ok_or_else(|| bad("has no host"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(host) => {}
        "http" => {
            return Err(bad("uses http on a non-loopback host")
                .hint("use https (plain http is allowed only for 127.0.0.1, ::1 and localhost)"));
        }
        _ => return Err(bad("must use https")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not hold credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Loopback hosts are the only ones where plain http is allowed.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_rules() {
        assert_eq!(
            normalize_url("authority", "https://login.microsoftonline.com/").unwrap(),
            "https://login.microsoftonline.com"
        );
        assert_eq!(
            normalize_url("authority", "http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(normalize_url("authority", "http://[::1]:8080").is_ok());
        assert!(normalize_url("authority", "http://localhost:1").is_ok());
        assert!(normalize_url("authority", "http://example.com").is_err());
        assert!(normalize_url("authority", "http://127.0.0.1.example.com").is_err());
        assert!(normalize_url("authority", "ftp://127.0.0.1").is_err());
        assert!(normalize_url("authority", "https://u:p@example.com").is_err());
        assert!(normalize_url("authority", "https://example.com/?x=1").is_err());
        assert!(normalize_url("authority", "not a url").is_err());
    }
}
