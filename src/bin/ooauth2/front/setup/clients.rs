//! The lines `ooauth2 setup` prints for the mail clients, for one named
//! account: msmtp, mbsync and neomutt, each with the servers and ports the
//! provider uses, in the form of the files in contrib/ (which the test
//! suite runs against a real Dovecot). The one place these lines are made.
//! How TLS starts follows the port as `ooauth2 test` has it
//! ([`Tls::for_port`]), so the lines and `--test` agree.

use crate::mailtest::{Service, Tls};

/// A mail server: host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Its host name.
    pub host: String,
    /// Its port.
    pub port: u16,
}

/// Stands for a server only the user knows (provider generic).
const UNKNOWN: &str = "MAIL-SERVER";

/// Every client's lines for account `name` of `user`, with the IMAP and
/// SMTP servers (placeholders where they are not known).
pub fn lines(name: &str, user: &str, imap: Option<&Server>, smtp: Option<&Server>) -> String {
    let imap = imap.cloned().unwrap_or(Server {
        host: UNKNOWN.into(),
        port: 993,
    });
    let smtp = smtp.cloned().unwrap_or(Server {
        host: UNKNOWN.into(),
        port: 587,
    });
    format!(
        "{}\n{}\n{}",
        msmtp(name, user, &smtp),
        mbsync(name, user, &imap),
        neomutt(name, user, &imap, &smtp)
    )
}

/// The command a mail client runs for the token.
fn token_command(name: &str) -> String {
    format!("ooauth2 token {name}")
}

/// msmtp: XOAUTH2 (msmtp sends it after the server's 334, so a long token
/// fits every server's line limit), STARTTLS but on 465.
fn msmtp(name: &str, user: &str, smtp: &Server) -> String {
    let starttls = match Tls::for_port(Service::Smtp, smtp.port) {
        Tls::Implicit => "off",
        Tls::Starttls => "on",
    };
    format!(
        "# ~/.msmtprc\n\
         account {name}\n\
         host {host}\n\
         port {port}\n\
         tls on\n\
         tls_starttls {starttls}\n\
         auth xoauth2\n\
         from {user}\n\
         user {user}\n\
         passwordeval \"{cmd}\"\n",
        host = smtp.host,
        port = smtp.port,
        cmd = token_command(name),
    )
}

/// mbsync: the account, its store, and INBOX synced into ~/Mail/NAME.
fn mbsync(name: &str, user: &str, imap: &Server) -> String {
    let tls = match Tls::for_port(Service::Imap, imap.port) {
        Tls::Implicit => "IMAPS",
        Tls::Starttls => "STARTTLS",
    };
    format!(
        "# ~/.mbsyncrc (mbsync needs a Cyrus SASL XOAUTH2 plugin, on Debian\n\
         # libsasl2-modules-kdexoauth2; then: mkdir -p ~/Mail/{name} && mbsync {name})\n\
         IMAPAccount {name}\n\
         Host {host}\n\
         Port {port}\n\
         User {user}\n\
         AuthMechs XOAUTH2\n\
         PassCmd \"{cmd}\"\n\
         SSLType {tls}\n\
         \n\
         IMAPStore {name}-remote\n\
         Account {name}\n\
         \n\
         MaildirStore {name}-local\n\
         Path ~/Mail/{name}/\n\
         Inbox ~/Mail/{name}/INBOX\n\
         SubFolders Verbatim\n\
         \n\
         Channel {name}\n\
         Far :{name}-remote:\n\
         Near :{name}-local:\n\
         Patterns INBOX\n\
         Create Near\n\
         SyncState *\n",
        host = imap.host,
        port = imap.port,
        cmd = token_command(name),
    )
}

/// neomutt: IMAP and SMTP with XOAUTH2; --non-interactive so that a
/// needed sign-in never draws over neomutt's screen.
fn neomutt(name: &str, user: &str, imap: &Server, smtp: &Server) -> String {
    let imap_scheme = match Tls::for_port(Service::Imap, imap.port) {
        Tls::Implicit => "imaps",
        Tls::Starttls => "imap",
    };
    let smtp_scheme = match Tls::for_port(Service::Smtp, smtp.port) {
        Tls::Implicit => "smtps",
        Tls::Starttls => "smtp",
    };
    format!(
        "# ~/.config/neomutt/neomuttrc\n\
         set from = \"{user}\"\n\
         set imap_user = \"{user}\"\n\
         set folder = \"{imap_scheme}://{ihost}:{iport}/\"\n\
         set spool_file = \"+INBOX\"\n\
         set imap_authenticators = \"xoauth2\"\n\
         set imap_oauth_refresh_command = \"{cmd} --non-interactive\"\n\
         set smtp_url = \"{smtp_scheme}://{shost}:{sport}/\"\n\
         set smtp_user = \"{user}\"\n\
         set smtp_authenticators = \"xoauth2\"\n\
         set smtp_oauth_refresh_command = \"{cmd} --non-interactive\"\n\
         set ssl_force_tls = yes\n",
        ihost = imap.host,
        iport = imap.port,
        shost = smtp.host,
        sport = smtp.port,
        cmd = token_command(name),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(host: &str, port: u16) -> Server {
        Server {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn ports_choose_the_tls_of_each_client() {
        let s = lines(
            "g",
            "me@gmail.com",
            Some(&server("imap.gmail.com", 993)),
            Some(&server("smtp.gmail.com", 465)),
        );
        assert!(s.contains("host smtp.gmail.com\nport 465\ntls on\ntls_starttls off\n"));
        assert!(s.contains("passwordeval \"ooauth2 token g\"\n"));
        assert!(s.contains("PassCmd \"ooauth2 token g\"\nSSLType IMAPS\n"));
        assert!(s.contains("set smtp_url = \"smtps://smtp.gmail.com:465/\"\n"));
        assert!(s.contains("set folder = \"imaps://imap.gmail.com:993/\"\n"));
        let s = lines("w", "u@x.org", Some(&server("h", 143)), None);
        assert!(s.contains("SSLType STARTTLS\n") && s.contains("imap://h:143/"));
        assert!(s.contains("host MAIL-SERVER\nport 587\ntls on\ntls_starttls on\n"));
    }
}
