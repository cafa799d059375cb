//! `/introspect` (RFC 7662): whether an access token is active, and for
//! whom, as Dovecot's OAuth2 passdb asks it in the real-client tests.

use serde_json::json;

use crate::http::{Request, Response, authorization, form_get_nonempty, json_response};
use crate::ids::oid_for;
use crate::state::State;

impl State {
    /// The token comes as form `token`, query `token` or `access_token`,
    /// or `Authorization: Bearer`, as the different clients send it.
    pub(crate) fn introspect(&mut self, req: &Request) -> Response {
        let token = form_get_nonempty(&req.form, "token")
            .or_else(|| form_get_nonempty(&req.query, "token"))
            .or_else(|| form_get_nonempty(&req.query, "access_token"))
            .or_else(|| authorization(&req.headers, "bearer"));
        let Some(token) = token else {
            return self.missing_param("token");
        };
        let body = match self.ats.get(token) {
            Some(e) if e.active() => json!({
                "active": true,
                "sub": oid_for(&e.user),
                "username": e.user,
                "email": e.user,
                "scope": e.scope,
                "client_id": e.client_id,
                "token_type": "Bearer",
                "exp": e.exp_unix,
            }),
            _ => json!({"active": false}),
        };
        json_response(200, &body)
    }
}
