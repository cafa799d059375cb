//! The mock's own control endpoints, for a person trying ooauth2 by hand
//! (the README's try-out) or a script: what a test does through
//! [`crate::MockIdp`], over HTTP. `POST /mock/revoke` (`user=EMAIL`, in
//! the form or the query) revokes that user's refresh tokens,
//! `POST /mock/expire` ends every access token issued so far, and
//! `POST /mock/decline` declines the next sign-in (device code or browser).
//! Each answers one line of JSON saying what it did.

use serde_json::json;

use crate::http::{Request, Response, form_get_nonempty, json_response};
use crate::state::State;

/// The control paths, for the 404 page and the banner.
pub(crate) const CONTROL_PATHS: &str =
    "POST /mock/revoke (user=EMAIL), POST /mock/expire, POST /mock/decline";

/// Which control a path is.
pub(crate) enum Control {
    Revoke,
    Expire,
    Decline,
}

impl Control {
    /// The control at `/mock/{name}`.
    pub(crate) fn of(name: &str) -> Option<Control> {
        match name {
            "revoke" => Some(Control::Revoke),
            "expire" => Some(Control::Expire),
            "decline" => Some(Control::Decline),
            _ => None,
        }
    }
}

impl State {
    /// `POST /mock/{revoke,expire,decline}`.
    pub(crate) fn control(&mut self, req: &Request, control: &Control) -> Response {
        if req.method != "POST" {
            return self.error(
                405,
                "invalid_request",
                900561,
                "The mock's controls only accept POST (curl -d ...).",
            );
        }
        let answer = match control {
            Control::Revoke => {
                let user = form_get_nonempty(&req.form, "user")
                    .or_else(|| form_get_nonempty(&req.query, "user"));
                let Some(user) = user else {
                    return self.missing_param("user");
                };
                json!({"revoked_refresh_tokens": self.revoke_user(user), "user": user})
            }
            Control::Expire => json!({"expired_access_tokens": self.expire_access_tokens()}),
            Control::Decline => {
                self.decline_next = true;
                json!({"decline_next_sign_in": true})
            }
        };
        let mut resp = json_response(200, &answer);
        // One line for a terminal (curl prints the body as it is).
        resp.body.push(b'\n');
        resp
    }

    /// Revokes every refresh token of `user` (like Microsoft's
    /// revokeSignInSessions: access tokens stay valid until they expire);
    /// returns how many were valid.
    pub(crate) fn revoke_user(&mut self, user: &str) -> usize {
        let mut n = 0;
        for e in self.rts.values_mut().filter(|e| e.user == user) {
            n += usize::from(!e.revoked);
            e.revoked = true;
        }
        n
    }

    /// Makes every access token issued so far inactive; returns how many
    /// were active.
    pub(crate) fn expire_access_tokens(&mut self) -> usize {
        let mut n = 0;
        for e in self.ats.values_mut() {
            n += usize::from(e.active());
            e.expired = true;
        }
        n
    }

    /// Whether this sign-in is declined: once after `POST /mock/decline`.
    pub(crate) fn take_decline(&mut self) -> bool {
        std::mem::take(&mut self.decline_next)
    }
}
