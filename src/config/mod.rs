//! Named accounts: the TOML config file that lets `ooauth2 token work` (and
//! `account=work` in the helper protocol) stand for a whole set of request
//! keys. The file only supplies values; the explicit ones are laid over
//! them ([`Named::request`], the one overlay) and [`Request::validate`]
//! checks the result, so a named account can never take a path the other
//! front ends cannot.
//!
//! ```toml
//! [accounts.work]
//! provider = "microsoft"
//! client_id = "9e5f94bc-e8a4-4e73-b8be-63364c29d753"
//! tenant = "contoso.onmicrosoft.com"
//! user = "me@contoso.com"
//! client_secret_cmd = "pass show mail/work-client-secret"
//! ```

mod file;
mod parse;
mod proxy;
mod switch;
mod write;

pub use parse::{bad_name, parse, valid_name};
pub use proxy::{Listen, Listener, LocalPassword, LocalTls, Mechanism, Served, ServerTls};
pub use switch::{GivenCommands, with_secret_store};
pub use write::{Edit, check_name, plan_account};

use crate::error::{Error, Result};
use crate::protocol::keys::RequestKey;
use crate::request::{LOGIN_KEYS, Raw, Request};
use crate::settings::Settings;
use std::path::PathBuf;

/// The parsed config file.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it was read from.
    pub(crate) path: PathBuf,
    /// Its `[accounts.NAME]` tables, in file order.
    pub accounts: Vec<Named>,
    /// Its `[proxy.NAME]` tables (`ooauth2 proxy`), in file order.
    pub listeners: Vec<Listener>,
}

/// One `[accounts.NAME]` table, checked.
#[derive(Debug, Clone)]
pub struct Named {
    /// The account's name.
    pub name: String,
    /// The values the file gives (client_id, tenant, client_secret_cmd,
    /// notify_cmd, ...), each checked.
    pub(crate) raw: Raw,
}

impl Named {
    /// The value the file gives `key`, as written there (`None` for a key
    /// the table does not hold).
    pub fn value(&self, key: RequestKey) -> Option<&str> {
        self.raw.config_text(key)
    }

    /// The request of this account with `explicit` laid over its values:
    /// every value given explicitly wins. The one overlay of a named account.
    /// The explicit values that differ from the file's go with it, so that
    /// the command signing it in again names them too.
    pub fn request(&self, mut explicit: Raw) -> Result<Request> {
        explicit.account = None;
        let overrides = LOGIN_KEYS
            .iter()
            .filter_map(|&key| {
                let given = explicit.text(key)?;
                let same = self.raw.text(key).is_some_and(|file| match key {
                    RequestKey::User | RequestKey::Tenant => file.eq_ignore_ascii_case(given),
                    _ => file == given,
                });
                (!same).then(|| (key, given.to_string()))
            })
            .collect();
        Request::validate_named(explicit.over(&self.raw), &self.name, overrides)
    }
}

/// Reads and checks the config file (every safety rule of [`file`]);
/// `None` if there is none.
pub fn load(settings: &Settings) -> Result<Option<Config>> {
    let path = settings.config_path()?;
    match file::read(&path)? {
        Some(text) => parse(&text, &path).map(Some),
        None => Ok(None),
    }
}

/// The request `explicit` asks for: validated as it is, or, when its
/// `account` names a configured account, laid over that account's values.
pub fn request(explicit: Raw, settings: &Settings) -> Result<Request> {
    let Some(name) = explicit.account.clone() else {
        return Request::validate(explicit);
    };
    let config = load(settings)?;
    let path = match &config {
        Some(c) => c.path.clone(),
        None => settings.config_path()?,
    };
    let configured: Vec<&Named> = config.iter().flat_map(|c| &c.accounts).collect();
    match configured.iter().find(|a| a.name == name) {
        Some(named) => named.request(explicit),
        None => Err(not_configured(&name, &path, config.is_some(), &configured)),
    }
}

/// No account `name` in the file at `path` (which may not `exist`), which
/// holds `configured`.
fn not_configured(
    name: &str,
    path: &std::path::Path,
    exists: bool,
    configured: &[&Named],
) -> Error {
    let what = if valid_name(name) {
        format!("'{name}'")
    } else {
        "with that name".to_string()
    };
    let table = if valid_name(name) { name } else { "NAME" };
    if !exists {
        return Error::invalid(format!(
            "no account {what} is configured: there is no config file at {}",
            path.display()
        ))
        .hint(format!(
            "run ooauth2 setup {table}, or write an [accounts.{table}] table to {} (see the README)",
            path.display()
        ));
    }
    let err = Error::invalid(format!(
        "no account {what} is configured in {}",
        path.display()
    ));
    if configured.is_empty() {
        return err.hint(format!(
            "add an [accounts.{table}] table to {} (see the README), or run ooauth2 setup {table}",
            path.display()
        ));
    }
    let names: Vec<&str> = configured.iter().map(|a| a.name.as_str()).collect();
    err.hint(format!("configured: {}", names.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;
    use crate::protocol::keys::RequestKey;
    use std::path::Path;

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
            w.raw.keys(),
            [
                RequestKey::Provider,
                RequestKey::ClientId,
                RequestKey::ClientSecretCmd,
                RequestKey::User,
                RequestKey::MinTtl
            ]
        );
        assert_eq!(w.raw.client_id.as_deref(), Some("cid"));
        assert_eq!(w.raw.min_ttl.as_deref(), Some("60"));
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

    fn raw(p: &[(RequestKey, &str)]) -> Raw {
        let mut raw = Raw::default();
        for (k, v) in p {
            raw.set(*k, v.to_string());
        }
        raw
    }

    #[test]
    fn explicit_pairs_override_the_file_and_are_validated_once() {
        let c = parse_str(
            "[accounts.w]\nclient_id = \"cid\"\nuser = \"file@x.com\"\ntenant = \"t1\"\n\
             min_ttl = 60\nclient_secret_cmd = \"echo s\"\n",
        )
        .unwrap();
        let w = &c.accounts[0];
        let r = w.request(raw(&[(RequestKey::Action, "get")])).unwrap();
        assert_eq!(r.user(), Some("file@x.com"));
        assert_eq!((r.tenant(), r.min_ttl()), ("t1", 60));
        assert!(r.client_secret_cmd().is_some());
        assert_eq!(r.account_name(), Some("w"));
        let r = w
            .request(raw(&[
                (RequestKey::User, "flag@x.com"),
                (RequestKey::MinTtl, "0"),
            ]))
            .unwrap();
        assert_eq!(r.user(), Some("flag@x.com"));
        assert_eq!((r.tenant(), r.min_ttl()), ("t1", 0));
        // The command that signs it in again keeps the override, not min_ttl.
        assert_eq!(
            r.login_command("flag@x.com"),
            "ooauth2 login w --user flag@x.com"
        );
        let same = w.request(raw(&[(RequestKey::User, "FILE@x.com")])).unwrap();
        assert_eq!(same.login_command("file@x.com"), "ooauth2 login w");
        // An explicit secret wins: the command is never run.
        let r = w
            .request(raw(&[(RequestKey::ClientSecret, "given")]))
            .unwrap();
        assert!(r.client_secret_cmd().is_none());
        // Explicit values obey the same rules as ever.
        assert!(w.request(raw(&[(RequestKey::User, "a b")])).is_err());
    }

    #[test]
    fn sign_in_keys_take_their_toml_types() {
        let c = parse_str(
            "[accounts.w]\nflow = \"authcode\"\nredirect_port = 8765\nsignin_timeout = 60\n\
             open_browser = true\n",
        )
        .unwrap();
        let r = c.accounts[0]
            .request(raw(&[(RequestKey::ClientId, "c")]))
            .unwrap();
        assert_eq!(r.flow(), crate::provider::Flow::AuthCode);
        assert_eq!(
            (r.redirect_port(), r.signin_timeout(), r.open_browser()),
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
        let g = c.accounts[0].request(Raw::default()).unwrap();
        assert_eq!(g.provider(), crate::provider::Provider::Google);
        assert_eq!(g.flow(), crate::provider::Flow::AuthCode);
        let x = c.accounts[1].request(Raw::default()).unwrap();
        assert_eq!(x.endpoints().token, "https://idp.example/token");
        fails(
            "[accounts.x]\ntoken_endpoint = \"http://idp.example/token\"\n",
            &[":2:", "token_endpoint", "non-loopback"],
        );
        // The flag wins over the file, and a flow the provider cannot do is refused.
        let e = c.accounts[0]
            .request(raw(&[(RequestKey::Flow, "device")]))
            .unwrap_err();
        assert!(e.message.contains("Google does not allow mail scopes"));
    }

    #[test]
    fn names() {
        assert!(valid_name("work") && valid_name("a.b_c-1") && valid_name(&"x".repeat(64)));
        assert!(!valid_name("") && !valid_name("a/b") && !valid_name(&"x".repeat(65)));
    }
}
