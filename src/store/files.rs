//! The store's files on disk, opened and written safely: never through a
//! symbolic link, never waiting on a FIFO nor reading a device, in
//! directories of ours, with modes set explicitly whatever the umask, and
//! replaced atomically, so that a crash leaves the old or the new file,
//! never a torn one, and never a moment when others could read it.

use crate::error::{Code, Error, Result};
use crate::replace::{Failure, Step, TempFile};
use crate::settings;
use std::fs::{self, DirBuilder, File, Metadata, OpenOptions, Permissions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The mode of every file of the store.
const FILE_MODE: u32 = 0o600;
/// The mode of the store directory and its subdirectories.
const DIR_MODE: u32 = 0o700;
/// The largest file the store reads: a record holds at most one provider
/// answer (1 MiB) and its own fields, so anything larger is not one.
pub(super) const MAX_FILE: u64 = 4 * 1024 * 1024;
/// Every open of a store file: never through a final symbolic link, never
/// waiting for a FIFO's writer, never taking a terminal as ours.
const SAFE_OPEN: i32 = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;

/// The bytes of the store file at `path`; `None` when there is none.
/// Anything but a regular file (a symbolic link, a FIFO, a device) or a
/// file larger than [`MAX_FILE`] is refused before it is read.
pub(super) fn read_file(path: &Path) -> Result<Option<Vec<u8>>> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(SAFE_OPEN)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(open_error("read", path, &e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| Error::store("inspect", path, &e))?;
    require_regular(path, &meta)?;
    let mut bytes = Vec::with_capacity(meta.len().min(MAX_FILE) as usize);
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::store("read", path, &e))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(Error::new(
            Code::StoreError,
            format!(
                "{} is larger than any file ooauth2 writes ({MAX_FILE} bytes)",
                path.display()
            ),
        )
        .hint("move it out of the store directory and try again"));
    }
    Ok(Some(bytes))
}

/// Opens (creating it 0600 if need be) the lock file at `path`: a regular
/// file, never reached through a symbolic link.
pub(super) fn open_lock(path: &Path) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .custom_flags(SAFE_OPEN)
        .open(path)
        .map_err(|e| open_error("open the lock file", path, &e))?;
    let meta = file
        .metadata()
        .map_err(|e| Error::store("inspect", path, &e))?;
    require_regular(path, &meta)?;
    // The umask may have taken bits the owner needs (0477 leaves 0200).
    if meta.permissions().mode() & 0o7777 != FILE_MODE {
        file.set_permissions(Permissions::from_mode(FILE_MODE))
            .map_err(|e| Error::store("restrict the permissions of", path, &e))?;
    }
    Ok(file)
}

/// Makes sure `dir` is a directory of ours that others cannot enter:
/// created 0700 when missing (its parents too, as the umask has them), a
/// looser mode tightened. With `follow`, `dir` may be a symbolic link to
/// such a directory (a store kept elsewhere); without, it may not.
pub(super) fn private_dir(dir: &Path, follow: bool) -> Result<()> {
    let created = create_dir(dir)?;
    let flags = libc::O_DIRECTORY | if follow { 0 } else { libc::O_NOFOLLOW };
    let open = || OpenOptions::new().read(true).custom_flags(flags).open(dir);
    let handle = match open() {
        // Created under a umask that took the owner's read bit: only its
        // owner can have made it, so the mode is set by name, then opened.
        Err(e) if created && e.kind() == ErrorKind::PermissionDenied => {
            fs::set_permissions(dir, Permissions::from_mode(DIR_MODE)).and_then(|()| open())
        }
        other => other,
    }
    .map_err(|e| open_error("open the directory", dir, &e))?;
    let meta = handle
        .metadata()
        .map_err(|e| Error::store("inspect", dir, &e))?;
    check_dir(dir, &meta)?;
    // A directory made by someone else's umask or an older tool: close it.
    if created || meta.permissions().mode() & 0o077 != 0 {
        handle
            .set_permissions(Permissions::from_mode(DIR_MODE))
            .map_err(|e| Error::store("restrict the permissions of", dir, &e))?;
    }
    Ok(())
}

/// Creates `dir` (and its missing parents); whether `dir` itself is new.
fn create_dir(dir: &Path) -> Result<bool> {
    let cannot = |e: &std::io::Error| Error::store("create the directory", dir, e);
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(parent)
            .map_err(|e| cannot(&e))?;
    }
    match DirBuilder::new().mode(DIR_MODE).create(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(cannot(&e)),
    }
}

/// Refuses what `dir`'s metadata shows cannot hold the store: not a
/// directory, or one that belongs to another user (who could plant,
/// swap or delete records in it), whoever we are, root included.
pub(super) fn check_dir(dir: &Path, meta: &Metadata) -> Result<()> {
    let shown = dir.display();
    if !meta.is_dir() {
        return Err(Error::new(
            Code::StoreError,
            format!("the store path {shown} is not a directory"),
        )
        .hint("move it away, or set OOAUTH2_STORE_DIR to a directory"));
    }
    match settings::not_me(meta.uid()) {
        None => Ok(()),
        Some(me) => Err(Error::new(
            Code::StoreError,
            format!(
                "the store directory {shown} belongs to uid {}, not to you (uid {me}); \
                 refusing to use it",
                meta.uid()
            ),
        )
        .hint(
            "move it away, or set OOAUTH2_STORE_DIR to a directory of your own \
             (ooauth2 creates it with mode 0700)",
        )),
    }
}

/// Refuses anything but a regular file at `path`: a FIFO would hang the
/// read, a device (`/dev/zero`) would never end it.
fn require_regular(path: &Path, meta: &Metadata) -> Result<()> {
    let kind = meta.file_type();
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_dir() {
        "a directory"
    } else {
        "of another kind"
    };
    Err(Error::new(
        Code::StoreError,
        format!(
            "{} is not a regular file but {what}; ooauth2 never makes one",
            path.display()
        ),
    )
    .hint("move it out of the store directory and try again"))
}

/// The error of opening `path` to `what`: a symbolic link (which
/// `O_NOFOLLOW` refuses with ELOOP) is named as such.
fn open_error(what: &str, path: &Path, e: &std::io::Error) -> Error {
    let is_link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if e.raw_os_error() == Some(libc::ELOOP) && is_link {
        return Error::new(
            Code::StoreError,
            format!(
                "{} is a symbolic link; ooauth2 never makes one and does not follow it",
                path.display()
            ),
        )
        .hint("move it out of the store directory and try again");
    }
    Error::store(what, path, e)
}

/// The temp file of the store file `path` (0600), with `reserve` bytes
/// written and synced in it when above 0: a read-only directory, a full
/// disk or a file size limit fail here, before anything is spent.
pub(super) fn temp_file(path: &Path, reserve: u64) -> Result<TempFile> {
    let mut temp = TempFile::create(path, FILE_MODE).map_err(replace_error)?;
    if reserve > 0 {
        temp.reserve(reserve).map_err(replace_error)?;
    }
    Ok(temp)
}

/// The store's words for a step of a replacement that failed.
pub(super) fn replace_error(f: Failure) -> Error {
    let what = match f.step {
        Step::Write => "write the new version of",
        Step::Permissions => "restrict the permissions of",
        Step::Rename => "replace",
        Step::SyncDir => "sync",
    };
    Error::store(what, &f.path, &f.error)
}

/// Syncs the directory `dir`, so a rename or removal in it lasts.
pub(super) fn sync_dir(dir: &Path) -> Result<()> {
    crate::replace::sync_dir(dir).map_err(|e| Error::store("sync", dir, &e))
}
