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
pub(super) struct Place<'t> {
    pub(super) path: &'t Path,
    pub(super) text: &'t str,
}

impl Place<'_> {
    /// An error at byte `offset`, naming the file and line.
    pub(super) fn at(&self, offset: usize, what: String) -> Error {
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
        let at = e.span().map(|s| s.start).unwrap_or(0);
        // An account key's value written bare (`client_id = test-client`)
        // is the likely mistake: toml would say "invalid boolean".
        unquoted(&place, at).unwrap_or_else(|| {
            // toml's message says what was expected, never the value found.
            place.at(at, format!("invalid TOML: {}", e.message()))
        })
    })?;
    let mut accounts = Vec::new();
    let mut proxies = None;
    for (key, value) in sorted(root.get_ref()) {
        if key.get_ref() == "proxy" {
            proxies = Some((key, value));
            continue;
        }
        if key.get_ref() != "accounts" {
            return Err(place
                .at(
                    key.span().start,
                    format!("unknown key '{}'", shown(key.get_ref())),
                )
                .hint("the file holds [accounts.NAME] and [proxy.NAME] tables only"));
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
    // After the accounts: a listener names the accounts it serves.
    let listeners = match proxies {
        Some((key, value)) => super::proxy::tables(&place, key, value, &accounts)?,
        None => Vec::new(),
    };
    Ok(Config {
        path: path.to_path_buf(),
        accounts,
        listeners,
    })
}

pub(super) type Entry<'a, 'i> = (
    &'a toml::Spanned<std::borrow::Cow<'i, str>>,
    &'a toml::Spanned<DeValue<'i>>,
);

/// A table's entries in file order, so the first error reported is the first in the file.
pub(super) fn sorted<'a, 'i>(table: &'a DeTable<'i>) -> Vec<Entry<'a, 'i>> {
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
        return Err(place
            .at(
                key_at,
                format!("[accounts.{name}]: unknown key '{}'", shown(k)),
            )
            .hint(unknown_key_hint(k)));
    };
    let v = match (rk.kind(), value.get_ref()) {
        (Kind::Number, DeValue::Integer(i)) => u64::from_str_radix(i.as_str(), i.radix())
            .map(|n| n.to_string())
            .map_err(|_| bad("must be a whole number, 0 or more"))?,
        (Kind::Switch, DeValue::Boolean(b)) => b.to_string(),
        (Kind::Number | Kind::Switch, _) => return Err(bad(&kind_rule(rk))),
        (Kind::Text, DeValue::String(s)) => s.to_string(),
        (Kind::Text, other) => {
            let written = place.text.get(value.span()).unwrap_or_default();
            let err = bad(&format!("must be a string, not {}", other.type_str()));
            return Err(match quoted_example(k, written) {
                Some(example) => err.hint(format!("values are quoted: {example}")),
                None => err,
            });
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

/// What a value of `rk`'s kind looks like, for a message about a wrong one.
fn kind_rule(rk: RequestKey) -> String {
    match rk.kind() {
        Kind::Number => format!(
            "must be a whole number, unquoted (e.g. {} = 300)",
            rk.name()
        ),
        Kind::Switch => "must be true or false, unquoted".into(),
        Kind::Text => "must be a string, in quotes".into(),
    }
}

/// The error for a TOML syntax error at byte `at` when its line is an
/// account key with a bare value (`client_id = test-client`), naming the
/// key and, for a string, the line as it should read. `None` for any other
/// line, which toml's own message explains. A value is shown only for the
/// keys of the config file, none of which is a secret.
fn unquoted(place: &Place, at: usize) -> Option<Error> {
    let at = at.min(place.text.len());
    let start = place.text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = place.text[at..]
        .find('\n')
        .map_or(place.text.len(), |i| at + i);
    let (key, value) = place.text[start..end].split_once('=')?;
    let key = key.trim();
    // An unquoted value cannot hold a comment: it ends at the first '#'.
    let value = value.split('#').next().unwrap_or_default().trim();
    let rk = RequestKey::from_name(key).filter(|rk| rk.sources().config)?;
    if value.is_empty() || value.starts_with(['"', '\'', '[', '{']) {
        return None;
    }
    let table = table_above(place.text, start)
        .map(|t| format!("{t} "))
        .unwrap_or_default();
    if rk.kind() != Kind::Text {
        return Some(place.at(start, format!("{table}{key}: {}", kind_rule(rk))));
    }
    let err = place.at(start, format!("{table}{key}: the value is not quoted"));
    Some(match quoted_example(key, value) {
        Some(example) => err.hint(format!("values are quoted: {example}")),
        None => err.hint(format!("values are quoted: {key} = \"...\"")),
    })
}

/// The `[table]` header above byte `offset` of `text`, if any.
fn table_above(text: &str, offset: usize) -> Option<&str> {
    text[..offset]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .and_then(|l| l.split_inclusive(']').next())
}

/// `key = "value"`, the line as it should read, when `value` is short and
/// plain enough to show and needs no escape.
fn quoted_example(key: &str, value: &str) -> Option<String> {
    let plain = !value.is_empty() && shown(value) == value && !value.contains(['"', '\\']);
    plain.then(|| format!("{key} = \"{value}\""))
}

/// The name of `names` that `k` is a typo of, when one is close (an edit
/// or two away, hyphens and case aside).
pub(super) fn closest<'n>(k: &str, names: impl Iterator<Item = &'n str>) -> Option<&'n str> {
    let typed = k.to_ascii_lowercase().replace('-', "_");
    // Two edits for a long name, one for a short one: `usr` is `user`, `x` is nothing.
    let allowed = (typed.chars().count() / 4).clamp(1, 2);
    names
        .map(|name| (strsim::osa_distance(&typed, name), name))
        .filter(|&(d, _)| d <= allowed)
        .min_by_key(|&(d, _)| d)
        .map(|(_, name)| name)
}

/// The hint for an unknown key `k`: the config key it is a typo of, when
/// one is close (an edit or two away, hyphens and case aside), else every
/// key.
fn unknown_key_hint(k: &str) -> String {
    match closest(k, keys::config_keys().map(RequestKey::name)) {
        Some(name) => format!("did you mean {name}?"),
        None => {
            let names: Vec<&str> = keys::config_keys().map(RequestKey::name).collect();
            format!("the keys are: {}", names.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> Error {
        match parse(text, Path::new("/c.toml")) {
            Ok(_) => panic!("{text:?} was accepted"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_bare_value_is_named_with_the_line_as_it_should_read() {
        let e = error("[accounts.w]\n\nclient_id = test-client # mine\n");
        assert_eq!(
            e.message,
            "/c.toml:3: [accounts.w] client_id: the value is not quoted"
        );
        assert_eq!(
            e.hint.as_deref(),
            Some("values are quoted: client_id = \"test-client\"")
        );
        let e = error("[accounts.w]\nmin_ttl = 5m\n");
        assert!(
            e.message
                .ends_with("min_ttl: must be a whole number, unquoted (e.g. min_ttl = 300)")
        );
        let e = error("[accounts.w]\nuser = 5\n");
        assert_eq!(e.hint.as_deref(), Some("values are quoted: user = \"5\""));
        // Not an account key, or a secret's: toml's message, no value shown.
        let e = error("[accounts.w]\nclient_secret = hunter2\n");
        assert!(e.message.contains("invalid TOML") && !e.message.contains("hunter2"));
        assert!(
            error("[accounts.w]\nuser = \"a\n")
                .message
                .contains("invalid TOML")
        );
    }

    #[test]
    fn a_near_miss_key_is_named_and_only_a_far_one_lists_them_all() {
        for (typo, key) in [
            ("clientid", "client_id"),
            ("Client-Id", "client_id"),
            ("tennant", "tenant"),
            ("usr", "user"),
            ("redirect_prot", "redirect_port"),
        ] {
            assert_eq!(
                unknown_key_hint(typo),
                format!("did you mean {key}?"),
                "{typo}"
            );
        }
        for far in ["x", "password", "tenant_name"] {
            assert!(
                unknown_key_hint(far).starts_with("the keys are: provider, client_id"),
                "{far}"
            );
        }
    }
}
