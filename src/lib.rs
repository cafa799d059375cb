//! ooauth2's core: everything that is not argv, a terminal or an exit status.
//!
//! Data flows one way:
//!
//! ```text
//! front end (helper │ token │ legacy │ ...)   in the binary
//!   ─► request::Request       validated, from key/value pairs (config overlay first)
//!   ─► engine ─► store        only store touches the token files
//!            ─► flows         interactive sign-ins (device, auth code)
//!                ─► oauth     only oauth speaks HTTP
//!   ─► engine::Outcome        rendered by the front end
//! ```

pub mod account;
pub mod config;
pub mod engine;
pub mod error;
pub mod flows;
pub mod oauth;
pub mod protocol;
pub mod provider;
pub mod request;
pub mod sasl;
pub mod secret;
pub mod settings;
pub mod store;
pub mod time;
