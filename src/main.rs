//! ooauth2: gets, renews and safely keeps OAuth2 tokens for mail clients.
//! `main` only picks the front end; `cli::run` and `legacy::run` pick the exit status.

mod cli;
mod engine;
mod error;
mod legacy;
mod oauth;
mod protocol;
mod provider;
mod request;
mod sasl;
mod store;
mod ui;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let status = if legacy::is_legacy(&args) {
        legacy::run(&args)
    } else {
        cli::run(cli::fast_token(&args).unwrap_or_else(cli::Cli::parse))
    };
    ExitCode::from(status)
}
