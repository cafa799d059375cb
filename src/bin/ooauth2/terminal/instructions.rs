//! The words of a sign-in as the person reads them: the device screen for a
//! terminal, the same as plain text for a pipe, and the auth code flow's
//! page with the way round a browser on another machine. Text only; where
//! it goes is the caller's.

use super::screen::bold;
use ooauth2::error::printable;
use ooauth2::oauth::DeviceAuth;
use std::time::Duration;

/// The device sign-in as it may be shown: the provider's page, code and
/// message through [`printable`], so that no escape sequence, CR, LF, line
/// separator or bidi control of theirs reaches a terminal, a notifier or
/// the log. The page with the code filled in is opened and drawn as a QR
/// code: one that holds such a character is dropped, not mended.
pub(super) fn shown(auth: &DeviceAuth) -> DeviceAuth {
    DeviceAuth {
        user_code: printable(&auth.user_code),
        verification_uri: printable(&auth.verification_uri),
        verification_uri_complete: auth
            .verification_uri_complete
            .clone()
            .filter(|u| printable(u) == *u),
        message: auth.message.as_deref().map(printable),
        ..auth.clone()
    }
}

/// The provider's own message for a device sign-in, or ours.
pub(super) fn device_message(auth: &DeviceAuth) -> String {
    auth.message.clone().unwrap_or_else(|| {
        format!(
            "To sign in, use a web browser to open the page {} and enter the code {} to authenticate.",
            auth.verification_uri, auth.user_code
        )
    })
}

/// How the waiting line ends: with ENTER's offer when stdin is the person's.
fn waiting_end(enter_hint: bool) -> &'static str {
    if enter_hint {
        "; press ENTER once you are done to check at once...\n"
    } else {
        "...\n"
    }
}

/// The device sign-in for a pipe or a log file: `message` and how long the
/// code lasts, no escapes, nothing redrawn.
pub(super) fn device_plain(message: &str, expires_in: u64, enter_hint: bool) -> String {
    format!(
        "{message}\nWaiting for the sign-in (the code is valid for {} minutes){}",
        expires_in.div_ceil(60),
        waiting_end(enter_hint)
    )
}

/// The device sign-in screen for a terminal: the page and the code set
/// apart (bold with `styled`), then the QR code block if there is one, or
/// the line `no_qr` saying why not.
pub(super) fn device_screen(
    auth: &DeviceAuth,
    styled: bool,
    qr: Option<&str>,
    no_qr: Option<&str>,
    enter_hint: bool,
) -> String {
    let mut text = format!(
        "To sign in, open this page in a web browser:\n\n    {}\n\nand enter the code:\n\n    {}\n\n",
        bold(&auth.verification_uri, styled),
        bold(&auth.user_code, styled)
    );
    if let Some(qr) = qr {
        text.push_str(qr);
        text.push_str(if auth.verification_uri_complete.is_some() {
            "Or scan the QR code with a phone: it opens the page with the code filled in.\n\n"
        } else {
            "Or scan the QR code with a phone to open the page.\n\n"
        });
    } else if let Some(why) = no_qr {
        text.push_str(why);
        text.push('\n');
    }
    text.push_str("Waiting for the sign-in");
    text.push_str(waiting_end(enter_hint));
    text
}

/// The auth code sign-in: the page, how long the listener at
/// `redirect_uri` waits, the port forward a remote browser needs and, with
/// `paste`, that a pasted address (or code) will do.
pub(super) fn authorize(url: &str, redirect_uri: &str, wait: Duration, paste: bool) -> String {
    let port = redirect_uri
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap_or("PORT");
    let mut text = format!(
        "To sign in, open this page in a web browser:\n\n  {url}\n\n\
         Waiting up to {} for the browser to come back to {redirect_uri}\n\
         (a browser on another machine needs the port forwarded first: ssh -L {port}:127.0.0.1:{port} THIS-HOST)...\n",
        minutes(wait)
    );
    if paste {
        text.push_str(&format!(
            "No browser here? Open the page on any device, sign in, then paste the address \
             the browser ends up at (it starts with {redirect_uri}, the page itself may fail \
             to load), or just its code, and press ENTER.\n"
        ));
    }
    text
}

/// "5 minutes", "1 minute", "30 seconds".
fn minutes(d: Duration) -> String {
    let s = d.as_secs();
    match (s % 60, s / 60) {
        (0, 1) => "1 minute".to_string(),
        (0, m) => format!("{m} minutes"),
        _ => format!("{s} seconds"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(complete: Option<&str>) -> DeviceAuth {
        DeviceAuth {
            device_code: "SECRET-DEVICE-CODE".into(),
            user_code: "ABCD1234".into(),
            verification_uri: "https://example.com/device".into(),
            verification_uri_complete: complete.map(str::to_string),
            expires_in: 900,
            interval: 5,
            message: None,
        }
    }

    #[test]
    fn screen_sets_page_and_code_apart_bold_only_when_allowed() {
        let plain = device_screen(&auth(None), false, None, None, true);
        assert!(
            plain.contains("\n    https://example.com/device\n"),
            "{plain}"
        );
        assert!(plain.contains("\n    ABCD1234\n"), "{plain}");
        assert!(plain.contains("press ENTER"));
        assert!(!plain.contains('\x1b') && !plain.contains("QR"));
        assert!(!plain.contains("SECRET-DEVICE-CODE"));
        let bold = device_screen(
            &auth(Some("https://e/x?c=1")),
            true,
            Some("QR\n"),
            None,
            false,
        );
        assert!(bold.contains("\x1b[1mABCD1234\x1b[0m"), "{bold}");
        assert!(bold.contains("QR\nOr scan") && bold.contains("code filled in"));
        assert!(!bold.contains("press ENTER"));
    }

    #[test]
    fn the_plain_text_keeps_the_providers_message() {
        let mut a = auth(None);
        assert!(device_message(&a).contains("open the page https://example.com/device"));
        a.message = Some("Go to the page.".into());
        assert_eq!(
            device_plain(&device_message(&a), 900, false),
            "Go to the page.\nWaiting for the sign-in (the code is valid for 15 minutes)...\n"
        );
    }

    #[test]
    fn provider_strings_are_shown_without_controls() {
        let mut a = auth(Some("https://e/x?c=1\x1b]0;t\x07"));
        a.user_code = "AB\x1b[2J\rooauth2: x".into();
        a.verification_uri = "https://e/\u{202e}\u{2028}x".into();
        a.message = Some("m\u{9b}2J\n".into());
        let s = shown(&a);
        assert_eq!(s.user_code, "AB [2J ooauth2: x");
        assert_eq!(s.verification_uri, "https://e/  x");
        assert_eq!(s.verification_uri_complete, None);
        assert_eq!(s.message.as_deref(), Some("m 2J "));
        assert_eq!(
            shown(&auth(Some("https://e/x?c=1"))).verification_uri_complete,
            Some("https://e/x?c=1".into())
        );
    }

    #[test]
    fn the_wait_is_said_in_minutes_when_whole() {
        assert_eq!(minutes(Duration::from_secs(60)), "1 minute");
        assert_eq!(minutes(Duration::from_secs(300)), "5 minutes");
        assert_eq!(minutes(Duration::from_secs(90)), "90 seconds");
    }
}
