//! A grant's tokens into the account's record (a rotated refresh token
//! replaces the old, written atomically before anything is answered), the
//! answer read back from a record, and the actions that write records
//! without a refresh of their own: `store` (import) and `erase`.

use super::{Answer, Engine, Outcome, Source};
use crate::account::Account;
use crate::error::{Code, Error, Result};
use crate::oauth::{Granted, TokenResponse};
use crate::protocol::keys::RequestKey;
use crate::provider;
use crate::request::Request;
use crate::secret::Secret;
use crate::store::{PreparedWrite, Record};

impl Engine<'_> {
    /// `store`: import a refresh token, proving it works by refreshing with
    /// it. Imports of one token wait for each other on its import lock,
    /// then the refresh runs under the account's lock: concurrent imports
    /// of one token, like 8 mail syncs running `ooauth2.py
    /// --generate_access_token` at once, send one grant, and the others
    /// reuse its answer.
    pub(super) fn import(&mut self, req: &Request) -> Result<Answer> {
        let rt = req
            .refresh_token()
            .ok_or_else(|| Error::invalid("action=store needs refresh_token"))?
            .clone();
        // A corrupt record fails before any request.
        let before = match req.user() {
            Some(user) => self.store.load(&req.account(user))?,
            None => None,
        };
        let mut import = self
            .store
            .lock_import(&req.account(""), &rt, self.lock_timeout)?;
        let receipt = import.receipt(self.clock.now());
        // A receipt for another account than the one asked for serves nothing.
        let receipt = receipt.filter(|u| req.user().is_none_or(|r| r.eq_ignore_ascii_case(u)));
        let scope = self.import_scope(req);
        let done = match (receipt, req.user(), before) {
            (Some(user), _, _) => {
                return self.import_as(req, &req.account(&user), rt, &scope, None);
            }
            // A stored account may be refreshed by a get at this moment.
            (None, Some(user), Some(before)) => {
                self.import_as(req, &req.account(user), rt, &scope, Some(before))
            }
            (None, _, _) => self.import_new(req, rt),
        };
        match done {
            Ok(answer) => {
                import.record(&answer.user, self.clock.now());
                Ok(answer)
            }
            Err(e) => {
                import.discard();
                Err(e)
            }
        }
    }

    /// The scope an import asks for: the identity scopes too, so that the
    /// id_token says whose token it is. With `user`, only from Microsoft,
    /// which grants them on any refresh (ooauth2.py's tokens have none;
    /// Google refuses a scope the token was not granted): a mistyped `user`
    /// would otherwise store another account's token as ready.
    fn import_scope(&self, req: &Request) -> String {
        match req.user() {
            Some(_) if !req.provider().is_microsoft() => req.default_scope().to_string(),
            _ => req.provider().signin_scope(req.default_scope()),
        }
    }

    /// The import of a token no stored account has answered for yet: one
    /// refresh, then the record of the account it names.
    fn import_new(&mut self, req: &Request, rt: Secret) -> Result<Answer> {
        let scope = self.import_scope(req);
        // The account is known only from the answer: check first that it
        // can be stored.
        self.store.probe_write()?;
        self.probe_sealing()?;
        let granted = self.refresh_grant(
            req,
            &req.account(req.user().unwrap_or_default()),
            &rt,
            &scope,
        )?;
        let named = granted.tokens.as_ref().ok().and_then(|t| t.id_user.clone());
        let user = match (req.user(), named, &granted.tokens) {
            (Some(user), _, _) => user.to_string(),
            (None, Some(user), _) => user,
            (None, None, Err(e)) => return Err(e.clone()),
            (None, None, Ok(_)) => {
                return Err(Error::invalid(format!(
                    "the provider did not say whose refresh token this is; pass {}",
                    req.spelling().give(RequestKey::User)
                )));
            }
        };
        let account = req.account(&user);
        let lock = self.store.lock(&account, self.lock_timeout)?;
        let rec = self.store.load(&account)?;
        // The grant is spent already: only the record keeps the wider scope.
        let scope = self.kept_scope(req, &scope, rec.as_ref());
        let write = self.store.prepare(&lock)?;
        self.imported(req, write, &account, rec, (&scope, rt), granted)
    }

    /// The import for a known account, under its lock: an answer another
    /// process stored while this one waited (the record is no longer
    /// `before`, as read before the lock) serves; else one refresh.
    fn import_as(
        &mut self,
        req: &Request,
        account: &Account,
        rt: Secret,
        scope: &str,
        before: Option<Record>,
    ) -> Result<Answer> {
        let lock = self.store.lock(account, self.lock_timeout)?;
        let rec = self.store.load(account)?;
        if let Some(rec) = &rec
            && before.as_ref() != Some(rec)
            && rec.needs_login.is_none()
            && self.is_fresh(rec, req)
        {
            return self.cached_answer(rec.clone());
        }
        let scope = &self.kept_scope(req, scope, rec.as_ref());
        self.probe_sealing()?;
        let write = self.store.prepare(&lock)?;
        let granted = self.refresh_grant(req, account, &rt, scope)?;
        self.imported(req, write, account, rec, (scope, rt), granted)
    }

    /// An import's answer into the record. The imported token is the user's
    /// own copy, so a get that rotated the stored one meanwhile loses
    /// nothing: the record ends with a valid token. A rotated one is kept
    /// even when the rest of the answer is refused, unless it is another
    /// account's (`user_mismatch`: nothing of it is stored here).
    fn imported(
        &self,
        req: &Request,
        write: PreparedWrite<'_>,
        account: &Account,
        rec: Option<Record>,
        (scope, rt): (&str, Secret),
        granted: Granted,
    ) -> Result<Answer> {
        let named = granted.tokens.as_ref().ok().and_then(|t| t.id_user.clone());
        let Granted {
            refresh_token,
            tokens,
            held: _held,
        } = self.checked(granted, &account.user);
        match tokens {
            Ok(tok) => self.persist_imported(write, account, rec, scope, rt, &tok),
            Err(e) if e.code == Code::UserMismatch => {
                Err(import_mismatch(req, &account.user, named.as_deref()).unwrap_or(e))
            }
            Err(e) if refresh_token.is_none() => Err(e),
            Err(e) => {
                let now = self.clock.now();
                let mut rec = rec.unwrap_or_else(|| Record::new(account, scope, now));
                self.keep_rotated(write, &mut rec, refresh_token)?;
                Err(e)
            }
        }
    }

    /// The imported refresh token into the record, then the grant's answer.
    fn persist_imported(
        &self,
        write: PreparedWrite<'_>,
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
        self.persist(write, account, Some(rec), scope, tok, Source::Refresh)
    }

    /// The scope `asked` for the account whose record is `rec`, widened to
    /// the stored one when the request keeps it (and said so on stderr).
    pub(super) fn kept_scope(&self, req: &Request, asked: &str, rec: Option<&Record>) -> String {
        let Some(rec) = rec.filter(|_| req.keeps_stored_scope()) else {
            return asked.to_string();
        };
        let union = provider::scope_union(asked, &rec.scope);
        if !provider::same_access(&union, asked) {
            eprintln!(
                "ooauth2: note: kept the scope {} already has ({}): ooauth2.py's own asks \
                 for less; 'ooauth2 login' with --scope changes it",
                rec.user, rec.scope
            );
        }
        union
    }

    /// Puts a grant's tokens into the account's record, writes it, and answers.
    pub(super) fn persist(
        &self,
        write: PreparedWrite<'_>,
        account: &Account,
        rec: Option<Record>,
        scope: &str,
        tok: &TokenResponse,
        source: Source,
    ) -> Result<Answer> {
        let mut rec = rec.unwrap_or_else(|| Record::new(account, scope, self.clock.now()));
        rec.scope = scope.to_string();
        self.apply(&mut rec, tok);
        self.commit(write, &rec)?;
        Ok(self.answer(&rec, source))
    }

    /// `erase`: forget the account; says whether there was one, and when
    /// not, why, with the stored accounts the request nearly names.
    pub(super) fn erase(&mut self, req: &Request) -> Result<Outcome> {
        let Some(user) = self.resolve_user(req)? else {
            let wanted = req.account("");
            let reason = format!(
                "no account is stored for client id {} ({})",
                wanted.client_id,
                wanted.realm()
            );
            return Ok(Outcome::Erased {
                user: None,
                existed: false,
                missing: Some(self.nothing_erased(req, &wanted, reason)),
            });
        };
        let account = req.account(&user);
        // Nothing to forget: leave the disk alone (a corrupt record is still erased).
        if !self.store.record_path(&account).exists() {
            let reason = format!("no account is stored for {user} ({})", account.realm());
            return Ok(Outcome::Erased {
                user: Some(user),
                existed: false,
                missing: Some(self.nothing_erased(req, &account, reason)),
            });
        }
        let lock = self.store.lock(&account, self.lock_timeout)?;
        // A corrupt record has no item to forget; it is erased all the same.
        if let Ok(Some(rec)) = self.store.load(&account) {
            self.forget_keyring_items(&rec)?;
        }
        let existed = self.store.remove(&lock)?;
        Ok(Outcome::Erased {
            user: Some(user),
            existed,
            missing: None,
        })
    }

    /// The error of an erase that found nothing to erase for `wanted`.
    fn nothing_erased(&self, req: &Request, wanted: &Account, reason: String) -> Error {
        let e = Error::invalid(format!("nothing was erased: {reason}"))
            .hint("'ooauth2 status' lists the stored accounts");
        self.with_near_misses(req, wanted, e, "erase", false)
    }

    /// Stores a rotated refresh token on its own, for an answer whose other
    /// parts are refused: the token it replaces may be spent already.
    pub(super) fn keep_rotated(
        &self,
        write: PreparedWrite<'_>,
        rec: &mut Record,
        refresh_token: Option<Secret>,
    ) -> Result<()> {
        let Some(rt) = refresh_token.filter(|rt| rec.refresh_token.as_ref() != Some(rt)) else {
            return Ok(());
        };
        let now = self.clock.now();
        rec.refresh_token = Some(rt);
        rec.refresh_token_obtained_at = Some(now);
        rec.updated_at = now;
        self.commit(write, rec)
    }

    /// A grant's answer with its tokens judged for `user` too: those of
    /// another account are refused like a malformed answer.
    pub(super) fn checked(&self, granted: Granted, user: &str) -> Granted {
        Granted {
            tokens: granted
                .tokens
                .and_then(|t| self.check_user(&t, user).map(|()| t)),
            ..granted
        }
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
        self.note_use(rec, tok, now);
        rec.needs_login = None;
        rec.updated_at = now;
    }

    /// A grant's refresh token into the record: a rotated one replaces the
    /// old, and the provider's limit on it is kept, if it gave one (a new
    /// token without one has none; the same token keeps its). The write's
    /// `updated_at` says when it was used.
    pub(super) fn note_use(&self, rec: &mut Record, tok: &TokenResponse, now: u64) {
        if let Some(rt) = &tok.refresh_token {
            rec.refresh_token = Some(rt.clone());
            rec.refresh_token_obtained_at = Some(now);
            // A new token has its own life: the old one's limit and warning go.
            rec.refresh_token_expires_at = None;
            rec.health_warned_at = None;
        }
        if let Some(secs) = tok.refresh_token_expires_in {
            rec.refresh_token_expires_at = Some(now.saturating_add(secs));
        }
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

/// An import of `got`'s refresh token as `wanted`'s, in the words of an
/// import: no one signed in, the token is someone else's.
fn import_mismatch(req: &Request, wanted: &str, got: Option<&str>) -> Option<Error> {
    let got = got?;
    let sp = req.spelling();
    Some(
        Error::new(
            Code::UserMismatch,
            format!(
                "the refresh token is {got}'s (the provider says so), not {wanted}'s; \
                 nothing was stored"
            ),
        )
        .hint(format!(
            "check {}: to store it as {got}'s, give {}",
            sp.key(RequestKey::User),
            sp.pair(RequestKey::User, &crate::account::shell_word(got))
        )),
    )
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
