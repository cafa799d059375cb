//! The config file's TOML, checked key by key against THE key table: each
//! error names the file and line, and a value obeys exactly the rules the
//! helper protocol applies to it.

use super::{Config, Named};
use crate::error::{Error, Result, shown};
use crate::protocol::keys::{self, Kind, Raw, RequestKey};
use crate::request;
use crate::secret::SecretCommand;
use std::path::Path;
use toml::de::{DeTable, DeValue};

/// 1-based line of a byte offset.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Account names go into command lines and `account=`: short and plain.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// What is wrong with `name` as an account name (`None`: nothing): the
/// one message of a bad name, the file's and `ooauth2 setup`'s.
pub fn bad_name(name: &str) -> Option<String> {
    (!valid_name(name)).then(|| {
        format!(
            "account name '{}' must be 1 to 64 of A-Z a-z 0-9 . _ -",
            shown(name)
        )
    })
}

/// The file being parsed, for messages.
struct Place<'t> {
    path: &'t Path,
    text: &'t str,
}

impl Place<'_> {
    /// An error at byte `offset`, naming the file and line.
    fn at(&self, offset: usize, what: String) -> Error {
        Error::invalid(format!(
            "{}:{}: {what}",
            self.path.display(),
            line_of(self.text, offset)
        ))
        .hint("fix that line; the README and protocol.md section 3.1 show the format")
    }
}

/// Parses and checks a config file's text; `path` is only for messages.
pub fn parse(text: &str, path: &Path) -> Result<Config> {
    let place = Place { path, text };
    let root = DeTable::parse(text).map_err(|e| {
        // toml's message says what was expected, never the value found.
        place.at(
            e.span().map(|s| s.start).unwrap_or(0),
            format!("invalid TOML: {}", e.message()),
        )
    })?;
    let mut accounts = Vec::new();
    for (key, value) in sorted(root.get_ref()) {
        if key.get_ref() != "accounts" {
            return Err(place
                .at(
                    key.span().start,
                    format!("unknown key '{}'", shown(key.get_ref())),
                )
                .hint("the file holds [accounts.NAME] tables only"));
        }
        let Some(table) = value.get_ref().as_table() else {
            return Err(place.at(
                key.span().start,
                "'accounts' must be a table of [accounts.NAME] tables".into(),
            ));
        };
        for (name, body) in sorted(table) {
            accounts.push(account_table(&place, name, body)?);
        }
    }
    Ok(Config {
        path: path.to_path_buf(),
        accounts,
    })
}

type Entry<'a, 'i> = (
    &'a toml::Spanned<std::borrow::Cow<'i, str>>,
    &'a toml::Spanned<DeValue<'i>>,
);

/// A table's entries in file order, so the first error reported is the first in the file.
fn sorted<'a, 'i>(table: &'a DeTable<'i>) -> Vec<Entry<'a, 'i>> {
    let mut v: Vec<_> = table.iter().collect();
    v.sort_by_key(|(k, _)| k.span().start);
    v
}

/// One `[accounts.NAME]` entry: a valid name over a table.
fn account_table(
    place: &Place,
    name: &toml::Spanned<std::borrow::Cow<'_, str>>,
    body: &toml::Spanned<DeValue<'_>>,
) -> Result<Named> {
    let name_at = name.span().start;
    let name = name.get_ref();
    if let Some(bad) = bad_name(name) {
        return Err(place.at(name_at, bad));
    }
    let Some(body) = body.get_ref().as_table() else {
        return Err(place.at(
            name_at,
            format!("accounts.{name} must be a table ([accounts.{name}])"),
        ));
    };
    let mut raw = Raw::default();
    for (key, value) in sorted(body) {
        let (k, v) = entry(place, name, key, value)?;
        if k == RequestKey::ClientSecretCmd {
            // Its messages name the file and line it came from.
            let line = line_of(place.text, key.span().start);
            raw.client_secret_cmd = Some(SecretCommand::from_config(name, place.path, line, v));
        } else {
            raw.set(k, v);
        }
    }
    Ok(Named {
        name: name.to_string(),
        raw,
    })
}

/// One `key = value` of an account table: a config key of the table, its
/// value of the key's TOML kind, checked by the protocol's rules.
fn entry(
    place: &Place,
    name: &str,
    key: &toml::Spanned<std::borrow::Cow<'_, str>>,
    value: &toml::Spanned<DeValue<'_>>,
) -> Result<(RequestKey, String)> {
    let k = key.get_ref().as_ref();
    let key_at = key.span().start;
    let bad = |what: &str| place.at(key_at, format!("[accounts.{name}] {k}: {what}"));
    let Some(rk) = RequestKey::from_name(k).filter(|rk| rk.sources().config) else {
        if k == RequestKey::ClientSecret.name() {
            return Err(bad(
                "a plain client secret is not accepted in the config file (value not shown)",
            )
            .hint("use client_secret_cmd = \"pass show ...\" so the secret stays in your password store"));
        }
        let names: Vec<&str> = keys::config_keys().map(RequestKey::name).collect();
        return Err(place
            .at(
                key_at,
                format!("[accounts.{name}]: unknown key '{}'", shown(k)),
            )
            .hint(format!("the keys are: {}", names.join(", "))));
    };
    let v = match (rk.kind(), value.get_ref()) {
        (Kind::Number, DeValue::Integer(i)) => u64::from_str_radix(i.as_str(), i.radix())
            .map(|n| n.to_string())
            .map_err(|_| bad("must be a whole number, 0 or more"))?,
        (Kind::Number, _) => {
            return Err(bad(&format!(
                "must be a whole number, unquoted (e.g. {k} = 300)"
            )));
        }
        (Kind::Switch, DeValue::Boolean(b)) => b.to_string(),
        (Kind::Switch, _) => return Err(bad("must be true or false, unquoted")),
        (Kind::Text, DeValue::String(s)) => s.to_string(),
        (Kind::Text, other) => {
            return Err(bad(&format!("must be a string, not {}", other.type_str())));
        }
    };
    // The rules of the helper protocol, reported at this line.
    request::check_value(rk, &v).map_err(|e| {
        let mut err = bad(&e.message);
        err.hint = e.hint;
        err
    })?;
    Ok((rk, v))
}
