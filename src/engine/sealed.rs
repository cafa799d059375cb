//! One home for a record's refresh token at rest: opened (run through the
//! account's `decrypt_cmd` when sealed, read from the keyring when it
//! rests there) only when a grant needs it, and put away where the
//! account's `secret_store` says in the one record write. The cached path
//! never comes here.

use super::Engine;
use crate::error::{Code, Error, Result};
use crate::request::Request;
use crate::secret::keyring::{self, Item};
use crate::secret::{SealCommands, Secret, SecretStore};
use crate::store::{PreparedWrite, Record};

/// Where a write puts the refresh token.
enum Target<'a> {
    File,
    Command(&'a SealCommands),
    Keyring,
}

impl Engine<'_> {
    /// Takes the secret store of `req` for what follows; a changed one is
    /// probed anew.
    pub(super) fn use_secret_store(&mut self, req: &Request) {
        self.cache_access_token = req.cache_access_token();
        if self.secret_store.as_ref() != req.secret_store() {
            self.secret_store = req.secret_store().cloned();
            self.secret_store_probed = false;
        }
    }

    /// The commands of the request's `command` store, if it has one.
    pub(super) fn seal_commands(&self) -> Option<&SealCommands> {
        match &self.secret_store {
            Some(SecretStore::Command(seal)) => Some(seal),
            _ => None,
        }
    }

    /// The record's refresh token in the clear: a sealed one is opened
    /// with the account's `decrypt_cmd`, a keyring one read from the
    /// keyring (newest item first), and kept opened in `rec`.
    pub(super) fn open_refresh_token(&self, rec: &mut Record) -> Result<Option<Secret>> {
        if let Some(rt) = &rec.refresh_token {
            return Ok(Some(rt.clone()));
        }
        let rt = if let Some(name) = rec.refresh_token_keyring.as_deref() {
            let item = Item::parse(name).ok_or_else(|| {
                Error::new(
                    Code::StoreError,
                    "refresh_token_keyring names no keyring item",
                )
                .hint("move the record away and sign in again")
            })?;
            let (item, rt) = keyring::open(&item, &rec.user, self.secret_cmd_timeout)?;
            rec.refresh_token_keyring = Some(item.name());
            rt
        } else if let Some(sealed) = rec.refresh_token_sealed.as_deref() {
            let Some(SecretStore::Command(seal)) = &self.secret_store else {
                return Err(no_decrypt_cmd(&rec.user));
            };
            seal.open(sealed, self.secret_cmd_timeout)?
        } else {
            return Ok(None);
        };
        rec.refresh_token = Some(rt.clone());
        rec.opened = Some(rt.clone());
        Ok(Some(rt))
    }

    /// Before a grant for a `command` or `keyring` account: the store
    /// takes a probe (once a run), so a broken one fails before anything
    /// is spent at the provider.
    pub(super) fn probe_sealing(&mut self) -> Result<()> {
        if self.secret_store_probed {
            return Ok(());
        }
        match &self.secret_store {
            Some(SecretStore::Command(seal)) => seal.probe(self.secret_cmd_timeout)?,
            Some(SecretStore::Keyring) => keyring::probe(self.secret_cmd_timeout)?,
            Some(SecretStore::File) | None => {}
        }
        self.secret_store_probed = true;
        Ok(())
    }

    /// Writes `rec` as it rests on disk, its refresh token put away where
    /// the account's store says (one still in the clear, like that of an
    /// account switched to another store, is put away now); then the
    /// keyring item it replaced is deleted.
    pub(super) fn commit(&self, write: PreparedWrite<'_>, rec: &Record) -> Result<()> {
        let disk = self.at_rest(rec);
        write.commit(&disk)?;
        self.drop_replaced_item(rec, &disk);
        Ok(())
    }

    /// Where a write of `rec` puts its refresh token: where the request
    /// says, else where it rests (a keyring account stays there, whatever
    /// front end asks).
    fn target(&self, rec: &Record) -> Target<'_> {
        match &self.secret_store {
            Some(SecretStore::Command(seal)) => Target::Command(seal),
            Some(SecretStore::Keyring) => Target::Keyring,
            Some(SecretStore::File) => Target::File,
            None if rec.refresh_token_keyring.is_some() => Target::Keyring,
            None => Target::File,
        }
    }

    /// `rec` as the disk holds it. A token that cannot be put away after
    /// the provider answered is kept in the clear, never lost, and said so.
    fn at_rest(&self, rec: &Record) -> Record {
        let mut disk = rec.clone();
        disk.opened = None;
        if let Some(rt) = &rec.refresh_token {
            let unchanged = rec.opened.as_ref() == Some(rt);
            // What a failure to put it away leaves, and what mends it.
            let (put, (left, mend)) = match self.target(rec) {
                Target::Command(seal) => (
                    self.seal_into(&mut disk, seal, rt, unchanged),
                    ("is stored unsealed in its record", "seals it"),
                ),
                Target::Keyring => (
                    self.keyring_into(&mut disk, rt, unchanged),
                    (
                        "is stored in the clear in its record, not in the keyring",
                        "moves it there",
                    ),
                ),
                Target::File => {
                    file_into(&mut disk);
                    (Ok(()), ("", ""))
                }
            };
            if let Err(e) = put {
                disk.refresh_token_sealed = None;
                disk.refresh_token_keyring = None;
                eprintln!(
                    "ooauth2: warning: the refresh token of {} {left}: {}; the next renewal {mend}",
                    rec.user, e.message
                );
            }
        }
        self.access_token_at_rest(&mut disk);
        disk.version = disk.version_at_rest();
        disk
    }

    /// Seals `rt` into `disk` (kept as it is when its sealed text is current).
    fn seal_into(
        &self,
        disk: &mut Record,
        seal: &SealCommands,
        rt: &Secret,
        unchanged: bool,
    ) -> Result<()> {
        if !(unchanged && disk.refresh_token_sealed.is_some()) {
            disk.refresh_token_sealed = Some(seal.seal(rt, self.secret_cmd_timeout)?);
        }
        disk.refresh_token = None;
        disk.refresh_token_keyring = None;
        Ok(())
    }

    /// Stores `rt` in the account's next keyring item (kept as it is when
    /// its item is current), read back before the record points at it.
    fn keyring_into(&self, disk: &mut Record, rt: &Secret, unchanged: bool) -> Result<()> {
        let current = disk.refresh_token_keyring.as_deref().and_then(Item::parse);
        let item = match current {
            Some(item) if unchanged => item,
            other => {
                let item = other.map_or_else(Item::first, |i| i.next());
                keyring::write(&item, &disk.user, rt, self.secret_cmd_timeout)?;
                item
            }
        };
        disk.refresh_token = None;
        disk.refresh_token_sealed = None;
        disk.refresh_token_keyring = Some(item.name());
        Ok(())
    }

    /// After a record write: the keyring item `rec` was opened from, when
    /// the disk no longer points at it (a spent token, or one moved to
    /// another store). A failure leaves an item behind, never a token
    /// lost, and is said.
    fn drop_replaced_item(&self, rec: &Record, disk: &Record) {
        let Some(old) = rec.refresh_token_keyring.as_deref() else {
            return;
        };
        if disk.refresh_token_keyring.as_deref() == Some(old) {
            return;
        }
        let Some(item) = Item::parse(old) else { return };
        if let Err(e) = keyring::delete(&item, &rec.user, self.secret_cmd_timeout) {
            eprintln!(
                "ooauth2: warning: an old keyring item of {} was left behind: {}",
                rec.user, e.message
            );
        }
    }

    /// Deletes the keyring items of `rec`, if its token rests there: for
    /// `erase`, before the record goes, so no item outlives it.
    pub(super) fn forget_keyring_items(&self, rec: &Record) -> Result<()> {
        let Some(item) = rec.refresh_token_keyring.as_deref().and_then(Item::parse) else {
            return Ok(());
        };
        // The item a crash may have left one generation ahead, and its own.
        keyring::delete(&item.next(), &rec.user, self.secret_cmd_timeout)
    }
}

/// A file account's token rests in the clear: said aloud when it was
/// sealed before (a request without the account's store). A keyring
/// item is dropped after the write.
fn file_into(disk: &mut Record) {
    disk.refresh_token_keyring = None;
    if disk.refresh_token_sealed.take().is_some() {
        eprintln!(
            "ooauth2: warning: the refresh token of {} was sealed, but this request has no \
             secret_store = command: it is stored in the clear now; give the account its \
             secret_store, encrypt_cmd and decrypt_cmd to seal it again",
            disk.user
        );
    }
}

/// The error for a sealed token and a request without its `decrypt_cmd`.
fn no_decrypt_cmd(user: &str) -> Error {
    Error::invalid(format!(
        "the refresh token of {user} is sealed, but no decrypt_cmd is configured for the account"
    ))
    .hint(
        "give the account secret_store = \"command\" with the encrypt_cmd and decrypt_cmd \
         that sealed it (in its config entry, or --secret-store command --encrypt-cmd ... \
         --decrypt-cmd ...)",
    )
}

/// Whether `e` is a secret store's failure, served around like a network's.
pub(super) fn store_unavailable(e: &Error) -> bool {
    e.code == Code::SecretStoreUnavailable
}
