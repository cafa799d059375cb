//! The grants, one request each: refresh (RFC 6749 §6), device
//! authorization and its polls (RFC 8628 §3.1, §3.4), and the exchange of
//! an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.5); and the parser
//! that turns a token endpoint's answer into tokens or a typed error.

use super::errors::error_reply;
use super::http::{Http, Reply, Retry, host_of};
use crate::error::{Code, Error, Result, one_line};
use crate::secret::Secret;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// A token endpoint's successful answer.
#[derive(Clone)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: Secret,
    pub(crate) token_type: String,
    pub(crate) expires_in: u64,
    pub(crate) scope: Option<String>,
    pub(crate) refresh_token: Option<Secret>,
    /// The account named in the id_token, when there was one.
    pub(crate) id_user: Option<String>,
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
) -> Result<TokenResponse> {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.expose()),
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
        return Err(error_reply(reply.status, &reply.body, host));
    }
    let obj = json_object(reply, host)?;
    let bad = |why: &str| {
        Error::new(
            Code::BadResponse,
            format!("the token answer of {host} {why}"),
        )
    };
    let access_token = access_token(&obj).map_err(bad)?;
    let expires_in = expires_in(&obj).map_err(bad)?;
    let token_type = obj
        .get("token_type")
        .and_then(Value::as_str)
        .unwrap_or("Bearer");
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err(bad(&format!(
            "has token_type '{}', not Bearer",
            one_line(token_type)
        )));
    }
    let refresh_token = refresh_token(&obj).map_err(bad)?;
    let scope = obj.get("scope").and_then(Value::as_str).map(one_line);
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

/// The `access_token`: visible ASCII only, as the wire protocol and the
/// SASL strings carry it on one line.
fn access_token(obj: &Map<String, Value>) -> std::result::Result<Secret, &'static str> {
    match obj.get("access_token") {
        Some(Value::String(s))
            if !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b)) =>
        {
            Ok(Secret::from(s.as_str()))
        }
        Some(_) => Err("has an access_token that is not a token"),
        None => Err("has no access_token"),
    }
}

fn expires_in(obj: &Map<String, Value>) -> std::result::Result<u64, &'static str> {
    match obj.get("expires_in") {
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or("has an expires_in that is not a whole number of seconds"),
        Some(_) => Err("has an expires_in that is not a number"),
        None => Err("has no expires_in"),
    }
}

/// The rotated `refresh_token`, if one came: printable ASCII only, as the
/// store and the wire protocol carry it on one line.
fn refresh_token(obj: &Map<String, Value>) -> std::result::Result<Option<Secret>, &'static str> {
    match obj.get("refresh_token") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s))
            if !s.is_empty() && s.bytes().all(|b| (0x20..=0x7e).contains(&b)) =>
        {
            Ok(Some(Secret::from(s.as_str())))
        }
        Some(_) => Err("has a refresh_token that is not a token"),
    }
}

/// The account an id_token names. It came straight from the token endpoint
/// over TLS, so its signature is not checked (OpenID Connect Core §3.1.3.7).
fn id_token_user(jwt: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    ["preferred_username", "email", "upn", "unique_name"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .filter(|u| !u.is_empty() && !u.chars().any(|c| c.is_control() || c.is_whitespace()))
        .map(str::to_string)
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
    fn token_answers() {
        let ok = token_reply(
            &reply(200, r#"{"access_token":"at","expires_in":3599,"token_type":"Bearer","refresh_token":"rt"}"#),
            "h",
        )
        .unwrap();
        assert_eq!(ok.access_token.expose(), "at");
        assert_eq!(ok.expires_in, 3599);
        assert_eq!(ok.refresh_token.as_ref().map(Secret::expose), Some("rt"));
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
    fn tokens_and_codes_stay_out_of_debug_output() {
        let tok = token_reply(
            &reply(
                200,
                r#"{"access_token":"AT-SECRET","expires_in":1,"refresh_token":"RT-SECRET"}"#,
            ),
            "h",
        )
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
            id_token_user(&format!("e30.{payload}.")).as_deref(),
            Some("Me@Example.com")
        );
        assert_eq!(id_token_user("garbage"), None);
    }
}
