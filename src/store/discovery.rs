//! The cache of issuers' OpenID Connect discovery documents, in
//! `<store>/discovery/`, kept a day (a stale copy serves while the issuer is down).

use super::Store;
use super::files::{private_dir, read_file, replace_error, temp_file};
use crate::error::{Code, Error, Result};
use crate::provider::Discovery;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
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
    fn discovery_path(&self, issuer: &str) -> PathBuf {
        let digest = Sha256::digest(issuer.as_bytes());
        let id: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join("discovery").join(format!("{id}.json"))
    }

    /// The cached discovery document of `issuer`, if there is a readable one
    /// (a damaged cache, or anything but a regular file in its place, is
    /// only a cache: it is fetched again).
    pub(crate) fn load_discovery(&self, issuer: &str) -> Option<CachedDiscovery> {
        if !self.check_dir().ok()? {
            return None;
        }
        let path = self.discovery_path(issuer);
        let bytes = read_file(&path).ok()??;
        serde_json::from_slice::<CachedDiscovery>(&bytes)
            .ok()
            .filter(|d| d.doc.issuer == issuer)
    }

    /// Caches a discovery document, atomically, without a lock: writers
    /// racing here write the same facts.
    pub(crate) fn save_discovery(&self, doc: &CachedDiscovery) -> Result<()> {
        self.ensure_dir()?;
        crate::signals::survive_file_size_limit();
        let path = self.discovery_path(&doc.doc.issuer);
        let dir = self.dir.join("discovery");
        private_dir(&dir, false)?;
        let mut body = serde_json::to_vec_pretty(doc).map_err(|e| {
            Error::new(
                Code::StoreError,
                format!("cannot encode the discovery cache: {e}"),
            )
        })?;
        body.push(b'\n');
        temp_file(&path, 0)?.commit(&body).map_err(replace_error)
    }
}
