//! The one error type: a stable code, a one-line message, an optional hint and
//! the exit status that code maps to. Every front end prints errors from here.

use std::fmt;

/// Stable error codes, as written on the wire (`error=`) and in `protocol.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // BadVerificationCode is RFC 8628's own name.
pub enum Code {
    /// The request or command line is malformed or incomplete.
    InvalidRequest,
    /// No usable refresh token and no interactive sign-in allowed.
    LoginRequired,
    /// The provider rejected the refresh token or the grant.
    InvalidGrant,
    /// The user declined the sign-in.
    AccessDenied,
    /// The device code expired before the user finished signing in.
    ExpiredToken,
    /// The provider did not recognise the device code.
    BadVerificationCode,
    /// The app registration (client id or secret) was rejected.
    InvalidClient,
    /// The provider rejected the requested scope.
    InvalidScope,
    /// The account that signed in is not the requested `user`.
    UserMismatch,
    /// The browser came back to the loopback listener with a redirect that
    /// cannot be trusted or used (wrong `state`, no `code`).
    BadRedirect,
    /// Any other OAuth error the provider answered with.
    ProviderError,
    /// The store cannot be read or written.
    StoreError,
    /// The account's lock was not released within the wait limit.
    StoreBusy,
    /// The answer could not be written (stdout closed with an error, disk full).
    OutputError,
    /// The provider could not be reached or did not answer in time.
    NetworkError,
    /// The provider answered with 5xx or 429 after retries.
    ServerError,
    /// The provider answered with something that is not a valid token response.
    BadResponse,
    /// The account's secret store (its `encrypt_cmd` or `decrypt_cmd`)
    /// failed, timed out or printed nothing usable.
    SecretStoreUnavailable,
}

impl Code {
    /// Every code, for `capability` and the documentation test.
    pub const ALL: [Code; 18] = [
        Code::InvalidRequest,
        Code::LoginRequired,
        Code::InvalidGrant,
        Code::AccessDenied,
        Code::ExpiredToken,
        Code::BadVerificationCode,
        Code::InvalidClient,
        Code::InvalidScope,
        Code::UserMismatch,
        Code::BadRedirect,
        Code::ProviderError,
        Code::StoreError,
        Code::StoreBusy,
        Code::OutputError,
        Code::NetworkError,
        Code::ServerError,
        Code::BadResponse,
        Code::SecretStoreUnavailable,
    ];

    /// The code as written in `error=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidRequest => "invalid_request",
            Code::LoginRequired => "login_required",
            Code::InvalidGrant => "invalid_grant",
            Code::AccessDenied => "access_denied",
            Code::ExpiredToken => "expired_token",
            Code::BadVerificationCode => "bad_verification_code",
            Code::InvalidClient => "invalid_client",
            Code::InvalidScope => "invalid_scope",
            Code::UserMismatch => "user_mismatch",
            Code::BadRedirect => "bad_redirect",
            Code::ProviderError => "provider_error",
            Code::StoreError => "store_error",
            Code::StoreBusy => "store_busy",
            Code::OutputError => "output_error",
            Code::NetworkError => "network_error",
            Code::ServerError => "server_error",
            Code::BadResponse => "bad_response",
            Code::SecretStoreUnavailable => "secret_store_unavailable",
        }
    }

    /// The process exit status for this code (design.md's table).
    pub(crate) fn exit_status(self) -> u8 {
        match self {
            Code::InvalidRequest => 2,
            // sysexits' EX_IOERR, design.md's status for I/O failures.
            Code::StoreError | Code::OutputError => 74,
            Code::StoreBusy
            | Code::NetworkError
            | Code::ServerError
            | Code::BadResponse
            | Code::SecretStoreUnavailable => 75,
            Code::LoginRequired
            | Code::InvalidGrant
            | Code::AccessDenied
            | Code::ExpiredToken
            | Code::BadVerificationCode
            | Code::InvalidClient
            | Code::InvalidScope
            | Code::UserMismatch
            | Code::BadRedirect
            | Code::ProviderError => 1,
        }
    }

    /// What to do next when the error itself says nothing more specific, so
    /// that every error reads the same way: what failed and why, then this.
    pub(crate) fn next_step(self) -> &'static str {
        match self {
            Code::InvalidRequest => {
                "see 'ooauth2 help' for the commands and flags, or protocol.md section 3 for the keys"
            }
            Code::LoginRequired | Code::InvalidGrant | Code::UserMismatch => {
                "sign in again with 'ooauth2 login' and the account's flags"
            }
            Code::AccessDenied => "run the sign-in again and allow access",
            Code::ExpiredToken | Code::BadVerificationCode | Code::BadRedirect => {
                "run the sign-in again from the start"
            }
            Code::InvalidClient => "check the client id (and secret) of the app registration",
            Code::InvalidScope => "check the scope against what the app registration allows",
            Code::ProviderError => {
                "check the account and the app registration; 'ooauth2 doctor' may say more"
            }
            Code::StoreError => "run 'ooauth2 doctor' to check the store and the config file",
            Code::StoreBusy => "try again once the other ooauth2 process is done",
            Code::OutputError => {
                "check where the output goes (a full disk, a closed pipe or terminal)"
            }
            Code::NetworkError => "check the network connection and try again",
            Code::ServerError => "try again later",
            Code::BadResponse => {
                "check the authority and endpoints; a proxy or captive portal may be in the way"
            }
            Code::SecretStoreUnavailable => {
                "check the account's decrypt_cmd and encrypt_cmd (is the key's agent running and unlocked?)"
            }
        }
    }

    /// Whether a later retry may succeed without the user doing anything.
    pub fn is_transient(self) -> bool {
        // A busy lock or a locked key needs the other process or the user.
        self.exit_status() == 75 && !matches!(self, Code::StoreBusy | Code::SecretStoreUnavailable)
    }
}

/// An error with its code, a one-line description and what to do next.
#[derive(Debug, Clone)]
pub struct Error {
    /// What kind of failure: the stable code and its exit status.
    pub code: Code,
    /// What failed and why, in one line.
    pub message: String,
    /// What to do next, when more is known than the code's own advice.
    pub hint: Option<String>,
    /// The provider's own code, when the error is a provider's refusal.
    pub(crate) provider: Option<ProviderCode>,
}

/// How the provider itself named a refusal, kept as data so that nobody
/// parses our message for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProviderCode {
    /// The OAuth `error` value (RFC 6749 §5.2), e.g. `invalid_grant`,
    /// shortened and folded to one line as the message quotes it.
    pub(crate) error: String,
    /// Microsoft's AADSTS number, when the answer names one.
    pub(crate) aadsts: Option<u64>,
}

impl Error {
    /// An error without a hint.
    pub fn new(code: Code, message: impl Into<String>) -> Error {
        Error {
            code,
            message: one_line(&message.into()),
            hint: None,
            provider: None,
        }
    }

    /// Records the provider's own code for this refusal.
    pub(crate) fn provider_code(mut self, code: ProviderCode) -> Error {
        self.provider = Some(code);
        self
    }

    /// The provider's OAuth `error` value, if the provider refused.
    pub fn oauth_error(&self) -> Option<&str> {
        self.provider.as_ref().map(|p| p.error.as_str())
    }

    /// Microsoft's AADSTS number, if the provider refused with one.
    pub fn aadsts(&self) -> Option<u64> {
        self.provider.as_ref().and_then(|p| p.aadsts)
    }

    /// Adds (or replaces) the line that says what to do next.
    pub fn hint(mut self, hint: impl Into<String>) -> Error {
        self.hint = Some(one_line(&hint.into()));
        self
    }

    /// The line that says what to do next: the hint, else the code's own.
    pub fn next_step(&self) -> &str {
        self.hint.as_deref().unwrap_or(self.code.next_step())
    }

    /// Shorthand for the most common kind: a bad request.
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(Code::InvalidRequest, message)
    }

    /// A store failure naming the file and the OS error.
    pub(crate) fn store(what: &str, path: &std::path::Path, err: &std::io::Error) -> Error {
        let fix = match err.kind() {
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                "check that the store directory is yours and writable (or set OOAUTH2_STORE_DIR)"
            }
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                "free some disk space and try again; the old record is intact"
            }
            std::io::ErrorKind::FileTooLarge => {
                "a file size limit (ulimit -f) stops the write; raise it and try again; the old record is intact"
            }
            _ => "check the store directory (or set OOAUTH2_STORE_DIR)",
        };
        Error::new(
            Code::StoreError,
            format!("cannot {what} {}: {err}", path.display()),
        )
        .hint(fix)
    }

    /// The exit status for this error.
    pub fn exit_status(&self) -> u8 {
        self.code.exit_status()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Error {}

/// Whether `c` ends a line for some reader: LF and CR, and what Python's
/// `str.splitlines()` breaks on too (\x0b \x0c \x1c \x1d \x1e, U+0085,
/// U+2028, U+2029).
pub fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\x0b' | '\x0c' | '\x1c'..='\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Whether `c` must not reach a terminal or a `key=value` line as it is: a
/// C0 or C1 control or DEL (escape sequences, BEL, CR, LF), a line or
/// paragraph separator, or a bidirectional control that reorders the text
/// shown around it.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || is_line_break(c)
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// A text from outside (a provider's page, code or message) as it may be
/// shown: every [`is_unsafe`] character becomes a space. Nothing else
/// changes, the length included; [`one_line`] also folds and bounds it.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if is_unsafe(c) { ' ' } else { c })
        .collect()
}

/// Folds a text to one printable line so it can never inject a protocol
/// line, a terminal escape or a reordering: see [`is_unsafe`].
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last_space = false;
    for c in s.chars() {
        let c = if is_unsafe(c) { ' ' } else { c };
        if c == ' ' {
            if !last_space && !out.is_empty() {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    let trimmed = out.trim_end();
    const MAX: usize = 600;
    if trimmed.len() > MAX {
        let mut end = MAX;
        while !trimmed.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &trimmed[..end])
    } else {
        trimmed.to_string()
    }
}

/// A value as messages quote it: cut to `max` characters and folded to one
/// line, so a long or hostile value can neither flood nor inject a line.
pub fn shorten(value: &str, max: usize) -> String {
    one_line(&value.chars().take(max).collect::<String>())
}

/// A value the user gave, as a message quotes it: [`shorten`]ed to 60 characters.
pub(crate) fn shown(value: &str) -> String {
    shorten(value, 60)
}

/// Shorthand for results carrying our error.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_removes_controls_and_newlines() {
        assert_eq!(one_line("a\r\nb\x00c\n"), "a b c");
        assert_eq!(one_line("x=1\nerror=evil"), "x=1 error=evil");
    }

    #[test]
    fn one_line_folds_every_line_break_and_reordering() {
        for c in [
            '\x0b', '\x0c', '\x1b', '\x1c', '\x1d', '\x1e', '\x7f', '\u{85}', '\u{9b}', '\u{2028}',
            '\u{2029}', '\u{202e}', '\u{2066}', '\u{200f}',
        ] {
            assert_eq!(one_line(&format!("a{c}b")), "a b", "{c:?}");
            assert_eq!(printable(&format!("a{c}b")), "a b", "{c:?}");
        }
        assert_eq!(printable("é \u{1f600}  x"), "é \u{1f600}  x");
        assert!(is_line_break('\u{2028}') && !is_line_break('\u{202e}'));
    }

    #[test]
    fn exit_statuses_follow_design() {
        assert_eq!(Code::InvalidRequest.exit_status(), 2);
        assert_eq!(Code::LoginRequired.exit_status(), 1);
        assert_eq!(Code::StoreError.exit_status(), 74);
        assert_eq!(Code::StoreBusy.exit_status(), 75);
        assert!(Code::NetworkError.is_transient());
        assert!(!Code::StoreBusy.is_transient());
    }
}
