//! A grant's tokens into the account's record (a rotated refresh token
//! replaces the old, written atomically before anything is answered), the
//! answer read back from a record, and the actions that write records
//! without a refresh of their own: `store` (import) and `erase`.

use super::{Answer, Engine, Outcome, Source};
use crate::account::Account;
use crate::error::{Code, Error, Result};
use crate::oauth::TokenResponse;
use crate::request::Request;
use crate::secret::Secret;
use crate::store::{AccountLock, Record};

impl Engine<'_> {
    /// `store`: import a refresh token, proving it works by refreshing with it.
    pub(super) fn import(&mut self, req: &Request) -> Result<Answer> {
        let rt = req
            .refresh_token()
            .ok_or_else(|| Error::invalid("action=store needs refresh_token"))?
            .clone();
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
            return self.persist_imported(&lock, &account, rec, base, rt, &tok);
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
        self.persist_imported(&lock, &account, rec, &scope, rt, &tok)
    }

    /// The imported refresh token into the record, then the grant's answer.
    fn persist_imported(
        &self,
        lock: &AccountLock,
        account: &Account,
        rec: Option<Record>,
        scope: &str,
        refresh_token: Secret,
        tok: &TokenResponse,
    ) -> Result<Answer> {
        let now = self.clock.now();
        let mut rec = rec.unwrap_or_else(|| Record::new(account, scope, now));
        rec.refresh_token = Some(refresh_token);
        rec.refresh_token_obtained_at = Some(now);
        self.persist(lock, account, Some(rec), scope, tok, Source::Refresh)
    }

    /// Puts a grant's tokens into the account's record, writes it, and answers.
    pub(super) fn persist(
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
    pub(super) fn erase(&mut self, req: &Request) -> Result<Outcome> {
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

    /// Refuses a grant for another account than the one asked for.
    pub(super) fn check_user(&self, tok: &TokenResponse, wanted: &str) -> Result<()> {
        match &tok.id_user {
            Some(u) if u.to_lowercase() != wanted.to_lowercase() => Err(mismatch(wanted, u)),
            _ => Ok(()),
        }
    }

    /// Puts a token answer into the record; a rotated refresh token replaces the old.
    fn apply(&self, rec: &mut Record, tok: &TokenResponse) {
        let now = self.clock.now();
        rec.access_token = Some(tok.access_token.clone());
        rec.token_type = Some(tok.token_type.clone());
        rec.expires_at = Some(now.saturating_add(tok.expires_in));
        rec.granted_scope = tok.scope.clone();
        if let Some(rt) = &tok.refresh_token {
            rec.refresh_token = Some(rt.clone());
            rec.refresh_token_obtained_at = Some(now);
        }
        rec.needs_login = None;
        rec.updated_at = now;
    }

    /// The answer a record gives.
    pub(super) fn answer(&self, rec: &Record, source: Source) -> Answer {
        let now = self.clock.now();
        let expires_at = rec.expires_at.unwrap_or(now);
        Answer {
            user: rec.user.clone(),
            access_token: rec.access_token.clone().unwrap_or_else(|| Secret::new("")),
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

/// Signed in as `got` where `wanted` was asked for.
fn mismatch(wanted: &str, got: &str) -> Error {
    Error::new(
        Code::UserMismatch,
        format!("signed in as {got}, but the request is for {wanted}; nothing was stored"),
    )
    .hint(format!(
        "sign in as {wanted} (use a private browser window), or ask for user={got}"
    ))
}
