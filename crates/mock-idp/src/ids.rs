//! The shapes of what the mock hands out besides tokens: id tokens
//! (unsigned JWTs), user object ids stable per address, and ids shaped like
//! Microsoft's trace and correlation ids.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use crate::rng::Rng;
use crate::time::unix_now;

/// Tenant id put in id tokens (Microsoft's id for personal accounts).
const MOCK_TID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// The characters of tokens, codes and PKCE challenges (base64url).
pub(crate) const URL_SAFE_CHARS: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// The characters of the user codes people type.
pub(crate) const USER_CODE_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// An unsigned id token (`alg: none`) for `user`, as issued by `authority`.
pub(crate) fn id_token(authority: &str, user: &str, client_id: &str, lifetime: u64) -> String {
    let now = unix_now();
    let header = json!({"alg": "none", "typ": "JWT"});
    let payload = json!({
        "aud": client_id,
        "iss": format!("{authority}/{MOCK_TID}/v2.0"),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "name": "Mock User",
        "preferred_username": user,
        "email": user,
        "oid": oid_for(user),
        "sub": oid_for(user),
        "tid": MOCK_TID,
        "ver": "2.0",
    });
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    )
}

/// A stable uuid-looking object id for a user.
pub(crate) fn oid_for(user: &str) -> String {
    // FNV-1a, twice with different offsets, for 128 bits.
    let fnv = |offset: u64| {
        user.bytes().fold(offset, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    uuid_from(fnv(0xcbf2_9ce4_8422_2325), fnv(0x6c62_272e_07bb_0142))
}

fn uuid_from(a: u64, b: u64) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

impl Rng {
    /// A random id shaped like Microsoft's trace and correlation ids.
    pub(crate) fn uuid(&mut self) -> String {
        let (a, b) = (self.next_u64(), self.next_u64());
        uuid_from(a, b)
    }
}
