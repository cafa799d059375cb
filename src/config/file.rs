//! Reading the config file safely: every check it must pass before ooauth2
//! trusts the commands it names (a regular file, ours or root's, not
//! writable by others, in a directory of ours or root's that others cannot
//! replace it in, of sane size, UTF-8). `load` and `doctor` both read it
//! through here.

use crate::error::{Code, Error, Result};
use crate::settings::{self, CONFIG_ENV};
use std::fs::{Metadata, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// A config file is a few hundred bytes; anything near this is not one.
const MAX_CONFIG: u64 = 1024 * 1024;

/// The text of the config file at `path` once it passed every check;
/// `None` when there is no file.
pub(super) fn read(path: &Path) -> Result<Option<String>> {
    let unreadable = |e: &std::io::Error| {
        Error::new(
            Code::StoreError,
            format!("cannot read the config file {}: {e}", path.display()),
        )
        .hint(format!("check the file, or point {CONFIG_ENV} at another"))
    };
    // One open: the mode checked is the mode of the file read. It never
    // waits (for a FIFO's writer): the type is checked before any read.
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(&e)),
    };
    let meta = file.metadata().map_err(|e| unreadable(&e))?;
    check_kind_and_mode(path, &meta)?;
    // The file names commands ooauth2 runs: whoever can write it (or its
    // directory) runs code as you.
    check_owner(path, &meta)?;
    check_directories(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(&e))?;
    if bytes.len() as u64 > MAX_CONFIG {
        return Err(Error::invalid(format!(
            "the config file {} is larger than {MAX_CONFIG} bytes",
            path.display()
        ))
        .hint(format!("check that {CONFIG_ENV} names the config file")));
    }
    String::from_utf8(bytes).map(Some).map_err(|e| {
        let line = super::parse::line_of(
            &String::from_utf8_lossy(e.as_bytes()),
            e.utf8_error().valid_up_to(),
        );
        Error::invalid(format!("{}:{line}: not valid UTF-8", path.display()))
            .hint("save the file as UTF-8")
    })
}

/// A regular file that others cannot write to.
fn check_kind_and_mode(path: &Path, meta: &Metadata) -> Result<()> {
    if !meta.is_file() {
        return Err(Error::new(
            Code::StoreError,
            format!("the config file {} is not a regular file", path.display()),
        )
        .hint(format!("make it a file, or point {CONFIG_ENV} at one")));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(Error::new(
            Code::StoreError,
            format!(
                "the config file {} has mode {mode:04o}: other users can change the \
                 commands it runs, so ooauth2 refuses to use it",
                path.display()
            ),
        )
        .hint(format!("chmod 600 {}", path.display())));
    }
    Ok(())
}

/// Refuses a config file owned by another user (who could rewrite it at
/// will). root's files are trusted: root can do that anyway.
fn check_owner(path: &Path, meta: &Metadata) -> Result<()> {
    if meta.uid() != 0 && settings::not_me(meta.uid()).is_some() {
        return Err(Error::new(
            Code::StoreError,
            format!(
                "the config file {} belongs to another user (uid {}); refusing to use it",
                path.display(),
                meta.uid()
            ),
        )
        .hint(format!(
            "copy it to a file of your own, or point {CONFIG_ENV} at one"
        )));
    }
    Ok(())
}

/// Refuses a config file in a directory others could replace it in: the
/// directory of the name given, and, when that is a symbolic link (a
/// dotfile manager's), the directory of the file it leads to.
pub(super) fn check_directories(path: &Path) -> Result<()> {
    check_directory(path)?;
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    match std::fs::canonicalize(path) {
        Ok(real) if is_link => check_directory(&real),
        _ => Ok(()),
    }
}

/// Refuses a config file in a directory of another user (root's are
/// trusted, as root's files are) or one others can write to without the
/// sticky bit: either could replace the file.
fn check_directory(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = std::fs::metadata(dir) {
        if d.uid() != 0 && settings::not_me(d.uid()).is_some() {
            return Err(Error::new(
                Code::StoreError,
                format!(
                    "the config file's directory {} belongs to another user (uid {}); \
                     refusing to use the file",
                    dir.display(),
                    d.uid()
                ),
            )
            .hint(format!(
                "move the file to a directory of your own, or point {CONFIG_ENV} at one"
            )));
        }
        let mode = d.permissions().mode();
        if mode & 0o022 != 0 && mode & 0o1000 == 0 {
            return Err(Error::new(
                Code::StoreError,
                format!(
                    "the config file's directory {} is writable by other users; refusing to use the file",
                    dir.display()
                ),
            )
            .hint(format!("run: chmod go-w {}", dir.display())));
        }
    }
    Ok(())
}
