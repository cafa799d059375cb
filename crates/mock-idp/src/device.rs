//! The device authorization endpoint (RFC 8628): a device code and a user
//! code, scripted by [`crate::DeviceScript`] when the token endpoint is
//! polled, and the page the user would open.

use std::time::Instant;

use serde_json::json;

use crate::DeviceOutcome;
use crate::http::{Request, Response, form_get_nonempty, json_response};
use crate::ids::{URL_SAFE_CHARS, USER_CODE_CHARS};
use crate::state::{DeviceEntry, State};

/// `/devicelogin`: there is nothing to enter at the mock.
pub(crate) const DEVICELOGIN_HTML: &str = "<!DOCTYPE html><html><head><title>Mock device login</title></head>\
<body><h1>Mock Microsoft device login</h1><p>This is a mock identity platform. There is nothing \
to enter: device codes are approved (or declined) automatically after the configured number of \
polls.</p></body></html>\n";

impl State {
    /// `POST /{tenant}/oauth2/v2.0/devicecode`.
    pub(crate) fn devicecode(&mut self, authority: &str, req: &Request) -> Response {
        let form = &req.form;
        if let Some(r) = self.registration_refusal(req, false) {
            return r;
        }
        let Some(client_id) = form_get_nonempty(form, "client_id") else {
            return self.missing_param("client_id");
        };
        let Some(scope) = form_get_nonempty(form, "scope") else {
            return self.missing_param("scope");
        };
        let mut script = self.device_script.clone();
        if self.take_decline() {
            script.outcome = DeviceOutcome::Decline;
        }
        let user_code = self.rng.string(8, USER_CODE_CHARS);
        let device_code = format!("DAQABIQEAAAB{}", self.rng.string(110, URL_SAFE_CHARS));
        self.devices.insert(
            device_code.clone(),
            DeviceEntry {
                client_id: client_id.to_string(),
                scope: scope.to_string(),
                created: Instant::now(),
                expires_in: self.device_expires_in,
                script,
                polls: 0,
                consumed: false,
            },
        );
        let uri = format!("{authority}/devicelogin");
        let mut answer = json!({
            "user_code": user_code,
            "device_code": device_code,
            "verification_uri": uri,
            "expires_in": self.device_expires_in,
            "interval": self.device_interval,
            "message": format!(
                "To sign in, use a web browser to open the page {uri} and enter the code \
                 {user_code} to authenticate."
            ),
        });
        if self.device_uri_complete {
            answer["verification_uri_complete"] = json!(format!("{uri}?otc={user_code}"));
        }
        json_response(200, &answer)
    }
}
