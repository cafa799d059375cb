//! The documentation around the binary, checked against what it documents:
//! the one list of test packages that CONTRIBUTING.md and `.ci/run` both
//! install, contrib/ written around named accounts, the man pages
//! (`ooauth2 man --dir`), and the examples of every `--help`, pasted.

use crate::support::mail::{INSTALL, repo, repo_file};
use crate::support::run::{Env, bin, path_with};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The packages of `.ci/packages.txt`, one a line.
fn test_packages() -> Vec<String> {
    repo_file(".ci/packages.txt")
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn contributing_and_ci_install_the_one_list_of_test_packages() {
    let packages = test_packages();
    assert!(!packages.is_empty());
    for p in &packages {
        assert!(
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c)),
            "not a package name (xargs would mangle it): {p:?}"
        );
    }
    // The POP tests need Dovecot's POP3 server: the package once missing
    // from the README's list.
    assert!(packages.iter().any(|p| p == "dovecot-pop3d"));
    let contributing = repo_file("CONTRIBUTING.md");
    assert!(contributing.contains(INSTALL), "{contributing}");
    let ci = repo_file(".ci/run");
    assert!(ci.contains("< .ci/packages.txt"), "{ci}");
    // No second list, in .ci/run or the README.
    let readme = repo_file("README.md");
    for p in &packages {
        let listed_in_ci = ci
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .any(|l| l.split_whitespace().any(|w| w == p));
        assert!(!listed_in_ci, ".ci/run lists {p} itself:\n{ci}");
    }
    assert!(
        !readme.contains("dovecot-imapd"),
        "README lists test packages"
    );
}

/// The README names the two commands a developer needs, and `.ci/run`
/// runs exactly that test command (its output only copied to a log).
#[test]
fn the_readme_names_build_and_test_and_ci_runs_that_test_command() {
    let develop = crate::readme::readme_section("Develop");
    let block = crate::readme::fenced_block(&develop, "```sh", "sh");
    let commands: Vec<&str> = block
        .lines()
        .map(|l| l.split(" #").next().unwrap_or(l).trim())
        .collect();
    let build = "cargo build --release && ./target/release/ooauth2 --help";
    assert_eq!(commands, [build, "cargo test"], "{develop}");
    let ci = repo_file(".ci/run");
    let runs: Vec<&str> = ci
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && l.contains("cargo test"))
        .collect();
    assert_eq!(runs, ["cargo test 2>&1 | tee \"$log\""], "{ci}");
    let contributing = repo_file("CONTRIBUTING.md");
    assert!(contributing.contains(build) && contributing.contains("\ncargo test\n"));
}

/// Every file of contrib/, and its path.
fn contrib_files() -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                let rel = p.strip_prefix(repo()).unwrap().display().to_string();
                out.push((rel, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo().join("contrib"), &mut out);
    out.sort();
    out
}

/// contrib/ is written around the named accounts of contrib/config.toml:
/// no client id or user flag repeated in a client's file (Alpine's legacy
/// command lines aside), a Gmail variant wherever there is a Microsoft one,
/// and Gmail's SMTP on 465 everywhere, the README too.
#[test]
fn contrib_names_accounts_and_has_the_gmail_variants() {
    let files = contrib_files();
    for (path, text) in &files {
        if path.starts_with("contrib/alpine/") {
            continue;
        }
        for flag in ["--client-id", "--user ", "--tenant", "YOUR-CLIENT-ID"] {
            if path == "contrib/config.toml" || path == "contrib/README.md" {
                break;
            }
            assert!(!text.contains(flag), "{path} still says {flag}");
        }
        assert!(!text.contains("smtp.gmail.com:587"), "{path}");
    }
    for (file, gmail) in [
        ("contrib/msmtp/msmtprc", "contrib/msmtp/msmtprc"),
        ("contrib/isync/mbsyncrc", "contrib/isync/mbsyncrc"),
        (
            "contrib/neomutt/neomuttrc",
            "contrib/neomutt/neomuttrc-gmail",
        ),
        (
            "contrib/aerc/accounts.conf",
            "contrib/aerc/accounts-gmail.conf",
        ),
        (
            "contrib/getmail/getmailrc",
            "contrib/getmail/getmailrc-gmail",
        ),
        (
            "contrib/offlineimap/offlineimaprc",
            "contrib/offlineimap/offlineimaprc-gmail",
        ),
    ] {
        let text = repo_file(file);
        let named = ["ooauth2 token work", "\"ooauth2\", \"token\", \"work\""];
        assert!(named.iter().any(|n| text.contains(n)), "{file}");
        let text = repo_file(gmail);
        let named = ["ooauth2 token gmail", "\"ooauth2\", \"token\", \"gmail\""];
        assert!(named.iter().any(|n| text.contains(n)), "{gmail}");
    }
    let msmtprc = repo_file("contrib/msmtp/msmtprc");
    let gmail = &msmtprc[msmtprc.find("account gmail").unwrap()..];
    assert!(gmail.contains("port 465\n") && gmail.contains("tls_starttls off"));
    let readme = repo_file("README.md");
    let gmail_smtp: Vec<&str> = readme
        .lines()
        .filter(|l| l.contains("smtp.gmail.com"))
        .collect();
    assert!(!gmail_smtp.is_empty());
    for line in gmail_smtp {
        assert!(!line.contains("587"), "README: {line}");
    }
}

// ---------------------------------------------------------------------------
// Man pages
// ---------------------------------------------------------------------------

/// The subcommands `ooauth2 --help` lists (clap's `help` aside).
fn subcommands(env: &Env) -> Vec<String> {
    commands_of(env, &[])
}

/// The subcommands `ooauth2 ARGS --help` lists (`store`: `migrate`).
fn commands_of(env: &Env, args: &[&str]) -> Vec<String> {
    let mut args = args.to_vec();
    args.push("--help");
    let run = env.run(&args, b"");
    run.expect(0);
    run.stdout
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A wrapped description goes on, indented further, under its command.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// The long flags a command's `--help` lists (`sub`: `store migrate` too).
fn flags(env: &Env, sub: &str) -> Vec<String> {
    let mut args: Vec<&str> = sub.split(' ').collect();
    args.push("--help");
    let run = env.run(&args, b"");
    run.expect(0);
    run.stdout
        .lines()
        .skip_while(|l| !l.starts_with("Options:"))
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("--")))
        .map(|w| {
            w.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect()
        })
        .collect()
}

/// The page as a reader sees it: through `man -l` where it renders (its
/// warnings would be on stderr), else the roff with its escapes undone.
fn rendered(path: &Path) -> String {
    let out = Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(path)
        .env("MANWIDTH", "250")
        .env("LC_ALL", "C.UTF-8")
        .output();
    match out {
        Ok(out) if out.status.success() && !out.stdout.is_empty() => {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.trim().is_empty(), "{}: {err}", path.display());
            // Hyphenation may break a word: undo it.
            String::from_utf8_lossy(&out.stdout).replace("\u{2010}\n", "")
        }
        // No man (or man-db without groff): the roff itself.
        _ => std::fs::read_to_string(path).unwrap().replace("\\-", "-"),
    }
}

#[test]
fn man_dir_writes_a_page_per_subcommand_naming_its_flags() {
    let env = Env::new();
    let dir = env.root.join("share/man/man1");
    let run = env.run(&["man", "--dir", dir.to_str().unwrap()], b"");
    run.expect(0);
    assert_eq!(run.stderr, "", "{run:#?}");
    let top_subs = subcommands(&env);
    assert!(top_subs.len() >= 9, "{top_subs:?}");
    // A subcommand's own subcommands (`store migrate`) have pages too.
    let mut subs = Vec::new();
    for sub in &top_subs {
        subs.push(sub.clone());
        let nested = commands_of(&env, &[sub]);
        subs.extend(nested.iter().map(|n| format!("{sub} {n}")));
    }
    let page = |s: &str| format!("ooauth2-{}", s.replace(' ', "-"));
    let mut expected = vec![dir.join("ooauth2.1")];
    expected.extend(subs.iter().map(|s| dir.join(format!("{}.1", page(s)))));
    let listed: Vec<PathBuf> = run.stdout.lines().map(PathBuf::from).collect();
    assert_eq!(listed, expected, "stdout names each page written");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want: Vec<String> = expected
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    want.sort();
    assert_eq!(names, want);
    for sub in &subs {
        let path = dir.join(format!("{}.1", page(sub)));
        let roff = std::fs::read_to_string(&path).unwrap();
        assert!(roff.contains(&format!(".TH {} 1", page(sub))), "{roff}");
        for section in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH DESCRIPTION",
            ".SH \"SEE ALSO\"",
        ] {
            assert!(roff.contains(section), "{sub}: no {section}");
        }
        let text = rendered(&path);
        assert!(text.contains(&format!("ooauth2 {sub}")), "{sub}: {text}");
        assert!(text.contains("ooauth2(1)"), "{sub}: no SEE ALSO: {text}");
        for flag in flags(&env, sub) {
            assert!(
                text.contains(&flag),
                "ooauth2-{sub}(1) lacks {flag}:\n{text}"
            );
        }
    }
    // The top page's list of pages now names pages that exist.
    let top = rendered(&dir.join("ooauth2.1"));
    for sub in &top_subs {
        assert!(top.contains(&format!("ooauth2-{sub}(1)")), "{top}");
    }
}

/// Every `"OOAUTH2_..."` a source file of the program names.
fn variables_in_src() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            for (i, _) in text.match_indices("\"OOAUTH2_") {
                let name: String = text[i + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                out.push(name);
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo().join("src"), &mut out);
    out.sort();
    out.dedup();
    // The store's own unit tests' variable, read by no build of ooauth2.
    out.retain(|v| v != "OOAUTH2_STORE_TEST_DIR");
    out
}

#[test]
fn the_top_page_has_the_config_file_files_environment_exit_status_and_legacy_options() {
    let env = Env::new();
    let run = env.run(&["man"], b"");
    run.expect(0);
    let roff = &run.stdout;
    assert!(roff.contains(".TH ooauth2 1"), "{roff}");
    let dir = env.root.join("pages");
    env.run(&["man", "--dir", dir.to_str().unwrap()], b"")
        .expect(0);
    assert_eq!(
        &std::fs::read_to_string(dir.join("ooauth2.1")).unwrap(),
        roff,
        "`man` prints the page `man --dir` writes"
    );
    let text = rendered(&dir.join("ooauth2.1"));
    let mut at = 0;
    for section in [
        "NAME",
        "SYNOPSIS",
        "SUBCOMMANDS",
        "EXAMPLES",
        "CONFIGURATION FILE",
        "FILES",
        "ENVIRONMENT",
        "EXIT STATUS",
        "LEGACY OPTIONS",
        "SEE ALSO",
    ] {
        let found = text[at..]
            .find(&format!("\n{section}\n"))
            .unwrap_or_else(|| panic!("no section {section} (in order):\n{text}"));
        at += found + 1;
    }
    let section = |name: &str, next: &str| -> String {
        let a = text.find(&format!("\n{name}\n")).unwrap();
        let b = text[a..].find(&format!("\n{next}\n")).unwrap() + a;
        text[a..b].to_string()
    };
    let environment = section("ENVIRONMENT", "EXIT STATUS");
    let vars = variables_in_src();
    assert!(vars.len() >= 13, "{vars:?}");
    for var in vars {
        assert!(environment.contains(&var), "ENVIRONMENT lacks {var}");
    }
    let config = section("CONFIGURATION FILE", "FILES");
    for key in [
        "client_id =",
        "tenant =",
        "client_secret_cmd =",
        "notify_cmd =",
        "min_ttl = NUMBER",
        "open_browser = true|false",
        "[accounts.work]",
    ] {
        assert!(config.contains(key), "CONFIGURATION FILE lacks {key}");
    }
    assert!(!config.contains("client_secret ="), "no plain secret key");
    let files = section("FILES", "ENVIRONMENT");
    for needle in [
        "~/.config/ooauth2/config.toml",
        "~/.local/share/ooauth2/",
        "0700",
        "0600",
    ] {
        assert!(files.contains(needle), "FILES lacks {needle}");
    }
    let exit = section("EXIT STATUS", "LEGACY OPTIONS");
    for status in ["0", "1", "2", "74", "75"] {
        let row = exit
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{status} ")));
        assert!(row, "EXIT STATUS lacks {status}:\n{exit}");
    }
    let legacy = section("LEGACY OPTIONS", "SEE ALSO");
    for option in [
        "--generate_refresh_and_access_token",
        "--generate_access_token",
        "--encoded",
        "--client_id",
        "--refresh_token",
    ] {
        assert!(legacy.contains(option), "LEGACY OPTIONS lacks {option}");
    }
}

#[test]
fn man_into_a_directory_that_cannot_be_made_fails_cleanly() {
    let env = Env::new();
    let file = env.root.join("a-file");
    std::fs::write(&file, "").unwrap();
    let run = env.run(&["man", "--dir", file.join("man1").to_str().unwrap()], b"");
    run.expect_failure(
        74,
        &[
            "ooauth2: error: cannot write the man pages to ",
            "ooauth2: hint: ",
        ],
    );
}

// ---------------------------------------------------------------------------
// The examples of --help
// ---------------------------------------------------------------------------

/// The commands under `Examples:` (or `Example:`) of `args`' help, a
/// line ending in a backslash joined with the next as the shell does.
fn help_examples(env: &Env, args: &[&str]) -> Vec<String> {
    let run = env.run(args, b"");
    run.expect(0);
    let mut out: Vec<String> = Vec::new();
    let mut inside = false;
    let mut continued = false;
    for line in run.stdout.lines() {
        if matches!(line.trim_end(), "Examples:" | "Example:") {
            inside = true;
        } else if inside && line.starts_with("  ") {
            let line = line.trim();
            match out.last_mut() {
                Some(last) if continued => last.extend(["\n", line]),
                _ => out.push(line.to_string()),
            }
            continued = line.ends_with('\\');
        } else {
            inside = false;
        }
    }
    out
}

/// Every example line of every help, pasted into a shell, is valid shell:
/// a note is a `# comment` line of its own, never a `(...)` after the
/// command, nor a trailing `# note` (interactive zsh passes that on as
/// arguments unless `interactive_comments` is set).
#[test]
fn every_help_example_is_valid_shell() {
    let env = Env::new();
    let mut helps: Vec<Vec<String>> = vec![vec!["--help".into()]];
    for sub in subcommands(&env) {
        for nested in commands_of(&env, &[&sub]) {
            helps.push(vec![sub.clone(), nested, "--help".into()]);
        }
        helps.push(vec![sub, "--help".into()]);
    }
    for args in &helps {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let lines = help_examples(&env, &args);
        assert!(!lines.is_empty(), "{args:?} has no examples");
        for line in lines {
            let note = line.starts_with("# ");
            assert!(
                note || !line.contains(" #"),
                "{args:?}: a trailing note: {line}"
            );
            let out = Command::new("sh")
                .args(["-n", "-c", &line])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{args:?}: not valid shell: {line}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// What the install lines put in the home directory.
const INSTALLED: [&str; 5] = [
    ".local/share/bash-completion/completions/ooauth2",
    ".zfunc/_ooauth2",
    ".config/fish/completions/ooauth2.fish",
    ".local/share/man/man1/ooauth2.1",
    ".local/share/man/man1/ooauth2-token.1",
];

/// Runs `script` with bash in a fresh home, the binary first on PATH.
fn in_fresh_home(env: &Env, script: &str) -> (PathBuf, crate::support::run::Run) {
    let home = env.root.join("fresh-home");
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = Command::new("bash");
    cmd.args(["-e", "-c", script])
        .env_clear()
        .env("PATH", path_with(bin().parent().unwrap()))
        .env("HOME", &home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    (home, env.run_with(cmd, b""))
}

/// The completion and man page lines of `--help` work as written on a
/// machine where none of the directories exist yet.
#[test]
fn the_install_lines_for_completions_and_man_pages_work_in_a_fresh_home() {
    let env = Env::new();
    let mut lines = help_examples(&env, &["completions", "--help"]);
    lines.extend(
        help_examples(&env, &["man", "--help"])
            .into_iter()
            .filter(|l| l.contains("--dir")),
    );
    let (home, run) = in_fresh_home(&env, &lines.join("\n"));
    run.expect(0);
    for file in INSTALLED {
        assert!(home.join(file).is_file(), "{file}: {run:#?}");
    }
}

/// The README's install lines, the same on a fresh machine.
#[test]
fn the_readme_install_lines_for_completions_and_man_pages_work_in_a_fresh_home() {
    let env = Env::new();
    let readme = crate::readme::readme_section("Commands");
    let block = crate::readme::fenced_block(&readme, "Install", "sh");
    let (home, run) = in_fresh_home(&env, &block);
    run.expect(0);
    for file in INSTALLED {
        assert!(home.join(file).is_file(), "README: {file}: {run:#?}");
    }
}
