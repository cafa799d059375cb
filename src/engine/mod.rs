//! "Give me a valid token for this account": cache → lock → re-check →
//! refresh or sign in → persist → answer. Decides what each outcome of a
//! grant means; `oauth` and `flows` do the HTTP and `store` the files.
//!
//! - `get`: the cached token, or a refresh under the account's lock;
//! - `signin`: an interactive sign-in (device or auth code);
//! - `persist`: a grant's tokens into the record, and `store`/`erase`;
//! - `sealed`: the refresh token at rest, opened and sealed (`secret_store`);
//! - `migrate`: `store migrate`, a refresh token moved to another store;
//! - `check`: doctor's refresh and device checks;
//! - `keepalive`: one refresh of an account left idle, never a sign-in.

mod access;
mod check;
mod get;
mod keepalive;
mod migrate;
mod nearmiss;
mod persist;
mod sealed;
mod signin;

pub use check::RefreshCheck;
pub use keepalive::KeepAlive;
pub use migrate::{Found, Migration};
pub use nearmiss::near_miss_words;

use crate::account::Account;
use crate::error::{Code, Error, Result};
use crate::flows::SignInUi;
use crate::oauth::{self, Http, HttpConfig};
use crate::protocol::keys::RequestKey;
use crate::provider;
use crate::request::{Action, Interactive, Request};
use crate::secret::{Secret, SecretStore};
use crate::settings::Settings;
use crate::store::{CachedDiscovery, Store};
use crate::time::Clock;
use std::borrow::Cow;
use std::time::Duration;

/// Where an answered token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The record's access token, still fresh.
    Cache,
    /// A refresh grant just now.
    Refresh,
    /// A sign-in just now.
    Login,
}

impl Source {
    /// The name used in `source=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Cache => "cache",
            Source::Refresh => "refresh",
            Source::Login => "login",
        }
    }
}

/// A valid access token and what goes with it.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The account the token is for.
    pub user: String,
    /// The access token.
    pub access_token: Secret,
    /// Its type (`Bearer`).
    pub token_type: String,
    /// When it expires (Unix seconds).
    pub expires_at: u64,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// The scope it carries.
    pub scope: String,
    /// Where it came from.
    pub source: Source,
    /// The refresh token now stored (the legacy front end prints it).
    pub refresh_token: Option<Secret>,
    /// Something the user should know although the request succeeded.
    pub warning: Option<String>,
}

/// What a request produced.
pub enum Outcome {
    /// A valid access token (get, refresh, login, store).
    Token(Box<Answer>),
    /// `erase`: the account asked for, and whether it was stored.
    Erased {
        /// The account, when the request named or implied one.
        user: Option<String>,
        /// Whether a record was there to forget.
        existed: bool,
        /// Why nothing was erased, with the stored accounts the request
        /// nearly names: the error of a front end for which erasing
        /// nothing is a failure (the helper answers `erased=false`).
        missing: Option<Error>,
    },
}

/// How long the engine waits, and how it speaks HTTP.
#[derive(Debug, Clone)]
pub struct Options {
    /// Timeouts, retries and logging of the HTTP client.
    pub(crate) http: HttpConfig,
    /// The wait for another process's account lock.
    pub(crate) lock_timeout: Duration,
    /// The limit on a `client_secret_cmd`.
    pub(crate) secret_cmd_timeout: Duration,
}

impl Options {
    /// The options the environment sets; `verbose` as `-v` counts it.
    pub fn new(settings: &Settings, verbose: u8) -> Result<Options> {
        Ok(Options {
            http: HttpConfig::new(settings, verbose)?,
            lock_timeout: settings.lock_timeout()?,
            secret_cmd_timeout: settings.secret_cmd_timeout()?,
        })
    }
}

/// The engine for one process run.
pub struct Engine<'a> {
    store: Store,
    clock: &'a dyn Clock,
    http_config: HttpConfig,
    http: Option<Http>,
    ui: &'a mut dyn SignInUi,
    lock_timeout: Duration,
    secret_cmd_timeout: Duration,
    /// The secret `client_secret_cmd` printed, so one run serves a retry too.
    command_secret: Option<Secret>,
    /// The request's secret store, if it names one.
    secret_store: Option<SecretStore>,
    /// Whether it was probed already in this run.
    secret_store_probed: bool,
    /// `cache_access_token`: false seals the access token too.
    cache_access_token: bool,
    /// A failed refresh is the answer, never softened by a cached access
    /// token (keepalive).
    strict: bool,
}

impl<'a> Engine<'a> {
    /// An engine over `store`; the HTTP client is built only if needed.
    pub fn new(
        store: Store,
        clock: &'a dyn Clock,
        options: Options,
        ui: &'a mut dyn SignInUi,
    ) -> Engine<'a> {
        Engine {
            store,
            clock,
            http_config: options.http,
            http: None,
            ui,
            lock_timeout: options.lock_timeout,
            secret_cmd_timeout: options.secret_cmd_timeout,
            command_secret: None,
            secret_store: None,
            secret_store_probed: false,
            cache_access_token: true,
            strict: false,
        }
    }

    /// Carries out any action but `capability` (which needs no engine).
    pub fn handle(&mut self, req: &Request) -> Result<Outcome> {
        let boxed = |a: Answer| Outcome::Token(Box::new(a));
        self.use_secret_store(req);
        let outcome = match req.action() {
            Action::Get => self.get(req, false).map(boxed),
            Action::Refresh => self.get(req, true).map(boxed),
            Action::Login => self.login(req).map(boxed),
            Action::Store => self.import(req).map(boxed),
            Action::Erase => self.erase(req),
            Action::Capability => Err(Error::invalid("capability is answered by the front end")),
        };
        outcome.map_err(|e| for_admin(req, e))
    }

    /// The HTTP client, built on first use: a cached answer never pays for TLS set-up.
    fn http(&mut self) -> Result<&Http> {
        if self.http.is_none() {
            self.http = Some(Http::new(self.http_config.clone())?);
        }
        self.http
            .as_ref()
            .ok_or_else(|| Error::new(Code::NetworkError, "no HTTP client"))
    }

    /// The user a request means: `user=`, or the only account stored for its
    /// authority, tenant and client id.
    fn resolve_user(&self, req: &Request) -> Result<Option<String>> {
        if let Some(u) = req.user() {
            return Ok(Some(u.to_string()));
        }
        let client_id = req.client_id().unwrap_or_default();
        let mut users = self.store.find_users(&req.account(""))?;
        match users.len() {
            0 => Ok(None),
            1 => Ok(users.pop()),
            n => Err(Error::invalid(format!(
                "{n} accounts are stored for client id {client_id} ({}); say which with {}",
                req.account("").realm(),
                req.spelling().give(RequestKey::User)
            ))
            .hint(format!("stored: {}", users.join(", ")))),
        }
    }

    /// Whether the request may start an interactive sign-in.
    fn may_sign_in(&self, req: &Request) -> bool {
        match req.interactive() {
            Interactive::Always => true,
            Interactive::Never => false,
            Interactive::Auto => self.ui.can_prompt(),
        }
    }

    /// The request with its endpoints complete: an `issuer`'s come from its
    /// discovery document, cached in the store for a day. While the issuer
    /// cannot be reached, an older cached copy serves.
    fn resolved<'r>(&mut self, req: &'r Request) -> Result<Cow<'r, Request>> {
        let Some(issuer) = req.issuer().map(str::to_string) else {
            return Ok(Cow::Borrowed(req));
        };
        let now = self.clock.now();
        let cached = self.store.load_discovery(&issuer);
        if let Some(c) = &cached
            && c.fetched_at <= now
            && now - c.fetched_at < provider::DISCOVERY_MAX_AGE
        {
            return req.with_discovery(&c.doc).map(Cow::Owned);
        }
        match oauth::discover(self.http()?, &issuer) {
            Ok(doc) => {
                let fresh = CachedDiscovery {
                    doc,
                    fetched_at: now,
                };
                // A cache that cannot be written costs a fetch next time, nothing more.
                if let Err(e) = self.store.save_discovery(&fresh) {
                    eprintln!("ooauth2: warning: {}", e.message);
                }
                req.with_discovery(&fresh.doc).map(Cow::Owned)
            }
            Err(e) if e.code.is_transient() => match cached {
                Some(c) => {
                    eprintln!(
                        "ooauth2: warning: {}; using the discovery document fetched {} h ago",
                        e.message,
                        now.saturating_sub(c.fetched_at) / 3600
                    );
                    req.with_discovery(&c.doc).map(Cow::Owned)
                }
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// The client credentials of a request. Called only just before a
    /// grant, so a `client_secret_cmd` runs only when the provider is reached.
    fn client(&mut self, req: &Request, account: &Account) -> Result<(String, Option<Secret>)> {
        let secret = match (req.client_secret(), req.client_secret_cmd()) {
            (Some(s), _) => Some(s.clone()),
            (None, Some(cmd)) => {
                if self.command_secret.is_none() {
                    self.command_secret = Some(cmd.run(self.secret_cmd_timeout)?);
                }
                self.command_secret.clone()
            }
            (None, None) => None,
        };
        Ok((account.client_id.clone(), secret))
    }
}

/// `e` with the fix of an administrator when only one can lift the
/// provider's refusal (the table is `oauth`'s): signing in again alone
/// would only be refused again.
fn for_admin(req: &Request, e: Error) -> Error {
    let account = req.account(req.user().unwrap_or_default());
    match e
        .aadsts()
        .and_then(|c| oauth::aadsts_admin_fix(c, &account))
    {
        Some(fix) => {
            let login = req.login_command(&account.user);
            e.hint(format!("{fix}; then sign in again: {login}"))
        }
        None => e,
    }
}

/// A login_required error for `account`, with the command that signs it in.
fn login_required(req: &Request, account: &Account, reason: &str) -> Error {
    Error::new(
        Code::LoginRequired,
        format!("{reason} for {} ({})", account.user, account.realm()),
    )
    .hint(format!("run: {}", req.login_command(&account.user)))
}

#[cfg(test)]
mod tests;
