//! The auth code flow (RFC 8252 §7.3): listen on 127.0.0.1, send the user
//! to the authorize endpoint, take the one redirect, check its state, then
//! exchange the code with the PKCE verifier.

use super::SignInUi;
use super::loopback::Listener;
use super::pkce::{AuthorizeParams, Pkce, authorize_url, random_token};
use crate::error::{Error, Result};
use crate::oauth::{Client, Http, TokenResponse, exchange_code};
use crate::provider::Endpoints;
use std::time::Duration;

/// How the auth code flow runs: the listener's port and the wait (whether a
/// browser is opened is the UI's business).
pub(crate) struct AuthCodeOptions<'a> {
    pub(crate) redirect_port: u16,
    pub(crate) timeout: Duration,
    /// The account expected to sign in (`login_hint`), if known.
    pub(crate) user: Option<&'a str>,
}

/// The whole auth code flow. A code whose redirect was not checked is never
/// sent anywhere.
pub(crate) fn authcode_flow(
    http: &Http,
    endpoints: &Endpoints,
    client: &Client,
    scope: &str,
    opts: &AuthCodeOptions,
    ui: &mut dyn SignInUi,
) -> Result<TokenResponse> {
    let authorize = endpoints
        .authorize
        .as_deref()
        .ok_or_else(|| Error::invalid("this provider has no authorization endpoint"))?;
    let listener = Listener::bind(opts.redirect_port)?;
    let redirect_uri = listener.redirect_uri();
    let pkce = Pkce::new()?;
    let state = random_token(16)?;
    let url = authorize_url(
        authorize,
        &AuthorizeParams {
            client_id: client.id,
            redirect_uri: &redirect_uri,
            scope,
            state: &state,
            challenge: &pkce.challenge,
            user: opts.user,
            extra: endpoints.authorize_extra,
        },
    )?;
    ui.show_authorize(&url, &redirect_uri, opts.timeout);
    let code = listener.wait(&state, opts.timeout, ui);
    ui.finish();
    let code = code?;
    exchange_code(
        http,
        &endpoints.token,
        client,
        &code,
        &pkce.verifier,
        &redirect_uri,
        endpoints.scope_on_exchange.then_some(scope),
    )
}
