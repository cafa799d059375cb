//! The other contrib/ configurations with their real clients against a real
//! Dovecot: neomutt (IMAP and SMTP), offlineimap, getmail and aerc (IMAP),
//! each with the contrib/ file users copy, only hosts, ports, paths and the
//! CA file substituted, naming the account `work` of contrib/config.toml,
//! installed as the config file with the mock provider's authority (as
//! tests/real_clients.rs does for msmtp and mbsync). Clients that have no option for a CA file get it from the
//! command line (neomutt: `-e 'set ssl_ca_certificates_file=...'`) or the
//! environment (aerc: `SSL_CERT_FILE`), not from an edited file.
//!
//! neomutt and aerc need a terminal: they run under script(1). neomutt
//! quits by itself (`-e 'push <quit>'`); aerc gets `:quit` typed once
//! Dovecot has logged its login. aerc's sending needs the compose editor
//! and is not tested; nor is offlineimap's or getmail's (they only read).
//!
//! Every success is checked at the server (Dovecot's login log, the
//! delivering sink, or the synced message), every failure by the absence of
//! a login. Needs Debian's packages (`.ci/run` installs them); without them
//! every test fails with the apt-get line to run.

use crate::support::mail::{
    Dovecot, Input, client_command, in_maildir, install_config, program, repo_file,
    require_other_programs, run_timeout, substitute, terminal_command,
};
use crate::support::run::{Env, NOBODY, Run, USER, running_as_root, set_mode};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Tokens the size Microsoft issues.
const MICROSOFT_SIZE: usize = 2500;
/// How long a client may take before the test calls it hung.
const CLIENT_LIMIT: Duration = Duration::from_secs(20);

/// A mock provider, optionally with the account signed in, and a Dovecot
/// that trusts it. Dovecot is declared first so that it stops before the
/// store goes.
struct Setup {
    dc: Dovecot,
    env: Env,
}

fn setup(token_size: usize, signed_in: bool) -> Setup {
    require_other_programs();
    let env = Env::new();
    if token_size > 0 {
        env.idp.set_token_size(token_size);
    }
    if signed_in {
        env.seed(USER);
    }
    install_config(&env, &env.root.join("home/.config"));
    let dc = Dovecot::start(&env);
    Setup { dc, env }
}

impl Setup {
    /// The contrib file `rel`, with the account and `pairs` substituted,
    /// written as `name` (mode 0600) in Dovecot's directory.
    fn contrib(&self, rel: &str, name: &str, pairs: &[(&str, &str)]) -> PathBuf {
        let mut all: Vec<(&str, &str)> = pairs.to_vec();
        all.push(("you@example.com", USER));
        let text = substitute(&repo_file(rel), &all);
        let path = self.dc.dir.join(name);
        std::fs::write(&path, text).unwrap();
        set_mode(&path, 0o600);
        path
    }

    fn cert(&self) -> &str {
        self.dc.cert.to_str().unwrap()
    }

    /// Puts a message with `marker` in the account's INBOX over raw IMAP
    /// (one XOAUTH2 login).
    fn seed_inbox(&self, marker: &str) {
        let run = self.env.token(USER, &["--format", "xoauth2"]);
        run.expect(0);
        self.dc.seed_inbox(run.stdout.trim_end(), USER, marker);
    }

    /// XOAUTH2 logins of the account Dovecot logged at `service`.
    fn logins(&self, service: &str) -> usize {
        self.dc.login_count("XOAUTH2", service)
    }

    /// [`Dovecot::expect_logins`] for XOAUTH2 at `service`, showing `run`.
    #[track_caller]
    fn expect_logins(&self, service: &str, n: usize, run: &Run) {
        self.dc
            .expect_logins("XOAUTH2", service, n, &format!("{run:#?}"));
    }

    /// Asserts that nobody logged in and that no error text reached
    /// Dovecot as a token.
    #[track_caller]
    fn expect_no_login(&self, run: &Run) {
        // Let Dovecot's log process catch up before looking for what is
        // absent.
        std::thread::sleep(Duration::from_millis(300));
        let log = self.dc.log_text();
        assert!(!log.contains("Login: user="), "{run:#?}\n{log}");
        for leak in ["ooauth2:", "no refresh token", "ooauth2 login"] {
            assert!(!log.contains(leak), "{leak:?} in the server log:\n{log}");
        }
        assert!(self.dc.sink.messages().is_empty());
    }
}

// ---------------------------------------------------------------------------
// neomutt
// ---------------------------------------------------------------------------

impl Setup {
    /// contrib/neomutt/neomuttrc, substituted.
    fn neomuttrc(&self) -> PathBuf {
        self.contrib(
            "contrib/neomutt/neomuttrc",
            "neomuttrc",
            &[
                (
                    "outlook.office365.com:993",
                    &format!("127.0.0.1:{}", self.dc.imaps_port),
                ),
                (
                    "smtp.office365.com:587",
                    &format!("127.0.0.1:{}", self.dc.submission_port),
                ),
            ],
        )
    }

    /// neomutt's arguments: no system file, `rc`, the test's CA file.
    fn neomutt_args(&self, rc: &Path) -> Vec<String> {
        vec![
            "-n".into(),
            "-F".into(),
            rc.to_str().unwrap().into(),
            "-e".into(),
            format!("set ssl_ca_certificates_file = \"{}\"", self.cert()),
        ]
    }

    /// Sends a message with `marker` as its subject in batch mode.
    fn neomutt_send(&self, marker: &str) -> Run {
        let rc = self.neomuttrc();
        let mut cmd = client_command(&self.env, &program("neomutt"));
        cmd.args(self.neomutt_args(&rc))
            .args(["-s", marker, "rcpt@example.org"]);
        run_timeout(
            cmd,
            Input::Bytes(b"Sent by neomutt with ooauth2.\n"),
            CLIENT_LIMIT,
        )
    }

    /// Opens the spool mailbox (INBOX over IMAP) in a terminal and quits.
    fn neomutt_read(&self) -> Run {
        let rc = self.neomuttrc();
        let mut words = vec![program("neomutt").to_str().unwrap().to_string()];
        words.extend(self.neomutt_args(&rc));
        words.extend(["-e".into(), "push <quit>".into()]);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        run_timeout(
            terminal_command(&self.env, &words),
            Input::KeysWhen(b"", &|| false),
            CLIENT_LIMIT,
        )
    }
}

#[test]
fn neomutt_reads_inbox_over_imap_with_xoauth2() {
    let s = setup(0, true);
    s.seed_inbox("waiting for neomutt");
    let run = s.neomutt_read();
    s.dc.expect_ok("neomutt", &run);
    // The index shows the message: neomutt logged in and read INBOX.
    assert!(
        run.stdout.contains("waiting for neomutt"),
        "{run:#?}\n{}",
        s.dc.logs()
    );
    s.expect_logins("imap-login", 2, &run);
}

#[test]
fn neomutt_sends_through_dovecot_submission_in_batch_mode() {
    let s = setup(0, true);
    let run = s.neomutt_send("hello from neomutt");
    s.dc.expect_ok("neomutt", &run);
    assert!(
        s.dc.sink.delivered("hello from neomutt"),
        "not at the sink: {run:#?}\n{}",
        s.dc.logs()
    );
    let m = &s.dc.sink.messages()[0];
    assert!(m.from.contains(USER), "{m:?}");
    assert!(m.to.iter().any(|t| t.contains("rcpt@example.org")), "{m:?}");
    s.expect_logins("submission-login", 1, &run);
}

/// What contrib/neomutt/README.md says: neomutt puts the token on the SMTP
/// AUTH line, which Dovecot 2.3 submission refuses beyond 1026 bytes, so
/// Microsoft-sized tokens fail there; IMAP is not affected.
#[test]
fn neomutt_with_microsoft_sized_tokens_reads_but_cannot_send_through_dovecot() {
    let s = setup(MICROSOFT_SIZE, true);
    s.seed_inbox("big token");
    let run = s.neomutt_read();
    s.dc.expect_ok("neomutt", &run);
    assert!(run.stdout.contains("big token"), "{run:#?}");
    s.expect_logins("imap-login", 2, &run);

    let run = s.neomutt_send("too long");
    assert_ne!(run.status, 0, "neomutt sent: {run:#?}\n{}", s.dc.logs());
    assert!(!s.dc.sink.delivered("too long"));
    assert_eq!(s.logins("submission-login"), 0, "{}", s.dc.logs());
    assert!(
        run.stderr
            .contains("SMTP session failed: 500 5.5.2 Line too long"),
        "refused for another reason: {run:#?}\n{}",
        s.dc.logs()
    );
}

#[test]
fn neomutt_without_a_stored_account_shows_ooauth2s_error_and_sends_no_login() {
    let s = setup(0, false);
    let run = s.neomutt_send("never");
    assert_ne!(run.status, 0, "{run:#?}");
    assert!(run.stderr.contains("ooauth2: error:"), "{run:#?}");
    assert!(
        run.stderr.contains("Command returned empty string"),
        "{run:#?}"
    );
    let run = s.neomutt_read();
    assert!(run.stdout.contains("ooauth2: error:"), "{run:#?}");
    s.expect_no_login(&run);
}

// ---------------------------------------------------------------------------
// offlineimap
// ---------------------------------------------------------------------------

impl Setup {
    /// contrib/offlineimap/offlineimaprc, substituted, syncing into the
    /// returned Maildir.
    fn offlineimap(&self) -> (Run, PathBuf) {
        let maildir = self.dc.dir.join("offlineimap-mail");
        let rc = self.contrib(
            "contrib/offlineimap/offlineimaprc",
            "offlineimaprc",
            &[
                (
                    "remotehost = outlook.office365.com",
                    "remotehost = 127.0.0.1",
                ),
                (
                    "remoteport = 993",
                    &format!("remoteport = {}", self.dc.imaps_port),
                ),
                ("OS-DEFAULT", self.cert()),
                ("~/Mail/work", maildir.to_str().unwrap()),
            ],
        );
        let mut cmd = client_command(&self.env, &program("offlineimap"));
        cmd.arg("-c").arg(&rc).args(["-o", "-u", "quiet"]);
        (run_timeout(cmd, Input::Bytes(b""), CLIENT_LIMIT), maildir)
    }
}

#[test]
fn offlineimap_syncs_the_inbox_into_a_maildir() {
    let s = setup(0, true);
    s.seed_inbox("waiting for offlineimap");
    let (run, maildir) = s.offlineimap();
    s.dc.expect_ok("offlineimap", &run);
    assert!(
        in_maildir(&maildir.join("INBOX"), "waiting for offlineimap"),
        "not synced to {}: {run:#?}\n{}",
        maildir.display(),
        s.dc.logs()
    );
    s.expect_logins("imap-login", 2, &run);
}

#[test]
fn offlineimap_without_a_stored_account_stops_with_ooauth2s_error() {
    let s = setup(0, false);
    let (run, _) = s.offlineimap();
    assert_eq!(run.status, 100, "{run:#?}");
    assert!(run.stderr.contains("ooauth2: error:"), "{run:#?}");
    // Its traceback names the failed command, on stdout.
    assert!(
        run.stdout.contains("returned non-zero exit status 1"),
        "{run:#?}"
    );
    s.expect_no_login(&run);
}

// ---------------------------------------------------------------------------
// getmail
// ---------------------------------------------------------------------------

impl Setup {
    /// contrib/getmail/getmailrc, substituted, delivering into the returned
    /// Maildir. getmail refuses to deliver as root: as root, getmail (and so
    /// ooauth2) runs as nobody, with its files and the store given to
    /// nobody.
    fn getmail(&self) -> (Run, PathBuf) {
        let gmdir = self.dc.dir.join("getmail");
        let maildir = gmdir.join("Mail");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        let rc = self.contrib(
            "contrib/getmail/getmailrc",
            "getmailrc",
            &[
                ("server = outlook.office365.com", "server = 127.0.0.1"),
                ("port = 993", &format!("port = {}", self.dc.imaps_port)),
                ("/etc/ssl/certs/ca-certificates.crt", self.cert()),
                ("~/Mail/work/", &format!("{}/", maildir.display())),
            ],
        );
        // getmail runs with its own directory as HOME: the config file is there.
        install_config(&self.env, &gmdir.join(".config"));
        let store = self.env.store();
        std::fs::create_dir_all(&store).unwrap();
        set_mode(&store, 0o700);
        let mut cmd = if running_as_root(&self.env) {
            for p in [&gmdir, &maildir, &rc, &store] {
                chown_tree(p);
            }
            let mut c = client_command(&self.env, &program("setpriv"));
            c.args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                program("getmail").to_str().unwrap(),
            ]);
            c
        } else {
            client_command(&self.env, &program("getmail"))
        };
        cmd.env("HOME", &gmdir)
            .arg("--rcfile")
            .arg(&rc)
            .arg("--getmaildir")
            .arg(&gmdir);
        (run_timeout(cmd, Input::Bytes(b""), CLIENT_LIMIT), maildir)
    }
}

/// Gives `path` and everything under it to nobody.
fn chown_tree(path: &Path) {
    std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY)).unwrap();
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap().flatten() {
            chown_tree(&e.path());
        }
    }
}

#[test]
fn getmail_retrieves_a_message_into_a_maildir() {
    let s = setup(0, true);
    s.seed_inbox("waiting for getmail");
    let (run, maildir) = s.getmail();
    s.dc.expect_ok("getmail", &run);
    assert!(
        in_maildir(&maildir, "waiting for getmail"),
        "not delivered to {}: {run:#?}\n{}",
        maildir.display(),
        s.dc.logs()
    );
    assert!(run.stdout.contains("1 messages"), "{run:#?}");
    s.expect_logins("imap-login", 2, &run);
}

/// getmail does not show the command's stderr; it names the failed command.
#[test]
fn getmail_without_a_stored_account_stops_before_logging_in() {
    let s = setup(0, false);
    let (run, _) = s.getmail();
    assert_ne!(run.status, 0, "{run:#?}");
    assert!(
        run.stderr
            .contains("External program error (ooauth2 exited with 1)"),
        "{run:#?}"
    );
    s.expect_no_login(&run);
}

// ---------------------------------------------------------------------------
// aerc
// ---------------------------------------------------------------------------

impl Setup {
    /// Starts aerc with contrib/aerc/accounts.conf, substituted, in a
    /// terminal; once Dovecot logged an IMAP login beyond `logins_before`,
    /// types `:quit`.
    fn aerc(&self, logins_before: usize) -> Run {
        let config = self.dc.dir.join("aerc-config");
        std::fs::create_dir_all(config.join("aerc")).unwrap();
        let rc = self.contrib(
            "contrib/aerc/accounts.conf",
            "accounts.conf",
            &[
                (
                    "outlook.office365.com:993",
                    &format!("127.0.0.1:{}", self.dc.imaps_port),
                ),
                (
                    "smtp.office365.com:587",
                    &format!("127.0.0.1:{}", self.dc.submission_port),
                ),
                ("you%40example.com", &USER.replace('@', "%40")),
            ],
        );
        let conf = config.join("aerc/accounts.conf");
        std::fs::rename(&rc, &conf).unwrap();
        // aerc runs with its own XDG_CONFIG_HOME, where ooauth2 looks too.
        install_config(&self.env, &config);
        let aerc = program("aerc");
        let mut cmd: Command = terminal_command(&self.env, &[aerc.to_str().unwrap()]);
        cmd.env("XDG_CONFIG_HOME", &config)
            .env("XDG_CACHE_HOME", self.dc.dir.join("aerc-cache"))
            .env("SSL_CERT_FILE", &self.dc.cert);
        let logged_in = || self.logins("imap-login") > logins_before;
        run_timeout(cmd, Input::KeysWhen(b":quit\r", &logged_in), CLIENT_LIMIT)
    }
}

#[test]
fn aerc_logs_in_over_imap_with_xoauth2() {
    let s = setup(0, true);
    let run = s.aerc(0);
    s.dc.expect_ok("aerc", &run);
    s.expect_logins("imap-login", 1, &run);
}

/// aerc does not show the command's stderr; it does not start.
#[test]
fn aerc_without_a_stored_account_does_not_start_or_log_in() {
    let s = setup(0, false);
    let run = s.aerc(0);
    assert_ne!(run.status, 0, "{run:#?}");
    assert!(
        run.stdout.contains(
            "Invalid source credentials for work: failed to read password: exit status 1"
        ),
        "{run:#?}"
    );
    s.expect_no_login(&run);
}

// ---------------------------------------------------------------------------
// The Gmail variants: loaded by their programs as they are (no server; the
// msmtp and mbsync ones send and sync in tests/readme.rs)
// ---------------------------------------------------------------------------

#[test]
fn gmail_variants_load_in_neomutt_and_getmail_unchanged() {
    require_other_programs();
    let env = Env::new();
    let home = env.root.join("home");
    let rc = crate::support::mail::repo().join("contrib/neomutt/neomuttrc-gmail");
    let mut cmd = client_command(&env, &program("neomutt"));
    cmd.arg("-n").arg("-F").arg(&rc);
    for var in ["smtp_url", "folder", "imap_oauth_refresh_command"] {
        cmd.args(["-Q", var]);
    }
    let run = run_timeout(cmd, Input::Bytes(b""), CLIENT_LIMIT);
    assert_eq!(run.status, 0, "{run:#?}");
    assert_eq!(
        run.stdout,
        "set smtp_url = \"smtps://smtp.gmail.com:465/\"\n\
         set folder = \"imaps://imap.gmail.com:993/\"\n\
         set imap_oauth_refresh_command = \"ooauth2 token gmail --non-interactive\"\n",
        "{run:#?}"
    );
    assert!(!run.stderr.contains("Error"), "{run:#?}");

    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(home.join("Mail/gmail").join(sub)).unwrap();
    }
    let rc = crate::support::mail::repo().join("contrib/getmail/getmailrc-gmail");
    let gmdir = env.root.join("getmail");
    std::fs::create_dir_all(&gmdir).unwrap();
    let mut cmd = client_command(&env, &program("getmail"));
    cmd.arg("--rcfile")
        .arg(&rc)
        .arg("--getmaildir")
        .arg(&gmdir)
        .arg("--dump");
    let run = run_timeout(cmd, Input::Bytes(b""), CLIENT_LIMIT);
    assert_eq!(run.status, 0, "{run:#?}");
    for needle in [
        "server=\"imap.gmail.com\"",
        "port=\"993\"",
        "use_xoauth2=\"True\"",
        "password_command=\"('ooauth2', 'token', 'gmail')\"",
    ] {
        assert!(run.stdout.contains(needle), "{needle:?}: {run:#?}");
    }
}
