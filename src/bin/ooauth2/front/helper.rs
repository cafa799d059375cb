//! `ooauth2 helper`: one helper-protocol request on stdin, one response
//! block on stdout (the error block on failure), as protocol.md specifies.

use crate::context::Context;
use crate::output::{Failure, Status, output_error, report, warn};
use ooauth2::engine::Outcome;
use ooauth2::error::Code;
use ooauth2::protocol::{self, keys, keys::ResponseKey};
use ooauth2::request::{Action, Request};
use ooauth2::sasl;

/// Answers the request on stdin.
pub fn run(ctx: &Context) -> Result<Status, Failure> {
    let result = protocol::read_request(std::io::stdin().lock())
        .and_then(|raw| ctx.request(raw))
        .and_then(|req| {
            if req.action() == Action::Capability {
                return Ok(capability());
            }
            ctx.run(&req, false).map(|o| outcome_pairs(&o, &req))
        });
    let pairs = match &result {
        Ok(p) => p.clone(),
        Err(e) => protocol::error_pairs(e),
    };
    let mut out = std::io::stdout().lock();
    match protocol::write_response(&mut out, &pairs) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            if let Err(first) = &result {
                report(first);
            }
            Err(output_error("the response", &e).into())
        }
        _ => result.map(|_| Status::Done).map_err(Failure::from),
    }
}

/// `action=capability`: what this build speaks, from the key table.
fn capability() -> Vec<(ResponseKey, String)> {
    let joined = |names: Vec<&str>| names.join(" ");
    vec![
        (ResponseKey::Version, protocol::VERSION.to_string()),
        (
            ResponseKey::Actions,
            joined(Action::ALL.iter().map(|a| a.as_str()).collect()),
        ),
        (
            ResponseKey::RequestKeys,
            joined(keys::wire_keys().map(|k| k.name()).collect()),
        ),
        (
            ResponseKey::ResponseKeys,
            joined(ResponseKey::ALL.iter().map(|k| k.name()).collect()),
        ),
        (ResponseKey::SecretKeys, joined(keys::secret_key_names())),
        (
            ResponseKey::Errors,
            joined(Code::ALL.iter().map(|c| c.as_str()).collect()),
        ),
    ]
}

/// The response block of a successful request.
fn outcome_pairs(outcome: &Outcome, req: &Request) -> Vec<(ResponseKey, String)> {
    match outcome {
        Outcome::Erased { user, existed, .. } => {
            let mut p = Vec::new();
            if let Some(u) = user {
                p.push((ResponseKey::User, u.clone()));
            }
            p.push((ResponseKey::Erased, existed.to_string()));
            p
        }
        Outcome::Token(a) => {
            warn(a);
            let token = a.access_token.expose();
            let bearer = sasl::oauthbearer(&a.user, req.host(), req.port(), token);
            vec![
                (ResponseKey::User, a.user.clone()),
                (ResponseKey::AccessToken, token.to_string()),
                (ResponseKey::TokenType, a.token_type.clone()),
                (ResponseKey::ExpiresAt, a.expires_at.to_string()),
                (ResponseKey::ExpiresIn, a.expires_in.to_string()),
                (ResponseKey::Scope, a.scope.clone()),
                (ResponseKey::Source, a.source.as_str().to_string()),
                (ResponseKey::Xoauth2, sasl::xoauth2(&a.user, token)),
                (ResponseKey::Oauthbearer, bearer),
            ]
        }
    }
}
