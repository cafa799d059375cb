//! Accounts on disk: where they live, how they are locked, how a record is
//! written so that a crash leaves either the old or the new one.
//!
//! Layout (directory 0700, files 0600 from creation, both set explicitly
//! whatever the umask; the directory must be the user's own, and its files
//! are opened as regular files only, never through a symbolic link):
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
use crate::replace::TempFile;
use crate::settings::Settings;
use files::{MAX_FILE, check_dir, private_dir, replace_error, sync_dir, temp_file};
use record::read_record;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::ErrorKind;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

/// The least a write reserves before a grant: a record with Microsoft's
/// tokens is a few KiB.
const MIN_RESERVE: u64 = 16 * 1024;

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

    /// The path of a file kept beside the records (the proxy's generated
    /// TLS certificate and key), the directory made first as for a record.
    pub fn side_file(&self, name: &str) -> Result<PathBuf> {
        self.ensure_dir()?;
        Ok(self.dir.join(name))
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

    /// Makes the store directory ready for a write: created 0700 if
    /// missing, ours, closed to others (the store path itself may be a
    /// symbolic link to such a directory).
    fn ensure_dir(&self) -> Result<()> {
        private_dir(&self.dir, true)
    }

    /// Checks the store directory before a read: ours (another user could
    /// plant, swap or delete records in it) and a directory; `false` when
    /// it does not exist.
    fn check_dir(&self) -> Result<bool> {
        match fs::metadata(&self.dir) {
            Ok(meta) => check_dir(&self.dir, &meta).map(|()| true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::store("inspect", &self.dir, &e)),
        }
    }

    /// Reads an account's record without locking; `None` if there is none.
    pub(crate) fn load(&self, account: &Account) -> Result<Option<Record>> {
        if !self.check_dir()? {
            return Ok(None);
        }
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

    /// The first half of a write of the locked account's record, done
    /// before anything is spent (a refresh token, a code): the temp file
    /// is created in the store directory (0600, never through a link) and
    /// room for the record written into it and synced, so a read-only
    /// store, a full disk or a file size limit fail here. Dropped without
    /// [`PreparedWrite::commit`], it leaves nothing behind.
    pub(crate) fn prepare<'l>(&self, lock: &'l AccountLock) -> Result<PreparedWrite<'l>> {
        self.ensure_dir()?;
        let path = self.dir.join(format!("{}.json", lock.id));
        // Twice the record there is: a rotated token is about as long.
        let old = fs::symlink_metadata(&path).map_or(0, |m| m.len());
        let reserve = old.saturating_mul(2).clamp(MIN_RESERVE, MAX_FILE);
        let temp = temp_file(&path, reserve)?;
        Ok(PreparedWrite {
            temp,
            _lock: PhantomData,
        })
    }

    /// Whether a record could be written now (a temp file with room for one,
    /// made and removed), for a grant whose account is not known before
    /// the provider answers: a read-only store, a full disk or a file size
    /// limit fail here, before a sign-in or an import spends anything.
    pub(crate) fn probe_write(&self) -> Result<()> {
        self.ensure_dir()?;
        temp_file(&self.dir.join("probe.json"), MIN_RESERVE).map(drop)
    }

    /// Deletes an account's record; returns whether there was one.
    pub(crate) fn remove(&self, lock: &AccountLock) -> Result<bool> {
        let path = self.dir.join(format!("{}.json", lock.id));
        match fs::remove_file(&path) {
            Ok(()) => {
                let _ = sync_dir(&self.dir);
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::store("remove", &path, &e)),
        }
    }

    /// Every record in the store (unreadable ones as errors), sorted by path.
    pub fn list(&self) -> Result<Vec<(PathBuf, Result<Record>)>> {
        if !self.check_dir()? {
            return Ok(Vec::new());
        }
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

/// A record's write, prepared under its account's lock (which it cannot
/// outlive) by [`Store::prepare`]: the temp file is there and has room.
#[derive(Debug)]
pub(crate) struct PreparedWrite<'l> {
    temp: TempFile,
    _lock: PhantomData<&'l AccountLock>,
}

impl PreparedWrite<'_> {
    /// Writes `record` and puts it in place: fsync, rename over the
    /// record, fsync the directory. A failure leaves the old record.
    pub(crate) fn commit(self, record: &Record) -> Result<()> {
        let versioned;
        let record = match record.least_version() {
            v if v == record.version => record,
            v => {
                versioned = Record {
                    version: v,
                    ..record.clone()
                };
                &versioned
            }
        };
        let mut body = serde_json::to_vec_pretty(record)
            .map_err(|e| Error::new(Code::StoreError, format!("cannot encode record: {e}")))?;
        body.push(b'\n');
        self.temp.commit(&body).map_err(replace_error)
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
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;
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
        store
            .prepare(&lock)
            .unwrap()
            .commit(&Record::new(&acct, "s", 2))
            .unwrap();
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
        store.prepare(&lock).unwrap().commit(&rec).unwrap();
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

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut out: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        out.sort();
        out
    }

    #[test]
    fn a_prepared_write_is_committed_or_leaves_nothing() {
        let dir = tempdir("prepared");
        let store = Store::at(dir.clone());
        let acct = account("me@example.com");
        let lock = store.lock(&acct, Duration::from_secs(1)).unwrap();
        let before = names(&dir);
        let prepared = store.prepare(&lock).unwrap();
        let temps: Vec<String> = names(&dir)
            .into_iter()
            .filter(|n| !before.contains(n))
            .collect();
        assert_eq!(temps.len(), 1, "{temps:?}");
        assert!(temps[0].starts_with('.'), "listed as a record: {temps:?}");
        let temp = fs::metadata(dir.join(&temps[0])).unwrap();
        assert_eq!(temp.permissions().mode() & 0o777, 0o600);
        assert!(
            temp.len() >= MIN_RESERVE,
            "no room reserved: {}",
            temp.len()
        );
        drop(prepared);
        assert_eq!(names(&dir), before, "a dropped write left its temp file");
        let mut rec = Record::new(&acct, "s", 1);
        rec.refresh_token = Some("rt".into());
        store.prepare(&lock).unwrap().commit(&rec).unwrap();
        assert_eq!(store.load(&acct).unwrap(), Some(rec.clone()));
        let text = fs::read_to_string(store.record_path(&acct)).unwrap();
        assert!(!text.contains('\0'), "the reserved room is still there");
        // A second write reserves from the record there is and replaces it.
        rec.scope = "t".into();
        store.prepare(&lock).unwrap().commit(&rec).unwrap();
        assert_eq!(store.load(&acct).unwrap(), Some(rec));
        assert_eq!(names(&dir).len(), before.len() + 1);
        let _ = fs::remove_dir_all(dir);
    }

    /// Where a test run again in a child finds its directory.
    const CHILD_DIR: &str = "OOAUTH2_STORE_TEST_DIR";

    /// Runs the test `name` of this binary again, in a child started under
    /// `wrapper` (another uid, a file size limit), with [`CHILD_DIR`] set
    /// to `dir`, and asserts that it ran and passed.
    fn in_child(name: &str, wrapper: &[&str], dir: &Path) {
        let (program, pre) = wrapper.split_first().unwrap();
        let out = Command::new(program)
            .args(pre)
            .arg(std::env::current_exe().unwrap())
            .args(["--exact", name, "--test-threads=1"])
            .env(CHILD_DIR, dir)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{out:?}"
        );
    }

    /// With the account locked, `spoil` makes the store unwritable, and
    /// `prepare` must then fail with `needle` and leave the directory as it
    /// was; `restore` undoes `spoil`.
    fn prepare_fails(dir: &Path, spoil: fn(&Path), restore: fn(&Path), needle: &str) {
        let store = Store::at(dir.to_path_buf());
        let acct = account("me@example.com");
        let lock = store.lock(&acct, Duration::from_secs(1)).unwrap();
        let before = names(dir);
        spoil(dir);
        let result = store.prepare(&lock);
        restore(dir);
        let err = result.unwrap_err();
        assert_eq!(err.code, Code::StoreError);
        assert!(err.message.contains(needle), "{err:?}");
        assert_eq!(names(dir), before, "prepare left a file behind");
    }

    /// Sets the permission bits of `dir`.
    fn chmod(dir: &Path, mode: u32) {
        fs::set_permissions(dir, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn prepare_fails_on_a_read_only_directory_and_leaves_nothing() {
        let body = |dir: &Path| {
            let read_only: fn(&Path) = |d| chmod(d, 0o500);
            prepare_fails(dir, read_only, |d| chmod(d, 0o700), "Permission denied");
        };
        if let Some(dir) = std::env::var_os(CHILD_DIR) {
            return body(Path::new(&dir));
        }
        let dir = tempdir("readonly");
        if crate::settings::effective_uid() == Some(0) {
            // Mode bits do not stop root: the test runs again as nobody.
            fs::create_dir(&dir).unwrap();
            std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
            let setpriv = [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
            ];
            let name = "store::tests::prepare_fails_on_a_read_only_directory_and_leaves_nothing";
            in_child(name, &setpriv, &dir);
        } else {
            body(&dir);
        }
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn prepare_fails_under_a_file_size_limit_and_leaves_nothing() {
        // The limit is the child's: this process keeps writing files.
        if let Some(dir) = std::env::var_os(CHILD_DIR) {
            return prepare_fails(Path::new(&dir), |_| {}, |_| {}, "File too large");
        }
        let dir = tempdir("fsize");
        fs::create_dir(&dir).unwrap();
        let limit = ["sh", "-c", "trap '' XFSZ; ulimit -f 0; exec \"$0\" \"$@\""];
        let name = "store::tests::prepare_fails_under_a_file_size_limit_and_leaves_nothing";
        in_child(name, &limit, &dir);
        let _ = fs::remove_dir_all(dir);
    }
}
