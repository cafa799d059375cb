//! POP3's words for the login dialogue (RFC 1939, RFC 2449 CAPA, RFC 2595
//! STLS, RFC 5034 AUTH): `+OK`/`-ERR` status lines, an initial response
//! only when the AUTH line stays within 255 octets, `STAT` as the real
//! command.

use super::conn::Conn;
use super::dialogue::{Caps, Checked, Dialect, Stage, Turn};
use super::{Mechanism, shorten};
use ooauth2::error::{Code, Error, Result};

/// RFC 5034 §4: an AUTH command with its initial response may not exceed
/// 255 octets (CRLF included); a longer one (every real token) waits for
/// the server's empty `+ ` challenge instead.
const POP_MAX_AUTH_LINE: usize = 255;

/// One POP3 status line: `Ok(text)` for `+OK text`, `Err(line)` for `-ERR`
/// (or anything else, which the caller reports).
fn pop_status(line: &str) -> std::result::Result<&str, &str> {
    match line.strip_prefix("+OK") {
        Some(rest) => Ok(rest.trim_start()),
        None => Err(line),
    }
}

/// Sends a POP3 command and reads its one status line.
fn pop_command(conn: &mut Conn, cmd: &str) -> Result<String> {
    conn.send(cmd, None)?;
    conn.read_line()
}

/// The mechanisms of CAPA's `SASL` line, upper-cased, if it has one; reads
/// the listing up to its closing `.`.
fn capa_sasl(conn: &mut Conn) -> Result<Option<String>> {
    let mut sasl_line = None;
    loop {
        let line = conn.read_line()?;
        if line == "." {
            return Ok(sasl_line);
        }
        let upper = line.to_ascii_uppercase();
        if let Some(mechs) = upper.strip_prefix("SASL ") {
            sasl_line = Some(mechs.to_string());
        }
    }
}

/// What a line during AUTH means at `stage`: a bare `+` asks for the
/// string, `+ ` with text is the error challenge, and once that is answered
/// the next line is the verdict whatever it says.
fn auth_turn(line: &str, stage: Stage) -> Turn {
    if stage == Stage::Waiting && line.trim_end() == "+" {
        return Turn::Ready;
    }
    if stage != Stage::Challenged
        && let Some(rest) = line.strip_prefix("+ ")
    {
        return Turn::Challenge(rest.trim().to_string());
    }
    match pop_status(line) {
        Ok(_) => Turn::Accepted,
        Err(reply) => Turn::Refused(reply.to_string()),
    }
}

/// The message count and size of a STAT answer's text.
fn stat_counts(text: &str) -> Option<(u64, u64)> {
    let mut words = text.split(' ');
    let n = words.next()?.parse().ok()?;
    let size = words.next()?.parse().ok()?;
    Some((n, size))
}

/// The POP3 dialect.
pub(super) struct Pop;

impl Dialect for Pop {
    fn greet(&mut self, conn: &mut Conn) -> Result<()> {
        let greeting = conn.read_line()?;
        if pop_status(&greeting).is_ok() {
            return Ok(());
        }
        let (code, did) = if greeting.starts_with("-ERR") {
            (Code::NetworkError, "turned the connection away:")
        } else {
            (Code::BadResponse, "did not greet as a POP3 server:")
        };
        Err(conn
            .unexpected(code, did, &greeting)
            .hint("check --port (POP3: 995 with implicit TLS, 110 with STLS) and --tls"))
    }

    fn starttls(&mut self, conn: &mut Conn) -> Result<()> {
        let r = pop_command(conn, "STLS")?;
        if let Err(r) = pop_status(&r) {
            return Err(Error::new(
                Code::ProviderError,
                format!("{} refused STLS: {}", conn.target.at(), shorten(r)),
            )
            .hint("try --tls implicit (port 995); ooauth2 never sends a token without TLS"));
        }
        Ok(())
    }

    /// CAPA is optional (RFC 2449): without it, nothing is known about SASL.
    fn capabilities(&mut self, conn: &mut Conn) -> Result<Caps> {
        let mut advertised = true;
        let capa = pop_command(conn, "CAPA")?;
        if pop_status(&capa).is_ok() {
            let mech = conn.target.mechanism.name();
            advertised = capa_sasl(conn)?.is_some_and(|m| m.split(' ').any(|w| w == mech));
        }
        Ok(Caps {
            advertised,
            initial_response: true,
        })
    }

    fn max_auth_line(&self) -> usize {
        POP_MAX_AUTH_LINE
    }

    fn auth_command(&mut self, mech: Mechanism) -> String {
        format!("AUTH {}", mech.name())
    }

    fn turn(&mut self, conn: &mut Conn, stage: Stage) -> Result<Turn> {
        Ok(auth_turn(&conn.read_line()?, stage))
    }

    fn check(&mut self, conn: &mut Conn) -> Result<Checked> {
        let stat = pop_command(conn, "STAT")?;
        let text = match pop_status(&stat) {
            Ok(text) => text,
            Err(reply) => {
                return Ok(Checked::Refused {
                    what: "STAT after a successful AUTH",
                    reply: reply.to_string(),
                });
            }
        };
        let Some((n, size)) = stat_counts(text) else {
            return Err(conn.unexpected(Code::BadResponse, "answered STAT with", &stat));
        };
        conn.report
            .step(&format!("stat ok ({n} message(s), {size} octets)"));
        Ok(Checked::Passed(format!(", {n} message(s) in the mailbox")))
    }

    fn quit(&mut self, conn: &mut Conn) {
        if conn.send("QUIT", None).is_ok() {
            let _ = conn.read_line();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pop_status_lines() {
        assert_eq!(pop_status("+OK 2 320"), Ok("2 320"));
        assert_eq!(pop_status("+OK"), Ok(""));
        assert_eq!(pop_status("-ERR [AUTH] no"), Err("-ERR [AUTH] no"));
        assert_eq!(
            pop_status("+ eyJzdGF0dXMiOiI0MDEifQ=="),
            Err("+ eyJzdGF0dXMiOiI0MDEifQ==")
        );
    }

    #[test]
    fn auth_lines_follow_the_stage() {
        assert_eq!(auth_turn("+ ", Stage::Waiting), Turn::Ready);
        assert_eq!(
            auth_turn("+ eyJ9", Stage::Waiting),
            Turn::Challenge("eyJ9".into())
        );
        assert_eq!(auth_turn("+", Stage::Sent), Turn::Refused("+".into()));
        assert_eq!(
            auth_turn("+ eyJ9", Stage::Challenged),
            Turn::Refused("+ eyJ9".into())
        );
        assert_eq!(auth_turn("+OK logged in", Stage::Sent), Turn::Accepted);
    }

    #[test]
    fn stat_answers() {
        assert_eq!(stat_counts("2 320"), Some((2, 320)));
        assert_eq!(stat_counts("2"), None);
        assert_eq!(stat_counts("two 320"), None);
    }
}
