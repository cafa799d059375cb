//! The device flow (RFC 8628): ask for a code, show it, and poll the token
//! endpoint at the provider's pace until the user is done, the code
//! expires, or the provider refuses.

use super::SignInUi;
use crate::error::{Error, Result};
use crate::oauth::{
    Client, DeviceAuth, Http, Poll, TokenResponse, expired_code, poll_device, start_device,
};
use crate::provider::Endpoints;
use std::time::{Duration, Instant};

/// The shortest wait between two polls, whatever the provider announces: an
/// `interval` of 0 must not make a poll loop (RFC 8628 §3.5 lets the client
/// wait longer than asked).
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The whole device flow: ask for a code, show it, poll until the user is
/// done, the code expires, or the provider refuses.
pub(crate) fn device_flow(
    http: &Http,
    endpoints: &Endpoints,
    client: &Client,
    scope: &str,
    ui: &mut dyn SignInUi,
) -> Result<TokenResponse> {
    let device_url = endpoints
        .device
        .as_deref()
        .ok_or_else(|| Error::invalid("this provider has no device authorization endpoint"))?;
    let auth = start_device(http, device_url, client, scope)?;
    ui.show(&auth);
    let result = poll_until_done(http, endpoints, client, &auth, ui);
    ui.finish();
    result
}

/// Polls the token endpoint for `auth` at its pace until an outcome. The
/// first poll comes after the announced `interval`; each later one at least
/// `MIN_INTERVAL` after the one before, 5 s more after each `slow_down`.
fn poll_until_done(
    http: &Http,
    endpoints: &Endpoints,
    client: &Client,
    auth: &DeviceAuth,
    ui: &mut dyn SignInUi,
) -> Result<TokenResponse> {
    let deadline = Instant::now() + Duration::from_secs(auth.expires_in);
    let mut interval = Duration::from_secs(auth.interval);
    // The first poll as announced; later ones never closer than MIN_INTERVAL.
    let mut wait = interval;
    loop {
        ui.wait(wait);
        if Instant::now() >= deadline {
            return Err(expired_code());
        }
        match poll_device(http, &endpoints.token, client, &auth.device_code) {
            Ok(Poll::Pending) => {}
            Ok(Poll::SlowDown) => interval += Duration::from_secs(5),
            Ok(Poll::Done(t)) => return Ok(*t),
            // A network hiccup must not throw away a sign-in the user is doing.
            Err(e) if e.code.is_transient() && Instant::now() < deadline => {
                ui.warn(&format!("{}; still waiting for the sign-in", e.message));
            }
            Err(e) => return Err(e),
        }
        wait = interval.max(MIN_INTERVAL);
    }
}
