//! Microsoft identity platform defaults and endpoint resolution: which URL a
//! grant goes to, which scope is asked for, which authorities are acceptable.

use crate::error::{Error, Result};
use reqwest::Url;
use std::net::IpAddr;

/// The public Microsoft cloud; national clouds and tests pass `authority=`.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// Works for both work/school and personal accounts.
pub const DEFAULT_TENANT: &str = "common";

/// IMAP, POP and SMTP on the host that works for personal accounts too.
pub const DEFAULT_SCOPE: &str = "offline_access https://outlook.office.com/IMAP.AccessAsUser.All \
     https://outlook.office.com/POP.AccessAsUser.All https://outlook.office.com/SMTP.Send";

/// Asked for at sign-in so the id_token names the account that signed in.
pub const IDENTITY_SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// The endpoints of one authority and tenant.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub authorize: String,
    pub device: String,
    pub token: String,
}

/// Builds `{authority}/{tenant}/oauth2/v2.0/{authorize,devicecode,token}`.
pub fn endpoints(authority: &str, tenant: &str) -> Endpoints {
    let base = format!("{}/{}/oauth2/v2.0", authority.trim_end_matches('/'), tenant);
    Endpoints {
        authorize: format!("{base}/authorize"),
        device: format!("{base}/devicecode"),
        token: format!("{base}/token"),
    }
}

/// Checks and normalises an authority: https, or http on a loopback host only;
/// no credentials, query or fragment; no trailing slash.
pub fn normalize_authority(raw: &str) -> Result<String> {
    let bad = |why: &str| Error::invalid(format!("authority '{}' {why}", shorten(raw)));
    if raw.len() > 512 {
        return Err(Error::invalid("authority is longer than 512 bytes"));
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

/// The scope sent at sign-in: the mail scopes plus the identity scopes.
pub fn signin_scope(scope: &str) -> String {
    let mut parts: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    for id in IDENTITY_SCOPES {
        if !parts.contains(&id) {
            parts.push(id);
        }
    }
    parts.join(" ")
}

/// Two scopes ask for the same access when they hold the same resource scopes
/// (identity scopes and `offline_access` do not change what a token opens).
pub fn same_access(a: &str, b: &str) -> bool {
    fn set(s: &str) -> Vec<String> {
        let mut v: Vec<String> = s
            .split(' ')
            .filter(|p| !p.is_empty() && !IDENTITY_SCOPES.contains(p) && *p != "offline_access")
            .map(|p| p.to_ascii_lowercase())
            .collect();
        v.sort();
        v.dedup();
        v
    }
    set(a) == set(b)
}

fn shorten(s: &str) -> String {
    crate::error::one_line(&s.chars().take(80).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_rules() {
        assert_eq!(
            normalize_authority("https://login.microsoftonline.com/").unwrap(),
            "https://login.microsoftonline.com"
        );
        assert_eq!(
            normalize_authority("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(normalize_authority("http://[::1]:8080").is_ok());
        assert!(normalize_authority("http://localhost:1").is_ok());
        assert!(normalize_authority("http://example.com").is_err());
        assert!(normalize_authority("http://127.0.0.1.example.com").is_err());
        assert!(normalize_authority("ftp://127.0.0.1").is_err());
        assert!(normalize_authority("https://u:p@example.com").is_err());
        assert!(normalize_authority("https://example.com/?x=1").is_err());
        assert!(normalize_authority("not a url").is_err());
    }

    #[test]
    fn endpoint_urls() {
        let e = endpoints("https://login.microsoftonline.com", "common");
        assert_eq!(
            e.token,
            "https://login.microsoftonline.com/common/oauth2/v2.0/token"
        );
        assert_eq!(
            e.device,
            "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode"
        );
    }

    #[test]
    fn scopes() {
        assert_eq!(
            signin_scope("offline_access x openid"),
            "offline_access x openid profile email"
        );
        assert!(same_access("offline_access A B", "b a openid"));
        assert!(!same_access("A", "A B"));
    }
}
