//! Accounts on disk: where they live, how they are locked, how a record is
//! written so that a crash leaves either the old or the new one.
//!
//! Layout (directory 0700, files 0600 from creation):
//! `<dir>/<id>.json` is the record, `<dir>/<id>.lock` the account's lock, where
//! `<id>` is the SHA-256 of the account identity, so any `user` is a safe name.
//! `<dir>/discovery/<sha>.json` caches an issuer's OpenID Connect discovery
//! document (in a subdirectory, so it is never listed as an account).
//! `<dir>/imports/<sha>.lock` serialises imports of one refresh token
//! before its account is known (see `imports`).

mod discovery;
mod files;
mod imports;
mod lock;
mod record;

pub use discovery::CachedDiscovery;
pub use lock::AccountLock;
pub use record::{Record, SCHEMA_VERSION};

use crate::account::Account;
use crate::error::{Code, Error, Result};
use crate::settings::Settings;
use files::write_atomic;
use record::read_record;
use sha2::{Digest, Sha256};
use std::fs::{self, DirBuilder, File};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The store directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store at `$OOAUTH2_STORE_DIR`, else `$XDG_DATA_HOME/ooauth2`.
    /// Nothing is created until something is written.
    pub fn open(settings: &Settings) -> Result<Store> {
        settings.store_dir().map(Store::at)
    }

    /// A store at an explicit directory.
    pub(crate) fn at(dir: PathBuf) -> Store {
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
    pub(crate) fn load(&self, account: &Account) -> Result<Option<Record>> {
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

    /// Writes a record atomically: temp file, fsync, rename, fsync the directory.
    pub(crate) fn save(&self, lock: &AccountLock, record: &Record) -> Result<()> {
        self.ensure_dir()?;
        let path = self.dir.join(format!("{}.json", lock.id));
        let mut body = serde_json::to_vec_pretty(record)
            .map_err(|e| Error::new(Code::StoreError, format!("cannot encode record: {e}")))?;
        body.push(b'\n');
        write_atomic(&self.dir, &lock.id, &path, &body)
    }

    /// Deletes an account's record; returns whether there was one.
    pub(crate) fn remove(&self, lock: &AccountLock) -> Result<bool> {
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
}

fn same_identity(a: &Account, b: &Account) -> bool {
    a.provider.family() == b.provider.family()
        && a.authority.eq_ignore_ascii_case(&b.authority)
        && a.tenant.eq_ignore_ascii_case(&b.tenant)
        && a.client_id == b.client_id
        && a.user.to_lowercase() == b.user.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::Provider;
    use std::time::Duration;

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
