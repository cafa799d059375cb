//! THE key table: every key a request may carry (on the wire, in the config
//! file, or only from a flag) and every key a response may carry, written
//! once. From it come the wire parser's and writer's key sets, `capability`,
//! the config file's keys and their TOML types, and [`Raw`], the typed
//! request every front end fills in, so a misspelled key is a compile error.

use crate::secret::{Secret, SecretCommand};

/// The TOML type a config file gives a key's value in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A string (`user = "me@example.com"`).
    Text,
    /// A whole number, unquoted (`min_ttl = 300`).
    Number,
    /// `true` or `false`, unquoted.
    Switch,
}

/// Where a request key may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sources {
    /// The helper protocol (`key=value` on stdin).
    pub(crate) wire: bool,
    /// An `[accounts.NAME]` table of the config file.
    pub(crate) config: bool,
}

const WIRE: Sources = Sources {
    wire: true,
    config: false,
};
const BOTH: Sources = Sources {
    wire: true,
    config: true,
};
const CONFIG: Sources = Sources {
    wire: false,
    config: true,
};

macro_rules! request_keys {
    ($( $(#[doc = $doc:literal])+ $variant:ident $field:ident: $ty:ty =
        $name:literal, $sources:expr, $kind:expr, secret: $secret:literal; )*) => {
        /// A request key.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum RequestKey {
            $( $(#[doc = $doc])+ $variant, )*
        }

        impl RequestKey {
            /// Every request key, in documentation order.
            pub const ALL: &'static [RequestKey] = &[$(RequestKey::$variant),*];

            /// The key as written (`client_id`).
            pub fn name(self) -> &'static str {
                match self { $(RequestKey::$variant => $name,)* }
            }

            /// Where the key may be given.
            pub(crate) fn sources(self) -> Sources {
                match self { $(RequestKey::$variant => $sources,)* }
            }

            /// The TOML type of its value in the config file.
            pub(crate) fn kind(self) -> Kind {
                match self { $(RequestKey::$variant => $kind,)* }
            }

            /// Whether its value is a secret, never logged or echoed.
            pub(crate) fn is_secret(self) -> bool {
                match self { $(RequestKey::$variant => $secret,)* }
            }

            /// The key named `name`, if there is one.
            pub(crate) fn from_name(name: &str) -> Option<RequestKey> {
                match name { $($name => Some(RequestKey::$variant),)* _ => None }
            }

            /// What the key means: its line of this table.
            fn doc(self) -> &'static str {
                match self { $(RequestKey::$variant => concat!($($doc),+).trim_ascii(),)* }
            }
        }

        /// A request as given, one typed field per key, nothing checked yet:
        /// what every front end fills in and `Request::validate` checks.
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct Raw {
            $( $(#[doc = $doc])+ pub $field: Option<$ty>, )*
            /// How the front end that filled it spells the keys, for the
            /// messages about them.
            pub spelling: Spelling,
        }

        impl Raw {
            /// Sets `key` to `value`, replacing what it held.
            pub fn set(&mut self, key: RequestKey, value: String) {
                match key { $(RequestKey::$variant => self.$field = Some(<$ty>::from(value)),)* }
            }

            /// Whether `key` was given.
            pub fn has(&self, key: RequestKey) -> bool {
                match key { $(RequestKey::$variant => self.$field.is_some(),)* }
            }

            /// The keys given, in table order.
            pub fn keys(&self) -> Vec<RequestKey> {
                RequestKey::ALL.iter().copied().filter(|k| self.has(*k)).collect()
            }

            /// These values laid over `under`'s: each key given here wins,
            /// and so does this front end's spelling.
            pub fn over(self, under: &Raw) -> Raw {
                Raw {
                    $($field: self.$field.or_else(|| under.$field.clone()),)*
                    spelling: self.spelling,
                }
            }

            /// The value of `key` as a message may quote it: only the
            /// plain text ones, never a secret or a secret's command.
            pub(crate) fn text(&self, key: RequestKey) -> Option<&str> {
                match key { $(RequestKey::$variant => self.$field.as_ref().and_then(Text::text),)* }
            }

            /// The value of `key` as the config file holds it: `None` when
            /// it is not given or not a config key, and always for a secret.
            pub fn config_text(&self, key: RequestKey) -> Option<&str> {
                if !key.sources().config {
                    return None;
                }
                match key { $(RequestKey::$variant => self.$field.as_ref().and_then(Text::config_text),)* }
            }
        }
    };
}

request_keys! {
    /// What to do: get (default), login, refresh, store, erase, capability.
    Action action: String = "action", WIRE, Kind::Text, secret: false;
    /// A named account of the config file whose values lie beneath.
    Account account: String = "account", WIRE, Kind::Text, secret: false;
    /// The provider preset (default microsoft).
    Provider provider: String = "provider", BOTH, Kind::Text, secret: false;
    /// The app registration's client id.
    ClientId client_id: String = "client_id", BOTH, Kind::Text, secret: false;
    /// A confidential client's secret (never in the config file).
    ClientSecret client_secret: Secret = "client_secret", WIRE, Kind::Text, secret: true;
    /// A command that prints the client secret, run only when it is needed.
    ClientSecretCmd client_secret_cmd: SecretCommand =
        "client_secret_cmd", CONFIG, Kind::Text, secret: false;
    /// Where the refresh token rests: file (default), keyring or command.
    SecretStore secret_store: String = "secret_store", BOTH, Kind::Text, secret: false;
    /// secret_store = command: seals the refresh token (stdin to stdout).
    EncryptCmd encrypt_cmd: String = "encrypt_cmd", BOTH, Kind::Text, secret: false;
    /// secret_store = command: opens the sealed refresh token (stdin to stdout).
    DecryptCmd decrypt_cmd: String = "decrypt_cmd", BOTH, Kind::Text, secret: false;
    /// false: the access token is sealed in the record too (secret_store = command).
    CacheAccessToken cache_access_token: String =
        "cache_access_token", BOTH, Kind::Switch, secret: false;
    /// A command told the sign-in code when no terminal can show it.
    NotifyCmd notify_cmd: String = "notify_cmd", CONFIG, Kind::Text, secret: false;
    /// Microsoft's directory (default common).
    Tenant tenant: String = "tenant", BOTH, Kind::Text, secret: false;
    /// The identity platform's base URL.
    Authority authority: String = "authority", BOTH, Kind::Text, secret: false;
    /// The mailbox account.
    User user: String = "user", BOTH, Kind::Text, secret: false;
    /// The scopes to ask for, space-separated.
    Scope scope: String = "scope", BOTH, Kind::Text, secret: false;
    /// Renew when fewer seconds than this are left.
    MinTtl min_ttl: String = "min_ttl", BOTH, Kind::Number, secret: false;
    /// Whether a sign-in may start: auto, always, never.
    Interactive interactive: String = "interactive", WIRE, Kind::Text, secret: false;
    /// The mail server, for the OAUTHBEARER string.
    Host host: String = "host", WIRE, Kind::Text, secret: false;
    /// The mail server's port, for the OAUTHBEARER string.
    Port port: String = "port", WIRE, Kind::Text, secret: false;
    /// A refresh token to import (action=store only).
    RefreshToken refresh_token: Secret = "refresh_token", WIRE, Kind::Text, secret: true;
    /// The interactive sign-in: device or authcode.
    Flow flow: String = "flow", BOTH, Kind::Text, secret: false;
    /// The auth code flow's loopback port (0: any).
    RedirectPort redirect_port: String = "redirect_port", BOTH, Kind::Number, secret: false;
    /// Seconds the auth code flow waits for the browser.
    SigninTimeout signin_timeout: String = "signin_timeout", BOTH, Kind::Number, secret: false;
    /// Whether a sign-in opens its page in a browser: true, false, auto.
    OpenBrowser open_browser: String = "open_browser", BOTH, Kind::Switch, secret: false;
    /// generic: the OpenID Connect issuer whose discovery gives the endpoints.
    Issuer issuer: String = "issuer", BOTH, Kind::Text, secret: false;
    /// generic: the authorization endpoint.
    AuthorizationEndpoint authorization_endpoint: String =
        "authorization_endpoint", BOTH, Kind::Text, secret: false;
    /// generic: the token endpoint.
    TokenEndpoint token_endpoint: String = "token_endpoint", BOTH, Kind::Text, secret: false;
    /// generic: the device authorization endpoint.
    DeviceAuthorizationEndpoint device_authorization_endpoint: String =
        "device_authorization_endpoint", BOTH, Kind::Text, secret: false;
}

impl RequestKey {
    /// The keys an `[accounts.NAME]` table of the config file may hold, in
    /// table order: the name, a placeholder of the value's TOML type
    /// (`"..."`, `NUMBER`, `true|false`) and what the key means (for the
    /// man page).
    pub fn config_file_keys() -> Vec<(&'static str, &'static str, &'static str)> {
        RequestKey::ALL
            .iter()
            .filter(|k| k.sources().config)
            .map(|k| {
                let value = match k.kind() {
                    Kind::Text => "\"...\"",
                    Kind::Number => "NUMBER",
                    Kind::Switch => "true|false",
                };
                (k.name(), value, k.doc())
            })
            .collect()
    }
}

macro_rules! response_keys {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $name:literal, secret: $secret:literal; )*) => {
        /// A response key.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ResponseKey {
            $( $(#[doc = $doc])+ $variant, )*
        }

        impl ResponseKey {
            /// Every response key, in documentation order.
            pub const ALL: &'static [ResponseKey] = &[$(ResponseKey::$variant),*];

            /// The key as written (`access_token`).
            pub fn name(self) -> &'static str {
                match self { $(ResponseKey::$variant => $name,)* }
            }

            /// Whether its value is a secret.
            pub(crate) fn is_secret(self) -> bool {
                match self { $(ResponseKey::$variant => $secret,)* }
            }

            /// The key named `name`, if there is one.
            pub(crate) fn from_name(name: &str) -> Option<ResponseKey> {
                match name { $($name => Some(ResponseKey::$variant),)* _ => None }
            }
        }
    };
}

response_keys! {
    /// The account the token is for.
    User = "user", secret: false;
    /// The access token.
    AccessToken = "access_token", secret: true;
    /// Its type (Bearer).
    TokenType = "token_type", secret: false;
    /// When it expires (Unix seconds).
    ExpiresAt = "expires_at", secret: false;
    /// Seconds until it expires.
    ExpiresIn = "expires_in", secret: false;
    /// The scope it carries.
    Scope = "scope", secret: false;
    /// Where it came from: cache, refresh or login.
    Source = "source", secret: false;
    /// The base64 SASL XOAUTH2 string.
    Xoauth2 = "xoauth2", secret: true;
    /// The base64 SASL OAUTHBEARER string (RFC 7628).
    Oauthbearer = "oauthbearer", secret: true;
    /// Whether `erase` found an account to forget.
    Erased = "erased", secret: false;
    /// `capability`: the protocol version.
    Version = "version", secret: false;
    /// `capability`: the actions.
    Actions = "actions", secret: false;
    /// `capability`: the request keys.
    RequestKeys = "request_keys", secret: false;
    /// `capability`: the response keys.
    ResponseKeys = "response_keys", secret: false;
    /// `capability`: the keys whose values are secrets.
    SecretKeys = "secret_keys", secret: false;
    /// `capability`: the error codes.
    Errors = "errors", secret: false;
    /// The error code of a failure.
    Error = "error", secret: false;
    /// What failed and why.
    ErrorDescription = "error_description", secret: false;
    /// What to do next.
    Hint = "hint", secret: false;
}

/// A value as a message may quote it and as the config file may hold it.
trait Text {
    /// The value as a message may show it: plain text, never a secret.
    fn text(&self) -> Option<&str>;

    /// The value as the config file holds it; the same text but for a
    /// secret's command, which the file holds and messages do not show.
    fn config_text(&self) -> Option<&str> {
        self.text()
    }
}

impl Text for String {
    fn text(&self) -> Option<&str> {
        Some(self)
    }
}

impl Text for Secret {
    // A secret is never shown, nor written to the config file.
    fn text(&self) -> Option<&str> {
        None
    }
}

impl Text for SecretCommand {
    // A command may hold a password in its words: never in a message.
    fn text(&self) -> Option<&str> {
        None
    }

    fn config_text(&self) -> Option<&str> {
        Some(self.command())
    }
}

/// How a front end names request keys in what it says: the helper protocol
/// and the config file speak keys (`client_id`), the subcommands their
/// flags (`--client-id`), the `ooauth2.py` command line its options
/// (`--client_id`). A message about a key is written once, with the
/// spelling of the request it is about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Spelling {
    /// The helper protocol and the config file: `client_id`, `client_id=C`.
    #[default]
    Keys,
    /// The subcommands: `--client-id`, `--client-id C`.
    Flags,
    /// Alpine's `ooauth2.py` options: `--client_id`, `--client_id=C`.
    Legacy,
}

impl Spelling {
    /// The key as this front end names it: `min_ttl`, `--min-ttl`. A key
    /// this front end has no flag for keeps its own name.
    pub fn key(self, key: RequestKey) -> String {
        match self {
            Spelling::Flags if key.has_flag() => format!("--{}", key.name().replace('_', "-")),
            Spelling::Legacy if key.has_legacy_option() => format!("--{}", key.name()),
            _ => key.name().to_string(),
        }
    }

    /// How to say "give the key": `user=`, `--user`.
    pub fn give(self, key: RequestKey) -> String {
        match self {
            Spelling::Keys => format!("{}=", key.name()),
            _ => self.key(key),
        }
    }

    /// The key with a value, as it would be written: `provider=generic`,
    /// `--provider generic`, `--tenant=common`.
    pub fn pair(self, key: RequestKey, value: &str) -> String {
        match self {
            Spelling::Flags if key.has_flag() => format!("{} {value}", self.key(key)),
            Spelling::Legacy if key.has_legacy_option() => format!("{}={value}", self.key(key)),
            _ => format!("{}={value}", key.name()),
        }
    }

    /// Where this front end's keys are described, for a hint.
    pub fn reference(self) -> &'static str {
        match self {
            Spelling::Keys => "see protocol.md section 3 for the keys and their values",
            Spelling::Flags => "add --help to the command for its flags and their values",
            Spelling::Legacy => "run 'ooauth2 --help' for the options of ooauth2.py",
        }
    }
}

impl RequestKey {
    /// Whether the subcommands have a flag of this key's name (with `-`
    /// for `_`); the others are set otherwise (`--non-interactive`,
    /// `--open`), come from the config file, or not from the command line.
    pub fn has_flag(self) -> bool {
        !matches!(
            self,
            RequestKey::Action
                | RequestKey::Account
                | RequestKey::ClientSecret
                | RequestKey::NotifyCmd
                | RequestKey::Interactive
                | RequestKey::RefreshToken
                | RequestKey::OpenBrowser
        )
    }

    /// Whether `ooauth2.py`'s command line has an option of this key's name.
    fn has_legacy_option(self) -> bool {
        matches!(
            self,
            RequestKey::ClientId
                | RequestKey::Tenant
                | RequestKey::User
                | RequestKey::Scope
                | RequestKey::RefreshToken
                | RequestKey::Authority
        )
    }
}

impl From<String> for SecretCommand {
    /// A `client_secret_cmd` given as a plain value, named by its key.
    fn from(command: String) -> SecretCommand {
        SecretCommand::given_as(RequestKey::ClientSecretCmd.name(), command)
    }
}

/// The request keys the helper protocol accepts, in table order.
pub fn wire_keys() -> impl Iterator<Item = RequestKey> {
    RequestKey::ALL.iter().copied().filter(|k| k.sources().wire)
}

/// The keys an `[accounts.NAME]` table may hold, in table order.
pub fn config_keys() -> impl Iterator<Item = RequestKey> {
    RequestKey::ALL
        .iter()
        .copied()
        .filter(|k| k.sources().config)
}

/// The names of the keys whose values are secrets, whichever way they travel.
pub fn secret_key_names() -> Vec<&'static str> {
    let request = wire_keys().filter(|k| k.is_secret()).map(RequestKey::name);
    let response = ResponseKey::ALL
        .iter()
        .filter(|k| k.is_secret())
        .map(|k| k.name());
    request.chain(response).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        for (i, k) in RequestKey::ALL.iter().enumerate() {
            assert_eq!(RequestKey::from_name(k.name()), Some(*k));
            assert!(!RequestKey::ALL[..i].iter().any(|o| o.name() == k.name()));
            assert!(k.sources().wire || k.sources().config, "{}", k.name());
        }
        for k in ResponseKey::ALL {
            assert_eq!(ResponseKey::from_name(k.name()), Some(*k));
        }
    }

    #[test]
    fn raw_overlay_keeps_given_values_and_fills_the_rest() {
        let mut file = Raw::default();
        file.set(RequestKey::ClientId, "file".into());
        file.set(RequestKey::Tenant, "contoso.com".into());
        let mut given = Raw::default();
        given.set(RequestKey::ClientId, "flag".into());
        let raw = given.over(&file);
        assert_eq!(raw.client_id.as_deref(), Some("flag"));
        assert_eq!(raw.tenant.as_deref(), Some("contoso.com"));
        assert_eq!(raw.keys(), vec![RequestKey::ClientId, RequestKey::Tenant]);
    }

    #[test]
    fn secrets_are_marked_and_typed() {
        assert_eq!(
            secret_key_names(),
            [
                "client_secret",
                "refresh_token",
                "access_token",
                "xoauth2",
                "oauthbearer"
            ]
        );
        let mut raw = Raw::default();
        raw.set(RequestKey::RefreshToken, "SECRETVALUE".into());
        assert!(!format!("{raw:?}").contains("SECRETVALUE"));
    }

    /// protocol.md shows `capability`'s answer as it is, and names every
    /// key an account table may hold.
    #[test]
    fn protocol_md_follows_the_table() {
        let doc = include_str!("../../protocol.md");
        let line = |key: &str| {
            doc.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!("protocol.md shows no {key}= line"))
                .to_string()
        };
        let wire: Vec<&str> = wire_keys().map(RequestKey::name).collect();
        assert_eq!(line("request_keys"), wire.join(" "));
        let response: Vec<&str> = ResponseKey::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(line("response_keys"), response.join(" "));
        assert_eq!(line("secret_keys"), secret_key_names().join(" "));
        let codes: Vec<&str> = crate::error::Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(line("errors"), codes.join(" "));
        let section = doc
            .split("### 3.1 ")
            .nth(1)
            .and_then(|s| s.split("\n### ").next())
            .unwrap_or_default();
        for key in config_keys() {
            assert!(
                section.contains(&format!("`{}`", key.name())),
                "protocol.md section 3.1 does not name `{}`",
                key.name()
            );
        }
    }
}
