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
    /// It ran, and its only failures were temporary (`keepalive`: exit 75).
    TryLater,
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
        // A temporary failure's status, as design.md numbers it.
        Ok(Status::TryLater) => 75,
        Err(Failure::Error(e)) => {
            report(&e);
            e.exit_status()
        }
        Err(Failure::Usage(e)) => {
            use clap::error::ErrorKind;
            let shown_as_is = matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            );
            if shown_as_is {
                // Nothing useful is left to do if stderr itself is gone.
                let _ = e.print();
            } else {
                report(&usage_error(&e));
            }
            u8::try_from(e.exit_code()).unwrap_or(2)
        }
    }
}

/// A command line clap refused, in the one style: clap's message on one
/// line, then its tips (a similar flag, the possible values), else where
/// the command's flags are described.
fn usage_error(e: &clap::Error) -> Error {
    let text = e.render().to_string();
    let (mut message, mut tips, mut command) = (Vec::new(), Vec::new(), None);
    let mut in_message = true;
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            in_message = false;
        } else if let Some(tip) = line.strip_prefix("tip: ") {
            tips.push(tip);
        } else if let Some(usage) = line.strip_prefix("Usage: ") {
            let words = usage.split(' ');
            let name: Vec<&str> = words
                .take_while(|w| !w.starts_with(['[', '<', '-']))
                .collect();
            command = Some(name.join(" "));
        } else if let Some(values) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            tips.push(values);
        } else if in_message {
            message.push(line.strip_prefix("error: ").unwrap_or(line));
        }
    }
    let hint = match tips.is_empty() {
        true => format!("see '{} --help'", command.as_deref().unwrap_or("ooauth2")),
        false => tips.join("; "),
    };
    Error::invalid(message.join(" ").trim_end_matches('.')).hint(hint.trim_end_matches('.'))
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

/// How long `secs` lasts, as messages say it: whole minutes, and "under a
/// minute" rather than "0 minutes".
pub fn minutes(secs: u64) -> String {
    match secs / 60 {
        0 => "under a minute".to_string(),
        1 => "1 minute".to_string(),
        n => format!("{n} minutes"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_never_say_zero() {
        assert_eq!(minutes(59), "under a minute");
        assert_eq!(minutes(60), "1 minute");
        assert_eq!(minutes(3599), "59 minutes");
    }
}
