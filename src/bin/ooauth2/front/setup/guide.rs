//! What `ooauth2 setup` tells a person before it asks for a client id or a
//! client secret: where to get one, per provider. ooauth2 has no app
//! registration of its own (a registration belongs to whoever publishes it
//! and answers for it); the one public id named here is said to be whose.

use ooauth2::provider::Provider;

/// Alpine's own Microsoft registration (a public client, device code flow),
/// which Alpine's `ooauth2.py` guide has its users reuse.
pub const ALPINE_MICROSOFT_CLIENT: &str = "f21dcaf2-8020-469b-8135-343bfc35d046";

/// The providers, shown before the question.
pub const PROVIDERS: &str = "\
The providers:
  microsoft        Microsoft 365 and Outlook.com (microsoft-us and
                   microsoft-china: the US Government and China clouds)
  google           Gmail and Google Workspace
  yahoo, aol, fastmail
  generic          any other, found by its OpenID Connect issuer
";

/// Where a client id comes from, shown before the question.
pub fn client_id(provider: Provider) -> String {
    match provider {
        Provider::Microsoft | Provider::MicrosoftUs | Provider::MicrosoftChina => microsoft(),
        Provider::Google => GOOGLE.to_string(),
        Provider::Yahoo | Provider::Aol => YAHOO_AOL.to_string(),
        Provider::Fastmail => FASTMAIL.to_string(),
        Provider::Generic => GENERIC.to_string(),
    }
}

/// In one line, for the error when no terminal can show [`client_id`].
pub fn client_id_short(provider: Provider) -> &'static str {
    match provider {
        Provider::Microsoft | Provider::MicrosoftUs | Provider::MicrosoftChina => {
            "register an app (App registrations, Allow public client flows: Yes) and pass \
             --client-id ID; ooauth2 setup at a terminal explains"
        }
        Provider::Google => {
            "create a Desktop app OAuth client in the Google Cloud console and pass \
             --client-id ID --client-secret-cmd 'pass show ...'"
        }
        _ => "pass --client-id ID (the app registration's); ooauth2 setup at a terminal explains",
    }
}

/// Microsoft: register an app, or reuse Alpine's, and what an administrator
/// may have to do.
fn microsoft() -> String {
    format!(
        "\
A client id names the app that asks Microsoft for your mail. ooauth2 has
no app registration of its own: register one (free), or reuse another's.
  1. Azure portal (https://portal.azure.com) > App registrations > New
     registration; supported accounts: \"Accounts in any organizational
     directory and personal Microsoft accounts\".
  2. Authentication > Advanced settings: Allow public client flows: Yes.
  3. API permissions > Add a permission > Microsoft Graph > Delegated:
     IMAP.AccessAsUser.All, POP.AccessAsUser.All, SMTP.Send, offline_access.
  4. Copy the Application (client) ID from the Overview page.
Work or school account: where users may not consent to apps, an
administrator grants consent once, for everyone, at
  https://login.microsoftonline.com/YOUR-DOMAIN/adminconsent?client_id=CLIENT-ID
Personal accounts can no longer register apps outside a directory; they
can reuse a public client id, such as Alpine's own registration
  {ALPINE_MICROSOFT_CLIENT}
(Alpine's, not ooauth2's: it works for as long as Alpine keeps it so).
"
    )
}

const GOOGLE: &str = "\
Google needs an OAuth client of your own, of type Desktop app:
  1. Google Cloud console (https://console.cloud.google.com/apis/credentials):
     create a project and enable the Gmail API.
  2. OAuth consent screen: add yourself as a test user.
  3. Create credentials > OAuth client ID > Desktop app. Copy its client id
     and its client secret.
While the app is in Testing, Google ends its refresh tokens after 7 days:
publish it (In production) to keep them.
";

const YAHOO_AOL: &str = "\
Yahoo and AOL no longer register new apps for mail: reuse the client id
(and secret) of a mail program you use, if its publisher allows it; the
registration stays theirs.
";

const FASTMAIL: &str = "\
Fastmail issues client ids (public clients, no secret) to developers of
mail programs: ask Fastmail, or use one issued to you.
";

const GENERIC: &str = "\
The client id of the app registered at your provider (its OAuth settings
name it).
";

/// Where a client secret goes: never into the config file.
pub const SECRET: &str = "\
The client secret is never written to the config file: keep it in your
password store (e.g. pass insert mail/gmail-client-secret) and give the
command that prints it (e.g. pass show mail/gmail-client-secret); ooauth2
runs it only when it asks the provider for a token.
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_is_named_and_the_texts_fit_80_columns() {
        for p in Provider::ALL {
            assert!(PROVIDERS.contains(p.name()), "{}", p.name());
            for line in client_id(p).lines() {
                assert!(line.chars().count() <= 80, "{line}");
            }
        }
        for line in PROVIDERS.lines().chain(SECRET.lines()) {
            assert!(line.chars().count() <= 80, "{line}");
        }
    }
}
