//! An account's identity (provider, authority, tenant, client id, user),
//! how messages name its realm, and THE command that signs it in again,
//! shell-quoted so that it can be pasted whatever the provider called the user.

use crate::provider::{self, Provider};
use std::borrow::Cow;

/// The identity of a stored account: provider + authority + tenant + client
/// id + user. For providers other than Microsoft the authority is the
/// preset's (or the given) base, or the token endpoint (or issuer) of
/// `generic`, and the tenant is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The provider preset.
    pub provider: Provider,
    /// The identity platform's base URL (see above for `generic`).
    pub authority: String,
    /// Microsoft's directory; empty for the other providers.
    pub tenant: String,
    /// The app registration's client id.
    pub client_id: String,
    /// The mailbox; empty while it is not known yet.
    pub user: String,
}

/// Stands for a client id the command line must still be given.
const CLIENT_PLACEHOLDER: &str = "CLIENT-ID";
/// Stands for the mail address when no account is known yet.
const USER_PLACEHOLDER: &str = "YOU@EXAMPLE.COM";

impl Account {
    /// The exact command that signs this account in again, every flag
    /// spelled out (placeholders for a client id or user not known).
    pub(crate) fn login_command(&self) -> String {
        format!(
            "ooauth2 login --client-id {} --user {}{}",
            word_or(&self.client_id, CLIENT_PLACEHOLDER),
            word_or(&self.user, USER_PLACEHOLDER),
            self.flags()
        )
    }

    /// The flags beyond client id and user that name this account.
    pub(crate) fn flags(&self) -> String {
        let mut s = String::new();
        if self.provider != Provider::Microsoft {
            s.push_str(&format!(" --provider {}", self.provider.name()));
        }
        if self.provider.is_microsoft() && self.tenant != provider::DEFAULT_TENANT {
            s.push_str(&format!(" --tenant {}", shell_word(&self.tenant)));
        }
        if self.provider != Provider::Generic && self.authority != self.provider.default_authority()
        {
            s.push_str(&format!(" --authority {}", shell_word(&self.authority)));
        }
        s
    }

    /// "tenant T" for Microsoft, "provider P" for the others: for messages.
    pub(crate) fn realm(&self) -> String {
        if self.provider.is_microsoft() {
            format!("tenant {}", self.tenant)
        } else {
            format!("provider {}", self.provider.name())
        }
    }
}

/// The command that signs an account in again: by its configured name
/// when it has one, else with every flag spelled out.
pub fn login_command(name: Option<&str>, account: &Account) -> String {
    match name {
        Some(name) => format!("ooauth2 login {}", shell_word(name)),
        None => account.login_command(),
    }
}

/// `v` as a shell word, or `placeholder` when it is empty.
fn word_or<'a>(v: &'a str, placeholder: &'static str) -> Cow<'a, str> {
    if v.is_empty() {
        Cow::Borrowed(placeholder)
    } else {
        shell_word(v)
    }
}

/// `s` as one word of a POSIX shell command line: as it is when it holds
/// only characters no shell treats specially, else in single quotes.
pub(crate) fn shell_word(s: &str) -> Cow<'_, str> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"@%+=:,./_-".contains(&b);
    if !s.is_empty() && s.bytes().all(plain) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(format!("'{}'", s.replace('\'', r"'\''")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(provider: Provider, tenant: &str, user: &str) -> Account {
        Account {
            provider,
            authority: provider.default_authority().to_string(),
            tenant: tenant.to_string(),
            client_id: "c-1".to_string(),
            user: user.to_string(),
        }
    }

    #[test]
    fn shell_words_quote_what_a_shell_would_read() {
        assert_eq!(shell_word("me@example.com"), "me@example.com");
        assert_eq!(shell_word("https://h:1/t"), "https://h:1/t");
        assert_eq!(shell_word("a;rm -rf ~"), "'a;rm -rf ~'");
        assert_eq!(shell_word("o'brien"), r"'o'\''brien'");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("$(x)"), "'$(x)'");
    }

    #[test]
    fn login_commands_name_the_provider_tenant_and_placeholders() {
        let google = account(Provider::Google, "", "me@gmail.com");
        assert_eq!(
            google.login_command(),
            "ooauth2 login --client-id c-1 --user me@gmail.com --provider google"
        );
        let ms = account(Provider::Microsoft, "contoso.com", "x;y");
        assert_eq!(
            ms.login_command(),
            "ooauth2 login --client-id c-1 --user 'x;y' --tenant contoso.com"
        );
        let unknown = account(Provider::Microsoft, "common", "");
        assert!(unknown.login_command().ends_with("--user YOU@EXAMPLE.COM"));
        assert_eq!(login_command(Some("work"), &ms), "ooauth2 login work");
    }
}
