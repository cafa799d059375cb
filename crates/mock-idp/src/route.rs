//! Which endpoint a path is (and whose provider's), and the dispatch of a
//! request to it.

use serde_json::json;

use crate::control::{CONTROL_PATHS, Control};
use crate::device::DEVICELOGIN_HTML;
use crate::http::{Request, Response, html_response, json_response};
use crate::state::State;

/// The endpoints the mock serves.
pub(crate) enum Route {
    /// An authorize endpoint, with its `{tenant}` (empty for other presets).
    Authorize(String),
    /// A tenant's discovery document; `true` at OpenID Connect's path.
    Discovery(String, bool),
    DeviceCode(String),
    Token(String),
    Introspect,
    DeviceLogin,
    /// One of the mock's own controls (`/mock/...`).
    Control(Control),
    NotFound,
}

impl Route {
    pub(crate) fn of(path: &str) -> Route {
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match segs.as_slice() {
            [t, "oauth2", "v2.0", "devicecode"] if !t.is_empty() => {
                Route::DeviceCode((*t).to_string())
            }
            [t, "oauth2", "v2.0", "token"] if !t.is_empty() => Route::Token((*t).to_string()),
            [t, "oauth2", "v2.0", "authorize"] if !t.is_empty() => {
                Route::Authorize((*t).to_string())
            }
            ["o", "oauth2", "v2", "auth"] | ["oauth2", "request_auth"] | ["oauth", "authorize"] => {
                Route::Authorize(String::new())
            }
            ["token"] | ["oauth2", "get_token"] | ["oauth", "refresh"] => {
                Route::Token(String::new())
            }
            [t, "v2.0", ".well-known", "openid-configuration"] if !t.is_empty() => {
                Route::Discovery((*t).to_string(), true)
            }
            [".well-known", "oauth-authorization-server", t, "v2.0"] if !t.is_empty() => {
                Route::Discovery((*t).to_string(), false)
            }
            ["introspect"] => Route::Introspect,
            ["devicelogin"] => Route::DeviceLogin,
            ["mock", name] => Control::of(name).map_or(Route::NotFound, Route::Control),
            _ => Route::NotFound,
        }
    }

    /// The `{tenant}` the log records: for the devicecode, token and
    /// authorize endpoints; empty elsewhere.
    pub(crate) fn tenant(&self) -> String {
        match self {
            Route::DeviceCode(t) | Route::Authorize(t) | Route::Token(t) => t.clone(),
            _ => String::new(),
        }
    }

    /// Whether queued faults apply.
    pub(crate) fn faultable(&self) -> bool {
        matches!(self, Route::DeviceCode(_) | Route::Token(_))
    }
}

/// Which provider a path belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    Microsoft,
    Google,
    Yahoo,
    Fastmail,
}

impl Flavor {
    /// The provider whose endpoint `path` is.
    pub(crate) fn of(path: &str) -> Flavor {
        match path {
            "/o/oauth2/v2/auth" | "/token" => Flavor::Google,
            "/oauth2/request_auth" | "/oauth2/get_token" => Flavor::Yahoo,
            "/oauth/authorize" | "/oauth/refresh" => Flavor::Fastmail,
            _ => Flavor::Microsoft,
        }
    }
}

impl State {
    /// The answer of the endpoint at `route` (no fault applied).
    pub(crate) fn dispatch(&mut self, authority: &str, req: &Request, route: &Route) -> Response {
        match route {
            Route::DeviceCode(_) | Route::Token(_) if req.method != "POST" => self.error(
                405,
                "invalid_request",
                900561,
                &format!(
                    "The endpoint only accepts POST, OPTIONS requests. Received a {} request.",
                    req.method
                ),
            ),
            Route::Authorize(_) if req.method != "GET" => self.error(
                405,
                "invalid_request",
                900561,
                "The authorize endpoint only accepts GET requests in this mock.",
            ),
            Route::Authorize(_) => self.authorize(req),
            Route::Discovery(t, oidc) => self.discovery(authority, t, *oidc),
            Route::DeviceCode(_) => self.devicecode(authority, req),
            Route::Token(_) => self.token(authority, req),
            Route::Introspect => self.introspect(req),
            Route::DeviceLogin => html_response(200, Vec::new(), DEVICELOGIN_HTML),
            Route::Control(c) => self.control(req, c),
            Route::NotFound => json_response(
                404,
                &json!({
                    "error": "not_found",
                    "error_description": format!(
                        "mock idp: no endpoint {} {}. Endpoints: POST /{{tenant}}/oauth2/v2.0/devicecode, \
                         POST /{{tenant}}/oauth2/v2.0/token, POST /introspect; controls: {CONTROL_PATHS}.",
                        req.method, req.path
                    ),
                }),
            ),
        }
    }
}
