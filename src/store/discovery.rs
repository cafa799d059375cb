//! The cache of issuers' OpenID Connect discovery documents, in
//! `<store>/discovery/`, kept a day (a stale copy serves while the issuer is down).

use super::Store;
use super::files::write_atomic;
use crate::error::{Code, Error, Result};
use crate::provider::Discovery;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{self, DirBuilder};
use std::io::ErrorKind;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;

/// An issuer's endpoints as discovered, and when (Unix seconds).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CachedDiscovery {
    #[serde(flatten)]
    /// What the document says.
    pub(crate) doc: Discovery,
    /// When it was fetched (Unix seconds).
    pub(crate) fetched_at: u64,
}

impl Store {
    fn discovery_path(&self, issuer: &str) -> (PathBuf, String) {
        let digest = Sha256::digest(issuer.as_bytes());
        let id: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        (self.dir.join("discovery").join(format!("{id}.json")), id)
    }

    /// The cached discovery document of `issuer`, if there is a readable one
    /// (a damaged cache is only a cache: it is fetched again).
    pub(crate) fn load_discovery(&self, issuer: &str) -> Option<CachedDiscovery> {
        let (path, _) = self.discovery_path(issuer);
        let bytes = fs::read(path).ok()?;
        serde_json::from_slice::<CachedDiscovery>(&bytes)
            .ok()
            .filter(|d| d.doc.issuer == issuer)
    }

    /// Caches a discovery document, atomically, without a lock: writers
    /// racing here write the same facts.
    pub(crate) fn save_discovery(&self, doc: &CachedDiscovery) -> Result<()> {
        self.ensure_dir()?;
        crate::signals::survive_file_size_limit();
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
}
