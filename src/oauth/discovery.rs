//! OpenID Connect Discovery 1.0 §4 and RFC 8414 §3: the fetch of an
//! issuer's metadata document (its parsing and the endpoints it gives are
//! `provider`'s, its caching the store's).

use super::http::{Http, host_of};
use crate::error::{Code, Error, Result};
use crate::provider::{Discovery, discovery_urls, parse_discovery};

/// Fetches `issuer`'s discovery document: OpenID Connect's well-known
/// path, then RFC 8414's when the first is not there.
pub(crate) fn discover(http: &Http, issuer: &str) -> Result<Discovery> {
    let host = host_of(issuer);
    let mut last = None;
    for url in discovery_urls(issuer) {
        let reply = http.get(&url, "discovery")?;
        match reply.status {
            200 => return parse_discovery(issuer, &reply.body),
            404 | 400 | 405 => last = Some(reply.status),
            status => return Err(refused(&host, status)),
        }
    }
    Err(Error::new(
        Code::BadResponse,
        format!(
            "{host} has no discovery document for {issuer} (HTTP {})",
            last.unwrap_or(404)
        ),
    )
    .hint(CHECK_ISSUER))
}

const CHECK_ISSUER: &str = "check issuer=, or give the endpoints instead (token_endpoint=, ...)";

fn refused(host: &str, status: u16) -> Error {
    let code = if status >= 500 || status == 429 {
        Code::ServerError
    } else {
        Code::BadResponse
    };
    Error::new(
        code,
        format!("{host} answered the discovery request with HTTP {status}"),
    )
    .hint(CHECK_ISSUER)
}
