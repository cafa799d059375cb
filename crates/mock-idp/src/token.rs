//! The token endpoint: client authentication, then the device code, refresh
//! token and authorization code grants, and the token answer they share.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::http::{
    Form, Request, Response, basic_auth, form_get, form_get_nonempty, json_response,
};
use crate::ids::id_token;
use crate::route::Flavor;
use crate::state::{RtEntry, State};
use crate::time::iso_time;
use crate::{DeviceOutcome, Grant};

/// The device-code grant type.
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The grant a `grant_type` names.
pub(crate) fn grant_of(grant_type: Option<&str>) -> Grant {
    match grant_type {
        Some(DEVICE_GRANT) => Grant::Device,
        Some("refresh_token") => Grant::Refresh,
        Some("authorization_code") => Grant::AuthCode,
        _ => Grant::Other,
    }
}

/// Why a refresh token is refused (AADSTS number and text), if it is.
pub(crate) fn rt_problem(e: &RtEntry, strict: bool) -> Option<(u32, String)> {
    if e.revoked {
        Some((
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. \
             The user might have changed or reset their password."
                .to_string(),
        ))
    } else if e.expired {
        Some((
            700082,
            format!(
                "The refresh token has expired due to inactivity. The token was issued on {} \
                 and was inactive for 90.00:00:00.",
                iso_time(e.issued_unix)
            ),
        ))
    } else if strict && e.used {
        Some((
            70000,
            "The provided value for the 'refresh_token' is not valid. The refresh token has \
             already been used."
                .to_string(),
        ))
    } else {
        None
    }
}

/// SHA-256 of `data` (the mock checks PKCE S256 without trusting the client's code).
fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

/// Whether the space-separated `scope` holds `offline_access`.
fn asks_offline(scope: &str) -> bool {
    scope
        .split_whitespace()
        .any(|s| s.eq_ignore_ascii_case("offline_access"))
}

impl State {
    pub(crate) fn token(&mut self, authority: &str, req: &Request) -> Response {
        let form = &req.form;
        let basic = basic_auth(&req.headers);
        let client_id = match (form_get_nonempty(form, "client_id"), &basic) {
            (Some(c), _) => c.to_string(),
            (None, Some((c, _))) if !c.is_empty() => c.clone(),
            _ => return self.missing_param("client_id"),
        };
        let Some(grant_type) = form_get_nonempty(form, "grant_type") else {
            return self.missing_param("grant_type");
        };
        let flavor = Flavor::of(&req.path);
        let given = form_get_nonempty(form, "client_secret")
            .map(str::to_string)
            .or_else(|| basic.map(|(_, s)| s));
        let has_secret = given.as_ref().is_some_and(|s| !s.is_empty());
        if flavor == Flavor::Google && !has_secret {
            // Google's desktop clients always send their (not secret) secret.
            return json_response(
                400,
                &json!({"error": "invalid_request", "error_description": "client_secret is missing."}),
            );
        }
        if let Some(r) = self.client_refusal(&client_id, given.as_deref()) {
            return r;
        }
        if let Some(r) = self.registration_refusal(req, has_secret) {
            return r;
        }
        match grant_type {
            DEVICE_GRANT => self.device_grant(authority, form, &client_id),
            "refresh_token" => self.refresh_grant(authority, form, &client_id, flavor),
            "authorization_code" => self.authcode_grant(authority, form, &client_id),
            other => self.error(
                400,
                "unsupported_grant_type",
                70003,
                &format!("The app requested an unsupported grant type '{other}'."),
            ),
        }
    }

    /// The refusal of a confidential client whose secret is missing or
    /// wrong; `None` for public clients and right secrets.
    fn client_refusal(&mut self, client_id: &str, given: Option<&str>) -> Option<Response> {
        let expected = self.secrets.get(client_id)?.clone();
        match given {
            None => Some(self.error(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: \
                 'client_assertion' or 'client_secret'.",
            )),
            Some(s) if s != expected => Some(self.error(
                401,
                "invalid_client",
                7000215,
                &format!(
                    "Invalid client secret provided. Ensure the secret being sent in the \
                     request is the client secret value, not the client secret ID, for a \
                     secret added to app '{client_id}'."
                ),
            )),
            Some(_) => None,
        }
    }

    fn device_grant(&mut self, authority: &str, form: &Form, client_id: &str) -> Response {
        let Some(code) = form_get_nonempty(form, "device_code") else {
            return self.missing_param("device_code");
        };
        let Some(entry) = self.devices.get_mut(code) else {
            return self.bad_device_code();
        };
        if entry.consumed || entry.client_id != client_id {
            return self.bad_device_code();
        }
        if entry.created.elapsed() >= Duration::from_secs(entry.expires_in) {
            return self.expired_device_code();
        }
        let n = entry.polls;
        entry.polls += 1;
        let slow = u64::from(entry.script.slow_down_polls);
        let pending = slow + u64::from(entry.script.pending_polls);
        if n < slow {
            return self.error(
                400,
                "slow_down",
                70016,
                "OAuth 2.0 device flow error. Polling too fast: slow down, add 5 seconds to \
                 the interval.",
            );
        }
        if n < pending {
            return self.error(
                400,
                "authorization_pending",
                70016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            );
        }
        match entry.script.outcome.clone() {
            DeviceOutcome::Approve(user) => {
                entry.consumed = true;
                let scope = entry.scope.clone();
                self.token_response(authority, &user, client_id, &scope, true, None)
            }
            DeviceOutcome::Decline => self.error(
                400,
                "authorization_declined",
                70000,
                "The user declined the authorization request.",
            ),
            DeviceOutcome::Expire => self.expired_device_code(),
            DeviceOutcome::BadCode => self.bad_device_code(),
        }
    }

    fn bad_device_code(&mut self) -> Response {
        self.error(
            400,
            "bad_verification_code",
            70000,
            "The provided value for the input parameter 'device_code' is not valid.",
        )
    }

    fn expired_device_code(&mut self) -> Response {
        self.error(
            400,
            "expired_token",
            70020,
            "The provided value for the input parameter 'device_code' is not valid. \
             This device code has expired.",
        )
    }

    fn refresh_grant(
        &mut self,
        authority: &str,
        form: &Form,
        client_id: &str,
        flavor: Flavor,
    ) -> Response {
        let Some(rt) = form_get_nonempty(form, "refresh_token") else {
            return self.missing_param("refresh_token");
        };
        let Some(scope) = form_get_nonempty(form, "scope") else {
            return self.missing_param("scope");
        };
        let strict = self.strict_rotation;
        let problem = match self.rts.get(rt) {
            None => Some((
                70000,
                "The provided value for the 'refresh_token' is not valid.".to_string(),
            )),
            Some(e) if e.client_id != client_id => Some((
                70000,
                "The provided value for the 'refresh_token' is not valid. The refresh token \
                 was issued to a different client id."
                    .to_string(),
            )),
            Some(e) => rt_problem(e, strict),
        };
        if let Some((code, text)) = problem {
            return self.error(400, "invalid_grant", code, &text);
        }
        let Some(user) = self.rts.get(rt).map(|e| e.user.clone()) else {
            return self.missing_param("refresh_token");
        };
        // Google never rotates refresh tokens; the others need no offline_access.
        let rotation = self.rotation && flavor != Flavor::Google;
        let offline = (flavor != Flavor::Microsoft).then_some(true);
        let resp = self.token_response(authority, &user, client_id, scope, rotation, offline);
        let rotated = rotation && offline.unwrap_or_else(|| asks_offline(scope));
        if strict
            && rotated
            && let Some(e) = self.rts.get_mut(rt)
        {
            e.used = true;
        }
        resp
    }

    /// `grant_type=authorization_code`: the code must be unused, younger
    /// than ten minutes, for this client and redirect_uri, and the
    /// `code_verifier` must hash (S256) to the challenge it was issued for.
    fn authcode_grant(&mut self, authority: &str, form: &Form, client_id: &str) -> Response {
        let Some(code) = form_get_nonempty(form, "code") else {
            return self.missing_param("code");
        };
        let Some(verifier) = form_get_nonempty(form, "code_verifier") else {
            return self.missing_param("code_verifier");
        };
        let redirect_uri = form_get(form, "redirect_uri").unwrap_or_default();
        let verifier_hash = URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()));
        let problem = match self.codes.get(code) {
            None => Some((
                70000,
                "The provided value for the 'code' parameter is not valid.",
            )),
            Some(e) if e.redeemed => Some((
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
            )),
            Some(e) if e.client_id != client_id => {
                Some((70000, "The code was issued to another client."))
            }
            Some(e) if e.created.elapsed() > Duration::from_secs(600) => Some((
                70008,
                "The provided authorization code or refresh token has expired due to inactivity.",
            )),
            Some(e) if e.redirect_uri != redirect_uri => Some((
                70009,
                "The redirect_uri does not match the one the authorization code was issued for.",
            )),
            Some(e) if e.challenge != verifier_hash => Some((
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            )),
            Some(_) => None,
        };
        if let Some(e) = self.codes.get_mut(code) {
            // Microsoft burns a code on its first redemption attempt.
            e.redeemed = true;
        }
        if let Some((n, text)) = problem {
            return self.error(400, "invalid_grant", n, text);
        }
        let Some((user, scope, offline)) = self
            .codes
            .get(code)
            .map(|e| (e.user.clone(), e.scope.clone(), e.offline))
        else {
            return self.missing_param("code");
        };
        let scope = form_get_nonempty(form, "scope").map_or(scope, str::to_string);
        self.token_response(authority, &user, client_id, &scope, true, Some(offline))
    }

    /// A 200 token response. `may_issue_rt`: false for refresh grants with
    /// rotation off; a refresh token comes only with offline_access in the
    /// scope, unless `offline` says so another way (other providers).
    fn token_response(
        &mut self,
        authority: &str,
        user: &str,
        client_id: &str,
        requested_scope: &str,
        may_issue_rt: bool,
        offline: Option<bool>,
    ) -> Response {
        let requested: Vec<&str> = requested_scope.split_whitespace().collect();
        let has = |s: &str| requested.iter().any(|r| r.eq_ignore_ascii_case(s));
        let scope = requested
            .iter()
            .filter(|s| {
                !["offline_access", "openid", "profile", "email"]
                    .iter()
                    .any(|o| s.eq_ignore_ascii_case(o))
            })
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let lifetime = self.token_lifetime;
        let at = self.new_access_token(user, client_id, &scope);
        let mut body = json!({
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": at,
        });
        if may_issue_rt && offline.unwrap_or_else(|| has("offline_access")) {
            body["refresh_token"] = Value::String(self.new_refresh_token(user, client_id));
        }
        if let Some(secs) = self.rt_expires_in {
            body["refresh_token_expires_in"] = json!(secs);
        }
        if has("openid") {
            body["id_token"] = Value::String(id_token(authority, user, client_id, lifetime));
        }
        json_response(200, &body)
    }
}
