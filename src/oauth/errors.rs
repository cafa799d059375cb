//! What a provider's refusal means: its OAuth `error` (RFC 6749 §5.2,
//! §4.1.2.1, RFC 8628 §3.5) and Microsoft's AADSTS number classified into
//! our typed [`Error`], with the hint that fits, where the answer arrives.
//! Both codes stay in the error as a [`ProviderCode`].

use crate::account::Account;
use crate::error::{Code, Error, ProviderCode, one_line, shorten};
use serde_json::Value;

/// The error code an OAuth `error` value means (RFC 6749 §4.1.2.1, §5.2,
/// RFC 8628 §3.5), if it is one of the known ones.
fn known_error(err: &str) -> Option<Code> {
    Some(match err {
        "invalid_grant" | "interaction_required" | "consent_required" | "login_required" => {
            Code::InvalidGrant
        }
        "invalid_client" | "unauthorized_client" => Code::InvalidClient,
        "invalid_scope" => Code::InvalidScope,
        "authorization_declined" | "access_denied" => Code::AccessDenied,
        "expired_token" => Code::ExpiredToken,
        "bad_verification_code" => Code::BadVerificationCode,
        "temporarily_unavailable" | "server_error" => Code::ServerError,
        _ => return None,
    })
}

/// Turns a non-200 answer into a typed error naming the provider's reason.
pub(super) fn error_reply(status: u16, body: &[u8], host: &str) -> Error {
    let v = serde_json::from_slice::<Value>(body).ok();
    let oauth = v
        .as_ref()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(|e| (e, v)));
    let Some((err, v)) = oauth else {
        return without_oauth_error(status, host);
    };
    let code = match known_error(err) {
        Some(c) => c,
        None if status == 429 || status >= 500 => Code::ServerError,
        None => Code::ProviderError,
    };
    let shown_err = shorten(err, 60);
    let description = description(v);
    let message = match &description {
        Some(d) => format!("{host} refused: {shown_err}: {d}"),
        None => format!("{host} refused: {shown_err}"),
    };
    let numbered = aadsts_code(v);
    let e = Error::new(code, message).provider_code(ProviderCode {
        error: shown_err,
        aadsts: numbered.or_else(|| aadsts_by_wording(description.as_deref())),
    });
    match refusal_hint(code, numbered) {
        Some(h) => e.hint(h),
        None => e,
    }
}

fn without_oauth_error(status: u16, host: &str) -> Error {
    if status == 429 || status >= 500 {
        return Error::new(
            Code::ServerError,
            format!("{host} answered HTTP {status} after retries"),
        )
        .hint("the provider has a problem; try again later");
    }
    Error::new(
        Code::BadResponse,
        format!("{host} answered HTTP {status} without an OAuth error"),
    )
    .hint("check the authority and tenant")
}

/// The first line of `error_description`, as our message quotes it.
fn description(v: &Value) -> Option<String> {
    v.get("error_description")
        .and_then(Value::as_str)
        // Microsoft appends Trace ID / Correlation ID lines; the first line says it all.
        .map(|d| one_line(d.split(['\r', '\n']).next().unwrap_or("")))
        // Quoted inside our sentence, which ends without a period.
        .map(|d| d.trim_end_matches(['.', ' ']).to_string())
        .filter(|d| !d.is_empty())
}

fn refusal_hint(code: Code, aadsts: Option<u64>) -> Option<&'static str> {
    // Device-flow outcomes say what happened to the sign-in; Microsoft tags
    // them with AADSTS codes whose usual hints speak of refresh tokens.
    match code {
        Code::AccessDenied => Some("the sign-in was declined; run the command again to retry"),
        Code::ExpiredToken => {
            Some("the code expired; run the command again and finish the sign-in in time")
        }
        Code::BadVerificationCode => {
            Some("the provider no longer knows this sign-in code; run the command again")
        }
        Code::ServerError => aadsts
            .and_then(aadsts_hint)
            .or(Some("the provider has a problem; try again later")),
        _ => aadsts.and_then(aadsts_hint),
    }
}

/// ` ERROR AADSTSn` for the `-v` line of an error answer; empty otherwise.
pub(super) fn summary(status: u16, body: &[u8]) -> String {
    if status < 400 {
        return String::new();
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => {
            let err = shorten(v.get("error").and_then(Value::as_str).unwrap_or("?"), 60);
            match aadsts_code(&v) {
                Some(c) => format!(" {err} AADSTS{c}"),
                None => format!(" {err}"),
            }
        }
        Err(_) => String::new(),
    }
}

/// Microsoft's number for a refusal: `error_codes`, else the `AADSTSn` its
/// description names.
fn aadsts_code(v: &Value) -> Option<u64> {
    if let Some(c) = v
        .get("error_codes")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_u64)
    {
        return Some(c);
    }
    aadsts_named(v.get("error_description")?.as_str()?)
}

fn aadsts_named(text: &str) -> Option<u64> {
    let rest = &text[text.find("AADSTS")? + 6..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The AADSTS number Microsoft's wording names, for an answer with the words
/// but no number. Only 7000218's is known: its fix (allow public client
/// flows, or send the secret) is not the one its `invalid_client` suggests.
fn aadsts_by_wording(description: Option<&str>) -> Option<u64> {
    description
        .filter(|d| d.contains("'client_assertion' or 'client_secret'"))
        .map(|_| 7000218)
}

/// Who can lift a Microsoft refusal.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fixer {
    /// The user (sign in again, fix a flag).
    User,
    /// Only an administrator of the directory.
    Admin,
    /// An administrator, by granting consent at the admin-consent page
    /// (whose address ends the hint).
    Consent,
}

/// THE table of the AADSTS codes mail users meet: the number, who can
/// lift it, and the fix in plain words.
// One row a line: it reads as the table it is.
#[rustfmt::skip]
const AADSTS: &[(u64, Fixer, &str)] = &[
    (700082, Fixer::User, "the refresh token expired after 90 days without use; sign in again"),
    (50173, Fixer::User, "the grant was revoked (password change or admin action); sign in again"),
    (70000, Fixer::User, "the refresh token is not valid any more (revoked, or from another app); sign in again"),
    (70043, Fixer::User, "your organisation's sign-in frequency policy requires a new sign-in; sign in again"),
    (7000218, Fixer::User, "the app registration must allow public client flows (Azure portal > App registrations > Authentication > Allow public client flows: Yes), or pass client_secret"),
    (900144, Fixer::User, "a required parameter (often the scope) is missing; check client_id and scope"),
    (65001, Fixer::Consent, "the app has no consent for these permissions; sign in again and accept, or ask an administrator to grant consent"),
    (90094, Fixer::Consent, "only an administrator can grant this app its permissions in your organisation; ask one to grant consent"),
    (90095, Fixer::Consent, "your organisation requires an administrator's approval for this app; ask one to grant consent"),
    (50105, Fixer::Admin, "your account is not assigned to this app in your organisation; ask an administrator to assign it (Entra admin center > Enterprise applications > the app > Users and groups)"),
    (53003, Fixer::Admin, "your organisation's Conditional Access policy blocked the sign-in; ask an administrator which policy applies (the Entra sign-in logs name it), or sign in from a device or network it allows"),
    (70011, Fixer::User, "the scope is not valid for this account; use https://outlook.office.com/ scopes (personal accounts refuse outlook.office365.com)"),
    (700016, Fixer::User, "no app with this client id exists in this tenant; check client_id and tenant"),
    (90002, Fixer::User, "the tenant does not exist; check tenant"),
    (50076, Fixer::User, "multi-factor authentication is required; sign in again"),
    (50079, Fixer::User, "multi-factor authentication is required; sign in again"),
];

/// The row of the table for `code`.
fn aadsts_row(code: u64) -> Option<(Fixer, &'static str)> {
    AADSTS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|&(_, fixer, hint)| (fixer, hint))
}

/// Plain-language fixes for the AADSTS codes mail users meet.
pub fn aadsts_hint(code: u64) -> Option<&'static str> {
    aadsts_row(code).map(|(_, hint)| hint)
}

/// The fix of a refusal only an administrator of the directory can lift,
/// for the app of `account` (its authority, tenant and client id): a
/// consent ends in the admin-consent page's address. `None` for the
/// refusals the user can fix.
pub fn aadsts_admin_fix(code: u64, account: &Account) -> Option<String> {
    match aadsts_row(code)? {
        (Fixer::User, _) => None,
        (Fixer::Admin, hint) => Some(hint.to_string()),
        (Fixer::Consent, hint) => Some(format!("{hint}: {}", admin_consent_url(account))),
    }
}

/// Where an administrator grants the app consent for the whole tenant.
fn admin_consent_url(account: &Account) -> String {
    format!(
        "{}/{}/adminconsent?client_id={}",
        account.authority.trim_end_matches('/'),
        account.tenant,
        account.client_id
    )
}

/// An error the provider sent back through the browser's redirect
/// (RFC 6749 §4.1.2.1), as a typed error.
pub(crate) fn redirect_error(err: &str, description: Option<&str>) -> Error {
    let code = known_error(err).unwrap_or(Code::ProviderError);
    let shown = shorten(err, 60);
    let message = match description.filter(|d| !d.is_empty()) {
        Some(d) => format!("the sign-in was refused: {shown}: {d}"),
        None => format!("the sign-in was refused: {shown}"),
    };
    let provider = ProviderCode {
        error: shown.clone(),
        aadsts: description
            .and_then(aadsts_named)
            .or_else(|| aadsts_by_wording(description)),
    };
    let hint = match code {
        Code::AccessDenied => {
            "the sign-in was declined or cancelled; run the command again to retry"
        }
        Code::InvalidClient => {
            "check client_id, and that the app registration has the redirect URI http://localhost (Mobile and desktop applications)"
        }
        Code::InvalidScope => "check scope",
        Code::ServerError => "the provider has a problem; try again later",
        _ => "run the command again; if it keeps failing, check client_id, tenant and scope",
    };
    Error::new(code, message).hint(hint).provider_code(provider)
}

/// The device code ran out before the user finished signing in.
pub(crate) fn expired_code() -> Error {
    Error::new(
        Code::ExpiredToken,
        "the sign-in code expired before the sign-in was completed",
    )
    .hint("run the command again and finish the sign-in within the time shown")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16, body: &str) -> Error {
        error_reply(status, body.as_bytes(), "h")
    }

    #[test]
    fn protocol_md_lists_every_aadsts_hint() {
        let doc = include_str!("../../protocol.md");
        for &(code, fixer, hint) in AADSTS {
            let row = doc
                .lines()
                .find(|l| {
                    let first = l.split('|').nth(1).unwrap_or_default();
                    l.starts_with("| ") && first.split(',').any(|c| c.trim() == code.to_string())
                })
                .unwrap_or_else(|| panic!("protocol.md has no row for AADSTS{code}"));
            assert!(row.contains(hint), "AADSTS{code}: {row}");
            assert_eq!(
                row.contains("(\\*)"),
                fixer != Fixer::User,
                "AADSTS{code}: {row}"
            );
        }
        let account = Account {
            provider: crate::provider::Provider::Microsoft,
            authority: "https://login.microsoftonline.com".into(),
            tenant: "contoso.com".into(),
            client_id: "c-1".into(),
            user: String::new(),
        };
        assert_eq!(
            aadsts_admin_fix(90094, &account).unwrap(),
            "only an administrator can grant this app its permissions in your organisation; \
             ask one to grant consent: \
             https://login.microsoftonline.com/contoso.com/adminconsent?client_id=c-1"
        );
        assert_eq!(aadsts_admin_fix(700082, &account), None);
    }

    #[test]
    fn aadsts_codes_for_doctor() {
        let e = refused(
            401,
            r#"{"error":"invalid_client","error_description":"AADSTS7000218: x"}"#,
        );
        assert_eq!(e.aadsts(), Some(7000218));
        let e = refused(
            400,
            r#"{"error":"invalid_grant","error_description":"Token has been expired"}"#,
        );
        assert_eq!(e.aadsts(), None);
    }

    #[test]
    fn a_microsoft_refusal_carries_its_codes() {
        let e = refused(
            401,
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: t","error_codes":[7000215]}"#,
        );
        assert_eq!(e.code, Code::InvalidClient);
        assert_eq!(
            e.provider,
            Some(ProviderCode {
                error: "invalid_client".into(),
                aadsts: Some(7000215),
            })
        );
        assert_eq!(e.oauth_error(), Some("invalid_client"));
        // error_codes is Microsoft's own field: it wins over the text.
        let e = refused(
            400,
            r#"{"error":"invalid_grant","error_description":"AADSTS70000: x","error_codes":[700082]}"#,
        );
        assert_eq!(
            (e.oauth_error(), e.aadsts()),
            (Some("invalid_grant"), Some(700082))
        );
        // An unknown error keeps its name; Microsoft's wording alone names 7000218.
        let e = refused(
            400,
            r#"{"error":"no_such","error_description":"must contain 'client_assertion' or 'client_secret'."}"#,
        );
        assert_eq!(e.code, Code::ProviderError);
        assert_eq!(
            (e.oauth_error(), e.aadsts()),
            (Some("no_such"), Some(7000218))
        );
        // No OAuth error: nothing the provider named.
        assert_eq!(refused(502, "<html>").provider, None);
        assert_eq!(refused(400, r#"{"x":1}"#).provider, None);
    }

    #[test]
    fn a_refused_redirect_carries_its_codes() {
        let e = redirect_error("access_denied", Some("AADSTS65004: declined"));
        assert_eq!(e.code, Code::AccessDenied);
        assert_eq!(
            (e.oauth_error(), e.aadsts()),
            (Some("access_denied"), Some(65004))
        );
        assert_eq!(redirect_error("server_error", None).aadsts(), None);
    }
}
