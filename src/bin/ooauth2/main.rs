//! ooauth2: gets, renews and safely keeps OAuth2 tokens for mail clients.
//! `main` only picks the front end; `cli::run` and `legacy::run` pick the exit status.

mod cli;
mod context;
mod doctor;
mod legacy;
mod mailtest;
mod terminal;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // An argument that is not UTF-8 goes to clap, which refuses it with usage.
    let args: Result<Vec<String>, _> = std::env::args_os().map(|a| a.into_string()).collect();
    let status = match args {
        Ok(args) if legacy::is_legacy(&args) => legacy::run(&args),
        Ok(args) => cli::run(cli::fast_token(&args).unwrap_or_else(cli::Cli::parse)),
        Err(_) => cli::run(cli::Cli::parse()),
    };
    ExitCode::from(status)
}
