//! When nothing is stored for a request: the stored accounts it nearly
//! names (the same user under another provider, authority, tenant or
//! client id; any user when the request names none), each with what
//! differs and the flags (or keys) that reach it. A typo'd client id or a
//! forgotten `--tenant` then reads as what it is, not as "sign in again".

use super::Engine;
use crate::account::{self, Account};
use crate::error::Error;
use crate::protocol::keys::{RequestKey, Spelling};
use crate::provider::{self, Provider};
use crate::request::Request;
use crate::store::Store;

/// At most this many near misses are named.
const SHOWN: usize = 3;

/// A request without a user nearly names a stored account only when at
/// most this many of provider, authority, tenant and client id differ.
const MAX_DIFFERENCES: usize = 2;

/// A stored account the request nearly names.
struct NearMiss {
    /// Its user.
    user: String,
    /// What differs from the request: the key and the stored value.
    differences: Vec<(RequestKey, String)>,
}

impl Engine<'_> {
    /// `e` (nothing is stored for `wanted`; an empty user: any) with the
    /// stored accounts that differ from it only in provider, authority,
    /// tenant or client id, and the flags that `verb` them (`e`'s own hint
    /// after, as the way to sign in as asked, when `sign_in`); `e` as it
    /// is when there are none (or the store cannot be listed: `e` says more).
    pub(super) fn with_near_misses(
        &self,
        req: &Request,
        wanted: &Account,
        e: Error,
        verb: &str,
        sign_in: bool,
    ) -> Error {
        let Some((stored, give)) = near_miss_words(&self.store, req, wanted) else {
            return e;
        };
        let message = format!("{}; {stored}", e.message);
        let mut hint = format!("to {verb} {give}");
        if let Some(h) = e.hint.as_ref().filter(|_| sign_in) {
            hint.push_str(&format!("; to sign in as asked instead, {h}"));
        }
        Error { message, ..e }.hint(hint)
    }

    /// Before a sign-in for `wanted`, of which nothing is stored: the
    /// stored accounts it nearly names, on stderr, while the person can
    /// still stop it (a forgotten `--tenant` is no reason to sign in).
    pub(super) fn note_near_misses(&self, req: &Request, wanted: &Account) {
        if let Some((stored, give)) = near_miss_words(&self.store, req, wanted) {
            eprintln!(
                "ooauth2: note: nothing is stored for this request, but {stored}; \
                 to use {give} instead (Ctrl-C stops this sign-in)"
            );
        }
    }
}

/// The stored accounts `req` nearly names (for `wanted`; an empty user:
/// any), as words for a message (`U is stored under tenant T`) and the
/// flags, in `req`'s spelling, that reach them (`it, give --tenant T`);
/// `None` when there are none.
pub fn near_miss_words(store: &Store, req: &Request, wanted: &Account) -> Option<(String, String)> {
    let misses = near_misses(store, wanted);
    if misses.is_empty() {
        return None;
    }
    let shown: Vec<String> = misses.iter().take(SHOWN).map(NearMiss::described).collect();
    let more = misses.len().saturating_sub(SHOWN);
    let mut stored = match shown.as_slice() {
        [one] => one.clone(),
        _ => format!("stored instead: {}", shown.join(", ")),
    };
    if more > 0 {
        stored.push_str(&format!(" and {more} more"));
    }
    let with_user = wanted.user.is_empty();
    let flags: Vec<String> = misses
        .iter()
        .take(SHOWN)
        .map(|m| m.flags(req.spelling(), with_user))
        .collect();
    let which = if flags.len() == 1 { "it" } else { "one" };
    let mut give = format!("{which}, give {}", flags.join(", or "));
    if let Some(name) = req.account_name() {
        // A named account's values come from its table: the fix may belong there.
        give.push_str(&format!(
            " (or put that in [accounts.{name}] of the config file)"
        ));
    }
    Some((stored, give))
}

/// The stored accounts `wanted` nearly names, fewest differences first.
fn near_misses(store: &Store, wanted: &Account) -> Vec<NearMiss> {
    let Ok(listed) = store.list() else {
        return Vec::new();
    };
    let mut misses: Vec<NearMiss> = listed
        .into_iter()
        .filter_map(|(_, rec)| rec.ok())
        .map(|rec| rec.account())
        .filter(|have| {
            wanted.user.is_empty() || have.user.to_lowercase() == wanted.user.to_lowercase()
        })
        .map(|have| NearMiss {
            differences: differences(wanted, &have),
            user: have.user,
        })
        .filter(|m| {
            !m.differences.is_empty()
                && (!wanted.user.is_empty() || m.differences.len() <= MAX_DIFFERENCES)
        })
        .collect();
    misses.sort_by_key(|m| m.differences.len());
    misses
}

impl NearMiss {
    /// "U is stored under tenant T with client id C".
    fn described(&self) -> String {
        let parts: Vec<String> = self
            .differences
            .iter()
            .map(|(key, value)| {
                let what = match key {
                    RequestKey::Provider => "at provider",
                    RequestKey::Tenant => "under tenant",
                    RequestKey::ClientId => "with client id",
                    RequestKey::TokenEndpoint => "at token endpoint",
                    _ => "at authority",
                };
                format!("{what} {value}")
            })
            .collect();
        format!("{} is stored {}", self.user, parts.join(" "))
    }

    /// The flags (or keys) that name it, `user` too when asked.
    fn flags(&self, sp: Spelling, with_user: bool) -> String {
        let user = (RequestKey::User, self.user.clone());
        let shown = self.differences.iter().chain(with_user.then_some(&user));
        let pairs: Vec<String> = shown
            .map(|(key, value)| match sp {
                Spelling::Keys => sp.pair(*key, value),
                _ => sp.pair(*key, &account::shell_word(value)),
            })
            .collect();
        pairs.join(" ")
    }
}

/// What differs between the wanted account and the stored `have` (the
/// user aside), as the keys that would name `have` and their values. A
/// provider of its own brings its own defaults: only values beyond them.
fn differences(want: &Account, have: &Account) -> Vec<(RequestKey, String)> {
    let mut d = Vec::new();
    let same_provider = want.provider.family() == have.provider.family();
    if !same_provider {
        d.push((RequestKey::Provider, have.provider.name().to_string()));
    }
    let authority_differs = if same_provider {
        !want.authority.eq_ignore_ascii_case(&have.authority)
    } else {
        have.authority != have.provider.default_authority()
    };
    if authority_differs {
        // A generic account's authority is its token endpoint.
        let key = match have.provider {
            Provider::Generic => RequestKey::TokenEndpoint,
            _ => RequestKey::Authority,
        };
        d.push((key, have.authority.clone()));
    }
    let tenant_differs = if same_provider {
        !want.tenant.eq_ignore_ascii_case(&have.tenant)
    } else {
        have.provider.is_microsoft() && have.tenant != provider::DEFAULT_TENANT
    };
    if tenant_differs {
        d.push((RequestKey::Tenant, have.tenant.clone()));
    }
    if want.client_id != have.client_id {
        d.push((RequestKey::ClientId, have.client_id.clone()));
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(tenant: &str, client_id: &str) -> Account {
        Account {
            provider: Provider::Microsoft,
            authority: provider::DEFAULT_AUTHORITY.into(),
            tenant: tenant.into(),
            client_id: client_id.into(),
            user: "u@x.com".into(),
        }
    }

    #[test]
    fn differences_name_only_what_differs() {
        let want = ms("common", "c1");
        assert!(differences(&want, &ms("COMMON", "c1")).is_empty());
        assert_eq!(
            differences(&want, &ms("contoso.com", "c2")),
            [
                (RequestKey::Tenant, "contoso.com".to_string()),
                (RequestKey::ClientId, "c2".to_string())
            ]
        );
        let google = Account {
            provider: Provider::Google,
            authority: Provider::Google.default_authority().into(),
            tenant: String::new(),
            ..ms("", "c1")
        };
        assert_eq!(
            differences(&want, &google),
            [(RequestKey::Provider, "google".to_string())]
        );
    }
}
