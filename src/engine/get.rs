//! `get` and `refresh`: the cached token while it is fresh (no lock, no
//! network), else, under the account's lock and after a second look, one
//! refresh grant whose answer (a rotated refresh token above all) is
//! persisted before anything is answered.

use super::sealed::store_unavailable;
use super::{Answer, Engine, Source, login_required};
use crate::account::Account;
use crate::error::{Code, Error, Result};
use crate::health;
use crate::oauth::{self, Client, Granted};
use crate::provider;
use crate::request::Request;
use crate::secret::Secret;
use crate::store::{AccountLock, PreparedWrite, Record};
use std::time::Duration;

/// How long a cached answer waits for the lock to mark its once-a-day
/// warning; a lock held longer means a refresh, and the next get warns.
const WARNING_LOCK_WAIT: Duration = Duration::from_millis(200);

impl Engine<'_> {
    /// `get` (and `refresh` when `force`): cached token if fresh, else renew.
    pub(super) fn get(&mut self, req: &Request, force: bool) -> Result<Answer> {
        let Some(user) = self.resolve_user(req)? else {
            let reason = format!(
                "no account is stored for client id {} ({})",
                req.client_id().unwrap_or_default(),
                req.account("").realm()
            );
            if self.may_sign_in(req) {
                self.note_near_misses(req, &req.account(""));
                return self.login(req);
            }
            let e = Error::new(Code::LoginRequired, reason)
                .hint(format!("run: {}", req.login_command("")));
            return Err(self.with_near_misses(req, &req.account(""), e, "use", true));
        };
        let account = req.account(&user);
        // Readers of a fresh token take no lock and never wait behind a refresh.
        match self.store.load(&account)? {
            Some(rec) if !force && self.is_fresh(&rec, req) => {
                let answer = self.cached_answer(rec.clone())?;
                return Ok(self.with_health_warning(req, &account, &rec, None, answer));
            }
            // Nothing to refresh and no sign-in allowed: fail without creating a file.
            None if !self.may_sign_in(req) => {
                let e = login_required(req, &account, "no refresh token is stored");
                return Err(self.with_near_misses(req, &account, e, "use", true));
            }
            None => self.note_near_misses(req, &account),
            _ => {}
        }
        let lock = self.store.lock(&account, self.lock_timeout)?;
        let rec = self.store.load(&account)?;
        if !force && let Some(rec) = rec.as_ref().filter(|r| self.is_fresh(r, req)) {
            let answer = self.cached_answer(rec.clone())?;
            return Ok(self.with_health_warning(req, &account, rec, Some(&lock), answer));
        }
        let answer = self.renew(req, &account, &lock, rec, force)?;
        // A refresh costs a request already: one more read is nothing beside it.
        Ok(match self.store.load(&account) {
            Ok(Some(rec)) => self.with_health_warning(req, &account, &rec, Some(&lock), answer),
            _ => answer,
        })
    }

    /// `answer` with the warning that the account's refresh token dies
    /// within a day, at most once a day: the mark (`health_warned_at`) is
    /// written under the account's lock, re-read there, and only then is
    /// the warning given. The cached path reads nothing more on the other
    /// days; a lock held elsewhere (a refresh) puts the warning off to the
    /// next request.
    fn with_health_warning(
        &self,
        req: &Request,
        account: &Account,
        rec: &Record,
        lock: Option<&AccountLock>,
        mut answer: Answer,
    ) -> Answer {
        let now = self.clock.now();
        let login = || req.login_command(&account.user);
        if health::due_warning(rec, now, login).is_none() {
            return answer;
        }
        let taken;
        let lock = match lock {
            Some(lock) => lock,
            None => match self.store.lock(account, WARNING_LOCK_WAIT) {
                Ok(l) => {
                    taken = l;
                    &taken
                }
                Err(_) => return answer,
            },
        };
        let Ok(Some(mut latest)) = self.store.load(account) else {
            return answer;
        };
        let Some(warning) = health::due_warning(&latest, now, login) else {
            return answer;
        };
        latest.health_warned_at = Some(now);
        // Written as it rests (a sealed token stays sealed, no command runs).
        if self
            .store
            .prepare(lock)
            .and_then(|w| w.commit(&latest))
            .is_err()
        {
            return answer;
        }
        answer.warning = Some(match answer.warning.take() {
            Some(w) => format!("{w}; {warning}"),
            None => warning,
        });
        answer
    }

    /// Whether the record's access token serves `req`: long enough left,
    /// and the scope asked for (or more, for a request that keeps the
    /// stored scope). A record written "in the future" means the
    /// clock stepped back since: its lifetime cannot be trusted, so it is
    /// stale (the provider may call the token expired already).
    pub(super) fn is_fresh(&self, rec: &Record, req: &Request) -> bool {
        let now = self.clock.now();
        let scope_serves = |s: &str| match req.keeps_stored_scope() {
            true => provider::covers(&rec.scope, s),
            false => provider::same_access(s, &rec.scope),
        };
        rec.updated_at <= now
            && rec.has_access_token()
            && rec
                .expires_at
                .is_some_and(|t| t >= now.saturating_add(req.min_ttl()) && t > now)
            && req.scope().is_none_or(scope_serves)
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
        let Some(rec) = rec else {
            return self.sign_in_locked(req, account, lock, None, "no refresh token is stored");
        };
        if !rec.has_refresh_token() || (!force && rec.needs_login.is_some()) {
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
        self.refresh_locked(req, account, lock, rec, &scope)
    }

    /// The refresh grant with the record's refresh token, once more with a
    /// newer one should another writer have rotated it meanwhile.
    pub(super) fn refresh_locked(
        &mut self,
        req: &Request,
        account: &Account,
        lock: &AccountLock,
        mut rec: Record,
        scope: &str,
    ) -> Result<Answer> {
        let mut retried = false;
        loop {
            let rt = match self.open_refresh_token(&mut rec) {
                Ok(Some(rt)) => rt,
                Ok(None) => return Err(login_required(req, account, "no refresh token is stored")),
                Err(e) if store_unavailable(&e) => return self.cached_despite(&rec, e, ""),
                Err(e) => return Err(e),
            };
            // Before the grant: a store that cannot take its answer fails now,
            // while the refresh token is still unspent.
            if let Err(e) = self.probe_sealing() {
                return self.cached_despite(&rec, e, "");
            }
            let write = self.store.prepare(lock)?;
            let e = match self.refresh_grant(req, account, &rt, scope) {
                Ok(granted) => return self.refreshed(write, account, rec, scope, granted),
                Err(e) => e,
            };
            if e.code.is_transient() {
                return self.cached_despite(&rec, e, "");
            }
            if e.code != Code::InvalidGrant {
                return Err(e);
            }
            match self.store.load(account)? {
                Some(latest)
                    if !retried
                        && latest.has_refresh_token()
                        && !latest.same_refresh_token_at_rest(&rec) =>
                {
                    rec = latest;
                    retried = true;
                }
                _ => return self.refused(req, account, lock, write, rec, e),
            }
        }
    }

    /// A refresh the provider answered: persisted, then answered. A
    /// rotated refresh token is stored even when the rest of the answer is
    /// refused, before the refusal is acted on: the old one may be spent.
    fn refreshed(
        &self,
        write: PreparedWrite<'_>,
        account: &Account,
        mut rec: Record,
        scope: &str,
        granted: Granted,
    ) -> Result<Answer> {
        let Granted {
            refresh_token,
            tokens,
            held: _held,
        } = self.checked(granted, &account.user);
        let tok = match tokens {
            Ok(tok) => tok,
            Err(e) => {
                self.keep_rotated(write, &mut rec, refresh_token)?;
                return self.cached_despite(&rec, e, "");
            }
        };
        let tok = &tok;
        if provider::same_access(scope, &rec.scope) {
            return self.persist(write, account, Some(rec), scope, tok, Source::Refresh);
        }
        // A one-off scope: keep the rotated refresh token, but not an
        // access token that would not serve the account's usual scope.
        let now = self.clock.now();
        self.note_use(&mut rec, tok, now);
        rec.needs_login = None;
        rec.updated_at = now;
        self.commit(write, &rec)?;
        Ok(Answer {
            user: account.user.clone(),
            access_token: tok.access_token.clone(),
            token_type: tok.token_type.clone(),
            expires_at: now.saturating_add(tok.expires_in),
            expires_in: tok.expires_in,
            scope: tok.scope.clone().unwrap_or_else(|| scope.to_string()),
            source: Source::Refresh,
            refresh_token: rec.refresh_token.clone(),
            warning: None,
        })
    }

    /// The provider refused the refresh token: the account is marked (its
    /// refresh token kept, never deleted), then signed in if allowed, else
    /// served its still-valid access token with a warning, else failed. A
    /// refusal of a one-off scope says nothing of the account's own (a
    /// missing consent is refused as `invalid_grant`): it marks nothing.
    fn refused(
        &mut self,
        req: &Request,
        account: &Account,
        lock: &AccountLock,
        write: PreparedWrite<'_>,
        mut rec: Record,
        e: Error,
    ) -> Result<Answer> {
        if let Some(asked) = req.scope()
            && !provider::same_access(asked, &rec.scope)
        {
            return Err(e);
        }
        rec.needs_login = Some(e.message.clone());
        rec.updated_at = self.clock.now();
        self.commit(write, &rec)?;
        if self.may_sign_in(req) {
            eprintln!("ooauth2: {}", e.message);
            return self.sign_in_locked(req, account, lock, Some(rec), &e.message);
        }
        let login = req.login_command(&account.user);
        let hint = match &e.hint {
            Some(h) => format!("{h}; run: {login}"),
            None => format!("run: {login}"),
        };
        let e = e.hint(hint);
        self.cached_despite(&rec, e, &format!("; sign in again soon: {login}"))
    }

    /// After a failed refresh: the cached access token while it is still valid
    /// (with a warning), else the error; always the error when `strict`
    /// (keepalive must learn the truth).
    fn cached_despite(&self, rec: &Record, e: Error, advice: &str) -> Result<Answer> {
        if self.strict {
            return Err(e);
        }
        let now = self.clock.now();
        match (rec.has_access_token(), rec.expires_at) {
            (true, Some(exp)) if exp > now => {
                // A sealed one that cannot be opened serves nothing.
                let Ok(mut a) = self.cached_answer(rec.clone()) else {
                    return Err(e);
                };
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

    /// One refresh grant for `account` with `refresh_token`.
    pub(super) fn refresh_grant(
        &mut self,
        req: &Request,
        account: &Account,
        refresh_token: &Secret,
        scope: &str,
    ) -> Result<Granted> {
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
            refresh_token,
            scope,
        )
    }
}
