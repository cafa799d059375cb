//! The tiny HTTP/1.1 of the mock: reading one request off a connection
//! (bounded, stoppable, refusing what it does not speak), the form and query
//! encodings, HTTP Basic, and writing one response.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 1024 * 1024;
/// A client that sends nothing for this long is disconnected.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Decoded `key=value` pairs, in order, duplicates kept.
pub(crate) type Form = Vec<(String, String)>;

/// The first value for `key`.
pub(crate) fn form_get<'a>(form: &'a Form, key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// The first value for `key`, unless it is empty (as Microsoft treats
/// `key=`: as missing).
pub(crate) fn form_get_nonempty<'a>(form: &'a Form, key: &str) -> Option<&'a str> {
    form_get(form, key).filter(|v| !v.is_empty())
}

/// One request, fully read.
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Form,
    /// Names lower-cased.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) form: Form,
    pub(crate) at: Instant,
}

/// One answer, written with `Connection: close`.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

pub(crate) fn json_response(status: u16, v: &Value) -> Response {
    Response {
        status,
        content_type: "application/json; charset=utf-8",
        headers: Vec::new(),
        body: v.to_string().into_bytes(),
    }
}

pub(crate) fn html_response(status: u16, headers: Vec<(String, String)>, body: &str) -> Response {
    Response {
        status,
        content_type: "text/html; charset=utf-8",
        headers,
        body: body.as_bytes().to_vec(),
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

/// The status line and headers of an answer with a `len`-byte body.
pub(crate) fn head_bytes(
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

pub(crate) fn write_response(stream: &mut TcpStream, r: &Response) {
    let mut out = head_bytes(r.status, r.content_type, &r.headers, r.body.len());
    out.extend_from_slice(&r.body);
    let _ = stream.write_all(&out);
    let _ = stream.flush();
}

/// A request the mock refuses before any endpoint sees it.
pub(crate) struct HttpError {
    pub(crate) status: u16,
    pub(crate) message: String,
}

fn bad(status: u16, message: impl Into<String>) -> HttpError {
    HttpError {
        status,
        message: message.into(),
    }
}

/// Reads more bytes, waking at the stream's read timeout to check `stop`.
/// `Ok(0)` is end of stream; `Err(())` is an error, idle timeout or stop.
fn read_some(stream: &mut TcpStream, stop: &AtomicBool, buf: &mut [u8]) -> Result<usize, ()> {
    let idle_deadline = Instant::now() + IDLE_TIMEOUT;
    loop {
        if stop.load(Ordering::SeqCst) || Instant::now() >= idle_deadline {
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

/// Reads one request; the stream's read timeout sets how often `stop` is
/// looked at. `Ok(None)`: the connection closed or timed out before a full
/// request.
pub(crate) fn read_request(
    stream: &mut TcpStream,
    stop: &AtomicBool,
) -> Result<Option<Request>, HttpError> {
    let Some((buf, head_end, body_start)) = read_head(stream, stop)? else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let (method, target, headers) = parse_head(&head)?;
    let len = content_length(&headers)?;
    let body = read_body(stream, stop, &headers, buf[body_start..].to_vec(), len)?;
    // Origin-form, or absolute-form as sent to proxies.
    let mut target: &str = &target;
    if let Some(rest) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        target = rest.find('/').map_or("/", |i| &rest[i..]);
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok(Some(Request {
        method,
        path: percent_decode(path, false),
        query: parse_form(query),
        headers,
        form: parse_form(&String::from_utf8_lossy(&body)),
        at: Instant::now(),
    }))
}

/// The bytes up to the blank line, with where the head ends and the body
/// starts in them; `None` when the client went away first.
fn read_head(
    stream: &mut TcpStream,
    stop: &AtomicBool,
) -> Result<Option<(Vec<u8>, usize, usize)>, HttpError> {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        if let Some((head_end, body_start)) = find_head_end(&buf) {
            return Ok(Some((buf, head_end, body_start)));
        }
        if buf.len() > MAX_HEAD {
            return Err(bad(431, "request head too large"));
        }
        match read_some(stream, stop, &mut chunk) {
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
    }
}

/// Method, target and headers (names lower-cased) of a request head.
type Head = (String, String, Vec<(String, String)>);

fn parse_head(head: &str) -> Result<Head, HttpError> {
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
    Ok(((*method).to_string(), (*target).to_string(), headers))
}

/// The body length: 0 without Content-Length; repeated ones must agree.
fn content_length(headers: &[(String, String)]) -> Result<usize, HttpError> {
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
    Ok(len)
}

/// The `len`-byte body, of which `body` already arrived with the head.
fn read_body(
    stream: &mut TcpStream,
    stop: &AtomicBool,
    headers: &[(String, String)],
    mut body: Vec<u8>,
    len: usize,
) -> Result<Vec<u8>, HttpError> {
    let expects_continue = headers
        .iter()
        .any(|(k, v)| k == "expect" && v.eq_ignore_ascii_case("100-continue"));
    if expects_continue && body.len() < len {
        let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let mut chunk = [0u8; 8192];
    while body.len() < len {
        match read_some(stream, stop, &mut chunk) {
            Ok(0) | Err(()) => return Err(bad(400, "connection closed inside the request body")),
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    body.truncate(len);
    Ok(body)
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
pub(crate) fn percent_encode(s: &str) -> String {
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

/// The credentials of an `Authorization: <scheme> <rest>` header, if the
/// scheme is `scheme` (case-insensitive).
pub(crate) fn authorization<'a>(headers: &'a [(String, String)], scheme: &str) -> Option<&'a str> {
    let v = &headers.iter().find(|(k, _)| k == "authorization")?.1;
    let (given, rest) = v.trim().split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

/// HTTP Basic credentials (client_secret_basic), form-decoded per RFC 6749.
pub(crate) fn basic_auth(headers: &[(String, String)]) -> Option<(String, String)> {
    let raw = STANDARD.decode(authorization(headers, "basic")?).ok()?;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (id, secret) = raw.split_once(':')?;
    Some((percent_decode(id, true), percent_decode(secret, true)))
}
