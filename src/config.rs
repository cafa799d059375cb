//! Named accounts: the TOML config file that lets `ooauth2 token work` (and
//! `account=work` in the helper protocol) stand for a whole set of request
//! keys. The file only supplies key/value pairs; explicit keys are laid over
//! them and [`Request::from_pairs`] validates the result, so a named account
//! can never take a path the other front ends cannot.
//!
//! ```toml
//! [accounts.work]
//! provider = "microsoft"
//! client_id = "9e5f94bc-e8a4-4e73-b8be-63364c29d753"
//! tenant = "contoso.onmicrosoft.com"
//! user = "me@contoso.com"
//! client_secret_cmd = "pass show mail/work-client-secret"
//! ```

use crate::error::{Code, Error, Result, shown};
use crate::request::Request;
use crate::secret::SecretCommand;
use crate::settings::{CONFIG_ENV, Settings};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use toml::de::{DeTable, DeValue};

/// Every key an account table may hold, in documentation order.
pub const ACCOUNT_KEYS: &[&str] = &[
    "provider",
    "client_id",
    "client_secret_cmd",
    "notify_cmd",
    "tenant",
    "authority",
    "user",
    "scope",
    "min_ttl",
    "flow",
    "redirect_port",
    "signin_timeout",
    "open_browser",
    "authorization_endpoint",
    "token_endpoint",
    "device_authorization_endpoint",
    "issuer",
];

/// A config file is a few hundred bytes; anything near this is not one.
const MAX_CONFIG: u64 = 1024 * 1024;

/// The parsed config file.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub accounts: Vec<Named>,
}

/// One `[accounts.NAME]` table, checked.
#[derive(Debug, Clone)]
pub struct Named {
    pub name: String,
    /// Request pairs the file gives (client_id, tenant, ...), values checked.
    pub pairs: Vec<(String, String)>,
    pub secret_cmd: Option<SecretCommand>,
    /// A command told the sign-in code when no terminal can show it.
    pub notify_cmd: Option<String>,
}

/// Reads and checks the config file; `None` if there is none.
pub fn load(settings: &Settings) -> Result<Option<Config>> {
    let path = settings.config_path()?;
    let unreadable = |e: &std::io::Error| {
        Error::new(
            Code::StoreError,
            format!("cannot read the config file {}: {e}", path.display()),
        )
        .hint(format!("check the file, or point {CONFIG_ENV} at another"))
    };
    // One open: the mode checked is the mode of the file read.
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(&e)),
    };
    let meta = file.metadata().map_err(|e| unreadable(&e))?;
    if !meta.is_file() {
        return Err(Error::new(
            Code::StoreError,
            format!("the config file {} is not a regular file", path.display()),
        )
        .hint(format!("make it a file, or point {CONFIG_ENV} at one")));
    }
    // The file names commands ooauth2 runs: whoever can write it (or its
    // directory) runs code as you.
    check_owner(&path, &meta)?;
    if meta.permissions().mode() & 0o022 != 0 {
        return Err(Error::new(
            Code::StoreError,
            format!(
                "the config file {} is writable by other users; refusing to use it",
                path.display()
            ),
        )
        .hint(format!("run: chmod 600 {}", path.display())));
    }
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
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = line_of(
            &String::from_utf8_lossy(e.as_bytes()),
            e.utf8_error().valid_up_to(),
        );
        Error::invalid(format!("{}:{line}: not valid UTF-8", path.display()))
            .hint("save the file as UTF-8")
    })?;
    parse(&text, &path).map(Some)
}

/// Refuses a config file owned by another user (who could rewrite it at
/// will), or in a directory others can write to without the sticky bit
/// (who could replace it). root's files are trusted: root can do both anyway.
fn check_owner(path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's effective user.
    if let Ok(me) = std::fs::metadata("/proc/self").map(|m| m.uid())
        && meta.uid() != me
        && meta.uid() != 0
    {
        return Err(Error::new(
            Code::StoreError,
            format!(
                "the config file {} belongs to another user (uid {}); refusing to use it",
                path.display(),
                meta.uid()
            ),
        )
        .hint("copy it to a file of your own, or point OOAUTH2_CONFIG at one"));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = std::fs::metadata(dir) {
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

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
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

/// Parses and checks a config file's text; `path` is only for messages.
pub fn parse(text: &str, path: &Path) -> Result<Config> {
    // Each error says which line to fix; the specific ones say how.
    let at = |offset: usize, what: String| {
        Error::invalid(format!(
            "{}:{}: {what}",
            path.display(),
            line_of(text, offset)
        ))
        .hint("fix that line; the README and protocol.md section 3.1 show the format")
    };
    let root = DeTable::parse(text).map_err(|e| {
        // toml's message says what was expected, never the value found.
        at(
            e.span().map(|s| s.start).unwrap_or(0),
            format!("invalid TOML: {}", e.message()),
        )
    })?;
    let mut accounts = Vec::new();
    for (key, value) in sorted(root.get_ref()) {
        if key.get_ref() != "accounts" {
            return Err(at(
                key.span().start,
                format!("unknown key '{}'", shown(key.get_ref())),
            )
            .hint("the file holds [accounts.NAME] tables only"));
        }
        let Some(table) = value.get_ref().as_table() else {
            return Err(at(
                key.span().start,
                "'accounts' must be a table of [accounts.NAME] tables".into(),
            ));
        };
        for (name, body) in sorted(table) {
            let name_at = name.span().start;
            let name = name.get_ref();
            if !valid_name(name) {
                return Err(at(
                    name_at,
                    format!(
                        "account name '{}' must be 1 to 64 of A-Z a-z 0-9 . _ -",
                        shown(name)
                    ),
                ));
            }
            let Some(body) = body.get_ref().as_table() else {
                return Err(at(
                    name_at,
                    format!("accounts.{name} must be a table ([accounts.{name}])"),
                ));
            };
            accounts.push(account(name, body, text, path, &at)?);
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

fn account(
    name: &str,
    body: &DeTable<'_>,
    text: &str,
    path: &Path,
    at: &dyn Fn(usize, String) -> Error,
) -> Result<Named> {
    let mut pairs = Vec::new();
    let mut secret_cmd = None;
    let mut notify_cmd = None;
    for (key, value) in sorted(body) {
        let k = key.get_ref().as_ref();
        let key_at = key.span().start;
        let bad = |what: &str| at(key_at, format!("[accounts.{name}] {k}: {what}"));
        if k == "client_secret" {
            return Err(bad(
                "a plain client secret is not accepted in the config file (value not shown)",
            )
            .hint("use client_secret_cmd = \"pass show ...\" so the secret stays in your password store"));
        }
        if !ACCOUNT_KEYS.contains(&k) {
            return Err(at(
                key_at,
                format!("[accounts.{name}]: unknown key '{}'", shown(k)),
            )
            .hint(format!("the keys are: {}", ACCOUNT_KEYS.join(", "))));
        }
        let v = match (k, value.get_ref()) {
            ("min_ttl", DeValue::Integer(i)) => u64::from_str_radix(i.as_str(), i.radix())
                .map(|n| n.to_string())
                .map_err(|_| bad("must be a whole number of seconds, 0 to 86400"))?,
            ("min_ttl", _) => return Err(bad("must be a whole number of seconds (min_ttl = 300)")),
            ("redirect_port" | "signin_timeout", DeValue::Integer(i)) => {
                u64::from_str_radix(i.as_str(), i.radix())
                    .map(|n| n.to_string())
                    .map_err(|_| bad("must be a whole number"))?
            }
            ("redirect_port" | "signin_timeout", _) => {
                return Err(bad("must be a whole number (e.g. signin_timeout = 300)"));
            }
            ("open_browser", DeValue::Boolean(b)) => b.to_string(),
            ("open_browser", _) => return Err(bad("must be true or false, unquoted")),
            (_, DeValue::String(s)) => s.to_string(),
            (_, other) => {
                return Err(bad(&format!("must be a string, not {}", other.type_str())));
            }
        };
        match k {
            "client_secret_cmd" => {
                if v.trim().is_empty() || v.contains('\0') {
                    return Err(bad("must be a non-empty shell command"));
                }
                secret_cmd = Some(SecretCommand::from_config(
                    name,
                    path,
                    line_of(text, key_at),
                    v,
                ));
            }
            "notify_cmd" => {
                if v.trim().is_empty() || v.contains('\0') {
                    return Err(bad("must be a non-empty shell command"));
                }
                notify_cmd = Some(v);
            }
            _ => {
                // The rules of the helper protocol, reported at this line.
                Request::check_value(k, &v).map_err(|e| {
                    let mut err = bad(&e.message);
                    err.hint = e.hint;
                    err
                })?;
                pairs.push((k.to_string(), v));
            }
        }
    }
    Ok(Named {
        name: name.to_string(),
        pairs,
        secret_cmd,
        notify_cmd,
    })
}

/// Builds the request for `explicit` pairs, filling in the named account's
/// values when `name` (or an `account` pair) names one. Explicit pairs win.
pub fn request(
    mut explicit: Vec<(String, String)>,
    name: Option<&str>,
    settings: &Settings,
) -> Result<Request> {
    let from_pair = explicit
        .iter()
        .position(|(k, _)| k == "account")
        .map(|i| explicit.remove(i).1);
    let Some(name) = name.map(str::to_string).or(from_pair) else {
        return Request::from_pairs(&explicit);
    };
    let config = load(settings)?;
    let path = match &config {
        Some(c) => c.path.clone(),
        None => settings.config_path()?,
    };
    let configured: Vec<&Named> = config.iter().flat_map(|c| &c.accounts).collect();
    let Some(&named) = configured.iter().find(|a| a.name == name) else {
        let names: Vec<&str> = configured.iter().map(|a| a.name.as_str()).collect();
        let what = if valid_name(&name) {
            format!("'{name}'")
        } else {
            "with that name".to_string()
        };
        let err = Error::invalid(format!(
            "no account {what} is configured in {}",
            path.display()
        ));
        return Err(if names.is_empty() {
            err.hint(format!(
                "add an [accounts.NAME] table to {} (see the README)",
                path.display()
            ))
        } else {
            err.hint(format!("configured: {}", names.join(", ")))
        });
    };
    overlay(named, explicit)
}

/// The named account's pairs with `explicit` laid over them, validated once.
fn overlay(named: &Named, explicit: Vec<(String, String)>) -> Result<Request> {
    let mut pairs: Vec<(String, String)> = named
        .pairs
        .iter()
        .filter(|(k, _)| !explicit.iter().any(|(e, _)| e == k))
        .cloned()
        .collect();
    pairs.extend(explicit);
    let mut req = Request::from_pairs(&pairs)?;
    if req.client_secret.is_none() {
        req.client_secret_cmd = named.secret_cmd.clone();
    }
    req.account_name = Some(named.name.clone());
    req.notify_cmd = named.notify_cmd.clone();
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Config> {
        parse(text, Path::new("/c.toml"))
    }

    #[track_caller]
    fn fails(text: &str, needles: &[&str]) {
        let e = parse_str(text).unwrap_err();
        assert_eq!(e.code, Code::InvalidRequest);
        for n in needles {
            assert!(e.message.contains(n), "{n:?} not in {:?}", e.message);
        }
    }

    #[test]
    fn parses_accounts_in_file_order_with_pairs() {
        let c = parse_str(
            "# mail\n[accounts.work]\nprovider = \"microsoft\"\nclient_id = \"cid\"\n\
             user = \"me@x.com\"\nmin_ttl = 60\nclient_secret_cmd = \"echo s\"\n\
             [accounts.home]\nclient_id = \"c2\"\n",
        )
        .unwrap();
        let names: Vec<&str> = c.accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["work", "home"]);
        let w = &c.accounts[0];
        assert_eq!(
            w.pairs,
            [
                ("provider", "microsoft"),
                ("client_id", "cid"),
                ("user", "me@x.com"),
                ("min_ttl", "60")
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert!(w.secret_cmd.is_some());
        assert!(!format!("{w:?}").contains("echo s"));
        assert!(parse_str("").unwrap().accounts.is_empty());
    }

    #[test]
    fn errors_name_file_line_and_key() {
        fails(
            "[accounts.w]\nclient_id = \"c\"\ntennant = \"x\"\n",
            &["/c.toml:3:", "unknown key 'tennant'"],
        );
        fails(
            "[accounts.w]\n\nmin_ttl = \"300\"\n",
            &["/c.toml:3:", "min_ttl"],
        );
        fails("[accounts.w]\nmin_ttl = -1\n", &["/c.toml:2:", "min_ttl"]);
        fails(
            "[accounts.w]\nmin_ttl = 90000\n",
            &[":2:", "min_ttl must be between"],
        );
        fails(
            "[accounts.w]\nuser = 5\n",
            &[":2:", "user: must be a string, not integer"],
        );
        fails(
            "[accounts.w]\nclient_id = \"c\"\ntenant = \"../x\"\n",
            &[":3:", "tenant", "'../x'"],
        );
        fails(
            "[accounts.w]\nauthority = \"http://evil.example\"\n",
            &[":2:", "authority"],
        );
        fails(
            "[accounts.w]\nprovider = \"gmail\"\n",
            &[":2:", "unknown provider 'gmail'", "microsoft, microsoft-us"],
        );
        fails("x = 1\n", &[":1:", "unknown key 'x'"]);
        fails("[accounts.\"a b\"]\n", &[":1:", "account name 'a b'"]);
        fails(
            "[accounts]\nw = 1\n",
            &[":2:", "accounts.w must be a table"],
        );
        fails("\n\n[accounts.w\n", &["/c.toml:3:", "invalid TOML"]);
        fails(
            "[accounts.w]\nuser = \"a\"\nuser = \"b\"\n",
            &[":3:", "invalid TOML"],
        );
    }

    #[test]
    fn a_plain_client_secret_is_refused_without_showing_it() {
        let e = parse_str("[accounts.w]\nclient_secret = \"hunter2\"\n").unwrap_err();
        assert!(e.message.contains(":2:") && e.message.contains("client_secret"));
        assert!(e.hint.unwrap_or_default().contains("client_secret_cmd"));
        assert!(!e.message.contains("hunter2"));
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn explicit_pairs_override_the_file_and_are_validated_once() {
        let c = parse_str(
            "[accounts.w]\nclient_id = \"cid\"\nuser = \"file@x.com\"\ntenant = \"t1\"\n\
             min_ttl = 60\nclient_secret_cmd = \"echo s\"\n",
        )
        .unwrap();
        let w = &c.accounts[0];
        let r = overlay(w, pairs(&[("action", "get")])).unwrap();
        assert_eq!(r.user.as_deref(), Some("file@x.com"));
        assert_eq!((r.tenant.as_str(), r.min_ttl), ("t1", 60));
        assert!(r.client_secret_cmd.is_some());
        assert_eq!(r.account_name.as_deref(), Some("w"));
        let r = overlay(w, pairs(&[("user", "flag@x.com"), ("min_ttl", "0")])).unwrap();
        assert_eq!(r.user.as_deref(), Some("flag@x.com"));
        assert_eq!((r.tenant.as_str(), r.min_ttl), ("t1", 0));
        // An explicit secret wins: the command is never run.
        let r = overlay(w, pairs(&[("client_secret", "given")])).unwrap();
        assert!(r.client_secret_cmd.is_none());
        // Explicit values obey the same rules as ever.
        assert!(overlay(w, pairs(&[("user", "a b")])).is_err());
    }

    #[test]
    fn sign_in_keys_take_their_toml_types() {
        let c = parse_str(
            "[accounts.w]\nflow = \"authcode\"\nredirect_port = 8765\nsignin_timeout = 60\n\
             open_browser = true\n",
        )
        .unwrap();
        let r = overlay(&c.accounts[0], pairs(&[("client_id", "c")])).unwrap();
        assert_eq!(r.flow, crate::provider::Flow::AuthCode);
        assert_eq!(
            (r.redirect_port, r.signin_timeout, r.open_browser),
            (8765, 60, Some(true))
        );
        fails(
            "[accounts.w]\nflow = \"browser\"\n",
            &[":2:", "flow must be device or authcode"],
        );
        fails(
            "[accounts.w]\nredirect_port = \"8765\"\n",
            &[":2:", "redirect_port"],
        );
        fails(
            "[accounts.w]\nsignin_timeout = 0\n",
            &[":2:", "signin_timeout must be between"],
        );
        fails(
            "[accounts.w]\nopen_browser = \"yes\"\n",
            &[":2:", "true or false"],
        );
    }

    #[test]
    fn providers_and_endpoints_come_from_the_file() {
        let c = parse_str(
            "[accounts.g]\nprovider = \"google\"\nclient_id = \"c\"\nuser = \"me@gmail.com\"\n\
             [accounts.x]\nprovider = \"generic\"\nclient_id = \"c\"\nuser = \"u\"\nscope = \"s\"\n\
             token_endpoint = \"https://idp.example/token\"\n",
        )
        .unwrap();
        let g = overlay(&c.accounts[0], Vec::new()).unwrap();
        assert_eq!(g.provider, crate::provider::Provider::Google);
        assert_eq!(g.flow, crate::provider::Flow::AuthCode);
        let x = overlay(&c.accounts[1], Vec::new()).unwrap();
        assert_eq!(x.endpoints.token, "https://idp.example/token");
        fails(
            "[accounts.x]\ntoken_endpoint = \"http://idp.example/token\"\n",
            &[":2:", "token_endpoint", "non-loopback"],
        );
        // The flag wins over the file, and a flow the provider cannot do is refused.
        let e = overlay(&c.accounts[0], pairs(&[("flow", "device")])).unwrap_err();
        assert!(e.message.contains("Google does not allow mail scopes"));
    }

    #[test]
    fn names() {
        assert!(valid_name("work") && valid_name("a.b_c-1") && valid_name(&"x".repeat(64)));
        assert!(!valid_name("") && !valid_name("a/b") && !valid_name(&"x".repeat(65)));
    }
}
