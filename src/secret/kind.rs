//! The secret stores this build has, by name: the one rule for a
//! `secret_store` value, whether it comes from the config file, the
//! helper protocol, `--secret-store` or `store migrate --to`.

use crate::error::{Error, Result, shown};

/// Where an account's refresh token rests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// In the clear in the account's 0600 record (the default).
    File,
    /// In the record, sealed by the account's `encrypt_cmd`.
    Command,
    /// In the desktop's Secret Service; the record names the item.
    Keyring,
}

impl StoreKind {
    /// Every store, in the order messages list them.
    pub const ALL: [StoreKind; 3] = [StoreKind::File, StoreKind::Keyring, StoreKind::Command];

    /// Its `secret_store` value.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::File => "file",
            StoreKind::Command => "command",
            StoreKind::Keyring => "keyring",
        }
    }

    /// The store named `value`; `key` is how the caller spells the key
    /// that gave it (`secret_store`, `--secret-store`, `--to`).
    pub fn parse(value: &str, key: &str) -> Result<StoreKind> {
        StoreKind::ALL
            .into_iter()
            .find(|k| k.name() == value)
            .ok_or_else(|| {
                Error::invalid(format!("unknown {key} '{}'", shown(value))).hint(
                    "use file (the default: the record holds the refresh token), keyring (the \
                     desktop's Secret Service) or command (sealed by encrypt_cmd, opened by \
                     decrypt_cmd)",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_store_parses_back_from_its_name() {
        for k in StoreKind::ALL {
            assert_eq!(StoreKind::parse(k.name(), "--to").unwrap(), k);
        }
        let e = StoreKind::parse("keyrnig", "--to").unwrap_err();
        assert!(
            e.message.contains("unknown --to 'keyrnig'"),
            "{}",
            e.message
        );
    }
}
