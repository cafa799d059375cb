//! `store migrate`'s change of one account's config entry: its
//! `secret_store` (and, for `command`, its `encrypt_cmd` and
//! `decrypt_cmd`) set, every other value kept, planned through the one
//! config writer so that the rest of the file keeps every byte.

use super::{Edit, Named, plan_account};
use crate::error::{Error, Result};
use crate::protocol::keys::Spelling;
use crate::request::{Action, Request};
use crate::secret::StoreKind;
use crate::settings::Settings;

/// The commands `store migrate` was given for the `command` store.
#[derive(Debug, Clone, Default)]
pub struct GivenCommands {
    /// `--encrypt-cmd`.
    pub encrypt: Option<String>,
    /// `--decrypt-cmd`.
    pub decrypt: Option<String>,
}

/// Account `named` with `secret_store = to`: the request it makes then
/// (a `get`) and the planned change of its config entry. `command` takes
/// the `given` commands, else the entry's own, and needs both; `file`
/// drops the entry's (they would be refused beside it).
pub fn with_secret_store(
    settings: &Settings,
    named: &Named,
    to: StoreKind,
    given: GivenCommands,
) -> Result<(Request, Edit)> {
    let mut raw = named.raw.clone();
    // Spelled as `store migrate`'s other requests, so the two compare.
    raw.spelling = Spelling::Flags;
    raw.secret_store = Some(to.name().to_string());
    match to {
        StoreKind::File | StoreKind::Keyring => {
            raw.encrypt_cmd = None;
            raw.decrypt_cmd = None;
        }
        StoreKind::Command => {
            raw.encrypt_cmd = given.encrypt.or(raw.encrypt_cmd);
            raw.decrypt_cmd = given.decrypt.or(raw.decrypt_cmd);
            if raw.encrypt_cmd.is_none() || raw.decrypt_cmd.is_none() {
                return Err(Error::invalid(format!(
                    "--to command needs an encrypt_cmd and a decrypt_cmd, and [accounts.{}] \
                     lacks one; nothing was changed",
                    named.name
                ))
                .hint(format!(
                    "give them: ooauth2 store migrate {} --to command --encrypt-cmd 'age -r \
                     age1...' --decrypt-cmd 'age -d -i ~/.config/age/key.txt' (they are \
                     written to the config file)",
                    named.name
                )));
            }
        }
    }
    let edit = plan_account(settings, &named.name, &raw)?;
    raw.action = Some(Action::Get.as_str().to_string());
    let req = Request::validate_named(raw, &named.name, Vec::new())?;
    Ok((req, edit))
}
