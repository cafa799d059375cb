//! Writing a file so that a crash leaves the old or the new one, never a
//! torn one, and never a moment when others could read it.

use crate::error::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Replaces `path` (in `dir`) by `body`: temp file created 0600, fsync,
/// rename, fsync the directory, so a crash leaves the old or the new file.
pub(super) fn write_atomic(dir: &Path, id: &str, path: &Path, body: &[u8]) -> Result<()> {
    let tmp = dir.join(format!(".{id}.json.tmp-{}", std::process::id()));
    // The name holds our pid: a file by that name is a dead process's leftover.
    let _ = fs::remove_file(&tmp);
    let written = (|| -> std::io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(body)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        // Name the file the user knows, not the temp file.
        return Err(Error::store("write the new version of", path, &e));
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(Error::store("replace", path, &e));
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::store("sync", dir, &e))
}
