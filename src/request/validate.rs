//! The one validation of a request, in steps: the action, the provider and
//! its endpoints, the account's values, the sign-in options, and what the
//! action needs. Each value check is also usable alone ([`check_value`]), so
//! the config file can report the line of a bad value.

use super::{Action, DEFAULT_MIN_TTL, DEFAULT_SIGNIN_TIMEOUT, Interactive, Raw, Request};
use crate::error::{Error, Result, shown};
use crate::protocol::keys::{RequestKey, Spelling};
use crate::provider::{self, Endpoints, Flow, Provider};
use crate::secret::{SealCommands, Secret, SecretCommand, SecretStore, StoreKind, printable_ascii};

/// Builds and validates the request of `raw`; `named` is the config
/// account whose values lie beneath, if any. Every message names the keys
/// as the front end that filled `raw` spells them, and an error with no
/// advice of its own points to where that front end's keys are described.
pub(super) fn request(raw: Raw, named: Option<String>) -> Result<Request> {
    let spelling = raw.spelling;
    build(raw, named).map_err(|e| match e.hint {
        Some(_) => e,
        None => e.hint(spelling.reference()),
    })
}

/// [`request`]'s steps.
fn build(raw: Raw, named: Option<String>) -> Result<Request> {
    let sp = raw.spelling;
    // `account` names config values; the overlay must have applied them.
    if raw.account.is_some() && named.is_none() {
        return Err(Error::invalid(
            "account= must be resolved from the config file before validation",
        ));
    }
    let action = action(raw.action.as_deref())?;
    let (provider, issuer) = provider_of(&raw)?;
    let tenant = tenant(provider, raw.tenant.as_deref(), sp)?;
    let (authority, endpoints) = endpoints(&raw, provider, issuer.as_deref(), &tenant)?;
    let flow = flow(&raw, provider, &endpoints, issuer.is_some())?;
    let numbers = Numbers::of(&raw)?;
    let secret_store = secret_store(&raw, named.as_deref())?;
    let cache_access_token = cache_access_token(&raw, secret_store.as_ref())?;
    let (client_secret, client_secret_cmd) =
        client_secret(raw.client_secret, raw.client_secret_cmd, sp)?;
    // A text value, checked by its rule when given.
    let text = |v: &Option<String>, check: fn(&str, Spelling) -> Result<String>| {
        v.as_deref().map(|v| check(v, sp)).transpose()
    };
    let req = Request {
        action,
        provider,
        flow_given: raw.flow.is_some(),
        issuer,
        endpoints,
        authority,
        tenant,
        client_id: text(&raw.client_id, check_client_id)?,
        client_secret,
        user: text(&raw.user, check_user)?,
        scope: text(&raw.scope, check_scope)?,
        min_ttl: numbers.min_ttl,
        interactive: interactive(raw.interactive.as_deref(), sp)?,
        host: text(&raw.host, check_host)?,
        port: numbers.port,
        refresh_token: raw
            .refresh_token
            .map(|s| check_secret(RequestKey::RefreshToken, s, 16 * 1024, sp))
            .transpose()?,
        flow,
        redirect_port: numbers.redirect_port,
        signin_timeout: numbers.signin_timeout,
        open_browser: open_browser(raw.open_browser.as_deref(), sp)?,
        client_secret_cmd,
        secret_store,
        cache_access_token,
        notify_cmd: raw
            .notify_cmd
            .map(|c| check_text_command(RequestKey::NotifyCmd, c, sp))
            .transpose()?,
        account_name: named,
        spelling: sp,
        overrides: Vec::new(),
    };
    complete(&req)?;
    Ok(req)
}

/// The request's numbers, each checked against its range, defaults filled in.
struct Numbers {
    min_ttl: u64,
    port: Option<u16>,
    redirect_port: u16,
    signin_timeout: u64,
}

impl Numbers {
    fn of(raw: &Raw) -> Result<Numbers> {
        let sp = raw.spelling;
        let get = |key, v: &Option<String>, range| number(key, v.as_deref(), range, sp);
        Ok(Numbers {
            min_ttl: get(RequestKey::MinTtl, &raw.min_ttl, 0..=86_400)?.unwrap_or(DEFAULT_MIN_TTL),
            // The ranges keep the ports within u16.
            port: get(RequestKey::Port, &raw.port, 1..=65_535)?.map(|p| p as u16),
            redirect_port: get(RequestKey::RedirectPort, &raw.redirect_port, 0..=65_535)?
                .map_or(0, |p| p as u16),
            signin_timeout: get(RequestKey::SigninTimeout, &raw.signin_timeout, 1..=3600)?
                .unwrap_or(DEFAULT_SIGNIN_TIMEOUT),
        })
    }
}

/// The client secret given outright, which wins (the command is then
/// never run), else the command that prints it.
fn client_secret(
    secret: Option<Secret>,
    cmd: Option<SecretCommand>,
    sp: Spelling,
) -> Result<(Option<Secret>, Option<SecretCommand>)> {
    match secret {
        Some(s) => Ok((
            Some(check_secret(RequestKey::ClientSecret, s, 1024, sp)?),
            None,
        )),
        None => Ok((None, cmd.map(|c| check_command(c, sp)).transpose()?)),
    }
}

/// The account's secret store, when one is given: `file` (the record
/// holds the refresh token), `keyring` or `command`, which needs both its
/// commands; a command given without `secret_store = command` would
/// silently do nothing.
fn secret_store(raw: &Raw, named: Option<&str>) -> Result<Option<SecretStore>> {
    let sp = raw.spelling;
    let command = sp.pair(RequestKey::SecretStore, "command");
    let given = raw.encrypt_cmd.is_some() || raw.decrypt_cmd.is_some();
    let store = raw.secret_store.as_deref();
    if given && store != Some("command") {
        let (encrypt, decrypt) = (
            sp.key(RequestKey::EncryptCmd),
            sp.key(RequestKey::DecryptCmd),
        );
        return Err(Error::invalid(format!(
            "{encrypt} and {decrypt} are used only with {command}"
        ))
        .hint(format!(
            "add {command} to seal the refresh token with them, or remove them"
        )));
    }
    let Some(name) = store else { return Ok(None) };
    Ok(Some(
        match StoreKind::parse(name, &sp.key(RequestKey::SecretStore))? {
            StoreKind::Command => command_store(raw, named)?,
            StoreKind::Keyring => SecretStore::Keyring,
            StoreKind::File => SecretStore::File,
        },
    ))
}

/// `secret_store = command`: both commands, usable.
fn command_store(raw: &Raw, named: Option<&str>) -> Result<SecretStore> {
    let sp = raw.spelling;
    let (encrypt, decrypt) = (
        sp.key(RequestKey::EncryptCmd),
        sp.key(RequestKey::DecryptCmd),
    );
    let example = match sp {
        Spelling::Flags => {
            "e.g. --encrypt-cmd 'age -r age1...' --decrypt-cmd 'age -d -i ~/.config/age/key.txt'"
        }
        _ => {
            "e.g. encrypt_cmd = \"age -r age1...\" and decrypt_cmd = \"age -d -i ~/.config/age/key.txt\""
        }
    };
    let (Some(e), Some(d)) = (&raw.encrypt_cmd, &raw.decrypt_cmd) else {
        let command = sp.pair(RequestKey::SecretStore, "command");
        return Err(
            Error::invalid(format!("{command} needs both {encrypt} and {decrypt}")).hint(example),
        );
    };
    let what = |key: &str| match named {
        Some(n) => format!("{key} of account '{n}'"),
        None => key.to_string(),
    };
    let pair = SealCommands::new((what(&encrypt), e.clone()), (what(&decrypt), d.clone()));
    if pair.is_unusable() {
        return Err(Error::invalid(format!(
            "{encrypt} and {decrypt} must be non-empty shell commands"
        ))
        .hint(example));
    }
    Ok(SecretStore::Command(pair))
}

/// Whether the record may hold the access token in the clear (the
/// default); `false` seals it too, which only a `command` store can.
fn cache_access_token(raw: &Raw, store: Option<&SecretStore>) -> Result<bool> {
    let sp = raw.spelling;
    let Some(v) = raw.cache_access_token.as_deref() else {
        return Ok(true);
    };
    let cache = cache_value(v, sp)?;
    let sealed = matches!(store, Some(SecretStore::Command(_)));
    if !cache && !sealed {
        return Err(Error::invalid(format!(
            "{} keeps the access token out of the record's plain text, which needs {}",
            sp.pair(RequestKey::CacheAccessToken, "false"),
            sp.pair(RequestKey::SecretStore, "command")
        ))
        .hint(refuse_uncached_hint(store, sp)));
    }
    Ok(cache)
}

/// What to do instead of `cache_access_token = false` with `store`.
fn refuse_uncached_hint(store: Option<&SecretStore>, sp: Spelling) -> String {
    let command = sp.pair(RequestKey::SecretStore, "command");
    let leave_out = sp.key(RequestKey::CacheAccessToken);
    match store {
        Some(SecretStore::Keyring) => format!(
            "with {} the refresh token is in the keyring and the record (mode 0600) holds only \
             the access token, which dies within the hour: leave out {leave_out}, or seal both \
             with {command} and its encrypt and decrypt commands",
            sp.pair(RequestKey::SecretStore, "keyring"),
        ),
        _ => format!(
            "with {} the record holds the refresh token in the clear anyway: seal both \
             with {command} and its encrypt and decrypt commands, or leave out {leave_out}",
            sp.pair(RequestKey::SecretStore, "file"),
        ),
    }
}

/// A `cache_access_token` value: `true` or `false`.
fn cache_value(v: &str, sp: Spelling) -> Result<bool> {
    one_of(
        RequestKey::CacheAccessToken,
        v,
        &[("true", true), ("false", false)],
        sp,
    )
}

/// A `secret_store` this build has (the rule is [`StoreKind::parse`]'s).
fn check_secret_store(value: &str, sp: Spelling) -> Result<()> {
    StoreKind::parse(value, &sp.key(RequestKey::SecretStore)).map(drop)
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
    let sp = raw.spelling;
    let issuer = raw
        .issuer
        .as_deref()
        .map(|v| provider::normalize_url(&sp.key(RequestKey::Issuer), v))
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
            "{} applies only to {}; {} has its own endpoints",
            sp.key(RequestKey::Issuer),
            sp.pair(RequestKey::Provider, "generic"),
            sp.pair(RequestKey::Provider, provider.name())
        )));
    }
    Ok((provider, issuer))
}

fn tenant(provider: Provider, v: Option<&str>, sp: Spelling) -> Result<String> {
    match v {
        None => Ok(provider::DEFAULT_TENANT.to_string()),
        Some(_) if !provider.is_microsoft() => Err(Error::invalid(format!(
            "{} applies only to Microsoft, not to {}",
            sp.key(RequestKey::Tenant),
            sp.pair(RequestKey::Provider, provider.name())
        ))),
        Some(t) => check_tenant(t, sp),
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

/// How a generic account is named: by its issuer, or its endpoints.
fn generic_hint(sp: Spelling) -> String {
    format!(
        "give {} (OpenID Connect discovery), or {} with {} and/or {}",
        sp.give(RequestKey::Issuer),
        sp.give(RequestKey::TokenEndpoint),
        sp.give(RequestKey::AuthorizationEndpoint),
        sp.give(RequestKey::DeviceAuthorizationEndpoint)
    )
}

/// The account's authority and the endpoints its grants go to.
fn endpoints(
    raw: &Raw,
    provider: Provider,
    issuer: Option<&str>,
    tenant: &str,
) -> Result<(String, Endpoints)> {
    let sp = raw.spelling;
    let explicit = explicit_endpoints(raw);
    let mut urls = [None, None, None];
    for (slot, (key, value)) in urls.iter_mut().zip(explicit) {
        *slot = value
            .map(|v| provider::normalize_url(&sp.key(key), v))
            .transpose()?;
    }
    if provider == Provider::Generic {
        return generic(raw, issuer, urls);
    }
    if let Some((key, _)) = explicit.iter().find(|(_, v)| v.is_some()) {
        return Err(Error::invalid(format!(
            "{} applies only to {}; {} has its own",
            sp.key(*key),
            sp.pair(RequestKey::Provider, "generic"),
            sp.pair(RequestKey::Provider, provider.name())
        ))
        .hint(format!(
            "use {} to move a preset's endpoints to another host",
            sp.give(RequestKey::Authority)
        )));
    }
    let authority = match raw.authority.as_deref() {
        None => provider.default_authority().to_string(),
        Some(a) => provider::normalize_url(&sp.key(RequestKey::Authority), a)?,
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
    let sp = raw.spelling;
    if raw.authority.is_some() {
        return Err(Error::invalid(format!(
            "{} does not apply to {}; give its issuer or endpoints",
            sp.key(RequestKey::Authority),
            sp.pair(RequestKey::Provider, "generic")
        ))
        .hint(generic_hint(sp)));
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
        (None, None) => Err(Error::invalid(format!(
            "{} needs {} or {}",
            sp.pair(RequestKey::Provider, "generic"),
            sp.key(RequestKey::Issuer),
            sp.key(RequestKey::TokenEndpoint)
        ))
        .hint(generic_hint(sp))),
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
            raw.spelling,
        )?,
    };
    if !has_issuer {
        check_flow(provider, endpoints, flow, raw.spelling)?;
    }
    Ok(flow)
}

fn interactive(v: Option<&str>, sp: Spelling) -> Result<Interactive> {
    v.map_or(Ok(Interactive::Auto), |v| {
        one_of(
            RequestKey::Interactive,
            v,
            &[
                ("auto", Interactive::Auto),
                ("always", Interactive::Always),
                ("never", Interactive::Never),
            ],
            sp,
        )
    })
}

fn open_browser(v: Option<&str>, sp: Spelling) -> Result<Option<bool>> {
    v.map_or(Ok(None), |v| {
        one_of(
            RequestKey::OpenBrowser,
            v,
            &[("true", Some(true)), ("false", Some(false)), ("auto", None)],
            sp,
        )
    })
}

/// What the action needs beyond well-formed values.
fn complete(req: &Request) -> Result<()> {
    let (action, sp) = (req.action, req.spelling);
    let token = sp.key(RequestKey::RefreshToken);
    match (action, req.refresh_token.is_some()) {
        (Action::Store, false) => {
            return Err(Error::invalid(format!("action=store needs {token}")));
        }
        (Action::Store, true) | (_, false) => {}
        (_, true) => {
            return Err(Error::invalid(format!(
                "{token} is accepted only with action=store"
            )));
        }
    }
    if action == Action::Capability {
        return Ok(());
    }
    if req.client_id.is_none() {
        return Err(no_client_id(req));
    }
    let provider = req.provider;
    let pair = sp.pair(RequestKey::Provider, provider.name());
    if !provider.has_id_token() && req.user.is_none() {
        return Err(Error::invalid(format!(
            "{pair} needs {}: it does not say which account signed in",
            sp.key(RequestKey::User)
        ))
        .hint(format!(
            "pass {} with the mail address",
            sp.give(RequestKey::User)
        )));
    }
    if req.scope.is_none() && provider.default_scope().is_none() && action != Action::Erase {
        return Err(
            Error::invalid(format!("{pair} needs {}", sp.key(RequestKey::Scope))).hint(format!(
                "pass the provider's mail scopes with {}",
                sp.give(RequestKey::Scope)
            )),
        );
    }
    Ok(())
}

/// A request without a client id, said in its front end's words: the
/// helper's action, the command's flag or account name, the named account's
/// missing line.
fn no_client_id(req: &Request) -> Error {
    let sp = req.spelling;
    let what = "the application (client) id of your app registration";
    if let Some(name) = &req.account_name {
        return Error::invalid(format!(
            "account '{name}' of the config file has no client_id"
        ))
        .hint(format!(
            "add client_id = \"...\" ({what}) to [accounts.{name}], or pass {}",
            sp.give(RequestKey::ClientId)
        ));
    }
    match sp {
        Spelling::Keys => Error::invalid(format!(
            "action={} needs client_id",
            req.action.as_str()
        ))
        .hint(format!(
            "pass client_id= ({what}), or account= naming an account of the config file"
        )),
        Spelling::Flags => Error::invalid("no client id: pass --client-id or an account name")
            .hint(format!(
                "--client-id takes {what}; an account name stands for an [accounts.NAME] table of the config file"
            )),
        Spelling::Legacy => Error::invalid("--client_id is missing")
            .hint(format!("pass --client_id with {what}")),
    }
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
        RequestKey::Tenant => return check_tenant(value, Spelling::Keys).map(|_| ()),
        // The pair is checked with the store that uses it.
        RequestKey::SecretStore => return check_secret_store(value, Spelling::Keys),
        RequestKey::CacheAccessToken => return cache_value(value, Spelling::Keys).map(drop),
        RequestKey::EncryptCmd | RequestKey::DecryptCmd => {
            return check_text_command(key, value.to_string(), Spelling::Keys).map(drop);
        }
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
pub(super) fn check_flow(
    provider: Provider,
    endpoints: &Endpoints,
    flow: Flow,
    sp: Spelling,
) -> Result<()> {
    let flow_is = |v: &str| sp.pair(RequestKey::Flow, v);
    let provider_is = sp.pair(RequestKey::Provider, provider.name());
    match flow {
        Flow::Device if provider == Provider::Google => Err(Error::invalid(format!(
            "{provider_is} cannot use {}: Google does not allow mail scopes on the device flow",
            flow_is("device")
        ))
        .hint(format!(
            "use {} (the default for google); on a headless machine, forward the redirect port with ssh -L",
            flow_is("authcode")
        ))),
        Flow::Device if endpoints.device.is_none() => Err(if provider == Provider::Generic {
            Error::invalid(format!(
                "{} needs {}",
                flow_is("device"),
                sp.key(RequestKey::DeviceAuthorizationEndpoint)
            ))
        } else {
            Error::invalid(format!("{provider_is} has no device flow for mail")).hint(format!(
                "use {} (the default for this provider)",
                flow_is("authcode")
            ))
        }),
        Flow::AuthCode if endpoints.authorize.is_none() => Err(Error::invalid(format!(
            "{} needs {}",
            flow_is("authcode"),
            sp.key(RequestKey::AuthorizationEndpoint)
        ))),
        _ => Ok(()),
    }
}

/// `v` as one of `choices`, else an error listing them.
fn one_of<T: Copy>(key: RequestKey, v: &str, choices: &[(&str, T)], sp: Spelling) -> Result<T> {
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
        sp.key(key),
        shown(v)
    )))
}

/// A whole number within `range`, when given.
fn number(
    key: RequestKey,
    v: Option<&str>,
    range: std::ops::RangeInclusive<u64>,
    sp: Spelling,
) -> Result<Option<u64>> {
    let Some(v) = v else {
        return Ok(None);
    };
    let name = sp.key(key);
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
fn check_tenant(t: &str, sp: Spelling) -> Result<String> {
    let ok = !t.is_empty()
        && t.len() <= 128
        && !t.starts_with('.')
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_');
    if !ok {
        return Err(Error::invalid(format!(
            "{} '{}' is not a tenant id, domain or keyword",
            sp.key(RequestKey::Tenant),
            shown(t)
        ))
        .hint("use common, organizations, consumers, a directory GUID or a domain"));
    }
    Ok(t.to_string())
}

fn check_client_id(c: &str, sp: Spelling) -> Result<String> {
    let ok = !c.is_empty()
        && c.len() <= 256
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~:@+".contains(&b));
    if !ok {
        return Err(Error::invalid(format!(
            "{} '{}' has characters a client id cannot have",
            sp.key(RequestKey::ClientId),
            shown(c)
        )));
    }
    Ok(c.to_string())
}

/// Users end up in SASL strings: no control characters, no spaces.
fn check_user(u: &str, sp: Spelling) -> Result<String> {
    let key = sp.key(RequestKey::User);
    if u.is_empty() || u.len() > 320 {
        return Err(Error::invalid(format!("{key} must be 1 to 320 bytes long")));
    }
    if u.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::invalid(format!(
            "{key} must not contain spaces or control characters"
        )));
    }
    Ok(u.to_string())
}

/// RFC 6749 scope-token characters, separated by single spaces.
fn check_scope(s: &str, sp: Spelling) -> Result<String> {
    let key = sp.key(RequestKey::Scope);
    if s.len() > 4096 {
        return Err(Error::invalid(format!("{key} is longer than 4096 bytes")));
    }
    let parts: Vec<&str> = s.split(' ').filter(|p| !p.is_empty()).collect();
    let ok = !parts.is_empty()
        && parts.iter().all(|p| {
            p.bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
        });
    if !ok {
        return Err(Error::invalid(format!(
            "{key} must be space-separated scope tokens (printable ASCII, no quotes or backslashes)"
        )));
    }
    Ok(parts.join(" "))
}

fn check_host(h: &str, sp: Spelling) -> Result<String> {
    let ok = !h.is_empty()
        && h.len() <= 253
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b));
    if !ok {
        return Err(Error::invalid(format!(
            "{} '{}' is not a host name or address",
            sp.key(RequestKey::Host),
            shown(h)
        )));
    }
    Ok(h.to_string())
}

/// Secrets are printable ASCII (RFC 6749 VSCHAR); never echoed back.
fn check_secret(key: RequestKey, s: Secret, max: usize, sp: Spelling) -> Result<Secret> {
    let name = sp.key(key);
    if s.is_empty() || s.len() > max {
        return Err(Error::invalid(format!(
            "{name} must be 1 to {max} bytes long"
        )));
    }
    if !printable_ascii(s.expose().as_bytes()) {
        return Err(Error::invalid(format!(
            "{name} must be printable ASCII (value not shown)"
        )));
    }
    Ok(s)
}

/// A `client_secret_cmd` a shell can run.
fn check_command(cmd: SecretCommand, sp: Spelling) -> Result<SecretCommand> {
    if cmd.is_unusable() {
        return Err(Error::invalid(format!(
            "{} must be a non-empty shell command",
            sp.key(RequestKey::ClientSecretCmd)
        )));
    }
    Ok(cmd)
}

/// A command given as text (`notify_cmd`) a shell can run.
fn check_text_command(key: RequestKey, cmd: String, sp: Spelling) -> Result<String> {
    if cmd.trim().is_empty() || cmd.contains('\0') {
        return Err(Error::invalid(format!(
            "{} must be a non-empty shell command",
            sp.key(key)
        )));
    }
    Ok(cmd)
}
