//! A mock Microsoft identity platform (login.microsoftonline.com) on 127.0.0.1.
//!
//! Serves `/{tenant}/oauth2/v2.0/devicecode`, `/{tenant}/oauth2/v2.0/token`,
//! `GET /{tenant}/oauth2/v2.0/authorize` (auth code + PKCE: answers at once
//! with a 302 to the loopback `redirect_uri`, see [`AuthorizeMode`]), the
//! discovery documents (see [`DiscoveryMode`]), `/introspect` (RFC 7662, for
//! Dovecot-style checks), a small HTML page at `/devicelogin`, and its own
//! controls for people and scripts (`POST /mock/revoke`, `/mock/expire`,
//! `/mock/decline`: see `control.rs`). Answers
//! mimic Microsoft's JSON, including the AADSTS error shape. Faults can be
//! queued to exercise client error handling (see [`Fault`]), and app
//! registration problems played for `ooauth2 doctor` (see [`Registration`]).
//!
//! The other presets' paths are served too, with their providers' behaviour:
//! Google's `/o/oauth2/v2/auth` and `/token` (a refresh token only with
//! `access_type=offline`, never rotated; the client secret is required),
//! Yahoo's and AOL's `/oauth2/request_auth` and `/oauth2/get_token`,
//! Fastmail's `/oauth/authorize` and `/oauth/refresh` (a refresh token on
//! every code exchange, no `offline_access` needed).
//!
//! Plain std HTTP/1.1: one accept thread, one thread per connection, every
//! answer carries `Connection: close`. Dropping the [`MockIdp`] stops it.
//!
//! It never depends on ooauth2: it is the independent oracle the client is
//! tested against. The integration tests use this library; the `mock-idp`
//! binary (`cargo run -p mock-idp`) runs it by hand.
//!
//! This file holds the handle and the public types; the server is in
//! `server.rs` (threads) over `http.rs` (bytes), the state in `state.rs`, and
//! each endpoint in a file of its own named for it.
#![deny(missing_docs)]

use std::net::TcpListener;
use std::sync::{Arc, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Instant;

mod authorize;
mod control;
mod device;
mod discovery;
mod doctor;
mod errors;
mod fault;
mod http;
mod ids;
mod introspect;
pub mod rng;
mod route;
mod server;
mod state;
mod time;
mod token;

pub use doctor::Registration;
use route::Route;
use server::Shared;
use state::{AtEntry, State};

/// Token-endpoint requests, classified by `grant_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Grant {
    /// `urn:ietf:params:oauth:grant-type:device_code`
    Device,
    /// `refresh_token`
    Refresh,
    /// `authorization_code`
    AuthCode,
    /// Any other or missing `grant_type`.
    Other,
}

/// One request as the mock received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without any query string.
    pub path: String,
    /// The `{tenant}` path segment of devicecode, token and authorize
    /// requests, else empty.
    pub tenant: String,
    /// The decoded `application/x-www-form-urlencoded` body.
    pub form: Vec<(String, String)>,
    /// When the request was fully read.
    pub at: Instant,
}

impl Recorded {
    /// The first form value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        http::form_get(&self.form, key)
    }

    /// The grant of a token-endpoint request, `None` for other paths.
    pub fn grant(&self) -> Option<Grant> {
        match Route::of(&self.path) {
            Route::Token(_) => Some(token::grant_of(self.get("grant_type"))),
            _ => None,
        }
    }
}

/// What finally happens to a device code once the scripted polls are over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceOutcome {
    /// The user signs in: tokens for this user.
    Approve(String),
    /// `authorization_declined`.
    Decline,
    /// `expired_token`.
    Expire,
    /// `bad_verification_code`.
    BadCode,
}

/// How a device code answers successive polls of the token endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceScript {
    /// Polls answered `slow_down` first.
    pub slow_down_polls: u32,
    /// Then polls answered `authorization_pending`.
    pub pending_polls: u32,
    /// Then every poll gets this.
    pub outcome: DeviceOutcome,
}

impl Default for DeviceScript {
    fn default() -> Self {
        DeviceScript {
            slow_down_polls: 0,
            pending_polls: 1,
            outcome: DeviceOutcome::Approve("me@example.com".to_string()),
        }
    }
}

/// How the authorize endpoint answers a valid request: it redirects the
/// browser to the `redirect_uri` at once (no sign-in page).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizeMode {
    /// `code` and the request's `state`; the code is for this user.
    Approve(String),
    /// `error=access_denied` and the request's `state`.
    Deny,
    /// A valid code with a `state` that is not the request's.
    WrongState,
    /// The request's `state` and no code.
    NoCode,
}

/// How `GET /{tenant}/v2.0/.well-known/openid-configuration` (OpenID
/// Connect Discovery) and `GET /.well-known/oauth-authorization-server/{tenant}/v2.0`
/// (RFC 8414) answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscoveryMode {
    /// Both serve the tenant's document.
    Both,
    /// Only RFC 8414's path; OpenID Connect's is a 404.
    Rfc8414Only,
    /// The document names another issuer.
    WrongIssuer,
    /// The document has no device_authorization_endpoint.
    NoDevice,
    /// 503 on both.
    Unavailable,
}

/// A fault for the next request to the devicecode or token endpoint (FIFO,
/// one per request). Faulted requests are still recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// That status with a Microsoft-shaped JSON error (`server_error` for
    /// 5xx, `temporarily_unavailable` for 503/504).
    Status(u16),
    /// 429 with a `Retry-After` header.
    TooManyRequests {
        /// The `Retry-After` value.
        retry_after_secs: u64,
    },
    /// 200, application/json, body `{"access_token": `.
    InvalidJson,
    /// 200, text/html page (a captive portal or proxy login page).
    Html,
    /// The request is processed normally; `access_token` is removed from the answer.
    MissingAccessToken,
    /// The request is processed normally; `expires_in` is removed from the answer.
    MissingExpiresIn,
    /// The request is processed normally; `expires_in` becomes a string ("3600").
    ExpiresInString,
    /// The request is processed normally; each member of this JSON object
    /// replaces (or joins) the answer's: a hostile answer of the devicecode
    /// or token endpoint, scripted member by member.
    Patch(serde_json::Value),
    /// The request is processed normally; the value of this form parameter
    /// comes back, as sent and percent-encoded, as providers that echo the
    /// request do: at the end of the first line of an error answer's
    /// `error_description`, in a member `request_echo` of a 200 answer.
    Echo(String),
    /// 200 with a body of exactly that many bytes (a valid token response
    /// with a giant access token, when large enough).
    Huge(usize),
    /// 302 to that URL.
    Redirect(String),
    /// Read the request, never answer; the connection stays open until the
    /// client gives up or the mock is dropped.
    NeverAnswer,
    /// Read the request, then close the connection.
    CloseWithoutAnswer,
    /// An arbitrary OAuth error: `description` gets an `AADSTS{code}: ` prefix
    /// unless it already starts with `AADSTS`.
    OAuthError {
        /// The HTTP status.
        status: u16,
        /// The `error` code.
        error: String,
        /// The `error_description`.
        description: String,
        /// The AADSTS number, also in `error_codes`.
        code: u32,
    },
}

/// The mock identity platform. Stops when dropped.
pub struct MockIdp {
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl MockIdp {
    /// Starts on a free port. Panics only if it cannot bind.
    pub fn start() -> MockIdp {
        match MockIdp::start_on_port(0) {
            Ok(m) => m,
            Err(e) => panic!("mock idp: cannot bind 127.0.0.1: {e}"),
        }
    }

    /// Starts on 127.0.0.1:`port` (0 = any free port).
    pub fn start_on_port(port: u16) -> std::io::Result<MockIdp> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let shared = Arc::new(Shared::new(listener.local_addr()?));
        let sh = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name(format!("mock-idp-accept-{}", shared.addr.port()))
            .spawn(move || server::accept_loop(listener, sh))?;
        Ok(MockIdp {
            shared,
            accept: Some(accept),
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn authority(&self) -> String {
        self.shared.authority()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.shared.addr.port()
    }

    /// The issuer whose discovery document describes the `tenant`'s
    /// endpoints: `{authority}/{tenant}/v2.0`, as Microsoft names it.
    pub fn issuer(&self, tenant: &str) -> String {
        format!("{}/{tenant}/v2.0", self.authority())
    }

    /// Lifetime of new access tokens (`expires_in`), default 3600.
    pub fn set_token_lifetime(&self, secs: u64) {
        self.lock().token_lifetime = secs;
    }

    /// `interval` of new device codes, default 0.
    pub fn set_device_interval(&self, secs: u64) {
        self.lock().device_interval = secs;
    }

    /// `expires_in` of new device codes, default 900.
    pub fn set_device_expires_in(&self, secs: u64) {
        self.lock().device_expires_in = secs;
    }

    /// Script for device codes created from now on.
    pub fn set_device_script(&self, s: DeviceScript) {
        self.lock().device_script = s;
    }

    /// Whether device authorization answers carry `verification_uri_complete`
    /// (the page with the user code filled in, RFC 8628 §3.3.1), default true.
    pub fn set_device_uri_complete(&self, on: bool) {
        self.lock().device_uri_complete = on;
    }

    /// How the authorize endpoint answers from now on.
    pub fn set_authorize_mode(&self, mode: AuthorizeMode) {
        self.lock().authorize_mode = mode;
    }

    /// How the discovery documents are served from now on.
    pub fn set_discovery_mode(&self, mode: DiscoveryMode) {
        self.lock().discovery_mode = mode;
    }

    /// Whether refresh grants return a new refresh token, default true.
    pub fn set_rotation(&self, on: bool) {
        self.lock().rotation = on;
    }

    /// Single-use refresh tokens (a used one becomes invalid), default false.
    pub fn set_strict_rotation(&self, on: bool) {
        self.lock().strict_rotation = on;
    }

    /// Sleep before answering every request, default 0.
    pub fn set_delay_ms(&self, ms: u64) {
        self.lock().delay_ms = ms;
    }

    /// Sleep this long before answering a refresh grant of `user`'s refresh
    /// token (on top of [`MockIdp::set_delay_ms`]); 0 removes it.
    pub fn set_user_delay_ms(&self, user: &str, ms: u64) {
        self.lock().user_delay_ms.insert(user.to_string(), ms);
    }

    /// Send `refresh_token_expires_in` (seconds) with every token answer, as
    /// Google does for time-limited grants (apps in Testing); `None` stops.
    pub fn set_refresh_token_expires_in(&self, secs: Option<u64>) {
        self.lock().rt_expires_in = secs;
    }

    /// Pad access tokens to this many bytes, default 0 (no padding).
    pub fn set_token_size(&self, bytes: usize) {
        self.lock().token_size = bytes;
    }

    /// Makes `client_id` confidential: token requests must carry this secret
    /// (form `client_secret` or HTTP Basic).
    pub fn require_secret(&self, client_id: &str, secret: &str) {
        self.lock()
            .secrets
            .insert(client_id.to_string(), secret.to_string());
    }

    /// Queues a fault for the next devicecode or token request.
    pub fn push_fault(&self, f: Fault) {
        self.lock().faults.push_back(f);
    }

    /// Faults queued and not yet consumed.
    pub fn pending_faults(&self) -> usize {
        self.lock().faults.len()
    }

    /// A valid refresh token, as if from an earlier sign-in.
    pub fn issue_refresh_token(&self, user: &str, client_id: &str) -> String {
        self.lock().new_refresh_token(user, client_id)
    }

    /// The newest refresh token issued for `user`.
    pub fn last_refresh_token_for(&self, user: &str) -> Option<String> {
        self.lock().last_rt.get(user).cloned()
    }

    /// `rt` is refused from now on as revoked (AADSTS50173).
    pub fn revoke_refresh_token(&self, rt: &str) {
        if let Some(e) = self.lock().rts.get_mut(rt) {
            e.revoked = true;
        }
    }

    /// Revokes every refresh token of `user` (like revokeSignInSessions;
    /// access tokens stay valid until they expire, as at Microsoft).
    pub fn revoke_all_for_user(&self, user: &str) {
        self.lock().revoke_user(user);
    }

    /// `rt` is refused from now on as expired by inactivity (AADSTS700082).
    pub fn expire_refresh_token(&self, rt: &str) {
        if let Some(e) = self.lock().rts.get_mut(rt) {
            e.expired = true;
        }
    }

    /// Whether a refresh grant with `rt` would succeed now.
    pub fn is_valid_refresh_token(&self, rt: &str) -> bool {
        let st = self.lock();
        st.rts
            .get(rt)
            .is_some_and(|e| token::rt_problem(e, st.strict_rotation).is_none())
    }

    /// Whether `/introspect` calls `at` active now.
    pub fn is_active_access_token(&self, at: &str) -> bool {
        self.lock().ats.get(at).is_some_and(AtEntry::active)
    }

    /// Every access token issued so far becomes inactive.
    pub fn expire_access_tokens(&self) {
        self.lock().expire_access_tokens();
    }

    /// The next sign-in (a device code created from now on, or an authorize
    /// request) is declined, once.
    pub fn decline_next_sign_in(&self) {
        self.lock().decline_next = true;
    }

    /// Every request since start (or [`MockIdp::reset_log`]), in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// The recorded token-endpoint requests with that grant.
    pub fn token_requests(&self, g: Grant) -> Vec<Recorded> {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.grant() == Some(g))
            .cloned()
            .collect()
    }

    /// Recorded token-endpoint requests with that grant.
    pub fn count(&self, g: Grant) -> usize {
        self.count_where(|r| r.grant() == Some(g))
    }

    /// Recorded requests to the device authorization endpoint.
    pub fn devicecode_count(&self) -> usize {
        self.count_where(|r| matches!(Route::of(&r.path), Route::DeviceCode(_)))
    }

    /// Recorded requests for a discovery document (either well-known path).
    pub fn discovery_count(&self) -> usize {
        self.count_where(|r| matches!(Route::of(&r.path), Route::Discovery(..)))
    }

    /// Recorded requests to any path.
    pub fn total_count(&self) -> usize {
        self.lock().requests.len()
    }

    /// Forgets the recorded requests, and with them every count.
    pub fn reset_log(&self) {
        self.lock().requests.clear();
    }

    /// Every count is a filter over the log, so that a reset forgets all
    /// of them at once and no counter can drift from what was recorded.
    fn count_where(&self, keep: impl Fn(&Recorded) -> bool) -> usize {
        self.lock().requests.iter().filter(|r| keep(r)).count()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }
}

impl Drop for MockIdp {
    fn drop(&mut self) {
        self.shared.stop(self.accept.take());
    }
}
