//! The SASL strings mail servers take: XOAUTH2 and OAUTHBEARER (RFC 7628).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// `base64("user=" user ^A "auth=Bearer " token ^A ^A)`, as Microsoft and Google document.
pub fn xoauth2(user: &str, token: &str) -> String {
    STANDARD.encode(format!("user={user}\x01auth=Bearer {token}\x01\x01"))
}

/// RFC 7628 OAUTHBEARER initial response; host and port are optional there.
pub fn oauthbearer(user: &str, host: Option<&str>, port: Option<u16>, token: &str) -> String {
    let mut s = format!("n,a={},\x01", gs2_escape(user));
    if let Some(host) = host {
        s.push_str(&format!("host={host}\x01"));
    }
    if let Some(port) = port {
        s.push_str(&format!("port={port}\x01"));
    }
    s.push_str(&format!("auth=Bearer {token}\x01\x01"));
    STANDARD.encode(s)
}

/// RFC 5801 authzid escaping, which the other tools skip: `,` and `=` would
/// otherwise end the GS2 header early.
fn gs2_escape(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoauth2_curl_vector() {
        assert_eq!(
            xoauth2("user", "mF_9.B5f-4.1JqM"),
            "dXNlcj11c2VyAWF1dGg9QmVhcmVyIG1GXzkuQjVmLTQuMUpxTQEB"
        );
    }

    #[test]
    fn xoauth2_google_vector() {
        assert_eq!(
            xoauth2(
                "someone@example.com",
                "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
            ),
            "dXNlcj1zb21lb25lQGV4YW1wbGUuY29tAWF1dGg9QmVhcmVyIHlhMjkudkY5ZGZ0NHFtVGMyTnZiM1JsY2tCaGRIUmhkbWx6ZEdFdVkyOXRDZwEB"
        );
    }

    #[test]
    fn oauthbearer_rfc_vector() {
        assert_eq!(
            oauthbearer(
                "user@example.com",
                Some("imap.gmail.com"),
                Some(993),
                "TOKEN"
            ),
            "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9aW1hcC5nbWFpbC5jb20BcG9ydD05OTMBYXV0aD1CZWFyZXIgVE9LRU4BAQ=="
        );
    }

    #[test]
    fn oauthbearer_escapes_authzid() {
        let s = STANDARD
            .decode(oauthbearer("a,b=c", None, None, "T"))
            .unwrap();
        assert_eq!(s, b"n,a=a=2Cb=3Dc,\x01auth=Bearer T\x01\x01");
    }
}
