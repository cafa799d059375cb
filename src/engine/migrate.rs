//! `store migrate`: an account's refresh token moved from where it rests
//! now to another secret store, under the account's lock. The token is
//! opened where it is (a sealed one by the account's `decrypt_cmd`), put
//! where it goes (sealed by the new `encrypt_cmd`, then opened again and
//! compared), and only then does one record write replace the old copy;
//! the record is read back after that write. The config file's change is
//! the front end's, made while the lock is held, between [`Migration`]'s
//! steps.

use super::Engine;
use crate::account::Account;
use crate::error::{Code, Error, Result};
use crate::request::Request;
use crate::secret::keyring::{self, Item};
use crate::secret::{Secret, StoreKind};
use crate::store::{AccountLock, Record, Store};
use std::time::Duration;

/// A planned move of one account's refresh token, holding its lock.
#[derive(Debug)]
pub struct Migration {
    store: Store,
    /// The account's lock; none when no account is stored to lock.
    lock: Option<AccountLock>,
    /// The account's user, for messages (empty when none is stored).
    user: String,
    /// The record as it was read under the lock.
    old: Option<Record>,
    /// The record as it will rest in the new store; `None`: no write.
    new: Option<Record>,
    /// The bound on each keyring call.
    timeout: Duration,
}

/// What a planned move finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// The refresh token rests where it should go already.
    AlreadyThere,
    /// No refresh token is stored: only the config file changes.
    NothingStored,
    /// The refresh token moves.
    Moves,
}

impl Engine<'_> {
    /// Plans moving the refresh token of `from`'s account (as its config
    /// entry stores it now) to where `to` (the same account with its new
    /// `secret_store`) keeps it: the lock taken, the token opened and put
    /// in its new form (read back), nothing written yet.
    pub fn plan_migration(&mut self, from: &Request, to: &Request) -> Result<Migration> {
        let user = self.resolve_user(from)?;
        let account = from.account(user.as_deref().unwrap_or_default());
        let (lock, old) = match user {
            Some(_) => {
                let lock = self.store.lock(&account, self.lock_timeout)?;
                let old = self.store.load(&account)?;
                (Some(lock), old)
            }
            None => (None, None),
        };
        let new = match &old {
            Some(rec) if rec.has_refresh_token() && !rests_in(rec, from, to) => {
                Some(self.moved(from, to, rec)?)
            }
            _ => None,
        };
        Ok(Migration {
            store: self.store.clone(),
            lock,
            user: account.user,
            old,
            new,
            timeout: self.secret_cmd_timeout,
        })
    }

    /// `rec` as it rests in `to`'s store, its refresh token opened with
    /// `from`'s.
    fn moved(&mut self, from: &Request, to: &Request, rec: &Record) -> Result<Record> {
        self.use_secret_store(from);
        let mut opened = rec.clone();
        let rt = self
            .open_refresh_token(&mut opened)?
            .ok_or_else(|| Error::new(Code::StoreError, "the refresh token vanished"))?;
        let mut disk = rec.clone();
        disk.opened = None;
        disk.refresh_token_keyring = None;
        match to.store_kind() {
            StoreKind::File => {
                disk.refresh_token = Some(rt);
                disk.refresh_token_sealed = None;
            }
            StoreKind::Keyring => {
                // A new item, read back by the write; the old copy goes
                // with the record write that stops pointing at it.
                let item = Item::first();
                keyring::write(&item, &rec.user, &rt, self.secret_cmd_timeout)?;
                disk.refresh_token = None;
                disk.refresh_token_sealed = None;
                disk.refresh_token_keyring = Some(item.name());
            }
            StoreKind::Command => {
                let seal = to
                    .sealing()
                    .ok_or_else(|| Error::invalid("secret_store = command without its commands"))?;
                let sealed = seal.seal(&rt, self.secret_cmd_timeout)?;
                read_back(
                    &rec.user,
                    &rt,
                    &seal.open(&sealed, self.secret_cmd_timeout)?,
                )?;
                disk.refresh_token = None;
                disk.refresh_token_sealed = Some(sealed);
            }
        }
        // A sealed access token is the old commands': dropped, as is one
        // the new store keeps out of files (the next call renews it).
        disk.access_token_sealed = None;
        if !to.cache_access_token() {
            disk.access_token = None;
        }
        disk.version = disk.version_at_rest();
        Ok(disk)
    }
}

/// Whether `rec`'s refresh token rests as `to` keeps it already: the same
/// store with the same commands, and the record's form that store's.
fn rests_in(rec: &Record, from: &Request, to: &Request) -> bool {
    let sealed = rec.refresh_token_sealed.is_some();
    let keyring = rec.refresh_token_keyring.is_some();
    from.store_kind() == to.store_kind()
        && from.sealing() == to.sealing()
        && match to.store_kind() {
            StoreKind::File => !sealed && !keyring,
            StoreKind::Command => sealed,
            StoreKind::Keyring => keyring,
        }
}

/// The refresh token of `user` opened again from its new form, `back`,
/// must be `rt`: else nothing is written.
fn read_back(user: &str, rt: &Secret, back: &Secret) -> Result<()> {
    if back == rt {
        return Ok(());
    }
    Err(Error::new(
        Code::SecretStoreUnavailable,
        format!(
            "the decrypt command did not give back the refresh token of {user} that the \
             encrypt command sealed (value not shown); nothing was changed"
        ),
    )
    .hint("check that decrypt_cmd opens what encrypt_cmd seals: echo test | ENCRYPT | DECRYPT"))
}

impl Migration {
    /// What the plan found.
    pub fn found(&self) -> Found {
        match (&self.old, &self.new) {
            (_, Some(_)) => Found::Moves,
            (Some(rec), None) if rec.has_refresh_token() => Found::AlreadyThere,
            _ => Found::NothingStored,
        }
    }

    /// The account's user (empty when nothing is stored).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Writes the record in its new form (one atomic write), then reads it
    /// back: the old copy is gone only once the new one is on disk.
    pub fn apply(&self) -> Result<()> {
        self.write(self.new.as_ref())
    }

    /// Puts the record back as it was (after a config change failed),
    /// and deletes the keyring item the move made, if any.
    pub fn undo(&self) -> Result<()> {
        match &self.new {
            Some(_) => {
                self.write(self.old.as_ref())?;
                self.drop_item_of(self.new.as_ref(), self.old.as_ref());
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// After the move and its config change: the keyring item the old
    /// record pointed at is deleted, now that nothing points at it.
    pub fn finish(&self) {
        if self.new.is_some() {
            self.drop_item_of(self.old.as_ref(), self.new.as_ref());
        }
    }

    /// Deletes the keyring item of `gone` unless `kept` points at it too;
    /// a failure leaves an item behind (never a token lost), said on stderr.
    fn drop_item_of(&self, gone: Option<&Record>, kept: Option<&Record>) {
        let item = |r: Option<&Record>| r.and_then(|r| r.refresh_token_keyring.clone());
        let Some(name) = item(gone).filter(|n| item(kept).as_ref() != Some(n)) else {
            return;
        };
        let Some(it) = Item::parse(&name) else { return };
        if let Err(e) = keyring::delete(&it.next(), &self.user, self.timeout) {
            eprintln!(
                "ooauth2: warning: an old keyring item of {} was left behind: {}",
                self.user, e.message
            );
        }
    }

    /// Writes `rec` under the lock and checks that the store reads it back.
    fn write(&self, rec: Option<&Record>) -> Result<()> {
        let (Some(rec), Some(lock)) = (rec, &self.lock) else {
            return Ok(());
        };
        self.store.prepare(lock)?.commit(rec)?;
        let account: Account = rec.account();
        match self.store.load(&account)? {
            Some(back) if back == *rec => Ok(()),
            _ => Err(Error::new(
                Code::StoreError,
                format!("the record of {} did not read back as written", self.user),
            )
            .hint(
                "run 'ooauth2 doctor' and 'ooauth2 status' to see where its refresh token rests",
            )),
        }
    }
}
