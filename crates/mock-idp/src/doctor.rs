//! What `ooauth2 doctor` is tested against (tests/diagnose.rs): the
//! provider's clock in the `Date` header, app registration refusals as
//! Microsoft words them, and Google's refusal of a Testing app's week-old
//! refresh token.

use std::collections::HashSet;

use serde_json::json;

use crate::MockIdp;
use crate::http::{Request, Response, form_get, json_response};
use crate::route::{Flavor, Route};
use crate::state::State;
use crate::time::{http_date, unix_now};

/// An app registration problem the mock plays, answered as Microsoft does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Registration {
    /// No problem.
    #[default]
    Fine,
    /// "Allow public client flows" is off: the device authorization works,
    /// but every token request without a client secret gets 401
    /// `invalid_client` AADSTS7000218.
    NoPublicClientFlows,
    /// No app with this client id in the tenant: 400 `unauthorized_client`
    /// AADSTS700016 at the devicecode and token endpoints.
    AppNotFound,
    /// A personal account: a scope on outlook.office365.com is refused with
    /// 400 `invalid_scope` AADSTS70011 wherever a scope is sent.
    PersonalAccountScopes,
}

/// The doctor modes of the mock's state.
#[derive(Default)]
pub(crate) struct DoctorModes {
    /// Seconds added to the clock of the `Date` header.
    pub(crate) date_offset: i64,
    registration: Registration,
    /// Refresh tokens that Google refuses as a Testing app's expired ones.
    google_expired: HashSet<String>,
}

impl MockIdp {
    /// Every answer's `Date` header runs `secs` ahead of the real clock
    /// (behind when negative), default 0.
    pub fn set_date_offset(&self, secs: i64) {
        self.lock().doctor.date_offset = secs;
    }

    /// The app registration problem played from now on.
    pub fn set_registration(&self, r: Registration) {
        self.lock().doctor.registration = r;
    }

    /// Google's paths refuse `rt` from now on as Google refuses a Testing
    /// app's refresh token after 7 days: 400 `invalid_grant`, "Token has
    /// been expired or revoked." (no AADSTS code).
    pub fn google_expire_refresh_token(&self, rt: &str) {
        self.lock().doctor.google_expired.insert(rt.to_string());
    }
}

impl State {
    /// The refusal the registration mode (or a Google-expired refresh
    /// token) gives this devicecode or token request, if any.
    pub(crate) fn registration_refusal(
        &mut self,
        req: &Request,
        has_secret: bool,
    ) -> Option<Response> {
        let form = &req.form;
        let is_token = matches!(Route::of(&req.path), Route::Token(_));
        if is_token
            && Flavor::of(&req.path) == Flavor::Google
            && form_get(form, "grant_type") == Some("refresh_token")
            && form_get(form, "refresh_token")
                .is_some_and(|rt| self.doctor.google_expired.contains(rt))
        {
            return Some(json_response(
                400,
                &json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
            ));
        }
        match self.doctor.registration {
            Registration::Fine => None,
            Registration::NoPublicClientFlows if is_token && !has_secret => Some(self.error(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' \
                 or 'client_secret'.",
            )),
            Registration::NoPublicClientFlows => None,
            Registration::AppNotFound => Some(self.app_not_found(req)),
            Registration::PersonalAccountScopes => {
                let scope = form_get(form, "scope").unwrap_or("").to_string();
                scope.contains("outlook.office365.com/").then(|| {
                    self.error(
                        400,
                        "invalid_scope",
                        70011,
                        &format!(
                            "The provided value for the input parameter 'scope' is not valid. \
                             The scope '{scope}' does not exist."
                        ),
                    )
                })
            }
        }
    }

    /// AADSTS700016, naming the client id and the tenant of the path.
    fn app_not_found(&mut self, req: &Request) -> Response {
        let client_id = form_get(&req.form, "client_id").unwrap_or("");
        let tenant = req.path.trim_start_matches('/').split('/').next();
        let tenant = tenant.unwrap_or("");
        self.error(
            400,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory \
                 '{tenant}'. This can happen if the application has not been installed by \
                 the administrator of the tenant or consented to by any user in the tenant. \
                 You may have sent your authentication request to the wrong tenant."
            ),
        )
    }
}

/// `resp` with a `Date` header (RFC 9110 §6.6.1) `offset` seconds off the
/// real clock, as an origin server with a clock sends it.
pub(crate) fn dated(mut resp: Response, offset: i64) -> Response {
    let now = unix_now().saturating_add_signed(offset);
    resp.headers.push(("Date".to_string(), http_date(now)));
    resp
}
