//! The README's quick starts (the first screen's, for Microsoft, and the
//! Gmail and Fastmail ones), followed as a newcomer would: the config file
//! exactly as the README shows it (in `~/.config/ooauth2/config.toml`, the
//! default place), the README's `ooauth2 login NAME`, then the README's
//! `passwordeval` and `PassCmd` commands run by `sh -c` as msmtp and mbsync
//! run them. The one change is an `authority` line pointing the preset at
//! the mock provider, and a `pass` on PATH that knows the one secret. Then
//! real msmtp and mbsync, with the account's block of
//! contrib/msmtp/msmtprc and contrib/isync/mbsyncrc and the README's line,
//! send a message through the private Dovecot of the real-client tests and
//! sync one from it.

use crate::support::browser::{SignIn, get};
use crate::support::mail::{
    Dovecot, Input, client_command, in_maildir, program, repo_file, run_timeout, substitute,
};
use crate::support::run::{Env, Run, bin, pass_stub, path_with, set_mode};
use mock_idp::{AuthorizeMode, DeviceOutcome, DeviceScript};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The text of the README's section headed `heading`, up to the next `## `.
pub fn readme_section(heading: &str) -> String {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = text
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("README has no section {heading:?}"));
    let rest = &text[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    rest[..end].to_string()
}

/// The first fenced block of kind `kind` (`toml`, `sh`) after `marker` in
/// `section`, unindented.
pub fn fenced_block(section: &str, marker: &str, kind: &str) -> String {
    let from = section
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker:?}"));
    let rest = &section[from..];
    let fence = format!("```{kind}\n");
    let open = rest.find(&fence).unwrap() + fence.len();
    let close = rest[open..].find("```").unwrap();
    let indent = rest[..open - fence.len()]
        .rsplit('\n')
        .next()
        .map_or(0, str::len);
    rest[open..open + close]
        .lines()
        .map(|l| l.get(indent..).unwrap_or(l.trim_start()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first ```toml block after `marker` in `section`.
fn toml_block(section: &str, marker: &str) -> String {
    fenced_block(section, marker, "toml")
}

/// The command inside `WORD "..."` (msmtp's `passwordeval`, mbsync's
/// `PassCmd`) for the account `name`, as the README writes it: a line of
/// its own, to paste into the rc file (msmtp would take a trailing `# note`
/// as part of the command).
fn quoted_command(section: &str, word: &str, name: &str) -> String {
    let needle = format!("{word} \"ooauth2 token {name}\"");
    let lines: Vec<&str> = section
        .lines()
        .map(str::trim)
        .filter(|l| l.contains(&needle))
        .collect();
    assert!(!lines.is_empty(), "README lacks {needle}");
    for line in lines {
        let span = line.contains(&format!("`{needle}`"));
        assert!(
            span || line == needle,
            "README: not a line to paste: {line}"
        );
    }
    format!("ooauth2 token {name}")
}

/// The first `code` span after `marker` in `section`.
fn code_after(section: &str, marker: &str) -> String {
    let from = section
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker:?}"));
    let rest = &section[from + marker.len()..];
    let open = rest.find('`').unwrap() + 1;
    let close = rest[open..].find('`').unwrap();
    rest[open..open + close].to_string()
}

/// A directory with `ooauth2` (the built binary) and a `pass` that prints
/// `secret` for `pass show ENTRY` only, as the password store would.
fn bin_dir(env: &Env, entry: &str, secret: &str) -> PathBuf {
    let dir = pass_stub(env, entry, secret);
    let _ = std::fs::remove_file(dir.join("ooauth2"));
    std::os::unix::fs::symlink(bin(), dir.join("ooauth2")).unwrap();
    dir
}

/// `sh -c COMMAND` with `dir` first on PATH, in the test's isolated environment.
fn shell(env: &Env, dir: &Path, command: &str) -> std::process::Command {
    // command_via appends the binary's path: it becomes `$1`, unused.
    let mut cmd = env.command_via(&["sh", "-c", command, "sh"], &[] as &[&str]);
    cmd.env("PATH", path_with(dir));
    cmd
}

/// Writes the README's TOML, plus `authority` in the account's table, at
/// the default config path, mode 0600 as the README says.
fn install_readme_config(env: &Env, toml: &str, account: &str) {
    let header = format!("[accounts.{account}]\n");
    assert!(toml.contains(&header), "{toml}");
    let body = toml.replacen(
        &header,
        &format!("{header}authority = \"{}\"\n", env.idp.authority()),
        1,
    );
    let dir = env.root.join("home/.config/ooauth2");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, body).unwrap();
    set_mode(&path, 0o600);
}

/// `ooauth2 login NAME` as the README says, with the browser played by the test.
fn browser_login(env: &Env, dir: &Path, name: &str, authorize_path: &str) -> Run {
    let signin = SignIn::spawn(shell(env, dir, &format!("ooauth2 login {name}")), "");
    let url = signin.url_matching(&format!("{}{authorize_path}?", env.idp.authority()), "");
    let at_idp = get(&url);
    assert_eq!(at_idp.status, 302, "{}", at_idp.body);
    let page = get(&at_idp.location.unwrap());
    assert_eq!(page.status, 200);
    signin.finish()
}

/// msmtp's side: the first line of the command's stdout is the password.
fn password(env: &Env, dir: &Path, command: &str) -> String {
    let out = env.run_with(shell(env, dir, command), b"");
    out.expect(0);
    assert_eq!(out.stdout.lines().count(), 1, "{out:#?}");
    out.stdout.trim_end().to_string()
}

/// Where one account block of the contrib files talks to, and where the
/// private Dovecot answers instead.
struct Block {
    /// msmtp's and mbsync's name of the block.
    name: &'static str,
    /// The address the file names.
    user: &'static str,
    smtp_host: &'static str,
    smtp_port: &'static str,
    imap_host: &'static str,
}

/// The Microsoft block, `work`.
const WORK: Block = Block {
    name: "work",
    user: "you@example.com",
    smtp_host: "smtp.office365.com",
    smtp_port: "port 587",
    imap_host: "outlook.office365.com",
};

/// The Gmail block, `gmail`: SMTP with TLS from the first byte.
const GMAIL: Block = Block {
    name: "gmail",
    user: "you@gmail.com",
    smtp_host: "smtp.gmail.com",
    smtp_port: "port 465",
    imap_host: "imap.gmail.com",
};

/// A client command with `dir` first on PATH.
fn client(env: &Env, dir: &Path, name: &str) -> std::process::Command {
    let mut cmd = client_command(env, &program(name));
    cmd.env("PATH", path_with(dir));
    cmd
}

/// msmtp with `block` of contrib/msmtp/msmtprc for `user`, its
/// `passwordeval` line replaced by the README's `command`, sending through
/// Dovecot; returns whether the message arrived.
fn msmtp_sends(
    env: &Env,
    dc: &Dovecot,
    dir: &Path,
    block: &Block,
    user: &str,
    command: &str,
) -> bool {
    let port = if block.smtp_port == "port 465" {
        dc.submissions_port
    } else {
        dc.submission_port
    };
    let rc = substitute(
        &repo_file("contrib/msmtp/msmtprc"),
        &[
            (
                &format!("passwordeval \"ooauth2 token {}\"", block.name),
                &format!("passwordeval \"{command}\""),
            ),
            (block.smtp_host, "127.0.0.1"),
            (block.smtp_port, &format!("port {port}")),
            (
                "/etc/ssl/certs/ca-certificates.crt",
                dc.cert.to_str().unwrap(),
            ),
            (block.user, user),
        ],
    );
    let path = dc.dir.join(format!("msmtprc-{}", block.name));
    std::fs::write(&path, rc).unwrap();
    set_mode(&path, 0o600);
    let mut cmd = client(env, dir, "msmtp");
    cmd.arg("-C")
        .arg(&path)
        .args(["-a", block.name, "rcpt@example.org"]);
    let msg =
        format!("From: {user}\r\nTo: rcpt@example.org\r\nSubject: readme {user}\r\n\r\nHi.\r\n");
    let run = run_timeout(cmd, Input::Bytes(msg.as_bytes()), Duration::from_secs(30));
    dc.expect_ok("msmtp", &run);
    dc.sink.delivered(&format!("readme {user}"))
}

/// mbsync with the channel `block` of contrib/isync/mbsyncrc for `user`,
/// its `PassCmd` line replaced by the README's `command`, syncing a message
/// put in the INBOX first; returns whether it arrived in the Maildir.
fn mbsync_syncs(
    env: &Env,
    dc: &Dovecot,
    dir: &Path,
    block: &Block,
    user: &str,
    command: &str,
) -> bool {
    let marker = format!("for mbsync {user}");
    let xoauth2 = password(env, dir, &format!("{command} --format xoauth2"));
    dc.seed_inbox(&xoauth2, user, &marker);
    let maildir = dc.dir.join(format!("mail-{}", block.name));
    std::fs::create_dir_all(&maildir).unwrap();
    let rc = substitute(
        &repo_file("contrib/isync/mbsyncrc"),
        &[
            (
                &format!("PassCmd \"ooauth2 token {}\"", block.name),
                &format!("PassCmd \"{command}\""),
            ),
            (block.imap_host, "127.0.0.1"),
            ("Port 993", &format!("Port {}", dc.imaps_port)),
            (
                "/etc/ssl/certs/ca-certificates.crt",
                dc.cert.to_str().unwrap(),
            ),
            (block.user, user),
            (
                &format!("~/Mail/{}/", block.name),
                &format!("{}/", maildir.display()),
            ),
        ],
    );
    let path = dc.dir.join(format!("mbsyncrc-{}", block.name));
    std::fs::write(&path, rc).unwrap();
    let mut cmd = client(env, dir, "mbsync");
    cmd.arg("-c").arg(&path).arg(block.name);
    let run = run_timeout(cmd, Input::Bytes(b""), Duration::from_secs(30));
    dc.expect_ok("mbsync", &run);
    in_maildir(&maildir.join("INBOX"), &marker)
}

/// The first screen: a client id in the config file as shown, `ooauth2
/// login work` with the device code, then the msmtp and mbsync lines.
#[test]
fn the_first_screens_quick_start_works_as_written() {
    let env = Env::new();
    let section = readme_section("Quick start");
    let toml = toml_block(&section, "**Name the account**");
    let user = "you@example.com";
    assert!(toml.contains(&format!("user = \"{user}\"")), "{toml}");
    env.idp.set_device_script(DeviceScript {
        slow_down_polls: 0,
        pending_polls: 1,
        outcome: DeviceOutcome::Approve(user.into()),
    });
    let dir = bin_dir(&env, "unused", "unused");
    install_readme_config(&env, &toml, "work");
    let login = code_after(&section, "**Sign in once:**");
    assert_eq!(login, "ooauth2 login work");
    let run = env.run_with(shell(&env, &dir, &login), b"");
    run.expect(0);
    assert!(
        run.stderr.contains(&format!("signed in as {user}")),
        "{}",
        run.stderr
    );
    let send = quoted_command(&section, "passwordeval", "work");
    let sync = quoted_command(&section, "PassCmd", "work");
    let token = password(&env, &dir, &send);
    assert!(env.idp.is_active_access_token(&token), "{token}");
    let dc = Dovecot::start(&env);
    assert!(msmtp_sends(&env, &dc, &dir, &WORK, user, &send));
    assert!(mbsync_syncs(&env, &dc, &dir, &WORK, user, &sync));
}

#[test]
fn the_gmail_quick_start_works_as_written() {
    let env = Env::new();
    let section = readme_section("Gmail, Fastmail and other providers");
    let toml = toml_block(&section, "### Gmail");
    let client_id = "1234567890-abc.apps.googleusercontent.com";
    assert!(toml.contains(client_id), "{toml}");
    let secret = "GOCSPX-readme-secret";
    env.idp.require_secret(client_id, secret);
    env.idp
        .set_authorize_mode(AuthorizeMode::Approve("you@gmail.com".into()));
    let dir = bin_dir(&env, "mail/gmail-client-secret", secret);
    install_readme_config(&env, &toml, "gmail");
    let run = browser_login(&env, &dir, "gmail", "/o/oauth2/v2/auth");
    run.expect(0);
    assert!(
        run.stderr.contains("signed in as you@gmail.com"),
        "{}",
        run.stderr
    );
    let send = quoted_command(&section, "passwordeval", "gmail");
    let sync = quoted_command(&section, "PassCmd", "gmail");
    let token = password(&env, &dir, &send);
    assert!(env.idp.is_active_access_token(&token), "{token}");
    // The next sync after expiry: one refresh, the secret from `pass` again.
    env.expire_cached("you@gmail.com");
    let again = password(&env, &dir, &send);
    assert_ne!(again, token);
    assert!(env.idp.is_active_access_token(&again));
    // Gmail's blocks of the contrib files: SMTP on 465 with TLS from the
    // first byte, IMAP on 993.
    let dc = Dovecot::start(&env);
    assert!(msmtp_sends(&env, &dc, &dir, &GMAIL, "you@gmail.com", &send));
    assert!(mbsync_syncs(
        &env,
        &dc,
        &dir,
        &GMAIL,
        "you@gmail.com",
        &sync
    ));
}

#[test]
fn the_fastmail_quick_start_works_as_written() {
    let env = Env::new();
    let section = readme_section("Gmail, Fastmail and other providers");
    let toml = toml_block(&section, "### Fastmail");
    env.idp
        .set_authorize_mode(AuthorizeMode::Approve("you@fastmail.com".into()));
    let dir = bin_dir(&env, "unused", "unused");
    install_readme_config(&env, &toml, "fastmail");
    let run = browser_login(&env, &dir, "fastmail", "/oauth/authorize");
    run.expect(0);
    assert!(
        run.stderr.contains("signed in as you@fastmail.com"),
        "{}",
        run.stderr
    );
    let send = quoted_command(&section, "passwordeval", "fastmail");
    let token = password(&env, &dir, &send);
    assert!(env.idp.is_active_access_token(&token), "{token}");
    // Fastmail has no block of its own in contrib/: the Microsoft one, on
    // the README's line.
    let dc = Dovecot::start(&env);
    assert!(msmtp_sends(
        &env,
        &dc,
        &dir,
        &WORK,
        "you@fastmail.com",
        &send
    ));
}
