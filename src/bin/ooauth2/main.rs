//! ooauth2: gets, renews and safely keeps OAuth2 tokens for mail clients.
//! `main` picks the front end and decides the one exit status.

mod args;
mod context;
mod doctor;
mod fast_token;
mod front;
mod mailtest;
mod output;
mod terminal;

use args::Cli;
use clap::Parser;
use output::{Failure, Status};
use std::process::ExitCode;

fn main() -> ExitCode {
    // An argument that is not UTF-8 goes to clap, which refuses it with usage.
    let args: Result<Vec<String>, _> = std::env::args_os().map(|a| a.into_string()).collect();
    let outcome = match args {
        Ok(args) if front::legacy::is_legacy(&args) => front::legacy::run(&args),
        Ok(args) => match fast_token::fast_token(&args) {
            Some(cli) => front::run(cli),
            None => parsed(Cli::try_parse_from(args)),
        },
        Err(_) => parsed(Cli::try_parse()),
    };
    ExitCode::from(output::exit_status(outcome))
}

/// The run of a command line clap parsed (or refused).
fn parsed(cli: Result<Cli, clap::Error>) -> Result<Status, Failure> {
    cli.map_err(Failure::Usage).and_then(front::run)
}
