//! The one validation of a request, in steps: the action, the provider and
//! its endpoints, the account's values, the sign-in options, and what the
//! action needs. Each value check is also usable alone ([`check_value`]), so
//! the config file can report the line of a bad value.

use super::{Action, DEFAULT_MIN_TTL, DEFAULT_SIGNIN_TIMEOUT, Interactive, Raw, Request};
use crate::error::{Error, Result, shown};
use crate::protocol::keys::RequestKey;
use crate::provider::{self, Endpoints, Flow, Provider};
use crate::secret::{Secret, SecretCommand};

/// Builds and validates the request of `raw`; `named` is the config
/// account whose values lie beneath, if any.
pub(super) fn request(raw: Raw, named: Option<String>) -> Result<Request> {
    // `account` names config values; the overlay must have applied them.
    if raw.account.is_some() && named.is_none() {
        return Err(Error::invalid(
            "account= must be resolved from the config file before validation",
        ));
    }
    let action = action(raw.action.as_deref())?;
    let (provider, issuer) = provider_of(&raw)?;
    let tenant = tenant(provider, raw.tenant.as_deref())?;
    let (authority, endpoints) = endpoints(&raw, provider, issuer.as_deref(), &tenant)?;
    let flow = flow(&raw, provider, &endpoints, issuer.is_some())?;
    let (client_secret, client_secret_cmd) =
        client_secret(raw.client_secret, raw.client_secret_cmd)?;
    let req = Request {
        action,
        provider,
        flow_given: raw.flow.is_some(),
        issuer,
        endpoints,
        authority,
        tenant,
        client_id: raw.client_id.as_deref().map(check_client_id).transpose()?,
        client_secret,
        user: raw.user.as_deref().map(check_user).transpose()?,
        scope: raw.scope.as_deref().map(check_scope).transpose()?,
        min_ttl: number(RequestKey::MinTtl, raw.min_ttl.as_deref(), 0..=86_400)?
            .unwrap_or(DEFAULT_MIN_TTL),
        interactive: interactive(raw.interactive.as_deref())?,
        host: raw.host.as_deref().map(check_host).transpose()?,
        port: number(RequestKey::Port, raw.port.as_deref(), 1..=65_535)?.map(|p| p as u16),
        refresh_token: raw
            .refresh_token
            .map(|s| check_secret(RequestKey::RefreshToken, s, 16 * 1024))
            .transpose()?,
        flow,
        redirect_port: number(
            RequestKey::RedirectPort,
            raw.redirect_port.as_deref(),
            0..=65_535,
        )?
        .map_or(0, |p| p as u16),
        signin_timeout: number(
            RequestKey::SigninTimeout,
            raw.signin_timeout.as_deref(),
            1..=3600,
        )?
        .unwrap_or(DEFAULT_SIGNIN_TIMEOUT),
        open_browser: open_browser(raw.open_browser.as_deref())?,
        client_secret_cmd,
        notify_cmd: raw
            .notify_cmd
            .map(|c| check_text_command(RequestKey::NotifyCmd, c))
            .transpose()?,
        account_name: named,
    };
    complete(&req)?;
    Ok(req)
}

/// The client secret given outright, which wins (the command is then
/// never run), else the command that prints it.
fn client_secret(
    secret: Option<Secret>,
    cmd: Option<SecretCommand>,
) -> Result<(Option<Secret>, Option<SecretCommand>)> {
    match secret {
        Some(s) => Ok((Some(check_secret(RequestKey::ClientSecret, s, 1024)?), None)),
        None => Ok((None, cmd.map(check_command).transpose()?)),
    }
}

fn action(v: Option<&str>) -> Result<Action> {
    let Some(a) = v else {
        return Ok(Action::Get);
    };
    Action::ALL
        .into_iter()
        .find(|x| x.as_str() == a)
        .ok_or_else(|| {
            Error::invalid(format!("unknown action '{}'", shown(a))).hint(format!(
                "use one of: {}",
                Action::ALL.map(|a| a.as_str()).join(", ")
            ))
        })
}

/// The provider, and the issuer that implies `generic`.
fn provider_of(raw: &Raw) -> Result<(Provider, Option<String>)> {
    let issuer = raw
        .issuer
        .as_deref()
        .map(|v| provider::normalize_url(RequestKey::Issuer.name(), v))
        .transpose()?;
    let provider = match raw.provider.as_deref() {
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
    Ok((provider, issuer))
}

fn tenant(provider: Provider, v: Option<&str>) -> Result<String> {
    match v {
        None => Ok(provider::DEFAULT_TENANT.to_string()),
        Some(_) if !provider.is_microsoft() => Err(Error::invalid(format!(
            "tenant applies only to Microsoft, not to provider={}",
            provider.name()
        ))),
        Some(t) => check_tenant(t),
    }
}

/// The keys that name one endpoint of `generic`, with their values.
fn explicit_endpoints(raw: &Raw) -> [(RequestKey, Option<&str>); 3] {
    [
        (
            RequestKey::AuthorizationEndpoint,
            raw.authorization_endpoint.as_deref(),
        ),
        (RequestKey::TokenEndpoint, raw.token_endpoint.as_deref()),
        (
            RequestKey::DeviceAuthorizationEndpoint,
            raw.device_authorization_endpoint.as_deref(),
        ),
    ]
}

const GENERIC_HINT: &str = "give issuer= (OpenID Connect discovery), or token_endpoint= with \
     authorization_endpoint= and/or device_authorization_endpoint=";

/// The account's authority and the endpoints its grants go to.
fn endpoints(
    raw: &Raw,
    provider: Provider,
    issuer: Option<&str>,
    tenant: &str,
) -> Result<(String, Endpoints)> {
    let explicit = explicit_endpoints(raw);
    let mut urls = [None, None, None];
    for (slot, (key, value)) in urls.iter_mut().zip(explicit) {
        *slot = value
            .map(|v| provider::normalize_url(key.name(), v))
            .transpose()?;
    }
    if provider == Provider::Generic {
        return generic(raw, issuer, urls);
    }
    if let Some((key, _)) = explicit.iter().find(|(_, v)| v.is_some()) {
        return Err(Error::invalid(format!(
            "{} applies only to provider=generic; provider={} has its own",
            key.name(),
            provider.name()
        ))
        .hint("use authority= to move a preset's endpoints to another host"));
    }
    let authority = match raw.authority.as_deref() {
        None => provider.default_authority().to_string(),
        Some(a) => provider::normalize_url(RequestKey::Authority.name(), a)?,
    };
    let endpoints = provider::preset_endpoints(provider, &authority, tenant)
        .ok_or_else(|| Error::invalid("this provider has no preset endpoints"))?;
    Ok((authority, endpoints))
}

/// `generic`: the issuer names the account (endpoints from discovery, the
/// explicit ones overriding it), else the token endpoint does.
fn generic(
    raw: &Raw,
    issuer: Option<&str>,
    [authorize, token, device]: [Option<String>; 3],
) -> Result<(String, Endpoints)> {
    if raw.authority.is_some() {
        return Err(Error::invalid(
            "authority does not apply to provider=generic; give its issuer or endpoints",
        )
        .hint(GENERIC_HINT));
    }
    match (issuer, token) {
        (Some(iss), token) => Ok((
            iss.to_string(),
            provider::generic_endpoints(authorize, token.unwrap_or_default(), device),
        )),
        (None, Some(token)) => Ok((
            token.clone(),
            provider::generic_endpoints(authorize, token, device),
        )),
        (None, None) => Err(
            Error::invalid("provider=generic needs issuer or token_endpoint").hint(GENERIC_HINT),
        ),
    }
}

/// The sign-in flow: the one asked for, which must be possible (with an
/// issuer, once its document is in), else the endpoints' default, checked
/// only when a sign-in needs it (a generic account may only ever refresh).
fn flow(raw: &Raw, provider: Provider, endpoints: &Endpoints, has_issuer: bool) -> Result<Flow> {
    let flow = match raw.flow.as_deref() {
        None => return Ok(endpoints.default_flow(provider)),
        Some(v) => one_of(
            RequestKey::Flow,
            v,
            &[("device", Flow::Device), ("authcode", Flow::AuthCode)],
        )?,
    };
    if !has_issuer {
        check_flow(provider, endpoints, flow)?;
    }
    Ok(flow)
}

fn interactive(v: Option<&str>) -> Result<Interactive> {
    v.map_or(Ok(Interactive::Auto), |v| {
        one_of(
            RequestKey::Interactive,
            v,
            &[
                ("auto", Interactive::Auto),
                ("always", Interactive::Always),
                ("never", Interactive::Never),
            ],
        )
    })
}

fn open_browser(v: Option<&str>) -> Result<Option<bool>> {
    v.map_or(Ok(None), |v| {
        one_of(
            RequestKey::OpenBrowser,
            v,
            &[("true", Some(true)), ("false", Some(false)), ("auto", None)],
        )
    })
}

/// What the action needs beyond well-formed values.
fn complete(req: &Request) -> Result<()> {
    let action = req.action;
    match (action, req.refresh_token.is_some()) {
        (Action::Store, false) => {
            return Err(Error::invalid("action=store needs refresh_token"));
        }
        (Action::Store, true) | (_, false) => {}
        (_, true) => {
            return Err(Error::invalid(
                "refresh_token is accepted only with action=store",
            ));
        }
    }
    if action == Action::Capability {
        return Ok(());
    }
    if req.client_id.is_none() {
        return Err(
            Error::invalid(format!("action={} needs client_id", action.as_str()))
                .hint("pass the application (client) id of your app registration"),
        );
    }
    let provider = req.provider;
    if !provider.has_id_token() && req.user.is_none() {
        return Err(Error::invalid(format!(
            "provider={} needs user: it does not say which account signed in",
            provider.name()
        ))
        .hint("pass user= (or --user) with the mail address"));
    }
    if req.scope.is_none() && provider.default_scope().is_none() && action != Action::Erase {
        return Err(
            Error::invalid(format!("provider={} needs scope", provider.name()))
                .hint("pass the provider's mail scopes with scope= (or --scope)"),
        );
    }
    Ok(())
}

/// Checks one key's value by the rules of [`Request::validate`], on its
/// own, so the config file can report the line of a bad value.
pub fn check_value(key: RequestKey, value: &str) -> Result<()> {
    match key {
        RequestKey::Provider => {
            return Provider::from_name(value).map(|_| ()).ok_or_else(|| {
                Error::invalid(format!(
                    "unknown provider '{}'; the providers are: {}",
                    shown(value),
                    Provider::names()
                ))
            });
        }
        RequestKey::AuthorizationEndpoint
        | RequestKey::TokenEndpoint
        | RequestKey::DeviceAuthorizationEndpoint
        | RequestKey::Issuer => {
            return provider::normalize_url(key.name(), value).map(|_| ());
        }
        // Which flows a provider allows is checked with the provider.
        RequestKey::Flow if value == "device" || value == "authcode" => return Ok(()),
        // Only Microsoft has tenants: checked with the provider too.
        RequestKey::Tenant => return check_tenant(value).map(|_| ()),
        _ => {}
    }
    let mut raw = Raw::default();
    raw.set(key, value.to_string());
    if key != RequestKey::ClientId {
        raw.client_id = Some("x".into());
    }
    request(raw, None).map(|_| ())
}

/// Refuses a flow the provider does not allow, before any network call.
pub(super) fn check_flow(provider: Provider, endpoints: &Endpoints, flow: Flow) -> Result<()> {
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

/// `v` as one of `choices`, else an error listing them.
fn one_of<T: Copy>(key: RequestKey, v: &str, choices: &[(&str, T)]) -> Result<T> {
    if let Some((_, value)) = choices.iter().find(|(name, _)| *name == v) {
        return Ok(*value);
    }
    let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
    let listed = match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    Err(Error::invalid(format!(
        "{} must be {listed}, not '{}'",
        key.name(),
        shown(v)
    )))
}

/// A whole number within `range`, when given.
fn number(
    key: RequestKey,
    v: Option<&str>,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>> {
    let Some(v) = v else {
        return Ok(None);
    };
    let name = key.name();
    let n: u64 = v
        .parse()
        .ok()
        .filter(|_| v.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            Error::invalid(format!("{name} must be a whole number, not '{}'", shown(v)))
        })?;
    if !range.contains(&n) {
        return Err(Error::invalid(format!(
            "{name} must be between {} and {}, not {n}",
            range.start(),
            range.end()
        )));
    }
    Ok(Some(n))
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
fn check_secret(key: RequestKey, s: Secret, max: usize) -> Result<Secret> {
    let name = key.name();
    if s.is_empty() || s.len() > max {
        return Err(Error::invalid(format!(
            "{name} must be 1 to {max} bytes long"
        )));
    }
    if !s.expose().bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(Error::invalid(format!(
            "{name} must be printable ASCII (value not shown)"
        )));
    }
    Ok(s)
}

/// A `client_secret_cmd` a shell can run.
fn check_command(cmd: SecretCommand) -> Result<SecretCommand> {
    if cmd.is_unusable() {
        return Err(Error::invalid(format!(
            "{} must be a non-empty shell command",
            RequestKey::ClientSecretCmd.name()
        )));
    }
    Ok(cmd)
}

/// A command given as text (`notify_cmd`) a shell can run.
fn check_text_command(key: RequestKey, cmd: String) -> Result<String> {
    if cmd.trim().is_empty() || cmd.contains('\0') {
        return Err(Error::invalid(format!(
            "{} must be a non-empty shell command",
            key.name()
        )));
    }
    Ok(cmd)
}
