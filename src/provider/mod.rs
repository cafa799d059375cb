//! Provider presets and endpoint resolution: which URL a grant goes to,
//! which scope is asked for, which flows a provider allows, which authorities
//! and endpoints are acceptable.

mod discovery;
mod endpoints;
mod mail;

pub use discovery::{DISCOVERY_MAX_AGE, Discovery, discovery_urls, parse_discovery};
pub use endpoints::{Endpoints, Flow, generic_endpoints, is_loopback_host, normalize_url};
pub use mail::MailProtocol;

/// The public Microsoft cloud; national clouds and tests pass `authority=`.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// Works for both work/school and personal accounts.
pub const DEFAULT_TENANT: &str = "common";

/// IMAP, POP and SMTP on the host that works for personal accounts too.
pub const DEFAULT_SCOPE: &str = "offline_access https://outlook.office.com/IMAP.AccessAsUser.All \
     https://outlook.office.com/POP.AccessAsUser.All https://outlook.office.com/SMTP.Send";

/// Asked for at sign-in so the id_token names the account that signed in.
pub(crate) const IDENTITY_SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// A provider preset: `provider=` in the protocol, `--provider`, and the
/// config file's `provider`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Microsoft 365 and Outlook.com, the public cloud.
    Microsoft,
    /// Microsoft's US Government cloud.
    MicrosoftUs,
    /// Microsoft's cloud in China (operated by 21Vianet).
    MicrosoftChina,
    /// Gmail and Google Workspace.
    Google,
    /// Yahoo Mail.
    Yahoo,
    /// AOL Mail.
    Aol,
    /// Fastmail.
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

    /// How long a refresh token lives unused, in seconds, by the provider's
    /// documented rule: Microsoft's die after 90 days inactive, Google's
    /// after about 6 months unused; `None` where no rule is documented.
    pub fn refresh_token_idle_limit(self) -> Option<u64> {
        const DAY: u64 = 86_400;
        match self {
            _ if self.is_microsoft() => Some(90 * DAY),
            Provider::Google => Some(183 * DAY),
            _ => None,
        }
    }

    /// The provider part of an account's identity: one for all of
    /// Microsoft's clouds (the authority tells them apart).
    pub(crate) fn family(self) -> &'static str {
        if self.is_microsoft() {
            "microsoft"
        } else {
            self.name()
        }
    }

    /// Whether sign-ins return an OpenID Connect id_token naming the account,
    /// so the identity scopes are asked for and `user` may be left out.
    pub(crate) fn has_id_token(self) -> bool {
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
    pub(crate) fn default_authority(self) -> &'static str {
        match self {
            Provider::Microsoft => DEFAULT_AUTHORITY,
            Provider::MicrosoftUs => "https://login.microsoftonline.us",
            Provider::MicrosoftChina => "https://login.partner.microsoftonline.cn",
            Provider::Generic => "",
            p => p.preset().map_or("", |x| x.authority),
        }
    }

    /// The scope asked for when the request gives none (`generic` has none).
    pub(crate) fn default_scope(self) -> Option<&'static str> {
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
    pub(crate) fn signin_scope(self, scope: &str) -> String {
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

/// The scope sent at sign-in: the mail scopes plus the identity scopes.
pub(crate) fn signin_scope(scope: &str) -> String {
    let mut parts: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    for id in IDENTITY_SCOPES {
        if !parts.contains(&id) {
            parts.push(id);
        }
    }
    parts.join(" ")
}

/// `a`'s scopes, then those of `b` that `a` lacks (compared without case).
pub(crate) fn scope_union(a: &str, b: &str) -> String {
    let mut parts: Vec<&str> = a.split(' ').filter(|s| !s.is_empty()).collect();
    for p in b.split(' ').filter(|s| !s.is_empty()) {
        if !parts.iter().any(|q| q.eq_ignore_ascii_case(p)) {
            parts.push(p);
        }
    }
    parts.join(" ")
}

/// Two scopes ask for the same access when they hold the same resource scopes
/// (identity scopes and `offline_access` do not change what a token opens).
pub(crate) fn same_access(a: &str, b: &str) -> bool {
    access(a) == access(b)
}

/// Whether a token of scope `wide` opens all that `narrow` asks for.
pub(crate) fn covers(wide: &str, narrow: &str) -> bool {
    let wide = access(wide);
    access(narrow).iter().all(|p| wide.contains(p))
}

/// The resource scopes of a scope, lower case, sorted, once each.
fn access(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s
        .split(' ')
        .filter(|p| !p.is_empty() && !IDENTITY_SCOPES.contains(p) && *p != "offline_access")
        .map(|p| p.to_ascii_lowercase())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Builds `{authority}/{tenant}/oauth2/v2.0/{authorize,devicecode,token}`.
pub(crate) fn endpoints(authority: &str, tenant: &str) -> Endpoints {
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
pub(crate) fn preset_endpoints(
    provider: Provider,
    authority: &str,
    tenant: &str,
) -> Option<Endpoints> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn scopes() {
        assert_eq!(
            signin_scope("offline_access x openid"),
            "offline_access x openid profile email"
        );
        assert!(same_access("offline_access A B", "b a openid"));
        assert!(!same_access("A", "A B"));
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
}
