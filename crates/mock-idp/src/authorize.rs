//! The authorize endpoint of the auth code flow with PKCE: it checks the
//! request as Microsoft does, then sends the browser straight back to the
//! loopback `redirect_uri` as the [`AuthorizeMode`] says (no sign-in page).

use std::time::Instant;

use crate::AuthorizeMode;
use crate::http::{
    Form, Request, Response, form_get, form_get_nonempty, html_response, percent_encode,
};
use crate::ids::URL_SAFE_CHARS;
use crate::route::Flavor;
use crate::state::{CodeEntry, State};

/// The parameters every authorize request must carry, non-empty.
const REQUIRED: [&str; 7] = [
    "client_id",
    "response_type",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
];

impl State {
    /// `GET /{tenant}/oauth2/v2.0/authorize` (and the other presets'
    /// paths). Invalid requests get a 400 and no redirect.
    pub(crate) fn authorize(&mut self, req: &Request) -> Response {
        let q = &req.query;
        if let Some(refusal) = self.authorize_refusal(q) {
            return refusal;
        }
        let get = |k: &str| form_get(q, k).unwrap_or_default().to_string();
        let redirect_uri = get("redirect_uri");
        let offline = match Flavor::of(&req.path) {
            Flavor::Microsoft => get("scope")
                .split_whitespace()
                .any(|s| s.eq_ignore_ascii_case("offline_access")),
            Flavor::Google => get("access_type") == "offline",
            Flavor::Yahoo | Flavor::Fastmail => true,
        };
        let code_for = |st: &mut State, user: &str| {
            st.new_code(CodeEntry {
                user: user.to_string(),
                client_id: get("client_id"),
                redirect_uri: redirect_uri.clone(),
                challenge: get("code_challenge"),
                scope: get("scope"),
                created: Instant::now(),
                redeemed: false,
                offline,
            })
        };
        let state = get("state");
        let mode = if self.take_decline() {
            AuthorizeMode::Deny
        } else {
            self.authorize_mode.clone()
        };
        let pairs: Vec<(&str, String)> = match mode {
            AuthorizeMode::Approve(user) => vec![("code", code_for(self, &user)), ("state", state)],
            AuthorizeMode::Deny => vec![
                ("error", "access_denied".into()),
                (
                    "error_description",
                    "AADSTS65004: User declined to consent to access the app.".into(),
                ),
                ("state", state),
            ],
            AuthorizeMode::WrongState => vec![
                ("code", code_for(self, "me@example.com")),
                ("state", "forged-state".into()),
            ],
            AuthorizeMode::NoCode => vec![("state", state)],
        };
        redirect(&redirect_uri, &pairs)
    }

    /// The 400 an invalid authorize request gets, if it is invalid.
    fn authorize_refusal(&mut self, q: &Form) -> Option<Response> {
        if let Some(k) = REQUIRED.iter().find(|k| form_get_nonempty(q, k).is_none()) {
            return Some(self.missing_param(k));
        }
        let get = |k: &str| form_get(q, k).unwrap_or_default();
        if get("response_type") != "code" {
            return Some(self.error(
                400,
                "unsupported_response_type",
                700054,
                "response_type must be code.",
            ));
        }
        let redirect_uri = get("redirect_uri");
        let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"]
            .iter()
            .any(|p| redirect_uri.starts_with(p));
        if !loopback {
            return Some(self.error(
                400,
                "invalid_request",
                50011,
                &format!("The redirect URI '{redirect_uri}' does not match the redirect URIs configured for the application."),
            ));
        }
        let challenge = get("code_challenge");
        let s256 = get("code_challenge_method") == "S256"
            && challenge.len() == 43
            && challenge.bytes().all(|b| URL_SAFE_CHARS.contains(&b));
        (!s256).then(|| {
            self.error(
                400,
                "invalid_request",
                501491,
                "Invalid size of Code_Challenge parameter, or code_challenge_method is not S256.",
            )
        })
    }

    /// Keeps `entry` under a new code and returns the code.
    fn new_code(&mut self, entry: CodeEntry) -> String {
        let code = format!(
            "mockcode.{}.{}",
            self.next_counter(),
            self.rng.string(48, URL_SAFE_CHARS)
        );
        self.codes.insert(code.clone(), entry);
        code
    }
}

/// The 302 back to the client's loopback listener, `pairs` in its query.
fn redirect(redirect_uri: &str, pairs: &[(&str, String)]) -> Response {
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect();
    let location = format!("{redirect_uri}?{}", query.join("&"));
    html_response(
        302,
        vec![("Location".to_string(), location)],
        "<html><body>Redirecting...</body></html>",
    )
}
