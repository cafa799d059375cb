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
//! One table, [`keys`], drives parsing, writing, `capability`, the config
//! file's keys and the check that `protocol.md` documents every key.

pub mod keys;

use crate::error::{Error, Result, is_line_break};
use keys::{Raw, RequestKey, ResponseKey};
use std::io::{BufRead, Read, Write};

/// Version of the protocol, reported by `capability`.
pub const VERSION: u32 = 1;

/// The largest request accepted, in bytes (including line ends).
pub(crate) const MAX_REQUEST: usize = 64 * 1024;

/// Reads one request from `input`: stops at the first blank line or EOF and
/// never reads more than `MAX_REQUEST` + 1 bytes.
pub fn read_request(input: impl Read) -> Result<Raw> {
    let mut raw = Raw::default();
    for (k, v) in read_pairs(input)? {
        raw.set(k, v);
    }
    Ok(raw)
}

/// The request's lines as key/value pairs, in the order given.
fn read_pairs(input: impl Read) -> Result<Vec<(RequestKey, String)>> {
    let mut reader = std::io::BufReader::new(input.take(MAX_REQUEST as u64 + 1));
    let mut pairs: Vec<(RequestKey, String)> = Vec::new();
    let mut total = 0usize;
    let mut line = Vec::new();
    for number in 1.. {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(|e| {
            Error::invalid(format!("cannot read the request: {e}")).hint(
                "write the request to ooauth2's stdin, then close it or end it with a blank line",
            )
        })?;
        total += n;
        if total > MAX_REQUEST {
            return Err(
                Error::invalid(format!("the request is larger than {MAX_REQUEST} bytes"))
                    .hint("send one request of key=value lines, ended by a blank line"),
            );
        }
        if n == 0 {
            break;
        }
        let text = strip_line_end(&line);
        if text.is_empty() {
            break;
        }
        let (k, v) = parse_line(number, text)?;
        if pairs.iter().any(|(seen, _)| *seen == k) {
            return Err(
                Error::invalid(format!("duplicate key '{}' on line {number}", k.name()))
                    .hint("give each key once"),
            );
        }
        pairs.push((k, v));
    }
    Ok(pairs)
}

/// What a well-formed request line is.
const FORMAT_HINT: &str =
    "write one UTF-8 key=value line per key, ended by a blank line (protocol.md section 2)";

fn strip_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn parse_line(number: usize, bytes: &[u8]) -> Result<(RequestKey, String)> {
    if bytes.contains(&0) {
        return Err(Error::invalid(format!("line {number} contains a NUL byte")).hint(FORMAT_HINT));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| {
        Error::invalid(format!("line {number} is not valid UTF-8")).hint(FORMAT_HINT)
    })?;
    let Some((k, v)) = text.split_once('=') else {
        return Err(
            Error::invalid(format!("line {number} has no '=' (expected key=value)"))
                .hint(FORMAT_HINT),
        );
    };
    if k.is_empty() {
        return Err(Error::invalid(format!("line {number} has an empty key")).hint(FORMAT_HINT));
    }
    let Some(key) = RequestKey::from_name(k).filter(|k| k.sources().wire) else {
        // Only a name that looks like a key is echoed: `client_secret:SECRET` or
        // `refresh_token 0.AXo` are mostly secret.
        let looks_like_key = k.len() <= 32
            && k.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !looks_like_key {
            return Err(Error::invalid(format!(
                "line {number} has a malformed key (not shown, as it may hold a secret)"
            ))
            .hint("write key=value, with a lowercase key such as client_id"));
        }
        let shown = k;
        return Err(if ResponseKey::from_name(k).is_some() {
            Error::invalid(format!(
                "'{shown}' on line {number} is a response key, not a request key"
            ))
            .hint("send only request keys; action=capability lists them")
        } else {
            Error::invalid(format!("unknown key '{shown}' on line {number}"))
                .hint("run 'ooauth2 helper' with action=capability to list the keys")
        });
    };
    if v.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(format!(
            "the value of '{k}' on line {number} contains a control character"
        ))
        .hint("values are one line of text without control characters"));
    }
    Ok((key, v.to_string()))
}

/// Writes a response block. A value holding NUL or a line break of any
/// reader ([`is_line_break`]: Python's `splitlines()` breaks on U+2028 too)
/// is refused, so a value can never inject a second key.
pub fn write_response(
    out: &mut impl Write,
    pairs: &[(ResponseKey, String)],
) -> std::io::Result<()> {
    let mut buf = String::new();
    for (k, v) in pairs {
        if v.chars().any(|c| c == '\0' || is_line_break(c)) {
            return Err(std::io::Error::other(format!(
                "refusing to write response key '{}'",
                k.name()
            )));
        }
        buf.push_str(k.name());
        buf.push('=');
        buf.push_str(v);
        buf.push('\n');
    }
    buf.push('\n');
    out.write_all(buf.as_bytes())?;
    out.flush()
}

/// The failure block for an error.
pub fn error_pairs(err: &Error) -> Vec<(ResponseKey, String)> {
    vec![
        (ResponseKey::Error, err.code.as_str().to_string()),
        (ResponseKey::ErrorDescription, err.message.clone()),
        (ResponseKey::Hint, err.next_step().to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;

    fn parse(b: &[u8]) -> Result<Vec<(RequestKey, String)>> {
        read_pairs(b)
    }

    #[test]
    fn parses_lf_and_crlf_and_stops_at_blank_line() {
        let p = parse(b"action=get\r\nuser=a=b\n\nignored=1\n").unwrap();
        assert_eq!(
            p,
            vec![
                (RequestKey::Action, "get".into()),
                (RequestKey::User, "a=b".into())
            ]
        );
        let raw = read_request(&b"action=get\nuser=a=b\n"[..]).unwrap();
        assert_eq!(raw.user.as_deref(), Some("a=b"));
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
            (b"notify_cmd=x\n", "unknown key 'notify_cmd'"),
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
        let user = ResponseKey::User;
        assert!(write_response(&mut out, &[(user, "a\nerror=x".into())]).is_err());
        assert!(write_response(&mut out, &[(user, "a\0".into())]).is_err());
        for c in [
            '\u{2028}', '\u{2029}', '\u{85}', '\x0b', '\x0c', '\x1c', '\x1d', '\x1e',
        ] {
            let v = format!("a{c}access_token=x");
            assert!(write_response(&mut out, &[(user, v)]).is_err(), "{c:?}");
        }
        write_response(&mut out, &[(user, "a".into())]).unwrap();
        assert_eq!(out, b"user=a\n\n");
    }
}

/// Property tests of the wire parser and of the validation behind it: no input
/// makes either panic, and what they accept obeys the protocol's rules.
#[cfg(test)]
mod proptests {
    use super::*;
    use crate::error::Code;
    use proptest::collection::vec;
    use proptest::prelude::*;

    fn request_keys() -> Vec<&'static str> {
        keys::wire_keys().map(RequestKey::name).collect()
    }

    /// Every key name of the table, whichever way it travels.
    fn any_key_names() -> Vec<&'static str> {
        let request = RequestKey::ALL.iter().map(|k| k.name());
        request
            .chain(ResponseKey::ALL.iter().map(|k| k.name()))
            .collect()
    }

    /// Bytes that matter to the parser: names, '=', line ends, NUL, invalid
    /// UTF-8, controls, Unicode. Picked by number, which keeps generation cheap.
    fn fragment(pick: u8, seed: u32) -> Vec<u8> {
        const ODD: &[&[u8]] = &[
            b"\xff",
            b"\xc3\x28",
            b"\xe2\x80",
            b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80",
            b"\xef\xbb\xbf",
            b"\xc2\x85",
            b"\xe2\x80\xa8",
            b"\x7f",
            b"\x1b[2J",
            b"\t",
            b" ",
            "\u{e9}\u{202e}\u{1f600}".as_bytes(),
            b"..",
            b"/",
            b"\\",
        ];
        let s = seed as usize;
        match pick % 20 {
            0..=5 => {
                let all = any_key_names();
                all[s % all.len()].as_bytes().to_vec()
            }
            6..=8 => b"=".to_vec(),
            9..=11 => b"\n".to_vec(),
            12 => b"\r\n".to_vec(),
            13 => b"\r".to_vec(),
            14 => b"\n\n".to_vec(),
            15 => vec![0],
            16 => ODD[s % ODD.len()].to_vec(),
            17 => seed.to_le_bytes()[..s % 5].to_vec(),
            18 => char::from_u32(seed % 0x11_0000)
                .unwrap_or('\u{fffd}')
                .to_string()
                .into_bytes(),
            _ => format!("{}", seed % 1000).into_bytes(),
        }
    }

    /// One `key=value` line, mostly with a request key, whose value is made of
    /// fragments (so it may hold '=', NUL, line ends...), and a line end that
    /// is usually LF, sometimes CRLF, CR or nothing.
    fn line(key: u8, value: &[(u8, u32)], end: u8) -> Vec<u8> {
        let request = request_keys();
        let all = any_key_names();
        let mut out = match key % 16 {
            0..=12 => request[usize::from(key / 16) % request.len()]
                .as_bytes()
                .to_vec(),
            13 => all[usize::from(key) % all.len()].as_bytes().to_vec(),
            _ => fragment(key / 16, u32::from(key)),
        };
        out.push(b'=');
        for &(pick, seed) in value {
            // Mostly text: '=', odd bytes, characters and numbers.
            let pick = if pick % 4 == 0 {
                pick
            } else {
                [6, 16, 18, 19][usize::from(pick % 4)]
            };
            out.extend(fragment(pick, seed));
        }
        out.extend_from_slice(match end % 32 {
            0..=25 => b"\n",
            26..=28 => b"\r\n",
            29 | 30 => b"\r",
            _ => b"",
        });
        out
    }

    /// Arbitrary bytes: raw, a soup of parser-relevant fragments, or lines
    /// shaped like a request with damage here and there.
    fn wire_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            vec(any::<u8>(), 0..512),
            vec((any::<u8>(), any::<u32>()), 0..48)
                .prop_map(|f| f.into_iter().flat_map(|(p, s)| fragment(p, s)).collect()),
            vec(
                (
                    any::<u8>(),
                    vec((any::<u8>(), any::<u32>()), 0..6),
                    any::<u8>()
                ),
                0..14
            )
            .prop_map(|lines| {
                lines
                    .into_iter()
                    .flat_map(|(k, v, e)| line(k, &v, e))
                    .collect()
            }),
        ]
    }

    /// Whether `pair` stands as a whole line (LF, CRLF or EOF ended) in `input`.
    fn has_line(input: &[u8], k: &str, v: &str) -> bool {
        let line = format!("{k}={v}");
        let line = line.as_bytes();
        input.split(|&b| b == b'\n').any(|l| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            l == line
        })
    }

    /// A value any request key may carry on the wire: no control characters,
    /// but '=', spaces, path tricks and any other Unicode.
    fn wire_value() -> impl Strategy<Value = String> {
        prop_oneof![
            // Controls become '=' rather than being filtered out: with many
            // keys, filtering hits proptest's limit on rejects.
            vec(
                any::<char>().prop_map(|c| if c.is_control() { '=' } else { c }),
                0..40
            )
            .prop_map(|c| c.into_iter().collect()),
            proptest::sample::select(
                [
                    "",
                    "=",
                    "a=b",
                    "==",
                    "../../x",
                    "..",
                    "/etc/passwd",
                    "a\\b",
                    " ",
                    " x ",
                    "\u{feff}",
                    "\u{2028}",
                    "\u{202e}evil",
                    &"x".repeat(300),
                ]
                .map(str::to_string)
                .to_vec()
            ),
        ]
    }

    /// A well-formed request: distinct known keys, LF or CRLF per line, ended
    /// by EOF or by a blank line followed by anything.
    fn well_formed() -> impl Strategy<Value = (Vec<(String, String)>, Vec<u8>)> {
        let keys =
            proptest::sample::subsequence(request_keys(), 0..=request_keys().len()).prop_shuffle();
        (
            keys,
            vec(wire_value(), request_keys().len()),
            vec(any::<bool>(), request_keys().len()),
            0..3u8,
            vec(any::<u8>(), 0..64),
        )
            .prop_map(|(keys, values, crlf, end, trailer)| {
                let pairs: Vec<(String, String)> = keys
                    .iter()
                    .zip(values)
                    .map(|(k, v)| (k.to_string(), v))
                    .collect();
                let mut bytes = Vec::new();
                for (i, (k, v)) in pairs.iter().enumerate() {
                    bytes.extend_from_slice(format!("{k}={v}").as_bytes());
                    let last = i + 1 == pairs.len();
                    if !(last && end == 0) {
                        bytes.extend_from_slice(if crlf[i] { b"\r\n" } else { b"\n" });
                    }
                }
                match end {
                    // EOF right after the last pair (or its line end).
                    0 | 1 => {}
                    // A blank line, then bytes that must be ignored.
                    _ => {
                        bytes.extend_from_slice(b"\n");
                        bytes.extend_from_slice(&trailer);
                    }
                }
                (pairs, bytes)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 10_000,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn arbitrary_bytes_give_valid_pairs_or_invalid_request(input in wire_bytes()) {
            match read_pairs(&input[..]) {
                Ok(pairs) => {
                    for (i, (key, v)) in pairs.iter().enumerate() {
                        let k = key.name();
                        prop_assert!(key.sources().wire, "not a wire key {k:?}");
                        prop_assert!(!v.chars().any(char::is_control), "control in {v:?}");
                        prop_assert!(
                            !pairs[..i].iter().any(|(seen, _)| seen == key),
                            "duplicate {k:?}"
                        );
                        prop_assert!(has_line(&input, k, v), "{k}={v} is not a line of the input");
                    }
                }
                Err(e) => {
                    prop_assert_eq!(e.code, Code::InvalidRequest);
                    prop_assert!(!e.message.is_empty());
                    prop_assert!(!e.message.chars().any(char::is_control), "{:?}", e.message);
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 2_000,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn well_formed_requests_round_trip((pairs, bytes) in well_formed()) {
            let got = read_pairs(&bytes[..]).map(|p| {
                p.into_iter().map(|(k, v)| (k.name().to_string(), v)).collect::<Vec<_>>()
            });
            prop_assert!(got.is_ok(), "{:?} on {:?}", got, String::from_utf8_lossy(&bytes));
            prop_assert_eq!(got.ok(), Some(pairs));
        }

        #[test]
        fn cr_only_line_ends_never_split_a_request((pairs, _) in well_formed()) {
            prop_assume!(pairs.len() >= 2);
            let text: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let e = read_pairs(text.join("\r").as_bytes()).unwrap_err();
            prop_assert_eq!(e.code, Code::InvalidRequest);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 64,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Any error, whatever its text, can be written as an error block, and
        /// that block holds exactly its own lines: nothing can be injected.
        #[test]
        fn error_blocks_are_always_written_and_never_injected(
            code in proptest::sample::select(Code::ALL.to_vec()),
            message in any::<String>(),
            hint in proptest::option::of(any::<String>()),
        ) {
            let mut err = Error::new(code, message);
            if let Some(h) = hint {
                err = err.hint(h);
            }
            let pairs = error_pairs(&err);
            let mut out = Vec::new();
            prop_assert!(write_response(&mut out, &pairs).is_ok());
            let text = String::from_utf8(out).unwrap();
            let lines: Vec<&str> = text.split('\n').collect();
            prop_assert_eq!(lines.len(), pairs.len() + 2, "{:?}", text);
            prop_assert_eq!(lines[0], format!("error={}", code.as_str()));
            for (line, (k, _)) in lines.iter().zip(&pairs) {
                prop_assert!(line.starts_with(&format!("{}=", k.name())), "{}", line);
                prop_assert!(!line.contains(['\r', '\0']));
            }
            prop_assert_eq!(&lines[pairs.len()..], &["", ""]);
        }

        /// Inputs around the size limit: refused past it, never read past it.
        #[test]
        fn size_limit_holds(extra in 0usize..4096, blank in any::<bool>()) {
            struct Counting<'a>(&'a [u8], usize);
            impl Read for Counting<'_> {
                fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                    let n = self.0.read(buf)?;
                    self.1 += n;
                    Ok(n)
                }
            }
            let mut input = b"user=".to_vec();
            input.extend(std::iter::repeat_n(b'a', MAX_REQUEST - 6 + extra));
            input.push(b'\n');
            if blank {
                input.extend_from_slice(b"\nmore=1\n");
            }
            let mut reader = Counting(&input, 0);
            let got = read_pairs(&mut reader);
            prop_assert!(reader.1 <= MAX_REQUEST + 1, "read {} bytes", reader.1);
            if extra == 0 && !blank {
                // Exactly MAX_REQUEST bytes: accepted. (The ending blank line
                // counts too, so with it the same request is one byte over.)
                prop_assert_eq!(got.map(|p| p.len()).ok(), Some(1));
            } else {
                let e = got.unwrap_err();
                prop_assert!(e.message.contains("larger than"), "{}", e.message);
            }
        }
    }
}
