//! `ooauth2 man`: the man pages, generated from the clap definition so they
//! never fall behind the flags: ooauth2(1), with what no flag says (the
//! config file, FILES, ENVIRONMENT, EXIT STATUS, the legacy options), and
//! one page per subcommand (ooauth2-token(1), ...), their examples from the
//! `--help` texts.

use crate::args::Cli;
use crate::output::{output_error, print_stdout};
use clap::CommandFactory;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};
use ooauth2::error::{Code, Error, Result, shorten};
use ooauth2::protocol::keys::RequestKey;
use std::path::Path;

/// `ooauth2 man`: ooauth2(1) on stdout; with `--dir DIR`, every page
/// written into DIR (created if need be), each path then on stdout.
pub fn man(dir: Option<&Path>) -> Result<()> {
    let pages = pages()?;
    let Some(dir) = dir else {
        let (_, top) = &pages[0];
        return print_stdout(top);
    };
    std::fs::create_dir_all(dir).map_err(|e| dir_error(dir, &e))?;
    let mut written = String::new();
    for (name, text) in &pages {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| dir_error(&path, &e))?;
        written.push_str(&format!("{}\n", path.display()));
    }
    print_stdout(&written)
}

/// A page that could not be written where `--dir` said.
fn dir_error(path: &Path, e: &std::io::Error) -> Error {
    Error::new(
        Code::OutputError,
        format!(
            "cannot write the man pages to {}: {e}",
            shorten(&path.display().to_string(), 200)
        ),
    )
    .hint("give --dir a directory you can write to, e.g. ~/.local/share/man/man1")
}

/// Every page, ooauth2(1) first, as (file name, roff).
fn pages() -> Result<Vec<(String, String)>> {
    let mut top = Cli::command().disable_help_subcommand(true);
    top.build();
    let mut pages = vec![("ooauth2.1".to_string(), page(&top, true)?)];
    for sub in top.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("ooauth2-{}.1", sub.get_name());
        pages.push((name, page(sub, false)?));
        // `store migrate` gets a page of its own, ooauth2-store-migrate(1).
        for nested in sub.get_subcommands().filter(|s| !s.is_hide_set()) {
            let name = format!("ooauth2-{}-{}.1", sub.get_name(), nested.get_name());
            pages.push((name, page(nested, false)?));
        }
    }
    Ok(pages)
}

/// One page: clap_mangen's title, name, synopsis and options, then our
/// description, examples and sections.
fn page(cmd: &clap::Command, top: bool) -> Result<String> {
    let man = Man::new(cmd.clone())
        .source(format!("ooauth2 {}", env!("CARGO_PKG_VERSION")))
        .manual("ooauth2 manual");
    let mut out = Vec::new();
    let help = AfterHelp::of(cmd);
    // The top page's prose (environment, exit status) has sections of its own.
    let prose: &[String] = if top { &[] } else { &help.prose };
    head(&man, cmd, top, prose, &mut out).map_err(|e| output_error("the man page", &e))?;
    let mut roff = Roff::new();
    examples(&mut roff, &help.examples);
    if top {
        top_sections(&mut roff);
    }
    see_also(&mut roff, cmd, top);
    out.extend(roff.render().bytes());
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// clap_mangen's title, name, synopsis, options and subcommands, with our
/// description between.
fn head(
    man: &Man,
    cmd: &clap::Command,
    top: bool,
    prose: &[String],
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    man.render_title(out)?;
    // Left-aligned and unhyphenated: flags, paths and variable names stay
    // whole, as they are typed.
    let mut setup = Roff::new();
    setup.control("ad", ["l"]).control("nh", []);
    out.extend(setup.render().bytes());
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    out.extend(description(cmd, prose).render().bytes());
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(out)?;
    }
    if top || cmd.has_subcommands() {
        man.render_subcommands_section(out)?;
    }
    Ok(())
}

/// A command's `after_help`, split: example lines (under `Examples:`) and
/// the prose around them.
struct AfterHelp {
    examples: Vec<String>,
    prose: Vec<String>,
}

impl AfterHelp {
    fn of(cmd: &clap::Command) -> AfterHelp {
        let text = cmd
            .get_after_long_help()
            .or_else(|| cmd.get_after_help())
            .map(|t| t.to_string())
            .unwrap_or_default();
        let mut help = AfterHelp {
            examples: Vec::new(),
            prose: Vec::new(),
        };
        let mut in_examples = false;
        for line in text.lines() {
            if matches!(line.trim_end(), "Examples:" | "Example:") {
                in_examples = true;
            } else if in_examples && line.starts_with("  ") {
                help.examples.push(line.trim().to_string());
            } else {
                in_examples = false;
                help.prose.push(line.to_string());
            }
        }
        help
    }
}

/// DESCRIPTION: the command's about, then the prose of its `--help`.
fn description(cmd: &clap::Command, prose: &[String]) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["DESCRIPTION"]);
    if let Some(about) = cmd.get_long_about().or_else(|| cmd.get_about()) {
        roff.text([roman(about.to_string())]);
    }
    let text = prose.join("\n");
    for paragraph in text.split("\n\n").filter(|p| !p.trim().is_empty()) {
        roff.control("PP", []);
        roff.text([roman(paragraph.trim().to_string())]);
    }
    roff
}

/// EXAMPLES, as lines to paste: no filling, no hyphenation.
fn examples(roff: &mut Roff, lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    roff.control("SH", ["EXAMPLES"]);
    literal(roff, lines.iter().map(String::as_str));
}

/// Lines set as they are, indented, apart from the text around them.
fn literal<'a>(roff: &mut Roff, lines: impl Iterator<Item = &'a str>) {
    roff.control("PP", []);
    roff.control("RS", []);
    roff.control("nf", []);
    for line in lines {
        roff.text([roman(line)]);
    }
    roff.control("fi", []);
    roff.control("RE", []);
    roff.control("PP", []);
}

/// A tagged paragraph: `tag` in bold, then `text`.
fn item(roff: &mut Roff, tag: &str, text: &str) {
    roff.control("TP", []);
    roff.text([bold(tag)]);
    roff.text([roman(text)]);
}

/// What ooauth2(1) says that no flag does.
fn top_sections(roff: &mut Roff) {
    config_file(roff);
    files(roff);
    environment(roff);
    exit_status(roff);
    legacy_options(roff);
}

/// CONFIGURATION FILE: where it is, its rules, and every key from the
/// key table.
fn config_file(roff: &mut Roff) {
    roff.control("SH", ["CONFIGURATION FILE"]);
    roff.text([roman(
        "Named accounts live in a TOML file, $OOAUTH2_CONFIG or else \
         $XDG_CONFIG_HOME/ooauth2/config.toml (~/.config/ooauth2/config.toml), one table \
         per account. The file must be the user's own and not writable by others (chmod \
         600), in a directory others cannot write to. A mistake is reported with its line \
         and key. An account's name is given instead of the flags (ooauth2 token work); \
         a flag given with the name wins over the file.",
    )]);
    literal(
        roff,
        [
            "[accounts.work]",
            "client_id = \"f21dcaf2-8020-469b-8135-343bfc35d046\"",
            "user = \"you@example.com\"",
            "",
            "[accounts.gmail]",
            "provider = \"google\"",
            "client_id = \"1234567890-abc.apps.googleusercontent.com\"",
            "client_secret_cmd = \"pass show mail/gmail-client-secret\"",
            "user = \"you@gmail.com\"",
        ]
        .into_iter(),
    );
    roff.text([roman(
        "The keys of an account (a client secret itself is never in the file, only \
         client_secret_cmd, run with sh -c when a token must be fetched):",
    )]);
    for (name, value, what) in RequestKey::config_file_keys() {
        item(roff, &format!("{name} = {value}"), what);
    }
}

/// FILES: the store and the config file.
fn files(roff: &mut Roff) {
    roff.control("SH", ["FILES"]);
    item(
        roff,
        "~/.config/ooauth2/config.toml",
        "The config file ($XDG_CONFIG_HOME/ooauth2/config.toml, or $OOAUTH2_CONFIG).",
    );
    item(
        roff,
        "~/.local/share/ooauth2/",
        "The store ($XDG_DATA_HOME/ooauth2, or $OOAUTH2_STORE_DIR): a directory of mode \
         0700, its files 0600, that must belong to the user. Per account, ID.json holds \
         the record (provider, authority, tenant, client id, user, scope, the refresh \
         token and when it arrived, the cached access token and its expiry, whether the \
         provider refused the refresh token) in plain text, and ID.lock its lock; \
         discovery/ caches discovery documents, imports/ locks imports. erase deletes an \
         account's files; it does not revoke its tokens at the provider.",
    );
}

/// ENVIRONMENT: every variable settings.rs reads, the variables a
/// notify_cmd is given, and the others ooauth2 looks at.
fn environment(roff: &mut Roff) {
    roff.control("SH", ["ENVIRONMENT"]);
    for (name, what) in ooauth2::settings::variables() {
        item(roff, name, &what);
    }
    for (name, what) in [
        (
            "HTTPS_PROXY, ALL_PROXY, NO_PROXY",
            "The proxy for the provider's https URLs, and the hosts that go around it \
             (lower case too). A loopback host never goes through a proxy.",
        ),
        (
            "NO_COLOR, TERM",
            "NO_COLOR set, or TERM=dumb: no colours or bold on the terminal.",
        ),
        (
            "DISPLAY, WAYLAND_DISPLAY, DBUS_SESSION_BUS_ADDRESS",
            "A desktop session: a sign-in opens its page with xdg-open, and one without a \
             terminal may notify with notify-send.",
        ),
        (
            "OOAUTH2_VERIFICATION_URI, OOAUTH2_USER_CODE, OOAUTH2_EXPIRES_IN, OOAUTH2_MESSAGE, \
             OOAUTH2_ACCOUNT",
            "Set for a notify_cmd (never on its command line): the page to open, the code \
             to enter, the seconds it is valid, the whole message, and the account.",
        ),
        (
            "OOAUTH2_EVENT",
            "Set for a notify_cmd that keepalive runs: sign-in-needed (the page and code \
             are then empty, OOAUTH2_MESSAGE says what to run).",
        ),
    ] {
        item(roff, name, what);
    }
}

/// EXIT STATUS.
fn exit_status(roff: &mut Roff) {
    roff.control("SH", ["EXIT STATUS"]);
    for (status, what) in [
        ("0", "Success."),
        (
            "1",
            "The user must act: sign in again, or fix the app registration (doctor: a \
             problem was found; test: the server refused the token).",
        ),
        ("2", "The request or the command line is wrong."),
        (
            "74",
            "The store or the config file cannot be read or written safely.",
        ),
        (
            "75",
            "A temporary failure (network, provider, a busy lock, a secret store's \
             decrypt_cmd or encrypt_cmd that failed): try again later.",
        ),
    ] {
        item(roff, status, what);
    }
}

/// LEGACY OPTIONS: the command line of Alpine's ooauth2.py, as the legacy
/// front end's own help gives it.
fn legacy_options(roff: &mut Roff) {
    roff.control("SH", ["LEGACY OPTIONS"]);
    roff.text([roman(
        "A command line that starts with an option of Alpine's ooauth2.py, instead of a \
         subcommand, is run as that script would run it, and prints the same lines:",
    )]);
    let usage = super::super::legacy::USAGE;
    let options = usage
        .lines()
        .skip_while(|l| !l.starts_with("options:"))
        .skip(1);
    literal(roff, options);
}

/// SEE ALSO: the other pages.
fn see_also(roff: &mut Roff, cmd: &clap::Command, top: bool) {
    roff.control("SH", ["SEE ALSO"]);
    let mut refs: Vec<String> = Vec::new();
    if top {
        let top_name = cmd.get_name();
        refs.extend(
            cmd.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(|s| format!("{top_name}-{}(1)", s.get_name())),
        );
    } else {
        refs.push("ooauth2(1)".to_string());
    }
    refs.extend(["msmtp(1)", "mbsync(1)"].map(String::from));
    let mut line = Vec::new();
    for (i, r) in refs.iter().enumerate() {
        if i > 0 {
            line.push(roman(", "));
        }
        line.push(bold(r.as_str()));
    }
    roff.text(line);
    roff.control("PP", []);
    roff.text([
        roman("The README and protocol.md of the source tree; "),
        italic("ooauth2 COMMAND --help"),
        roman("."),
    ]);
}
