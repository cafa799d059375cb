//! The answers `ooauth2 setup` gathers, in the order a person thinks of
//! them: the address, the account's name, the provider, then what that
//! provider needs (tenant, client id, client secret command, issuer and
//! scope, mail servers). Each comes from its flag, else the terminal, else
//! a default: the value of the account already configured under that name
//! (when the provider stays the same), or what the address says.

use super::ask::{Asker, Question};
use super::clients::Server;
use super::guide;
use crate::args::SetupArgs;
use crate::mailtest::Service;
use ooauth2::config::{Named, check_name, valid_name};
use ooauth2::error::{Error, Result, shorten};
use ooauth2::protocol::keys::{RequestKey, config_keys};
use ooauth2::provider::Provider;
use ooauth2::request::{Action, Raw, check_value};

/// Every answer, checked one by one (the request of them all is
/// validated next, as a whole).
pub struct Answers {
    /// The account's name in the config file.
    pub name: String,
    /// The account's values: what the config file will hold, `action=login`.
    pub raw: Raw,
    /// The IMAP server for the lines and `--test imap`, if known.
    pub imap: Option<Server>,
    /// The SMTP server for the lines and `--test smtp`, if known.
    pub smtp: Option<Server>,
}

/// What the flags, the person and the defaults answer.
pub fn gather(asker: &Asker, args: &SetupArgs, configured: &[Named]) -> Result<Answers> {
    let flags = flags(args)?;
    let find = |n: &str| configured.iter().find(|a| a.name == n);
    let given_name = args.account.name.as_deref();
    if let Some(n) = given_name {
        check_name(n)?;
    }
    let user = address(asker, flags.user.as_deref(), given_name.and_then(find))?;
    let name = match given_name {
        Some(n) => n.to_string(),
        None => name(asker, &user)?,
    };
    let old = find(&name);
    let provider = provider(asker, &flags, &user, old)?;
    let base = base(old, provider);
    let mut raw = flags.clone().over(&base);
    raw.set(RequestKey::User, user);
    raw.set(RequestKey::Provider, provider.name().to_string());
    let mut ask = Keys {
        asker,
        flags: &flags,
        base: &base,
        raw: &mut raw,
    };
    ask.provider_needs(provider)?;
    let imap = server(asker, args.imap_server.as_deref(), provider, Service::Imap)?;
    let smtp = server(asker, args.smtp_server.as_deref(), provider, Service::Smtp)?;
    Ok(Answers {
        name,
        raw,
        imap,
        smtp,
    })
}

/// The account's values the flags give: `--flow` and `--redirect-port`
/// are the account's too; the other sign-in flags only this run's.
fn flags(args: &SetupArgs) -> Result<Raw> {
    let mut raw = args.account.raw(Action::Login)?;
    raw.account = None;
    raw.flow.clone_from(&args.signin.flow);
    raw.redirect_port.clone_from(&args.signin.redirect_port);
    Ok(raw)
}

/// A mail address, as `user` takes it.
fn check_address(v: &str) -> Result<()> {
    if !v.contains('@') {
        return Err(Error::invalid("the address must be a mail address")
            .hint("e.g. me@example.com, the address you sign in with"));
    }
    check_value(RequestKey::User, v)
}

/// The mail address: the flag, the person's, or the configured account's.
fn address(asker: &Asker, given: Option<&str>, old: Option<&Named>) -> Result<String> {
    let default = old
        .and_then(|o| o.value(RequestKey::User))
        .map(|u| (u.to_string(), "as configured"));
    asker.needed(
        given,
        &Question {
            prompt: "Your mail address",
            flag: "--user ADDRESS",
            default,
            needed: true,
            help: None,
            hint: None,
            check: &check_address,
        },
    )
}

/// The account's name, by default the first label of the address's
/// domain (`me@contoso.com`: contoso).
fn name(asker: &Asker, user: &str) -> Result<String> {
    let default = user
        .rsplit_once('@')
        .and_then(|(_, d)| d.split('.').next())
        .map(str::to_ascii_lowercase)
        .filter(|d| valid_name(d))
        .map(|d| (d, "from the address"));
    asker.needed(
        None,
        &Question {
            prompt: "Account name",
            flag: "NAME",
            default,
            needed: true,
            help: Some("The mail clients name the account: ooauth2 token NAME.\n"),
            hint: Some("the first argument, e.g. ooauth2 setup work"),
            check: &check_name,
        },
    )
}

/// The provider: the flag, the person's, the configured account's, or the
/// one whose addresses these are.
fn provider(asker: &Asker, flags: &Raw, user: &str, old: Option<&Named>) -> Result<Provider> {
    let configured = old
        .and_then(|o| o.request(Raw::default()).ok())
        .map(|r| r.provider());
    let default = match (
        flags.issuer.is_some(),
        configured,
        Provider::of_address(user),
    ) {
        (true, _, _) => Some((Provider::Generic, "an issuer is given")),
        (_, Some(p), _) => Some((p, "as configured")),
        (_, None, Some(p)) => Some((p, "from the address")),
        _ => None,
    };
    let answer = asker.needed(
        flags.provider.as_deref(),
        &Question {
            prompt: "Provider",
            flag: "--provider PROVIDER",
            default: default.map(|(p, why)| (p.name().to_string(), why)),
            needed: true,
            help: Some(guide::PROVIDERS),
            hint: Some("microsoft for Microsoft 365 and Outlook.com, google for Gmail"),
            check: &|v| check_value(RequestKey::Provider, v),
        },
    )?;
    Provider::from_name(&answer).ok_or_else(|| {
        Error::invalid(format!("unknown provider '{}'", shorten(&answer, 60)))
            .hint(format!("one of: {}", Provider::names()))
    })
}

/// The configured account's values, when it stays at the same provider
/// (another provider's tenant or endpoints would not apply).
fn base(old: Option<&Named>, provider: Provider) -> Raw {
    let mut raw = Raw::default();
    let Some(old) = old else {
        return raw;
    };
    let same = old
        .request(Raw::default())
        .is_ok_and(|r| r.provider() == provider);
    if same {
        for k in config_keys() {
            if let Some(v) = old.value(k) {
                raw.set(k, v.to_string());
            }
        }
    }
    raw
}

/// One question for a key of the account.
struct Ask<'a> {
    key: RequestKey,
    prompt: &'a str,
    flag: &'a str,
    /// The default when the configured account has no value.
    fallback: Option<(&'a str, &'a str)>,
    needed: bool,
    help: Option<&'a str>,
    hint: Option<&'a str>,
}

/// The questions of the account's keys, answered into `raw`.
struct Keys<'a> {
    asker: &'a Asker,
    flags: &'a Raw,
    base: &'a Raw,
    raw: &'a mut Raw,
}

impl Keys<'_> {
    /// Asks `a` (unless its flag answers), checking the answer with `check`.
    fn ask(&mut self, a: Ask, check: &dyn Fn(&str) -> Result<()>) -> Result<()> {
        let default = match self.base.config_text(a.key) {
            Some(v) => Some((v.to_string(), "as configured")),
            None => a.fallback.map(|(v, why)| (v.to_string(), why)),
        };
        let q = Question {
            prompt: a.prompt,
            flag: a.flag,
            default,
            needed: a.needed,
            help: a.help,
            hint: a.hint,
            check,
        };
        let given = self.flags.config_text(a.key);
        let answer = self.asker.answer(given, &q)?;
        // A flag's value is in `raw` already, as given (its messages name the flag).
        if let (Some(v), None) = (answer, given) {
            self.raw.set(a.key, v);
        }
        Ok(())
    }

    /// What `provider` needs besides the address.
    fn provider_needs(&mut self, provider: Provider) -> Result<()> {
        let by_rules = |k: RequestKey| move |v: &str| check_value(k, v);
        if provider.is_microsoft() {
            let tenant = Ask {
                key: RequestKey::Tenant,
                prompt: "Directory (tenant)",
                flag: "--tenant TENANT",
                fallback: Some(("common", "for personal and most work accounts")),
                needed: true,
                help: Some(
                    "common works for personal and most work or school accounts; an app\n\
                     registered for one organisation only needs its domain or GUID.\n",
                ),
                hint: None,
            };
            self.ask(tenant, &by_rules(RequestKey::Tenant))?;
        }
        if provider == Provider::Generic {
            self.generic()?;
        }
        let help = guide::client_id(provider);
        let client = Ask {
            key: RequestKey::ClientId,
            prompt: "Client id",
            flag: "--client-id ID",
            fallback: None,
            needed: true,
            help: Some(&help),
            hint: Some(guide::client_id_short(provider)),
        };
        self.ask(client, &by_rules(RequestKey::ClientId))?;
        self.secret(provider)
    }

    /// The client secret's command: needed by Google, asked for Yahoo and
    /// AOL (whose reused registrations have one), else only by its flag.
    fn secret(&mut self, provider: Provider) -> Result<()> {
        let asked = matches!(provider, Provider::Google | Provider::Yahoo | Provider::Aol);
        let key = RequestKey::ClientSecretCmd;
        if !asked {
            return match self.flags.config_text(key) {
                Some(cmd) => check_secret_cmd(cmd),
                None => Ok(()),
            };
        }
        let secret = Ask {
            key,
            prompt: "Command that prints the client secret",
            flag: "--client-secret-cmd COMMAND",
            fallback: None,
            needed: provider == Provider::Google,
            help: Some(guide::SECRET),
            hint: Some(
                "the command that prints the client secret, e.g. 'pass show mail/gmail-client-secret'",
            ),
        };
        self.ask(secret, &check_secret_cmd)
    }

    /// generic: the issuer (unless a token endpoint is given) and the scope.
    fn generic(&mut self) -> Result<()> {
        let endpoint = [self.flags, self.base]
            .iter()
            .any(|r| r.token_endpoint.is_some());
        let issuer = Ask {
            key: RequestKey::Issuer,
            prompt: "OpenID Connect issuer URL",
            flag: "--issuer URL",
            fallback: None,
            needed: !endpoint,
            help: None,
            hint: Some("or --token-endpoint URL with --authorization-endpoint URL"),
        };
        self.ask(issuer, &|v| check_value(RequestKey::Issuer, v))?;
        let scope = Ask {
            key: RequestKey::Scope,
            prompt: "Scopes for mail (space-separated)",
            flag: "--scope SCOPES",
            fallback: None,
            needed: true,
            help: None,
            hint: None,
        };
        self.ask(scope, &|v| check_value(RequestKey::Scope, v))
    }
}

/// A command, not the secret itself: Google's secrets start `GOCSPX-`, and
/// one pasted here would be written to the config file.
fn check_secret_cmd(cmd: &str) -> Result<()> {
    if cmd.trim_start().starts_with("GOCSPX-") {
        return Err(Error::invalid(
            "that is a client secret, not a command that prints it (value not shown); \
             ooauth2 never writes a secret to the config file",
        )
        .hint(
            "store it in your password store (pass insert mail/gmail-client-secret), then \
             give the command: pass show mail/gmail-client-secret",
        ));
    }
    check_value(RequestKey::ClientSecretCmd, cmd)
}

/// The server of `service`: the flag (HOST or HOST:PORT), else the
/// provider's, else (generic) asked; `None` when nobody knows it.
fn server(
    asker: &Asker,
    flag: Option<&str>,
    provider: Provider,
    service: Service,
) -> Result<Option<Server>> {
    if flag.is_none()
        && let Some((host, port)) = provider.mail_server(service.protocol())
    {
        return Ok(Some(Server {
            host: host.to_string(),
            port,
        }));
    }
    let (prompt, flag_name) = match service {
        Service::Smtp => (
            "SMTP server (HOST or HOST:PORT)",
            "--smtp-server HOST[:PORT]",
        ),
        _ => (
            "IMAP server (HOST or HOST:PORT)",
            "--imap-server HOST[:PORT]",
        ),
    };
    let q = Question {
        prompt,
        flag: flag_name,
        default: None,
        needed: false,
        help: None,
        hint: None,
        check: &|v| parse_server(v, service).map(drop),
    };
    asker
        .answer(flag, &q)?
        .map(|v| parse_server(&v, service))
        .transpose()
}

/// `HOST` (the protocol's standard port) or `HOST:PORT`.
fn parse_server(v: &str, service: Service) -> Result<Server> {
    let (host, port) = match v.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => {
            let port = p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                Error::invalid(format!(
                    "the {} server's port must be 1 to 65535",
                    service.label()
                ))
                .hint("e.g. mail.example.org:993")
            })?;
            (h, port)
        }
        _ => (v, service.default_port()),
    };
    check_value(RequestKey::Host, host)?;
    Ok(Server {
        host: host.to_string(),
        port,
    })
}
