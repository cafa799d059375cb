//! The `token` command line of msmtp's and mbsync's configs, parsed without
//! building clap's command tree (see [`fast_token`]).

use crate::args::{Cli, Command, Format, TokenArgs};
use clap::ValueEnum;

/// The `token` command line of msmtp's and mbsync's configs, parsed without
/// building clap's whole command tree: `token` runs on every mail sync, and
/// clap's set-up is a sizeable share of a cached answer's time. Returns
/// `None` for anything else (help, errors, repeats, values that look like
/// flags), which clap then parses; tests hold both parsers to the same result.
pub fn fast_token(args: &[String]) -> Option<Cli> {
    if args.get(1).map(String::as_str) != Some("token") {
        return None;
    }
    let mut t = TokenArgs::default();
    let mut verbose = false;
    let mut seen: Vec<&str> = Vec::new();
    let mut rest = args[2..].iter();
    while let Some(arg) = rest.next() {
        // One positional: the account name (`token work`); clap takes the rest.
        if !arg.starts_with('-') {
            if t.account.name.replace(arg.clone()).is_some() {
                return None;
            }
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (arg.as_str(), None),
        };
        // -v and --verbose count together: a repeat is clap's (-vv).
        let key = if name == "-v" { "--verbose" } else { name };
        if seen.contains(&key) {
            return None;
        }
        seen.push(key);
        if let Some(on) = switch(&mut t, &mut verbose, name) {
            // A switch takes no value.
            inline.is_none().then_some(())?;
            *on = true;
            continue;
        }
        if name == "--format" {
            let v = inline.or_else(|| rest.next().cloned())?;
            t.format = Format::from_str(&v, false).ok()?;
            continue;
        }
        let slot = slot(&mut t, name)?;
        let v = match inline {
            Some(v) => v,
            None => rest.next().filter(|v| !v.starts_with('-'))?.clone(),
        };
        *slot = Some(v);
    }
    // Both is a usage error, which clap reports.
    if t.signin.open && t.signin.no_open {
        return None;
    }
    Some(Cli {
        verbose: u8::from(verbose),
        command: Command::Token(t),
    })
}

/// The flag `name` that takes no value, as the switch it turns on.
fn switch<'t>(t: &'t mut TokenArgs, verbose: &'t mut bool, name: &str) -> Option<&'t mut bool> {
    match name {
        "-v" | "--verbose" => Some(verbose),
        "--non-interactive" => Some(&mut t.non_interactive),
        "--open" => Some(&mut t.signin.open),
        "--no-open" => Some(&mut t.signin.no_open),
        _ => None,
    }
}

/// The field the flag `name` fills with its value.
fn slot<'t>(t: &'t mut TokenArgs, name: &str) -> Option<&'t mut Option<String>> {
    let a = &mut t.account;
    Some(match name {
        "--provider" => &mut a.provider,
        "--client-id" => &mut a.client_id,
        "--tenant" => &mut a.tenant,
        "--user" => &mut a.user,
        "--authority" => &mut a.authority,
        "--scope" => &mut a.scope,
        "--issuer" => &mut a.issuer,
        "--token-endpoint" => &mut a.token_endpoint,
        "--authorization-endpoint" => &mut a.authorization_endpoint,
        "--device-authorization-endpoint" => &mut a.device_authorization_endpoint,
        "--client-secret-cmd" => &mut a.client_secret_cmd,
        "--secret-store" => &mut a.secret_store,
        "--encrypt-cmd" => &mut a.encrypt_cmd,
        "--decrypt-cmd" => &mut a.decrypt_cmd,
        "--cache-access-token" => &mut a.cache_access_token,
        "--min-ttl" => &mut t.min_ttl,
        "--host" => &mut t.host,
        "--port" => &mut t.port,
        "--flow" => &mut t.signin.flow,
        "--redirect-port" => &mut t.signin.redirect_port,
        "--signin-timeout" => &mut t.signin.signin_timeout,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn argv(s: &[&str]) -> Vec<String> {
        std::iter::once("ooauth2")
            .chain(s.iter().copied())
            .map(String::from)
            .collect()
    }

    #[test]
    fn fast_token_parses_exactly_like_clap() {
        let lines: &[&[&str]] = &[
            &["token", "--client-id", "c", "--user", "u@x"],
            &[
                "token",
                "--client-id=c",
                "--user=u@x",
                "--tenant",
                "t",
                "--authority=http://127.0.0.1:1",
            ],
            &[
                "token",
                "--scope",
                "a b",
                "--min-ttl",
                "60",
                "--host=h",
                "--port",
                "993",
                "--non-interactive",
            ],
            &[
                "token",
                "--flow",
                "authcode",
                "--redirect-port=8765",
                "--signin-timeout",
                "60",
                "--open",
            ],
            &["token", "--flow", "device", "--no-open"],
            &[
                "token",
                "--secret-store",
                "command",
                "--encrypt-cmd=age -r K",
                "--decrypt-cmd",
                "age -d -i F",
                "--cache-access-token=false",
            ],
            &["token", "-v", "--format", "xoauth2", "--client-id", "c"],
            &["token", "--format=json", "--verbose", "--user", ""],
            &["token", "--format", "oauthbearer"],
            &["token", "--provider", "google", "--user=u@gmail.com"],
            &["token", "work", "--provider=fastmail"],
            &[
                "token",
                "--issuer=https://idp.example",
                "--token-endpoint",
                "https://idp.example/t",
                "--authorization-endpoint=https://idp.example/a",
                "--device-authorization-endpoint",
                "https://idp.example/d",
                "--client-secret-cmd=pass show x",
            ],
            &["token"],
            &["token", "work"],
            &["token", "extra"],
            &["token", "work", "--user", "u@x", "--non-interactive"],
            &["token", "--user", "u@x", "work", "--format=json"],
            &["token", "-v", "a.b_c-1", "--client-id=c"],
            &["token", ""],
            &["token", "work=x"],
        ];
        for line in lines {
            let args = argv(line);
            let fast = fast_token(&args).unwrap_or_else(|| panic!("fast path refused {line:?}"));
            let slow = Cli::try_parse_from(&args).unwrap();
            assert_eq!(fast, slow, "{line:?}");
        }
    }

    #[test]
    fn fast_token_leaves_everything_else_to_clap() {
        let lines: &[&[&str]] = &[
            &["token", "--help"],
            &["token", "-h"],
            &["token", "--user", "a", "--user", "b"],
            &["token", "--user"],
            &["token", "--user", "--client-id"],
            &["token", "--format", "pem"],
            &["token", "--non-interactive=yes"],
            &["token", "--open", "--no-open"],
            &["token", "--no-open=1"],
            &["token", "--bogus"],
            &["token", "work", "home"],
            &["token", "work", "--", "x"],
            &["token", "-"],
            &["--verbose", "token"],
            &["token", "-vv"],
            &["token", "-v", "--verbose"],
            &["status"],
        ];
        for line in lines {
            assert!(fast_token(&argv(line)).is_none(), "{line:?}");
        }
    }

    #[test]
    fn fast_token_knows_every_token_flag() {
        use clap::CommandFactory;
        let cmd = Cli::command();
        let token = cmd.find_subcommand("token").unwrap();
        for arg in token.get_arguments() {
            // The one positional, ACCOUNT, is held by the parity test above.
            let Some(long) = arg.get_long() else {
                assert_eq!(arg.get_id(), "name", "an unknown positional");
                continue;
            };
            if long == "help" {
                continue;
            }
            let mut line = vec!["token".to_string(), format!("--{long}")];
            if arg.get_action().takes_values() {
                line.push(if long == "format" {
                    "raw".into()
                } else {
                    "x".into()
                });
            }
            let args: Vec<String> = std::iter::once("ooauth2".to_string()).chain(line).collect();
            assert!(
                fast_token(&args).is_some(),
                "fast path does not know --{long}"
            );
            assert_eq!(
                fast_token(&args),
                Cli::try_parse_from(&args).ok(),
                "--{long}"
            );
        }
    }
}
