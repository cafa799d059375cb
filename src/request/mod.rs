//! The validated request every front end ends in (helper protocol, `token`
//! flags, legacy `ooauth2.py` flags, named accounts): built from a
//! [`Raw`] by one validation ([`Request::validate`]), immutable afterwards, so the
//! front ends cannot drift.

mod validate;

pub use crate::protocol::keys::{Raw, Spelling};
pub use validate::check_value;

use crate::account::{self, Account};
use crate::error::Result;
use crate::protocol::keys::RequestKey;
use crate::provider::{Discovery, Endpoints, Flow, Provider};
use crate::secret::{SealCommands, Secret, SecretCommand, SecretStore, StoreKind};

/// What the caller wants done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A valid access token: cached, refreshed, or by a sign-in.
    Get,
    /// A new sign-in, whatever is stored.
    Login,
    /// A new access token from the provider even if one is cached.
    Refresh,
    /// Import a refresh token, proven by one refresh.
    Store,
    /// Forget the account.
    Erase,
    /// What this build speaks (answered by the front end).
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
    /// Only when a terminal (or a notifier) can show the instructions.
    Auto,
    /// Always: the caller is a person at a terminal.
    Always,
    /// Never: fail with login_required instead.
    Never,
}

/// Default for `signin_timeout`: five minutes to finish signing in.
pub(crate) const DEFAULT_SIGNIN_TIMEOUT: u64 = 300;

/// Default for `min_ttl`: five minutes, enough for a slow IMAP login.
pub(crate) const DEFAULT_MIN_TTL: u64 = 300;

/// A validated request; only [`Request::validate`] (and the config
/// overlay) makes one, and nothing changes it afterwards.
#[derive(Debug, Clone)]
pub struct Request {
    action: Action,
    provider: Provider,
    /// Where the grants go; with an `issuer`, only the explicit ones until
    /// [`Request::with_discovery`] adds the discovered.
    endpoints: Endpoints,
    issuer: Option<String>,
    /// Whether `flow` was asked for (else it follows the endpoints).
    flow_given: bool,
    authority: String,
    tenant: String,
    client_id: Option<String>,
    client_secret: Option<Secret>,
    user: Option<String>,
    scope: Option<String>,
    min_ttl: u64,
    interactive: Interactive,
    host: Option<String>,
    port: Option<u16>,
    refresh_token: Option<Secret>,
    flow: Flow,
    redirect_port: u16,
    signin_timeout: u64,
    open_browser: Option<bool>,
    client_secret_cmd: Option<SecretCommand>,
    /// `secret_store`, when given (`command` with its commands).
    secret_store: Option<SecretStore>,
    /// `false`: the access token is sealed in the record too.
    cache_access_token: bool,
    account_name: Option<String>,
    notify_cmd: Option<String>,
    /// How the front end that asked spells the keys, for messages.
    spelling: Spelling,
    /// A named account's values given explicitly that differ from the
    /// config file's (of [`LOGIN_KEYS`]), for the command that signs it in.
    overrides: Vec<(RequestKey, String)>,
}

/// The keys `ooauth2 login` takes a flag for (besides the account name):
/// what a command that signs an account in again may have to repeat.
pub const LOGIN_KEYS: [RequestKey; 13] = [
    RequestKey::Provider,
    RequestKey::ClientId,
    RequestKey::Tenant,
    RequestKey::User,
    RequestKey::Authority,
    RequestKey::Scope,
    RequestKey::Issuer,
    RequestKey::TokenEndpoint,
    RequestKey::AuthorizationEndpoint,
    RequestKey::DeviceAuthorizationEndpoint,
    RequestKey::Flow,
    RequestKey::RedirectPort,
    RequestKey::SigninTimeout,
];

impl Request {
    /// Validates a request given without a named account (`raw.account`
    /// must have been resolved by the config overlay first).
    pub fn validate(raw: Raw) -> Result<Request> {
        validate::request(raw, None)
    }

    /// Validates the request of the named account `name`, whose values
    /// `raw` already holds beneath the explicit ones; `overrides` are the
    /// explicit ones that differ from the file's.
    pub(crate) fn validate_named(
        raw: Raw,
        name: &str,
        overrides: Vec<(RequestKey, String)>,
    ) -> Result<Request> {
        let mut req = validate::request(raw, Some(name.to_string()))?;
        req.overrides = overrides;
        Ok(req)
    }

    /// What to do.
    pub fn action(&self) -> Action {
        self.action
    }

    /// The provider preset (default: microsoft).
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// Where the grants go (with an issuer, only the explicit ones: the rest
    /// come from its discovery document, in the engine).
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The OpenID Connect issuer whose discovery document gives the
    /// endpoints (`provider=generic`); also the account's authority.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The account's authority: Microsoft's identity platform base, another
    /// preset's base, or the token endpoint (or issuer) of `generic`.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Microsoft's tenant (`common` by default).
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The client id (every action but `capability` has one).
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// A confidential client's secret, given in the request.
    pub fn client_secret(&self) -> Option<&Secret> {
        self.client_secret.as_ref()
    }

    /// Where the client secret comes from when the request has none: run
    /// only if the provider is reached.
    pub fn client_secret_cmd(&self) -> Option<&SecretCommand> {
        self.client_secret_cmd.as_ref()
    }

    /// Where the account's refresh token is to rest (`secret_store`);
    /// `None`: not said, so it stays where it rests (a new one: `file`).
    pub fn secret_store(&self) -> Option<&SecretStore> {
        self.secret_store.as_ref()
    }

    /// Whether the record may hold the access token in the clear
    /// (`cache_access_token`, default true; false only with a `command` store).
    pub fn cache_access_token(&self) -> bool {
        self.cache_access_token
    }

    /// Which store the account's refresh token is to rest in: the one
    /// given, else `file`.
    pub fn store_kind(&self) -> StoreKind {
        self.secret_store
            .as_ref()
            .map_or(StoreKind::File, SecretStore::kind)
    }

    /// The commands of a `command` store, if that is the one given.
    pub fn sealing(&self) -> Option<&SealCommands> {
        match &self.secret_store {
            Some(SecretStore::Command(seal)) => Some(seal),
            _ => None,
        }
    }

    /// The mailbox account, when given.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The scope given by the caller, if any (normalised to single spaces).
    pub(crate) fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// Renew when fewer seconds than this are left.
    pub(crate) fn min_ttl(&self) -> u64 {
        self.min_ttl
    }

    /// Whether a sign-in may be started.
    pub(crate) fn interactive(&self) -> Interactive {
        self.interactive
    }

    /// The mail server, for the OAUTHBEARER string.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The mail server's port, for the OAUTHBEARER string.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The refresh token to import (`action=store` only).
    pub(crate) fn refresh_token(&self) -> Option<&Secret> {
        self.refresh_token.as_ref()
    }

    /// Which interactive sign-in to run.
    pub fn flow(&self) -> Flow {
        self.flow
    }

    /// The loopback port of the auth code flow's redirect; 0: any free port.
    pub(crate) fn redirect_port(&self) -> u16 {
        self.redirect_port
    }

    /// Seconds to wait for the browser's redirect in the auth code flow.
    pub(crate) fn signin_timeout(&self) -> u64 {
        self.signin_timeout
    }

    /// Whether a sign-in opens its page in a browser: `Some(true)` always,
    /// `Some(false)` never, `None` when a desktop session is detected.
    pub fn open_browser(&self) -> Option<bool> {
        self.open_browser
    }

    /// The named account the request came from, for hints.
    pub fn account_name(&self) -> Option<&str> {
        self.account_name.as_deref()
    }

    /// How the front end that asked spells the keys: messages about them
    /// (here and in the engine) use its words.
    pub fn spelling(&self) -> Spelling {
        self.spelling
    }

    /// Whether a sign-in or import keeps the stored account's scope, adding
    /// its own: an `ooauth2.py` command line always carries ooauth2.py's
    /// fixed scope (IMAP and SMTP, no POP), which is no choice of the
    /// account's, so one legacy run must not narrow the account for good.
    pub(crate) fn keeps_stored_scope(&self) -> bool {
        self.spelling == Spelling::Legacy
    }

    /// The account's `notify_cmd`: how the sign-in UI tells the person the
    /// code when no terminal can show it.
    pub fn notify_cmd(&self) -> Option<&str> {
        self.notify_cmd.as_deref()
    }

    /// The same request with `interactive` set: `login` always may sign
    /// in, `doctor` never does.
    pub fn with_interactive(&self, interactive: Interactive) -> Request {
        Request {
            interactive,
            ..self.clone()
        }
    }

    /// The request with the endpoints of `doc`, the issuer's discovery
    /// document, under the explicit ones, and the default flow they allow.
    pub(crate) fn with_discovery(&self, doc: &Discovery) -> Result<Request> {
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
    pub(crate) fn check_flow(&self) -> Result<()> {
        validate::check_flow(self.provider, &self.endpoints, self.flow, self.spelling)
    }

    /// The scope a sign-in asks for when neither request nor record has one.
    pub(crate) fn default_scope(&self) -> &str {
        self.scope
            .as_deref()
            .or(self.provider.default_scope())
            .unwrap_or_default()
    }

    /// The command that signs this request's account in again, as `user`
    /// (empty: not known yet): by the configured name when it came from
    /// one, with the values given beside it that differ from the file's
    /// (and `user` when it is not the request's); else every flag, a
    /// generic account's endpoints and scope too.
    pub fn login_command(&self, user: &str) -> String {
        if let Some(name) = &self.account_name {
            return self.named_login_command(name, user);
        }
        let mut cmd = self.account(user).login_command();
        if self.provider == Provider::Generic {
            let e = &self.endpoints;
            let token = Some(e.token.as_str()).filter(|_| self.issuer.is_none());
            for (flag, value) in [
                ("issuer", self.issuer.as_deref()),
                ("token-endpoint", token),
                ("authorization-endpoint", e.authorize.as_deref()),
                ("device-authorization-endpoint", e.device.as_deref()),
                ("scope", self.scope.as_deref()),
            ] {
                if let Some(v) = value.filter(|v| !v.is_empty()) {
                    cmd.push_str(&format!(" --{flag} {}", account::shell_word(v)));
                }
            }
        }
        cmd
    }

    /// [`Request::login_command`] of the account named `name`.
    fn named_login_command(&self, name: &str, user: &str) -> String {
        let mut cmd = account::login_command(Some(name), &self.account(user));
        let flag = |key: RequestKey, value: &str| {
            format!(
                " {} {}",
                Spelling::Flags.key(key),
                account::shell_word(value)
            )
        };
        for (key, value) in &self.overrides {
            cmd.push_str(&flag(*key, value));
        }
        let known = self.user.as_deref().unwrap_or_default();
        if !user.is_empty() && !user.eq_ignore_ascii_case(known) {
            cmd.push_str(&flag(RequestKey::User, user));
        }
        cmd
    }

    /// The account this request names, as `user` (empty: not known yet).
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

#[cfg(test)]
mod tests;
