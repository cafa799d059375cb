//! `ooauth2 completions SHELL` and `ooauth2 man`: generated from the clap
//! definition, so they never fall behind the flags.

use crate::args::Cli;
use crate::output::{output_error, print_stdout};
use clap::CommandFactory;
use ooauth2::error::Result;

/// The completion script clap_complete generates.
pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "ooauth2", &mut out);
    print_stdout(&String::from_utf8_lossy(&out))
}

/// The roff page clap_mangen generates.
pub fn man() -> Result<()> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| output_error("the man page", &e))?;
    print_stdout(&String::from_utf8_lossy(&out))
}
