//! Errors shaped as Microsoft's: an AADSTS number in the description and in
//! `error_codes`, with trace and correlation ids and a timestamp, so that a
//! client's parsing of real answers is what the tests exercise.

use serde_json::json;

use crate::http::{Response, json_response};
use crate::state::State;
use crate::time::{ms_time, unix_now};

impl State {
    /// A Microsoft-shaped error: `text` gets its `AADSTS{code}: ` prefix.
    pub(crate) fn error(&mut self, status: u16, error: &str, code: u32, text: &str) -> Response {
        self.error_raw(status, error, code, &format!("AADSTS{code}: {text}"))
    }

    /// A Microsoft-shaped error with `description` as given.
    pub(crate) fn error_raw(
        &mut self,
        status: u16,
        error: &str,
        code: u32,
        description: &str,
    ) -> Response {
        let trace = self.rng.uuid();
        let corr = self.rng.uuid();
        let ts = ms_time(unix_now());
        let body = json!({
            "error": error,
            "error_description": format!(
                "{description}\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\nTimestamp: {ts}"
            ),
            "error_codes": [code],
            "timestamp": ts,
            "trace_id": trace,
            "correlation_id": corr,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        });
        json_response(status, &body)
    }

    /// AADSTS900144, as Microsoft answers a missing or empty parameter.
    pub(crate) fn missing_param(&mut self, name: &str) -> Response {
        self.error(
            400,
            "invalid_request",
            900144,
            &format!("The request body must contain the following parameter: '{name}'."),
        )
    }
}
