//! Secrets out of what ooauth2 shows or stores of an exchange: a form's
//! secret fields by their length in the `-vv` log, and every secret a
//! request sent, wherever its answer echoes it back (some providers quote
//! the request in `error_description`, others in members of their own).
//! The answer is cleaned where it is read, before the log, the error
//! classification, the parser or the store see it.

use serde_json::Value;

/// Form fields and JSON members whose values are secrets: shown at `-vv`
/// only by length.
pub(super) const SECRET_FIELDS: &[&str] = &[
    "client_secret",
    "refresh_token",
    "code",
    "code_verifier",
    "device_code",
    "access_token",
    "id_token",
    "client_assertion",
];

/// Members of a 200 answer that carry tokens: left as they are, since a
/// provider that does not rotate may hand back the refresh token it was sent.
const TOKEN_MEMBERS: &[&str] = &["access_token", "refresh_token", "id_token"];

/// Secrets shorter than this are not looked for in answers: replacing a few
/// common characters would mangle the answer (its `error` code included),
/// and real secrets, tokens and codes are far longer.
const MIN_ECHOED: usize = 8;

/// How a secret is shown: by its length.
pub(super) fn by_length(value: &str) -> String {
    format!("<{} bytes, not shown>", value.len())
}

/// A form value as the log shows it: a secret field by its length.
pub(super) fn field(key: &str, value: &str) -> String {
    if SECRET_FIELDS.contains(&key) {
        by_length(value)
    } else {
        value.to_string()
    }
}

/// The secrets one request sent, each with the forms an echo may take (as
/// sent, form-encoded, percent-encoded) and what replaces them.
#[derive(Default)]
pub(super) struct Sent {
    /// (text to find, its replacement), longest first.
    echoes: Vec<(String, String)>,
}

impl Sent {
    /// The secrets of `form`.
    pub(super) fn of(form: &[(&str, &str)]) -> Sent {
        let mut echoes = Vec::new();
        for (k, v) in form {
            if !SECRET_FIELDS.contains(k) || v.len() < MIN_ECHOED {
                continue;
            }
            for shape in encodings(v) {
                if !echoes.iter().any(|(s, _)| *s == shape) {
                    echoes.push((shape, by_length(v)));
                }
            }
        }
        // A longer form first, so no shorter one leaves a piece of it.
        echoes.sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
        Sent { echoes }
    }

    /// `body` with every echo replaced: in each JSON text (member names
    /// included) but a 200 answer's own tokens; in a body that is not JSON,
    /// throughout. An answer without an echo is kept byte for byte.
    pub(super) fn scrub(&self, status: u16, body: Vec<u8>) -> Vec<u8> {
        if self.echoes.is_empty() {
            return body;
        }
        let Ok(mut v) = serde_json::from_slice::<Value>(&body) else {
            return self.scrub_bytes(body);
        };
        let changed = match &mut v {
            Value::Object(members) if status == 200 => {
                let taken = std::mem::take(members);
                let mut changed = false;
                for (k, mut member) in taken {
                    let keep = TOKEN_MEMBERS.contains(&k.as_str());
                    changed |= !keep && self.scrub_value(&mut member);
                    let k = if keep {
                        k
                    } else {
                        self.scrub_key(k, &mut changed)
                    };
                    members.insert(k, member);
                }
                changed
            }
            other => self.scrub_value(other),
        };
        if changed {
            serde_json::to_vec(&v).unwrap_or_default()
        } else {
            body
        }
    }

    /// Replaces the echoes in every string of `v`; true if one was found.
    fn scrub_value(&self, v: &mut Value) -> bool {
        match v {
            Value::String(s) => self.scrub_text(s),
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |found, item| self.scrub_value(item) | found),
            Value::Object(members) => {
                let mut changed = false;
                for (k, mut member) in std::mem::take(members) {
                    changed |= self.scrub_value(&mut member);
                    let k = self.scrub_key(k, &mut changed);
                    members.insert(k, member);
                }
                changed
            }
            _ => false,
        }
    }

    /// A member name with the echoes replaced; sets `changed` if one was.
    fn scrub_key(&self, mut k: String, changed: &mut bool) -> String {
        *changed |= self.scrub_text(&mut k);
        k
    }

    /// Replaces the echoes in `s`; true if one was found.
    fn scrub_text(&self, s: &mut String) -> bool {
        let mut found = false;
        for (echo, shown) in &self.echoes {
            if s.contains(echo.as_str()) {
                *s = s.replace(echo.as_str(), shown);
                found = true;
            }
        }
        found
    }

    /// A body that is not JSON, replaced as (lossy) text if it holds an echo.
    fn scrub_bytes(&self, body: Vec<u8>) -> Vec<u8> {
        let mut text = String::from_utf8_lossy(&body).into_owned();
        if self.scrub_text(&mut text) {
            text.into_bytes()
        } else {
            body
        }
    }
}

/// `value` as sent and as an echo may encode it: form-encoded as ooauth2
/// sends it, percent-encoded as RFC 3986 has it, each with upper- and
/// lower-case hex digits.
fn encodings(value: &str) -> Vec<String> {
    let form = super::http::form_component(value);
    let rfc3986 = percent_encode(value);
    let mut out = vec![value.to_string()];
    for e in [form, rfc3986] {
        let lower = lower_hex(&e);
        out.extend([e, lower]);
    }
    out.sort();
    out.dedup();
    out
}

/// RFC 3986 percent-encoding: every byte but the unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `%2F` as `%2f`: the hex digits after each `%` in lower case.
fn lower_hex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut hex_left = 0;
    for c in s.chars() {
        if hex_left > 0 {
            out.push(c.to_ascii_lowercase());
            hex_left -= 1;
        } else {
            out.push(c);
            if c == '%' {
                hex_left = 2;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RT: &str = "0.AXo/rt+x=y~z*!";

    fn sent() -> Sent {
        Sent::of(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", RT),
            ("client_secret", "short"),
        ])
    }

    fn scrubbed(status: u16, body: &str) -> String {
        String::from_utf8(sent().scrub(status, body.as_bytes().to_vec())).unwrap()
    }

    #[test]
    fn echoes_are_replaced_as_sent_and_encoded() {
        let shown = by_length(RT);
        for echo in [
            RT.to_string(),
            super::super::http::form_component(RT),
            percent_encode(RT),
            lower_hex(&percent_encode(RT)),
        ] {
            let body = serde_json::json!({"error": "invalid_grant", "error_description": format!("bad {echo}.")});
            let got: Value = serde_json::from_str(&scrubbed(400, &body.to_string())).unwrap();
            assert_eq!(got["error_description"], format!("bad {shown}."), "{echo}");
            assert_eq!(got["error"], "invalid_grant");
        }
        assert_eq!(
            scrubbed(400, &format!("<p>{RT}</p>")),
            format!("<p>{shown}</p>")
        );
    }

    #[test]
    fn a_200_answer_keeps_its_tokens_and_an_answer_without_echo_its_bytes() {
        let body = format!(r#"{{"refresh_token":"{RT}","echo":["{RT}"],"{RT}":1}}"#);
        let got: Value = serde_json::from_str(&scrubbed(200, &body)).unwrap();
        assert_eq!(got["refresh_token"], RT);
        assert_eq!(got["echo"][0], by_length(RT));
        assert_eq!(got[by_length(RT).as_str()], 1);
        let plain = r#"{"b":1, "a":"short"}"#;
        assert_eq!(scrubbed(400, plain), plain);
        assert!(Sent::default().echoes.is_empty());
    }

    #[test]
    fn hex_is_lowered_only_after_percent() {
        assert_eq!(lower_hex("AB%2FCD%3D"), "AB%2fCD%3d");
    }
}
