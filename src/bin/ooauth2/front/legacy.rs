//! The command line of Alpine's `ooauth2.py`, accepted verbatim (optparse
//! rules: `--opt=value` or `--opt value`, unambiguous prefixes) with the same
//! output lines, and handed to the engine like every other front end.

use crate::context::Context;
use crate::output::{Failure, Status, print_stdout, warn};
use ooauth2::error::{Code, Error, Result};
use ooauth2::protocol::keys::RequestKey;
use ooauth2::request::{Action, Raw, Request, Spelling};
use ooauth2::sasl;
use ooauth2::secret::Secret;
use std::io::BufRead;

/// The scope `ooauth2.py` asks for (no POP), kept so its users' consent still fits.
pub const LEGACY_SCOPE: &str = "offline_access https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send";

/// Option names in optparse order; `authority` is our extension.
const OPTIONS: &[(&str, bool)] = &[
    ("generate_refresh_and_access_token", false),
    ("generate_access_token", false),
    ("encoded", false),
    ("user", true),
    ("client_id", true),
    ("tenant", true),
    ("scope", true),
    ("refresh_token", true),
    ("access_token", true),
    ("authority", true),
    ("help", false),
];

/// The legacy front end's help, also the man page's LEGACY OPTIONS.
pub const USAGE: &str = "\
usage: ooauth2 [options]   (the command line of Alpine's ooauth2.py)

options:
  -h, --help            show this help message and exit
  --generate_refresh_and_access_token
                        sign in with the device code flow; prints the refresh
                        token, the access token and its lifetime
  --generate_access_token
                        print an access token obtained with --refresh_token
  --encoded             print the base64 XOAUTH2 string instead of the token
                        (needs --user)
  --user=USER           the mailbox account
  --client_id=CLIENT_ID
                        application (client) id of the app registration
  --tenant=TENANT       directory (default: common)
  --scope=SCOPE         scopes to ask for
  --refresh_token=TOKEN a refresh token, @FILE to read it from FILE, or - for stdin
  --access_token=TOKEN  accepted for compatibility, unused
  --authority=URL       identity platform base URL (national clouds, tests)

Hyphens work too (--client-id), and so do unambiguous prefixes (--gen...token).
The new commands are shown by: ooauth2 help";

/// Whether argv is an `ooauth2.py` command line: its first argument is one
/// of that script's options as optparse reads them (`--name` or
/// `--name=value`, hyphens for underscores, a prefix of one or more of
/// [`OPTIONS`]), `--help` aside, which is ooauth2's own. Anything else
/// (`--verbose token`, a subcommand's flag such as `--no-open` put first)
/// is clap's to parse or refuse.
pub fn is_legacy(args: &[String]) -> bool {
    let Some(body) = args.get(1).and_then(|a| a.strip_prefix("--")) else {
        return false;
    };
    let name = body
        .split_once('=')
        .map_or(body, |(n, _)| n)
        .replace('-', "_");
    !name.is_empty() && name != "help" && OPTIONS.iter().any(|(o, _)| o.starts_with(&name))
}

#[derive(Default, Debug)]
struct Options {
    device: bool,
    refresh: bool,
    encoded: bool,
    help: bool,
    values: Vec<(&'static str, String)>,
}

impl Options {
    fn get(&self, name: &str) -> Option<&str> {
        // optparse: the last occurrence wins.
        self.values
            .iter()
            .rev()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn resolve(name: &str) -> Result<(&'static str, bool)> {
    let norm = name.replace('-', "_");
    if let Some(&(n, v)) = OPTIONS.iter().find(|(n, _)| *n == norm) {
        return Ok((n, v));
    }
    let matches: Vec<&(&str, bool)> = OPTIONS
        .iter()
        .filter(|(n, _)| n.starts_with(&norm))
        .collect();
    match matches.as_slice() {
        [one] => Ok(**one),
        [] => Err(Error::invalid(format!("no such option: --{name}"))),
        many => Err(Error::invalid(format!(
            "ambiguous option: --{name} ({}?)",
            many.iter()
                .map(|(n, _)| format!("--{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "-h" {
            o.help = true;
            continue;
        }
        let Some(body) = arg.strip_prefix("--") else {
            eprintln!("ooauth2: warning: {}", ignored(i, arg));
            continue;
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let (name, takes_value) = resolve(name)?;
        if !takes_value {
            if inline.is_some() {
                return Err(Error::invalid(format!(
                    "--{name} option does not take a value"
                )));
            }
            match name {
                "generate_refresh_and_access_token" => o.device = true,
                "generate_access_token" => o.refresh = true,
                "encoded" => o.encoded = true,
                _ => o.help = true,
            }
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => {
                let v = args.get(i).ok_or_else(|| {
                    Error::invalid(format!("--{name} option requires 1 argument"))
                })?;
                i += 1;
                v.clone()
            }
        };
        if name == "access_token" && !value.is_empty() {
            eprintln!(
                "ooauth2: warning: --access_token is not used, and on the command line it is visible to other local users (ps, /proc): leave it out (ooauth2.py ignored it too)"
            );
        }
        o.values.push((name, value));
    }
    Ok(o)
}

/// What is said of the stray argument `arg` at `position` (1 is the first
/// after the program's name). Its text is shown only when it is a short
/// option such as `-r`, which names the typo and cannot be a secret; any
/// other word may be the value of one (a mistyped `-r TOKEN` makes the
/// token stray), so it is told by position and length only.
fn ignored(position: usize, arg: &str) -> String {
    let short_option = arg.len() == 2
        && arg.starts_with('-')
        && arg[1..].bytes().all(|b| b.is_ascii_alphanumeric());
    if short_option {
        format!("ignoring argument {position}, '{arg}' (ooauth2.py ignored it too)")
    } else {
        let n = arg.chars().count();
        let unit = if n == 1 { "character" } else { "characters" };
        format!(
            "ignoring argument {position} ({n} {unit}, not shown as it may be a secret; ooauth2.py ignored it too)"
        )
    }
}

/// The request an `ooauth2.py` command line makes: a device sign-in, or
/// the import of its refresh token (checked by one refresh).
fn request_of(o: &Options) -> Result<Raw> {
    let mut raw = Raw {
        spelling: Spelling::Legacy,
        ..Raw::default()
    };
    // ooauth2.py's option names, and the request keys they give.
    for (option, key) in [
        ("client_id", RequestKey::ClientId),
        ("tenant", RequestKey::Tenant),
        ("user", RequestKey::User),
        ("authority", RequestKey::Authority),
    ] {
        if let Some(v) = o.get(option) {
            raw.set(key, v.into());
        }
    }
    raw.scope = Some(o.get("scope").unwrap_or(LEGACY_SCOPE).into());
    if o.device {
        raw.action = Some(Action::Login.as_str().into());
        raw.interactive = Some("always".into());
    } else {
        let rt = refresh_token_value(o.get("refresh_token").unwrap_or_default())?;
        raw.action = Some(Action::Store.as_str().into());
        raw.refresh_token = Some(rt.into());
    }
    Ok(raw)
}

/// Runs an `ooauth2.py` command line.
pub fn run(args: &[String]) -> std::result::Result<Status, Failure> {
    match run_inner(&args[1.min(args.len())..]) {
        Ok(()) => Ok(Status::Done),
        Err(e) => {
            if e.code == Code::InvalidRequest {
                eprintln!("usage: ooauth2 [options]   (ooauth2 --help for the list)");
            }
            Err(e.into())
        }
    }
}

fn run_inner(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    if o.help {
        eprintln!("{USAGE}");
        return Ok(());
    }
    if !o.device && !o.refresh {
        return Err(Error::invalid("nothing to do").hint(
            "add --generate_access_token (with --refresh_token) or --generate_refresh_and_access_token",
        ));
    }
    // Every required option is checked before any request is made.
    let mut missing = Vec::new();
    if o.get("client_id").is_none() {
        missing.push("--client_id");
    }
    if !o.device && o.get("refresh_token").is_none() {
        missing.push("--refresh_token");
    }
    if o.encoded && o.get("user").is_none() {
        missing.push("--user");
    }
    if !missing.is_empty() {
        return Err(Error::invalid(format!(
            "missing options: {}",
            missing.join(" ")
        )));
    }
    let device = o.device;
    let req = Request::validate(request_of(&o)?)?;
    let a = Context::new(0).token(&req, device)?;
    warn(&a);
    let token_line = if o.encoded {
        sasl::xoauth2(o.get("user").unwrap_or(&a.user), a.access_token.expose())
    } else if device {
        format!("Access Token: {}", a.access_token.expose())
    } else {
        a.access_token.expose().to_string()
    };
    let out = if device {
        format!(
            "Refresh Token: {}\n{token_line}\nAccess Token Expiration Seconds: {}\n",
            a.refresh_token
                .as_ref()
                .map(Secret::expose)
                .unwrap_or_default(),
            a.expires_in
        )
    } else {
        format!("{token_line}\n")
    };
    print_stdout(&out)
}

/// `-` reads stdin, `@FILE` reads a file; a token in argv works but is visible to others.
fn refresh_token_value(v: &str) -> Result<String> {
    let first_line = |text: &str| text.lines().next().unwrap_or("").trim().to_string();
    let token = if v == "-" {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| {
            Error::invalid(format!("cannot read the refresh token from stdin: {e}"))
        })?;
        first_line(&line)
    } else if let Some(path) = v.strip_prefix('@') {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::invalid(format!("cannot read the refresh token from {path}: {e}"))
        })?;
        first_line(&text)
    } else {
        eprintln!(
            "ooauth2: warning: a refresh token on the command line is visible to other users; use --refresh_token=@FILE or --refresh_token=-"
        );
        v.to_string()
    };
    // ooauth2.py printed it as `Refresh Token: ...`: a file or a paste of
    // that line holds the label too.
    let token = match token.strip_prefix("Refresh Token:") {
        Some(rest) => rest.trim().to_string(),
        None => token,
    };
    if token.is_empty() {
        return Err(Error::invalid("the refresh token is empty"));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn prefixes_hyphens_and_values() {
        let o = parse(&args(&[
            "--generate_acc",
            "--client-id",
            "abc",
            "--user=u@x",
            "--enc",
            "--tenant=t",
            "--tenant",
            "t2",
        ]))
        .unwrap();
        assert!(o.refresh && o.encoded && !o.device);
        assert_eq!(o.get("client_id"), Some("abc"));
        assert_eq!(o.get("user"), Some("u@x"));
        assert_eq!(o.get("tenant"), Some("t2"));
    }

    #[test]
    fn errors_like_optparse() {
        let e = |a: &[&str]| parse(&args(a)).unwrap_err().message;
        assert!(e(&["--gen"]).contains("ambiguous option: --gen"));
        assert!(e(&["--bogus"]).contains("no such option: --bogus"));
        assert!(e(&["--user"]).contains("requires 1 argument"));
        assert!(e(&["--encoded=1"]).contains("does not take a value"));
        // "--access" is a prefix of access_token only.
        assert_eq!(
            parse(&args(&["--access", "x"]))
                .unwrap()
                .get("access_token"),
            Some("x")
        );
    }

    #[test]
    fn stray_arguments_are_shown_only_when_short_options() {
        assert_eq!(
            ignored(2, "-r"),
            "ignoring argument 2, '-r' (ooauth2.py ignored it too)"
        );
        for secret in ["0.AXo-token", "-x-secret", "-é", "XYZZY"] {
            let said = ignored(3, secret);
            assert!(!said.contains(secret), "{said}");
            assert!(said.starts_with("ignoring argument 3 ("), "{said}");
        }
    }

    #[test]
    fn legacy_detection() {
        for legacy in [
            "--generate_access_token",
            "--generate-refresh-and-access-token",
            "--client_id=x",
            "--client-id",
            "--gen",
            "--enc",
            "--he",
        ] {
            assert!(is_legacy(&args(&["ooauth2", legacy, "x"])), "{legacy}");
        }
        for ours in [
            "--help",
            "--version",
            "--verbose",
            "--no-open",
            "--open",
            "--bogus",
            "--",
            "--=x",
            "-h",
            "token",
        ] {
            assert!(!is_legacy(&args(&["ooauth2", ours, "login"])), "{ours}");
        }
        assert!(!is_legacy(&args(&["ooauth2"])));
    }
}
