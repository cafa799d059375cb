//! IMAP's words for the login dialogue (RFC 9051, RFC 3501): tagged
//! commands, literals folded into their line, `AUTHENTICATE` with SASL-IR
//! where the server offers it, `LIST "" "INBOX"` as the real command.

use super::Mechanism;
use super::conn::Conn;
use super::dialogue::{Caps, Checked, Dialect, Stage, Turn};
use ooauth2::error::{Code, Error, Result};

/// The largest IMAP literal read in a response (LIST answers are tiny).
const MAX_LITERAL: usize = 1024 * 1024;

/// The literal length `{N}` or `{N+}` at the end of an IMAP line.
fn literal_len(line: &str) -> Option<usize> {
    let open = line.strip_suffix('}')?.rfind('{')?;
    let n = &line[open + 1..line.len() - 1];
    n.strip_suffix('+').unwrap_or(n).parse().ok()
}

/// `(status, text)` of the tagged line of `tag`.
fn tagged<'l>(line: &'l str, tag: &str) -> Option<(String, &'l str)> {
    let rest = line.strip_prefix(tag)?.strip_prefix(' ')?;
    let (status, text) = rest.split_once(' ').unwrap_or((rest, ""));
    Some((status.to_ascii_uppercase(), text))
}

/// One response line, IMAP literals folded in.
fn line(conn: &mut Conn) -> Result<String> {
    let mut line = conn.read_line()?;
    while let Some(n) = literal_len(&line) {
        if n > MAX_LITERAL {
            return Err(Error::new(
                Code::BadResponse,
                format!("{} sent a literal of {n} bytes", conn.target.at()),
            ));
        }
        let bytes = conn.read_bytes(n)?;
        line.push_str(&String::from_utf8_lossy(&bytes));
        line.push_str(&conn.read_line()?);
    }
    Ok(line)
}

/// What a line during `AUTHENTICATE` (tagged `tag`) means at `stage`.
fn auth_turn(line: &str, tag: &str, stage: Stage) -> Turn {
    if let Some(rest) = line.strip_prefix('+') {
        return match stage {
            Stage::Waiting => Turn::Ready,
            Stage::Sent => Turn::Challenge(rest.trim().to_string()),
            Stage::Challenged => Turn::Cancel,
        };
    }
    if let Some((status, text)) = tagged(line, tag) {
        if status == "OK" {
            return Turn::Accepted;
        }
        return Turn::Refused(format!("{status} {text}"));
    }
    if line.to_ascii_uppercase().starts_with("* BYE") {
        return Turn::Refused(line.to_string());
    }
    Turn::Other
}

/// The IMAP dialect: the tags handed out so far.
#[derive(Default)]
pub(super) struct Imap {
    /// The number of the last tag.
    tag: u32,
    /// The tag of the `AUTHENTICATE` command.
    auth_tag: String,
}

impl Imap {
    /// A fresh tag.
    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("o{}", self.tag)
    }

    /// Sends `cmd`; returns the untagged lines and the tagged status and text.
    fn command(&mut self, conn: &mut Conn, cmd: &str) -> Result<(Vec<String>, String, String)> {
        let tag = self.next_tag();
        conn.send(&format!("{tag} {cmd}"), None)?;
        let mut untagged = Vec::new();
        loop {
            let line = line(conn)?;
            if let Some((status, text)) = tagged(&line, &tag) {
                return Ok((untagged, status, text.to_string()));
            }
            if line.starts_with('+') {
                // Nothing to continue with: cancel.
                conn.send("*", None)?;
            }
            untagged.push(line);
        }
    }
}

impl Dialect for Imap {
    fn greet(&mut self, conn: &mut Conn) -> Result<()> {
        let at = conn.target.at();
        let greeting = conn.read_line()?;
        let upper = greeting.to_ascii_uppercase();
        if upper.starts_with("* BYE") {
            return Err(Error::new(
                Code::NetworkError,
                format!("{at} turned the connection away: {greeting}"),
            ));
        }
        if !(upper.starts_with("* OK") || upper.starts_with("* PREAUTH")) {
            return Err(conn
                .unexpected(
                    Code::BadResponse,
                    "did not greet as an IMAP server:",
                    &greeting,
                )
                .hint("check --port (IMAP: 993 with implicit TLS, 143 with STARTTLS) and --tls"));
        }
        Ok(())
    }

    fn starttls(&mut self, conn: &mut Conn) -> Result<()> {
        let (_, status, text) = self.command(conn, "STARTTLS")?;
        if status != "OK" {
            return Err(Error::new(
                Code::ProviderError,
                format!("{} refused STARTTLS: {status} {text}", conn.target.at()),
            )
            .hint("try --tls implicit (port 993)"));
        }
        Ok(())
    }

    fn capabilities(&mut self, conn: &mut Conn) -> Result<Caps> {
        let (lines, status, text) = self.command(conn, "CAPABILITY")?;
        if status != "OK" {
            return Err(Error::new(
                Code::BadResponse,
                format!(
                    "{} answered CAPABILITY with {status} {text}",
                    conn.target.at()
                ),
            ));
        }
        let caps: Vec<String> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("* CAPABILITY "))
            .flat_map(|l| l.split(' '))
            .map(str::to_ascii_uppercase)
            .collect();
        let auth = format!("AUTH={}", conn.target.mechanism.name());
        Ok(Caps {
            advertised: caps.contains(&auth),
            initial_response: caps.iter().any(|c| c == "SASL-IR"),
        })
    }

    fn auth_command(&mut self, mech: Mechanism) -> String {
        self.auth_tag = self.next_tag();
        format!("{} AUTHENTICATE {}", self.auth_tag, mech.name())
    }

    fn turn(&mut self, conn: &mut Conn, stage: Stage) -> Result<Turn> {
        Ok(auth_turn(&line(conn)?, &self.auth_tag, stage))
    }

    fn check(&mut self, conn: &mut Conn) -> Result<Checked> {
        let (lines, status, text) = self.command(conn, "LIST \"\" \"INBOX\"")?;
        if status != "OK" {
            return Ok(Checked::Refused {
                what: "LIST after a successful AUTHENTICATE",
                reply: format!("{status} {text}"),
            });
        }
        let inbox = lines
            .iter()
            .any(|l| l.to_ascii_uppercase().starts_with("* LIST "));
        let found = if inbox {
            "INBOX found"
        } else {
            "no INBOX listed"
        };
        conn.report.step(&format!("list ok ({found})"));
        Ok(Checked::Passed(format!(", {found}")))
    }

    fn quit(&mut self, conn: &mut Conn) {
        let _ = self.command(conn, "LOGOUT");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imap_lines() {
        assert_eq!(literal_len("* LIST () \"/\" {5}"), Some(5));
        assert_eq!(literal_len("* LIST () \"/\" {5+}"), Some(5));
        assert_eq!(literal_len("* LIST () \"/\" INBOX"), None);
        assert_eq!(
            tagged("o3 NO [AUTHENTICATIONFAILED] no", "o3"),
            Some(("NO".into(), "[AUTHENTICATIONFAILED] no"))
        );
        assert_eq!(tagged("o31 OK", "o3"), None);
        assert_eq!(tagged("o3 ok", "o3"), Some(("OK".into(), "")));
    }

    #[test]
    fn authenticate_lines_follow_the_stage() {
        assert_eq!(auth_turn("+ ", "o2", Stage::Waiting), Turn::Ready);
        assert_eq!(
            auth_turn("+ eyJ9 ", "o2", Stage::Sent),
            Turn::Challenge("eyJ9".into())
        );
        assert_eq!(auth_turn("+", "o2", Stage::Challenged), Turn::Cancel);
        assert_eq!(auth_turn("o2 ok done", "o2", Stage::Sent), Turn::Accepted);
        assert_eq!(
            auth_turn("o2 NO [AUTHENTICATIONFAILED] no", "o2", Stage::Challenged),
            Turn::Refused("NO [AUTHENTICATIONFAILED] no".into())
        );
        assert_eq!(
            auth_turn("* BYE going", "o2", Stage::Sent),
            Turn::Refused("* BYE going".into())
        );
        assert_eq!(
            auth_turn("* CAPABILITY IMAP4rev1", "o2", Stage::Sent),
            Turn::Other
        );
    }
}
