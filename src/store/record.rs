//! One account's record: its identity, scope and tokens, as the JSON file
//! holds them, and the checks a file must pass to be read as one.

use super::files::read_file;
use crate::account::Account;
use crate::error::{Code, Error, Result};
use crate::protocol::keys::Raw;
use crate::provider::Provider;
use crate::secret::keyring::{self, Item};
use crate::secret::{Secret, SecretStore};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The newest record format this build reads and writes.
pub const SCHEMA_VERSION: u32 = HEALTH_VERSION;

/// The format of a record that holds its refresh token in the clear (or
/// none): what every ooauth2 reads.
pub(crate) const PLAIN_VERSION: u32 = 1;

/// The format of a record whose refresh token is sealed by the account's
/// `encrypt_cmd` (`refresh_token_sealed`): an older ooauth2 refuses it as
/// newer, rather than read it as one without a refresh token.
pub(crate) const SEALED_VERSION: u32 = 2;

/// The format of a record whose refresh token rests in the keyring
/// (`refresh_token_keyring` names the item): refused as newer by the
/// builds before it, for the same reason.
pub(crate) const KEYRING_VERSION: u32 = 3;

/// The format of a record whose access token is sealed too
/// (`access_token_sealed`, `cache_access_token = false`).
pub(crate) const SEALED_ACCESS_VERSION: u32 = 4;

/// The format of a record that holds a health field an older ooauth2 does
/// not know (`refresh_token_expires_at`, `health_warned_at`): it refuses
/// the record as newer ("upgrade ooauth2; the record is left as it is")
/// rather than as corrupt, since records deny unknown fields. Written only
/// when one is set (a time-limited grant, a warning given), so most
/// records stay readable by every ooauth2.
pub(crate) const HEALTH_VERSION: u32 = 5;

/// One account's state on disk.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The record format (`SCHEMA_VERSION` when this build writes it).
    pub(crate) version: u32,
    /// The provider preset; records written before presets have none, which
    /// means Microsoft.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) provider: Option<String>,
    /// The account's authority (see `Account`).
    pub authority: String,
    /// Microsoft's tenant; empty for the other providers.
    pub tenant: String,
    /// The app registration's client id.
    pub client_id: String,
    /// The mailbox account.
    pub user: String,
    /// The scope requested at sign-in; sent again on every refresh.
    pub scope: String,
    /// The newest refresh token; never deleted by a refusal. In memory,
    /// also a sealed one once opened (`opened` says which it was).
    pub refresh_token: Option<Secret>,
    /// The refresh token sealed by the account's `encrypt_cmd` (base64 of
    /// what it printed), in place of `refresh_token` on disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_sealed: Option<String>,
    /// The keyring item (`SLOT.GEN`) that holds the refresh token, in
    /// place of `refresh_token` on disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_keyring: Option<String>,
    /// What the sealed text or the keyring item opened to, when it was
    /// opened: a `refresh_token` that differs is a newer one, still to be
    /// put away.
    #[serde(skip)]
    pub(crate) opened: Option<Secret>,
    /// When the refresh token arrived (Unix seconds).
    pub refresh_token_obtained_at: Option<u64>,
    /// When the provider said the refresh token dies whatever its use
    /// (Google's `refresh_token_expires_in`, for time-limited grants).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_expires_at: Option<u64>,
    /// When a `get` last warned that the refresh token dies soon (once a day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_warned_at: Option<u64>,
    /// The cached access token.
    pub access_token: Option<Secret>,
    /// The cached access token sealed by the account's `encrypt_cmd`
    /// (`cache_access_token = false`), in place of `access_token` on disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_sealed: Option<String>,
    /// Its type (`Bearer`).
    pub(crate) token_type: Option<String>,
    /// When the access token expires (Unix seconds).
    pub expires_at: Option<u64>,
    /// The scope the provider says the access token carries.
    pub granted_scope: Option<String>,
    /// Set when the provider refused the refresh token; the token is kept.
    pub needs_login: Option<String>,
    /// When the record was last written (Unix seconds). Every write but
    /// the mark of a health warning (which keeps it) follows a grant or a
    /// refusal, so it is also when the refresh token was last used (see
    /// `health::last_activity`): a writer that is neither must keep it too.
    pub updated_at: u64,
}

impl Record {
    /// An empty record for `account`.
    pub(crate) fn new(account: &Account, scope: &str, now: u64) -> Record {
        Record {
            version: PLAIN_VERSION,
            provider: Some(account.provider.name().to_string()),
            authority: account.authority.clone(),
            tenant: account.tenant.clone(),
            client_id: account.client_id.clone(),
            user: account.user.clone(),
            scope: scope.to_string(),
            refresh_token: None,
            refresh_token_sealed: None,
            refresh_token_keyring: None,
            opened: None,
            refresh_token_obtained_at: None,
            refresh_token_expires_at: None,
            health_warned_at: None,
            access_token: None,
            access_token_sealed: None,
            token_type: None,
            expires_at: None,
            granted_scope: None,
            needs_login: None,
            updated_at: now,
        }
    }

    /// The record format its fields at rest need: the newest of the
    /// formats that brought them, so that an older ooauth2 refuses a record
    /// it cannot read whole as newer (records deny unknown fields).
    pub(crate) fn version_at_rest(&self) -> u32 {
        [
            (self.refresh_token_sealed.is_some(), SEALED_VERSION),
            (self.refresh_token_keyring.is_some(), KEYRING_VERSION),
            (self.access_token_sealed.is_some(), SEALED_ACCESS_VERSION),
            (
                self.refresh_token_expires_at.is_some() || self.health_warned_at.is_some(),
                HEALTH_VERSION,
            ),
        ]
        .into_iter()
        .filter_map(|(has, version)| has.then_some(version))
        .max()
        .unwrap_or(PLAIN_VERSION)
    }

    /// The record format a write of it needs at least: its own, raised to
    /// what its fields need ([`Record::version_at_rest`]).
    pub(crate) fn least_version(&self) -> u32 {
        self.version.max(self.version_at_rest())
    }

    /// Whether an access token is cached, in the clear or sealed.
    pub fn has_access_token(&self) -> bool {
        self.access_token.is_some() || self.access_token_sealed.is_some()
    }

    /// Whether a refresh token is stored, in the clear, sealed or in the keyring.
    pub fn has_refresh_token(&self) -> bool {
        self.refresh_token.is_some()
            || self.refresh_token_sealed.is_some()
            || self.refresh_token_keyring.is_some()
    }

    /// Where the refresh token rests, for `status` and `doctor`: `file`,
    /// `keyring`, `command (sealed)`, or where the account's `secret_store`
    /// (`wanted`) puts it at the next write (`command (not sealed yet)`).
    pub fn refresh_token_rests(&self, wanted: Option<&SecretStore>) -> &'static str {
        if self.refresh_token_keyring.is_some() {
            return "keyring";
        }
        if self.refresh_token_sealed.is_some() {
            return "command (sealed)";
        }
        match (wanted, self.refresh_token.is_some()) {
            (Some(SecretStore::Command(_)), true) => "command (not sealed yet)",
            (Some(SecretStore::Command(_)), false) => "command",
            (Some(SecretStore::Keyring), true) => "keyring (not yet moved)",
            (Some(SecretStore::Keyring), false) => "keyring",
            _ => "file",
        }
    }

    /// For `doctor`: whether the keyring gives the refresh token, when it
    /// rests there (within 15 s: a diagnosis does not wait long on an
    /// unlock prompt).
    pub fn check_keyring(&self) -> Result<()> {
        let Some(name) = self.refresh_token_keyring.as_deref() else {
            return Ok(());
        };
        let item = Item::parse(name).ok_or_else(|| {
            Error::new(
                Code::StoreError,
                "refresh_token_keyring names no keyring item",
            )
        })?;
        keyring::open(&item, &self.user, std::time::Duration::from_secs(15)).map(drop)
    }

    /// Whether `other` holds the same refresh token as this record, as the
    /// disk holds it (a sealed one by its sealed text, a keyring one by
    /// its item).
    pub(crate) fn same_refresh_token_at_rest(&self, other: &Record) -> bool {
        let away = |r: &Record| {
            (
                r.refresh_token_sealed.clone(),
                r.refresh_token_keyring.clone(),
            )
        };
        match (away(self), away(other)) {
            ((None, None), (None, None)) => self.refresh_token == other.refresh_token,
            (a, b) => a == b,
        }
    }

    /// The first text field holding a control character; such a value could
    /// break a response line, so the record is treated as corrupt.
    fn field_with_control_chars(&self) -> Option<&'static str> {
        let fields: [(&'static str, Option<&str>); 11] = [
            ("provider", self.provider.as_deref()),
            ("authority", Some(&self.authority)),
            ("tenant", Some(&self.tenant)),
            ("client_id", Some(&self.client_id)),
            ("user", Some(&self.user)),
            ("scope", Some(&self.scope)),
            (
                "refresh_token",
                self.refresh_token.as_ref().map(Secret::expose),
            ),
            (
                "access_token",
                self.access_token.as_ref().map(Secret::expose),
            ),
            ("token_type", self.token_type.as_deref()),
            ("granted_scope", self.granted_scope.as_deref()),
            ("needs_login", self.needs_login.as_deref()),
        ];
        fields
            .into_iter()
            .find(|(_, v)| v.is_some_and(|v| v.chars().any(char::is_control)))
            .map(|(k, _)| k)
    }

    /// The record's provider: none (an older record) means Microsoft; an
    /// unknown name never gets here (`read_record` refuses it).
    pub fn provider_preset(&self) -> Provider {
        self.provider
            .as_deref()
            .and_then(Provider::from_name)
            .unwrap_or(Provider::Microsoft)
    }

    /// The request a stored account is refreshed with when no config entry
    /// names it: its provider, endpoints, client id, user and scope.
    pub fn raw(&self) -> Raw {
        let provider = self.provider_preset();
        let mut raw = Raw {
            provider: Some(provider.name().to_string()),
            client_id: Some(self.client_id.clone()),
            user: Some(self.user.clone()),
            scope: Some(self.scope.clone()),
            ..Raw::default()
        };
        if provider == Provider::Generic {
            // A generic account's authority is its token endpoint.
            raw.token_endpoint = Some(self.authority.clone());
        } else {
            raw.authority = Some(self.authority.clone());
        }
        if provider.is_microsoft() {
            raw.tenant = Some(self.tenant.clone());
        }
        raw
    }

    /// The identity this record belongs to.
    pub fn account(&self) -> Account {
        Account {
            provider: self.provider_preset(),
            authority: self.authority.clone(),
            tenant: self.tenant.clone(),
            client_id: self.client_id.clone(),
            user: self.user.clone(),
        }
    }
}

/// Reads and checks one record file (a regular file, never through a
/// symbolic link); `None` if it does not exist.
pub(super) fn read_record(path: &Path) -> Result<Option<Record>> {
    let Some(bytes) = read_file(path)? else {
        return Ok(None);
    };
    let corrupt = |why: String| {
        Error::new(
            Code::StoreError,
            format!("{} is not a valid ooauth2 record: {why}", path.display()),
        )
        .hint("move the file away (or run 'ooauth2 erase' for the account) and sign in again")
    };
    let newer = |version: u64| {
        Error::new(
            Code::StoreError,
            format!(
                "{} was written by a newer ooauth2 (record version {version}, this build reads {SCHEMA_VERSION})",
                path.display()
            ),
        )
        .hint("upgrade ooauth2; the record is left as it is")
    };
    // One parse on the cached path; the slower one below only explains a failure.
    let rec = match serde_json::from_slice::<Record>(&bytes) {
        Ok(rec) if rec.version > SCHEMA_VERSION => return Err(newer(rec.version.into())),
        Ok(rec) => rec,
        Err(_) => {
            // serde's messages quote the offending value, which may be a token: say where only.
            let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                corrupt(format!(
                    "bad JSON at line {}, column {}",
                    e.line(),
                    e.column()
                ))
            })?;
            return Err(match value.get("version").and_then(|v| v.as_u64()) {
                None => corrupt("no version".into()),
                Some(v) if v > u64::from(SCHEMA_VERSION) => newer(v),
                Some(_) => corrupt("a field is missing, unknown or of the wrong type".into()),
            });
        }
    };
    match rec.flaw() {
        Some(why) => Err(corrupt(why)),
        None => Ok(Some(rec)),
    }
}

impl Record {
    /// What makes a record that parsed unusable, if anything.
    fn flaw(&self) -> Option<String> {
        if let Some(field) = self.field_with_control_chars() {
            return Some(format!("{field} holds a control character"));
        }
        let pairs = [
            (
                "refresh_token",
                &self.refresh_token,
                &self.refresh_token_sealed,
                SEALED_VERSION,
            ),
            (
                "access_token",
                &self.access_token,
                &self.access_token_sealed,
                SEALED_ACCESS_VERSION,
            ),
        ];
        for (name, clear, sealed, since) in pairs {
            let Some(sealed) = sealed else { continue };
            let base64 = |b: u8| b.is_ascii_alphanumeric() || b"+/=".contains(&b);
            if clear.is_some() || self.version < since {
                return Some(format!(
                    "{name}_sealed is in a record before version {since} or beside {name}"
                ));
            }
            if sealed.is_empty() || !sealed.bytes().all(base64) {
                return Some(format!("{name}_sealed is not base64"));
            }
        }
        if let Some(item) = &self.refresh_token_keyring {
            let beside = self.refresh_token.is_some() || self.refresh_token_sealed.is_some();
            if beside || self.version < KEYRING_VERSION {
                return Some(
                    "refresh_token_keyring is in a record before version 3 or beside another refresh token"
                        .into(),
                );
            }
            if Item::parse(item).is_none() {
                return Some(
                    "refresh_token_keyring is not a keyring item this build writes".into(),
                );
            }
        }
        let unknown = self.provider.as_deref().map(Provider::from_name);
        matches!(unknown, Some(None)).then(|| "provider is not one this build knows".into())
    }
}
