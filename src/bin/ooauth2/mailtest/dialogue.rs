//! The one login dialogue every protocol follows: greeting, STARTTLS when
//! asked, capabilities, SASL authentication (initial response where the
//! server takes one and it fits; the error challenge decoded and answered),
//! the first real command, goodbye and the summary. A [`Dialect`] says how
//! its protocol words each step; the order, the transcript's redaction and
//! the reading of a refusal are written here once.

use super::answers;
use super::conn::Conn;
use super::{Login, Mechanism, Report, Target, Tls, shorten};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ooauth2::error::{Code, Error, Result};
use ooauth2::sasl;

/// What a dialect learned from the server's capabilities.
pub(super) struct Caps {
    /// The server lists the mechanism (or lists no mechanisms at all).
    pub(super) advertised: bool,
    /// The AUTH command may carry the SASL string itself.
    pub(super) initial_response: bool,
}

/// How far the SASL exchange has come, for reading the next reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// The SASL string has not been sent yet.
    Waiting,
    /// The SASL string has been sent.
    Sent,
    /// The error challenge has been answered.
    Challenged,
}

/// A server reply during authentication, as the dialect reads it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Turn {
    /// The server waits for the SASL string.
    Ready,
    /// The server's base64 error challenge, to be answered with the
    /// mechanism's abort.
    Challenge(String),
    /// A continuation with nothing left to answer: cancel the exchange.
    Cancel,
    /// A line that does not end the exchange (IMAP's untagged ones).
    Other,
    /// Logged in.
    Accepted,
    /// Not logged in: the server's reply as messages quote it.
    Refused(String),
}

/// What the first real command after the login showed.
pub(super) enum Checked {
    /// It worked: what the summary adds.
    Passed(String),
    /// The server refused `what` after all, with `reply`.
    Refused { what: &'static str, reply: String },
}

/// What a protocol says differently; the driver calls these in order.
pub(super) trait Dialect {
    /// Reads the greeting; one that turns us away or is not this protocol's
    /// is an error.
    fn greet(&mut self, conn: &mut Conn) -> Result<()>;
    /// Asks for TLS on the plain connection; the handshake is the driver's.
    fn starttls(&mut self, conn: &mut Conn) -> Result<()>;
    /// Asks for the capabilities (over TLS by now).
    fn capabilities(&mut self, conn: &mut Conn) -> Result<Caps>;
    /// The longest AUTH line with an initial response, CRLF included.
    fn max_auth_line(&self) -> usize {
        usize::MAX
    }
    /// The command that starts authenticating with `mech`.
    fn auth_command(&mut self, mech: Mechanism) -> String;
    /// Reads the server's next reply during authentication.
    fn turn(&mut self, conn: &mut Conn, stage: Stage) -> Result<Turn>;
    /// The first real command: some servers take a token that does not
    /// match the mailbox and only fail this.
    fn check(&mut self, conn: &mut Conn) -> Result<Checked>;
    /// A polite goodbye; the test has already passed, so nothing can fail.
    fn quit(&mut self, conn: &mut Conn);
}

/// The whole dialogue with `target` in `dialect`, reporting each step;
/// returns the one-line summary of a success.
pub(super) fn run(
    dialect: &mut impl Dialect,
    target: &Target,
    login: &Login,
    report: &mut Report,
) -> Result<String> {
    let config = ooauth2::tls::client_config(target.ca_file.as_deref(), "--ca-file")?;
    let mut conn = Conn::open(target, report)?;
    if target.tls == Tls::Implicit {
        conn.start_tls(&config)?;
    }
    dialect.greet(&mut conn)?;
    if target.tls == Tls::Starttls {
        dialect.starttls(&mut conn)?;
        conn.start_tls(&config)?;
    }
    let caps = dialect.capabilities(&mut conn)?;
    authenticate(dialect, &mut conn, login, &caps)?;
    let extra = match dialect.check(&mut conn)? {
        Checked::Passed(extra) => extra,
        Checked::Refused { what, reply } => {
            return Err(refused(&conn, login, what, &reply, None, true));
        }
    };
    dialect.quit(&mut conn);
    Ok(format!(
        "{} login ok: {} at {} with {} over {}{extra}",
        target.service.label(),
        login.user,
        target.at(),
        target.mechanism.name(),
        conn.tls_version.as_deref().unwrap_or("TLS"),
    ))
}

/// The SASL string of the login in the target's mechanism.
fn sasl_string(target: &Target, login: &Login) -> String {
    match target.mechanism {
        Mechanism::Xoauth2 => sasl::xoauth2(login.user, login.token),
        Mechanism::Oauthbearer => sasl::oauthbearer(
            login.user,
            Some(&target.host),
            Some(target.port),
            login.token,
        ),
    }
}

/// The SASL exchange: the string sent (with the command when it may and
/// fits, else when the server asks), an error challenge answered so that
/// the server ends the exchange, the server's verdict reported.
fn authenticate(
    dialect: &mut impl Dialect,
    conn: &mut Conn,
    login: &Login,
    caps: &Caps,
) -> Result<()> {
    let mech = conn.target.mechanism;
    let sasl = sasl_string(conn.target, login);
    let hidden = format!("<{} string, not shown>", mech.name());
    let command = dialect.auth_command(mech);
    let with_ir = format!("{command} {sasl}");
    let mut stage = if caps.initial_response && with_ir.len() + 2 <= dialect.max_auth_line() {
        conn.send(&with_ir, Some(&format!("{command} {hidden}")))?;
        Stage::Sent
    } else {
        conn.send(&command, None)?;
        Stage::Waiting
    };
    let mut challenge = None;
    loop {
        match dialect.turn(conn, stage)? {
            Turn::Ready => {
                conn.send(&sasl, Some(&hidden))?;
                stage = Stage::Sent;
            }
            Turn::Challenge(c) => {
                challenge = Some(c);
                conn.send(mech.abort_answer(), Some(mech.abort_shown()))?;
                stage = Stage::Challenged;
            }
            Turn::Cancel => conn.send("*", None)?,
            Turn::Other => {}
            Turn::Accepted => break,
            Turn::Refused(reply) => {
                let challenge = challenge.as_deref();
                let advertised = caps.advertised;
                return Err(refused(
                    conn,
                    login,
                    "the token",
                    &reply,
                    challenge,
                    advertised,
                ));
            }
        }
    }
    conn.report.step(&format!(
        "authenticate ok ({} as {})",
        mech.name(),
        login.user
    ));
    Ok(())
}

/// A refused login: what the server said, its decoded challenge, and what to do.
fn refused(
    conn: &Conn,
    login: &Login,
    what: &str,
    reply: &str,
    challenge: Option<&str>,
    advertised: bool,
) -> Error {
    let t = conn.target;
    let mut msg = format!(
        "the {} server at {} refused {what} for {}: {}",
        t.service.label(),
        t.at(),
        login.user,
        reply.trim()
    );
    let decoded = challenge.map(describe_challenge);
    if let Some(d) = &decoded {
        msg.push_str(&format!(" (server's reason: {d})"));
    }
    if let Some(known) = answers::decode(reply, login.user) {
        msg.push_str(&format!(": {}", known.meaning));
        let hint = match known.token_related {
            true => format!("{}; {}", known.fix, login.fix),
            false => known.fix,
        };
        return Error::new(Code::AccessDenied, msg).hint(hint);
    }
    let mut hint = String::new();
    if !advertised {
        hint.push_str(&format!(
            "the server does not list {} among its mechanisms; try --mechanism {}; ",
            t.mechanism.name(),
            match t.mechanism {
                Mechanism::Xoauth2 => "oauthbearer",
                Mechanism::Oauthbearer => "xoauth2",
            }
        ));
    } else if decoded
        .as_deref()
        .is_some_and(|d| d.contains("insufficient_scope"))
    {
        hint.push_str("the token lacks the scope for this service; ");
    } else {
        hint.push_str(&format!(
            "the provider revoked the token or expired it early, or it is for another \
             mailbox than {} or lacks the {} scope; ",
            login.user,
            t.service.label()
        ));
    }
    hint.push_str(&login.fix);
    Error::new(Code::AccessDenied, msg).hint(hint)
}

/// The server's base64 error challenge as `key value` pairs (status first),
/// or its text when it is not JSON.
fn describe_challenge(b64: &str) -> String {
    let b64 = b64.trim();
    let Ok(bytes) = STANDARD.decode(b64) else {
        return format!("'{}' (not base64)", shorten(b64));
    };
    let text = String::from_utf8_lossy(&bytes);
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(map)) => {
            let mut pairs: Vec<(&String, &serde_json::Value)> = map.iter().collect();
            pairs.sort_by_key(|(k, _)| (k.as_str() != "status", k.as_str()));
            pairs
                .iter()
                .map(|(k, v)| {
                    let v = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    format!("{k} {}", shorten(&v))
                })
                .collect::<Vec<_>>()
                .join(", ")
        }
        _ => format!("'{}'", shorten(&text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_decoded_status_first() {
        let c = STANDARD
            .encode(r#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#);
        assert_eq!(
            describe_challenge(&c),
            "status 401, schemes bearer, scope https://mail.google.com/"
        );
        let c = STANDARD.encode(r#"{"status":"invalid_token","n":1}"#);
        assert_eq!(describe_challenge(&c), "status invalid_token, n 1");
        assert_eq!(
            describe_challenge(&STANDARD.encode("plain\nwords")),
            "'plain words'"
        );
        assert_eq!(describe_challenge("%%%"), "'%%%' (not base64)");
    }
}
