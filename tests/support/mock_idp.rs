//! A mock Microsoft identity platform (login.microsoftonline.com) on 127.0.0.1.
//!
//! Serves `/{tenant}/oauth2/v2.0/devicecode`, `/{tenant}/oauth2/v2.0/token`,
//! `GET /{tenant}/oauth2/v2.0/authorize` (auth code + PKCE: answers at once
//! with a 302 to the loopback `redirect_uri`, see [`AuthorizeMode`]),
//! `/introspect` (RFC 7662, for Dovecot-style checks) and a small HTML page at
//! `/devicelogin`. Answers mimic Microsoft's JSON, including the AADSTS error
//! shape. Faults can be queued to exercise client error handling.
//!
//! The other presets' paths are served too, with their providers' behaviour
//! (see [`Flavor`]): Google's `/o/oauth2/v2/auth` and `/token` (a refresh
//! token only with `access_type=offline`, never rotated; the client secret
//! is required), Yahoo's and AOL's `/oauth2/request_auth` and
//! `/oauth2/get_token`, Fastmail's `/oauth/authorize` and `/oauth/refresh`
//! (a refresh token on every code exchange, no `offline_access` needed).
//!
//! Plain std HTTP/1.1: one accept thread, one thread per connection, every
//! answer carries `Connection: close`. Dropping the [`MockIdp`] stops it.
//!
//! Used by the integration tests (`mod support;`) and by
//! `examples/mock-idp.rs` (`#[path = ...]`).

use std::collections::{HashMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

#[path = "rng.rs"]
pub mod rng;
use rng::Rng;

/// Tenant id put in id tokens (Microsoft's id for personal accounts).
pub const MOCK_TID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// The device-code grant type.
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 1024 * 1024;
/// How often blocked connection threads look at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(50);
/// A client that sends nothing for this long is disconnected.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `Drop` waits for connection threads to finish.
const DROP_GRACE: Duration = Duration::from_millis(500);
const URL_SAFE_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const USER_CODE_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

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
    /// The `{tenant}` path segment for devicecode/token requests, else empty.
    pub tenant: String,
    /// The decoded `application/x-www-form-urlencoded` body.
    pub form: Vec<(String, String)>,
    /// When the request was fully read.
    pub at: Instant,
}

impl Recorded {
    /// The first form value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The grant of a token-endpoint request, `None` for other paths.
    pub fn grant(&self) -> Option<Grant> {
        match Route::of(&self.path) {
            Route::Token(_) => Some(grant_of(self.get("grant_type"))),
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

/// Which provider a path belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Microsoft,
    Google,
    Yahoo,
    Fastmail,
}

impl Flavor {
    /// The provider whose endpoint `path` is.
    pub fn of(path: &str) -> Flavor {
        match path {
            "/o/oauth2/v2/auth" | "/token" => Flavor::Google,
            "/oauth2/request_auth" | "/oauth2/get_token" => Flavor::Yahoo,
            "/oauth/authorize" | "/oauth/refresh" => Flavor::Fastmail,
            _ => Flavor::Microsoft,
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

/// A fault for the next request to the devicecode or token endpoint (FIFO,
/// one per request). Faulted requests are still counted and recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// That status with a Microsoft-shaped JSON error (`server_error` for
    /// 5xx, `temporarily_unavailable` for 503/504).
    Status(u16),
    /// 429 with a `Retry-After` header.
    TooManyRequests { retry_after_secs: u64 },
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
        status: u16,
        error: String,
        description: String,
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
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            addr,
            stop: AtomicBool::new(false),
            state: Mutex::new(State::new()),
            active: Mutex::new(0),
            idle: Condvar::new(),
        });
        let sh = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name(format!("mock-idp-accept-{}", addr.port()))
            .spawn(move || accept_loop(listener, sh))?;
        Ok(MockIdp {
            shared,
            accept: Some(accept),
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn authority(&self) -> String {
        self.shared.authority()
    }

    pub fn port(&self) -> u16 {
        self.shared.addr.port()
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

    pub fn revoke_refresh_token(&self, rt: &str) {
        if let Some(e) = self.lock().rts.get_mut(rt) {
            e.revoked = true;
        }
    }

    /// Revokes every refresh token of `user` (like revokeSignInSessions;
    /// access tokens stay valid until they expire, as at Microsoft).
    pub fn revoke_all_for_user(&self, user: &str) {
        for e in self.lock().rts.values_mut() {
            if e.user == user {
                e.revoked = true;
            }
        }
    }

    pub fn expire_refresh_token(&self, rt: &str) {
        if let Some(e) = self.lock().rts.get_mut(rt) {
            e.expired = true;
        }
    }

    pub fn is_valid_refresh_token(&self, rt: &str) -> bool {
        let st = self.lock();
        st.rts
            .get(rt)
            .is_some_and(|e| rt_problem(e, st.strict_rotation).is_none())
    }

    pub fn is_active_access_token(&self, at: &str) -> bool {
        self.lock().ats.get(at).is_some_and(AtEntry::active)
    }

    /// Every access token issued so far becomes inactive.
    pub fn expire_access_tokens(&self) {
        for e in self.lock().ats.values_mut() {
            e.expired = true;
        }
    }

    /// Token-endpoint requests with that grant.
    pub fn count(&self, g: Grant) -> usize {
        let st = self.lock();
        match g {
            Grant::Device => st.n_device,
            Grant::Refresh => st.n_refresh,
            Grant::AuthCode => st.n_authcode,
            Grant::Other => st.n_other,
        }
    }

    pub fn devicecode_count(&self) -> usize {
        self.lock().n_devicecode
    }

    /// Requests to any path.
    pub fn total_count(&self) -> usize {
        self.lock().n_total
    }

    /// Every request since start (or `reset_counts`), in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    pub fn token_requests(&self, g: Grant) -> Vec<Recorded> {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.grant() == Some(g))
            .cloned()
            .collect()
    }

    /// Zeroes every counter and forgets the recorded requests.
    pub fn reset_counts(&self) {
        let mut st = self.lock();
        st.n_device = 0;
        st.n_refresh = 0;
        st.n_authcode = 0;
        st.n_other = 0;
        st.n_devicecode = 0;
        st.n_total = 0;
        st.requests.clear();
    }

    /// The newest refresh token issued for `user`.
    pub fn last_refresh_token_for(&self, user: &str) -> Option<String> {
        self.lock().last_rt.get(user).cloned()
    }

    /// How the authorize endpoint answers from now on.
    pub fn set_authorize_mode(&self, mode: AuthorizeMode) {
        self.lock().authorize_mode = mode;
    }

    /// How the discovery documents are served from now on.
    pub fn set_discovery_mode(&self, mode: DiscoveryMode) {
        self.lock().discovery_mode = mode;
    }

    /// Requests for a discovery document (either well-known path).
    pub fn discovery_count(&self) -> usize {
        self.lock().n_discovery
    }

    /// The issuer whose discovery document describes the `tenant`'s
    /// endpoints: `{authority}/{tenant}/v2.0`, as Microsoft names it.
    pub fn issuer(&self, tenant: &str) -> String {
        format!("{}/{tenant}/v2.0", self.authority())
    }

    /// Whether device authorization answers carry `verification_uri_complete`
    /// (the page with the user code filled in, RFC 8628 §3.3.1), default true.
    pub fn set_device_uri_complete(&self, on: bool) {
        self.lock().device_uri_complete = on;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }
}

impl Drop for MockIdp {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept thread.
        let _ = TcpStream::connect_timeout(&self.shared.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        // Connection threads notice the stop flag within STOP_POLL.
        let deadline = Instant::now() + DROP_GRACE;
        let mut active = self.shared.active.lock().unwrap_or_else(|e| e.into_inner());
        while *active > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            active = match self.shared.idle.wait_timeout(active, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }
}

// ---------------------------------------------------------------------------
// Shared state
// ---------------------------------------------------------------------------

struct Shared {
    addr: SocketAddr,
    stop: AtomicBool,
    state: Mutex<State>,
    /// Live connection threads.
    active: Mutex<usize>,
    idle: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn authority(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }
}

struct DeviceEntry {
    client_id: String,
    scope: String,
    created: Instant,
    expires_in: u64,
    script: DeviceScript,
    polls: u64,
    consumed: bool,
}

struct CodeEntry {
    user: String,
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
    created: Instant,
    redeemed: bool,
    /// Whether the exchange returns a refresh token (Microsoft: when the
    /// scope holds offline_access; Google: with access_type=offline).
    offline: bool,
}

struct RtEntry {
    user: String,
    client_id: String,
    issued_unix: u64,
    revoked: bool,
    expired: bool,
    used: bool,
}

struct AtEntry {
    user: String,
    client_id: String,
    scope: String,
    expires_at: Instant,
    exp_unix: u64,
    expired: bool,
}

impl AtEntry {
    fn active(&self) -> bool {
        !self.expired && Instant::now() < self.expires_at
    }
}

struct State {
    token_lifetime: u64,
    device_interval: u64,
    device_expires_in: u64,
    device_script: DeviceScript,
    device_uri_complete: bool,
    rotation: bool,
    strict_rotation: bool,
    delay_ms: u64,
    token_size: usize,
    secrets: HashMap<String, String>,
    faults: VecDeque<Fault>,
    devices: HashMap<String, DeviceEntry>,
    rts: HashMap<String, RtEntry>,
    ats: HashMap<String, AtEntry>,
    last_rt: HashMap<String, String>,
    n_device: usize,
    n_refresh: usize,
    n_authcode: usize,
    n_authorize: usize,
    authorize_mode: AuthorizeMode,
    discovery_mode: DiscoveryMode,
    n_discovery: usize,
    codes: HashMap<String, CodeEntry>,
    n_other: usize,
    n_devicecode: usize,
    n_total: usize,
    requests: Vec<Recorded>,
    counter: u64,
    rng: Rng,
    /// Doctor tests: see [`MockIdp::set_date_offset`] and friends.
    doctor: DoctorModes,
}

fn rt_problem(e: &RtEntry, strict: bool) -> Option<(u32, String)> {
    if e.revoked {
        Some((
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. \
             The user might have changed or reset their password."
                .to_string(),
        ))
    } else if e.expired {
        Some((
            700082,
            format!(
                "The refresh token has expired due to inactivity. The token was issued on {} \
                 and was inactive for 90.00:00:00.",
                iso_time(e.issued_unix)
            ),
        ))
    } else if strict && e.used {
        Some((
            70000,
            "The provided value for the 'refresh_token' is not valid. The refresh token has \
             already been used."
                .to_string(),
        ))
    } else {
        None
    }
}

fn grant_of(grant_type: Option<&str>) -> Grant {
    match grant_type {
        Some(DEVICE_GRANT) => Grant::Device,
        Some("refresh_token") => Grant::Refresh,
        Some("authorization_code") => Grant::AuthCode,
        _ => Grant::Other,
    }
}

impl State {
    fn new() -> State {
        State {
            token_lifetime: 3600,
            device_interval: 0,
            device_expires_in: 900,
            device_script: DeviceScript::default(),
            device_uri_complete: true,
            rotation: true,
            strict_rotation: false,
            delay_ms: 0,
            token_size: 0,
            secrets: HashMap::new(),
            faults: VecDeque::new(),
            devices: HashMap::new(),
            rts: HashMap::new(),
            ats: HashMap::new(),
            last_rt: HashMap::new(),
            n_device: 0,
            n_refresh: 0,
            n_authcode: 0,
            n_authorize: 0,
            authorize_mode: AuthorizeMode::Approve("me@example.com".to_string()),
            discovery_mode: DiscoveryMode::Both,
            n_discovery: 0,
            codes: HashMap::new(),
            n_other: 0,
            n_devicecode: 0,
            n_total: 0,
            requests: Vec::new(),
            counter: 0,
            rng: Rng::from_clock(),
            doctor: DoctorModes::default(),
        }
    }

    fn next_counter(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn record(&mut self, req: &Request, route: &Route) {
        self.n_total += 1;
        let tenant = match route {
            Route::DeviceCode(t) => {
                self.n_devicecode += 1;
                t.clone()
            }
            Route::Authorize(t) => {
                self.n_authorize += 1;
                t.clone()
            }
            Route::Token(t) => {
                match grant_of(form_get(&req.form, "grant_type")) {
                    Grant::Device => self.n_device += 1,
                    Grant::Refresh => self.n_refresh += 1,
                    Grant::AuthCode => self.n_authcode += 1,
                    Grant::Other => self.n_other += 1,
                }
                t.clone()
            }
            _ => String::new(),
        };
        self.requests.push(Recorded {
            method: req.method.clone(),
            path: req.path.clone(),
            tenant,
            form: req.form.clone(),
            at: req.at,
        });
    }

    fn new_refresh_token(&mut self, user: &str, client_id: &str) -> String {
        let n = self.next_counter();
        let rt = format!("mockrt.{n}.{}", self.rng.string(32, URL_SAFE_CHARS));
        self.rts.insert(
            rt.clone(),
            RtEntry {
                user: user.to_string(),
                client_id: client_id.to_string(),
                issued_unix: unix_now(),
                revoked: false,
                expired: false,
                used: false,
            },
        );
        self.last_rt.insert(user.to_string(), rt.clone());
        rt
    }

    fn new_access_token(&mut self, user: &str, client_id: &str, scope: &str) -> String {
        let n = self.next_counter();
        let mut at = format!("mockat.{n}.{}", self.rng.string(16, URL_SAFE_CHARS));
        if at.len() < self.token_size {
            let pad = self.token_size - at.len();
            at.push_str(&self.rng.string(pad, URL_SAFE_CHARS));
        }
        self.ats.insert(
            at.clone(),
            AtEntry {
                user: user.to_string(),
                client_id: client_id.to_string(),
                scope: scope.to_string(),
                expires_at: Instant::now() + Duration::from_secs(self.token_lifetime),
                exp_unix: unix_now() + self.token_lifetime,
                expired: false,
            },
        );
        at
    }

    /// A 200 token response. `may_issue_rt`: false for refresh grants with
    /// rotation off; a refresh token comes only with offline_access in the
    /// scope, unless `offline` says so another way (other providers).
    fn token_response(
        &mut self,
        authority: &str,
        user: &str,
        client_id: &str,
        requested_scope: &str,
        may_issue_rt: bool,
    ) -> Response {
        self.token_response_as(
            authority,
            user,
            client_id,
            requested_scope,
            may_issue_rt,
            None,
        )
    }

    fn token_response_as(
        &mut self,
        authority: &str,
        user: &str,
        client_id: &str,
        requested_scope: &str,
        may_issue_rt: bool,
        offline: Option<bool>,
    ) -> Response {
        let requested: Vec<&str> = requested_scope.split_whitespace().collect();
        let has = |s: &str| requested.iter().any(|r| r.eq_ignore_ascii_case(s));
        let scope = requested
            .iter()
            .filter(|s| {
                !["offline_access", "openid", "profile", "email"]
                    .iter()
                    .any(|o| s.eq_ignore_ascii_case(o))
            })
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let lifetime = self.token_lifetime;
        let at = self.new_access_token(user, client_id, &scope);
        let mut body = json!({
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": at,
        });
        if may_issue_rt && offline.unwrap_or_else(|| has("offline_access")) {
            body["refresh_token"] = Value::String(self.new_refresh_token(user, client_id));
        }
        if has("openid") {
            body["id_token"] = Value::String(id_token(authority, user, client_id, lifetime));
        }
        json_response(200, &body)
    }

    fn error(&mut self, status: u16, error: &str, code: u32, text: &str) -> Response {
        let trace = self.rng.uuid();
        let corr = self.rng.uuid();
        ms_error(status, error, code, text, &trace, &corr)
    }

    fn missing_param(&mut self, name: &str) -> Response {
        self.error(
            400,
            "invalid_request",
            900144,
            &format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    fn dispatch(&mut self, authority: &str, req: &Request, route: &Route) -> Response {
        match route {
            Route::DeviceCode(_) | Route::Token(_) if req.method != "POST" => self.error(
                405,
                "invalid_request",
                900561,
                &format!(
                    "The endpoint only accepts POST, OPTIONS requests. Received a {} request.",
                    req.method
                ),
            ),
            Route::Authorize(_) if req.method != "GET" => self.error(
                405,
                "invalid_request",
                900561,
                "The authorize endpoint only accepts GET requests in this mock.",
            ),
            Route::Authorize(_) => self.authorize(req),
            Route::Discovery(t, oidc) => self.discovery(authority, t, *oidc),
            Route::DeviceCode(_) => self.devicecode(authority, req),
            Route::Token(_) => self.token(authority, req),
            Route::Introspect => self.introspect(req),
            Route::DeviceLogin => Response {
                status: 200,
                content_type: "text/html; charset=utf-8",
                headers: Vec::new(),
                body: DEVICELOGIN_HTML.as_bytes().to_vec(),
            },
            Route::NotFound => json_response(
                404,
                &json!({
                    "error": "not_found",
                    "error_description": format!(
                        "mock idp: no endpoint {} {}. Endpoints: POST /{{tenant}}/oauth2/v2.0/devicecode, \
                         POST /{{tenant}}/oauth2/v2.0/token, POST /introspect.",
                        req.method, req.path
                    ),
                }),
            ),
        }
    }

    /// A discovery document of the tenant's endpoints, as `discovery_mode` says.
    fn discovery(&mut self, authority: &str, tenant: &str, oidc: bool) -> Response {
        self.n_discovery += 1;
        let issuer = format!("{authority}/{tenant}/v2.0");
        let base = format!("{authority}/{tenant}/oauth2/v2.0");
        let mut doc = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "device_authorization_endpoint": format!("{base}/devicecode"),
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
        });
        match self.discovery_mode {
            DiscoveryMode::Unavailable => {
                return json_response(503, &json!({"error": "temporarily_unavailable"}));
            }
            DiscoveryMode::Rfc8414Only if oidc => {
                return json_response(404, &json!({"error": "not_found"}));
            }
            DiscoveryMode::WrongIssuer => doc["issuer"] = json!("https://evil.example/v2.0"),
            DiscoveryMode::NoDevice => {
                if let Some(o) = doc.as_object_mut() {
                    o.remove("device_authorization_endpoint");
                }
            }
            DiscoveryMode::Both | DiscoveryMode::Rfc8414Only => {}
        }
        json_response(200, &doc)
    }

    /// `GET /{tenant}/oauth2/v2.0/authorize`: checks the request as
    /// Microsoft does, then redirects to the loopback `redirect_uri` as the
    /// [`AuthorizeMode`] says. Invalid requests get a 400 and no redirect.
    fn authorize(&mut self, req: &Request) -> Response {
        let q = &req.query;
        let mut missing = None;
        for k in [
            "client_id",
            "response_type",
            "redirect_uri",
            "scope",
            "state",
            "code_challenge",
            "code_challenge_method",
        ] {
            if form_get_nonempty(q, k).is_none() {
                missing = Some(k);
                break;
            }
        }
        if let Some(k) = missing {
            return self.missing_param(k);
        }
        let get = |k: &str| form_get(q, k).unwrap_or_default().to_string();
        let (client_id, redirect_uri, state) =
            (get("client_id"), get("redirect_uri"), get("state"));
        let offline = match Flavor::of(&req.path) {
            Flavor::Microsoft => get("scope")
                .split_whitespace()
                .any(|s| s.eq_ignore_ascii_case("offline_access")),
            Flavor::Google => get("access_type") == "offline",
            Flavor::Yahoo | Flavor::Fastmail => true,
        };
        if get("response_type") != "code" {
            return self.error(
                400,
                "unsupported_response_type",
                700054,
                "response_type must be code.",
            );
        }
        let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"]
            .iter()
            .any(|p| redirect_uri.starts_with(p));
        if !loopback {
            return self.error(
                400,
                "invalid_request",
                50011,
                &format!("The redirect URI '{redirect_uri}' does not match the redirect URIs configured for the application."),
            );
        }
        let challenge = get("code_challenge");
        if get("code_challenge_method") != "S256"
            || challenge.len() != 43
            || !challenge.bytes().all(|b| URL_SAFE_CHARS.contains(&b))
        {
            return self.error(
                400,
                "invalid_request",
                501491,
                "Invalid size of Code_Challenge parameter, or code_challenge_method is not S256.",
            );
        }
        let mut pairs: Vec<(&str, String)> = Vec::new();
        let mode = self.authorize_mode.clone();
        let new_code = |st: &mut State, user: &str| {
            let code = format!(
                "mockcode.{}.{}",
                st.next_counter(),
                st.rng.string(48, URL_SAFE_CHARS)
            );
            st.codes.insert(
                code.clone(),
                CodeEntry {
                    user: user.to_string(),
                    client_id: client_id.clone(),
                    redirect_uri: redirect_uri.clone(),
                    challenge: challenge.clone(),
                    scope: get("scope"),
                    created: Instant::now(),
                    redeemed: false,
                    offline,
                },
            );
            code
        };
        match mode {
            AuthorizeMode::Approve(user) => {
                pairs.push(("code", new_code(self, &user)));
                pairs.push(("state", state));
            }
            AuthorizeMode::Deny => {
                pairs.push(("error", "access_denied".into()));
                pairs.push((
                    "error_description",
                    "AADSTS65004: User declined to consent to access the app.".into(),
                ));
                pairs.push(("state", state));
            }
            AuthorizeMode::WrongState => {
                pairs.push(("code", new_code(self, "me@example.com")));
                pairs.push(("state", "forged-state".into()));
            }
            AuthorizeMode::NoCode => pairs.push(("state", state)),
        }
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect();
        let location = format!("{redirect_uri}?{}", query.join("&"));
        Response {
            status: 302,
            content_type: "text/html; charset=utf-8",
            headers: vec![("Location".to_string(), location)],
            body: b"<html><body>Redirecting...</body></html>".to_vec(),
        }
    }

    /// `grant_type=authorization_code`: the code must be unused, younger
    /// than ten minutes, for this client and redirect_uri, and the
    /// `code_verifier` must hash (S256) to the challenge it was issued for.
    fn authcode_grant(&mut self, authority: &str, form: &Form, client_id: &str) -> Response {
        let Some(code) = form_get_nonempty(form, "code") else {
            return self.missing_param("code");
        };
        let Some(verifier) = form_get_nonempty(form, "code_verifier") else {
            return self.missing_param("code_verifier");
        };
        let redirect_uri = form_get(form, "redirect_uri")
            .unwrap_or_default()
            .to_string();
        let verifier_hash = URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()));
        let problem = match self.codes.get(code) {
            None => Some((
                70000,
                "The provided value for the 'code' parameter is not valid.",
            )),
            Some(e) if e.redeemed => Some((
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
            )),
            Some(e) if e.client_id != client_id => {
                Some((70000, "The code was issued to another client."))
            }
            Some(e) if e.created.elapsed() > Duration::from_secs(600) => Some((
                70008,
                "The provided authorization code or refresh token has expired due to inactivity.",
            )),
            Some(e) if e.redirect_uri != redirect_uri => Some((
                70009,
                "The redirect_uri does not match the one the authorization code was issued for.",
            )),
            Some(e) if e.challenge != verifier_hash => Some((
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            )),
            Some(_) => None,
        };
        if let Some(e) = self.codes.get_mut(code) {
            // Microsoft burns a code on its first redemption attempt.
            e.redeemed = true;
        }
        if let Some((n, text)) = problem {
            return self.error(400, "invalid_grant", n, text);
        }
        let Some((user, scope, offline)) = self
            .codes
            .get(code)
            .map(|e| (e.user.clone(), e.scope.clone(), e.offline))
        else {
            return self.missing_param("code");
        };
        let scope = form_get_nonempty(form, "scope").map_or(scope, str::to_string);
        self.token_response_as(authority, &user, client_id, &scope, true, Some(offline))
    }

    fn devicecode(&mut self, authority: &str, req: &Request) -> Response {
        let form = &req.form;
        if let Some(r) = self.registration_refusal(req, false) {
            return r;
        }
        let Some(client_id) = form_get_nonempty(form, "client_id") else {
            return self.missing_param("client_id");
        };
        let Some(scope) = form_get_nonempty(form, "scope") else {
            return self.missing_param("scope");
        };
        let user_code = self.rng.string(8, USER_CODE_CHARS);
        let device_code = format!("DAQABIQEAAAB{}", self.rng.string(110, URL_SAFE_CHARS));
        self.devices.insert(
            device_code.clone(),
            DeviceEntry {
                client_id: client_id.to_string(),
                scope: scope.to_string(),
                created: Instant::now(),
                expires_in: self.device_expires_in,
                script: self.device_script.clone(),
                polls: 0,
                consumed: false,
            },
        );
        let uri = format!("{authority}/devicelogin");
        let mut answer = json!({
            "user_code": user_code,
            "device_code": device_code,
            "verification_uri": uri,
            "expires_in": self.device_expires_in,
            "interval": self.device_interval,
            "message": format!(
                "To sign in, use a web browser to open the page {uri} and enter the code \
                 {user_code} to authenticate."
            ),
        });
        if self.device_uri_complete {
            answer["verification_uri_complete"] = json!(format!("{uri}?otc={user_code}"));
        }
        json_response(200, &answer)
    }

    fn token(&mut self, authority: &str, req: &Request) -> Response {
        let form = &req.form;
        let basic = basic_auth(&req.headers);
        let client_id = match (form_get_nonempty(form, "client_id"), &basic) {
            (Some(c), _) => c.to_string(),
            (None, Some((c, _))) if !c.is_empty() => c.clone(),
            _ => return self.missing_param("client_id"),
        };
        let Some(grant_type) = form_get_nonempty(form, "grant_type") else {
            return self.missing_param("grant_type");
        };
        let flavor = Flavor::of(&req.path);
        let has_secret = form_get_nonempty(form, "client_secret").is_some()
            || basic.as_ref().is_some_and(|(_, s)| !s.is_empty());
        if flavor == Flavor::Google && !has_secret {
            // Google's desktop clients always send their (not secret) secret.
            return json_response(
                400,
                &json!({"error": "invalid_request", "error_description": "client_secret is missing."}),
            );
        }
        if let Some(expected) = self.secrets.get(&client_id).cloned() {
            let given = form_get_nonempty(form, "client_secret")
                .map(str::to_string)
                .or_else(|| basic.as_ref().map(|(_, s)| s.clone()));
            match given {
                None => {
                    return self.error(
                        401,
                        "invalid_client",
                        7000218,
                        "The request body must contain the following parameter: \
                         'client_assertion' or 'client_secret'.",
                    );
                }
                Some(s) if s != expected => {
                    return self.error(
                        401,
                        "invalid_client",
                        7000215,
                        &format!(
                            "Invalid client secret provided. Ensure the secret being sent in the \
                             request is the client secret value, not the client secret ID, for a \
                             secret added to app '{client_id}'."
                        ),
                    );
                }
                Some(_) => {}
            }
        }
        if let Some(r) = self.registration_refusal(req, has_secret) {
            return r;
        }
        match grant_type {
            DEVICE_GRANT => self.device_grant(authority, form, &client_id),
            "refresh_token" => self.refresh_grant(authority, form, &client_id, flavor),
            "authorization_code" => self.authcode_grant(authority, form, &client_id),
            other => self.error(
                400,
                "unsupported_grant_type",
                70003,
                &format!("The app requested an unsupported grant type '{other}'."),
            ),
        }
    }

    fn device_grant(&mut self, authority: &str, form: &Form, client_id: &str) -> Response {
        let Some(code) = form_get_nonempty(form, "device_code") else {
            return self.missing_param("device_code");
        };
        let bad_code = |st: &mut State| {
            st.error(
                400,
                "bad_verification_code",
                70000,
                "The provided value for the input parameter 'device_code' is not valid.",
            )
        };
        let expired = |st: &mut State| {
            st.error(
                400,
                "expired_token",
                70020,
                "The provided value for the input parameter 'device_code' is not valid. \
                 This device code has expired.",
            )
        };
        let Some(entry) = self.devices.get_mut(code) else {
            return bad_code(self);
        };
        if entry.consumed || entry.client_id != client_id {
            return bad_code(self);
        }
        if entry.created.elapsed() >= Duration::from_secs(entry.expires_in) {
            return expired(self);
        }
        let n = entry.polls;
        entry.polls += 1;
        let slow = u64::from(entry.script.slow_down_polls);
        let pending = slow + u64::from(entry.script.pending_polls);
        if n < slow {
            return self.error(
                400,
                "slow_down",
                70016,
                "OAuth 2.0 device flow error. Polling too fast: slow down, add 5 seconds to \
                 the interval.",
            );
        }
        if n < pending {
            return self.error(
                400,
                "authorization_pending",
                70016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            );
        }
        match entry.script.outcome.clone() {
            DeviceOutcome::Approve(user) => {
                entry.consumed = true;
                let scope = entry.scope.clone();
                self.token_response(authority, &user, client_id, &scope, true)
            }
            DeviceOutcome::Decline => self.error(
                400,
                "authorization_declined",
                70000,
                "The user declined the authorization request.",
            ),
            DeviceOutcome::Expire => expired(self),
            DeviceOutcome::BadCode => bad_code(self),
        }
    }

    fn refresh_grant(
        &mut self,
        authority: &str,
        form: &Form,
        client_id: &str,
        flavor: Flavor,
    ) -> Response {
        let Some(rt) = form_get_nonempty(form, "refresh_token") else {
            return self.missing_param("refresh_token");
        };
        let Some(scope) = form_get_nonempty(form, "scope") else {
            return self.missing_param("scope");
        };
        let strict = self.strict_rotation;
        let problem = match self.rts.get(rt) {
            None => Some((
                70000,
                "The provided value for the 'refresh_token' is not valid.".to_string(),
            )),
            Some(e) if e.client_id != client_id => Some((
                70000,
                "The provided value for the 'refresh_token' is not valid. The refresh token \
                 was issued to a different client id."
                    .to_string(),
            )),
            Some(e) => rt_problem(e, strict),
        };
        if let Some((code, text)) = problem {
            return self.error(400, "invalid_grant", code, &text);
        }
        let Some(user) = self.rts.get(rt).map(|e| e.user.clone()) else {
            return self.missing_param("refresh_token");
        };
        // Google never rotates refresh tokens; the others need no offline_access.
        let rotation = self.rotation && flavor != Flavor::Google;
        let offline = (flavor != Flavor::Microsoft).then_some(true);
        let resp = self.token_response_as(authority, &user, client_id, scope, rotation, offline);
        let rotated = rotation
            && offline.unwrap_or_else(|| {
                scope
                    .split_whitespace()
                    .any(|s| s.eq_ignore_ascii_case("offline_access"))
            });
        if strict
            && rotated
            && let Some(e) = self.rts.get_mut(rt)
        {
            e.used = true;
        }
        resp
    }

    fn introspect(&mut self, req: &Request) -> Response {
        let bearer = req
            .headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .and_then(|(_, v)| {
                let (scheme, rest) = v.trim().split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| rest.trim().to_string())
            });
        let token = form_get_nonempty(&req.form, "token")
            .or_else(|| form_get_nonempty(&req.query, "token"))
            .or_else(|| form_get_nonempty(&req.query, "access_token"))
            .map(str::to_string)
            .or(bearer);
        let Some(token) = token else {
            return self.missing_param("token");
        };
        let body = match self.ats.get(&token) {
            Some(e) if e.active() => json!({
                "active": true,
                "sub": oid_for(&e.user),
                "username": e.user,
                "email": e.user,
                "scope": e.scope,
                "client_id": e.client_id,
                "token_type": "Bearer",
                "exp": e.exp_unix,
            }),
            _ => json!({"active": false}),
        };
        json_response(200, &body)
    }

    fn fault_response(&mut self, f: &Fault) -> Response {
        match f {
            Fault::Status(s) => {
                let (error, code, text) = match s {
                    503 | 504 => (
                        "temporarily_unavailable",
                        90033,
                        "A transient error has occurred. Please try again.",
                    ),
                    500..=599 => (
                        "server_error",
                        50000,
                        "There was an error issuing a token or an issue with our sign-in service.",
                    ),
                    401 => ("invalid_client", 7000215, "Invalid client secret provided."),
                    _ => ("invalid_request", 90014, "mock idp: injected error status."),
                };
                self.error(*s, error, code, text)
            }
            Fault::TooManyRequests { retry_after_secs } => {
                let mut r = self.error(
                    429,
                    "temporarily_unavailable",
                    90055,
                    &format!(
                        "Too many requests have been sent. Please retry after {retry_after_secs} seconds."
                    ),
                );
                r.headers
                    .push(("Retry-After".to_string(), retry_after_secs.to_string()));
                r
            }
            Fault::InvalidJson => Response {
                status: 200,
                content_type: "application/json; charset=utf-8",
                headers: Vec::new(),
                body: b"{\"access_token\": ".to_vec(),
            },
            Fault::Html => Response {
                status: 200,
                content_type: "text/html; charset=utf-8",
                headers: Vec::new(),
                body: PORTAL_HTML.as_bytes().to_vec(),
            },
            Fault::Redirect(url) => Response {
                status: 302,
                content_type: "text/html; charset=utf-8",
                headers: vec![("Location".to_string(), url.clone())],
                body: format!(
                    "<html><body>Object moved to <a href=\"{url}\">here</a>.</body></html>"
                )
                .into_bytes(),
            },
            Fault::OAuthError {
                status,
                error,
                description,
                code,
            } => {
                let description = if description.starts_with("AADSTS") {
                    description.clone()
                } else {
                    format!("AADSTS{code}: {description}")
                };
                let trace = self.rng.uuid();
                let corr = self.rng.uuid();
                ms_error_raw(*status, error, *code, &description, &trace, &corr)
            }
            // Handled by the connection thread; answer something sane anyway.
            Fault::MissingAccessToken
            | Fault::MissingExpiresIn
            | Fault::ExpiresInString
            | Fault::Huge(_)
            | Fault::NeverAnswer
            | Fault::CloseWithoutAnswer => self.error(500, "server_error", 50000, "mock idp"),
        }
    }
}

// ---------------------------------------------------------------------------
// Microsoft-shaped bodies
// ---------------------------------------------------------------------------

fn ms_error(status: u16, error: &str, code: u32, text: &str, trace: &str, corr: &str) -> Response {
    ms_error_raw(
        status,
        error,
        code,
        &format!("AADSTS{code}: {text}"),
        trace,
        corr,
    )
}

fn ms_error_raw(
    status: u16,
    error: &str,
    code: u32,
    description: &str,
    trace: &str,
    corr: &str,
) -> Response {
    let ts = ms_time(unix_now());
    let body = json!({
        "error": error,
        "error_description": format!(
            "{description}\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\nTimestamp: {ts}"
        ),
        "error_codes": [code],
        "timestamp": ts,
        "trace_id": trace,
        "correlation_id": corr,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    json_response(status, &body)
}

fn id_token(authority: &str, user: &str, client_id: &str, lifetime: u64) -> String {
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
fn oid_for(user: &str) -> String {
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

const DEVICELOGIN_HTML: &str = "<!DOCTYPE html><html><head><title>Mock device login</title></head>\
<body><h1>Mock Microsoft device login</h1><p>This is a mock identity platform. There is nothing \
to enter: device codes are approved (or declined) automatically after the configured number of \
polls.</p></body></html>\n";

const PORTAL_HTML: &str = "<!DOCTYPE html><html><head><title>Sign in to the network</title></head>\
<body><h1>Hotel Wi-Fi</h1><p>Please accept the terms of use to continue.</p>\
<form method=\"post\"><button>Accept</button></form></body></html>\n";

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

type Form = Vec<(String, String)>;

fn form_get<'a>(form: &'a Form, key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn form_get_nonempty<'a>(form: &'a Form, key: &str) -> Option<&'a str> {
    form_get(form, key).filter(|v| !v.is_empty())
}

enum Route {
    Authorize(String),
    /// A tenant's discovery document; `true` at OpenID Connect's path.
    Discovery(String, bool),
    DeviceCode(String),
    Token(String),
    Introspect,
    DeviceLogin,
    NotFound,
}

impl Route {
    fn of(path: &str) -> Route {
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match segs.as_slice() {
            [t, "oauth2", "v2.0", "devicecode"] if !t.is_empty() => {
                Route::DeviceCode((*t).to_string())
            }
            [t, "oauth2", "v2.0", "token"] if !t.is_empty() => Route::Token((*t).to_string()),
            [t, "oauth2", "v2.0", "authorize"] if !t.is_empty() => {
                Route::Authorize((*t).to_string())
            }
            ["o", "oauth2", "v2", "auth"] | ["oauth2", "request_auth"] | ["oauth", "authorize"] => {
                Route::Authorize(String::new())
            }
            ["token"] | ["oauth2", "get_token"] | ["oauth", "refresh"] => {
                Route::Token(String::new())
            }
            [t, "v2.0", ".well-known", "openid-configuration"] if !t.is_empty() => {
                Route::Discovery((*t).to_string(), true)
            }
            [".well-known", "oauth-authorization-server", t, "v2.0"] if !t.is_empty() => {
                Route::Discovery((*t).to_string(), false)
            }
            ["introspect"] => Route::Introspect,
            ["devicelogin"] => Route::DeviceLogin,
            _ => Route::NotFound,
        }
    }

    /// Whether faults apply.
    fn faultable(&self) -> bool {
        matches!(self, Route::DeviceCode(_) | Route::Token(_))
    }
}

struct Request {
    method: String,
    path: String,
    query: Form,
    headers: Vec<(String, String)>,
    form: Form,
    at: Instant,
}

struct Response {
    status: u16,
    content_type: &'static str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn json_response(status: u16, v: &Value) -> Response {
    Response {
        status,
        content_type: "application/json; charset=utf-8",
        headers: Vec::new(),
        body: v.to_string().into_bytes(),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn head_bytes(
    status: u16,
    content_type: &str,
    headers: &[(String, String)],
    len: usize,
) -> Vec<u8> {
    let mut h = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\n\
         Connection: close\r\nCache-Control: no-store, no-cache\r\nPragma: no-cache\r\n\
         Server: mock-idp\r\n",
        reason(status)
    );
    for (k, v) in headers {
        h.push_str(k);
        h.push_str(": ");
        h.push_str(v);
        h.push_str("\r\n");
    }
    h.push_str("\r\n");
    h.into_bytes()
}

fn write_response(stream: &mut TcpStream, r: &Response) {
    let mut out = head_bytes(r.status, r.content_type, &r.headers, r.body.len());
    out.extend_from_slice(&r.body);
    let _ = stream.write_all(&out);
    let _ = stream.flush();
}

/// A 200 response of exactly `n` bytes, written in chunks; write errors
/// (client hung up) end it silently.
fn write_huge(shared: &Shared, stream: &mut TcpStream, n: usize) {
    let prefix = b"{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"";
    let suffix = b"\"}";
    let head = head_bytes(200, "application/json; charset=utf-8", &[], n);
    if stream.write_all(&head).is_err() {
        return;
    }
    let (pre, fill, suf): (&[u8], u8, &[u8]) = if n >= prefix.len() + suffix.len() {
        (prefix, b'A', suffix)
    } else if n >= 2 {
        (b"{", b' ', b"}")
    } else {
        (b"", b' ', b"")
    };
    if stream.write_all(pre).is_err() {
        return;
    }
    let chunk = vec![fill; 64 * 1024];
    let mut left = n - pre.len() - suf.len();
    while left > 0 {
        if shared.stopped() {
            return;
        }
        let k = left.min(chunk.len());
        if stream.write_all(&chunk[..k]).is_err() {
            return;
        }
        left -= k;
    }
    let _ = stream.write_all(suf);
    let _ = stream.flush();
}

/// Stops sending, then reads whatever the client still sends (briefly) so
/// closing does not reset the connection before the answer is read.
fn finish(stream: &mut TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let deadline = Instant::now() + Duration::from_millis(300);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

/// Holds the connection without answering until the client hangs up or the
/// mock stops.
fn hold_open(shared: &Shared, stream: &mut TcpStream) {
    let _ = stream.set_read_timeout(Some(STOP_POLL));
    let mut buf = [0u8; 1024];
    while !shared.stopped() {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// Sleeps unless the mock stops first; false if it stopped.
fn sleep_unless_stopped(shared: &Shared, d: Duration) -> bool {
    let deadline = Instant::now() + d;
    loop {
        if shared.stopped() {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        thread::sleep((deadline - now).min(STOP_POLL));
    }
}

struct HttpError {
    status: u16,
    message: String,
}

fn bad(status: u16, message: impl Into<String>) -> HttpError {
    HttpError {
        status,
        message: message.into(),
    }
}

/// Reads more bytes, waking every STOP_POLL to check the stop flag.
/// `Ok(0)` is end of stream; `Err(())` is an error, idle timeout or stop.
fn read_some(shared: &Shared, stream: &mut TcpStream, buf: &mut [u8]) -> Result<usize, ()> {
    let idle_deadline = Instant::now() + IDLE_TIMEOUT;
    loop {
        if shared.stopped() || Instant::now() >= idle_deadline {
            return Err(());
        }
        match stream.read(buf) {
            Ok(n) => return Ok(n),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => return Err(()),
        }
    }
}

fn find_head_end(buf: &[u8]) -> Option<(usize, usize)> {
    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
        return Some((i, i + 4));
    }
    buf.windows(2)
        .position(|w| w == b"\n\n")
        .map(|i| (i, i + 2))
}

/// `Ok(None)`: the connection closed or timed out before a full request.
fn read_request(shared: &Shared, stream: &mut TcpStream) -> Result<Option<Request>, HttpError> {
    let _ = stream.set_read_timeout(Some(STOP_POLL));
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    let (head_end, body_start) = loop {
        if let Some(p) = find_head_end(&buf) {
            break p;
        }
        if buf.len() > MAX_HEAD {
            return Err(bad(431, "request head too large"));
        }
        match read_some(shared, stream, &mut chunk) {
            Ok(0) if buf.is_empty() => return Ok(None),
            Ok(0) => return Err(bad(400, "connection closed inside the request head")),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(()) => return Ok(None),
        }
        // Not HTTP at all (e.g. a TLS ClientHello): answer now rather than
        // wait for a head that never comes.
        if !buf[0].is_ascii_uppercase() {
            return Err(bad(
                400,
                "not an HTTP/1.x request (TLS? the mock speaks plain http://)",
            ));
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or("").trim();
    let parts: Vec<&str> = request_line.split_whitespace().collect();
    let [method, target, version] = parts.as_slice() else {
        return Err(bad(400, "malformed request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(bad(400, "only HTTP/1.x is supported"));
    }
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad(400, "malformed method"));
    }
    let mut headers = Vec::new();
    for line in lines {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad(400, "malformed header line"));
        };
        let name = name.trim();
        if name.is_empty() || name.contains(' ') {
            return Err(bad(400, "malformed header name"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    if headers.iter().any(|(k, _)| k == "transfer-encoding") {
        return Err(bad(
            501,
            "Transfer-Encoding is not supported; send Content-Length",
        ));
    }
    let mut content_length: Option<usize> = None;
    for (_, v) in headers.iter().filter(|(k, _)| k == "content-length") {
        let Ok(n) = v.parse::<usize>() else {
            return Err(bad(400, "malformed Content-Length"));
        };
        if content_length.is_some_and(|c| c != n) {
            return Err(bad(400, "conflicting Content-Length headers"));
        }
        content_length = Some(n);
    }
    let len = content_length.unwrap_or(0);
    if len > MAX_BODY {
        return Err(bad(413, "request body too large"));
    }
    let expects_continue = headers
        .iter()
        .any(|(k, v)| k == "expect" && v.eq_ignore_ascii_case("100-continue"));
    let mut body: Vec<u8> = buf[body_start..].to_vec();
    if expects_continue && body.len() < len {
        let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    while body.len() < len {
        match read_some(shared, stream, &mut chunk) {
            Ok(0) | Err(()) => return Err(bad(400, "connection closed inside the request body")),
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    body.truncate(len);

    // Origin-form, or absolute-form as sent to proxies.
    let mut target: &str = target;
    if let Some(rest) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        target = rest.find('/').map_or("/", |i| &rest[i..]);
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok(Some(Request {
        method: (*method).to_string(),
        path: percent_decode(path, false),
        query: parse_form(query),
        headers,
        form: parse_form(&String::from_utf8_lossy(&body)),
        at: Instant::now(),
    }))
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// SHA-256 of `data` (the mock checks PKCE S256 without trusting the client's code).
fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

fn parse_form(s: &str) -> Form {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

fn percent_decode(s: &str, plus_is_space: bool) -> String {
    fn hex(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'+' && plus_is_space {
            out.push(b' ');
        } else if c == b'%'
            && let Some(hi) = b.get(i + 1).copied().and_then(hex)
            && let Some(lo) = b.get(i + 2).copied().and_then(hex)
        {
            out.push(hi << 4 | lo);
            i += 2;
        } else {
            // A stray '%' stays literal, as most servers do.
            out.push(c);
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// HTTP Basic credentials (client_secret_basic), form-decoded per RFC 6749.
fn basic_auth(headers: &[(String, String)]) -> Option<(String, String)> {
    let v = &headers.iter().find(|(k, _)| k == "authorization")?.1;
    let (scheme, rest) = v.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = STANDARD.decode(rest.trim()).ok()?;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (id, secret) = raw.split_once(':')?;
    Some((percent_decode(id, true), percent_decode(secret, true)))
}

// ---------------------------------------------------------------------------
// Server threads
// ---------------------------------------------------------------------------

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stopped() {
            break;
        }
        let Ok(stream) = conn else {
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        *shared.active.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        let sh = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name("mock-idp-conn".to_string())
            .spawn(move || {
                let _guard = ActiveGuard(Arc::clone(&sh));
                handle_conn(&sh, stream);
            });
        if spawned.is_err() {
            // The closure (and its stream) was dropped without running.
            ActiveGuard(Arc::clone(&shared)).release();
        }
    }
}

/// Decrements the live-connection count when a connection thread ends.
struct ActiveGuard(Arc<Shared>);

impl ActiveGuard {
    fn release(self) {}
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let mut n = self.0.active.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.saturating_sub(1);
        self.0.idle.notify_all();
    }
}

fn handle_conn(shared: &Shared, mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let req = match read_request(shared, &mut stream) {
        Ok(Some(r)) => r,
        Ok(None) => return,
        Err(e) => {
            let body = json!({"error": "invalid_request", "error_description": e.message});
            write_response(&mut stream, &json_response(e.status, &body));
            finish(&mut stream);
            return;
        }
    };
    let route = Route::of(&req.path);
    let (fault, delay) = {
        let mut st = shared.lock();
        st.record(&req, &route);
        let fault = if route.faultable() {
            st.faults.pop_front()
        } else {
            None
        };
        (fault, st.delay_ms)
    };
    if delay > 0 && !sleep_unless_stopped(shared, Duration::from_millis(delay)) {
        return;
    }
    let authority = shared.authority();
    let resp = match fault {
        None => shared.lock().dispatch(&authority, &req, &route),
        Some(Fault::NeverAnswer) => {
            hold_open(shared, &mut stream);
            return;
        }
        Some(Fault::CloseWithoutAnswer) => {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        Some(Fault::Huge(n)) => {
            write_huge(shared, &mut stream, n);
            finish(&mut stream);
            return;
        }
        Some(
            f @ (Fault::MissingAccessToken | Fault::MissingExpiresIn | Fault::ExpiresInString),
        ) => {
            let r = shared.lock().dispatch(&authority, &req, &route);
            mutate(r, &f)
        }
        Some(f) => shared.lock().fault_response(&f),
    };
    let resp = dated(resp, shared.lock().doctor.date_offset);
    write_response(&mut stream, &resp);
    finish(&mut stream);
}

/// Applies a body-altering fault to a JSON answer.
fn mutate(mut r: Response, f: &Fault) -> Response {
    let Ok(Value::Object(mut obj)) = serde_json::from_slice::<Value>(&r.body) else {
        return r;
    };
    match f {
        Fault::MissingAccessToken => {
            obj.remove("access_token");
        }
        Fault::MissingExpiresIn => {
            obj.remove("expires_in");
        }
        Fault::ExpiresInString => {
            if let Some(v) = obj.get_mut("expires_in") {
                *v = Value::String(v.to_string());
            }
        }
        _ => {}
    }
    r.body = Value::Object(obj).to_string().into_bytes();
    r
}

// ---------------------------------------------------------------------------
// Time and randomness
// ---------------------------------------------------------------------------

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn civil(unix: u64) -> (i64, u32, u32, u64) {
    let days = (unix / 86400) as i64;
    let secs = unix % 86400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, secs)
}

/// `2026-11-28 10:00:00Z`, as in Microsoft error descriptions.
fn ms_time(unix: u64) -> String {
    let (y, m, d, s) = civil(unix);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// `2026-11-28T10:00:00Z`
fn iso_time(unix: u64) -> String {
    ms_time(unix).replacen(' ', "T", 1)
}

/// Ids shaped like Microsoft's trace and correlation ids.
impl Rng {
    fn uuid(&mut self) -> String {
        let (a, b) = (self.next_u64(), self.next_u64());
        uuid_from(a, b)
    }
}

// ---------------------------------------------------------------------------
// For `ooauth2 doctor` (tests/diagnose.rs): the provider's clock, app
// registration refusals as Microsoft words them, and Google's refusal of a
// Testing app's week-old refresh token.
// ---------------------------------------------------------------------------

/// An app registration problem the mock plays, answered as Microsoft does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Registration {
    /// No problem.
    #[default]
    Fine,
    /// "Allow public client flows" is off: the device authorization works,
    /// but every token request without a client secret gets 401
    /// `invalid_client` AADSTS7000218.
    NoPublicClientFlows,
    /// No app with this client id in the tenant: 400 `unauthorized_client`
    /// AADSTS700016 at the devicecode and token endpoints.
    AppNotFound,
    /// A personal account: a scope on outlook.office365.com is refused with
    /// 400 `invalid_scope` AADSTS70011 wherever a scope is sent.
    PersonalAccountScopes,
}

/// The doctor modes of the mock's state.
#[derive(Default)]
struct DoctorModes {
    /// Seconds added to the clock of the `Date` header.
    date_offset: i64,
    registration: Registration,
    /// Refresh tokens that Google refuses as a Testing app's expired ones.
    google_expired: std::collections::HashSet<String>,
}

impl MockIdp {
    /// Every answer's `Date` header runs `secs` ahead of the real clock
    /// (behind when negative), default 0.
    pub fn set_date_offset(&self, secs: i64) {
        self.lock().doctor.date_offset = secs;
    }

    /// The app registration problem played from now on.
    pub fn set_registration(&self, r: Registration) {
        self.lock().doctor.registration = r;
    }

    /// Google's paths refuse `rt` from now on as Google refuses a Testing
    /// app's refresh token after 7 days: 400 `invalid_grant`, "Token has
    /// been expired or revoked." (no AADSTS code).
    pub fn google_expire_refresh_token(&self, rt: &str) {
        self.lock().doctor.google_expired.insert(rt.to_string());
    }
}

impl State {
    /// The refusal the registration mode (or a Google-expired refresh
    /// token) gives this devicecode or token request, if any.
    fn registration_refusal(&mut self, req: &Request, has_secret: bool) -> Option<Response> {
        let form = &req.form;
        let client_id = form_get(form, "client_id").unwrap_or("").to_string();
        let tenant = req
            .path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("")
            .to_string();
        let is_token = matches!(Route::of(&req.path), Route::Token(_));
        if is_token
            && Flavor::of(&req.path) == Flavor::Google
            && form_get(form, "grant_type") == Some("refresh_token")
            && form_get(form, "refresh_token")
                .is_some_and(|rt| self.doctor.google_expired.contains(rt))
        {
            return Some(json_response(
                400,
                &json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
            ));
        }
        let registration = self.doctor.registration;
        match registration {
            Registration::Fine => None,
            Registration::NoPublicClientFlows if is_token && !has_secret => Some(self.error(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' \
                 or 'client_secret'.",
            )),
            Registration::NoPublicClientFlows => None,
            Registration::AppNotFound => Some(self.error(
                400,
                "unauthorized_client",
                700016,
                &format!(
                    "Application with identifier '{client_id}' was not found in the directory \
                     '{tenant}'. This can happen if the application has not been installed by \
                     the administrator of the tenant or consented to by any user in the tenant. \
                     You may have sent your authentication request to the wrong tenant."
                ),
            )),
            Registration::PersonalAccountScopes => {
                let scope = form_get(form, "scope").unwrap_or("").to_string();
                scope.contains("outlook.office365.com/").then(|| {
                    self.error(
                        400,
                        "invalid_scope",
                        70011,
                        &format!(
                            "The provided value for the input parameter 'scope' is not valid. \
                             The scope '{scope}' does not exist."
                        ),
                    )
                })
            }
        }
    }
}

/// `resp` with a `Date` header (RFC 9110 §6.6.1, IMF-fixdate) `offset`
/// seconds off the real clock, as an origin server with a clock sends it.
fn dated(mut resp: Response, offset: i64) -> Response {
    let now = unix_now().saturating_add_signed(offset);
    let (y, m, d, s) = civil(now);
    let days = now / 86_400;
    // 1970-01-01 was a Thursday.
    let wday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m - 1) as usize];
    resp.headers.push((
        "Date".to_string(),
        format!(
            "{wday}, {d:02} {month} {y:04} {:02}:{:02}:{:02} GMT",
            s / 3600,
            s / 60 % 60,
            s % 60
        ),
    ));
    resp
}
