//! One home for a record's refresh token at rest: opened (run through the
//! account's `decrypt_cmd` when sealed) only when a grant needs it, and
//! sealed by its `encrypt_cmd` in the one record write when the account's
//! `secret_store` is `command`. The cached path never comes here.

use super::Engine;
use crate::error::{Code, Error, Result};
use crate::request::Request;
use crate::secret::Secret;
use crate::store::{PreparedWrite, Record};

impl Engine<'_> {
    /// Takes the secret store of `req` for what follows; a changed one is
    /// probed anew.
    pub(super) fn use_sealing(&mut self, req: &Request) {
        self.cache_access_token = req.cache_access_token();
        if self.sealing.as_ref() != req.sealing() {
            self.sealing = req.sealing().cloned();
            self.sealing_probed = false;
        }
    }

    /// The record's refresh token in the clear: a sealed one is opened
    /// with the account's `decrypt_cmd` (and kept opened in `rec`).
    pub(super) fn open_refresh_token(&self, rec: &mut Record) -> Result<Option<Secret>> {
        if let Some(rt) = &rec.refresh_token {
            return Ok(Some(rt.clone()));
        }
        let Some(sealed) = rec.refresh_token_sealed.as_deref() else {
            return Ok(None);
        };
        let Some(seal) = &self.sealing else {
            return Err(Error::invalid(format!(
                "the refresh token of {} is sealed, but no decrypt_cmd is configured for the account",
                rec.user
            ))
            .hint(
                "give the account secret_store = \"command\" with the encrypt_cmd and \
                 decrypt_cmd that sealed it (in its config entry, or --secret-store command \
                 --encrypt-cmd ... --decrypt-cmd ...)",
            ));
        };
        let rt = seal.open(sealed, self.secret_cmd_timeout)?;
        rec.refresh_token = Some(rt.clone());
        rec.opened = Some(rt.clone());
        Ok(Some(rt))
    }

    /// Before a grant for a `command` account: the encrypt command seals a
    /// probe text (once a run), so a broken one fails before anything is
    /// spent at the provider.
    pub(super) fn probe_sealing(&mut self) -> Result<()> {
        if let Some(seal) = &self.sealing
            && !self.sealing_probed
        {
            seal.probe(self.secret_cmd_timeout)?;
            self.sealing_probed = true;
        }
        Ok(())
    }

    /// Writes `rec` as it rests on disk: for a `command` account, its
    /// refresh token sealed (one still in the clear, like a plaintext
    /// record's of an account switched to `command`, is sealed now).
    pub(super) fn commit(&self, write: PreparedWrite<'_>, rec: &Record) -> Result<()> {
        write.commit(&self.at_rest(rec))
    }

    /// `rec` as the disk holds it. A token that cannot be sealed after the
    /// provider answered is kept in the clear, never lost, and said so.
    fn at_rest(&self, rec: &Record) -> Record {
        let mut disk = rec.clone();
        disk.opened = None;
        let sealed_is_current =
            rec.refresh_token_sealed.is_some() && rec.opened == rec.refresh_token;
        match (&self.sealing, &rec.refresh_token) {
            (Some(_), Some(_)) if sealed_is_current => disk.refresh_token = None,
            (Some(seal), Some(rt)) => match seal.seal(rt, self.secret_cmd_timeout) {
                Ok(sealed) => {
                    disk.refresh_token = None;
                    disk.refresh_token_sealed = Some(sealed);
                }
                Err(e) => {
                    disk.refresh_token_sealed = None;
                    eprintln!(
                        "ooauth2: warning: the refresh token of {} is stored unsealed in its \
                         record: {}; the next renewal seals it",
                        rec.user, e.message
                    );
                }
            },
            // A file account's token rests in the clear: said aloud when
            // it was sealed before (a request without the account's store).
            (None, Some(_)) => {
                if disk.refresh_token_sealed.take().is_some() {
                    eprintln!(
                        "ooauth2: warning: the refresh token of {} was sealed, but this request \
                         has no secret_store = command: it is stored in the clear now; give the \
                         account its secret_store, encrypt_cmd and decrypt_cmd to seal it again",
                        rec.user
                    );
                }
            }
            (_, None) => {}
        }
        self.access_token_at_rest(&mut disk);
        disk.version = disk.version_at_rest();
        disk
    }
}

/// Whether `e` is a secret store's failure, served around like a network's.
pub(super) fn store_unavailable(e: &Error) -> bool {
    e.code == Code::SecretStoreUnavailable
}
