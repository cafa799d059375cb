//! Provider presets and endpoint resolution: which URL a grant goes to,
//! which scope is asked for, which flows a provider allows, which authorities
//! and endpoints are acceptable.

use crate::error::{Code, Error, Result, shorten};
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

/// A provider preset: `provider=` in the protocol, `--provider`, and the
/// config file's `provider`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Microsoft,
    /// Microsoft's US Government cloud.
    MicrosoftUs,
    /// Microsoft's cloud in China (operated by 21Vianet).
    MicrosoftChina,
    Google,
    Yahoo,
    Aol,
    Fastmail,
    /// Any provider, from explicit endpoint keys.
    Generic,
}

/// What a preset knows besides Microsoft's tenant paths.
struct Preset {
    /// The base the endpoints live on, and the identity of the provider's
    /// accounts when no `authority` is given.
    authority: &'static str,
    authorize_path: &'static str,
    token_path: &'static str,
    /// A token endpoint on another host than `authority` (Google).
    token_url: Option<&'static str>,
    scope: &'static str,
}

const GOOGLE: Preset = Preset {
    authority: "https://accounts.google.com",
    authorize_path: "/o/oauth2/v2/auth",
    token_path: "/token",
    token_url: Some("https://oauth2.googleapis.com/token"),
    scope: "https://mail.google.com/",
};

const YAHOO: Preset = Preset {
    authority: "https://api.login.yahoo.com",
    authorize_path: "/oauth2/request_auth",
    token_path: "/oauth2/get_token",
    token_url: None,
    scope: "mail-w",
};

const AOL: Preset = Preset {
    authority: "https://api.login.aol.com",
    authorize_path: "/oauth2/request_auth",
    token_path: "/oauth2/get_token",
    token_url: None,
    scope: "mail-w",
};

const FASTMAIL: Preset = Preset {
    authority: "https://api.fastmail.com",
    authorize_path: "/oauth/authorize",
    token_path: "/oauth/refresh",
    token_url: None,
    scope: "https://www.fastmail.com/dev/protocol-imap https://www.fastmail.com/dev/protocol-pop https://www.fastmail.com/dev/protocol-smtp",
};

/// Microsoft's authorize URL wants the answer in the query and lets the
/// user pick the account.
const MICROSOFT_AUTHORIZE: &[(&str, &str)] =
    &[("response_mode", "query"), ("prompt", "select_account")];

/// Google returns a refresh token only with offline access, and only on
/// consent (a second sign-in without `prompt=consent` gets none).
const GOOGLE_AUTHORIZE: &[(&str, &str)] = &[("access_type", "offline"), ("prompt", "consent")];

impl Provider {
    /// Every provider, in documentation order.
    pub const ALL: [Provider; 8] = [
        Provider::Microsoft,
        Provider::MicrosoftUs,
        Provider::MicrosoftChina,
        Provider::Google,
        Provider::Yahoo,
        Provider::Aol,
        Provider::Fastmail,
        Provider::Generic,
    ];

    /// The name used in `provider=`.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Microsoft => "microsoft",
            Provider::MicrosoftUs => "microsoft-us",
            Provider::MicrosoftChina => "microsoft-china",
            Provider::Google => "google",
            Provider::Yahoo => "yahoo",
            Provider::Aol => "aol",
            Provider::Fastmail => "fastmail",
            Provider::Generic => "generic",
        }
    }

    /// The provider of a name, if there is one.
    pub fn from_name(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Every name, for messages.
    pub fn names() -> String {
        Provider::ALL.map(Provider::name).join(", ")
    }

    /// Microsoft in any cloud: tenants, device flow, AADSTS errors.
    pub fn is_microsoft(self) -> bool {
        matches!(
            self,
            Provider::Microsoft | Provider::MicrosoftUs | Provider::MicrosoftChina
        )
    }

    /// The provider part of an account's identity: one for all of
    /// Microsoft's clouds (the authority tells them apart).
    pub fn family(self) -> &'static str {
        if self.is_microsoft() {
            "microsoft"
        } else {
            self.name()
        }
    }

    /// Whether sign-ins return an OpenID Connect id_token naming the account,
    /// so the identity scopes are asked for and `user` may be left out.
    pub fn has_id_token(self) -> bool {
        self.is_microsoft() || self == Provider::Google
    }

    fn preset(self) -> Option<&'static Preset> {
        match self {
            Provider::Google => Some(&GOOGLE),
            Provider::Yahoo => Some(&YAHOO),
            Provider::Aol => Some(&AOL),
            Provider::Fastmail => Some(&FASTMAIL),
            _ => None,
        }
    }

    /// The authority used when none is given (empty for `generic`).
    pub fn default_authority(self) -> &'static str {
        match self {
            Provider::Microsoft => DEFAULT_AUTHORITY,
            Provider::MicrosoftUs => "https://login.microsoftonline.us",
            Provider::MicrosoftChina => "https://login.partner.microsoftonline.cn",
            Provider::Generic => "",
            p => p.preset().map_or("", |x| x.authority),
        }
    }

    /// The scope asked for when the request gives none (`generic` has none).
    pub fn default_scope(self) -> Option<&'static str> {
        match self {
            Provider::Microsoft => Some(DEFAULT_SCOPE),
            Provider::MicrosoftUs => Some(
                "offline_access https://outlook.office365.us/IMAP.AccessAsUser.All \
                 https://outlook.office365.us/POP.AccessAsUser.All https://outlook.office365.us/SMTP.Send",
            ),
            Provider::MicrosoftChina => Some(
                "offline_access https://partner.outlook.cn/IMAP.AccessAsUser.All \
                 https://partner.outlook.cn/POP.AccessAsUser.All https://partner.outlook.cn/SMTP.Send",
            ),
            Provider::Generic => None,
            p => p.preset().map(|x| x.scope),
        }
    }

    /// The scope sent at sign-in: the mail scopes, plus the identity scopes
    /// where the provider answers them with an id_token.
    pub fn signin_scope(self, scope: &str) -> String {
        if self.has_id_token() {
            signin_scope(scope)
        } else {
            scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        }
    }
}

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
    pub authorize: Option<String>,
    pub device: Option<String>,
    pub token: String,
    /// Extra query pairs of the authorize URL (the provider's quirks).
    pub authorize_extra: &'static [(&'static str, &'static str)],
    /// Whether the code exchange repeats the scope (Microsoft wants it).
    pub scope_on_exchange: bool,
}

impl Endpoints {
    /// The flow used when the request names none: the device flow where
    /// there is one and no browser flow, and for Microsoft; else auth code.
    pub fn default_flow(&self, provider: Provider) -> Flow {
        if provider.is_microsoft() || self.authorize.is_none() {
            Flow::Device
        } else {
            Flow::AuthCode
        }
    }
}

/// Builds `{authority}/{tenant}/oauth2/v2.0/{authorize,devicecode,token}`.
pub fn endpoints(authority: &str, tenant: &str) -> Endpoints {
    let base = format!("{}/{}/oauth2/v2.0", authority.trim_end_matches('/'), tenant);
    Endpoints {
        authorize: Some(format!("{base}/authorize")),
        device: Some(format!("{base}/devicecode")),
        token: format!("{base}/token"),
        authorize_extra: MICROSOFT_AUTHORIZE,
        scope_on_exchange: true,
    }
}

/// The endpoints of a preset at `authority` (its own, or one given to
/// redirect it, e.g. to a test server), with the preset's own paths.
/// `None` for `generic`, whose endpoints are explicit.
pub fn preset_endpoints(provider: Provider, authority: &str, tenant: &str) -> Option<Endpoints> {
    if provider.is_microsoft() {
        return Some(endpoints(authority, tenant));
    }
    let p = provider.preset()?;
    let base = authority.trim_end_matches('/');
    let token = match p.token_url {
        Some(url) if base == p.authority => url.to_string(),
        _ => format!("{base}{}", p.token_path),
    };
    Some(Endpoints {
        authorize: Some(format!("{base}{}", p.authorize_path)),
        // None of these presets allows mail scopes on a device flow.
        device: None,
        token,
        authorize_extra: if provider == Provider::Google {
            GOOGLE_AUTHORIZE
        } else {
            &[]
        },
        scope_on_exchange: false,
    })
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

/// What an issuer's OpenID Connect discovery document (or RFC 8414
/// metadata) says about the endpoints ooauth2 uses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: String,
    pub device_authorization_endpoint: Option<String>,
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

/// Checks and normalises an authority: https, or http on a loopback host only;
/// no credentials, query or fragment; no trailing slash.
pub fn normalize_authority(raw: &str) -> Result<String> {
    normalize_url("authority", raw)
}

/// Checks and normalises the URL of key `key` by the rules of `authority`.
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

/// A mail protocol whose server a provider preset knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailProtocol {
    Imap,
    Pop,
    Smtp,
}

impl Provider {
    /// The provider's own server and port for a mail protocol, as its
    /// documentation gives them: IMAP on 993 and POP3 on 995 with TLS from
    /// the start; SMTP on 587 with STARTTLS at Microsoft (which does not
    /// answer on 465), on 465 with TLS from the start elsewhere (RFC 8314
    /// prefers it; all four document it). `None` for `generic`, whose
    /// servers only the user knows. The one table of mail hosts.
    pub fn mail_server(self, protocol: MailProtocol) -> Option<(&'static str, u16)> {
        use MailProtocol::{Imap, Pop, Smtp};
        Some(match (self, protocol) {
            (Provider::Microsoft, Imap) => ("outlook.office365.com", 993),
            (Provider::Microsoft, Pop) => ("outlook.office365.com", 995),
            (Provider::Microsoft, Smtp) => ("smtp.office365.com", 587),
            (Provider::MicrosoftUs, Imap) => ("outlook.office365.us", 993),
            (Provider::MicrosoftUs, Pop) => ("outlook.office365.us", 995),
            (Provider::MicrosoftUs, Smtp) => ("smtp.office365.us", 587),
            (Provider::MicrosoftChina, Imap) => ("partner.outlook.cn", 993),
            (Provider::MicrosoftChina, Pop) => ("partner.outlook.cn", 995),
            (Provider::MicrosoftChina, Smtp) => ("smtp.partner.outlook.cn", 587),
            (Provider::Google, Imap) => ("imap.gmail.com", 993),
            (Provider::Google, Pop) => ("pop.gmail.com", 995),
            (Provider::Google, Smtp) => ("smtp.gmail.com", 465),
            (Provider::Yahoo, Imap) => ("imap.mail.yahoo.com", 993),
            (Provider::Yahoo, Pop) => ("pop.mail.yahoo.com", 995),
            (Provider::Yahoo, Smtp) => ("smtp.mail.yahoo.com", 465),
            (Provider::Aol, Imap) => ("imap.aol.com", 993),
            (Provider::Aol, Pop) => ("pop.aol.com", 995),
            (Provider::Aol, Smtp) => ("smtp.aol.com", 465),
            (Provider::Fastmail, Imap) => ("imap.fastmail.com", 993),
            (Provider::Fastmail, Pop) => ("pop.fastmail.com", 995),
            (Provider::Fastmail, Smtp) => ("smtp.fastmail.com", 465),
            (Provider::Generic, _) => return None,
        })
    }
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
            e.device.as_deref(),
            Some("https://login.microsoftonline.com/common/oauth2/v2.0/devicecode")
        );
    }

    #[test]
    fn presets() {
        for p in Provider::ALL {
            assert_eq!(Provider::from_name(p.name()), Some(p));
        }
        assert_eq!(Provider::from_name("gmail"), None);
        let g =
            preset_endpoints(Provider::Google, "https://accounts.google.com", "common").unwrap();
        assert_eq!(
            g.authorize.as_deref(),
            Some("https://accounts.google.com/o/oauth2/v2/auth")
        );
        assert_eq!(g.token, "https://oauth2.googleapis.com/token");
        assert!(g.device.is_none());
        assert_eq!(g.default_flow(Provider::Google), Flow::AuthCode);
        let g = preset_endpoints(Provider::Google, "http://127.0.0.1:9", "common").unwrap();
        assert_eq!(g.token, "http://127.0.0.1:9/token");
        let f = preset_endpoints(Provider::Fastmail, FASTMAIL.authority, "").unwrap();
        assert_eq!(f.token, "https://api.fastmail.com/oauth/refresh");
        let y = preset_endpoints(Provider::Yahoo, YAHOO.authority, "").unwrap();
        assert_eq!(
            y.authorize.as_deref(),
            Some("https://api.login.yahoo.com/oauth2/request_auth")
        );
        let us = preset_endpoints(
            Provider::MicrosoftUs,
            Provider::MicrosoftUs.default_authority(),
            "common",
        )
        .unwrap();
        assert_eq!(
            us.token,
            "https://login.microsoftonline.us/common/oauth2/v2.0/token"
        );
        assert_eq!(us.default_flow(Provider::MicrosoftUs), Flow::Device);
        assert!(
            Provider::MicrosoftChina
                .default_scope()
                .unwrap()
                .contains("https://partner.outlook.cn/IMAP.AccessAsUser.All")
        );
        assert_eq!(Provider::Yahoo.signin_scope("mail-w"), "mail-w");
        assert!(
            Provider::Google
                .signin_scope("x")
                .ends_with("openid profile email")
        );
        assert!(preset_endpoints(Provider::Generic, "", "").is_none());
    }

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

    #[test]
    fn mail_servers_per_provider() {
        use MailProtocol::{Imap, Pop, Smtp};
        let ms = Provider::Microsoft;
        assert_eq!(ms.mail_server(Imap), Some(("outlook.office365.com", 993)));
        assert_eq!(ms.mail_server(Pop), Some(("outlook.office365.com", 995)));
        assert_eq!(ms.mail_server(Smtp), Some(("smtp.office365.com", 587)));
        assert_eq!(
            Provider::MicrosoftUs.mail_server(Smtp),
            Some(("smtp.office365.us", 587))
        );
        assert_eq!(
            Provider::MicrosoftChina.mail_server(Pop),
            Some(("partner.outlook.cn", 995))
        );
        assert_eq!(
            Provider::Google.mail_server(Pop),
            Some(("pop.gmail.com", 995))
        );
        assert_eq!(
            Provider::Yahoo.mail_server(Imap),
            Some(("imap.mail.yahoo.com", 993))
        );
        assert_eq!(Provider::Aol.mail_server(Smtp), Some(("smtp.aol.com", 465)));
        assert_eq!(
            Provider::Fastmail.mail_server(Imap),
            Some(("imap.fastmail.com", 993))
        );
        for p in Provider::ALL {
            for proto in [Imap, Pop, Smtp] {
                match p.mail_server(proto) {
                    None => assert_eq!(p, Provider::Generic),
                    Some((host, port)) => {
                        // Each host belongs to its provider's own domain.
                        let domain = match p {
                            Provider::Microsoft => "office365.com",
                            Provider::MicrosoftUs => "office365.us",
                            Provider::MicrosoftChina => "outlook.cn",
                            Provider::Google => "gmail.com",
                            Provider::Yahoo => "yahoo.com",
                            Provider::Aol => "aol.com",
                            Provider::Fastmail => "fastmail.com",
                            Provider::Generic => unreachable!(),
                        };
                        assert!(host.ends_with(domain), "{host}");
                        let want: &[u16] = match proto {
                            Imap => &[993],
                            Pop => &[995],
                            Smtp if p.is_microsoft() => &[587],
                            Smtp => &[465],
                        };
                        assert!(want.contains(&port), "{p:?} {proto:?} {port}");
                    }
                }
            }
        }
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
