//! Imports of one refresh token (`action=store`, `ooauth2.py
//! --generate_access_token`) before the account is known: they wait for
//! each other on a lock named by the token, and the first leaves a receipt
//! (whose token it was, and when) in that lock file, so the others reuse
//! its answer instead of spending the token again at a provider that
//! rotates strictly. `<dir>/imports/<sha>.lock` holds no secret: the name
//! is a digest of client id and token, the content a user name and a time.
//! A refused token leaves nothing: its lock (and the store directory, if
//! the import created it) is removed again.

use super::Store;
use super::files::{open_lock, private_dir};
use super::lock::wait_for;
use crate::account::Account;
use crate::error::{Error, Result};
use crate::secret::Secret;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::time::Duration;

/// How long (seconds) a finished import's answer serves the next imports
/// of the same token: mail programs started together, over a busy minute.
const RECENT: u64 = 60;

/// The lock on the imports of one refresh token; released on drop.
pub(crate) struct ImportLock {
    file: File,
    path: PathBuf,
    /// The receipt as it was before this process waited for the lock.
    before: String,
    /// The store directory, when this import created it (and so removes
    /// it again if the token is refused).
    created: Option<PathBuf>,
}

impl Store {
    /// Waits (at most `timeout`) for the other imports of `refresh_token`
    /// for `template`'s client and provider.
    pub(crate) fn lock_import(
        &self,
        template: &Account,
        refresh_token: &Secret,
        timeout: Duration,
    ) -> Result<ImportLock> {
        let created = (!self.dir.exists()).then(|| self.dir.clone());
        self.ensure_dir()?;
        crate::signals::survive_file_size_limit();
        let dir = self.dir.join("imports");
        private_dir(&dir, false)?;
        let identity = format!(
            "import v1\n{}\n{}\n{}",
            template.authority.to_ascii_lowercase(),
            template.client_id,
            refresh_token.expose()
        );
        let digest = Sha256::digest(identity.as_bytes());
        let id: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        let path = dir.join(format!("{id}.lock"));
        let mut file = open_lock(&path)?;
        let before = read_receipt(&mut file);
        wait_for(&file, &path, timeout, "an import of this refresh token")?;
        Ok(ImportLock {
            file,
            path,
            before,
            created,
        })
    }
}

impl ImportLock {
    /// The user an import of this token resolved to, if one finished
    /// while this process waited for the lock or within the last
    /// `RECENT` seconds before `now`: a sync started a moment after the
    /// others finds the import done, not yet waiting, and must not spend
    /// the token again either.
    pub(crate) fn receipt(&mut self, now: u64) -> Option<String> {
        let text = read_receipt(&mut self.file);
        let (at, user) = text.trim_end().split_once('\n')?;
        let recent = at
            .parse::<u64>()
            .is_ok_and(|at| at <= now && now - at <= RECENT);
        if text == self.before && !recent {
            return None;
        }
        (!user.is_empty()).then(|| user.to_string())
    }

    /// Removes the lock of an import the provider refused, so a bad token
    /// leaves nothing behind. A process still waiting on it then sends its
    /// own grant, as before imports waited for each other: no worse.
    pub(crate) fn discard(self) {
        let _ = std::fs::remove_file(&self.path);
        // Only when empty (remove_dir refuses otherwise): what others
        // wrote meanwhile stays.
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir(dir);
        }
        if let Some(store) = &self.created {
            let _ = std::fs::remove_dir(store);
        }
    }

    /// Notes that the import resolved to `user` at `now`. A receipt that
    /// cannot be written costs the next waiter a grant, nothing more.
    pub(crate) fn record(&mut self, user: &str, now: u64) {
        let written = self.file.set_len(0).and_then(|()| {
            self.file.rewind()?;
            self.file.write_all(format!("{now}\n{user}\n").as_bytes())
        });
        if let Err(e) = written {
            eprintln!(
                "ooauth2: warning: {}",
                Error::store("write", &self.path, &e).message
            );
        }
    }
}

/// The receipt in a lock file, empty when there is none or it cannot be read.
fn read_receipt(file: &mut File) -> String {
    let mut text = String::new();
    if file.rewind().is_ok() {
        let _ = file.take(4096).read_to_string(&mut text);
    }
    text
}
