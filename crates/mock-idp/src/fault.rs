//! The answers of queued [`Fault`]s that still answer: error statuses, rate
//! limits, broken JSON, a captive portal's page, a redirect, and answers
//! with a field removed, mistyped or patched, or echoing the request.
//! Faults that act on the connection itself are in `server.rs`.

use serde_json::Value;

use crate::Fault;
use crate::http::{Request, Response, form_get, html_response, percent_encode};
use crate::state::State;

/// What a captive portal or proxy login page answers instead of JSON.
const PORTAL_HTML: &str = "<!DOCTYPE html><html><head><title>Sign in to the network</title></head>\
<body><h1>Hotel Wi-Fi</h1><p>Please accept the terms of use to continue.</p>\
<form method=\"post\"><button>Accept</button></form></body></html>\n";

impl State {
    /// The answer `f` puts in place of the endpoint's.
    pub(crate) fn fault_response(&mut self, f: &Fault) -> Response {
        match f {
            Fault::Status(s) => self.status_fault(*s),
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
            Fault::Html => html_response(200, Vec::new(), PORTAL_HTML),
            Fault::Redirect(url) => html_response(
                302,
                vec![("Location".to_string(), url.clone())],
                &format!("<html><body>Object moved to <a href=\"{url}\">here</a>.</body></html>"),
            ),
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
                self.error_raw(*status, error, *code, &description)
            }
            // Handled by the connection thread; answer something sane anyway.
            Fault::MissingAccessToken
            | Fault::MissingExpiresIn
            | Fault::ExpiresInString
            | Fault::Patch(_)
            | Fault::Echo(_)
            | Fault::Huge(_)
            | Fault::NeverAnswer
            | Fault::CloseWithoutAnswer => self.error(500, "server_error", 50000, "mock idp"),
        }
    }

    /// `status` with the error Microsoft gives with it.
    fn status_fault(&mut self, status: u16) -> Response {
        let (error, code, text) = match status {
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
        self.error(status, error, code, text)
    }
}

/// Applies a body-altering fault to the JSON answer to `req`.
pub(crate) fn mutate(mut r: Response, f: &Fault, req: &Request) -> Response {
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
        Fault::Patch(Value::Object(members)) => {
            obj.extend(members.clone());
        }
        Fault::Echo(param) => echo(&mut obj, r.status, param, req),
        _ => {}
    }
    r.body = Value::Object(obj).to_string().into_bytes();
    r
}

/// Puts the request's `param` back into the answer, as sent and encoded.
fn echo(obj: &mut serde_json::Map<String, Value>, status: u16, param: &str, req: &Request) {
    let sent = form_get(&req.form, param).unwrap_or_default();
    let said = format!("{param}={sent} (sent as {param}={})", percent_encode(sent));
    if status == 200 {
        obj.insert("request_echo".to_string(), Value::String(said));
        return;
    }
    let description = obj
        .get("error_description")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // Microsoft's trace lines follow the first line: the echo goes before them.
    let echoed = match description.split_once("\r\n") {
        Some((first, rest)) => format!("{first} Request: {said}\r\n{rest}"),
        None => format!("{description} Request: {said}"),
    };
    obj.insert("error_description".to_string(), Value::String(echoed));
}
