//! The mail servers a provider preset knows, per protocol (for `ooauth2
//! test` and, later, the proxy's presets).

use super::Provider;

/// A mail protocol whose server a provider preset knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailProtocol {
    /// IMAP (RFC 3501).
    Imap,
    /// POP3 (RFC 1939).
    Pop,
    /// SMTP submission (RFC 6409).
    Smtp,
}

impl Provider {
    /// The provider's own server and port for a mail protocol, as its
    /// documentation gives them: IMAP on 993 and POP3 on 995 with TLS from
    /// the start; SMTP on 587 with STARTTLS at Microsoft (which does not
    /// answer on 465), on 465 with TLS from the start elsewhere (RFC 8314
    /// prefers it; all four document it). `None` for `generic`, whose
    /// servers only the user knows. The one table of mail hosts.
    pub fn mail_server(self, protocol: MailProtocol) -> Option<(&'static str, u16)> {
        use MailProtocol::{Imap, Pop, Smtp};
        Some(match (self, protocol) {
            (Provider::Microsoft, Imap) => ("outlook.office365.com", 993),
            (Provider::Microsoft, Pop) => ("outlook.office365.com", 995),
            (Provider::Microsoft, Smtp) => ("smtp.office365.com", 587),
            (Provider::MicrosoftUs, Imap) => ("outlook.office365.us", 993),
            (Provider::MicrosoftUs, Pop) => ("outlook.office365.us", 995),
            (Provider::MicrosoftUs, Smtp) => ("smtp.office365.us", 587),
            (Provider::MicrosoftChina, Imap) => ("partner.outlook.cn", 993),
            (Provider::MicrosoftChina, Pop) => ("partner.outlook.cn", 995),
            (Provider::MicrosoftChina, Smtp) => ("smtp.partner.outlook.cn", 587),
            (Provider::Google, Imap) => ("imap.gmail.com", 993),
            (Provider::Google, Pop) => ("pop.gmail.com", 995),
            (Provider::Google, Smtp) => ("smtp.gmail.com", 465),
            (Provider::Yahoo, Imap) => ("imap.mail.yahoo.com", 993),
            (Provider::Yahoo, Pop) => ("pop.mail.yahoo.com", 995),
            (Provider::Yahoo, Smtp) => ("smtp.mail.yahoo.com", 465),
            (Provider::Aol, Imap) => ("imap.aol.com", 993),
            (Provider::Aol, Pop) => ("pop.aol.com", 995),
            (Provider::Aol, Smtp) => ("smtp.aol.com", 465),
            (Provider::Fastmail, Imap) => ("imap.fastmail.com", 993),
            (Provider::Fastmail, Pop) => ("pop.fastmail.com", 995),
            (Provider::Fastmail, Smtp) => ("smtp.fastmail.com", 465),
            (Provider::Generic, _) => return None,
        })
    }
}

/// The mail domains of a provider's own accounts, the country variants
/// (`hotmail.co.uk`, `yahoo.fr`) matched by the first label.
const DOMAINS: &[(&str, Provider)] = &[
    ("gmail", Provider::Google),
    ("googlemail", Provider::Google),
    ("outlook", Provider::Microsoft),
    ("hotmail", Provider::Microsoft),
    ("live", Provider::Microsoft),
    ("msn", Provider::Microsoft),
    ("yahoo", Provider::Yahoo),
    ("ymail", Provider::Yahoo),
    ("aol", Provider::Aol),
    ("fastmail", Provider::Fastmail),
];

impl Provider {
    /// The provider whose own accounts have the address's domain
    /// (`me@gmail.com`: google), for `ooauth2 setup` to offer; `None` for
    /// any other domain, a company's own on Microsoft 365 or Google
    /// Workspace included: only its owner knows.
    pub fn of_address(address: &str) -> Option<Provider> {
        let domain = address.rsplit_once('@')?.1.to_ascii_lowercase();
        let (first, rest) = domain.split_once('.')?;
        // A country's suffix (com, fr, co.uk, com.au), not a subdomain.
        let suffix =
            rest.split('.').count() <= 2 && rest.split('.').all(|l| (2..=3).contains(&l.len()));
        let (_, provider) = DOMAINS.iter().find(|(d, _)| *d == first)?;
        suffix.then_some(*provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_of_addresses() {
        let of = Provider::of_address;
        assert_eq!(of("me@gmail.com"), Some(Provider::Google));
        assert_eq!(of("Me@Hotmail.co.uk"), Some(Provider::Microsoft));
        assert_eq!(of("me@outlook.com"), Some(Provider::Microsoft));
        assert_eq!(of("me@yahoo.fr"), Some(Provider::Yahoo));
        assert_eq!(of("me@aol.com"), Some(Provider::Aol));
        assert_eq!(of("me@fastmail.com"), Some(Provider::Fastmail));
        assert_eq!(of("me@contoso.com"), None);
        assert_eq!(of("me@live.example.org"), None);
        assert_eq!(of("me@gmail"), None);
        assert_eq!(of("nobody"), None);
    }

    #[test]
    fn mail_servers_per_provider() {
        use MailProtocol::{Imap, Pop, Smtp};
        let ms = Provider::Microsoft;
        assert_eq!(ms.mail_server(Imap), Some(("outlook.office365.com", 993)));
        assert_eq!(ms.mail_server(Pop), Some(("outlook.office365.com", 995)));
        assert_eq!(ms.mail_server(Smtp), Some(("smtp.office365.com", 587)));
        assert_eq!(
            Provider::MicrosoftUs.mail_server(Smtp),
            Some(("smtp.office365.us", 587))
        );
        assert_eq!(
            Provider::MicrosoftChina.mail_server(Pop),
            Some(("partner.outlook.cn", 995))
        );
        assert_eq!(
            Provider::Google.mail_server(Pop),
            Some(("pop.gmail.com", 995))
        );
        assert_eq!(
            Provider::Yahoo.mail_server(Imap),
            Some(("imap.mail.yahoo.com", 993))
        );
        assert_eq!(Provider::Aol.mail_server(Smtp), Some(("smtp.aol.com", 465)));
        assert_eq!(
            Provider::Fastmail.mail_server(Imap),
            Some(("imap.fastmail.com", 993))
        );
        for p in Provider::ALL {
            for proto in [Imap, Pop, Smtp] {
                match p.mail_server(proto) {
                    None => assert_eq!(p, Provider::Generic),
                    Some((host, port)) => {
                        // Each host belongs to its provider's own domain.
                        let domain = match p {
                            Provider::Microsoft => "office365.com",
                            Provider::MicrosoftUs => "office365.us",
                            Provider::MicrosoftChina => "outlook.cn",
                            Provider::Google => "gmail.com",
                            Provider::Yahoo => "yahoo.com",
                            Provider::Aol => "aol.com",
                            Provider::Fastmail => "fastmail.com",
                            Provider::Generic => unreachable!(),
                        };
                        assert!(host.ends_with(domain), "{host}");
                        let want: &[u16] = match proto {
                            Imap => &[993],
                            Pop => &[995],
                            Smtp if p.is_microsoft() => &[587],
                            Smtp => &[465],
                        };
                        assert!(want.contains(&port), "{p:?} {proto:?} {port}");
                    }
                }
            }
        }
    }
}
