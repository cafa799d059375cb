//! `ooauth2 test imap|pop|smtp`: logs in to the real mail server with a token
//! the engine handed out, over TLS, and says which step failed and why.
//!
//! The dialogues are spoken by hand so that every reply can be reported:
//! IMAP: greeting, (STARTTLS,) CAPABILITY, AUTHENTICATE, `LIST "" "INBOX"`
//! (some servers accept a token that does not match the mailbox and only
//! fail the first real command), LOGOUT. POP3: greeting, (STLS,) CAPA, AUTH
//! (RFC 5034), STAT (for the same reason as IMAP's LIST), QUIT. SMTP:
//! greeting, EHLO, (STARTTLS, EHLO,) AUTH, QUIT. On a refused token the
//! server's base64 JSON error
//! challenge is decoded and answered as each mechanism requires (XOAUTH2: an
//! empty response; OAUTHBEARER: `%x01`, RFC 7628 §3.2.3).
//!
//! The sequence is written once (dialogue.rs) over the connection
//! (conn.rs); imap.rs, pop.rs and smtp.rs say only what their protocol
//! words differently; answers.rs decodes the refusals that name their
//! cause (Microsoft 365's). This file is what the command line sees.
//!
//! The token and the SASL string go to the socket and nowhere else: not in a
//! message, not in the `--verbose` transcript. No HTTP here; the caller gets
//! the token from the engine.

mod answers;
mod conn;
mod dialogue;
mod imap;
mod pop;
mod smtp;

use ooauth2::error::{Result, one_line};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// Which server to log in to.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// IMAP (port 993, TLS from the start).
    Imap,
    /// POP3 (port 995, TLS from the start).
    Pop,
    /// SMTP submission (port 587 with STARTTLS, or 465 with TLS from the start).
    Smtp,
}

impl Service {
    /// The protocol's name in messages.
    pub fn label(self) -> &'static str {
        match self {
            Service::Imap => "IMAP",
            Service::Pop => "POP3",
            Service::Smtp => "SMTP",
        }
    }

    /// The mail protocol, for the provider's table of servers
    /// (`Provider::mail_server`).
    pub fn protocol(self) -> ooauth2::provider::MailProtocol {
        use ooauth2::provider::MailProtocol;
        match self {
            Service::Imap => MailProtocol::Imap,
            Service::Pop => MailProtocol::Pop,
            Service::Smtp => MailProtocol::Smtp,
        }
    }

    /// The standard port of this protocol (RFC 8314 for IMAP and POP3,
    /// RFC 6409 submission for SMTP), for a server given with `--host`.
    pub fn default_port(self) -> u16 {
        match self {
            Service::Imap => 993,
            Service::Pop => 995,
            Service::Smtp => 587,
        }
    }
}

/// The SASL mechanism.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mechanism {
    /// Microsoft's and Google's XOAUTH2 (the one Microsoft documents).
    #[default]
    Xoauth2,
    /// RFC 7628 OAUTHBEARER.
    Oauthbearer,
}

impl Mechanism {
    /// The library's mechanism: the one home of the wire names and answers.
    fn core(self) -> ooauth2::config::Mechanism {
        match self {
            Mechanism::Xoauth2 => ooauth2::config::Mechanism::Xoauth2,
            Mechanism::Oauthbearer => ooauth2::config::Mechanism::Oauthbearer,
        }
    }

    /// The name on the wire.
    pub fn name(self) -> &'static str {
        self.core().name()
    }

    /// How the transcript shows that answer.
    fn abort_shown(self) -> &'static str {
        match self {
            Mechanism::Xoauth2 => "(empty response)",
            Mechanism::Oauthbearer => "AQ== (0x01)",
        }
    }

    /// The client's answer to the server's error challenge.
    fn abort_answer(self) -> &'static str {
        self.core().abort_answer()
    }
}

/// How TLS starts.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// TLS from the first byte (IMAPS 993, POP3S 995, SMTPS 465).
    Implicit,
    /// Plain first, then STARTTLS (IMAP 143, POP3 110 with STLS, submission 587).
    Starttls,
}

impl Tls {
    /// The TLS a port usually speaks; for other ports, the service's default.
    pub fn for_port(service: Service, port: u16) -> Tls {
        match port {
            993 | 995 | 465 => Tls::Implicit,
            143 | 110 | 587 | 25 => Tls::Starttls,
            _ => match service {
                Service::Imap | Service::Pop => Tls::Implicit,
                Service::Smtp => Tls::Starttls,
            },
        }
    }

    /// How messages name it.
    fn label(self) -> &'static str {
        match self {
            Tls::Implicit => "implicit TLS",
            Tls::Starttls => "STARTTLS",
        }
    }
}

/// Where and how to log in.
#[derive(Debug, Clone)]
pub struct Target {
    /// The protocol spoken.
    pub service: Service,
    /// The server's name or address (the certificate must hold it).
    pub host: String,
    /// The server's port.
    pub port: u16,
    /// How TLS starts.
    pub tls: Tls,
    /// The SASL mechanism the token is sent with.
    pub mechanism: Mechanism,
    /// A PEM file of extra CA certificates (private servers, tests).
    pub ca_file: Option<PathBuf>,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// How long each read or write may take.
    pub timeout: Duration,
}

impl Target {
    /// `host:port` as messages show it (an IPv6 address in brackets).
    fn at(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Who logs in. `token` is secret: it is only ever written to the socket.
pub struct Login<'a> {
    /// The mailbox logging in.
    pub user: &'a str,
    /// The access token.
    pub token: &'a str,
    /// What to do when the server refuses the token (commands to run).
    pub fix: String,
}

/// Where the steps go: one line each; with `verbose`, the dialogue too,
/// the SASL string replaced by a placeholder.
pub struct Report<'a> {
    /// Where the lines go (stderr).
    pub out: &'a mut dyn Write,
    /// Whether the dialogue is shown too.
    pub verbose: bool,
}

impl Report<'_> {
    /// One step's line.
    fn step(&mut self, line: &str) {
        let _ = writeln!(self.out, "{line}");
    }

    /// One line of the dialogue, shown with `verbose` only.
    fn wire(&mut self, dir: &str, line: &str) {
        if self.verbose {
            let _ = writeln!(self.out, "  {dir} {}", one_line(line));
        }
    }
}

/// Connects, starts TLS, authenticates and (IMAP) lists INBOX, reporting
/// each step; returns the one-line summary of a success.
pub fn run(target: &Target, login: &Login, report: &mut Report) -> Result<String> {
    match target.service {
        Service::Imap => dialogue::run(&mut imap::Imap::default(), target, login, report),
        Service::Pop => dialogue::run(&mut pop::Pop, target, login, report),
        Service::Smtp => dialogue::run(&mut smtp::Smtp, target, login, report),
    }
}

/// A server's text cut to a length a message can hold.
fn shorten(s: &str) -> String {
    ooauth2::error::shorten(s, 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_follows_the_port() {
        assert_eq!(Tls::for_port(Service::Pop, 995), Tls::Implicit);
        assert_eq!(Tls::for_port(Service::Pop, 110), Tls::Starttls);
        assert_eq!(Tls::for_port(Service::Pop, 10995), Tls::Implicit);
        assert_eq!(Tls::for_port(Service::Smtp, 465), Tls::Implicit);
        assert_eq!(Tls::for_port(Service::Smtp, 587), Tls::Starttls);
        assert_eq!(Tls::for_port(Service::Imap, 143), Tls::Starttls);
        assert_eq!(Tls::for_port(Service::Imap, 10993), Tls::Implicit);
        assert_eq!(Tls::for_port(Service::Smtp, 10587), Tls::Starttls);
    }
}
