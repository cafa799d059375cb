//! What `doctor` asks of the engine: one refresh with the stored refresh
//! token (persisted exactly as `action=refresh` persists it), one device
//! authorization and poll, and the HTTP client for its other checks.

use super::{Engine, Source};
use crate::error::{Code, Error, Result};
use crate::oauth::{self, Client, Granted, Http};
use crate::request::Request;

/// What `doctor`'s refresh of a stored account showed.
pub enum RefreshCheck {
    /// The provider gave a new access token; it was stored, with the
    /// rotated refresh token when there was one (`rotated`).
    Refreshed {
        /// Whether the provider sent a new refresh token.
        rotated: bool,
    },
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
        self.use_secret_store(req);
        let lock = self.store.lock(&account, self.lock_timeout)?;
        let Some(mut rec) = self.store.load(&account)? else {
            return Ok(RefreshCheck::NoRefreshToken);
        };
        let Some(rt) = self.open_refresh_token(&mut rec)? else {
            return Ok(RefreshCheck::NoRefreshToken);
        };
        // The stored scope: the one every refresh of this account sends.
        let scope = rec.scope.clone();
        self.probe_sealing()?;
        let write = self.store.prepare(&lock)?;
        match self.refresh_grant(req, &account, &rt, &scope) {
            Ok(granted) => {
                let Granted {
                    refresh_token,
                    tokens,
                    held: _held,
                } = self.checked(granted, &account.user);
                let tok = match tokens {
                    Ok(tok) => tok,
                    Err(e) => {
                        self.keep_rotated(write, &mut rec, refresh_token)?;
                        return Ok(RefreshCheck::Refused(e));
                    }
                };
                let rotated = tok.refresh_token.as_ref().is_some_and(|n| *n != rt);
                self.persist(write, &account, Some(rec), &scope, &tok, Source::Refresh)?;
                Ok(RefreshCheck::Refreshed { rotated })
            }
            Err(e) if e.code == Code::InvalidGrant => {
                rec.needs_login = Some(e.message.clone());
                rec.updated_at = self.clock.now();
                self.commit(write, &rec)?;
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
