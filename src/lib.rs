//! ooauth2's core: everything that is not argv, a terminal or an exit status.
//!
//! Data flows one way:
//!
//! ```text
//! front end (helper │ token │ legacy │ ...)    in the binary
//!   ─► request::Raw           one typed field per key of protocol::keys
//!   ─► config overlay         a named account's values beneath (config::request)
//!   ─► request::Request       validated once, immutable
//!   ─► engine ─► store        only store touches the token files
//!            ─► flows         interactive sign-ins (device, auth code)
//!                ─► oauth     only oauth speaks HTTP
//!   ─► engine::Outcome        rendered by the front end
//! ```
//!
//! Beneath them all: `error` (one error type, stable codes), `time`,
//! `settings` (the environment, read once), `secret` (secrets as a type),
//! `sasl`, `provider` (presets and endpoint rules) and `account` (identity
//! and the one login command). `tests/architecture.rs` holds the layers.
#![deny(missing_docs)]
#![warn(unreachable_pub)]

pub mod account;
pub mod config;
pub mod engine;
pub mod error;
pub mod flows;
pub mod health;
pub mod oauth;
pub mod password;
pub mod protocol;
pub mod provider;
pub mod proxy;
mod replace;
pub mod request;
pub mod sasl;
pub mod secret;
pub mod settings;
pub mod signals;
pub mod store;
pub mod time;
pub mod tls;
