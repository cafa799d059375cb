//! Accounts on disk: where they live, how they are locked, how a record is
//! written so that a crash leaves either the old or the new one.
//!
//! Layout (directory 0700, files 0600 from creation):
//! `<dir>/<id>.json` is the record, `<dir>/<id>.lock` the account's lock, where
//! `<id>` is the SHA-256 of the account identity, so any `user` is a safe name.
//! `<dir>/discovery/<sha>.json` caches an issuer's OpenID Connect discovery
//! document (in a subdirectory, so it is never listed as an account).

use crate::account::Account;
use crate::error::{Code, Error, Result};
use crate::protocol::keys::Raw;
use crate::provider::{Discovery, Provider};
use crate::settings::Settings;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{self, DirBuilder, File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The record format this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// An issuer's endpoints as discovered, and when (Unix seconds).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CachedDiscovery {
    #[serde(flatten)]
    pub doc: Discovery,
    pub fetched_at: u64,
}

/// One account's state on disk.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub version: u32,
    /// The provider preset; records written before presets have none, which
    /// means Microsoft.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub authority: String,
    pub tenant: String,
    pub client_id: String,
    pub user: String,
    /// The scope requested at sign-in; sent again on every refresh.
    pub scope: String,
    pub refresh_token: Option<String>,
    pub refresh_token_obtained_at: Option<u64>,
    pub access_token: Option<String>,
    pub token_type: Option<String>,
    pub expires_at: Option<u64>,
    /// The scope the provider says the access token carries.
    pub granted_scope: Option<String>,
    /// Set when the provider refused the refresh token; the token is kept.
    pub needs_login: Option<String>,
    pub updated_at: u64,
}

impl Record {
    /// An empty record for `account`.
    pub fn new(account: &Account, scope: &str, now: u64) -> Record {
        Record {
            version: SCHEMA_VERSION,
            provider: Some(account.provider.name().to_string()),
            authority: account.authority.clone(),
            tenant: account.tenant.clone(),
            client_id: account.client_id.clone(),
            user: account.user.clone(),
            scope: scope.to_string(),
            refresh_token: None,
            refresh_token_obtained_at: None,
            access_token: None,
            token_type: None,
            expires_at: None,
            granted_scope: None,
            needs_login: None,
            updated_at: now,
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
            ("refresh_token", self.refresh_token.as_deref()),
            ("access_token", self.access_token.as_deref()),
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

/// The store directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// Proof that the caller holds an account's lock; released on drop.
#[derive(Debug)]
pub struct AccountLock {
    _file: File,
    id: String,
}

impl Store {
    /// The store at `$OOAUTH2_STORE_DIR`, else `$XDG_DATA_HOME/ooauth2`.
    /// Nothing is created until something is written.
    pub fn open(settings: &Settings) -> Result<Store> {
        settings.store_dir().map(Store::at)
    }

    /// A store at an explicit directory.
    pub fn at(dir: PathBuf) -> Store {
        Store { dir }
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The stable file id of an account (user and tenant compared case-insensitively).
    /// Microsoft accounts keep the id they had before there were other
    /// providers; the others add their provider, so the same user at two
    /// providers makes two records.
    pub fn id(account: &Account) -> String {
        let mut identity = format!(
            "v1\n{}\n{}\n{}\n{}",
            account.authority.to_ascii_lowercase(),
            account.tenant.to_ascii_lowercase(),
            account.client_id,
            account.user.to_lowercase()
        );
        if !account.provider.is_microsoft() {
            identity.push_str(&format!("\nprovider={}", account.provider.family()));
        }
        let digest = Sha256::digest(identity.as_bytes());
        digest[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Where the account's record lives.
    pub fn record_path(&self, account: &Account) -> PathBuf {
        self.dir.join(format!("{}.json", Store::id(account)))
    }

    fn ensure_dir(&self) -> Result<()> {
        match DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
        {
            Ok(()) => {}
            Err(e) => return Err(Error::store("create the store directory", &self.dir, &e)),
        }
        let meta = fs::metadata(&self.dir).map_err(|e| Error::store("inspect", &self.dir, &e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            // A directory made by someone else's umask or an older tool: close it.
            fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::store("restrict the permissions of", &self.dir, &e))?;
        }
        Ok(())
    }

    /// Reads an account's record without locking; `None` if there is none.
    pub fn load(&self, account: &Account) -> Result<Option<Record>> {
        let path = self.record_path(account);
        let rec = match read_record(&path)? {
            Some(r) => r,
            None => return Ok(None),
        };
        if !same_identity(&rec.account(), account) {
            return Err(Error::new(
                Code::StoreError,
                format!("{} belongs to another account", path.display()),
            )
            .hint("move the file away; it was not written by this store"));
        }
        Ok(Some(rec))
    }

    /// Takes the account's lock, waiting at most `timeout`.
    pub fn lock(&self, account: &Account, timeout: Duration) -> Result<AccountLock> {
        self.ensure_dir()?;
        let id = Store::id(account);
        let path = self.dir.join(format!("{id}.lock"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::store("open the lock file", &path, &e))?;
        let start = Instant::now();
        let mut pause = Duration::from_millis(2);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(Error::store("lock", &path, &e)),
            }
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(Error::new(
                    Code::StoreBusy,
                    format!(
                        "another ooauth2 process has held the lock of {} for over {} s",
                        account.user,
                        timeout.as_secs_f32()
                    ),
                )
                .hint("a sign-in may be waiting for the user; finish it or try again later"));
            }
            std::thread::sleep(pause.min(timeout - waited));
            pause = (pause * 2).min(Duration::from_millis(25));
        }
        let lock = AccountLock { _file: file, id };
        self.remove_stale_temps(&lock);
        Ok(lock)
    }

    /// Writes a record atomically: temp file, fsync, rename, fsync the directory.
    pub fn save(&self, lock: &AccountLock, record: &Record) -> Result<()> {
        self.ensure_dir()?;
        let path = self.dir.join(format!("{}.json", lock.id));
        let mut body = serde_json::to_vec_pretty(record)
            .map_err(|e| Error::new(Code::StoreError, format!("cannot encode record: {e}")))?;
        body.push(b'\n');
        write_atomic(&self.dir, &lock.id, &path, &body)
    }

    fn discovery_path(&self, issuer: &str) -> (PathBuf, String) {
        let digest = Sha256::digest(issuer.as_bytes());
        let id: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        (self.dir.join("discovery").join(format!("{id}.json")), id)
    }

    /// The cached discovery document of `issuer`, if there is a readable one
    /// (a damaged cache is only a cache: it is fetched again).
    pub fn load_discovery(&self, issuer: &str) -> Option<CachedDiscovery> {
        let (path, _) = self.discovery_path(issuer);
        let bytes = fs::read(path).ok()?;
        serde_json::from_slice::<CachedDiscovery>(&bytes)
            .ok()
            .filter(|d| d.doc.issuer == issuer)
    }

    /// Caches a discovery document, atomically, without a lock: writers
    /// racing here write the same facts.
    pub fn save_discovery(&self, doc: &CachedDiscovery) -> Result<()> {
        self.ensure_dir()?;
        let (path, id) = self.discovery_path(&doc.doc.issuer);
        let dir = self.dir.join("discovery");
        match DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::store("create", &dir, &e)),
        }
        let mut body = serde_json::to_vec_pretty(doc).map_err(|e| {
            Error::new(
                Code::StoreError,
                format!("cannot encode the discovery cache: {e}"),
            )
        })?;
        body.push(b'\n');
        write_atomic(&dir, &id, &path, &body)
    }

    /// Deletes an account's record; returns whether there was one.
    pub fn remove(&self, lock: &AccountLock) -> Result<bool> {
        let path = self.dir.join(format!("{}.json", lock.id));
        match fs::remove_file(&path) {
            Ok(()) => {
                let _ = File::open(&self.dir).and_then(|d| d.sync_all());
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::store("remove", &path, &e)),
        }
    }

    /// Every record in the store (unreadable ones as errors), sorted by path.
    pub fn list(&self) -> Result<Vec<(PathBuf, Result<Record>)>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::store("list", &self.dir, &e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::store("list", &self.dir, &e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            // Temp files start with '.', so a crash leftover is never read as a record.
            if name.starts_with('.') || !name.ends_with(".json") {
                continue;
            }
            let path = entry.path();
            let rec = read_record(&path).and_then(|r| {
                r.ok_or_else(|| Error::new(Code::StoreError, "vanished while listing"))
            });
            out.push((path, rec));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Accounts matching `template` in all but the user (provider, authority,
    /// tenant and client id), for requests without `user`.
    pub fn find_users(&self, template: &Account) -> Result<Vec<String>> {
        let mut users = Vec::new();
        for (_, rec) in self.list()? {
            if let Ok(r) = rec {
                let mut a = r.account();
                a.user.clone_from(&template.user);
                if same_identity(&a, template) {
                    users.push(r.user);
                }
            }
        }
        Ok(users)
    }

    fn remove_stale_temps(&self, lock: &AccountLock) {
        // Under the lock no writer of this account is alive, so any temp is a crash leftover.
        let prefix = format!(".{}.json.tmp-", lock.id);
        if let Ok(entries) = fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
    }
}

fn same_identity(a: &Account, b: &Account) -> bool {
    a.provider.family() == b.provider.family()
        && a.authority.eq_ignore_ascii_case(&b.authority)
        && a.tenant.eq_ignore_ascii_case(&b.tenant)
        && a.client_id == b.client_id
        && a.user.to_lowercase() == b.user.to_lowercase()
}

/// Replaces `path` (in `dir`) by `body`: temp file created 0600, fsync,
/// rename, fsync the directory, so a crash leaves the old or the new file.
fn write_atomic(dir: &Path, id: &str, path: &Path, body: &[u8]) -> Result<()> {
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

/// Reads and checks one record file; `None` if it does not exist.
fn read_record(path: &Path) -> Result<Option<Record>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::store("read", path, &e)),
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
    if let Some(field) = rec.field_with_control_chars() {
        return Err(corrupt(format!("{field} holds a control character")));
    }
    if let Some(p) = rec.provider.as_deref()
        && Provider::from_name(p).is_none()
    {
        return Err(corrupt("provider is not one this build knows".into()));
    }
    Ok(Some(rec))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(user: &str) -> Account {
        Account {
            provider: Provider::Microsoft,
            authority: "https://login.microsoftonline.com".into(),
            tenant: "common".into(),
            client_id: "cid".into(),
            user: user.into(),
        }
    }

    fn tempdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ooauth2-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn ids_are_case_insensitive_in_user_and_safe() {
        assert_eq!(Store::id(&account("A@B.c")), Store::id(&account("a@b.C")));
        let id = Store::id(&account("../../x"));
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(id.len(), 32);
    }

    #[test]
    fn microsoft_ids_are_stable_across_versions() {
        // Computed by the build before provider presets: existing records keep their names.
        assert_eq!(
            Store::id(&account("me@example.com")),
            "a1993608ab31efb11c2f232379f82fd4"
        );
        let contoso = Account {
            provider: Provider::MicrosoftUs,
            authority: "https://login.microsoftonline.com".into(),
            tenant: "contoso.onmicrosoft.com".into(),
            client_id: "9e5f94bc-e8a4-4e73-b8be-63364c29d753".into(),
            user: "Me@Contoso.com".into(),
        };
        assert_eq!(Store::id(&contoso), "3ddcf6b09cc9d437a2bb149369023457");
        // The same user at Google is another record.
        let google = Account {
            provider: Provider::Google,
            ..account("me@example.com")
        };
        assert_ne!(Store::id(&google), "a1993608ab31efb11c2f232379f82fd4");
    }

    #[test]
    fn records_without_a_provider_are_microsofts() {
        let dir = tempdir("noprovider");
        let store = Store::at(dir.clone());
        let acct = account("old@example.com");
        store.ensure_dir().unwrap();
        let old = r#"{"version":1,"authority":"https://login.microsoftonline.com","tenant":"common","client_id":"cid","user":"old@example.com","scope":"s","refresh_token":"rt","refresh_token_obtained_at":null,"access_token":null,"token_type":null,"expires_at":null,"granted_scope":null,"needs_login":null,"updated_at":1}"#;
        fs::write(store.record_path(&acct), old).unwrap();
        let rec = store.load(&acct).unwrap().unwrap();
        assert_eq!(rec.provider, None);
        assert_eq!(rec.account(), acct);
        assert_eq!(store.find_users(&account("")).unwrap(), ["old@example.com"]);
        // Written again, it says so.
        let lock = store.lock(&acct, Duration::from_secs(1)).unwrap();
        store.save(&lock, &Record::new(&acct, "s", 2)).unwrap();
        let text = fs::read_to_string(store.record_path(&acct)).unwrap();
        assert!(text.contains("\"provider\": \"microsoft\""), "{text}");
        // A Google account of the same user is not found by a Microsoft request.
        let google = Account {
            provider: Provider::Google,
            ..acct.clone()
        };
        assert!(store.load(&google).unwrap().is_none());
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn save_load_remove_with_modes() {
        let dir = tempdir("modes").join("nested");
        let store = Store::at(dir.clone());
        let acct = account("me@example.com");
        assert!(store.load(&acct).unwrap().is_none());
        let lock = store.lock(&acct, Duration::from_secs(1)).unwrap();
        let mut rec = Record::new(&acct, "s", 1);
        rec.refresh_token = Some("rt".into());
        store.save(&lock, &rec).unwrap();
        assert_eq!(store.load(&acct).unwrap(), Some(rec));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&store.record_path(&acct)), 0o600);
        assert!(store.remove(&lock).unwrap());
        assert!(!store.remove(&lock).unwrap());
        let _ = fs::remove_dir_all(dir.parent().unwrap());
    }

    #[test]
    fn lock_times_out_with_store_busy() {
        let dir = tempdir("busy");
        let store = Store::at(dir.clone());
        let acct = account("x");
        let _held = store.lock(&acct, Duration::from_secs(1)).unwrap();
        let err = store.lock(&acct, Duration::from_millis(50)).unwrap_err();
        assert_eq!(err.code, Code::StoreBusy);
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn newer_and_corrupt_records_are_errors() {
        let dir = tempdir("corrupt");
        let store = Store::at(dir.clone());
        let acct = account("x");
        store.ensure_dir().unwrap();
        fs::write(store.record_path(&acct), b"{not json").unwrap();
        let e = store.load(&acct).unwrap_err();
        assert_eq!(e.code, Code::StoreError);
        assert!(e.message.contains("not a valid"));
        fs::write(store.record_path(&acct), br#"{"version": 99}"#).unwrap();
        assert!(store.load(&acct).unwrap_err().message.contains("newer"));
        let _ = fs::remove_dir_all(dir);
    }
}
