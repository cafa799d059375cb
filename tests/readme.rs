//! The README's Gmail and Fastmail quick starts, followed as a newcomer
//! would: the config file exactly as the README shows it (in
//! `~/.config/ooauth2/config.toml`, the default place), `ooauth2 login NAME`,
//! then the README's `passwordeval` command run by `sh -c` as msmtp runs it.
//! The one change is an `authority` line pointing the preset at the mock
//! provider, and a `pass` on PATH that knows the one secret. Then real msmtp,
//! with contrib/msmtp/msmtprc and the README's `passwordeval` line, sends a
//! message through the private Dovecot of the real-client tests.

use crate::support::browser::{SignIn, get};
use crate::support::mail::{
    Dovecot, Input, client_command, program, repo_file, run_timeout, substitute,
};
use crate::support::run::{Env, Run, bin, pass_stub, set_mode};
use mock_idp::AuthorizeMode;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The text of the README's section headed `heading`, up to the next `## `.
fn readme_section(heading: &str) -> String {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = text
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("README has no section {heading:?}"));
    let rest = &text[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    rest[..end].to_string()
}

/// The first ```toml block after `marker` in `section`, unindented.
fn toml_block(section: &str, marker: &str) -> String {
    let from = section
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker:?}"));
    let rest = &section[from..];
    let open = rest.find("```toml\n").unwrap() + "```toml\n".len();
    let close = rest[open..].find("```").unwrap();
    rest[open..open + close]
        .lines()
        .map(str::trim_start)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The command inside `passwordeval "..."` for `name`.
fn passwordeval(section: &str, name: &str) -> String {
    let needle = format!("passwordeval \"ooauth2 token {name}\"");
    assert!(section.contains(&needle), "README lacks {needle}");
    format!("ooauth2 token {name}")
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
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    cmd.env("PATH", path);
    cmd
}

/// Writes the README's TOML, plus `authority` in the account's table, at
/// the default config path, mode 0600 as the README says.
fn install_config(env: &Env, toml: &str, account: &str) {
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
fn login(env: &Env, dir: &Path, name: &str, authorize_path: &str) -> Run {
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

/// msmtp with contrib/msmtp/msmtprc for `user`, its `passwordeval` line
/// replaced by the README's, sending through Dovecot; returns whether the
/// message arrived.
fn msmtp_sends(env: &Env, dc: &Dovecot, dir: &Path, user: &str, command: &str) -> bool {
    let contrib = repo_file("contrib/msmtp/msmtprc");
    let line = contrib
        .lines()
        .find(|l| l.starts_with("passwordeval "))
        .unwrap();
    let rc = substitute(
        &contrib,
        &[
            (line, &format!("passwordeval \"{command}\"")),
            ("smtp.office365.com", "127.0.0.1"),
            ("port 587", &format!("port {}", dc.submission_port)),
            (
                "/etc/ssl/certs/ca-certificates.crt",
                dc.cert.to_str().unwrap(),
            ),
            ("you@example.com", user),
        ],
    );
    let path = dc.dir.join("msmtprc");
    std::fs::write(&path, rc).unwrap();
    set_mode(&path, 0o600);
    let mut cmd = client_command(env, &program("msmtp"));
    let search = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    cmd.env("PATH", search)
        .arg("-C")
        .arg(&path)
        .args(["-a", "work", "rcpt@example.org"]);
    let msg =
        format!("From: {user}\r\nTo: rcpt@example.org\r\nSubject: readme {user}\r\n\r\nHi.\r\n");
    let run = run_timeout(cmd, Input::Bytes(msg.as_bytes()), Duration::from_secs(30));
    dc.expect_ok("msmtp", &run);
    dc.sink.delivered(&format!("readme {user}"))
}

#[test]
fn the_gmail_quick_start_works_as_written() {
    let env = Env::new();
    let section = readme_section("Quick start: Gmail and Fastmail");
    let toml = toml_block(&section, "**Gmail.**");
    let client_id = "1234567890-abc.apps.googleusercontent.com";
    assert!(toml.contains(client_id), "{toml}");
    let secret = "GOCSPX-readme-secret";
    env.idp.require_secret(client_id, secret);
    env.idp
        .set_authorize_mode(AuthorizeMode::Approve("you@gmail.com".into()));
    let dir = bin_dir(&env, "mail/gmail-client-secret", secret);
    install_config(&env, &toml, "gmail");
    let run = login(&env, &dir, "gmail", "/o/oauth2/v2/auth");
    run.expect(0);
    assert!(
        run.stderr.contains("signed in as you@gmail.com"),
        "{}",
        run.stderr
    );
    let token = password(&env, &dir, &passwordeval(&section, "gmail"));
    assert!(env.idp.is_active_access_token(&token), "{token}");
    // The next sync after expiry: one refresh, the secret from `pass` again.
    env.expire_cached("you@gmail.com");
    let again = password(&env, &dir, &passwordeval(&section, "gmail"));
    assert_ne!(again, token);
    assert!(env.idp.is_active_access_token(&again));
    let dc = Dovecot::start(&env);
    assert!(msmtp_sends(
        &env,
        &dc,
        &dir,
        "you@gmail.com",
        &passwordeval(&section, "gmail")
    ));
}

#[test]
fn the_fastmail_quick_start_works_as_written() {
    let env = Env::new();
    let section = readme_section("Quick start: Gmail and Fastmail");
    let toml = toml_block(&section, "**Fastmail.**");
    env.idp
        .set_authorize_mode(AuthorizeMode::Approve("you@fastmail.com".into()));
    let dir = bin_dir(&env, "unused", "unused");
    install_config(&env, &toml, "fastmail");
    let run = login(&env, &dir, "fastmail", "/oauth/authorize");
    run.expect(0);
    assert!(
        run.stderr.contains("signed in as you@fastmail.com"),
        "{}",
        run.stderr
    );
    let token = password(&env, &dir, &passwordeval(&section, "fastmail"));
    assert!(env.idp.is_active_access_token(&token), "{token}");
    let dc = Dovecot::start(&env);
    assert!(msmtp_sends(
        &env,
        &dc,
        &dir,
        "you@fastmail.com",
        &passwordeval(&section, "fastmail")
    ));
}
