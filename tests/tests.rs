//! The one integration-test target: every themed file below drives the built
//! `ooauth2` binary as its users do (argv, stdin, files, real mail clients)
//! against the mock identity provider (`crates/mock-idp`), with the harness
//! in `support/`.
//! One target means one link and one build of the harness, not twenty.

// Test set-up fails loudly by design: a panic names what went wrong.
#![allow(clippy::unwrap_used)]

mod support;

mod architecture;
mod authcode;
mod commands;
mod concurrency;
mod config;
mod crash;
mod diagnose;
mod docs;
mod error_style;
mod experience;
mod faults;
mod fuzz;
mod health;
mod keyring;
mod legacy;
mod mock_idp_selftest;
mod network_safety;
mod other_clients;
mod output_safety;
mod protocol;
mod providers;
mod proxy;
mod proxy_auth;
mod proxy_ops;
mod readme;
mod real_clients;
mod secret_stores;
mod secrets;
mod setup;
mod signin_screen;
mod store_migrate;
mod store_safety;
mod stress;
mod token_safety;
mod tryout;
mod user_errors;
mod ux;
