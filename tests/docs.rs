//! The documentation around the binary, checked against what it documents:
//! the one list of test packages that CONTRIBUTING.md and `.ci/run` both
//! install.

use crate::support::mail::{INSTALL, repo, repo_file};

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
