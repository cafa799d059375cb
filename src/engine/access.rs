//! `cache_access_token = false`: the cached access token sealed in the
//! record like the refresh token (by the account's `encrypt_cmd`), and
//! opened by its `decrypt_cmd` for every cached answer, the price of
//! keeping it out of files. A record without a sealed access token (every
//! other account) is answered as before, with nothing run.

use super::{Answer, Engine, Source};
use crate::error::{Error, Result};
use crate::store::Record;

impl Engine<'_> {
    /// The cached answer of `rec`, its access token opened if sealed.
    pub(super) fn cached_answer(&self, mut rec: Record) -> Result<Answer> {
        self.open_access_token(&mut rec)?;
        Ok(self.answer(&rec, Source::Cache))
    }

    /// Opens a sealed access token into `rec.access_token`.
    pub(super) fn open_access_token(&self, rec: &mut Record) -> Result<()> {
        let Some(sealed) = rec.access_token_sealed.as_deref() else {
            return Ok(());
        };
        if rec.access_token.is_some() {
            return Ok(());
        }
        let Some(seal) = self.seal_commands() else {
            return Err(Error::invalid(format!(
                "the access token of {} is sealed, but no decrypt_cmd is configured for the account",
                rec.user
            ))
            .hint("give the account the secret_store, encrypt_cmd and decrypt_cmd that sealed it"));
        };
        rec.access_token = Some(seal.open(sealed, self.secret_cmd_timeout)?);
        Ok(())
    }

    /// The access token of `disk`, a record about to be written, as it
    /// rests: sealed when the account keeps it out of files (dropped, and
    /// said, when it cannot be: the next call renews it; never written in
    /// the clear), else in the clear. A sealed one is kept while the
    /// account's commands can open it.
    pub(super) fn access_token_at_rest(&self, disk: &mut Record) {
        let clear = disk.access_token.take();
        match (self.seal_commands(), self.cache_access_token, clear) {
            (Some(seal), false, Some(at)) => {
                disk.access_token_sealed = match seal.seal(&at, self.secret_cmd_timeout) {
                    Ok(sealed) => Some(sealed),
                    Err(e) => {
                        eprintln!(
                            "ooauth2: warning: the access token of {} was not stored (it could \
                             not be sealed: {}); the next call renews it",
                            disk.user, e.message
                        );
                        None
                    }
                };
            }
            (_, _, Some(at)) => {
                disk.access_token = Some(at);
                disk.access_token_sealed = None;
            }
            (Some(_), _, None) => {}
            (None, _, None) => disk.access_token_sealed = None,
        }
    }
}
