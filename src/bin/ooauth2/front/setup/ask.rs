//! The questions of `ooauth2 setup`: each answered by its flag, else asked
//! at the terminal (the question on stderr, the answer a line on stdin, an
//! empty line taking the default shown), else, with no terminal on stdin,
//! the default, said on stderr, or an error naming the flag to pass.

use crate::output::report;
use ooauth2::error::{Error, Result, printable};
use std::io::{BufRead, IsTerminal, Write};

/// How often a wrong answer is asked again before setup gives up.
const TRIES: usize = 3;

/// One question.
pub struct Question<'a> {
    /// What is asked, e.g. "Your mail address".
    pub prompt: &'a str,
    /// The flag (or argument) that answers it, e.g. "--user ADDRESS".
    pub flag: &'a str,
    /// What an empty line (or a run without a terminal) answers, and why
    /// it is that ("from the address"); `None`: no default.
    pub default: Option<(String, &'a str)>,
    /// Whether an answer is needed; an optional question without one is
    /// answered with nothing.
    pub needed: bool,
    /// Shown at the terminal before the question (where to get the answer).
    pub help: Option<&'a str>,
    /// Said after the flag when no terminal can ask (where to get it, short).
    pub hint: Option<&'a str>,
    /// Checks an answer; its error is shown and the question asked again.
    pub check: &'a dyn Fn(&str) -> Result<()>,
}

/// Who answers: the person at the terminal, or nobody (flags only).
pub struct Asker {
    terminal: bool,
}

impl Asker {
    /// Asks at the terminal when stdin is one.
    pub fn new() -> Asker {
        Asker {
            terminal: std::io::stdin().is_terminal(),
        }
    }

    /// Whether questions are asked (stdin is a terminal).
    pub fn at_terminal(&self) -> bool {
        self.terminal
    }

    /// The answer to `q`: `given` (its flag), else the person's, else the
    /// default; `None` for an optional question left unanswered.
    pub fn answer(&self, given: Option<&str>, q: &Question) -> Result<Option<String>> {
        if let Some(v) = given {
            (q.check)(v)?;
            return Ok(Some(v.to_string()));
        }
        if !self.terminal {
            return unattended(q);
        }
        if let Some(help) = q.help {
            eprint!("\n{help}");
        }
        for _ in 0..TRIES {
            let line = self.ask(q)?;
            let answer = match (line.is_empty(), &q.default) {
                (false, _) => line,
                (true, Some((d, _))) => d.clone(),
                (true, None) if q.needed => continue,
                (true, None) => return Ok(None),
            };
            match (q.check)(&answer) {
                Ok(()) => return Ok(Some(answer)),
                Err(e) => report(&e),
            }
        }
        Err(Error::invalid(format!(
            "no valid answer to '{}' after {TRIES} tries; nothing was changed",
            q.prompt
        ))
        .hint(format!("run ooauth2 setup again, or pass {}", q.flag)))
    }

    /// [`Asker::answer`] for a question that is always answered.
    pub fn needed(&self, given: Option<&str>, q: &Question) -> Result<String> {
        self.answer(given, q)?.ok_or_else(|| {
            Error::invalid(format!("no answer to '{}'; nothing was changed", q.prompt))
                .hint(format!("pass {}", q.flag))
        })
    }

    /// Yes or no at the terminal (an empty line is no); without one, no.
    pub fn confirm(&self, prompt: &str) -> Result<bool> {
        if !self.terminal {
            return Ok(false);
        }
        let q = Question {
            prompt,
            flag: "",
            default: None,
            needed: false,
            help: None,
            hint: None,
            check: &|_| Ok(()),
        };
        let line = self.read(&format!("{prompt} [y/N] "), &q)?;
        Ok(matches!(line.to_ascii_lowercase().as_str(), "y" | "yes"))
    }

    /// Shows `q` with its default and reads the answer line, trimmed.
    fn ask(&self, q: &Question) -> Result<String> {
        let shown = match &q.default {
            Some((d, _)) => format!("{} [{}]: ", q.prompt, printable(d)),
            None if q.needed => format!("{}: ", q.prompt),
            None => format!("{} (empty: none): ", q.prompt),
        };
        self.read(&shown, q)
    }

    /// Writes `prompt` on stderr and reads one line of stdin, trimmed; the
    /// end of input is an error (nothing was changed yet).
    fn read(&self, prompt: &str, q: &Question) -> Result<String> {
        let mut err = std::io::stderr();
        let _ = err.write_all(prompt.as_bytes());
        let _ = err.flush();
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(n) if n > 0 => Ok(line.trim().to_string()),
            _ => {
                let _ = err.write_all(b"\n");
                let flag = if q.flag.is_empty() { "--yes" } else { q.flag };
                Err(Error::invalid(format!(
                    "the input ended before an answer to '{}'; nothing was changed",
                    q.prompt
                ))
                .hint(format!("run ooauth2 setup again, or pass {flag}")))
            }
        }
    }
}

/// The answer to `q` with nobody to ask: its default, said on stderr, else
/// nothing for an optional question, else an error naming its flag.
fn unattended(q: &Question) -> Result<Option<String>> {
    if let Some((d, why)) = &q.default {
        eprintln!(
            "ooauth2: {}: {} ({why}; {} says otherwise)",
            q.prompt,
            printable(d),
            q.flag
        );
        return Ok(Some(d.clone()));
    }
    if !q.needed {
        return Ok(None);
    }
    let hint = match q.hint {
        Some(h) => format!("pass {}: {h}", q.flag),
        None => format!("pass {}", q.flag),
    };
    Err(Error::invalid(format!(
        "no {} given, and no terminal to ask for it on; nothing was changed",
        q.flag
    ))
    .hint(hint))
}
