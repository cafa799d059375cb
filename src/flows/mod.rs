//! The interactive sign-ins, built from `oauth`'s grants and driven by a
//! [`SignInUi`]: the device flow (RFC 8628) and the auth code flow with PKCE
//! on a loopback redirect (RFC 8252 §7.3, RFC 7636).
//!
//! - `device`: ask for a code, show it, poll at the provider's pace;
//! - `authcode`: listen, send the user to the authorize page, take the one
//!   redirect, exchange its code;
//! - `pkce`: random values, the verifier and its challenge, the authorize URL;
//! - `loopback`: the one-shot listener on 127.0.0.1 that takes the redirect;
//! - `peer`: which local user owns the socket at the other end of a
//!   connection to it (only the user who started a sign-in may finish it).
//!
//! `oauth` never calls up into this module; the engine decides when a
//! sign-in runs.

// Everything public here is the library's API: documented, and nothing
// public that only the crate uses.
#![warn(unreachable_pub, missing_docs)]

mod authcode;
mod device;
mod loopback;
mod peer;
mod pkce;

pub(crate) use authcode::{AuthCodeOptions, authcode_flow};
pub(crate) use device::device_flow;

use crate::oauth::DeviceAuth;
use std::time::Duration;

/// The person's side of a sign-in: shows the instructions, paces the
/// polling, and says whether anyone can see them.
pub trait SignInUi {
    /// Whether a terminal can show sign-in instructions (for `interactive=auto`).
    fn can_prompt(&self) -> bool;
    /// Tells the user where to go and which code to enter.
    fn show(&mut self, auth: &DeviceAuth);
    /// Sleeps for `interval`, or less if the user asks to poll now.
    fn wait(&mut self, interval: Duration);
    /// The device sign-in ended (success, error or expiry), or the auth
    /// code flow's wait did: tidy the screen, remove what was left for
    /// the browser.
    fn finish(&mut self) {}
    /// Tells the user about a problem the sign-in survives.
    fn warn(&mut self, message: &str) {
        eprintln!("ooauth2: warning: {message}");
    }
    /// A line the user pasted in place of the browser's redirect, if one
    /// came since the last call (never blocks).
    fn pasted(&mut self) -> Option<String> {
        None
    }
    /// Tells the user which page to open for an auth code sign-in (and
    /// opens it in a browser if wanted), and how long the listener waits.
    fn show_authorize(&mut self, url: &str, redirect_uri: &str, wait: Duration);
}
