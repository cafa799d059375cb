//! The grants over HTTP: device authorization (RFC 8628), authorization
//! code with PKCE (RFC 6749 §4.1, RFC 7636; the browser side is in
//! `loopback`) and refresh (RFC 6749 §6). The only module that speaks HTTP
//! to the provider. Provider answers are
//! classified here, where they arrive, into tokens or typed errors.

use crate::error::{Code, Error, Result};
use crate::provider::Endpoints;
use crate::settings::Settings;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use std::io::Read;
use std::time::{Duration, Instant};

/// Responses larger than this are refused without reading them all.
pub const MAX_BODY: u64 = 1024 * 1024;

/// Retry-After values longer than this are not waited for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Timeouts, retries and logging of the HTTP client.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub retries: u32,
    /// 0: quiet; 1: one line per exchange; 2: also the form and the answer,
    /// with every secret value replaced by its length.
    pub verbose: u8,
}

impl HttpConfig {
    /// Defaults (10 s connect, 30 s per request, 3 retries), overridden by
    /// `OOAUTH2_CONNECT_TIMEOUT` and `OOAUTH2_HTTP_TIMEOUT` (seconds).
    pub fn new(settings: &Settings, verbose: u8) -> Result<HttpConfig> {
        Ok(HttpConfig {
            connect_timeout: settings.connect_timeout()?,
            timeout: settings.http_timeout()?,
            retries: 3,
            verbose,
        })
    }
}

/// A built HTTP client. Built only when a request must go out, so the cached
/// path never pays for TLS set-up.
pub struct Http {
    client: reqwest::blocking::Client,
    config: HttpConfig,
}

struct Reply {
    status: u16,
    /// The `Date` header, as sent.
    date: Option<String>,
    content_type: String,
    body: Vec<u8>,
    retry_after: Option<Duration>,
}

impl Http {
    /// Builds the client: rustls with the system's CA store, proxies from the
    /// environment, no redirects (a redirect would carry secrets to another host).
    pub fn new(config: HttpConfig) -> Result<Http> {
        let client = reqwest::blocking::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ooauth2/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::new(Code::NetworkError, format!("cannot set up HTTPS: {e}")))?;
        Ok(Http { client, config })
    }

    fn log(&self, line: impl FnOnce() -> String) {
        if self.config.verbose > 0 {
            eprintln!("ooauth2: {}", line());
        }
    }

    /// At `-vv`: more lines about one exchange.
    fn log_detail(&self, lines: impl FnOnce() -> Vec<String>) {
        if self.config.verbose > 1 {
            for line in lines() {
                eprintln!("ooauth2:   {line}");
            }
        }
    }

    /// POSTs a form, retrying connection failures and, when `retry` allows,
    /// 429 and 5xx, with backoff.
    fn post_form(
        &self,
        url: &str,
        what: &str,
        form: &[(&str, &str)],
        retry: Retry,
    ) -> Result<Reply> {
        let body = encode_form(form);
        self.log_detail(|| vec![format!("form: {}", redacted_form(form))]);
        self.send(url, what, Some(body), retry)
    }

    /// GETs a JSON document (OpenID Connect discovery), with the same limits
    /// and retries as a form POST.
    fn get(&self, url: &str, what: &str) -> Result<Reply> {
        self.send(url, what, None, Retry::Idempotent)
    }

    fn send(&self, url: &str, what: &str, body: Option<String>, retry: Retry) -> Result<Reply> {
        let host = host_of(url);
        let method = if body.is_some() { "POST" } else { "GET" };
        let mut attempt = 0;
        loop {
            let started = Instant::now();
            let request = match &body {
                Some(body) => self
                    .client
                    .post(url)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(body.clone()),
                None => self.client.get(url),
            };
            let sent = request.header("Accept", "application/json").send();
            let reply = match sent {
                Err(e) => {
                    self.log(|| format!("{method} {url} ({what}) failed: {}", chain(&e)));
                    if e.is_connect() && !e.is_timeout() && attempt < self.config.retries {
                        std::thread::sleep(backoff(attempt));
                        attempt += 1;
                        continue;
                    }
                    return Err(network_error(&host, &e, self.config.timeout));
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    match self.read_reply(resp, &host) {
                        Ok(reply) => reply,
                        Err(e) => {
                            self.log(|| {
                                format!(
                                    "{method} {url} ({what}) -> {status}, refused after {} ms: {}",
                                    started.elapsed().as_millis(),
                                    e.message
                                )
                            });
                            return Err(e);
                        }
                    }
                }
            };
            self.log(|| {
                format!(
                    "{method} {url} ({what}) -> {}{} in {} ms",
                    reply.status,
                    error_summary(&reply),
                    started.elapsed().as_millis()
                )
            });
            self.log_detail(|| reply_details(&reply));
            let retryable = retry == Retry::Idempotent
                && (reply.status == 429 || (500..600).contains(&reply.status));
            if retryable && attempt < self.config.retries {
                let wait = reply.retry_after.unwrap_or_else(|| backoff(attempt));
                if wait > MAX_RETRY_AFTER {
                    return Err(Error::new(
                        Code::ServerError,
                        format!(
                            "{host} is busy (HTTP {}) and asks to retry after {} s",
                            reply.status,
                            wait.as_secs()
                        ),
                    )
                    .hint("try again later"));
                }
                std::thread::sleep(wait);
                attempt += 1;
                continue;
            }
            return Ok(reply);
        }
    }

    fn read_reply(&self, mut resp: reqwest::blocking::Response, host: &str) -> Result<Reply> {
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let date = resp
            .headers()
            .get("date")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        if (300..400).contains(&status) {
            let to = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(host_of)
                .unwrap_or_else(|| "another place".into());
            return Err(Error::new(
                Code::BadResponse,
                format!("{host} redirected the request to {to} (HTTP {status}); not followed, so no secret was sent there"),
            )
            .hint("check the authority; a proxy or captive portal may be in the way"));
        }
        if resp.content_length().is_some_and(|n| n > MAX_BODY) {
            return Err(too_large(host));
        }
        let mut body = Vec::new();
        (&mut resp)
            .take(MAX_BODY + 1)
            .read_to_end(&mut body)
            .map_err(|e| {
                Error::new(
                    Code::NetworkError,
                    format!("reading the answer of {host} failed: {e}"),
                )
                .hint("check the network connection and try again")
            })?;
        if body.len() as u64 > MAX_BODY {
            return Err(too_large(host));
        }
        Ok(Reply {
            status,
            date,
            content_type,
            body,
            retry_after,
        })
    }
}

/// Which failures a request may be sent again after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Connection failures, 429 and 5xx: sending it twice does no harm.
    Idempotent,
    /// Only failures to connect, when nothing reached the server: an
    /// authorization code is single use, and a 5xx may come after the
    /// server took it.
    ConnectOnly,
}

/// Form fields whose values are secrets: shown at `-vv` only by length.
const SECRET_FIELDS: &[&str] = &[
    "client_secret",
    "refresh_token",
    "code",
    "code_verifier",
    "device_code",
    "access_token",
    "id_token",
    "client_assertion",
];

fn redact(key: &str, value: &str) -> String {
    if SECRET_FIELDS.contains(&key) {
        format!("<{} bytes, not shown>", value.len())
    } else {
        value.to_string()
    }
}

/// `key=value&...` for the log, secrets replaced by their length.
fn redacted_form(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| format!("{k}={}", redact(k, v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `-vv` lines of an answer: a few headers and the JSON body with every
/// secret replaced by its length (a body that is not JSON by its size only,
/// as it may echo anything).
fn reply_details(reply: &Reply) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(d) = &reply.date {
        lines.push(format!("date: {}", crate::error::one_line(d)));
    }
    lines.push(format!(
        "content-type: {}",
        crate::error::one_line(&reply.content_type)
    ));
    if let Some(r) = reply.retry_after {
        lines.push(format!("retry-after: {} s", r.as_secs()));
    }
    match serde_json::from_slice::<Value>(&reply.body) {
        Ok(Value::Object(map)) => {
            let shown: Map<String, Value> = map
                .into_iter()
                .map(|(k, v)| {
                    let v = match (&v, SECRET_FIELDS.contains(&k.as_str())) {
                        (Value::String(s), true) => Value::String(redact(&k, s)),
                        (_, true) => Value::String("<not shown>".into()),
                        _ => v,
                    };
                    (k, v)
                })
                .collect();
            lines.push(format!("body: {}", Value::Object(shown)));
        }
        _ => lines.push(format!("body: {} bytes, not JSON", reply.body.len())),
    }
    lines
}

fn too_large(host: &str) -> Error {
    Error::new(
        Code::BadResponse,
        format!("{host} answered with more than 1 MiB; refused"),
    )
    .hint("check the authority; this is not a token endpoint's answer")
}

/// RFC 6749 §4.1.3 form encoding.
fn encode_form(form: &[(&str, &str)]) -> String {
    fn enc(s: &str, out: &mut String) {
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                    out.push(b as char)
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in form.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        enc(k, &mut out);
        out.push('=');
        enc(v, &mut out);
    }
    out
}

fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            })
        })
        .unwrap_or_else(|| "the provider".into())
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250 << attempt.min(4))
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = inner.source();
    }
    s
}

fn network_error(host: &str, e: &reqwest::Error, timeout: Duration) -> Error {
    let msg = if e.is_timeout() {
        format!("{host} did not answer within {} s", timeout.as_secs())
    } else if e.is_connect() {
        format!("cannot connect to {host}: {}", source_chain(e))
    } else {
        format!("the request to {host} failed: {}", source_chain(e))
    };
    Error::new(Code::NetworkError, msg).hint("check the network connection and try again")
}

/// The causes below reqwest's own message, which repeats the URL already named.
fn source_chain(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    match e.source() {
        Some(inner) => chain(inner),
        None => e.to_string(),
    }
}

fn error_summary(reply: &Reply) -> String {
    if reply.status < 400 {
        return String::new();
    }
    match serde_json::from_slice::<Value>(&reply.body) {
        Ok(v) => {
            let err = v.get("error").and_then(Value::as_str).unwrap_or("?");
            match aadsts_code(&v) {
                Some(c) => format!(" {err} AADSTS{c}"),
                None => format!(" {err}"),
            }
        }
        Err(_) => String::new(),
    }
}

/// A token endpoint's successful answer.
#[derive(Clone)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    pub scope: Option<String>,
    pub refresh_token: Option<String>,
    /// The account named in the id_token, when there was one.
    pub id_user: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("id_user", &self.id_user)
            .finish_non_exhaustive()
    }
}

/// A device authorization answer (RFC 8628 §3.2).
#[derive(Debug, Clone)]
pub struct DeviceAuth {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    /// The page with the user code filled in (RFC 8628 §3.3.1), when the
    /// provider gives one; only an http(s) URL is kept.
    pub verification_uri_complete: Option<String>,
    pub expires_in: u64,
    pub interval: u64,
    /// The provider's localised instructions, when it sends them.
    pub message: Option<String>,
}

/// The client credentials sent with every grant.
pub struct Client<'a> {
    pub id: &'a str,
    pub secret: Option<&'a str>,
}

impl Client<'_> {
    fn form<'a>(&'a self, form: &mut Vec<(&'a str, &'a str)>) {
        form.push(("client_id", self.id));
        if let Some(s) = self.secret {
            form.push(("client_secret", s));
        }
    }
}

/// RFC 6749 §6: a new access token (and maybe a rotated refresh token).
pub fn refresh(
    http: &Http,
    token_url: &str,
    client: &Client,
    refresh_token: &str,
    scope: &str,
) -> Result<TokenResponse> {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        // Microsoft answers AADSTS900144 in practice when the scope is left out.
        ("scope", scope),
    ];
    client.form(&mut form);
    let reply = http.post_form(
        token_url,
        "grant_type=refresh_token",
        &form,
        Retry::Idempotent,
    )?;
    token_reply(&reply, &host_of(token_url))
}

/// What one poll of the token endpoint during a device flow said.
pub enum Poll {
    Pending,
    SlowDown,
    Done(Box<TokenResponse>),
}

/// RFC 8628 §3.1: asks for a device code.
pub fn start_device(
    http: &Http,
    device_url: &str,
    client: &Client,
    scope: &str,
) -> Result<DeviceAuth> {
    let mut form = vec![("scope", scope)];
    client.form(&mut form);
    let reply = http.post_form(device_url, "device authorization", &form, Retry::Idempotent)?;
    let host = host_of(device_url);
    if reply.status != 200 {
        return Err(error_reply(&reply, &host));
    }
    let obj = json_object(&reply, &host)?;
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
    let missing = |k: &str| {
        Error::new(
            Code::BadResponse,
            format!("the device authorization answer of {host} has no {k}"),
        )
    };
    let device_code = text("device_code").ok_or_else(|| missing("device_code"))?;
    let user_code = text("user_code").ok_or_else(|| missing("user_code"))?;
    // Google spells it verification_url.
    let verification_uri = text("verification_uri")
        .or_else(|| text("verification_url"))
        .ok_or_else(|| missing("verification_uri"))?;
    let expires_in = obj
        .get("expires_in")
        .and_then(Value::as_u64)
        .ok_or_else(|| missing("expires_in (a number)"))?;
    let interval = obj.get("interval").and_then(Value::as_u64).unwrap_or(5);
    // It is shown as a QR code and may be opened in a browser: a web page only.
    let verification_uri_complete = text("verification_uri_complete")
        .filter(|u| u.len() <= 2048)
        .filter(|u| reqwest::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "https" | "http")));
    Ok(DeviceAuth {
        device_code,
        user_code,
        verification_uri,
        verification_uri_complete,
        expires_in: expires_in.min(3600),
        interval: interval.min(60),
        message: text("message").map(|m| crate::error::one_line(&m)),
    })
}

/// RFC 8628 §3.4: one poll of the token endpoint.
pub fn poll_device(
    http: &Http,
    token_url: &str,
    client: &Client,
    device_code: &str,
) -> Result<Poll> {
    let mut form = vec![
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", device_code),
    ];
    client.form(&mut form);
    let reply = http.post_form(
        token_url,
        "grant_type=device_code",
        &form,
        Retry::Idempotent,
    )?;
    let host = host_of(token_url);
    if (reply.status == 400 || reply.status == 401)
        && let Ok(v) = serde_json::from_slice::<Value>(&reply.body)
    {
        match v.get("error").and_then(Value::as_str) {
            Some("authorization_pending") => return Ok(Poll::Pending),
            Some("slow_down") => return Ok(Poll::SlowDown),
            _ => {}
        }
    }
    token_reply(&reply, &host).map(|t| Poll::Done(Box::new(t)))
}

/// Shows the sign-in instructions and paces the polling.
pub trait DeviceUi {
    /// Tells the user where to go and which code to enter.
    fn show(&mut self, auth: &DeviceAuth);
    /// Sleeps for `interval`, or less if the user asks to poll now.
    fn wait(&mut self, interval: Duration);
    /// The device sign-in ended (success, error or expiry): tidy the screen.
    fn finish(&mut self) {}
    /// Tells the user about a problem the sign-in survives.
    fn warn(&mut self, message: &str) {
        eprintln!("ooauth2: warning: {message}");
    }
    /// A line the user pasted in place of the browser's redirect, if one
    /// came since the last call (never blocks).
    fn pasted(&mut self) -> Option<String> {
        None
    }
    /// Tells the user which page to open for an auth code sign-in (and
    /// opens it in a browser if wanted), and how long the listener waits.
    fn show_authorize(&mut self, url: &str, redirect_uri: &str, wait: Duration);
}

/// The whole device flow: ask for a code, show it, poll until the user is
/// done, the code expires, or the provider refuses.
pub fn device_flow(
    http: &Http,
    endpoints: &Endpoints,
    client: &Client,
    scope: &str,
    ui: &mut dyn DeviceUi,
) -> Result<TokenResponse> {
    let device_url = endpoints
        .device
        .as_deref()
        .ok_or_else(|| Error::invalid("this provider has no device authorization endpoint"))?;
    let auth = start_device(http, device_url, client, scope)?;
    ui.show(&auth);
    let result = poll_until_done(http, endpoints, client, &auth, ui);
    ui.finish();
    result
}

/// Polls the token endpoint for `auth` at its pace until an outcome.
fn poll_until_done(
    http: &Http,
    endpoints: &Endpoints,
    client: &Client,
    auth: &DeviceAuth,
    ui: &mut dyn DeviceUi,
) -> Result<TokenResponse> {
    let deadline = Instant::now() + Duration::from_secs(auth.expires_in);
    let mut interval = Duration::from_secs(auth.interval);
    loop {
        ui.wait(interval);
        if Instant::now() >= deadline {
            return Err(expired_code());
        }
        match poll_device(http, &endpoints.token, client, &auth.device_code) {
            Ok(Poll::Pending) => {}
            Ok(Poll::SlowDown) => interval += Duration::from_secs(5),
            Ok(Poll::Done(t)) => return Ok(*t),
            // A network hiccup must not throw away a sign-in the user is doing.
            Err(e) if e.code.is_transient() && Instant::now() < deadline => {
                ui.warn(&format!("{}; still waiting for the sign-in", e.message));
            }
            Err(e) => return Err(e),
        }
    }
}

/// How the auth code flow runs: the listener's port and the wait (whether a
/// browser is opened is the UI's business).
pub struct AuthCodeOptions<'a> {
    pub redirect_port: u16,
    pub timeout: Duration,
    /// The account expected to sign in (`login_hint`), if known.
    pub user: Option<&'a str>,
}

/// The whole auth code flow (RFC 8252 §7.3): listen on 127.0.0.1, send the
/// user to the authorize endpoint, take the one redirect, check its state,
/// then exchange the code with the PKCE verifier. A code whose redirect was
/// not checked is never sent anywhere.
pub fn authcode_flow(
    http: &Http,
    endpoints: &Endpoints,
    client: &Client,
    scope: &str,
    opts: &AuthCodeOptions,
    ui: &mut dyn DeviceUi,
) -> Result<TokenResponse> {
    use crate::loopback::{AuthorizeParams, Listener, Pkce, authorize_url, random_token};
    let authorize = endpoints
        .authorize
        .as_deref()
        .ok_or_else(|| Error::invalid("this provider has no authorization endpoint"))?;
    let listener = Listener::bind(opts.redirect_port)?;
    let redirect_uri = listener.redirect_uri();
    let pkce = Pkce::new()?;
    let state = random_token(16)?;
    let url = authorize_url(
        authorize,
        &AuthorizeParams {
            client_id: client.id,
            redirect_uri: &redirect_uri,
            scope,
            state: &state,
            challenge: &pkce.challenge,
            user: opts.user,
            extra: endpoints.authorize_extra,
        },
    )?;
    ui.show_authorize(&url, &redirect_uri, opts.timeout);
    let code = listener.wait(&state, opts.timeout, ui)?;
    exchange_code(
        http,
        &endpoints.token,
        client,
        &code,
        &pkce.verifier,
        &redirect_uri,
        endpoints.scope_on_exchange.then_some(scope),
    )
}

/// RFC 6749 §4.1.3 with RFC 7636 §4.5: trades a checked authorization code
/// for tokens, proving with the verifier that this process asked for it.
/// `scope` is repeated only where the provider wants it (Microsoft).
pub fn exchange_code(
    http: &Http,
    token_url: &str,
    client: &Client,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
    scope: Option<&str>,
) -> Result<TokenResponse> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    client.form(&mut form);
    let reply = http.post_form(
        token_url,
        "grant_type=authorization_code",
        &form,
        Retry::ConnectOnly,
    )?;
    token_reply(&reply, &host_of(token_url)).map_err(|e| {
        if e.code.is_transient() {
            e.hint("an authorization code works only once: sign in again when the provider is back")
        } else {
            e
        }
    })
}

/// Fetches `issuer`'s discovery document: OpenID Connect's well-known
/// path, then RFC 8414's when the first is not there.
pub fn discover(http: &Http, issuer: &str) -> Result<crate::provider::Discovery> {
    let host = host_of(issuer);
    let mut last = None;
    for url in crate::provider::discovery_urls(issuer) {
        let reply = http.get(&url, "discovery")?;
        match reply.status {
            200 => return crate::provider::parse_discovery(issuer, &reply.body),
            404 | 400 | 405 => last = Some(reply.status),
            status => {
                return Err(Error::new(
                    if status >= 500 || status == 429 {
                        Code::ServerError
                    } else {
                        Code::BadResponse
                    },
                    format!("{host} answered the discovery request with HTTP {status}"),
                )
                .hint("check issuer=, or give the endpoints instead (token_endpoint=, ...)"));
            }
        }
    }
    Err(Error::new(
        Code::BadResponse,
        format!(
            "{host} has no discovery document for {issuer} (HTTP {})",
            last.unwrap_or(404)
        ),
    )
    .hint("check issuer=, or give the endpoints instead (token_endpoint=, ...)"))
}

/// The error code an OAuth `error` value means (RFC 6749 §4.1.2.1, §5.2,
/// RFC 8628 §3.5), if it is one of the known ones.
fn known_error(err: &str) -> Option<Code> {
    Some(match err {
        "invalid_grant" | "interaction_required" | "consent_required" | "login_required" => {
            Code::InvalidGrant
        }
        "invalid_client" | "unauthorized_client" => Code::InvalidClient,
        "invalid_scope" => Code::InvalidScope,
        "authorization_declined" | "access_denied" => Code::AccessDenied,
        "expired_token" => Code::ExpiredToken,
        "bad_verification_code" => Code::BadVerificationCode,
        "temporarily_unavailable" | "server_error" => Code::ServerError,
        _ => return None,
    })
}

/// An error the provider sent back through the browser's redirect
/// (RFC 6749 §4.1.2.1), as a typed error.
pub fn redirect_error(err: &str, description: Option<&str>) -> Error {
    let code = known_error(err).unwrap_or(Code::ProviderError);
    let shown = crate::error::one_line(&err.chars().take(60).collect::<String>());
    let message = match description.filter(|d| !d.is_empty()) {
        Some(d) => format!("the sign-in was refused: {shown}: {d}"),
        None => format!("the sign-in was refused: {shown}"),
    };
    let hint = match code {
        Code::AccessDenied => {
            "the sign-in was declined or cancelled; run the command again to retry"
        }
        Code::InvalidClient => {
            "check client_id, and that the app registration has the redirect URI http://localhost (Mobile and desktop applications)"
        }
        Code::InvalidScope => "check scope",
        Code::ServerError => "the provider has a problem; try again later",
        _ => "run the command again; if it keeps failing, check client_id, tenant and scope",
    };
    Error::new(code, message).hint(hint)
}

fn expired_code() -> Error {
    Error::new(
        Code::ExpiredToken,
        "the sign-in code expired before the sign-in was completed",
    )
    .hint("run the command again and finish the sign-in within the time shown")
}

fn json_object(reply: &Reply, host: &str) -> Result<Map<String, Value>> {
    match serde_json::from_slice::<Value>(&reply.body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Error::new(
            Code::BadResponse,
            format!("{host} answered with JSON that is not an object"),
        )),
        Err(_) => {
            let kind = if reply.content_type.contains("html") {
                "an HTML page"
            } else {
                "something that is not JSON"
            };
            Err(Error::new(
                Code::BadResponse,
                format!("{host} answered with {kind} (HTTP {})", reply.status),
            )
            .hint(
                "a proxy or captive portal may be in the way; check the authority and the network",
            ))
        }
    }
}

/// Parses a token endpoint answer: tokens on 200, a typed error otherwise.
fn token_reply(reply: &Reply, host: &str) -> Result<TokenResponse> {
    if reply.status != 200 {
        return Err(error_reply(reply, host));
    }
    let obj = json_object(reply, host)?;
    let bad = |why: String| {
        Error::new(
            Code::BadResponse,
            format!("the token answer of {host} {why}"),
        )
    };
    let access_token = match obj.get("access_token") {
        Some(Value::String(s))
            if !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b)) =>
        {
            s.clone()
        }
        Some(_) => return Err(bad("has an access_token that is not a token".into())),
        None => return Err(bad("has no access_token".into())),
    };
    let expires_in = match obj.get("expires_in") {
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| bad("has an expires_in that is not a whole number of seconds".into()))?,
        Some(_) => return Err(bad("has an expires_in that is not a number".into())),
        None => return Err(bad("has no expires_in".into())),
    };
    let token_type = obj
        .get("token_type")
        .and_then(Value::as_str)
        .unwrap_or("Bearer")
        .to_string();
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err(bad(format!(
            "has token_type '{}', not Bearer",
            crate::error::one_line(&token_type)
        )));
    }
    let refresh_token = match obj.get("refresh_token") {
        None | Some(Value::Null) => None,
        Some(Value::String(s))
            if !s.is_empty() && s.bytes().all(|b| (0x20..=0x7e).contains(&b)) =>
        {
            Some(s.clone())
        }
        Some(_) => return Err(bad("has a refresh_token that is not a token".into())),
    };
    let scope = obj
        .get("scope")
        .and_then(Value::as_str)
        .map(crate::error::one_line);
    let id_user = obj
        .get("id_token")
        .and_then(Value::as_str)
        .and_then(id_token_user);
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: expires_in.min(366 * 86_400),
        scope,
        refresh_token,
        id_user,
    })
}

/// The account an id_token names. It came straight from the token endpoint
/// over TLS, so its signature is not checked (OpenID Connect Core §3.1.3.7).
pub fn id_token_user(jwt: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    ["preferred_username", "email", "upn", "unique_name"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .filter(|u| !u.is_empty() && !u.chars().any(|c| c.is_control() || c.is_whitespace()))
        .map(str::to_string)
}

fn aadsts_code(v: &Value) -> Option<u64> {
    if let Some(c) = v
        .get("error_codes")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_u64)
    {
        return Some(c);
    }
    let desc = v.get("error_description")?.as_str()?;
    let rest = &desc[desc.find("AADSTS")? + 6..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Plain-language fixes for the AADSTS codes mail users meet.
pub fn aadsts_hint(code: u64) -> Option<&'static str> {
    Some(match code {
        700082 => "the refresh token expired after 90 days without use; sign in again",
        50173 => "the grant was revoked (password change or admin action); sign in again",
        70000 => {
            "the refresh token is not valid any more (revoked, or from another app); sign in again"
        }
        70043 => {
            "your organisation's sign-in frequency policy requires a new sign-in; sign in again"
        }
        7000218 => {
            "the app registration must allow public client flows (Azure portal > App registrations > Authentication > Allow public client flows: Yes), or pass client_secret"
        }
        900144 => "a required parameter (often the scope) is missing; check client_id and scope",
        65001 => {
            "the app has no consent for these permissions; sign in again and accept, or ask an administrator to grant consent"
        }
        70011 => {
            "the scope is not valid for this account; use https://outlook.office.com/ scopes (personal accounts refuse outlook.office365.com)"
        }
        700016 => "no app with this client id exists in this tenant; check client_id and tenant",
        90002 => "the tenant does not exist; check tenant",
        50076 | 50079 => "multi-factor authentication is required; sign in again",
        _ => return None,
    })
}

/// Turns a non-200 answer into a typed error naming the provider's reason.
fn error_reply(reply: &Reply, host: &str) -> Error {
    let v = serde_json::from_slice::<Value>(&reply.body).ok();
    let oauth = v.as_ref().and_then(|v| {
        v.get("error")
            .and_then(Value::as_str)
            .map(|e| (e.to_string(), v))
    });
    let Some((err, v)) = oauth else {
        if reply.status == 429 || reply.status >= 500 {
            return Error::new(
                Code::ServerError,
                format!("{host} answered HTTP {} after retries", reply.status),
            )
            .hint("the provider has a problem; try again later");
        }
        return Error::new(
            Code::BadResponse,
            format!(
                "{host} answered HTTP {} without an OAuth error",
                reply.status
            ),
        )
        .hint("check the authority and tenant");
    };
    let description = v
        .get("error_description")
        .and_then(Value::as_str)
        // Microsoft appends Trace ID / Correlation ID lines; the first line says it all.
        .map(|d| crate::error::one_line(d.split(['\r', '\n']).next().unwrap_or("")))
        // Quoted inside our sentence, which ends without a period.
        .map(|d| d.trim_end_matches(['.', ' ']).to_string())
        .filter(|d| !d.is_empty());
    let code = match known_error(&err) {
        Some(c) => c,
        None if reply.status == 429 || reply.status >= 500 => Code::ServerError,
        None => Code::ProviderError,
    };
    let shown_err = crate::error::one_line(&err.chars().take(60).collect::<String>());
    let message = match &description {
        Some(d) => format!("{host} refused: {shown_err}: {d}"),
        None => format!("{host} refused: {shown_err}"),
    };
    let mut e = Error::new(code, message);
    // Device-flow outcomes say what happened to the sign-in; Microsoft tags
    // them with AADSTS codes whose usual hints speak of refresh tokens.
    let hint = match code {
        Code::AccessDenied => Some("the sign-in was declined; run the command again to retry"),
        Code::ExpiredToken => {
            Some("the code expired; run the command again and finish the sign-in in time")
        }
        Code::BadVerificationCode => {
            Some("the provider no longer knows this sign-in code; run the command again")
        }
        Code::ServerError => aadsts_code(v)
            .and_then(aadsts_hint)
            .or(Some("the provider has a problem; try again later")),
        _ => aadsts_code(v).and_then(aadsts_hint),
    };
    if let Some(h) = hint {
        e = e.hint(h);
    }
    e
}

// ---------------------------------------------------------------------------
// For `ooauth2 doctor` (src/doctor.rs): can the provider be reached, with
// this proxy and CA store; what its clock says; does the app registration
// allow the device flow. New functions only: the grants above are unchanged.
// ---------------------------------------------------------------------------

/// What one plain request to a provider's host showed.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The HTTP status; any status means the host was reached.
    pub status: u16,
    /// The `Date` header, as sent.
    pub date: Option<String>,
    /// How long the answer took.
    pub elapsed: Duration,
    /// The proxy the request went through, described for people.
    pub proxy: Option<String>,
}

impl Http {
    /// One GET of the origin of `url` through this client (the system's
    /// proxy variables, its CA store, no redirects): nothing but `/` is
    /// asked and no credential is sent. No retry: the question is whether
    /// the host answers now. A failure is an error whose hint names the
    /// likely cause: the network, the proxy, the CA store or the timeout.
    pub fn probe(&self, url: &str) -> Result<Probe> {
        let origin = reqwest::Url::parse(url)
            .ok()
            .map(|u| u.origin())
            .filter(|o| o.is_tuple())
            .map(|o| format!("{}/", o.ascii_serialization()))
            .ok_or_else(|| Error::invalid(format!("'{url}' has no host to reach")))?;
        let host = host_of(url);
        let proxy = proxy_for(&origin);
        let started = Instant::now();
        let sent = self.client.get(&origin).send();
        let elapsed = started.elapsed();
        match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let date = resp
                    .headers()
                    .get("date")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                self.log(|| {
                    format!(
                        "GET {origin} (reachability) -> {status} in {} ms",
                        elapsed.as_millis()
                    )
                });
                Ok(Probe {
                    status,
                    date,
                    elapsed,
                    proxy,
                })
            }
            Err(e) => {
                self.log(|| format!("GET {origin} (reachability) failed: {}", chain(&e)));
                Err(unreachable(&host, &e, proxy.as_deref(), &self.config))
            }
        }
    }
}

/// Why a host could not be reached, with the fix for that cause.
fn unreachable(host: &str, e: &reqwest::Error, proxy: Option<&str>, config: &HttpConfig) -> Error {
    let cause = source_chain(e);
    let lower = cause.to_ascii_lowercase();
    let via = proxy
        .map(|p| format!(" through the proxy {p}"))
        .unwrap_or_default();
    let (msg, hint) = if lower.contains("certificate") || lower.contains("unknownissuer") {
        (
            format!("the TLS certificate of {host} is not trusted{via}: {cause}"),
            "a TLS-inspecting proxy or firewall may be in the way: add its CA certificate to \
             the system CA store (/usr/local/share/ca-certificates, then update-ca-certificates) \
             or point SSL_CERT_FILE at a bundle holding it; check the date and time too"
                .to_string(),
        )
    } else if proxy.is_some() && (e.is_connect() || e.is_timeout()) {
        (
            format!("cannot reach {host}{via}: {cause}"),
            "check that the proxy runs and that HTTPS_PROXY (or ALL_PROXY) names it \
             correctly; unset it if this network needs no proxy (NO_PROXY lists hosts \
             reached directly)"
                .to_string(),
        )
    } else if e.is_timeout() {
        (
            format!(
                "{host} did not answer within {} s (connect: {} s)",
                config.timeout.as_secs_f32(),
                config.connect_timeout.as_secs_f32()
            ),
            "check the network: a firewall that drops packets looks like this; if this \
             network needs a proxy, set HTTPS_PROXY; OOAUTH2_CONNECT_TIMEOUT and \
             OOAUTH2_HTTP_TIMEOUT set the wait"
                .to_string(),
        )
    } else if lower.contains("tls")
        || lower.contains("handshake")
        || lower.contains("corrupt message")
    {
        (
            format!("the TLS handshake with {host} failed{via}: {cause}"),
            "something that does not speak HTTPS answered there: check the authority (its \
             host and port), and whether a captive portal or proxy is in the way"
                .to_string(),
        )
    } else {
        (
            format!("cannot reach {host}: {cause}"),
            "check the network connection, DNS and the firewall; if this network needs a \
             proxy, set HTTPS_PROXY=http://PROXY:PORT"
                .to_string(),
        )
    };
    Error::new(Code::NetworkError, msg).hint(hint)
}

/// The proxy the HTTP client uses for `url`, as the `system-proxy` feature
/// picks it from the environment (hyper-util's rules: `HTTPS_PROXY` or
/// `HTTP_PROXY` by scheme, else `ALL_PROXY`, upper case first; hosts in
/// `NO_PROXY` go direct; none when `REQUEST_METHOD` says this is CGI).
/// Credentials in the proxy URL are not shown.
pub fn proxy_for(url: &str) -> Option<String> {
    let first = |names: [&'static str; 2]| {
        names
            .into_iter()
            .find_map(|n| std::env::var(n).ok().map(|v| (n, v)))
    };
    if std::env::var_os("REQUEST_METHOD").is_some() {
        return None;
    }
    let u = reqwest::Url::parse(url).ok()?;
    let by_scheme = match u.scheme() {
        "https" => first(["HTTPS_PROXY", "https_proxy"]),
        _ => first(["HTTP_PROXY", "http_proxy"]),
    };
    let (name, value) = by_scheme
        .filter(|(_, v)| !v.trim().is_empty())
        .or_else(|| first(["ALL_PROXY", "all_proxy"]))
        .filter(|(_, v)| !v.trim().is_empty())?;
    let host = u.host_str()?.trim_matches(['[', ']']).to_ascii_lowercase();
    let no_proxy = first(["NO_PROXY", "no_proxy"])
        .map(|(_, v)| v)
        .unwrap_or_default();
    let bypass = no_proxy.split(',').map(str::trim).any(|entry| {
        let entry = entry.trim_start_matches('.').to_ascii_lowercase();
        !entry.is_empty() && (entry == "*" || host == entry || host.ends_with(&format!(".{entry}")))
    });
    if bypass {
        return None;
    }
    // Shown in messages: never the user name or password a proxy URL may hold.
    let shown = match reqwest::Url::parse(value.trim()) {
        Ok(mut p) => {
            let _ = p.set_username("");
            let _ = p.set_password(None);
            p.as_str().trim_end_matches('/').to_string()
        }
        Err(_) => match value.trim().rsplit_once('@') {
            Some((_, rest)) => rest.to_string(),
            None => value.trim().to_string(),
        },
    };
    Some(format!("{shown} (from {name})"))
}

/// The AADSTS code a Microsoft error message names, if any.
pub fn aadsts_in(text: &str) -> Option<u64> {
    let rest = &text[text.find("AADSTS")? + 6..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// What one device authorization and one poll said about the app
/// registration, without the user: the provider waiting for a sign-in
/// (`authorization_pending` or `slow_down`) means the registration allows
/// the flow. Neither code is shown anywhere; the sign-in it began expires
/// unused.
pub fn check_device_flow(
    http: &Http,
    endpoints: &Endpoints,
    client: &Client,
    scope: &str,
) -> Result<()> {
    let device_url = endpoints
        .device
        .as_deref()
        .ok_or_else(|| Error::invalid("this provider has no device authorization endpoint"))?;
    let auth = start_device(http, device_url, client, scope)?;
    // A token without a sign-in cannot happen; were it sent, it is dropped.
    match poll_device(http, &endpoints.token, client, &auth.device_code)? {
        Poll::Pending | Poll::SlowDown | Poll::Done(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            date: None,
            content_type: "application/json".into(),
            body: body.as_bytes().to_vec(),
            retry_after: None,
        }
    }

    #[test]
    fn form_encoding() {
        assert_eq!(
            encode_form(&[("scope", "a b/c"), ("x", "é&=")]),
            "scope=a+b%2Fc&x=%C3%A9%26%3D"
        );
    }

    #[test]
    fn token_answers() {
        let ok = token_reply(
            &reply(200, r#"{"access_token":"at","expires_in":3599,"token_type":"Bearer","refresh_token":"rt"}"#),
            "h",
        )
        .unwrap();
        assert_eq!(ok.access_token, "at");
        assert_eq!(ok.expires_in, 3599);
        assert_eq!(ok.refresh_token.as_deref(), Some("rt"));
        for body in [
            r#"{"expires_in":1}"#,
            r#"{"access_token":"at"}"#,
            r#"{"access_token":"at","expires_in":"3599"}"#,
            r#"{"access_token":"","expires_in":1}"#,
            r#"[1]"#,
            "<html>",
        ] {
            assert_eq!(
                token_reply(&reply(200, body), "h").unwrap_err().code,
                Code::BadResponse
            );
        }
    }

    #[test]
    fn oauth_errors_are_classified_with_hints() {
        let e = token_reply(
            &reply(400, "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS700082: expired.\\r\\nTrace ID: x\",\"error_codes\":[700082]}"),
            "h",
        )
        .unwrap_err();
        assert_eq!(e.code, Code::InvalidGrant);
        assert!(
            e.message.ends_with("AADSTS700082: expired"),
            "{}",
            e.message
        );
        assert!(e.hint.unwrap().contains("90 days"));
        let e = token_reply(
            &reply(
                401,
                r#"{"error":"invalid_client","error_description":"AADSTS7000218: x"}"#,
            ),
            "h",
        )
        .unwrap_err();
        assert_eq!(e.code, Code::InvalidClient);
        assert!(e.hint.unwrap().contains("public client"));
        assert_eq!(
            token_reply(&reply(503, "oops"), "h").unwrap_err().code,
            Code::ServerError
        );
    }

    #[test]
    fn aadsts_codes_for_doctor() {
        assert_eq!(
            aadsts_in("h refused: invalid_client: AADSTS7000218: x"),
            Some(7000218)
        );
        assert_eq!(
            aadsts_in("h refused: invalid_grant: Token has been expired"),
            None
        );
    }

    #[test]
    fn id_token_names_the_user() {
        let payload = URL_SAFE_NO_PAD.encode(r#"{"preferred_username":"Me@Example.com"}"#);
        assert_eq!(
            id_token_user(&format!("e30.{payload}.")).as_deref(),
            Some("Me@Example.com")
        );
        assert_eq!(id_token_user("garbage"), None);
    }
}
