//! THE table of mail server refusals that say more than "bad token":
//! Microsoft 365's enhanced status codes (SMTP AUTH turned off, security
//! defaults, a token for the wrong mailbox, one too close to expiry), each
//! with what it means and the real fix. Signing in again fixes none of the
//! ones only an administrator can lift, so the hint says who must act.

/// What a refusal means and its fix, for `user`'s login.
pub(super) struct Decoded {
    /// What the server's words mean, for the message.
    pub(super) meaning: &'static str,
    /// What to do, for the hint.
    pub(super) fix: String,
    /// Whether the usual fixes (refresh, sign in again) may help too.
    pub(super) token_related: bool,
}

/// One row of the table: the enhanced status code, words the reply must
/// hold too (lower case), the meaning, the fix (`USER` stands for the
/// mailbox) and whether the token may be at fault.
struct Row {
    code: &'static str,
    words: Option<&'static str>,
    meaning: &'static str,
    fix: &'static str,
    token_related: bool,
}

/// The rows, the more specific of one code first.
const ROWS: &[Row] = &[
    Row {
        code: "5.7.139",
        words: Some("security defaults"),
        meaning: "the organisation's security defaults turn SMTP AUTH off; the token is fine",
        fix: "only an administrator can change this: turn security defaults off (Microsoft \
              Entra admin center > Overview > Properties > Manage security defaults) and \
              protect sign-ins with Conditional Access instead; signing in again will not help",
        token_related: false,
    },
    Row {
        code: "5.7.139",
        words: None,
        meaning: "authenticated SMTP (SMTP AUTH) is turned off for this mailbox or the whole \
                  organisation; the token is fine",
        fix: "only an Exchange administrator can change this: turn Authenticated SMTP on for \
              USER (Microsoft 365 admin center > Users > Active users > USER > Mail > Manage \
              email apps), or run Set-CASMailbox -Identity USER \
              -SmtpClientAuthenticationDisabled $false (for the whole organisation: \
              Set-TransportConfig -SmtpClientAuthenticationDisabled $false); signing in again \
              will not help",
        token_related: false,
    },
    Row {
        code: "5.5.127",
        words: None,
        meaning: "the server wants a token with at least 10 minutes left",
        fix: "retry with --min-ttl 600, and give the mail client's token command --min-ttl 600 \
              too (ooauth2 token ... --min-ttl 600)",
        token_related: false,
    },
    Row {
        code: "5.7.3",
        words: None,
        meaning: "Microsoft 365 did not take the token for this mailbox",
        fix: "check that USER is the mailbox the account signed in as and that its scope holds \
              https://outlook.office.com/SMTP.Send; if both are right, an administrator may \
              have turned Authenticated SMTP off for USER",
        token_related: true,
    },
    Row {
        code: "5.7.57",
        words: None,
        meaning: "the server did not take the login before mail was to be sent",
        fix: "use the submission port 587 with STARTTLS (smtp.office365.com), with the mail \
              client set to authenticate (msmtp: auth xoauth2); if it does, an administrator \
              may have turned Authenticated SMTP off for USER",
        token_related: true,
    },
];

/// The decoded meaning of a server's `reply` to `user`'s login, if the
/// table knows its code.
pub(super) fn decode(reply: &str, user: &str) -> Option<Decoded> {
    let lower = reply.to_ascii_lowercase();
    let has = |code: &str| {
        reply
            .split(|c: char| c.is_whitespace() || c == '/')
            .any(|w| w == code)
    };
    let row = ROWS
        .iter()
        .find(|r| has(r.code) && r.words.is_none_or(|w| lower.contains(w)))?;
    Some(Decoded {
        meaning: row.meaning,
        fix: row.fix.replace("USER", user),
        token_related: row.token_related,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_enhanced_status_code_picks_the_row() {
        let u = "me@contoso.com";
        let off = decode(
            "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.",
            u,
        )
        .unwrap();
        assert!(
            off.meaning
                .starts_with("authenticated SMTP (SMTP AUTH) is turned off")
        );
        assert!(off.fix.contains("Set-CASMailbox -Identity me@contoso.com"));
        let defaults = decode(
            "535 5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults policy.",
            u,
        )
        .unwrap();
        assert!(defaults.meaning.contains("security defaults"));
        let soon = decode(
            "501 5.5.127 Invalid XOAUTH2 auth data - Token will expire soon",
            u,
        );
        assert!(soon.unwrap().fix.contains("--min-ttl 600"));
        assert!(
            decode("535 5.7.3 Authentication unsuccessful", u)
                .unwrap()
                .token_related
        );
        assert!(decode("530 5.7.57 Client not authenticated to send mail", u).is_some());
        // A code inside another one is not it.
        assert!(decode("535 5.7.30 no", u).is_none());
        assert!(decode("NO [AUTHENTICATIONFAILED] Invalid credentials", u).is_none());
    }
}
