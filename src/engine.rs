//! "Give me a valid token for this account": cache → lock → re-check →
//! refresh or sign in → persist → answer. Decides what each outcome of a grant
//! means; `oauth` does the HTTP and `store` the files.

use crate::account::Account;
use crate::error::{Code, Error, Result};
use crate::flows::{self, SignInUi};
use crate::oauth::{self, Client, Http, HttpConfig, TokenResponse};
use crate::provider;
use crate::provider::Flow;
use crate::request::{Action, Interactive, Request};
use crate::secret::Secret;
use crate::settings::Settings;
use crate::store::{AccountLock, CachedDiscovery, Record, Store};
use crate::time::Clock;
use std::borrow::Cow;
use std::time::Duration;

/// Where an answered token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Cache,
    Refresh,
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
#[derive(Clone)]
pub struct Answer {
    pub user: String,
    pub access_token: String,
    pub token_type: String,
    pub expires_at: u64,
    pub expires_in: u64,
    pub scope: String,
    pub source: Source,
    /// The refresh token now stored (the legacy front end prints it).
    pub refresh_token: Option<String>,
    /// Something the user should know although the request succeeded.
    pub warning: Option<String>,
}

/// What a request produced.
pub enum Outcome {
    Token(Box<Answer>),
    Erased { user: Option<String>, existed: bool },
}

/// How long the engine waits, and how it speaks HTTP.
#[derive(Debug, Clone)]
pub struct Options {
    /// Timeouts, retries and logging of the HTTP client.
    pub http: HttpConfig,
    /// The wait for another process's account lock.
    pub lock_timeout: Duration,
    /// The limit on a `client_secret_cmd`.
    pub secret_cmd_timeout: Duration,
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
        }
    }

    /// Carries out any action but `capability` (which needs no engine).
    pub fn handle(&mut self, req: &Request) -> Result<Outcome> {
        match req.action() {
            Action::Get => self.get(req, false).map(boxed),
            Action::Refresh => self.get(req, true).map(boxed),
            Action::Login => self.login(req).map(boxed),
            Action::Store => self.import(req).map(boxed),
            Action::Erase => self.erase(req),
            Action::Capability => Err(Error::invalid("capability is answered by the front end")),
        }
    }

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
                "{n} accounts are stored for client id {client_id} ({}); say which with user= (--user)",
                req.account("").realm()
            ))
            .hint(format!("stored: {}", users.join(", ")))),
        }
    }

    fn may_sign_in(&self, req: &Request) -> bool {
        match req.interactive() {
            Interactive::Always => true,
            Interactive::Never => false,
            Interactive::Auto => self.ui.can_prompt(),
        }
    }

    /// `get` (and `refresh` when `force`): cached token if fresh, else renew.
    fn get(&mut self, req: &Request, force: bool) -> Result<Answer> {
        let Some(user) = self.resolve_user(req)? else {
            let reason = format!(
                "no account is stored for client id {} ({})",
                req.client_id().unwrap_or_default(),
                req.account("").realm()
            );
            if self.may_sign_in(req) {
                return self.login(req);
            }
            return Err(Error::new(Code::LoginRequired, reason)
                .hint(format!("run: {}", req.login_command(""))));
        };
        let account = req.account(&user);
        // Readers of a fresh token take no lock and never wait behind a refresh.
        match self.store.load(&account)? {
            Some(rec) if !force && self.is_fresh(&rec, req) => {
                return Ok(self.answer(&rec, Source::Cache));
            }
            // Nothing to refresh and no sign-in allowed: fail without creating a file.
            None if !self.may_sign_in(req) => {
                return Err(login_required(req, &account, "no refresh token is stored"));
            }
            _ => {}
        }
        let lock = self.store.lock(&account, self.lock_timeout)?;
        let rec = self.store.load(&account)?;
        if !force
            && let Some(rec) = &rec
            && self.is_fresh(rec, req)
        {
            return Ok(self.answer(rec, Source::Cache));
        }
        self.renew(req, &account, &lock, rec, force)
    }

    fn is_fresh(&self, rec: &Record, req: &Request) -> bool {
        let now = self.clock.now();
        rec.access_token.is_some()
            && rec
                .expires_at
                .is_some_and(|t| t >= now.saturating_add(req.min_ttl()) && t > now)
            && req
                .scope()
                .is_none_or(|s| provider::same_access(s, &rec.scope))
    }

    /// Under the lock: refresh with the stored refresh token, or sign in.
    fn renew(
        &mut self,
        req: &Request,
        account: &Account,
        lock: &AccountLock,
        rec: Option<Record>,
        force: bool,
    ) -> Result<Answer> {
        let Some(mut rec) = rec else {
            return self.sign_in_locked(req, account, lock, None, "no refresh token is stored");
        };
        let usable = rec.refresh_token.is_some() && (force || rec.needs_login.is_none());
        if !usable {
            let reason = match &rec.needs_login {
                Some(r) => format!("the provider refused the stored refresh token earlier ({r})"),
                None => "no refresh token is stored".to_string(),
            };
            return self.sign_in_locked(req, account, lock, Some(rec), &reason);
        }
        let scope = req
            .scope()
            .map(str::to_string)
            .unwrap_or_else(|| rec.scope.clone());
        let mut retried = false;
        loop {
            let rt = rec.refresh_token.clone().unwrap_or_default();
            match self.refresh_grant(req, account, &rt, &scope) {
                Ok(tok) => {
                    self.check_user(&tok, &account.user)?;
                    if provider::same_access(&scope, &rec.scope) {
                        return self.persist(
                            lock,
                            account,
                            Some(rec),
                            &scope,
                            &tok,
                            Source::Refresh,
                        );
                    }
                    // A one-off scope: keep the rotated refresh token, but not an
                    // access token that would not serve the account's usual scope.
                    let now = self.clock.now();
                    if let Some(new_rt) = &tok.refresh_token {
                        rec.refresh_token = Some(new_rt.expose().to_string());
                        rec.refresh_token_obtained_at = Some(now);
                    }
                    rec.needs_login = None;
                    rec.updated_at = now;
                    self.store.save(lock, &rec)?;
                    return Ok(Answer {
                        user: account.user.clone(),
                        access_token: tok.access_token.expose().to_string(),
                        token_type: tok.token_type.clone(),
                        expires_at: now.saturating_add(tok.expires_in),
                        expires_in: tok.expires_in,
                        scope: tok.scope.clone().unwrap_or(scope),
                        source: Source::Refresh,
                        refresh_token: rec.refresh_token.clone(),
                        warning: None,
                    });
                }
                Err(e) if e.code.is_transient() => {
                    return self.cached_despite(&rec, e, "");
                }
                Err(e) if e.code == Code::InvalidGrant => {
                    // Another writer may have rotated the token meanwhile: use the newest one.
                    if !retried
                        && let Some(latest) = self.store.load(account)?
                        && latest.refresh_token.is_some()
                        && latest.refresh_token != rec.refresh_token
                    {
                        rec = latest;
                        retried = true;
                        continue;
                    }
                    // Never delete the refresh token: mark the account and keep it.
                    rec.needs_login = Some(e.message.clone());
                    rec.updated_at = self.clock.now();
                    self.store.save(lock, &rec)?;
                    if self.may_sign_in(req) {
                        eprintln!("ooauth2: {}", e.message);
                        return self.sign_in_locked(req, account, lock, Some(rec), &e.message);
                    }
                    let hint = match &e.hint {
                        Some(h) => format!("{h}; run: {}", req.login_command(&account.user)),
                        None => format!("run: {}", req.login_command(&account.user)),
                    };
                    let e = e.hint(hint);
                    let login =
                        format!("; sign in again soon: {}", req.login_command(&account.user));
                    return self.cached_despite(&rec, e, &login);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// After a failed refresh: the cached access token while it is still valid
    /// (with a warning), else the error.
    fn cached_despite(&self, rec: &Record, e: Error, advice: &str) -> Result<Answer> {
        let now = self.clock.now();
        match (&rec.access_token, rec.expires_at) {
            (Some(_), Some(exp)) if exp > now => {
                let mut a = self.answer(rec, Source::Cache);
                a.warning = Some(format!(
                    "could not refresh ({}); serving the cached token, valid for {} s more{advice}",
                    e.message,
                    exp - now
                ));
                Ok(a)
            }
            _ => Err(e),
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

    /// One refresh grant for `account` with `refresh_token`.
    fn refresh_grant(
        &mut self,
        req: &Request,
        account: &Account,
        refresh_token: &str,
        scope: &str,
    ) -> Result<TokenResponse> {
        let req = self.resolved(req)?;
        let (id, secret) = self.client(&req, account)?;
        let client = Client {
            id: &id,
            secret: secret.as_ref(),
        };
        oauth::refresh(
            self.http()?,
            &req.endpoints().token,
            &client,
            &Secret::new(refresh_token),
            scope,
        )
    }

    /// Signs an account whose lock is held in, if allowed.
    fn sign_in_locked(
        &mut self,
        req: &Request,
        account: &Account,
        lock: &AccountLock,
        rec: Option<Record>,
        reason: &str,
    ) -> Result<Answer> {
        if !self.may_sign_in(req) {
            return Err(login_required(req, account, reason));
        }
        let scope = req.provider().signin_scope(
            req.scope()
                .or(rec.as_ref().map(|r| r.scope.as_str()))
                .unwrap_or(req.default_scope()),
        );
        let tok = self.sign_in_flow(req, account, &scope)?;
        self.check_user(&tok, &account.user)?;
        self.persist(lock, account, rec, &scope, &tok, Source::Login)
    }

    /// The interactive sign-in the request asks for: device code, or auth
    /// code on a loopback redirect.
    fn sign_in_flow(
        &mut self,
        req: &Request,
        account: &Account,
        scope: &str,
    ) -> Result<TokenResponse> {
        let resolved = self.resolved(req)?;
        let req = &*resolved;
        // Before anything is asked of the provider (or of client_secret_cmd).
        req.check_flow()?;
        let endpoints = req.endpoints();
        let (id, secret) = self.client(req, account)?;
        let client = Client {
            id: &id,
            secret: secret.as_ref(),
        };
        self.http()?;
        let http = self
            .http
            .as_ref()
            .ok_or_else(|| Error::new(Code::NetworkError, "no HTTP client"))?;
        match req.flow() {
            Flow::Device => flows::device_flow(http, endpoints, &client, scope, &mut *self.ui),
            Flow::AuthCode => {
                let opts = flows::AuthCodeOptions {
                    redirect_port: req.redirect_port(),
                    timeout: Duration::from_secs(req.signin_timeout()),
                    user: Some(account.user.as_str()).filter(|u| !u.is_empty()),
                };
                flows::authcode_flow(http, endpoints, &client, scope, &opts, &mut *self.ui)
            }
        }
    }

    /// `login`: a new sign-in, whatever is stored.
    fn login(&mut self, req: &Request) -> Result<Answer> {
        if !self.may_sign_in(req) {
            let why = if req.interactive() == Interactive::Never {
                "a sign-in was asked for with interactive=never"
            } else {
                "a sign-in is needed but there is no terminal to show its instructions"
            };
            return Err(Error::new(Code::LoginRequired, why).hint(format!(
                "run in a terminal: {}",
                req.login_command(req.user().unwrap_or_default())
            )));
        }
        if let Some(user) = req.user() {
            let account = req.account(user);
            let lock = self.store.lock(&account, self.lock_timeout)?;
            let rec = self.store.load(&account)?;
            let forced = req.with_interactive(Interactive::Always);
            return self.sign_in_locked(&forced, &account, &lock, rec, "a sign-in was asked for");
        }
        let scope = req.provider().signin_scope(req.default_scope());
        let tok = self.sign_in_flow(req, &req.account(""), &scope)?;
        let user = tok.id_user.clone().ok_or_else(|| {
            Error::new(
                Code::BadResponse,
                "the provider did not say which account signed in (no id_token)",
            )
            .hint("pass user= (or --user) so the token can be stored")
        })?;
        let account = req.account(&user);
        let lock = self.store.lock(&account, self.lock_timeout)?;
        let rec = self.store.load(&account)?;
        self.persist(&lock, &account, rec, &scope, &tok, Source::Login)
    }

    /// `store`: import a refresh token, proving it works by refreshing with it.
    fn import(&mut self, req: &Request) -> Result<Answer> {
        let rt = req
            .refresh_token()
            .ok_or_else(|| Error::invalid("action=store needs refresh_token"))?
            .expose()
            .to_string();
        let base = req.default_scope();
        if let Some(user) = req.user() {
            let account = req.account(user);
            // A corrupt record fails before any request; a refused token creates no file.
            self.store.load(&account)?;
            let tok = self.refresh_grant(req, &account, &rt, base)?;
            self.check_user(&tok, user)?;
            // The imported token is the user's own copy, so a get that rotated the
            // stored one meanwhile loses nothing: the record ends with a valid token.
            let lock = self.store.lock(&account, self.lock_timeout)?;
            let rec = self.store.load(&account)?;
            return self.persist_imported(&lock, &account, rec, base, &rt, &tok);
        }
        // Without user= the id_token is the only way to learn whose token this is.
        let scope = req.provider().signin_scope(base);
        let tok = self.refresh_grant(req, &req.account(""), &rt, &scope)?;
        let user = tok.id_user.clone().ok_or_else(|| {
            Error::invalid("the provider did not say whose refresh token this is; pass user=")
        })?;
        let account = req.account(&user);
        let lock = self.store.lock(&account, self.lock_timeout)?;
        let rec = self.store.load(&account)?;
        self.persist_imported(&lock, &account, rec, &scope, &rt, &tok)
    }

    fn persist_imported(
        &self,
        lock: &AccountLock,
        account: &Account,
        rec: Option<Record>,
        scope: &str,
        refresh_token: &str,
        tok: &TokenResponse,
    ) -> Result<Answer> {
        let now = self.clock.now();
        let mut rec = rec.unwrap_or_else(|| Record::new(account, scope, now));
        rec.refresh_token = Some(refresh_token.to_string());
        rec.refresh_token_obtained_at = Some(now);
        self.persist(lock, account, Some(rec), scope, tok, Source::Refresh)
    }

    /// Puts a grant's tokens into the account's record, writes it, and answers.
    fn persist(
        &self,
        lock: &AccountLock,
        account: &Account,
        rec: Option<Record>,
        scope: &str,
        tok: &TokenResponse,
        source: Source,
    ) -> Result<Answer> {
        let mut rec = rec.unwrap_or_else(|| Record::new(account, scope, self.clock.now()));
        rec.scope = scope.to_string();
        self.apply(&mut rec, tok);
        self.store.save(lock, &rec)?;
        Ok(self.answer(&rec, source))
    }

    /// `erase`: forget the account; says whether there was one.
    fn erase(&mut self, req: &Request) -> Result<Outcome> {
        let Some(user) = self.resolve_user(req)? else {
            return Ok(Outcome::Erased {
                user: None,
                existed: false,
            });
        };
        let account = req.account(&user);
        // Nothing to forget: leave the disk alone (a corrupt record is still erased).
        if !self.store.record_path(&account).exists() {
            return Ok(Outcome::Erased {
                user: Some(user),
                existed: false,
            });
        }
        let lock = self.store.lock(&account, self.lock_timeout)?;
        let existed = self.store.remove(&lock)?;
        Ok(Outcome::Erased {
            user: Some(user),
            existed,
        })
    }

    fn check_user(&self, tok: &TokenResponse, wanted: &str) -> Result<()> {
        match &tok.id_user {
            Some(u) if !same_user(u, wanted) => Err(mismatch(wanted, u)),
            _ => Ok(()),
        }
    }

    /// Puts a token answer into the record; a rotated refresh token replaces the old.
    fn apply(&self, rec: &mut Record, tok: &TokenResponse) {
        let now = self.clock.now();
        rec.access_token = Some(tok.access_token.expose().to_string());
        rec.token_type = Some(tok.token_type.clone());
        rec.expires_at = Some(now.saturating_add(tok.expires_in));
        rec.granted_scope = tok.scope.clone();
        if let Some(rt) = &tok.refresh_token {
            rec.refresh_token = Some(rt.expose().to_string());
            rec.refresh_token_obtained_at = Some(now);
        }
        rec.needs_login = None;
        rec.updated_at = now;
    }

    fn answer(&self, rec: &Record, source: Source) -> Answer {
        let now = self.clock.now();
        let expires_at = rec.expires_at.unwrap_or(now);
        Answer {
            user: rec.user.clone(),
            access_token: rec.access_token.clone().unwrap_or_default(),
            token_type: rec.token_type.clone().unwrap_or_else(|| "Bearer".into()),
            expires_at,
            expires_in: expires_at.saturating_sub(now),
            scope: rec
                .granted_scope
                .clone()
                .unwrap_or_else(|| rec.scope.clone()),
            source,
            refresh_token: rec.refresh_token.clone(),
            warning: None,
        }
    }
}

fn boxed(a: Answer) -> Outcome {
    Outcome::Token(Box::new(a))
}

fn same_user(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

fn login_required(req: &Request, account: &Account, reason: &str) -> Error {
    Error::new(
        Code::LoginRequired,
        format!("{reason} for {} ({})", account.user, account.realm()),
    )
    .hint(format!("run: {}", req.login_command(&account.user)))
}

fn mismatch(wanted: &str, got: &str) -> Error {
    Error::new(
        Code::UserMismatch,
        format!("signed in as {got}, but the request is for {wanted}; nothing was stored"),
    )
    .hint(format!(
        "sign in as {wanted} (use a private browser window), or ask for user={got}"
    ))
}

/// What `doctor`'s refresh of a stored account showed.
pub enum RefreshCheck {
    /// The provider gave a new access token; it was stored, with the
    /// rotated refresh token when there was one (`rotated`).
    Refreshed { rotated: bool },
    /// Nothing to refresh with: no record, or no refresh token in it.
    NoRefreshToken,
    /// The provider (or the client secret command) refused; on
    /// `invalid_grant` the account is marked as a normal refresh marks it,
    /// its refresh token kept.
    Refused(Error),
}

impl Engine<'_> {
    /// `doctor`: one refresh grant with `user`'s stored refresh token under
    /// the account's lock, persisted exactly as `action=refresh` persists
    /// it (a rotated refresh token is saved before anything else happens),
    /// but with the provider's refusal returned as it came rather than
    /// softened by a cached access token. Never signs in.
    pub fn check_refresh(&mut self, req: &Request, user: &str) -> Result<RefreshCheck> {
        let account = req.account(user);
        let lock = self.store.lock(&account, self.lock_timeout)?;
        let Some(mut rec) = self.store.load(&account)? else {
            return Ok(RefreshCheck::NoRefreshToken);
        };
        let Some(rt) = rec.refresh_token.clone() else {
            return Ok(RefreshCheck::NoRefreshToken);
        };
        // The stored scope: the one every refresh of this account sends.
        let scope = rec.scope.clone();
        match self.refresh_grant(req, &account, &rt, &scope) {
            Ok(tok) => {
                if let Err(e) = self.check_user(&tok, &account.user) {
                    return Ok(RefreshCheck::Refused(e));
                }
                let rotated = tok.refresh_token.as_ref().is_some_and(|n| n.expose() != rt);
                self.persist(&lock, &account, Some(rec), &scope, &tok, Source::Refresh)?;
                Ok(RefreshCheck::Refreshed { rotated })
            }
            Err(e) if e.code == Code::InvalidGrant => {
                rec.needs_login = Some(e.message.clone());
                rec.updated_at = self.clock.now();
                self.store.save(&lock, &rec)?;
                Ok(RefreshCheck::Refused(e))
            }
            Err(e) => Ok(RefreshCheck::Refused(e)),
        }
    }

    /// `doctor`, for an account without a refresh token: one device
    /// authorization and one poll with the scope a sign-in would ask for
    /// (see `oauth::check_device_flow`).
    pub fn check_device(&mut self, req: &Request) -> Result<()> {
        let resolved = self.resolved(req)?;
        let req = &*resolved;
        let account = req.account(req.user().unwrap_or_default());
        let (id, secret) = self.client(req, &account)?;
        let client = Client {
            id: &id,
            secret: secret.as_ref(),
        };
        let scope = req.provider().signin_scope(req.default_scope());
        oauth::check_device_flow(self.http()?, req.endpoints(), &client, &scope)
    }

    /// The HTTP client of this engine (built on first use), for `doctor`'s
    /// requests that are not grants.
    pub fn http_client(&mut self) -> Result<&Http> {
        self.http()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::DeviceAuth;
    use crate::request::Raw;
    use std::cell::Cell;
    use std::path::PathBuf;

    struct FakeClock(Cell<u64>);

    impl Clock for FakeClock {
        fn now(&self) -> u64 {
            self.0.get()
        }
    }

    /// A UI that must never be used: these tests run no sign-in.
    struct NoUi;

    impl SignInUi for NoUi {
        fn can_prompt(&self) -> bool {
            false
        }
        fn show(&mut self, _: &DeviceAuth) {
            panic!("no sign-in expected");
        }
        fn wait(&mut self, _: Duration) {}
        fn show_authorize(&mut self, _: &str, _: &str, _: Duration) {
            panic!("no sign-in expected");
        }
    }

    fn closed_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    fn setup(name: &str) -> (PathBuf, Request) {
        let dir =
            std::env::temp_dir().join(format!("ooauth2-engine-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let raw = Raw {
            client_id: Some("cid".into()),
            user: Some("me@example.com".into()),
            interactive: Some("never".into()),
            authority: Some(format!("http://127.0.0.1:{}", closed_port())),
            ..Raw::default()
        };
        let req = Request::validate(raw).unwrap();
        let store = Store::at(dir.clone());
        let account = req.account("me@example.com");
        let lock = store.lock(&account, Duration::from_secs(1)).unwrap();
        let mut rec = Record::new(&account, provider::DEFAULT_SCOPE, 1000);
        rec.refresh_token = Some("rt".into());
        rec.access_token = Some("at".into());
        rec.expires_at = Some(1000 + 3600);
        store.save(&lock, &rec).unwrap();
        (dir, req)
    }

    fn run(dir: &std::path::Path, req: &Request, now: u64) -> Result<Answer> {
        let clock = FakeClock(Cell::new(now));
        let mut ui = NoUi;
        let options = Options {
            http: HttpConfig {
                connect_timeout: Duration::from_secs(1),
                timeout: Duration::from_secs(1),
                retries: 0,
                verbose: 0,
            },
            lock_timeout: Duration::from_secs(1),
            secret_cmd_timeout: Duration::from_secs(1),
        };
        let mut engine = Engine::new(Store::at(dir.to_path_buf()), &clock, options, &mut ui);
        match engine.handle(req)? {
            Outcome::Token(a) => Ok(*a),
            Outcome::Erased { .. } => panic!("erase outcome"),
        }
    }

    #[test]
    fn fresh_token_comes_from_cache_without_network() {
        let (dir, req) = setup("fresh");
        let a = run(&dir, &req, 1000).unwrap();
        assert_eq!(a.source, Source::Cache);
        assert_eq!(a.access_token, "at");
        assert_eq!(a.expires_in, 3600);
        assert!(a.warning.is_none());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn nearly_expired_token_is_served_with_a_warning_when_the_provider_is_down() {
        let (dir, req) = setup("nearly");
        let a = run(&dir, &req, 1000 + 3500).unwrap();
        assert_eq!(a.source, Source::Cache);
        assert_eq!(a.expires_in, 100);
        assert!(a.warning.unwrap().contains("serving the cached token"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn expired_token_with_the_provider_down_is_a_network_error() {
        let (dir, req) = setup("expired");
        let e = run(&dir, &req, 1000 + 3600).err().unwrap();
        assert_eq!(e.code, Code::NetworkError);
        assert_eq!(e.exit_status(), 75);
        let _ = std::fs::remove_dir_all(dir);
    }
}
