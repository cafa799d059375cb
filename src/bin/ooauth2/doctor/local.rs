//! The files doctor reads before any account: the store directory, its
//! owner and modes (and its files' modes), and the config file.

use super::{Finding, problem_of};
use ooauth2::config;
use ooauth2::settings::Settings;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// The uid of this process, when /proc tells it (Linux).
fn current_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// The store directory: present, a directory, ours, 0700; its files 0600.
pub(super) fn check_store_dir(dir: &Path, out: &mut Vec<Finding>) {
    let shown = dir.display();
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            out.push(Finding::Problem(
                format!("the store directory {shown} does not exist: nothing is signed in"),
                "sign in with `ooauth2 login` (it creates the directory with mode 0700)".into(),
            ));
            return;
        }
        Err(e) => {
            out.push(Finding::Problem(
                format!("cannot inspect the store directory {shown}: {e}"),
                "check the path and its permissions (or set OOAUTH2_STORE_DIR)".into(),
            ));
            return;
        }
    };
    if !meta.is_dir() {
        out.push(Finding::Problem(
            format!("the store path {shown} is not a directory"),
            "move it away, or set OOAUTH2_STORE_DIR to a directory".into(),
        ));
        return;
    }
    let mut ok = true;
    if let Some(uid) = current_uid()
        && meta.uid() != uid
    {
        ok = false;
        out.push(Finding::Problem(
            format!(
                "the store directory {shown} belongs to uid {}, not to you (uid {uid})",
                meta.uid()
            ),
            format!("chown -R {uid} {shown}, or set OOAUTH2_STORE_DIR to a directory of yours"),
        ));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        ok = false;
        out.push(Finding::Problem(
            format!(
                "the store directory {shown} has mode {mode:04o}: other users can reach the tokens"
            ),
            format!("chmod 700 {shown}"),
        ));
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            out.push(Finding::Problem(
                format!("cannot list the store directory {shown}: {e}"),
                format!("chmod 700 {shown} (it must be yours)"),
            ));
            return;
        }
    };
    let mut files = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(m) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        files += 1;
        let mode = m.permissions().mode() & 0o777;
        if m.file_type().is_symlink() {
            ok = false;
            out.push(Finding::Problem(
                format!(
                    "{} is a symbolic link; ooauth2 never makes one",
                    path.display()
                ),
                "move it out of the store directory".into(),
            ));
        } else if mode & 0o077 != 0 {
            ok = false;
            out.push(Finding::Problem(
                format!(
                    "{} has mode {mode:04o}: other users can read or change it",
                    path.display()
                ),
                format!("chmod 600 {}", path.display()),
            ));
        }
    }
    if ok {
        out.push(Finding::Ok(format!(
            "the store directory {shown} is private (0700) and its {files} file(s) are 0600"
        )));
    }
}

/// The config file, if any: read by the same checks every command applies
/// (ownership, mode, directory, size, UTF-8, each key), so doctor calls
/// valid exactly what the other commands accept.
pub(super) fn check_config(settings: &Settings, out: &mut Vec<Finding>) -> Option<config::Config> {
    let path = match settings.config_path() {
        Ok(p) => p,
        Err(e) => {
            out.push(problem_of(&e, "set HOME or OOAUTH2_CONFIG"));
            return None;
        }
    };
    let shown = path.display();
    match config::load(settings) {
        Ok(None) => {
            out.push(Finding::Ok(format!(
                "no config file at {shown} (named accounts are optional)"
            )));
            None
        }
        Ok(Some(c)) => {
            out.push(Finding::Ok(format!(
                "the config file {shown} is valid ({} account(s), not writable by others)",
                c.accounts.len()
            )));
            Some(c)
        }
        Err(e) => {
            out.push(problem_of(&e, "fix the line it names (see the README)"));
            None
        }
    }
}
