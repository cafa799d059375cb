//! SMTP's words for the login dialogue (RFC 5321, RFC 3207 STARTTLS,
//! RFC 4954 AUTH): numbered, possibly multi-line replies, EHLO before and
//! after STARTTLS, AUTH without an initial response; a successful AUTH is
//! the whole test (nothing is sent).

use super::Mechanism;
use super::conn::Conn;
use super::dialogue::{Caps, Checked, Dialect, Stage, Turn};
use ooauth2::error::{Code, Error, Result};

/// The name sent with EHLO.
const EHLO_NAME: &str = "localhost";

/// One SMTP reply: its code and the text of each line.
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    /// The reply as messages quote it.
    fn text(&self) -> String {
        format!("{} {}", self.code, self.lines.join(" / "))
    }
}

/// Reads one (possibly multi-line) SMTP reply.
fn smtp_reply(conn: &mut Conn) -> Result<Reply> {
    let mut lines = Vec::new();
    loop {
        let line = conn.read_line()?;
        let code = line
            .get(..3)
            .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|c| c.parse::<u16>().ok());
        let Some(code) = code else {
            return Err(conn
                .unexpected(
                    Code::BadResponse,
                    "did not answer as an SMTP server:",
                    &line,
                )
                .hint("check --port (SMTP: 587 with STARTTLS, 465 with implicit TLS) and --tls"));
        };
        let more = line.as_bytes().get(3) == Some(&b'-');
        lines.push(line.get(4..).unwrap_or("").to_string());
        if !more {
            return Ok(Reply { code, lines });
        }
        if lines.len() > 1000 {
            return Err(Error::new(
                Code::BadResponse,
                format!("{} sent a reply of over 1000 lines", conn.target.at()),
            ));
        }
    }
}

/// Sends EHLO; returns the extension lines, upper-cased.
fn ehlo(conn: &mut Conn) -> Result<Vec<String>> {
    conn.send(&format!("EHLO {EHLO_NAME}"), None)?;
    let r = smtp_reply(conn)?;
    if r.code != 250 {
        return Err(Error::new(
            Code::ProviderError,
            format!("{} refused EHLO: {}", conn.target.at(), r.text()),
        ));
    }
    Ok(r.lines
        .iter()
        .skip(1)
        .map(|l| l.to_ascii_uppercase())
        .collect())
}

/// What a reply during AUTH means at `stage`: a 334 first asks for the
/// string, the next one is the error challenge; only 235 logs in.
fn auth_turn(reply: &Reply, stage: Stage) -> Turn {
    match (reply.code, stage) {
        (334, Stage::Waiting) => Turn::Ready,
        (334, Stage::Sent) => Turn::Challenge(reply.lines.join("")),
        (235, _) => Turn::Accepted,
        _ => Turn::Refused(reply.text()),
    }
}

/// The SMTP dialect.
pub(super) struct Smtp;

impl Dialect for Smtp {
    fn greet(&mut self, conn: &mut Conn) -> Result<()> {
        let greeting = smtp_reply(conn)?;
        if greeting.code != 220 {
            return Err(Error::new(
                Code::NetworkError,
                format!(
                    "{} turned the connection away: {}",
                    conn.target.at(),
                    greeting.text()
                ),
            ));
        }
        Ok(())
    }

    /// The EHLO before TLS, only to learn that STARTTLS is offered.
    fn starttls(&mut self, conn: &mut Conn) -> Result<()> {
        let at = conn.target.at();
        if !ehlo(conn)?.iter().any(|e| e == "STARTTLS") {
            return Err(
                Error::new(Code::ProviderError, format!("{at} does not offer STARTTLS"))
                    .hint("try --tls implicit (port 465); ooauth2 never sends a token without TLS"),
            );
        }
        conn.send("STARTTLS", None)?;
        let r = smtp_reply(conn)?;
        if r.code != 220 {
            return Err(Error::new(
                Code::ProviderError,
                format!("{at} refused STARTTLS: {}", r.text()),
            ));
        }
        Ok(())
    }

    fn capabilities(&mut self, conn: &mut Conn) -> Result<Caps> {
        let mech = conn.target.mechanism.name();
        let advertised = ehlo(conn)?.iter().any(|e| {
            let mut words = e.split([' ', '=']);
            words.next() == Some("AUTH") && words.any(|w| w == mech)
        });
        // As Microsoft documents it: AUTH, an empty 334 challenge, the string.
        Ok(Caps {
            advertised,
            initial_response: false,
        })
    }

    fn auth_command(&mut self, mech: Mechanism) -> String {
        format!("AUTH {}", mech.name())
    }

    fn turn(&mut self, conn: &mut Conn, stage: Stage) -> Result<Turn> {
        Ok(auth_turn(&smtp_reply(conn)?, stage))
    }

    fn check(&mut self, _conn: &mut Conn) -> Result<Checked> {
        Ok(Checked::Passed(String::new()))
    }

    fn quit(&mut self, conn: &mut Conn) {
        if conn.send("QUIT", None).is_ok() {
            let _ = smtp_reply(conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply of `code` with `lines`.
    fn reply(code: u16, lines: &[&str]) -> Reply {
        let lines = lines.iter().map(|l| l.to_string()).collect();
        Reply { code, lines }
    }

    #[test]
    fn auth_replies_follow_the_stage() {
        assert_eq!(auth_turn(&reply(334, &[""]), Stage::Waiting), Turn::Ready);
        assert_eq!(
            auth_turn(&reply(334, &["eyJ9"]), Stage::Sent),
            Turn::Challenge("eyJ9".into())
        );
        assert_eq!(
            auth_turn(&reply(334, &["eyJ9"]), Stage::Challenged),
            Turn::Refused("334 eyJ9".into())
        );
        assert_eq!(auth_turn(&reply(235, &["ok"]), Stage::Sent), Turn::Accepted);
        assert_eq!(
            auth_turn(&reply(535, &["5.7.8 no", "really"]), Stage::Sent),
            Turn::Refused("535 5.7.8 no / really".into())
        );
    }
}
