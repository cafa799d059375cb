//! Interactive sign-in: `login`, and the sign-in a `get` falls back to when
//! there is no usable refresh token and one is allowed. The account's lock
//! is held while the person signs in, so a second caller waits for it.

use super::{Answer, Engine, Source, login_required};
use crate::account::Account;
use crate::error::{Code, Error, Result};
use crate::flows;
use crate::oauth::{Client, TokenResponse};
use crate::protocol::keys::RequestKey;
use crate::provider::Flow;
use crate::request::{Interactive, Request};
use crate::store::{AccountLock, Record};
use std::time::Duration;

impl Engine<'_> {
    /// Signs an account whose lock is held in, if allowed.
    pub(super) fn sign_in_locked(
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
        let asked = req
            .scope()
            .or(rec.as_ref().map(|r| r.scope.as_str()))
            .unwrap_or(req.default_scope());
        let scope = req
            .provider()
            .signin_scope(&self.kept_scope(req, asked, rec.as_ref()));
        // Before the person signs in: a store that cannot take the answer fails now.
        self.probe_sealing()?;
        let write = self.store.prepare(lock)?;
        let tok = self.sign_in_flow(req, account, &scope)?;
        self.check_user(&tok, &account.user)?;
        self.persist(write, account, rec, &scope, &tok, Source::Login)
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
    pub(super) fn login(&mut self, req: &Request) -> Result<Answer> {
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
            say_replaced(rec.as_ref());
            let forced = req.with_interactive(Interactive::Always);
            return self.sign_in_locked(&forced, &account, &lock, rec, "a sign-in was asked for");
        }
        let scope = req.provider().signin_scope(req.default_scope());
        // The account is known only once the person signed in: check first
        // that it can be stored.
        self.store.probe_write()?;
        self.probe_sealing()?;
        let tok = self.sign_in_flow(req, &req.account(""), &scope)?;
        let user = tok.id_user.clone().ok_or_else(|| {
            Error::new(
                Code::BadResponse,
                "the provider did not say which account signed in (no id_token)",
            )
            .hint(format!(
                "pass {} so the token can be stored",
                req.spelling().give(RequestKey::User)
            ))
        })?;
        let account = req.account(&user);
        let lock = self.store.lock(&account, self.lock_timeout)?;
        let rec = self.store.load(&account)?;
        say_replaced(rec.as_ref());
        // The sign-in is over: only the record keeps the wider scope.
        let scope = self.kept_scope(req, &scope, rec.as_ref());
        let write = self.store.prepare(&lock)?;
        self.persist(write, &account, rec, &scope, &tok, Source::Login)
    }
}

/// Says on stderr, before a sign-in's tokens replace them, that the
/// account had usable ones: a `login` of a signed-in account is no error,
/// but it should not pass without a word.
fn say_replaced(rec: Option<&Record>) {
    if let Some(rec) = rec.filter(|r| r.has_refresh_token() && r.needs_login.is_none()) {
        eprintln!(
            "ooauth2: note: {} ({}) is signed in already; this sign-in replaces its stored tokens",
            rec.user,
            rec.account().realm()
        );
    }
}
