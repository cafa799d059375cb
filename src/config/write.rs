//! Writing one account to the config file (`ooauth2 setup`): its
//! `[accounts.NAME]` table appended, or replaced in place, and the rest of
//! the file kept byte for byte, comments included. The file read must pass
//! every check of the `file` module first (an unsafe or broken file is
//! refused, as every command refuses it), the text to write is read back by
//! the same [`parse`] every command uses, and it replaces the old file
//! atomically: a new file beside it, fsync'd, renamed into place. A new file
//! is 0600 in a directory of ours (created 0700); an existing one keeps its
//! mode, which the checks already found safe.

use super::{Named, bad_name, file, parse};
use crate::error::{Code, Error, Result};
use crate::protocol::keys::{self, Kind, Raw, RequestKey};
use crate::replace::{Failure, TempFile};
use crate::settings::{CONFIG_ENV, Settings};
use std::fs::{self, DirBuilder};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use toml_edit::{DocumentMut, Item, Table, Value};

/// The first lines of a config file `ooauth2 setup` creates.
const NEW_FILE_HEADER: &str = "\
# ooauth2's named accounts: `ooauth2 token NAME` reads [accounts.NAME].
# Written by `ooauth2 setup`; edit freely, and keep it private (chmod 600).

";

/// A change of the config file, planned and checked but not yet made.
#[derive(Debug, Clone)]
pub struct Edit {
    /// The config file, as the settings name it.
    path: PathBuf,
    /// Its text now; `None` when there is no file yet.
    old: Option<String>,
    /// Its text after the change.
    new: String,
    /// Whether the account was there already (and is replaced).
    replaces: bool,
}

impl Edit {
    /// The config file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's text now (empty when there is none).
    pub fn old_text(&self) -> &str {
        self.old.as_deref().unwrap_or_default()
    }

    /// The file's text after the change.
    pub fn new_text(&self) -> &str {
        &self.new
    }

    /// Whether an account of that name is there already and is replaced.
    pub fn replaces(&self) -> bool {
        self.replaces
    }

    /// Whether writing would change the file at all.
    pub fn changes(&self) -> bool {
        self.old.as_deref() != Some(self.new.as_str())
    }

    /// The change that puts back the text this one replaces, once it is
    /// written; `None` when there was no file before.
    pub fn undo(&self) -> Option<Edit> {
        Some(Edit {
            path: self.path.clone(),
            old: Some(self.new.clone()),
            new: self.old.clone()?,
            replaces: true,
        })
    }

    /// Makes the change: refused when the file changed since it was
    /// planned (an editor, another setup), else written atomically.
    pub fn write(&self) -> Result<()> {
        if file::read(&self.path)? != self.old {
            return Err(Error::invalid(format!(
                "the config file {} changed while ooauth2 setup ran; nothing was written",
                self.path.display()
            ))
            .hint("run ooauth2 setup again"));
        }
        let target = real_path(&self.path)?;
        let dir = directory(&target);
        if self.old.is_none() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| write_error(&self.path, &dir, &e))?;
        }
        // An existing file's directories were checked as it was read.
        file::check_directories(&self.path)?;
        let mode = match fs::metadata(&target) {
            Ok(m) => m.mode() & 0o755,
            Err(_) => 0o600,
        };
        replace_file(&self.path, &target, &self.new, mode)
    }
}

/// Plans writing account `name` with the config keys `raw` gives, in the
/// key table's order. Its other keys are not written, and a secret never
/// is (a `client_secret` has no config text). Refuses, changing nothing, a
/// bad name, a config file any command would refuse, and an edit whose
/// result would not read back as exactly this account beside the others.
pub fn plan_account(settings: &Settings, name: &str, raw: &Raw) -> Result<Edit> {
    check_name(name)?;
    let path = settings.config_path()?;
    let old = file::read(&path)?;
    // A new file's directory is checked now too (an existing one's was,
    // as the file was read), and a link that leads nowhere refused, before
    // the change is shown.
    file::check_directories(&path)?;
    real_path(&path)?;
    let values: Vec<(RequestKey, &str)> = keys::config_keys()
        .filter_map(|k| raw.config_text(k).map(|v| (k, v)))
        .collect();
    let before = match &old {
        Some(text) => parse(text, &path)?.accounts,
        None => Vec::new(),
    };
    let replaces = before.iter().any(|a| a.name == name);
    let new = match &old {
        None => format!("{NEW_FILE_HEADER}{}", table_text(name, &values)?),
        Some(text) if replaces => replace(text, name, &values, &path)?,
        Some(text) => append(text, name, &values)?,
    };
    read_back(&new, &path, name, &values, &before)?;
    Ok(Edit {
        path,
        old,
        new,
        replaces,
    })
}

/// An account name `ooauth2 token NAME` takes, as setup writes it.
pub fn check_name(name: &str) -> Result<()> {
    match bad_name(name) {
        Some(bad) => Err(Error::invalid(bad).hint("e.g. ooauth2 setup work")),
        None => Ok(()),
    }
}

/// The TOML value of `key` from its text, of the key's TOML type.
fn value(key: RequestKey, text: &str) -> Result<Value> {
    let bad = || Error::invalid(format!("{}: '{text}' is not a valid value", key.name()));
    Ok(match key.kind() {
        Kind::Text => Value::from(text),
        Kind::Number => Value::from(text.parse::<i64>().map_err(|_| bad())?),
        Kind::Switch => Value::from(text.parse::<bool>().map_err(|_| bad())?),
    })
}

/// `[accounts.NAME]` with `values`, as TOML text.
fn table_text(name: &str, values: &[(RequestKey, &str)]) -> Result<String> {
    let mut table = Table::new();
    for (k, v) in values {
        table.insert(k.name(), Item::Value(value(*k, v)?));
    }
    let mut accounts = Table::new();
    accounts.set_implicit(true);
    accounts.insert(name, Item::Table(table));
    let mut doc = DocumentMut::new();
    doc.insert("accounts", Item::Table(accounts));
    Ok(doc.to_string())
}

/// `old` with the new table at its end, after a blank line, in the file's
/// own line endings: every byte of `old` stays as it is.
fn append(old: &str, name: &str, values: &[(RequestKey, &str)]) -> Result<String> {
    let nl = if old.contains("\r\n") { "\r\n" } else { "\n" };
    let mut text = old.to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push_str(nl);
    }
    if !text.trim().is_empty() && !text.ends_with(&format!("{nl}{nl}")) {
        text.push_str(nl);
    }
    text.push_str(&table_text(name, values)?.replace('\n', nl));
    Ok(text)
}

/// `old` with account `name`'s table holding exactly `values`, changed in
/// place: a value already there keeps its line (and its comment), one
/// that changes keeps its spacing and comment, new keys come at the end
/// of the table, keys not written go; nothing else in the file moves.
fn replace(old: &str, name: &str, values: &[(RequestKey, &str)], path: &Path) -> Result<String> {
    let cannot = |why: &str| {
        Error::invalid(format!(
            "cannot replace [accounts.{name}] in {} without touching the rest: {why}",
            path.display()
        ))
        .hint(format!(
            "remove [accounts.{name}] from the file, or pick another account name"
        ))
    };
    let mut doc: DocumentMut = old.parse().map_err(|_| cannot("it does not parse"))?;
    if doc.to_string() != old {
        return Err(cannot("it does not read back as written"));
    }
    let table = doc
        .get_mut("accounts")
        .and_then(Item::as_table_like_mut)
        .and_then(|a| a.get_mut(name))
        .and_then(Item::as_table_like_mut)
        .ok_or_else(|| cannot("it is not a table"))?;
    let gone: Vec<String> = table
        .iter()
        .map(|(k, _)| k.to_string())
        .filter(|k| !values.iter().any(|(v, _)| v.name() == k))
        .collect();
    for k in gone {
        table.remove(&k);
    }
    for (k, v) in values {
        let new = value(*k, v)?;
        match table.get_mut(k.name()) {
            Some(item) => keep_format(item, new),
            None => {
                table.insert(k.name(), Item::Value(new));
            }
        }
    }
    Ok(doc.to_string())
}

/// Puts `new` in `item`: nothing changes when the value is the same, else
/// the old value's spacing and trailing comment stay.
fn keep_format(item: &mut Item, mut new: Value) {
    if let Some(old) = item.as_value() {
        let same = match (old, &new) {
            (Value::String(a), Value::String(b)) => a.value() == b.value(),
            (Value::Integer(a), Value::Integer(b)) => a.value() == b.value(),
            (Value::Boolean(a), Value::Boolean(b)) => a.value() == b.value(),
            _ => false,
        };
        if same {
            return;
        }
        *new.decor_mut() = old.decor().clone();
    }
    *item = Item::Value(new);
}

/// The config values of an account, in the key table's order.
fn values_of(named: &Named) -> Vec<(RequestKey, String)> {
    keys::config_keys()
        .filter_map(|k| named.raw.config_text(k).map(|v| (k, v.to_string())))
        .collect()
}

/// Reads `new` back as every command will: account `name` must hold
/// exactly `values`, and the others of `before` what they held.
fn read_back(
    new: &str,
    path: &Path,
    name: &str,
    values: &[(RequestKey, &str)],
    before: &[Named],
) -> Result<()> {
    let broken = |why: String| {
        Error::invalid(format!(
            "cannot write [accounts.{name}] into {}: {why}; nothing was written",
            path.display()
        ))
        .hint(format!(
            "add the [accounts.{name}] table to the file by hand (protocol.md section 3.1)"
        ))
    };
    let after = parse(new, path).map_err(|e| broken(e.message))?;
    let want: Vec<(RequestKey, String)> = values.iter().map(|(k, v)| (*k, v.to_string())).collect();
    let others = |accounts: &[Named]| -> Vec<(String, Vec<(RequestKey, String)>)> {
        accounts
            .iter()
            .filter(|a| a.name != name)
            .map(|a| (a.name.clone(), values_of(a)))
            .collect()
    };
    match after.accounts.iter().find(|a| a.name == name) {
        Some(a) if values_of(a) == want => {}
        _ => return Err(broken("the file's layout gives another table".into())),
    }
    if others(&after.accounts) != others(before) {
        return Err(broken("the other accounts would change".into()));
    }
    Ok(())
}

/// The file a write must replace: the target of a symbolic link (a
/// dotfile manager's), so that the link stays.
fn real_path(path: &Path) -> Result<PathBuf> {
    let is_link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if !is_link {
        return Ok(path.to_path_buf());
    }
    fs::canonicalize(path).map_err(|e| {
        Error::new(
            Code::StoreError,
            format!(
                "the config file {} is a symbolic link that leads nowhere ({e})",
                path.display()
            ),
        )
        .hint(format!(
            "create the file it points to, or point {CONFIG_ENV} at another"
        ))
    })
}

/// The directory of `path` (`.` for a bare file name).
fn directory(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A failure to write the config file `path` in `dir`.
fn write_error(path: &Path, dir: &Path, e: &std::io::Error) -> Error {
    Error::new(
        Code::StoreError,
        format!("cannot write the config file {}: {e}", path.display()),
    )
    .hint(format!(
        "nothing was changed; check that {} is yours and writable, or point {CONFIG_ENV} at another file",
        dir.display()
    ))
}

/// Replaces `target` (the file `path` names) by `text` with `mode`, as
/// the store replaces its records: a crash leaves the old file or the new.
fn replace_file(path: &Path, target: &Path, text: &str, mode: u32) -> Result<()> {
    let failed = |f: Failure| write_error(path, &directory(target), &f.error);
    TempFile::create(target, mode)
        .map_err(failed)?
        .commit(text.as_bytes())
        .map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(RequestKey, &str)]) -> Raw {
        let mut raw = Raw::default();
        for (k, v) in pairs {
            raw.set(*k, v.to_string());
        }
        raw
    }

    fn values<'a>(pairs: &'a [(RequestKey, &'a str)]) -> Vec<(RequestKey, &'a str)> {
        pairs.to_vec()
    }

    const WORK: &[(RequestKey, &str)] = &[
        (RequestKey::Provider, "microsoft"),
        (RequestKey::ClientId, "cid"),
        (RequestKey::User, "me@example.com"),
    ];

    #[test]
    fn a_new_table_is_plain_toml_in_the_key_tables_order() {
        let text = table_text(
            "a.b",
            &values(&[
                (RequestKey::Provider, "google"),
                (RequestKey::ClientId, "c\"1"),
                (RequestKey::RedirectPort, "8765"),
                (RequestKey::OpenBrowser, "false"),
            ]),
        )
        .unwrap();
        assert_eq!(
            text,
            "[accounts.\"a.b\"]\nprovider = \"google\"\nclient_id = 'c\"1'\n\
             redirect_port = 8765\nopen_browser = false\n"
        );
    }

    #[test]
    fn appending_keeps_every_byte_of_the_file() {
        for old in [
            "",
            "# just a comment",
            "# mail\n[accounts.home] # mine\nclient_id = \"h\"   # spaced\n\n# trailing\n",
            "[accounts.home]\r\nclient_id = \"h\"\r\n",
        ] {
            let new = append(old, "work", WORK).unwrap();
            assert!(new.starts_with(old), "{new:?}");
            let added = &new[old.len()..];
            assert!(added.trim_start().starts_with("[accounts.work]"), "{new:?}");
            assert_eq!(added.contains("\r\n"), old.contains("\r\n"));
            parse(&new, Path::new("/c.toml")).unwrap();
        }
    }

    #[test]
    fn replacing_changes_only_the_table_and_keeps_its_comments() {
        let old = "# top\n[accounts.home]\nclient_id = \"h\"\n\n\
                   # work's\n[accounts.work]  # the job\nprovider = \"microsoft\"\n\
                   client_id   =   \"old\"  # from IT\nuser = \"me@example.com\" # me\n\
                   min_ttl = 60\n\n# last\n[accounts.z]\nclient_id = \"z\"\n";
        let new = replace(old, "work", WORK, Path::new("/c.toml")).unwrap();
        assert_eq!(
            new,
            "# top\n[accounts.home]\nclient_id = \"h\"\n\n\
             # work's\n[accounts.work]  # the job\nprovider = \"microsoft\"\n\
             client_id   =   \"cid\"  # from IT\nuser = \"me@example.com\" # me\n\n\
             # last\n[accounts.z]\nclient_id = \"z\"\n"
        );
        // Inline tables are edited in place too.
        let old = "accounts = { work = { client_id = \"old\" }, b = { client_id = \"b\" } }\n";
        let new = replace(old, "work", WORK, Path::new("/c.toml")).unwrap();
        let c = parse(&new, Path::new("/c.toml")).unwrap();
        assert_eq!(values_of(&c.accounts[0]).len(), 3);
        assert!(new.contains("b = { client_id = \"b\" }"), "{new}");
    }

    #[test]
    fn what_would_not_read_back_is_refused() {
        let before = parse(
            "accounts = { b = { client_id = \"b\" } }\n",
            Path::new("/c.toml"),
        )
        .unwrap()
        .accounts;
        // An inline `accounts` cannot take a table after it.
        let new = append("accounts = { b = { client_id = \"b\" } }\n", "w", WORK).unwrap();
        let e = read_back(&new, Path::new("/c.toml"), "w", WORK, &before).unwrap_err();
        assert!(e.message.contains("nothing was written"), "{}", e.message);
    }

    #[test]
    fn secrets_and_non_config_keys_are_never_written() {
        let r = raw(&[
            (RequestKey::Action, "login"),
            (RequestKey::ClientId, "c"),
            (RequestKey::ClientSecret, "hunter2"),
            (RequestKey::ClientSecretCmd, "pass show x"),
            (RequestKey::Host, "imap.example.com"),
        ]);
        let kept: Vec<(RequestKey, &str)> = keys::config_keys()
            .filter_map(|k| r.config_text(k).map(|v| (k, v)))
            .collect();
        assert_eq!(
            kept,
            [
                (RequestKey::ClientId, "c"),
                (RequestKey::ClientSecretCmd, "pass show x")
            ]
        );
    }
}
