//! The account lock: one flock per account, taken with a bounded wait, so
//! one process refreshes while the others wait and then re-read.

use super::Store;
use super::files::open_lock;
use crate::account::Account;
use crate::error::{Code, Error, Result};
use std::fs::{self, File, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

/// Proof that the caller holds an account's lock; released on drop.
#[derive(Debug)]
pub struct AccountLock {
    _file: File,
    /// The account's file id: the lock is proof for this record only.
    pub(super) id: String,
}

impl Store {
    /// Takes the account's lock, waiting at most `timeout`.
    pub(crate) fn lock(&self, account: &Account, timeout: Duration) -> Result<AccountLock> {
        self.ensure_dir()?;
        crate::signals::survive_file_size_limit();
        let id = Store::id(account);
        let path = self.dir.join(format!("{id}.lock"));
        let file = open_lock(&path)?;
        wait_for(&file, &path, timeout, &account.user)?;
        let lock = AccountLock { _file: file, id };
        self.remove_stale_temps(&lock);
        Ok(lock)
    }

    fn remove_stale_temps(&self, lock: &AccountLock) {
        // Under the lock no writer of this account is alive, so any temp is a crash leftover.
        let prefix = format!(".{}.json.tmp-", lock.id);
        if let Ok(entries) = fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
    }
}

/// Takes the lock on `file` (at `path`, for `whose` in messages), waiting
/// at most `timeout` with a backoff of 2 to 25 ms.
pub(super) fn wait_for(file: &File, path: &Path, timeout: Duration, whose: &str) -> Result<()> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(2);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(Error::store("lock", path, &e)),
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(Error::new(
                Code::StoreBusy,
                format!(
                    "another ooauth2 process has held the lock of {whose} for over {} s",
                    timeout.as_secs_f32()
                ),
            )
            .hint("a sign-in may be waiting for the user; finish it or try again later"));
        }
        std::thread::sleep(pause.min(timeout - waited));
        pause = (pause * 2).min(Duration::from_millis(25));
    }
}
