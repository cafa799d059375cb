//! The documentation around the binary, checked against what it documents:
//! the one list of test packages that CONTRIBUTING.md and `.ci/run` both
//! install.

use crate::support::mail::{INSTALL, repo_file};

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
