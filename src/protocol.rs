//! The helper protocol's wire format: `key=value` lines, ended by a blank line
//! or EOF. No I/O of its own beyond the reader and writer it is handed.
//!
//! ```text
//! action=get
//! client_id=f21dcaf2-8020-469b-8135-343bfc35d046
//! user=me@outlook.com
//!
//! ```
//!
//! One table, [`KEYS`], drives parsing, writing, `capability` and the check that
//! `protocol.md` documents every key.

use crate::error::{Error, Result};
use std::io::{BufRead, Read, Write};

/// Version of the protocol, reported by `capability`.
pub const VERSION: u32 = 1;

/// The largest request accepted, in bytes (including line ends).
pub const MAX_REQUEST: usize = 64 * 1024;

/// Which way a key travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Request,
    Response,
}

/// One protocol key.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub name: &'static str,
    pub dir: Dir,
    /// Secret values are never logged or echoed in errors.
    pub secret: bool,
}

const fn key(name: &'static str, dir: Dir, secret: bool) -> Key {
    Key { name, dir, secret }
}

/// Every key of the protocol.
pub const KEYS: &[Key] = &[
    key("action", Dir::Request, false),
    key("client_id", Dir::Request, false),
    key("client_secret", Dir::Request, true),
    key("tenant", Dir::Request, false),
    key("authority", Dir::Request, false),
    key("user", Dir::Request, false),
    key("scope", Dir::Request, false),
    key("min_ttl", Dir::Request, false),
    key("interactive", Dir::Request, false),
    key("host", Dir::Request, false),
    key("port", Dir::Request, false),
    key("refresh_token", Dir::Request, true),
    key("user", Dir::Response, false),
    key("access_token", Dir::Response, true),
    key("token_type", Dir::Response, false),
    key("expires_at", Dir::Response, false),
    key("expires_in", Dir::Response, false),
    key("scope", Dir::Response, false),
    key("source", Dir::Response, false),
    key("xoauth2", Dir::Response, true),
    key("oauthbearer", Dir::Response, true),
    key("erased", Dir::Response, false),
    key("version", Dir::Response, false),
    key("actions", Dir::Response, false),
    key("request_keys", Dir::Response, false),
    key("response_keys", Dir::Response, false),
    key("secret_keys", Dir::Response, false),
    key("errors", Dir::Response, false),
    key("error", Dir::Response, false),
    key("error_description", Dir::Response, false),
    key("hint", Dir::Response, false),
];

/// Names of the keys that travel in `dir`, in table order.
pub fn key_names(dir: Dir) -> Vec<&'static str> {
    KEYS.iter()
        .filter(|k| k.dir == dir)
        .map(|k| k.name)
        .collect()
}

/// Names of the keys whose values are secrets, whichever way they travel.
pub fn secret_key_names() -> Vec<&'static str> {
    KEYS.iter().filter(|k| k.secret).map(|k| k.name).collect()
}

fn is_key(name: &str, dir: Dir) -> bool {
    KEYS.iter().any(|k| k.dir == dir && k.name == name)
}

/// Reads one request from `input`: stops at the first blank line or EOF and
/// never reads more than [`MAX_REQUEST`] + 1 bytes.
pub fn read_request(input: impl Read) -> Result<Vec<(String, String)>> {
    let mut reader = std::io::BufReader::new(input.take(MAX_REQUEST as u64 + 1));
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut total = 0usize;
    let mut line = Vec::new();
    for number in 1.. {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::invalid(format!("cannot read the request: {e}")))?;
        total += n;
        if total > MAX_REQUEST {
            return Err(Error::invalid(format!(
                "the request is larger than {MAX_REQUEST} bytes"
            )));
        }
        if n == 0 {
            break;
        }
        let text = strip_line_end(&line);
        if text.is_empty() {
            break;
        }
        let (k, v) = parse_line(number, text)?;
        if pairs.iter().any(|(seen, _)| seen == &k) {
            return Err(Error::invalid(format!(
                "duplicate key '{k}' on line {number}"
            )));
        }
        pairs.push((k, v));
    }
    Ok(pairs)
}

fn strip_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn parse_line(number: usize, bytes: &[u8]) -> Result<(String, String)> {
    if bytes.contains(&0) {
        return Err(Error::invalid(format!("line {number} contains a NUL byte")));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Error::invalid(format!("line {number} is not valid UTF-8")))?;
    let Some((k, v)) = text.split_once('=') else {
        return Err(Error::invalid(format!(
            "line {number} has no '=' (expected key=value)"
        )));
    };
    if k.is_empty() {
        return Err(Error::invalid(format!("line {number} has an empty key")));
    }
    if !is_key(k, Dir::Request) {
        // Escaped, so a stray space or control character is visible in the message.
        let shown: String = k
            .chars()
            .take(40)
            .collect::<String>()
            .escape_debug()
            .collect();
        return Err(if is_key(k, Dir::Response) {
            Error::invalid(format!(
                "'{shown}' on line {number} is a response key, not a request key"
            ))
        } else {
            Error::invalid(format!("unknown key '{shown}' on line {number}"))
                .hint("run 'ooauth2 helper' with action=capability to list the keys")
        });
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(format!(
            "the value of '{k}' on line {number} contains a control character"
        )));
    }
    Ok((k.to_string(), v.to_string()))
}

/// Writes a response block. A value holding a line break or NUL is refused, so
/// a value can never inject a second key.
pub fn write_response(out: &mut impl Write, pairs: &[(&str, String)]) -> std::io::Result<()> {
    let mut buf = String::new();
    for (k, v) in pairs {
        if !is_key(k, Dir::Response) || v.contains(['\n', '\r', '\0']) {
            return Err(std::io::Error::other(format!(
                "refusing to write response key '{k}'"
            )));
        }
        buf.push_str(k);
        buf.push('=');
        buf.push_str(v);
        buf.push('\n');
    }
    buf.push('\n');
    out.write_all(buf.as_bytes())?;
    out.flush()
}

/// The failure block for an error.
pub fn error_pairs(err: &Error) -> Vec<(&'static str, String)> {
    let mut pairs = vec![
        ("error", err.code.as_str().to_string()),
        ("error_description", err.message.clone()),
    ];
    if let Some(h) = &err.hint {
        pairs.push(("hint", h.clone()));
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;

    fn parse(b: &[u8]) -> Result<Vec<(String, String)>> {
        read_request(b)
    }

    #[test]
    fn parses_lf_and_crlf_and_stops_at_blank_line() {
        let p = parse(b"action=get\r\nuser=a=b\n\nignored=1\n").unwrap();
        assert_eq!(
            p,
            vec![
                ("action".into(), "get".into()),
                ("user".into(), "a=b".into())
            ]
        );
        assert_eq!(parse(b"user=x").unwrap().len(), 1);
        assert!(parse(b"").unwrap().is_empty());
    }

    #[test]
    fn rejects_bad_lines() {
        for (input, needle) in [
            (&b"user\n"[..], "line 1 has no '='"),
            (b"user=a\nuser=b\n", "duplicate key 'user' on line 2"),
            (b"tennant=x\n", "unknown key 'tennant' on line 1"),
            (b"user=a\0b\n", "NUL"),
            (b"user=\xff\n", "not valid UTF-8"),
            (b"=x\n", "empty key"),
            (b"access_token=x\n", "response key"),
            (b"user=a\rb\n", "control character"),
        ] {
            let e = parse(input).unwrap_err();
            assert_eq!(e.code, Code::InvalidRequest);
            assert!(e.message.contains(needle), "{:?}: {}", input, e.message);
        }
    }

    #[test]
    fn rejects_oversized() {
        let mut big = b"user=".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_REQUEST));
        assert!(parse(&big).unwrap_err().message.contains("larger than"));
    }

    #[test]
    fn writer_refuses_injection() {
        let mut out = Vec::new();
        assert!(write_response(&mut out, &[("user", "a\nerror=x".into())]).is_err());
        assert!(write_response(&mut out, &[("bogus", "a".into())]).is_err());
        write_response(&mut out, &[("user", "a".into())]).unwrap();
        assert_eq!(out, b"user=a\n\n");
    }
}
