//! The only code that speaks HTTP to a provider. Provider answers are
//! classified here, where they arrive, into tokens or typed errors.
//!
//! - `http`: the client (timeouts, retries, the 1 MiB cap, no redirects)
//!   and the `-v`/`-vv` log with every secret shown by its length only;
//! - `redact`: the secrets of a request taken out of its answer, wherever
//!   the provider echoes them, before anything reads it;
//! - `grants`: refresh (RFC 6749 §6), device authorization and its polls
//!   (RFC 8628), the code exchange (RFC 6749 §4.1.3 with RFC 7636), and the
//!   token answer's parser;
//! - `errors`: OAuth `error` values and AADSTS numbers classified into
//!   typed errors with their hints;
//! - `discovery`: OpenID Connect / RFC 8414 metadata documents;
//! - `probe`: `doctor`'s reachability and app registration checks;
//! - `proxy`: the one choice of a proxy (never for a loopback host) and the
//!   one way a proxy is shown (never its credentials).
//!
//! The interactive sign-ins built from these grants are `flows`'; nothing
//! here knows about a person or a terminal.

// Everything public here is the library's API: documented, and nothing
// public that only the crate uses.
#![warn(unreachable_pub, missing_docs)]

mod discovery;
mod errors;
mod grants;
mod http;
mod probe;
mod proxy;
mod redact;

pub(crate) use discovery::discover;
pub use errors::{aadsts_admin_fix, aadsts_hint};
pub(crate) use errors::{expired_code, redirect_error};
pub use grants::DeviceAuth;
pub(crate) use grants::{
    Client, Granted, Poll, TokenResponse, exchange_code, poll_device, refresh, start_device,
};
pub use http::{Http, HttpConfig};
pub use probe::Probe;
pub(crate) use probe::check_device_flow;
