//! The answers of queued [`Fault`]s that still answer: error statuses, rate
//! limits, broken JSON, a captive portal's page, a redirect, and token
//! answers with a field removed or mistyped. Faults that act on the
//! connection itself are in `server.rs`.

use serde_json::Value;

use crate::Fault;
use crate::http::{Response, html_response};
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
            | Fault::Rewrite(_)
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

/// Applies a body-altering fault to a JSON answer.
pub(crate) fn mutate(mut r: Response, f: &Fault) -> Response {
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
        Fault::Rewrite(fields) => {
            for (k, v) in fields {
                match v {
                    Some(v) => obj.insert(k.clone(), v.clone()),
                    None => obj.remove(k),
                };
            }
        }
        _ => {}
    }
    r.body = Value::Object(obj).to_string().into_bytes();
    r
}
