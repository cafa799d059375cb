//! A file replaced whole: its new version is written beside it under a
//! temp name (with its mode from its creation, whatever the umask, never
//! through a symbolic link), fsync'd, renamed over it, and the directory
//! fsync'd, so a crash leaves the old file or the new one, never a torn
//! one. The store's records and caches and the config file `ooauth2 setup`
//! writes go through it; each caller words a failure for its own file.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Every open of a temp file: never through a final symbolic link, never
/// waiting for a FIFO's writer, never taking a terminal as ours.
const SAFE_OPEN: i32 = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;

/// Temp files made by this process so far: each gets a name of its own.
static TEMPS: AtomicU64 = AtomicU64::new(0);

/// The step of a replacement that failed, for the caller's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Creating, filling or writing the temp file.
    Write,
    /// Giving the temp file its mode.
    Permissions,
    /// Renaming it over the file.
    Rename,
    /// Syncing the directory after the rename (the new file is in place).
    SyncDir,
}

/// A step that failed, the path it concerns (the file, the temp file for
/// [`Step::Permissions`], the directory for [`Step::SyncDir`]) and why.
#[derive(Debug)]
pub(crate) struct Failure {
    /// What was being done.
    pub(crate) step: Step,
    /// What it was done to.
    pub(crate) path: PathBuf,
    /// Why it failed.
    pub(crate) error: io::Error,
}

/// The new version of a file, written beside it under a temp name until it
/// is renamed into place; removed when dropped before that.
#[derive(Debug)]
pub(crate) struct TempFile {
    file: File,
    /// The temp file's path.
    tmp: PathBuf,
    /// The file it replaces.
    target: PathBuf,
    /// The directory of both.
    dir: PathBuf,
    /// Whether it has been renamed into place.
    placed: bool,
}

impl TempFile {
    /// Creates the temp file of `target` beside it, `.NAME.tmp-PID-N`,
    /// with `mode`.
    pub(crate) fn create(target: &Path, mode: u32) -> Result<TempFile, Failure> {
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let n = TEMPS.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
        let fail = |step, path: &Path, error| Failure {
            step,
            path: path.to_path_buf(),
            error,
        };
        // The name holds our pid: a file by that name is a dead process's leftover.
        let _ = fs::remove_file(&tmp);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(SAFE_OPEN)
            .open(&tmp)
            // Name the file the user knows, not the temp file.
            .map_err(|e| fail(Step::Write, target, e))?;
        // From here on, dropping `temp` removes the file.
        let temp = TempFile {
            file,
            tmp,
            target: target.to_path_buf(),
            dir,
            placed: false,
        };
        temp.file
            .set_permissions(Permissions::from_mode(mode))
            .map_err(|e| fail(Step::Permissions, &temp.tmp, e))?;
        Ok(temp)
    }

    /// Writes `len` zero bytes and syncs them, so the blocks are there: a
    /// full disk or a file size limit fail here, before anything is spent.
    pub(crate) fn reserve(&mut self, len: u64) -> Result<(), Failure> {
        let zeros = [0u8; 8192];
        let mut left = len;
        let mut fill = || {
            while left > 0 {
                let k = left.min(zeros.len() as u64);
                self.file.write_all(&zeros[..k as usize])?;
                left -= k;
            }
            self.file.sync_all()
        };
        fill().map_err(|error| Failure {
            step: Step::Write,
            path: self.target.clone(),
            error,
        })
    }

    /// Writes `body` over what the file holds, cut to its length, and syncs it.
    fn write_body(&mut self, body: &[u8]) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(body)?;
        self.file.set_len(body.len() as u64)?;
        self.file.sync_all()
    }

    /// Replaces the file by `body`: write, fsync, rename, fsync the
    /// directory, so a crash leaves the old or the new file.
    pub(crate) fn commit(mut self, body: &[u8]) -> Result<(), Failure> {
        let fail = |step, path: &Path, error| Failure {
            step,
            path: path.to_path_buf(),
            error,
        };
        self.write_body(body)
            .map_err(|e| fail(Step::Write, &self.target, e))?;
        fs::rename(&self.tmp, &self.target).map_err(|e| fail(Step::Rename, &self.target, e))?;
        self.placed = true;
        sync_dir(&self.dir).map_err(|e| fail(Step::SyncDir, &self.dir, e))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.placed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Syncs the directory `dir`, so a rename or removal in it lasts.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir).and_then(|d| d.sync_all())
}
