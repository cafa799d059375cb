//! Local passwords of `ooauth2 proxy` listeners: an argon2id hash in PHC
//! form (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`), made by `ooauth2
//! proxy hash-password` or from a `local_password_cmd`'s output, and a
//! login's password checked against it. Only the hash is ever stored; the
//! comparison is the argon2 crate's, in constant time.

use crate::error::{Error, Result};
use crate::secret::Secret;
use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// The longest password taken (a passphrase fits many times; more is a
/// mistake or an attack on the hash's cost).
pub const MAX_LEN: usize = 1024;

/// The PHC string of `password`: argon2id with the crate's default cost
/// (19 MiB, 2 passes: OWASP's minimum) and a fresh random salt.
pub fn hash(password: &Secret) -> Result<String> {
    let p = password.expose();
    if p.is_empty() || p.len() > MAX_LEN {
        return Err(Error::invalid(format!(
            "a local password must be 1 to {MAX_LEN} bytes"
        )));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(p.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::invalid(format!("cannot hash the password: {e}")))
}

/// What is wrong with `phc` as a stored hash (`None`: nothing): it must be
/// an argon2 PHC string the crate can verify with.
pub fn bad_hash(phc: &str) -> Option<String> {
    match PasswordHash::new(phc) {
        Ok(h) if h.algorithm.as_str().starts_with("argon2") && h.hash.is_some() => None,
        Ok(h) => Some(format!(
            "is a '{}' hash, not argon2 (ooauth2 proxy hash-password makes one)",
            h.algorithm.as_str()
        )),
        Err(e) => Some(format!(
            "is not a PHC string such as $argon2id$v=19$... ({e})"
        )),
    }
}

/// Whether `password` is the one `phc` was made from; a malformed `phc`
/// (checked when the config was read) matches nothing.
pub fn verify(phc: &str, password: &Secret) -> bool {
    let Ok(h) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.expose().as_bytes(), &h)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc = hash(&Secret::new("correct horse")).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        assert_eq!(bad_hash(&phc), None);
        assert!(verify(&phc, &Secret::new("correct horse")));
        assert!(!verify(&phc, &Secret::new("correct hors")));
        assert!(!verify("nonsense", &Secret::new("correct horse")));
        assert!(bad_hash("nonsense").is_some());
        assert!(hash(&Secret::new("")).is_err());
    }
}
