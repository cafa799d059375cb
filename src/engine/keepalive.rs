//! `keepalive`: one refresh grant for an account whose refresh token was
//! not used for a while, so that an inactivity rule (Microsoft's 90 days)
//! never ends it. The refresh is `get`'s own (`refresh_locked`: the
//! rotated token persisted first, a rotation by another writer retried),
//! under the account's lock and after a second look, so a `get` running
//! beside it never causes a second request. Never signs in.

use super::{Engine, login_required};
use crate::error::{Error, Result};
use crate::health;
use crate::request::Request;

/// What `keepalive` did for one account.
#[derive(Debug)]
pub enum KeepAlive {
    /// Used within the idle threshold (perhaps by a `get` meanwhile):
    /// nothing was sent; the last use, when known.
    Fresh(Option<u64>),
    /// One refresh grant succeeded and was stored; `rotated` when the
    /// provider sent a new refresh token.
    Refreshed {
        /// Whether a new refresh token replaced the old.
        rotated: bool,
    },
    /// Only a new sign-in helps; the error says why, its hint the command.
    NeedsSignIn(Error),
    /// The refresh failed otherwise (network, provider, store): try again later.
    Failed(Error),
}

impl Engine<'_> {
    /// Keeps `user`'s refresh token alive: refreshed when it was last used
    /// `idle` seconds ago or longer (or when that is not known), else left
    /// alone. `req` is the account's request (its config entry's, so a
    /// `client_secret_cmd` or `secret_store` applies) and must not allow a
    /// sign-in. Errors only for a record that cannot be read.
    pub fn keep_alive(&mut self, req: &Request, user: &str, idle: u64) -> Result<KeepAlive> {
        self.use_secret_store(req);
        let account = req.account(user);
        let idle_now = |rec: &crate::store::Record, now: u64| {
            health::last_activity(rec).is_none_or(|t| now.saturating_sub(t) >= idle)
        };
        match self.store.load(&account)? {
            None => {
                let e = login_required(req, &account, "no refresh token is stored");
                return Ok(KeepAlive::NeedsSignIn(e));
            }
            Some(rec) if !idle_now(&rec, self.clock.now()) => {
                return Ok(KeepAlive::Fresh(health::last_activity(&rec)));
            }
            Some(_) => {}
        }
        let lock = match self.store.lock(&account, self.lock_timeout) {
            Ok(lock) => lock,
            Err(e) => return Ok(KeepAlive::Failed(e)),
        };
        // A get may have refreshed while this one waited for the lock.
        let Some(rec) = self.store.load(&account)? else {
            let e = login_required(req, &account, "no refresh token is stored");
            return Ok(KeepAlive::NeedsSignIn(e));
        };
        if !idle_now(&rec, self.clock.now()) {
            return Ok(KeepAlive::Fresh(health::last_activity(&rec)));
        }
        if let Some(reason) = &rec.needs_login {
            let why = format!("the provider refused the stored refresh token earlier ({reason})");
            return Ok(KeepAlive::NeedsSignIn(login_required(req, &account, &why)));
        }
        let before = rec.clone();
        let scope = rec.scope.clone();
        self.strict = true;
        let done = self.refresh_locked(req, &account, &lock, rec, &scope);
        self.strict = false;
        let e = match done {
            Ok(_) => {
                let after = self.store.load(&account)?;
                let rotated = after.is_some_and(|a| !a.same_refresh_token_at_rest(&before));
                return Ok(KeepAlive::Refreshed { rotated });
            }
            Err(e) => e,
        };
        Ok(match e.exit_status() {
            1 => KeepAlive::NeedsSignIn(e),
            _ => KeepAlive::Failed(e),
        })
    }
}
