//! A provider's refusal decoded into what is wrong and the fix it calls
//! for: by Microsoft's AADSTS number where the answer carries one, else by
//! the OAuth error code (and, for Google, the refresh token's age).

use super::{Finding, Target, with_full_scope};
use ooauth2::error::{Code, Error};
use ooauth2::oauth;
use ooauth2::provider::Provider;
use ooauth2::store::Record;

/// A Google refresh token refused this long after it was obtained (7 days,
/// less an hour of slack, up to twice that for a machine that was off) is
/// taken for a Testing app's: Google expires those after 7 days.
const GOOGLE_TESTING_AGE: std::ops::RangeInclusive<u64> = (7 * 86_400 - 3600)..=(14 * 86_400);

/// What is wrong and its fix, before the finding names the account.
type Decoded = (String, String);

/// A provider's refusal, decoded into what is wrong and the fix.
pub(super) fn refusal(e: &Error, t: &Target, what: &str, now: u64) -> Finding {
    let said = format!("the {what} was refused: {}", e.message);
    let (problem, fix) = match registration_refusal(e, t, &said) {
        Some(decoded) => decoded,
        None => grant_refusal(e, t, what, &said, now),
    };
    Finding::Problem(format!("{}: {problem}", t.label), fix)
}

/// The refusals that name what the app registration or the directory must
/// change: Microsoft's, by their AADSTS number (or `invalid_scope`).
fn registration_refusal(e: &Error, t: &Target, said: &str) -> Option<Decoded> {
    let client = t.req.client_id().unwrap_or("CLIENT-ID");
    // Microsoft's wording of 7000218 counts as that code even where a
    // provider sends the words without the number (oauth's classification).
    let decoded = match (e.code, e.aadsts()) {
        (_, Some(7000218)) => (
            format!("the app registration does not allow public client flows ({said})"),
            format!(
                "enable Allow public client flows in the app registration (Azure portal > \
                 App registrations > {client} > Authentication > Advanced settings: Allow \
                 public client flows: Yes), or give the account its client secret \
                 (client_secret_cmd)"
            ),
        ),
        (_, Some(700016)) => (
            format!("no app with client id {client} is registered in the directory ({said})"),
            format!(
                "check client_id and tenant: an app registered in one directory needs \
                 --tenant set to that directory (its ID or domain), and personal accounts need \
                 an app whose Supported account types include personal Microsoft accounts \
                 (tenant now: {})",
                t.req.tenant()
            ),
        ),
        (_, Some(code)) if let Some(fix) = oauth::aadsts_admin_fix(code, &t.req.account("")) => (
            format!("only an administrator of the organisation can lift this refusal ({said})"),
            format!("{fix}; then sign in again: {}", t.login),
        ),
        (_, Some(70011)) | (Code::InvalidScope, _) if t.req.provider().is_microsoft() => (
            format!("the provider refused the scope ({said})"),
            format!(
                "use outlook.office.com scopes for personal accounts (outlook.office365.com \
                 ones are refused): {}",
                with_full_scope(&t.login)
            ),
        ),
        _ => return None,
    };
    Some(decoded)
}

/// The other refusals, by their OAuth error code: of the refresh token,
/// an answer that did not come, or anything else (with the provider's hint).
fn grant_refusal(e: &Error, t: &Target, what: &str, said: &str, now: u64) -> Decoded {
    match e.code {
        Code::InvalidGrant if t.req.provider() == Provider::Google => {
            google_refusal(e, t, said, now)
        }
        Code::InvalidGrant => (
            format!("the provider refused the refresh token ({said})"),
            match e.aadsts().and_then(oauth::aadsts_hint) {
                Some(h) => format!("{h}: {}", t.login),
                None => format!("sign in again: {}", t.login),
            },
        ),
        code if code.is_transient() => (
            format!("the provider did not answer the {what} ({})", e.message),
            e.hint.clone().unwrap_or_else(|| "try again later".into()),
        ),
        _ => (
            said.to_string(),
            e.hint
                .clone()
                .unwrap_or_else(|| "check client_id, tenant and scope".into()),
        ),
    }
}

/// Google's `invalid_grant`: a Testing app's week-old refresh token, or one
/// revoked or expired.
fn google_refusal(e: &Error, t: &Target, said: &str, now: u64) -> Decoded {
    match google_refused_after(t.rec.as_ref(), now) {
        Some(age) if GOOGLE_TESTING_AGE.contains(&age) => (
            format!(
                "this Google app is in Testing: its refresh tokens expire after 7 days \
                 (the refresh token obtained {} day(s) before was refused: {})",
                age / 86_400,
                e.message
            ),
            format!(
                "publish the app (Google Cloud console > OAuth consent screen > \
                 Publish app) or sign in again each week: {}",
                t.login
            ),
        ),
        _ => (
            format!("Google refused the refresh token: revoked or expired ({said})"),
            format!("sign in again: {}", t.login),
        ),
    }
}

/// How long after it was obtained the stored refresh token was first
/// refused: when the record was marked (its last write), else now.
fn google_refused_after(rec: Option<&Record>, now: u64) -> Option<u64> {
    let rec = rec?;
    let obtained = rec.refresh_token_obtained_at?;
    let refused = if rec.needs_login.is_some() {
        rec.updated_at
    } else {
        now
    };
    refused.checked_sub(obtained)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::tests::rec;

    #[test]
    fn a_google_refusal_is_dated_from_the_first_refusal() {
        let mut r = rec("https://mail.google.com/");
        r.refresh_token_obtained_at = Some(1000);
        assert_eq!(google_refused_after(Some(&r), 5000), Some(4000));
        r.needs_login = Some("refused".into());
        r.updated_at = 1000 + 7 * 86_400;
        assert_eq!(
            google_refused_after(Some(&r), 99 * 86_400),
            Some(7 * 86_400)
        );
        assert!(GOOGLE_TESTING_AGE.contains(&(7 * 86_400)));
        assert!(!GOOGLE_TESTING_AGE.contains(&86_400));
        r.refresh_token_obtained_at = None;
        assert_eq!(google_refused_after(Some(&r), 5000), None);
    }
}
