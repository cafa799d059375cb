//! The grants, one request each: refresh (RFC 6749 §6), device
//! authorization and its polls (RFC 8628 §3.1, §3.4), and the exchange of
//! an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.5); and the parser
//! that turns a token endpoint's answer into tokens or a typed error.

use super::errors::error_reply;
use super::http::{Http, Reply, Retry, host_of};
use crate::error::{Code, Error, Result, one_line};
use crate::secret::{Secret, printable_ascii};
use crate::signals::{self, Held};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// A token endpoint's successful answer.
pub(crate) struct TokenResponse {
    pub(crate) access_token: Secret,
    pub(crate) token_type: String,
    pub(crate) expires_in: u64,
    pub(crate) scope: Option<String>,
    pub(crate) refresh_token: Option<Secret>,
    /// Seconds the refresh token lives whatever its use, when the provider
    /// says so (Google's `refresh_token_expires_in`, time-limited grants).
    pub(crate) refresh_token_expires_in: Option<u64>,
    /// The account named in the id_token, when there was one.
    pub(crate) id_user: Option<String>,
    /// Termination signals wait while the answer is not yet stored.
    held: Option<Held>,
}

/// The lifetime assumed for an access token whose answer gives none
/// (RFC 6749 §5.1 leaves it to the provider; an hour is what the
/// providers ooauth2 knows grant).
pub(crate) const DEFAULT_EXPIRES_IN: u64 = 3600;

/// A token endpoint's 200 answer: the refresh token it carries, apart, so
/// that nothing else wrong with the answer can lose it (the one it replaces
/// may be spent already), and the tokens, or why they cannot be used.
pub(crate) struct Granted {
    /// A new refresh token, whatever else the answer holds.
    pub(crate) refresh_token: Option<Secret>,
    /// The answer's tokens, or what is wrong with them.
    pub(crate) tokens: Result<TokenResponse>,
    /// Termination signals wait until the answer is stored.
    pub(crate) held: Held,
}

impl Granted {
    /// The tokens, holding the signals until they are dropped: for a
    /// sign-in, which stores nothing without them.
    pub(crate) fn into_tokens(self) -> Result<TokenResponse> {
        let Granted { tokens, held, .. } = self;
        tokens.map(|mut t| {
            t.held = Some(held);
            t
        })
    }
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("refresh_token_expires_in", &self.refresh_token_expires_in)
            .field("id_user", &self.id_user)
            .finish_non_exhaustive()
    }
}

/// A device authorization answer (RFC 8628 §3.2).
#[derive(Debug, Clone)]
pub struct DeviceAuth {
    /// The code this process polls with; never shown.
    pub device_code: Secret,
    /// The code the user enters on the page.
    pub user_code: String,
    /// The page where the user enters the code.
    pub verification_uri: String,
    /// The page with the user code filled in (RFC 8628 §3.3.1), when the
    /// provider gives one; only an http(s) URL is kept.
    pub verification_uri_complete: Option<String>,
    /// Seconds until the codes expire.
    pub expires_in: u64,
    /// Seconds to wait between polls.
    pub interval: u64,
    /// The provider's localised instructions, when it sends them.
    pub message: Option<String>,
}

/// The client credentials sent with every grant.
pub(crate) struct Client<'a> {
    pub(crate) id: &'a str,
    pub(crate) secret: Option<&'a Secret>,
}

impl Client<'_> {
    fn form<'a>(&'a self, form: &mut Vec<(&'a str, &'a str)>) {
        form.push(("client_id", self.id));
        if let Some(s) = self.secret {
            form.push(("client_secret", s.expose()));
        }
    }
}

/// RFC 6749 §6: a new access token (and maybe a rotated refresh token).
pub(crate) fn refresh(
    http: &Http,
    token_url: &str,
    client: &Client,
    refresh_token: &Secret,
    scope: &str,
) -> Result<Granted> {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.expose()),
        // Microsoft answers AADSTS900144 in practice when the scope is left out.
        ("scope", scope),
    ];
    client.form(&mut form);
    // From here the provider may rotate the refresh token: its answer must
    // reach the store before the process ends.
    let held = signals::hold();
    let reply = http.post_form(
        token_url,
        "grant_type=refresh_token",
        &form,
        Retry::Idempotent,
    )?;
    token_reply(&reply, &host_of(token_url), held)
}

/// What one poll of the token endpoint during a device flow said.
pub(crate) enum Poll {
    Pending,
    SlowDown,
    Done(Box<TokenResponse>),
}

/// RFC 8628 §3.1: asks for a device code.
pub(crate) fn start_device(
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
        return Err(error_reply(reply.status, &reply.body, &host));
    }
    let obj = json_object(&reply, &host)?;
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
    let missing = |k: &str| {
        Error::new(
            Code::BadResponse,
            format!("the device authorization answer of {host} has no {k}"),
        )
    };
    let device_code = obj
        .get("device_code")
        .and_then(Value::as_str)
        .map(Secret::from)
        .ok_or_else(|| missing("device_code"))?;
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
        message: text("message").map(|m| one_line(&m)),
    })
}

/// RFC 8628 §3.4: one poll of the token endpoint.
pub(crate) fn poll_device(
    http: &Http,
    token_url: &str,
    client: &Client,
    device_code: &Secret,
) -> Result<Poll> {
    let mut form = vec![
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", device_code.expose()),
    ];
    client.form(&mut form);
    let held = signals::hold();
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
    token_reply(&reply, &host, held)
        .and_then(Granted::into_tokens)
        .map(|t| Poll::Done(Box::new(t)))
}

/// RFC 6749 §4.1.3 with RFC 7636 §4.5: trades a checked authorization code
/// for tokens, proving with the verifier that this process asked for it.
/// `scope` is repeated only where the provider wants it (Microsoft).
pub(crate) fn exchange_code(
    http: &Http,
    token_url: &str,
    client: &Client,
    code: &Secret,
    verifier: &Secret,
    redirect_uri: &str,
    scope: Option<&str>,
) -> Result<TokenResponse> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.expose()),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier.expose()),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    client.form(&mut form);
    let held = signals::hold();
    let reply = http.post_form(
        token_url,
        "grant_type=authorization_code",
        &form,
        Retry::ConnectOnly,
    )?;
    let granted = token_reply(&reply, &host_of(token_url), held);
    granted.and_then(Granted::into_tokens).map_err(|e| {
        if e.code.is_transient() {
            e.hint("an authorization code works only once: sign in again when the provider is back")
        } else {
            e
        }
    })
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

/// Parses a token endpoint answer: a typed error unless it is 200; then
/// the refresh token, kept apart, and the rest judged.
fn token_reply(reply: &Reply, host: &str, held: Held) -> Result<Granted> {
    if reply.status != 200 {
        return Err(error_reply(reply.status, &reply.body, host));
    }
    let obj = json_object(reply, host)?;
    let bad = |why: &str| {
        Error::new(
            Code::BadResponse,
            format!("the token answer of {host} {why}"),
        )
    };
    let refresh_token = match refresh_token(&obj) {
        Ok(rt) => rt,
        Err(why) => {
            return Ok(Granted {
                refresh_token: None,
                tokens: Err(bad(why)),
                held,
            });
        }
    };
    let tokens = tokens(&obj, refresh_token.clone()).map_err(|why| bad(&why));
    Ok(Granted {
        refresh_token,
        tokens,
        held,
    })
}

/// The tokens of an answer whose refresh token (if any) is `refresh_token`.
fn tokens(
    obj: &Map<String, Value>,
    refresh_token: Option<Secret>,
) -> std::result::Result<TokenResponse, String> {
    let access_token = access_token(obj)?;
    let expires_in = expires_in(obj)?;
    let token_type = obj
        .get("token_type")
        .and_then(Value::as_str)
        .unwrap_or("Bearer");
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err(format!(
            "has token_type '{}', not Bearer",
            one_line(token_type)
        ));
    }
    let id_user = match obj.get("id_token").and_then(Value::as_str) {
        Some(jwt) => id_token_user(jwt)?,
        None => None,
    };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: expires_in.min(366 * 86_400),
        scope: obj
            .get("scope")
            .and_then(Value::as_str)
            .and_then(granted_scope),
        refresh_token,
        refresh_token_expires_in: refresh_token_expires_in(obj),
        id_user,
        held: None,
    })
}

/// The `access_token`: visible ASCII only, as the wire protocol and the
/// SASL strings carry it on one line.
fn access_token(obj: &Map<String, Value>) -> std::result::Result<Secret, String> {
    match obj.get("access_token") {
        Some(Value::String(s))
            if !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b)) =>
        {
            Ok(Secret::from(s.as_str()))
        }
        Some(_) => Err("has an access_token that is not a token".into()),
        None => Err("has no access_token".into()),
    }
}

/// `refresh_token_expires_in` in whole seconds, when it is a number (or a
/// number in a string); anything else says nothing, as if it were absent:
/// it only informs `status` and never decides a grant.
fn refresh_token_expires_in(obj: &Map<String, Value>) -> Option<u64> {
    let seconds = match obj.get("refresh_token_expires_in")? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }?;
    (seconds.is_finite() && seconds >= 0.0).then(|| (seconds as u64).min(10 * 366 * 86_400))
}

/// `expires_in` in whole seconds: a number (a fraction is cut), or a
/// number in a string (Azure AD v1 sends `"3600"`); none at all means
/// [`DEFAULT_EXPIRES_IN`]. A negative or unreadable one is refused.
fn expires_in(obj: &Map<String, Value>) -> std::result::Result<u64, String> {
    let seconds = match obj.get("expires_in") {
        None | Some(Value::Null) => return Ok(DEFAULT_EXPIRES_IN),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    match seconds {
        Some(s) if s.is_finite() && s >= 0.0 => Ok(s as u64),
        Some(s) if s < 0.0 => Err("has a negative expires_in".into()),
        _ => Err("has an expires_in that is not a number of seconds".into()),
    }
}

/// The scope the provider granted, whole (the reply's size bounds it), if
/// it is scope tokens (RFC 6749 §3.3); anything else is ignored, and the
/// scope asked for stands.
fn granted_scope(scope: &str) -> Option<String> {
    let tokens: Vec<&str> = scope.split(' ').filter(|t| !t.is_empty()).collect();
    let valid = |t: &&str| {
        t.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
    };
    (!tokens.is_empty() && tokens.iter().all(valid)).then(|| tokens.join(" "))
}

/// The rotated `refresh_token`, if one came: printable ASCII only, as the
/// store and the wire protocol carry it on one line.
fn refresh_token(obj: &Map<String, Value>) -> std::result::Result<Option<Secret>, &'static str> {
    match obj.get("refresh_token") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() && printable_ascii(s.as_bytes()) => {
            Ok(Some(Secret::from(s.as_str())))
        }
        Some(_) => Err("has a refresh_token that is not a token"),
    }
}

/// The most bytes a provider's name for an account may have (RFC 5321's
/// limit on a mail path, as `user` is checked in a request).
const MAX_USER: usize = 320;

/// The account an id_token names, if it names one. It came straight from
/// the token endpoint over TLS, so its signature is not checked (OpenID
/// Connect Core §3.1.3.7). A name a request could not carry as `user`
/// (spaces, control characters, over 320 bytes) is refused: it would be
/// stored, shown and put into commands.
fn id_token_user(jwt: &str) -> std::result::Result<Option<String>, String> {
    let claims = jwt
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p.trim_end_matches('=')).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    let Some(claims) = claims else {
        return Ok(None);
    };
    let name = ["preferred_username", "email", "upn", "unique_name"]
        .iter()
        .find_map(|k| claims.get(*k).and_then(Value::as_str))
        .filter(|u| !u.is_empty());
    match name {
        None => Ok(None),
        Some(u) if u.len() > MAX_USER => Err(format!(
            "names the account with {} bytes (at most {MAX_USER})",
            u.len()
        )),
        Some(u) if u.chars().any(|c| c.is_control() || c.is_whitespace()) => {
            Err("names the account with spaces or control characters".into())
        }
        Some(u) => Ok(Some(u.to_string())),
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

    /// The answer to `body` with status 200: its refresh token and tokens.
    fn granted(body: &str) -> Granted {
        token_reply(&reply(200, body), "h", signals::hold()).unwrap()
    }

    #[test]
    fn token_answers() {
        let ok = granted(
            r#"{"access_token":"at","expires_in":3599,"token_type":"Bearer","refresh_token":"rt"}"#,
        );
        assert_eq!(ok.refresh_token.as_ref().map(Secret::expose), Some("rt"));
        let ok = ok.into_tokens().unwrap();
        assert_eq!(ok.access_token.expose(), "at");
        assert_eq!(ok.expires_in, 3599);
        assert_eq!(ok.refresh_token.as_ref().map(Secret::expose), Some("rt"));
        for body in [r#"[1]"#, "<html>"] {
            let e = token_reply(&reply(200, body), "h", signals::hold()).err();
            assert_eq!(e.map(|e| e.code), Some(Code::BadResponse), "{body}");
        }
    }

    #[test]
    fn harmless_variants_are_accepted() {
        for (body, want) in [
            (r#"{"access_token":"at","expires_in":"3600"}"#, 3600),
            (r#"{"access_token":"at","expires_in":" 59 "}"#, 59),
            (r#"{"access_token":"at","expires_in":3599.7}"#, 3599),
            (r#"{"access_token":"at"}"#, DEFAULT_EXPIRES_IN),
            (
                r#"{"access_token":"at","expires_in":null}"#,
                DEFAULT_EXPIRES_IN,
            ),
            (
                r#"{"access_token":"at","expires_in":99999999999}"#,
                366 * 86_400,
            ),
        ] {
            let tok = granted(body).into_tokens();
            assert_eq!(tok.map(|t| t.expires_in).ok(), Some(want), "{body}");
        }
    }

    #[test]
    fn a_refresh_token_is_kept_whatever_else_is_wrong() {
        let payload = URL_SAFE_NO_PAD.encode(format!(r#"{{"upn":"{}"}}"#, "x".repeat(321)));
        for (body, why) in [
            (
                r#"{"expires_in":1,"refresh_token":"rt2"}"#.to_string(),
                "has no access_token",
            ),
            (
                r#"{"access_token":"a b","refresh_token":"rt2"}"#.into(),
                "not a token",
            ),
            (
                r#"{"access_token":"at","expires_in":-5,"refresh_token":"rt2"}"#.into(),
                "negative",
            ),
            (
                r#"{"access_token":"at","expires_in":"soon","refresh_token":"rt2"}"#.into(),
                "not a number",
            ),
            (
                r#"{"access_token":"at","token_type":"mac","refresh_token":"rt2"}"#.into(),
                "not Bearer",
            ),
            (
                format!(
                    r#"{{"access_token":"at","id_token":"e30.{payload}.","refresh_token":"rt2"}}"#
                ),
                "at most 320",
            ),
        ] {
            let g = granted(&body);
            assert_eq!(
                g.refresh_token.as_ref().map(Secret::expose),
                Some("rt2"),
                "{body}"
            );
            let e = g.tokens.err().unwrap_or_else(|| panic!("accepted {body}"));
            assert_eq!(e.code, Code::BadResponse);
            assert!(e.message.contains(why), "{body}: {}", e.message);
        }
    }

    #[test]
    fn a_granted_scope_is_kept_whole() {
        let long = (0..200)
            .map(|i| format!("https://x.example/s{i}"))
            .collect::<Vec<_>>();
        let body = format!(r#"{{"access_token":"at","scope":"{}"}}"#, long.join(" "));
        let tok = granted(&body).into_tokens().unwrap();
        assert_eq!(tok.scope.as_deref(), Some(long.join(" ").as_str()));
        let odd = granted(r#"{"access_token":"at","scope":"a\u2028access_token=x"}"#);
        assert_eq!(odd.into_tokens().unwrap().scope, None);
    }

    #[test]
    fn oauth_errors_are_classified_with_hints() {
        let e = token_reply(
            &reply(400, "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS700082: expired.\\r\\nTrace ID: x\",\"error_codes\":[700082]}"),
            "h",
            signals::hold(),
        )
        .err()
        .unwrap();
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
            signals::hold(),
        )
        .err()
        .unwrap();
        assert_eq!(e.code, Code::InvalidClient);
        assert!(e.hint.unwrap().contains("public client"));
        let e = token_reply(&reply(503, "oops"), "h", signals::hold()).err();
        assert_eq!(e.map(|e| e.code), Some(Code::ServerError));
    }

    #[test]
    fn tokens_and_codes_stay_out_of_debug_output() {
        let tok =
            granted(r#"{"access_token":"AT-SECRET","expires_in":1,"refresh_token":"RT-SECRET"}"#)
                .into_tokens()
                .unwrap();
        let auth = DeviceAuth {
            device_code: Secret::new("DC-SECRET"),
            user_code: "ABCD".into(),
            verification_uri: "https://example.com/device".into(),
            verification_uri_complete: None,
            expires_in: 900,
            interval: 5,
            message: None,
        };
        let shown = format!("{tok:?} {auth:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
    }

    #[test]
    fn id_token_names_the_user() {
        let payload = URL_SAFE_NO_PAD.encode(r#"{"preferred_username":"Me@Example.com"}"#);
        assert_eq!(
            id_token_user(&format!("e30.{payload}.")),
            Ok(Some("Me@Example.com".to_string()))
        );
        assert_eq!(id_token_user("garbage"), Ok(None));
        let odd = URL_SAFE_NO_PAD.encode(r#"{"email":"x@y.z;touch$IFS/tmp/PWNED;#"}"#);
        assert_eq!(
            id_token_user(&format!("e30.{odd}.")),
            Ok(Some("x@y.z;touch$IFS/tmp/PWNED;#".to_string())),
            "quoted where it is shown in a command, not refused"
        );
    }
}
