//! The typed request every front end builds (helper protocol, `token` flags,
//! legacy `ooauth2.py` flags): one validation, so the front ends cannot drift.

use crate::account::{self, Account};
use crate::error::{Error, Result, shown};
use crate::provider::{self, Discovery, Endpoints, Flow, Provider};
use crate::secret::{Secret, SecretCommand};

/// What the caller wants done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Get,
    Login,
    Refresh,
    Store,
    Erase,
    Capability,
}

impl Action {
    /// Every action, in documentation order.
    pub const ALL: [Action; 6] = [
        Action::Get,
        Action::Login,
        Action::Refresh,
        Action::Store,
        Action::Erase,
        Action::Capability,
    ];

    /// The name used in `action=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Get => "get",
            Action::Login => "login",
            Action::Refresh => "refresh",
            Action::Store => "store",
            Action::Erase => "erase",
            Action::Capability => "capability",
        }
    }
}

/// Whether a sign-in may be started when there is no usable refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interactive {
    /// Only when a terminal can show the instructions.
    Auto,
    Always,
    Never,
}

/// Default for `signin_timeout`: five minutes to finish signing in.
pub const DEFAULT_SIGNIN_TIMEOUT: u64 = 300;

/// A validated request.
#[derive(Debug, Clone)]
pub struct Request {
    pub action: Action,
    /// The provider preset (default: microsoft).
    pub provider: Provider,
    /// Where the grants go, resolved from provider, authority and tenant
    /// (or the endpoint keys of `generic`). With an `issuer`, only the
    /// explicit ones: see [`Request::with_discovery`].
    pub endpoints: Endpoints,
    /// The OpenID Connect issuer whose discovery document gives the
    /// endpoints (`provider=generic`); also the account's authority.
    pub issuer: Option<String>,
    /// Whether `flow` was asked for (else it follows the endpoints).
    pub flow_given: bool,
    /// The account's authority: Microsoft's identity platform base, another
    /// preset's base, or the token endpoint of `generic`.
    pub authority: String,
    pub tenant: String,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub user: Option<String>,
    /// The scope given by the caller, if any (normalised to single spaces).
    pub scope: Option<String>,
    pub min_ttl: u64,
    pub interactive: Interactive,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub refresh_token: Option<Secret>,
    /// Which interactive sign-in to run.
    pub flow: Flow,
    /// The loopback port of the auth code flow's redirect; 0: any free port.
    pub redirect_port: u16,
    /// Seconds to wait for the browser's redirect in the auth code flow.
    pub signin_timeout: u64,
    /// Whether a sign-in opens its page in a browser: `Some(true)` always,
    /// `Some(false)` never, `None` (the default) when a desktop session is detected.
    pub open_browser: Option<bool>,
    /// Where the client secret comes from when the request has none: set
    /// by the config layer, run only if the provider is reached.
    pub client_secret_cmd: Option<SecretCommand>,
    /// The named account the request came from, for hints.
    pub account_name: Option<String>,
    /// The account's `notify_cmd` from the config file: how the sign-in UI
    /// tells the person the code when no terminal can show it.
    pub notify_cmd: Option<String>,
}

/// Default for `min_ttl`: five minutes, enough for a slow IMAP login.
pub const DEFAULT_MIN_TTL: u64 = 300;

impl Request {
    /// Builds and validates a request from key/value pairs (already checked
    /// against the key table by the caller's parser).
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Request> {
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        // `account` names config values; a front end must resolve it first.
        if get("account").is_some() {
            return Err(Error::invalid(
                "account= must be resolved from the config file before validation",
            ));
        }
        let action = match get("action") {
            None => Action::Get,
            Some(a) => Action::ALL
                .into_iter()
                .find(|x| x.as_str() == a)
                .ok_or_else(|| {
                    Error::invalid(format!("unknown action '{}'", shown(a))).hint(format!(
                        "use one of: {}",
                        Action::ALL.map(|a| a.as_str()).join(", ")
                    ))
                })?,
        };
        let issuer = get("issuer")
            .map(|v| provider::normalize_url("issuer", v))
            .transpose()?;
        let provider = match get("provider") {
            // An issuer is discovered, which is what generic does.
            None if issuer.is_some() => Provider::Generic,
            None => Provider::Microsoft,
            Some(p) => Provider::from_name(p).ok_or_else(|| {
                Error::invalid(format!("unknown provider '{}'", shown(p)))
                    .hint(format!("use one of: {}", Provider::names()))
            })?,
        };
        if issuer.is_some() && provider != Provider::Generic {
            return Err(Error::invalid(format!(
                "issuer applies only to provider=generic; provider={} has its own endpoints",
                provider.name()
            )));
        }
        let tenant = match get("tenant") {
            None => provider::DEFAULT_TENANT.to_string(),
            Some(_) if !provider.is_microsoft() => {
                return Err(Error::invalid(format!(
                    "tenant applies only to Microsoft, not to provider={}",
                    provider.name()
                )));
            }
            Some(t) => check_tenant(t)?,
        };
        let endpoint = |k: &str| get(k).map(|v| provider::normalize_url(k, v)).transpose();
        let explicit = (
            endpoint("authorization_endpoint")?,
            endpoint("token_endpoint")?,
            endpoint("device_authorization_endpoint")?,
        );
        let (authority, endpoints) = if provider == Provider::Generic {
            if get("authority").is_some() {
                return Err(Error::invalid(
                    "authority does not apply to provider=generic; give its issuer or endpoints",
                )
                .hint(GENERIC_HINT));
            }
            let (authorize, token, device) = explicit;
            match (&issuer, token) {
                // The issuer names the account; endpoints come from discovery,
                // the explicit ones overriding it.
                (Some(iss), token) => (
                    iss.clone(),
                    provider::generic_endpoints(authorize, token.unwrap_or_default(), device),
                ),
                (None, Some(token)) => (
                    token.clone(),
                    provider::generic_endpoints(authorize, token, device),
                ),
                (None, None) => {
                    return Err(
                        Error::invalid("provider=generic needs issuer or token_endpoint")
                            .hint(GENERIC_HINT),
                    );
                }
            }
        } else {
            for (k, v) in [
                ("authorization_endpoint", &explicit.0),
                ("token_endpoint", &explicit.1),
                ("device_authorization_endpoint", &explicit.2),
            ] {
                if v.is_some() {
                    return Err(Error::invalid(format!(
                        "{k} applies only to provider=generic; provider={} has its own",
                        provider.name()
                    ))
                    .hint("use authority= to move a preset's endpoints to another host"));
                }
            }
            let authority = match get("authority") {
                None => provider.default_authority().to_string(),
                Some(a) => provider::normalize_authority(a)?,
            };
            let endpoints = provider::preset_endpoints(provider, &authority, &tenant)
                .ok_or_else(|| Error::invalid("this provider has no preset endpoints"))?;
            (authority, endpoints)
        };
        let client_id = get("client_id").map(check_client_id).transpose()?;
        let client_secret = get("client_secret")
            .map(|s| check_secret("client_secret", s, 1024))
            .transpose()?;
        let user = get("user").map(check_user).transpose()?;
        let scope = get("scope").map(check_scope).transpose()?;
        let min_ttl = match get("min_ttl") {
            None => DEFAULT_MIN_TTL,
            Some(v) => parse_number("min_ttl", v, 0, 86_400)?,
        };
        let interactive = match get("interactive") {
            None => Interactive::Auto,
            Some("auto") => Interactive::Auto,
            Some("always") => Interactive::Always,
            Some("never") => Interactive::Never,
            Some(v) => {
                return Err(Error::invalid(format!(
                    "interactive must be auto, always or never, not '{}'",
                    shown(v)
                )));
            }
        };
        let host = get("host").map(check_host).transpose()?;
        let port = get("port")
            .map(|p| parse_number("port", p, 1, 65_535).map(|n| n as u16))
            .transpose()?;
        let refresh_token = get("refresh_token")
            .map(|s| check_secret("refresh_token", s, 16 * 1024))
            .transpose()?;
        let flow = match get("flow") {
            None => endpoints.default_flow(provider),
            Some("device") => Flow::Device,
            Some("authcode") => Flow::AuthCode,
            Some(v) => {
                return Err(Error::invalid(format!(
                    "flow must be device or authcode, not '{}'",
                    shown(v)
                )));
            }
        };
        // A flow asked for must be possible; a default one is checked when a
        // sign-in needs it (a generic account may only ever refresh). With
        // an issuer, both wait for its discovery document.
        if get("flow").is_some() && issuer.is_none() {
            check_flow(provider, &endpoints, flow)?;
        }
        let redirect_port = match get("redirect_port") {
            None => 0,
            Some(p) => parse_number("redirect_port", p, 0, 65_535)? as u16,
        };
        let signin_timeout = match get("signin_timeout") {
            None => DEFAULT_SIGNIN_TIMEOUT,
            Some(v) => parse_number("signin_timeout", v, 1, 3600)?,
        };
        let open_browser = match get("open_browser") {
            None | Some("auto") => None,
            Some("false") => Some(false),
            Some("true") => Some(true),
            Some(v) => {
                return Err(Error::invalid(format!(
                    "open_browser must be true, false or auto, not '{}'",
                    shown(v)
                )));
            }
        };
        match (action, &refresh_token) {
            (Action::Store, None) => {
                return Err(Error::invalid("action=store needs refresh_token"));
            }
            (Action::Store, Some(_)) | (_, None) => {}
            (_, Some(_)) => {
                return Err(Error::invalid(
                    "refresh_token is accepted only with action=store",
                ));
            }
        }
        if client_id.is_none() && action != Action::Capability {
            return Err(
                Error::invalid(format!("action={} needs client_id", action.as_str()))
                    .hint("pass the application (client) id of your app registration"),
            );
        }
        if action != Action::Capability {
            if !provider.has_id_token() && user.is_none() {
                return Err(Error::invalid(format!(
                    "provider={} needs user: it does not say which account signed in",
                    provider.name()
                ))
                .hint("pass user= (or --user) with the mail address"));
            }
            if scope.is_none() && provider.default_scope().is_none() && action != Action::Erase {
                return Err(
                    Error::invalid(format!("provider={} needs scope", provider.name()))
                        .hint("pass the provider's mail scopes with scope= (or --scope)"),
                );
            }
        }
        Ok(Request {
            action,
            provider,
            flow_given: get("flow").is_some(),
            issuer,
            endpoints,
            authority,
            tenant,
            client_id,
            client_secret,
            user,
            scope,
            min_ttl,
            interactive,
            host,
            port,
            refresh_token,
            flow,
            redirect_port,
            signin_timeout,
            open_browser,
            client_secret_cmd: None,
            account_name: None,
            notify_cmd: None,
        })
    }

    /// Checks one key's value by the rules of [`Request::from_pairs`], on its
    /// own, so the config file can report the line of a bad value.
    pub fn check_value(key: &str, value: &str) -> Result<()> {
        match key {
            "provider" => {
                return Provider::from_name(value).map(|_| ()).ok_or_else(|| {
                    Error::invalid(format!(
                        "unknown provider '{}'; the providers are: {}",
                        shown(value),
                        Provider::names()
                    ))
                });
            }
            "authorization_endpoint"
            | "token_endpoint"
            | "device_authorization_endpoint"
            | "issuer" => {
                return provider::normalize_url(key, value).map(|_| ());
            }
            // Which flows a provider allows is checked with the provider.
            "flow" if value == "device" || value == "authcode" => return Ok(()),
            // Only Microsoft has tenants: checked with the provider too.
            "tenant" => return check_tenant(value).map(|_| ()),
            _ => {}
        }
        let mut pairs = vec![(key.to_string(), value.to_string())];
        if key != "client_id" {
            pairs.push(("client_id".to_string(), "x".to_string()));
        }
        Request::from_pairs(&pairs).map(|_| ())
    }

    /// The request with the endpoints of `doc`, the issuer's discovery
    /// document, under the explicit ones, and the default flow they allow.
    pub fn with_discovery(&self, doc: &Discovery) -> Result<Request> {
        let mut req = self.clone();
        let e = &mut req.endpoints;
        if e.token.is_empty() {
            e.token.clone_from(&doc.token_endpoint);
        }
        if e.authorize.is_none() {
            e.authorize.clone_from(&doc.authorization_endpoint);
        }
        if e.device.is_none() {
            e.device.clone_from(&doc.device_authorization_endpoint);
        }
        if req.flow_given {
            req.check_flow()?;
        } else {
            req.flow = req.endpoints.default_flow(req.provider);
        }
        Ok(req)
    }

    /// Refuses a sign-in flow the provider does not allow, before any
    /// network call.
    pub fn check_flow(&self) -> Result<()> {
        check_flow(self.provider, &self.endpoints, self.flow)
    }

    /// The scope a sign-in asks for when neither request nor record has one.
    pub fn default_scope(&self) -> &str {
        self.scope
            .as_deref()
            .or(self.provider.default_scope())
            .unwrap_or_default()
    }

    /// The command that signs this request's account in again, as `user`
    /// (empty: not known yet): by the configured name when it came from
    /// one, else every flag, a generic account's endpoints and scope too.
    pub fn login_command(&self, user: &str) -> String {
        if let Some(name) = &self.account_name {
            return account::login_command(Some(name), &self.account(user));
        }
        let mut cmd = self.account(user).login_command();
        if self.provider == Provider::Generic {
            let e = &self.endpoints;
            let mut flag = |name: &str, value: Option<&str>| {
                if let Some(v) = value.filter(|v| !v.is_empty()) {
                    cmd.push_str(&format!(" --{name} {}", account::shell_word(v)));
                }
            };
            flag("issuer", self.issuer.as_deref());
            flag(
                "token-endpoint",
                Some(&e.token)
                    .filter(|_| self.issuer.is_none())
                    .map(String::as_str),
            );
            flag("authorization-endpoint", e.authorize.as_deref());
            flag("device-authorization-endpoint", e.device.as_deref());
            flag("scope", self.scope.as_deref());
        }
        cmd
    }

    /// The account this request names, when the user is known.
    pub fn account(&self, user: &str) -> Account {
        Account {
            provider: self.provider,
            authority: self.authority.clone(),
            tenant: if self.provider.is_microsoft() {
                self.tenant.clone()
            } else {
                String::new()
            },
            client_id: self.client_id.clone().unwrap_or_default(),
            user: user.to_string(),
        }
    }
}

const GENERIC_HINT: &str = "give issuer= (OpenID Connect discovery), or token_endpoint= with \
     authorization_endpoint= and/or device_authorization_endpoint=";

/// Refuses a flow the provider does not allow, before any network call.
fn check_flow(provider: Provider, endpoints: &Endpoints, flow: Flow) -> Result<()> {
    match flow {
        Flow::Device if provider == Provider::Google => Err(Error::invalid(
            "provider=google cannot use flow=device: Google does not allow mail scopes on the device flow",
        )
        .hint("use flow=authcode (the default for google); on a headless machine, forward the redirect port with ssh -L")),
        Flow::Device if endpoints.device.is_none() => Err(if provider == Provider::Generic {
            Error::invalid("flow=device needs device_authorization_endpoint")
        } else {
            Error::invalid(format!(
                "provider={} has no device flow for mail",
                provider.name()
            ))
            .hint("use flow=authcode (the default for this provider)")
        }),
        Flow::AuthCode if endpoints.authorize.is_none() => {
            Err(Error::invalid("flow=authcode needs authorization_endpoint"))
        }
        _ => Ok(()),
    }
}

fn parse_number(key: &str, v: &str, min: u64, max: u64) -> Result<u64> {
    let n: u64 = v
        .parse()
        .ok()
        .filter(|_| v.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            Error::invalid(format!("{key} must be a whole number, not '{}'", shown(v)))
        })?;
    if n < min || n > max {
        return Err(Error::invalid(format!(
            "{key} must be between {min} and {max}, not {n}"
        )));
    }
    Ok(n)
}

/// Tenants go into a URL path: a GUID, a domain or a keyword, nothing else.
fn check_tenant(t: &str) -> Result<String> {
    let ok = !t.is_empty()
        && t.len() <= 128
        && !t.starts_with('.')
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_');
    if !ok {
        return Err(Error::invalid(format!(
            "tenant '{}' is not a tenant id, domain or keyword",
            shown(t)
        ))
        .hint("use common, organizations, consumers, a directory GUID or a domain"));
    }
    Ok(t.to_string())
}

fn check_client_id(c: &str) -> Result<String> {
    let ok = !c.is_empty()
        && c.len() <= 256
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~:@+".contains(&b));
    if !ok {
        return Err(Error::invalid(format!(
            "client_id '{}' has characters a client id cannot have",
            shown(c)
        )));
    }
    Ok(c.to_string())
}

/// Users end up in SASL strings: no control characters, no spaces.
fn check_user(u: &str) -> Result<String> {
    if u.is_empty() || u.len() > 320 {
        return Err(Error::invalid("user must be 1 to 320 bytes long"));
    }
    if u.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::invalid(
            "user must not contain spaces or control characters",
        ));
    }
    Ok(u.to_string())
}

/// RFC 6749 scope-token characters, separated by single spaces.
fn check_scope(s: &str) -> Result<String> {
    if s.len() > 4096 {
        return Err(Error::invalid("scope is longer than 4096 bytes"));
    }
    let parts: Vec<&str> = s.split(' ').filter(|p| !p.is_empty()).collect();
    let ok = !parts.is_empty()
        && parts.iter().all(|p| {
            p.bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
        });
    if !ok {
        return Err(Error::invalid(
            "scope must be space-separated scope tokens (printable ASCII, no quotes or backslashes)",
        ));
    }
    Ok(parts.join(" "))
}

fn check_host(h: &str) -> Result<String> {
    let ok = !h.is_empty()
        && h.len() <= 253
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b));
    if !ok {
        return Err(Error::invalid(format!(
            "host '{}' is not a host name or address",
            shown(h)
        )));
    }
    Ok(h.to_string())
}

/// Secrets are printable ASCII (RFC 6749 VSCHAR); never echoed back.
fn check_secret(key: &str, s: &str, max: usize) -> Result<Secret> {
    if s.is_empty() || s.len() > max {
        return Err(Error::invalid(format!(
            "{key} must be 1 to {max} bytes long"
        )));
    }
    if !s.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(Error::invalid(format!(
            "{key} must be printable ASCII (value not shown)"
        )));
    }
    Ok(Secret::new(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(pairs: &[(&str, &str)]) -> Result<Request> {
        let v: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Request::from_pairs(&v)
    }

    #[test]
    fn defaults() {
        let r = req(&[("client_id", "abc")]).unwrap();
        assert_eq!(r.action, Action::Get);
        assert_eq!(r.tenant, "common");
        assert_eq!(r.authority, provider::DEFAULT_AUTHORITY);
        assert_eq!(r.min_ttl, 300);
        assert_eq!(r.interactive, Interactive::Auto);
        assert_eq!(r.flow, Flow::Device);
        assert_eq!((r.redirect_port, r.signin_timeout), (0, 300));
        assert_eq!(r.open_browser, None);
        for (v, want) in [("true", Some(true)), ("false", Some(false)), ("auto", None)] {
            let r = req(&[("client_id", "abc"), ("open_browser", v)]).unwrap();
            assert_eq!(r.open_browser, want, "{v}");
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
        assert_eq!(r.flow, Flow::AuthCode);
        assert_eq!(r.endpoints.token, "https://oauth2.googleapis.com/token");
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
        assert_eq!(r.flow, Flow::Device);
        assert_eq!(r.authority, "https://login.microsoftonline.us");
        let generic = [
            ("client_id", "a"),
            ("provider", "generic"),
            ("user", "u"),
            ("scope", "s"),
            ("token_endpoint", "https://idp.example/token"),
        ];
        let r = req(&generic).unwrap();
        assert_eq!(r.authority, "https://idp.example/token");
        assert!(req(&[&generic[..], &[("flow", "authcode")]].concat()).is_err());
        let with_auth = [
            &generic[..],
            &[("authorization_endpoint", "https://idp.example/a")],
        ]
        .concat();
        assert_eq!(req(&with_auth).unwrap().flow, Flow::AuthCode);
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
}
