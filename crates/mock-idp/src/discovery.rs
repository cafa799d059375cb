//! The discovery documents: OpenID Connect Discovery at
//! `/{tenant}/v2.0/.well-known/openid-configuration` and RFC 8414 at
//! `/.well-known/oauth-authorization-server/{tenant}/v2.0`, served as the
//! [`crate::DiscoveryMode`] says.

use serde_json::json;

use crate::DiscoveryMode;
use crate::http::{Response, json_response};
use crate::state::State;

impl State {
    /// The tenant's document; `oidc` at OpenID Connect's path.
    pub(crate) fn discovery(&mut self, authority: &str, tenant: &str, oidc: bool) -> Response {
        let issuer = format!("{authority}/{tenant}/v2.0");
        let base = format!("{authority}/{tenant}/oauth2/v2.0");
        let mut doc = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "device_authorization_endpoint": format!("{base}/devicecode"),
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
        });
        match self.discovery_mode {
            DiscoveryMode::Unavailable => {
                return json_response(503, &json!({"error": "temporarily_unavailable"}));
            }
            DiscoveryMode::Rfc8414Only if oidc => {
                return json_response(404, &json!({"error": "not_found"}));
            }
            DiscoveryMode::WrongIssuer => doc["issuer"] = json!("https://evil.example/v2.0"),
            DiscoveryMode::NoDevice => {
                if let Some(o) = doc.as_object_mut() {
                    o.remove("device_authorization_endpoint");
                }
            }
            DiscoveryMode::Both | DiscoveryMode::Rfc8414Only => {}
        }
        json_response(200, &doc)
    }
}
