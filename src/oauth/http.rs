//! The HTTP client every grant goes through: timeouts, retries with backoff
//! and `Retry-After`, no redirects, the 1 MiB cap on answers, form encoding,
//! and the `-v`/`-vv` log, where every secret form field or JSON member is
//! shown by its length only. Every secret a request sent is taken out of
//! its answer as it arrives (`redact.rs`), so nothing downstream sees an echo.

use super::errors;
use super::proxy::Proxies;
use super::redact::{self, SECRET_FIELDS, Sent};
use crate::error::{Code, Error, Result};
use crate::settings::Settings;
use serde_json::{Map, Value};
use std::io::Read;
use std::time::{Duration, Instant};

/// Responses larger than this are refused without reading them all.
const MAX_BODY: u64 = 1024 * 1024;

/// Retry-After values longer than this are not waited for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Timeouts, retries and logging of the HTTP client.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The limit on setting up a connection.
    pub(crate) connect_timeout: Duration,
    /// The limit on a whole request, answer included.
    pub(crate) timeout: Duration,
    /// How many times a failed request is sent again.
    pub(crate) retries: u32,
    /// 0: quiet; 1: one line per exchange; 2: also the form and the answer,
    /// with every secret value replaced by its length.
    pub(crate) verbose: u8,
}

impl HttpConfig {
    /// Defaults (10 s connect, 30 s per request, 3 retries), overridden by
    /// `OOAUTH2_CONNECT_TIMEOUT` and `OOAUTH2_HTTP_TIMEOUT` (seconds).
    pub(crate) fn new(settings: &Settings, verbose: u8) -> Result<HttpConfig> {
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
    pub(super) client: reqwest::blocking::Client,
    pub(super) config: HttpConfig,
    /// The proxy variables the client chooses its proxy from.
    pub(super) proxies: Proxies,
}

/// A provider's answer, read whole (within `MAX_BODY`).
pub(super) struct Reply {
    pub(super) status: u16,
    /// The `Date` header, as sent.
    pub(super) date: Option<String>,
    pub(super) content_type: String,
    pub(super) body: Vec<u8>,
    pub(super) retry_after: Option<Duration>,
}

/// Which failures a request may be sent again after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Retry {
    /// Connection failures, 429 and 5xx: sending it twice does no harm.
    Idempotent,
    /// Only failures to connect, when nothing reached the server: an
    /// authorization code is single use, and a 5xx may come after the
    /// server took it.
    ConnectOnly,
}

/// One request, as it is sent (again) and logged.
struct Exchange<'a> {
    url: &'a str,
    what: &'a str,
    host: String,
    method: &'static str,
    body: Option<String>,
    retry: Retry,
    /// The secrets the request sent, taken out of its answer.
    sent: Sent,
}

/// Where one attempt of an exchange left it.
enum Attempt {
    Done(Reply),
    /// Send it again after this wait.
    Again(Duration),
}

impl Http {
    /// Builds the client: rustls with the system's CA store, the proxy of
    /// [`Proxies::choose`] (never one for a loopback host), no redirects (a
    /// redirect would carry secrets to another host).
    pub(crate) fn new(config: HttpConfig) -> Result<Http> {
        let proxies = Proxies::from_env();
        let client = reqwest::blocking::Client::builder()
            .no_proxy()
            .proxy(proxies.clone().for_client())
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ooauth2/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::new(Code::NetworkError, format!("cannot set up HTTPS: {e}")))?;
        Ok(Http {
            client,
            config,
            proxies,
        })
    }

    pub(super) fn log(&self, line: impl FnOnce() -> String) {
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
    pub(super) fn post_form(
        &self,
        url: &str,
        what: &str,
        form: &[(&str, &str)],
        retry: Retry,
    ) -> Result<Reply> {
        let body = encode_form(form);
        self.log_detail(|| vec![format!("form: {}", redacted_form(form))]);
        self.send(url, what, Some(body), retry, Sent::of(form))
    }

    /// GETs a JSON document (OpenID Connect discovery), with the same limits
    /// and retries as a form POST.
    pub(super) fn get(&self, url: &str, what: &str) -> Result<Reply> {
        self.send(url, what, None, Retry::Idempotent, Sent::default())
    }

    fn send(
        &self,
        url: &str,
        what: &str,
        body: Option<String>,
        retry: Retry,
        sent: Sent,
    ) -> Result<Reply> {
        let exchange = Exchange {
            url,
            what,
            host: host_of(url),
            method: if body.is_some() { "POST" } else { "GET" },
            body,
            retry,
            sent,
        };
        let mut attempt = 0;
        loop {
            match self.attempt(&exchange, attempt)? {
                Attempt::Done(reply) => return Ok(reply),
                Attempt::Again(wait) => {
                    std::thread::sleep(wait);
                    attempt += 1;
                }
            }
        }
    }

    fn attempt(&self, ex: &Exchange, attempt: u32) -> Result<Attempt> {
        let started = Instant::now();
        let request = match &ex.body {
            Some(body) => self
                .client
                .post(ex.url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body.clone()),
            None => self.client.get(ex.url),
        };
        let resp = match request.header("Accept", "application/json").send() {
            Ok(resp) => resp,
            Err(e) => return self.unanswered(ex, &e, attempt),
        };
        let reply = self.receive(ex, resp, started)?;
        self.retry_after_answer(ex, reply, attempt)
    }

    /// No answer came. Only a failed connection is tried again: nothing
    /// reached the server then, whereas after a timeout it may have acted.
    fn unanswered(&self, ex: &Exchange, e: &reqwest::Error, attempt: u32) -> Result<Attempt> {
        self.log(|| {
            format!(
                "{} {} ({}) failed: {}",
                ex.method,
                ex.url,
                ex.what,
                chain(e)
            )
        });
        if e.is_connect() && !e.is_timeout() && attempt < self.config.retries {
            return Ok(Attempt::Again(backoff(attempt)));
        }
        Err(network_error(ex, e, self.config.timeout))
    }

    /// Reads an answer, takes the request's secrets out of it, and logs the
    /// exchange.
    fn receive(
        &self,
        ex: &Exchange,
        resp: reqwest::blocking::Response,
        started: Instant,
    ) -> Result<Reply> {
        let status = resp.status().as_u16();
        let mut reply = read_reply(resp, &ex.host).inspect_err(|e| {
            self.log(|| {
                format!(
                    "{} {} ({}) -> {status}, refused after {} ms: {}",
                    ex.method,
                    ex.url,
                    ex.what,
                    started.elapsed().as_millis(),
                    e.message
                )
            })
        })?;
        reply.body = ex.sent.scrub(reply.status, std::mem::take(&mut reply.body));
        self.log(|| {
            format!(
                "{} {} ({}) -> {}{} in {} ms",
                ex.method,
                ex.url,
                ex.what,
                reply.status,
                errors::summary(reply.status, &reply.body),
                started.elapsed().as_millis()
            )
        });
        self.log_detail(|| reply_details(&reply));
        Ok(reply)
    }

    /// Whether an answer is final, or a busy server's to be asked again.
    fn retry_after_answer(&self, ex: &Exchange, reply: Reply, attempt: u32) -> Result<Attempt> {
        let busy = reply.status == 429 || (500..600).contains(&reply.status);
        if ex.retry != Retry::Idempotent || !busy || attempt >= self.config.retries {
            return Ok(Attempt::Done(reply));
        }
        let wait = reply.retry_after.unwrap_or_else(|| backoff(attempt));
        if wait > MAX_RETRY_AFTER {
            return Err(Error::new(
                Code::ServerError,
                format!(
                    "{} is busy (HTTP {}) and asks to retry after {} s",
                    ex.host,
                    reply.status,
                    wait.as_secs()
                ),
            )
            .hint("try again later"));
        }
        Ok(Attempt::Again(wait))
    }
}

fn header<'r>(resp: &'r reqwest::blocking::Response, name: &str) -> Option<&'r str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The answer, unless it is a redirect or larger than `MAX_BODY`.
fn read_reply(mut resp: reqwest::blocking::Response, host: &str) -> Result<Reply> {
    let status = resp.status().as_u16();
    if (300..400).contains(&status) {
        return Err(redirected(&resp, host, status));
    }
    let content_type = header(&resp, "content-type").unwrap_or("").to_string();
    let date = header(&resp, "date").map(str::to_string);
    let retry_after = header(&resp, "retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
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

fn redirected(resp: &reqwest::blocking::Response, host: &str, status: u16) -> Error {
    let to = header(resp, "location")
        .map(host_of)
        .unwrap_or_else(|| "another place".into());
    Error::new(
        Code::BadResponse,
        format!("{host} redirected the request to {to} (HTTP {status}); not followed, so no secret was sent there"),
    )
    .hint("check the authority; a proxy or captive portal may be in the way")
}

/// `key=value&...` for the log, secrets replaced by their length.
fn redacted_form(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| format!("{k}={}", redact::field(k, v)))
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
                        (Value::String(s), true) => Value::String(redact::by_length(s)),
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

/// One name or value, form-encoded (application/x-www-form-urlencoded).
pub(super) fn form_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// RFC 6749 §4.1.3 form encoding.
fn encode_form(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| format!("{}={}", form_component(k), form_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `host[:port]` of a URL, as messages name the provider.
pub(super) fn host_of(url: &str) -> String {
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

/// An error and its causes on one line, each said once.
pub(super) fn chain(e: &dyn std::error::Error) -> String {
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

/// No answer to `ex`: the host, the endpoint and the cause in a person's
/// words (not the HTTP stack's layers).
fn network_error(ex: &Exchange, e: &reqwest::Error, timeout: Duration) -> Error {
    let (host, endpoint) = (&ex.host, endpoint_name(ex.what));
    let msg = if e.is_timeout() {
        format!(
            "{host} did not answer within {} s ({endpoint})",
            timeout.as_secs()
        )
    } else if e.is_connect() {
        format!("cannot connect to {host} ({endpoint}): {}", in_words(e))
    } else {
        format!("the request to {host} failed ({endpoint}): {}", in_words(e))
    };
    Error::new(Code::NetworkError, msg).hint("check the network connection and try again")
}

/// The endpoint an exchange (by its log label) asks.
fn endpoint_name(what: &str) -> &str {
    match what {
        "grant_type=refresh_token" => "token endpoint, refresh",
        "grant_type=device_code" => "token endpoint, device sign-in",
        "grant_type=authorization_code" => "token endpoint, browser sign-in",
        "device authorization" => "device authorization endpoint",
        "discovery" => "discovery document",
        other => other,
    }
}

/// Why a request got no answer, as a person would say it: the system's
/// own reason at the bottom of the chain, without the layers above it.
pub(super) fn in_words(e: &reqwest::Error) -> String {
    let chain = source_chain(e).to_ascii_lowercase();
    if chain.contains("dns error") {
        return "the name does not resolve (check the spelling of the authority, and the DNS)"
            .into();
    }
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    match cause
        .downcast_ref::<std::io::Error>()
        .map(std::io::Error::kind)
    {
        Some(std::io::ErrorKind::ConnectionRefused) => {
            "the connection was refused (nothing listens on that port, or a firewall rejects it)"
                .into()
        }
        Some(std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted) => {
            "the other end closed the connection".into()
        }
        Some(std::io::ErrorKind::NetworkUnreachable | std::io::ErrorKind::HostUnreachable) => {
            "the network or the host is unreachable (no route: check the connection)".into()
        }
        _ => {
            let text = cause.to_string();
            // "(os error 111)" tells a person nothing the words did not.
            match text.find(" (os error ") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

/// The causes below reqwest's own message, which repeats the URL already named.
pub(super) fn source_chain(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    match e.source() {
        Some(inner) => chain(inner),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding() {
        assert_eq!(
            encode_form(&[("scope", "a b/c"), ("x", "é&=")]),
            "scope=a+b%2Fc&x=%C3%A9%26%3D"
        );
    }
}
