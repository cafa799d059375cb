//! `ooauth2 setup`, driven as a newcomer and a script would: flags only
//! (no terminal), and answers typed at a pseudo-terminal (util-linux
//! `script`). The config file it writes (shown first as a diff, other
//! tables kept byte for byte, replacing asked), the sign-in it does as
//! `ooauth2 login NAME`, the mail clients' lines it prints, then
//! `ooauth2 token NAME`, real msmtp and real mbsync with those lines
//! against the private Dovecot. Unsafe or broken config files are refused
//! as every command refuses them, and bad input changes nothing.

use crate::error_style::command_styled;
use crate::support::browser::{SignIn, get};
use crate::support::mail::{
    Dovecot, Input, client_command, in_maildir, program, repo_file, run_timeout, substitute,
};
use crate::support::pty::Pty;
use crate::support::run::{CLIENT, Env, USER, pass_stub, path_with, running_as_root, set_mode};
use mock_idp::AuthorizeMode;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The lines a new config file starts with.
const HEADER: &str = "\
# ooauth2's named accounts: `ooauth2 token NAME` reads [accounts.NAME].
# Written by `ooauth2 setup`; edit freely, and keep it private (chmod 600).

";

/// What `setup work` prints on stdout for the test user at Microsoft.
const MICROSOFT_LINES: &str = r#"# ~/.msmtprc
account work
host smtp.office365.com
port 587
tls on
tls_starttls on
auth xoauth2
from me@example.com
user me@example.com
passwordeval "ooauth2 token work"

# ~/.mbsyncrc (mbsync needs a Cyrus SASL XOAUTH2 plugin, on Debian
# libsasl2-modules-kdexoauth2; then: mkdir -p ~/Mail/work && mbsync work)
IMAPAccount work
Host outlook.office365.com
Port 993
User me@example.com
AuthMechs XOAUTH2
PassCmd "ooauth2 token work"
SSLType IMAPS

IMAPStore work-remote
Account work

MaildirStore work-local
Path ~/Mail/work/
Inbox ~/Mail/work/INBOX
SubFolders Verbatim

Channel work
Far :work-remote:
Near :work-local:
Patterns INBOX
Create Near
SyncState *

# ~/.config/neomutt/neomuttrc
set from = "me@example.com"
set imap_user = "me@example.com"
set folder = "imaps://outlook.office365.com:993/"
set spool_file = "+INBOX"
set imap_authenticators = "xoauth2"
set imap_oauth_refresh_command = "ooauth2 token work --non-interactive"
set smtp_url = "smtp://smtp.office365.com:587/"
set smtp_user = "me@example.com"
set smtp_authenticators = "xoauth2"
set smtp_oauth_refresh_command = "ooauth2 token work --non-interactive"
set ssl_force_tls = yes
"#;

/// The config file at its default place, under the test's HOME.
fn default_config(env: &Env) -> PathBuf {
    env.root.join("home/.config/ooauth2/config.toml")
}

/// `setup NAME` for the test user at the mock provider, all by flags, then `extra`.
fn setup_args(env: &Env, name: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["setup", name, "--provider", "microsoft", "--user", USER]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(["--client-id".into(), CLIENT.into()]);
    args.extend(["--authority".into(), env.idp.authority()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// The table `setup work` writes for the test user at the mock provider.
fn work_table(env: &Env) -> String {
    format!(
        "[accounts.work]\nprovider = \"microsoft\"\nclient_id = \"{CLIENT}\"\n\
         tenant = \"common\"\nauthority = \"{}\"\nuser = \"{USER}\"\n",
        env.idp.authority()
    )
}

/// `ooauth2 token work` answers with a live token, without a sign-in.
#[track_caller]
fn token_works(env: &Env, config: Option<&Path>) {
    let sign_ins = env.idp.devicecode_count();
    let run = match config {
        Some(c) => env.run_with_config(c, &["token", "work"], b""),
        None => env.run(&["token", "work"], b""),
    };
    run.expect(0);
    assert_eq!(run.stdout.lines().count(), 1, "{run:#?}");
    assert!(
        env.idp.is_active_access_token(run.stdout.trim()),
        "{run:#?}"
    );
    assert_eq!(env.idp.devicecode_count(), sign_ins);
}

/// `ooauth2 ARGS` with `OOAUTH2_CONFIG` at `config`, no terminal.
fn with_config(env: &Env, config: &Path, args: &[String]) -> crate::support::run::Run {
    let mut cmd = env.command(args);
    cmd.env("OOAUTH2_CONFIG", config);
    env.run_with(cmd, b"")
}

/// The permission bits of `path`.
fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn flags_alone_write_the_account_sign_in_and_print_the_lines() {
    let env = Env::new();
    let run = env.run(&setup_args(&env, "work", &[]), b"");
    run.expect(0);
    let path = default_config(&env);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, format!("{HEADER}{}", work_table(&env)));
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    // The change is shown as added lines before anything else happens.
    let shown = run.stderr.find("+[accounts.work]").expect("the diff");
    assert!(shown < run.stderr.find("signed in as").unwrap(), "{run:#?}");
    for line in text.lines() {
        assert!(
            run.stderr.contains(&format!("+{line}\n")),
            "{line}: {run:#?}"
        );
    }
    assert!(
        run.stderr
            .contains("Directory (tenant): common (for personal and most work accounts; --tenant"),
        "a default is said: {run:#?}"
    );
    assert!(
        run.stderr.contains("signed in as me@example.com"),
        "{run:#?}"
    );
    assert_eq!(env.idp.devicecode_count(), 1);
    assert_eq!(run.stdout, MICROSOFT_LINES);
    token_works(&env, None);

    // Again with the same answers: nothing to write, a new sign-in.
    let again = env.run(&setup_args(&env, "work", &[]), b"");
    again.expect(0);
    assert!(
        again.stderr.contains("already holds these values"),
        "{again:#?}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    assert_eq!(env.idp.devicecode_count(), 2);
    // --no-login: the lines only.
    let lines = env.run(&setup_args(&env, "work", &["--no-login"]), b"");
    lines.expect(0);
    assert_eq!(lines.stdout, MICROSOFT_LINES);
    assert_eq!(env.idp.devicecode_count(), 2);
}

#[test]
fn a_missing_answer_without_a_terminal_names_its_flag_and_changes_nothing() {
    let env = Env::new();
    let full = setup_args(&env, "work", &[]);
    // Drop one flag (and its value) at a time.
    for (flag, needle) in [
        ("--user", "pass --user ADDRESS"),
        ("--client-id", "pass --client-id ID: register an app"),
        ("--provider", "pass --provider PROVIDER"),
    ] {
        let at = full.iter().position(|a| a == flag).unwrap();
        let mut args = full.clone();
        args.drain(at..at + 2);
        let run = env.run(&args, b"");
        run.expect_failure(2, &[&format!("no {flag} "), needle, "nothing was changed"]);
        command_styled(flag, &run);
    }
    // Bad values are refused before anything is written or asked of the provider.
    for (flag, value, needle) in [
        ("--user", "not-an-address", "mail address"),
        ("--flow", "nonsense", "flow"),
        ("--provider", "gmail", "unknown provider 'gmail'"),
        ("--smtp-server", "h:0", "port must be 1 to 65535"),
    ] {
        let mut args = full.clone();
        match args.iter().position(|a| a == flag) {
            Some(at) => args[at + 1] = value.to_string(),
            None => args.extend([flag.to_string(), value.to_string()]),
        }
        let run = env.run(&args, b"");
        run.expect_failure(2, &[needle]);
        command_styled(value, &run);
    }
    let run = env.run(&setup_args(&env, "a/b", &[]), b"");
    run.expect_failure(2, &["account name 'a/b'"]);
    assert!(!default_config(&env).exists());
    assert!(!default_config(&env).parent().unwrap().exists());
    assert_eq!(env.idp.total_count(), 0);
    // No name: the address's domain names it, and says so.
    let mut args = full.clone();
    args.remove(1);
    args.push("--no-login".into());
    let run = env.run(&args, b"");
    run.expect(0);
    assert!(
        run.stderr
            .contains("Account name: example (from the address"),
        "{run:#?}"
    );
}

#[test]
fn the_printed_lines_are_the_contrib_files_own() {
    // Each printed line (but the comments naming the file) stands in the
    // contrib file for the same client, whose account is named `work` too.
    let pairs = [("you@example.com", USER)];
    for (file, contrib) in [
        ("~/.msmtprc", "contrib/msmtp/msmtprc"),
        ("~/.mbsyncrc", "contrib/isync/mbsyncrc"),
        ("~/.config/neomutt/neomuttrc", "contrib/neomutt/neomuttrc"),
    ] {
        let text = substitute(&repo_file(contrib), &pairs);
        let theirs: Vec<&str> = text.lines().collect();
        for line in section(MICROSOFT_LINES, file).lines() {
            if !line.starts_with('#') && !line.is_empty() {
                assert!(theirs.contains(&line), "{line:?} is not in {contrib}");
            }
        }
    }
}

/// A config file of the user's own: comments everywhere, odd spacing,
/// other accounts around the one `setup work` replaces.
const USERS_FILE: &str = "# my mail, by hand\n\n\
[accounts.home]   # the family one\nprovider = \"google\"\n\
client_id = \"h.apps.googleusercontent.com\"\nclient_secret_cmd = \"pass show h\"\n\
user = \"me@gmail.com\"\n\n# work, from IT\n[accounts.work]\n\
client_id   =   \"old-client\"   # IT's\nuser = \"me@example.com\"\nmin_ttl = 120\n\n\
# last\n[accounts.z]\nclient_id = \"z\"\n# the end";

#[test]
fn replacing_an_account_asks_and_keeps_every_other_byte() {
    let env = Env::new();
    let cfg = env.write_config(USERS_FILE);
    // No terminal and no --yes: the change is shown, nothing is changed.
    let run = with_config(&env, &cfg, &setup_args(&env, "work", &[]));
    run.expect_failure(
        2,
        &[
            "-client_id   =   \"old-client\"   # IT's",
            &format!("+client_id   =   \"{CLIENT}\"   # IT's"),
            "+provider = \"microsoft\"",
            "[accounts.work] is already in",
            "pass --yes to replace it",
        ],
    );
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), USERS_FILE);
    assert_eq!(env.idp.total_count(), 0);

    let run = with_config(&env, &cfg, &setup_args(&env, "work", &["--yes"]));
    run.expect(0);
    let text = std::fs::read_to_string(&cfg).unwrap();
    let (head, _) = USERS_FILE.split_once("[accounts.work]\n").unwrap();
    let (_, tail) = USERS_FILE.split_once("min_ttl = 120\n").unwrap();
    // In place: the table's own comment and the key it keeps stay; new keys come last.
    let table = format!(
        "[accounts.work]\nclient_id   =   \"{CLIENT}\"   # IT's\nuser = \"me@example.com\"\n\
         min_ttl = 120\nprovider = \"microsoft\"\ntenant = \"common\"\nauthority = \"{}\"\n",
        env.idp.authority()
    );
    assert_eq!(text, format!("{head}{}{tail}", table), "{text}");
    assert_eq!(mode(&cfg), 0o600);
    token_works(&env, Some(&cfg));
}

#[test]
fn adding_an_account_keeps_the_file_byte_for_byte() {
    let env = Env::new();
    let cfg = env.write_config(USERS_FILE);
    set_mode(&cfg, 0o640);
    let run = with_config(&env, &cfg, &setup_args(&env, "new", &["--no-login"]));
    run.expect(0);
    let text = std::fs::read_to_string(&cfg).unwrap();
    let added = text
        .strip_prefix(USERS_FILE)
        .expect("the old file, unchanged, first");
    assert_eq!(
        added,
        format!(
            "\n\n{}",
            work_table(&env).replace("[accounts.work]", "[accounts.new]")
        )
    );
    // The file keeps its mode (read-only for the group is safe).
    assert_eq!(mode(&cfg), 0o640);
    // A link (a dotfile manager's) stays a link: its file is written.
    let real = env.root.join("dotfiles/ooauth2.toml");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    std::fs::rename(&cfg, &real).unwrap();
    std::os::unix::fs::symlink(&real, &cfg).unwrap();
    let run = with_config(&env, &cfg, &setup_args(&env, "third", &["--no-login"]));
    run.expect(0);
    assert!(
        std::fs::symlink_metadata(&cfg)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let after = std::fs::read_to_string(&real).unwrap();
    assert!(after.starts_with(&text) && after.contains("[accounts.third]"));
}

#[test]
fn unsafe_or_broken_config_files_are_refused_and_left_alone() {
    let env = Env::new();
    let cfg = env.write_config(USERS_FILE);
    for m in [0o666, 0o620] {
        set_mode(&cfg, m);
        let run = with_config(&env, &cfg, &setup_args(&env, "new", &[]));
        run.expect_failure(74, &["chmod 600"]);
    }
    set_mode(&cfg, 0o600);
    let shared = env.root.join("shared");
    std::fs::create_dir(&shared).unwrap();
    set_mode(&shared, 0o777);
    // A new file in a directory others can write to is refused too.
    let inside = shared.join("config.toml");
    let run = with_config(&env, &inside, &setup_args(&env, "new", &[]));
    run.expect_failure(74, &["writable by other users", "chmod go-w"]);
    assert!(!inside.exists());
    if running_as_root(&env) {
        let owned = env.root.join("owned.toml");
        std::fs::write(&owned, USERS_FILE).unwrap();
        set_mode(&owned, 0o600);
        let chown = std::process::Command::new("chown")
            .args(["nobody", owned.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(chown.success());
        let run = with_config(&env, &owned, &setup_args(&env, "new", &[]));
        run.expect_failure(74, &["belongs to another user"]);
    }
    // A link to a file in that directory, and a link that leads nowhere.
    let real = shared.join("real.toml");
    std::fs::write(&real, USERS_FILE).unwrap();
    set_mode(&real, 0o600);
    let link = env.root.join("link.toml");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let run = with_config(&env, &link, &setup_args(&env, "new", &[]));
    run.expect_failure(74, &["writable by other users", "chmod go-w"]);
    assert_eq!(std::fs::read_to_string(&real).unwrap(), USERS_FILE);
    let dangling = env.root.join("dangling.toml");
    std::os::unix::fs::symlink(env.root.join("nowhere/c.toml"), &dangling).unwrap();
    let run = with_config(&env, &dangling, &setup_args(&env, "new", &[]));
    run.expect_failure(74, &["symbolic link that leads nowhere"]);
    command_styled("dangling link", &run);
    assert!(
        !run.stderr.contains("+[accounts.new]"),
        "refused before the diff: {run:#?}"
    );
    assert!(!env.root.join("nowhere").exists());
    let broken = env.write_config("[accounts.w]\nclient_id = test-client\n");
    let run = with_config(&env, &broken, &setup_args(&env, "new", &[]));
    run.expect_failure(2, &[&format!("{}:2:", broken.display())]);
    assert_eq!(
        std::fs::read_to_string(&broken).unwrap(),
        "[accounts.w]\nclient_id = test-client\n"
    );
    assert_eq!(env.idp.total_count(), 0, "nobody was asked for a token");
}

#[test]
fn a_google_account_gets_its_secret_command_and_no_secret_on_disk() {
    let env = Env::new();
    let client = "1234-abc.apps.googleusercontent.com";
    let secret = "GOCSPX-setup-secret";
    env.idp.require_secret(client, secret);
    env.idp
        .set_authorize_mode(AuthorizeMode::Approve("me@gmail.com".into()));
    let dir = pass_stub(&env, "mail/gmail-client-secret", secret);
    let base = |extra: &[&str]| {
        let mut args = vec![
            "setup".to_string(),
            "gmail".into(),
            "--user".into(),
            "me@gmail.com".into(),
            "--client-id".into(),
            client.into(),
            "--authority".into(),
            env.idp.authority(),
            "--no-open".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut cmd = env.command(&args);
        cmd.env("PATH", path_with(&dir));
        cmd
    };
    // Without the command, with the secret itself, or with a command that
    // fails: refused, nothing written, the secret never echoed.
    let run = env.run_with(base(&[]), b"");
    run.expect_failure(2, &["pass --client-secret-cmd COMMAND"]);
    let run = env.run_with(base(&["--client-secret-cmd", secret]), b"");
    run.expect_failure(2, &["not a command", "pass insert"]);
    assert!(!run.stderr.contains(secret), "{run:#?}");
    let run = env.run_with(base(&["--client-secret-cmd", "pass show mail/other"]), b"");
    run.expect_failure(2, &["--client-secret-cmd failed with exit status 1"]);
    assert!(!default_config(&env).exists());

    // The provider comes from the address; the browser is played here.
    let cmd = base(&["--client-secret-cmd", "pass show mail/gmail-client-secret"]);
    let signin = SignIn::spawn(cmd, "");
    let url = signin.url_matching(&format!("{}/o/oauth2/v2/auth?", env.idp.authority()), "");
    let at_idp = get(&url);
    assert_eq!(at_idp.status, 302, "{}", at_idp.body);
    assert_eq!(get(&at_idp.location.unwrap()).status, 200);
    let run = signin.finish();
    run.expect(0);
    assert!(
        run.stderr.contains("Provider: google (from the address"),
        "{run:#?}"
    );
    assert!(run.stderr.contains("signed in as me@gmail.com"), "{run:#?}");
    let text = std::fs::read_to_string(default_config(&env)).unwrap();
    assert!(
        text.contains("[accounts.gmail]\nprovider = \"google\"\n")
            && text.contains("client_secret_cmd = \"pass show mail/gmail-client-secret\"\n"),
        "{text}"
    );
    assert!(
        run.stdout
            .contains("host smtp.gmail.com\nport 465\ntls on\ntls_starttls off\n")
    );
    assert!(
        run.stdout
            .contains("set folder = \"imaps://imap.gmail.com:993/\"")
    );
    // The secret is nowhere: not in the config directory, the store or the output.
    let mut files = vec![default_config(&env)];
    files.extend(env.files());
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(secret),
            "{}",
            f.display()
        );
    }
    assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
}

/// The printed section for `file`: from its `# {file}` line to the next section's.
fn section(stdout: &str, file: &str) -> String {
    let start = stdout.find(&format!("# {file}")).unwrap();
    let rest = &stdout[start..];
    let end = rest[1..].find("\n# ~/").map_or(rest.len(), |i| i + 2);
    rest[..end].to_string()
}

#[test]
fn the_printed_lines_work_with_real_msmtp_and_mbsync() {
    let env = Env::new();
    let dc = Dovecot::start(&env);
    // Other ports than the standard ones: IMAP with TLS from the start and
    // SMTP with STARTTLS, as `ooauth2 test` has it.
    let smtp = format!("127.0.0.1:{}", dc.submission_port);
    let imap = format!("127.0.0.1:{}", dc.imaps_port);
    let cert = dc.cert.to_str().unwrap();
    let extra = [
        "--smtp-server",
        &smtp,
        "--imap-server",
        &imap,
        "--test",
        "imap,smtp",
        "--ca-file",
        cert,
    ];
    let run = env.run(&setup_args(&env, "work", &extra), b"");
    assert_eq!(run.status, 0, "{run:#?}\n{}", dc.logs());
    assert!(
        run.stderr.contains("IMAP login ok") && run.stderr.contains("SMTP login ok"),
        "{run:#?}"
    );
    dc.expect_logins("XOAUTH2", "submission-login", 1, "setup --test smtp");

    // msmtp with the printed lines; only the private CA is added.
    let rc = format!(
        "{}tls_trust_file {cert}\n",
        section(&run.stdout, "~/.msmtprc")
    );
    assert!(rc.contains("passwordeval \"ooauth2 token work\"\n"), "{rc}");
    let path = dc.dir.join("setup-msmtprc");
    std::fs::write(&path, rc).unwrap();
    set_mode(&path, 0o600);
    let mut cmd = client_command(&env, &program("msmtp"));
    cmd.arg("-C")
        .arg(&path)
        .args(["-a", "work", "rcpt@example.org"]);
    let msg = format!("From: {USER}\r\nTo: rcpt@example.org\r\nSubject: set up\r\n\r\nHi.\r\n");
    let sent = run_timeout(cmd, Input::Bytes(msg.as_bytes()), Duration::from_secs(30));
    dc.expect_ok("msmtp", &sent);
    assert!(dc.sink.delivered("set up"), "{}", dc.sink.transcript());

    // mbsync with the printed lines; only the private CA is added.
    let xoauth2 = env.run(&["token", "work", "--format", "xoauth2"], b"");
    dc.seed_inbox(xoauth2.stdout.trim(), USER, "waiting for setup");
    let rc = section(&run.stdout, "~/.mbsyncrc").replace(
        "SSLType IMAPS\n",
        &format!("SSLType IMAPS\nCertificateFile {cert}\n"),
    );
    let path = dc.dir.join("setup-mbsyncrc");
    std::fs::write(&path, &rc).unwrap();
    let maildir = env.root.join("home/Mail/work");
    std::fs::create_dir_all(&maildir).unwrap();
    let mut cmd = client_command(&env, &program("mbsync"));
    cmd.arg("-c").arg(&path).arg("work");
    let synced = run_timeout(cmd, Input::Bytes(b""), Duration::from_secs(60));
    dc.expect_ok("mbsync", &synced);
    assert!(
        in_maildir(&maildir.join("INBOX"), "waiting for setup"),
        "{rc}\n{synced:#?}"
    );
}

/// `ooauth2 ARGS` at a terminal, with `OOAUTH2_CONFIG` at `config`.
fn at_terminal(env: &Env, config: &Path, args: &[String]) -> Pty {
    let config = config.to_str().unwrap();
    let vars = [("OOAUTH2_CONFIG", config), ("TERM", "xterm")];
    Pty::start(env, args, &vars, (100, 50))
}

#[test]
fn the_questions_are_asked_and_answered_at_a_terminal() {
    let env = Env::new();
    let cfg = env.root.join("config.toml");
    let args = vec![
        "setup".to_string(),
        "--authority".into(),
        env.idp.authority(),
    ];
    let mut pty = at_terminal(&env, &cfg, &args);
    pty.answer("Your mail address: ", "not an address");
    // A wrong answer is said, and the question asked again.
    pty.answer("Your mail address: ", USER);
    pty.answer("Account name [example]: ", "work");
    pty.answer("Provider: ", "microsoft");
    pty.answer("Directory (tenant) [common]: ", "");
    pty.answer("Client id: ", CLIENT);
    let (status, screen, stdout) = pty.finish();
    assert_eq!(status, 0, "{screen}");
    for needle in [
        "must be a mail address",
        "The providers:",
        "Allow public client flows: Yes",
        "adminconsent?client_id=",
        "f21dcaf2-8020-469b-8135-343bfc35d046",
        "+[accounts.work]",
        "signed in as me@example.com",
    ] {
        assert!(screen.contains(needle), "{needle:?} not shown: {screen}");
    }
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        format!("{HEADER}{}", work_table(&env))
    );
    // Questions and the diff went to the terminal; stdout has the lines only.
    assert_eq!(stdout, MICROSOFT_LINES);
    token_works(&env, Some(&cfg));

    // Again, for another client id: the answers given before are the
    // defaults, and replacing the account is asked.
    let args = vec!["setup".to_string(), "work".into()];
    let before = std::fs::read_to_string(&cfg).unwrap();
    let mut pty = at_terminal(&env, &cfg, &args);
    pty.answer(&format!("Your mail address [{USER}]: "), "");
    pty.answer("Provider [microsoft]: ", "");
    pty.answer("Directory (tenant) [common]: ", "");
    pty.answer(&format!("Client id [{CLIENT}]: "), "other-client");
    pty.answer("Replace [accounts.work] as shown? [y/N] ", "n");
    let (status, screen, stdout) = pty.finish();
    assert_eq!(status, 2, "{screen}");
    assert!(screen.contains("+client_id = \"other-client\""), "{screen}");
    assert!(screen.contains("nothing was changed"), "{screen}");
    assert_eq!(stdout, "", "no lines for an account left as it was");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), before);

    let mut pty = at_terminal(&env, &cfg, &[args, vec!["--no-login".into()]].concat());
    pty.answer(&format!("Your mail address [{USER}]: "), "");
    pty.answer("Provider [microsoft]: ", "");
    pty.answer("Directory (tenant) [common]: ", "");
    pty.answer(&format!("Client id [{CLIENT}]: "), "other-client");
    pty.answer("Replace [accounts.work] as shown? [y/N] ", "y");
    let (status, screen, stdout) = pty.finish();
    assert_eq!(status, 0, "{screen}");
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        before.replace(CLIENT, "other-client")
    );
    assert_eq!(stdout, MICROSOFT_LINES);
}

#[test]
fn the_help_examples_paste_into_a_shell() {
    let env = Env::new();
    let run = env.run(&["setup", "--help"], b"");
    run.expect(0);
    let (_, examples) = run.stdout.split_once("\nExamples:\n").expect("examples");
    // A command continued with a backslash is one example.
    let joined = examples.replace("\\\n", " ");
    let commands: Vec<&str> = joined.lines().map(str::trim).collect();
    assert!(commands.len() >= 4, "{examples}");
    for line in examples.lines() {
        assert!(line.chars().count() <= 78, "wider than a terminal: {line}");
    }
    for c in commands {
        assert!(c.starts_with("ooauth2 setup"), "{c}");
        // No trailing note in parentheses: the shell must take it as it is.
        let sh = std::process::Command::new("sh")
            .args(["-n", "-c", c])
            .output()
            .unwrap();
        assert!(sh.status.success(), "{c}: {sh:?}");
        assert!(!c.contains('('), "{c}");
    }
}
