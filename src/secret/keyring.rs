//! The `keyring` secret store: a refresh token as an item of the desktop's
//! Secret Service (GNOME Keyring, KeePassXC, KWallet) over D-Bus.
//!
//! Each write makes a new item, named by the account's slot and a
//! generation (`SLOT.GEN`), and the record then points at it; a crash
//! between the two leaves the newer item one generation ahead of the
//! record, where [`open`] looks first, so the newest token always wins.
//! Every call runs under a timeout (a keyring waiting on an unlock
//! prompt nobody sees must not hang a mail client), and every failure is
//! `secret_store_unavailable` with what to do.

use super::Secret;
use super::seal::token_of;
use crate::error::{Code, Error, Result, printable, shorten};
use std::time::Duration;

/// The Secret Service `service` attribute of every ooauth2 item.
pub(crate) const SERVICE: &str = "ooauth2";

/// Where one refresh token rests in the keyring: `SLOT.GEN`, as the
/// record's `refresh_token_keyring` holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    /// Random, chosen at the account's first keyring write: two stores
    /// (or two machines syncing one keyring) never share an item.
    slot: String,
    /// Counts the account's writes: the item after a crash is `generation + 1`.
    generation: u64,
}

impl Item {
    /// A first item for an account.
    pub(crate) fn first() -> Item {
        Item {
            slot: new_slot(),
            generation: 1,
        }
    }

    /// The item a record names, if the name is one this build writes.
    pub(crate) fn parse(name: &str) -> Option<Item> {
        let (slot, generation) = name.rsplit_once('.')?;
        let hex =
            !slot.is_empty() && slot.len() <= 32 && slot.bytes().all(|b| b.is_ascii_hexdigit());
        let generation = generation.parse().ok().filter(|g| *g > 0)?;
        hex.then(|| Item {
            slot: slot.to_string(),
            generation,
        })
    }

    /// The item's name, the Secret Service `username` attribute.
    pub(crate) fn name(&self) -> String {
        format!("{}.{}", self.slot, self.generation)
    }

    /// The item the account's next write makes.
    pub(crate) fn next(&self) -> Item {
        Item {
            slot: self.slot.clone(),
            generation: self.generation + 1,
        }
    }

    /// The item before this one, if there is one.
    fn previous(&self) -> Option<Item> {
        (self.generation > 1).then(|| Item {
            slot: self.slot.clone(),
            generation: self.generation - 1,
        })
    }
}

/// 64 bits that differ between processes and moments: not secret, only
/// distinct (std's hasher keys are random per process).
fn new_slot() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// The newest token of the account whose record names `item`: the next
/// generation's when a crash left one, else `item`'s own. Returns the item
/// it came from.
pub(crate) fn open(item: &Item, user: &str, timeout: Duration) -> Result<(Item, Secret)> {
    let next = item.next();
    if let Some(rt) = read(&next, user, timeout)? {
        return Ok((next, rt));
    }
    match read(item, user, timeout)? {
        Some(rt) => Ok((item.clone(), rt)),
        None => Err(Error::new(
            Code::SecretStoreUnavailable,
            format!(
                "the keyring has no item {} (service {SERVICE}) for the refresh token of {user}",
                item.name()
            ),
        )
        .hint(
            "it was deleted, or this is another keyring than the one that stored it; \
             sign in again to store a new one",
        )),
    }
}

/// Stores `token` as `item` and reads it back: only a token the keyring
/// gives back is one the record may point at.
pub(crate) fn write(item: &Item, user: &str, token: &Secret, timeout: Duration) -> Result<()> {
    let (name, label, value) = (
        item.name(),
        format!("ooauth2 refresh token for {user}"),
        token.clone(),
    );
    let doing = format!("storing the refresh token of {user}");
    run(doing, timeout, move |store| {
        let entry = entry(&store, &name, Some(&label))?;
        entry.set_password(value.expose())
    })?;
    match read(item, user, timeout)? {
        Some(back) if back == *token => Ok(()),
        _ => Err(Error::new(
            Code::SecretStoreUnavailable,
            format!(
                "the keyring did not give back the refresh token of {user} it was just given (item {})",
                item.name()
            ),
        )
        .hint("check the keyring with `secret-tool search service ooauth2`, or use another secret_store")),
    }
}

/// Deletes `item` and the one before it (a crash may have left it); an
/// item already gone is no failure.
pub(crate) fn delete(item: &Item, user: &str, timeout: Duration) -> Result<()> {
    for it in [Some(item.clone()), item.previous()].into_iter().flatten() {
        let name = it.name();
        let doing = format!("deleting a refresh token of {user}");
        run(doing, timeout, move |store| {
            match entry(&store, &name, None)?.delete_credential() {
                Err(keyring_core::Error::NoEntry) => Ok(()),
                other => other,
            }
        })?;
    }
    Ok(())
}

/// Whether the keyring answers and takes a write, known before a grant
/// spends anything at the provider: a probe item stored and deleted.
pub(crate) fn probe(timeout: Duration) -> Result<()> {
    let name = format!("probe-{}", new_slot());
    run("reaching the keyring".into(), timeout, move |store| {
        let entry = entry(&store, &name, Some("ooauth2 probe (deleted at once)"))?;
        entry.set_password("probe")?;
        entry.delete_credential()
    })
}

/// The refresh token `item` holds, `None` if there is no such item.
fn read(item: &Item, user: &str, timeout: Duration) -> Result<Option<Secret>> {
    let name = item.name();
    let doing = format!("reading the refresh token of {user}");
    let got = run(doing, timeout, move |store| {
        match entry(&store, &name, None)?.get_password() {
            Ok(text) => Ok(Some(Secret::new(text))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(e),
        }
    })?;
    let Some(text) = got else { return Ok(None) };
    token_of(text.expose().as_bytes()).map(Some).ok_or_else(|| {
        Error::new(
            Code::SecretStoreUnavailable,
            format!(
                "the keyring item {} holds no usable refresh token for {user} (value not shown)",
                item.name()
            ),
        )
        .hint("sign in again to store a new one")
    })
}

type Store = std::sync::Arc<keyring_core::CredentialStore>;

/// The entry `name` of our service; `label` names a new item in the
/// keyring's own screens.
fn entry(
    store: &Store,
    name: &str,
    label: Option<&str>,
) -> keyring_core::Result<keyring_core::Entry> {
    match label {
        Some(label) => {
            let modifiers = std::collections::HashMap::from([("label", label)]);
            keyring_core::Entry::new_in_store_with_modifiers(store, SERVICE, name, &modifiers)
        }
        None => keyring_core::Entry::new_in_store(store, SERVICE, name),
    }
}

/// Runs `op` on a connection to the Secret Service, on a thread of its
/// own so that a keyring that never answers (an unlock prompt on a
/// screen nobody watches) costs `timeout`, not a hang.
fn run<T: Send + 'static>(
    doing: String,
    timeout: Duration,
    op: impl FnOnce(Store) -> keyring_core::Result<T> + Send + 'static,
) -> Result<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let got = connect()
            .map_err(Failure::Connect)
            .and_then(|s| op(s).map_err(Failure::Op));
        let _ = tx.send(got);
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(f)) => Err(unavailable(&f, &doing)),
        Err(_) => Err(Error::new(
            Code::SecretStoreUnavailable,
            format!(
                "the keyring did not answer within {} s while {doing}",
                timeout.as_secs()
            ),
        )
        .hint(
            "is it waiting to be unlocked? unlock it in your desktop session (or raise \
             OOAUTH2_SECRET_CMD_TIMEOUT) and run the command again",
        )),
    }
}

/// A failure of the keyring: reaching it, or an operation on it.
enum Failure {
    Connect(keyring_core::Error),
    Op(keyring_core::Error),
}

/// One connection a process: each costs a D-Bus handshake and a session key.
fn connect() -> keyring_core::Result<Store> {
    static STORE: std::sync::Mutex<Option<Store>> = std::sync::Mutex::new(None);
    let mut held = STORE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(s) = held.as_ref() {
        return Ok(s.clone());
    }
    let s: Store = zbus_secret_service_keyring_store::Store::new()?;
    *held = Some(s.clone());
    Ok(s)
}

/// The error for a keyring failure, in the user's words.
fn unavailable(f: &Failure, doing: &str) -> Error {
    let (e, reach) = match f {
        Failure::Connect(e) => (e, true),
        Failure::Op(e) => (e, false),
    };
    let detail = shorten(&printable(&e.to_string()), 200);
    let (what, fix) = match e {
        keyring_core::Error::NoStorageAccess(_) => (
            "the keyring is locked or refused access",
            "unlock it (log in to your desktop session, or unlock the collection in Seahorse \
             or KeePassXC) and run the command again",
        ),
        // The bus answers, but nobody owns the Secret Service name.
        _ if detail.contains("ServiceUnknown") => (
            "no Secret Service answers on the D-Bus session bus",
            "start your keyring (log in to the desktop session, or run gnome-keyring-daemon, \
             or KeePassXC with its Secret Service integration on) and run the command again",
        ),
        _ if reach => (
            "no D-Bus session bus to reach the keyring",
            "run it in your desktop session, where the keyring runs; over ssh or from cron \
             there is none: give such accounts secret_store = \"command\" (age, gpg) instead",
        ),
        _ => (
            "the keyring failed",
            "is gnome-keyring-daemon (or KeePassXC's Secret Service) running in this session? \
             run the command again when it is",
        ),
    };
    Error::new(
        Code::SecretStoreUnavailable,
        format!("{what} while {doing} ({detail})"),
    )
    .hint(fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_names_round_trip_and_refuse_what_this_build_never_writes() {
        let it = Item::first();
        assert_eq!(Item::parse(&it.name()), Some(it.clone()));
        assert_eq!(it.next().previous(), Some(it.clone()));
        assert_eq!(it.previous(), None);
        assert_eq!(
            Item::parse(&it.next().name()).map(|i| i.generation),
            Some(2)
        );
        for bad in ["", "abc", ".1", "abc.0", "xyz.1", "ab.c.1", "abc.-1"] {
            assert_eq!(Item::parse(bad), None, "{bad}");
        }
        assert_ne!(Item::first().slot, Item::first().slot);
    }
}
