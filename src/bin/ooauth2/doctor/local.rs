//! The files doctor reads before any account: the store directory, its
//! owner and modes (and its files' modes), and the config file.

use super::{Finding, problem_of};
use ooauth2::config;
use ooauth2::settings::Settings;
use std::fs::Metadata;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// The effective uid of this process, when /proc tells it (Linux): the
/// same the store and the config file are judged by.
fn current_uid() -> Option<u32> {
    ooauth2::settings::effective_uid()
}

/// The store directory: present, a directory, ours, 0700; its files 0600.
pub(super) fn check_store_dir(dir: &Path, out: &mut Vec<Finding>) {
    let meta = match directory(dir) {
        Ok(m) => m,
        Err(problem) => {
            out.push(problem);
            return;
        }
    };
    let mut problems = owner_and_mode(dir, &meta);
    match count_files(dir, &mut problems) {
        Some(files) if problems.is_empty() => out.push(Finding::Ok(format!(
            "the store directory {} is private (0700) and its {files} file(s) are 0600",
            dir.display()
        ))),
        _ => out.extend(problems),
    }
}

/// The store directory's metadata, or why there is nothing more to check:
/// it is missing, cannot be inspected, or is not a directory.
fn directory(dir: &Path) -> std::result::Result<Metadata, Finding> {
    let shown = dir.display();
    let meta = std::fs::metadata(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Finding::Problem(
            format!("the store directory {shown} does not exist: nothing is signed in"),
            "sign in with `ooauth2 login` (it creates the directory with mode 0700)".into(),
        ),
        _ => Finding::Problem(
            format!("cannot inspect the store directory {shown}: {e}"),
            "check the path and its permissions (or set OOAUTH2_STORE_DIR)".into(),
        ),
    })?;
    if !meta.is_dir() {
        return Err(Finding::Problem(
            format!("the store path {shown} is not a directory"),
            "move it away, or set OOAUTH2_STORE_DIR to a directory".into(),
        ));
    }
    Ok(meta)
}

/// The problems of the store directory itself: another owner, or a mode
/// that lets other users in.
fn owner_and_mode(dir: &Path, meta: &Metadata) -> Vec<Finding> {
    let shown = dir.display();
    let mut problems = Vec::new();
    if let Some(uid) = current_uid()
        && meta.uid() != uid
    {
        problems.push(Finding::Problem(
            format!(
                "the store directory {shown} belongs to uid {}, not to you (uid {uid})",
                meta.uid()
            ),
            format!("chown -R {uid} {shown}, or set OOAUTH2_STORE_DIR to a directory of yours"),
        ));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        problems.push(Finding::Problem(
            format!(
                "the store directory {shown} has mode {mode:04o}: other users can reach the tokens"
            ),
            format!("chmod 700 {shown}"),
        ));
    }
    problems
}

/// How many files the store directory holds, each file's problem added to
/// `problems`; `None` (and that problem) when it cannot be listed.
fn count_files(dir: &Path, problems: &mut Vec<Finding>) -> Option<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            let shown = dir.display();
            problems.push(Finding::Problem(
                format!("cannot list the store directory {shown}: {e}"),
                format!("chmod 700 {shown} (it must be yours)"),
            ));
            return None;
        }
    };
    let mut files = 0;
    for path in entries.flatten().map(|entry| entry.path()) {
        // A file that vanished since the listing is no longer a problem.
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        files += 1;
        problems.extend(file_problem(&path, &meta));
    }
    Some(files)
}

/// What is wrong with one file of the store directory, if anything: a
/// symbolic link (which could point the tokens elsewhere), or a mode that
/// lets other users read or change it.
fn file_problem(path: &Path, meta: &Metadata) -> Option<Finding> {
    let shown = path.display();
    let mode = meta.permissions().mode() & 0o777;
    if meta.file_type().is_symlink() {
        Some(Finding::Problem(
            format!("{shown} is a symbolic link; ooauth2 never makes one"),
            "move it out of the store directory".into(),
        ))
    } else if mode & 0o077 != 0 {
        Some(Finding::Problem(
            format!("{shown} has mode {mode:04o}: other users can read or change it"),
            format!("chmod 600 {shown}"),
        ))
    } else {
        None
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
