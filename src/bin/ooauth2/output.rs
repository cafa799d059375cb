//! What a command leaves behind: stdout written as data (a closed pipe is
//! no error), errors and warnings on stderr in the one style, and how the
//! run ended, which `main` turns into the one exit status.

use ooauth2::engine::Answer;
use ooauth2::error::{Code, Error, Result};
use std::io::Write;

/// How a command that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It did what was asked.
    Done,
    /// It ran, and what it checked needs the user (`doctor`: exit 1).
    ProblemsFound,
}

/// How a command failed.
#[derive(Debug)]
pub enum Failure {
    /// An error, not yet shown: `main` reports it and exits by its code.
    Error(Error),
    /// A command line clap refused (or `--help`/`--version`): clap prints it.
    Usage(clap::Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Error(e)
    }
}

/// The exit status of a run: 0, 1 for problems found, else the failure's.
pub fn exit_status(outcome: std::result::Result<Status, Failure>) -> u8 {
    match outcome {
        Ok(Status::Done) => 0,
        Ok(Status::ProblemsFound) => 1,
        Err(Failure::Error(e)) => {
            report(&e);
            e.exit_status()
        }
        Err(Failure::Usage(e)) => {
            // Nothing useful is left to do if stderr itself is gone.
            let _ = e.print();
            u8::try_from(e.exit_code()).unwrap_or(2)
        }
    }
}

/// Prints an error for a person: the message, then what to do.
pub fn report(err: &Error) {
    let s = format!(
        "ooauth2: error: {}\nooauth2: hint: {}\n",
        err.message,
        err.next_step()
    );
    let _ = std::io::stderr().write_all(s.as_bytes());
}

/// Prints a warning that did not stop the request.
pub fn warn(answer: &Answer) {
    if let Some(w) = &answer.warning {
        eprintln!("ooauth2: warning: {w}");
    }
}

/// Writes to stdout, treating a closed pipe as success (the reader went away).
pub fn print_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(output_error("to stdout", &e)),
    }
}

/// An output that could not be written (`what`: "to stdout", "the man page").
pub fn output_error(what: &str, e: &std::io::Error) -> Error {
    Error::new(Code::OutputError, format!("cannot write {what}: {e}"))
}
