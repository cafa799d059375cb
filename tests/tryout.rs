//! The README's "Try it without an account", pasted into bash as written:
//! the one ```sh block of that section, with `cargo run -q -p mock-idp --`
//! standing for the mock provider's built binary (cargo cannot build while
//! the tests run) and its port 8400 for a free one. `ooauth2` on PATH is the
//! binary under test; the mock writes its log to the try-out's directory.
//! The transcript must show what the README says: a sign-in, a token, a
//! renewal refused after the revocation with the hint that fixes it, the
//! fix working, the helper's and ooauth2.py's answers, the mock stopped,
//! nothing of the mock on the terminal, and nothing left behind.

use crate::readme::{fenced_block, readme_section};
use crate::support::mail::{Input, program, run_timeout};
use crate::support::run::{Env, bin, free_port, path_with};
use std::path::PathBuf;
use std::time::Duration;

/// The mock provider's binary, built with the tests (crates/mock-idp's
/// own test of its command line makes cargo build it).
fn mock_binary() -> PathBuf {
    let path = bin().with_file_name("mock-idp");
    assert!(
        path.is_file(),
        "{} is not built: run the whole `cargo test` (or `cargo build -p mock-idp`)",
        path.display()
    );
    path
}

/// The try-out block with the mock's binary and a free port.
fn block(port: u16) -> String {
    let section = readme_section("Try it without an account");
    let text = fenced_block(&section, "Paste this", "sh");
    let cargo = "cargo run -q -p mock-idp --";
    assert_eq!(text.matches(cargo).count(), 1, "{text}");
    assert!(text.contains("127.0.0.1:8400"), "{text}");
    let mock = mock_binary();
    text.replace(cargo, &format!("'{}'", mock.display()))
        .replace("8400", &port.to_string())
}

#[test]
fn the_try_out_runs_as_written() {
    let env = Env::new();
    let port = free_port();
    let tmp = env.root.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let path = path_with(bin().parent().unwrap());
    let mut cmd = std::process::Command::new(program("bash"));
    cmd.arg("-c")
        .arg(block(port))
        .env_clear()
        .env("PATH", path)
        .env("HOME", env.root.join("home"))
        .env("TMPDIR", &tmp)
        .env("OOAUTH2_HTTP_TIMEOUT", "10");
    let run = run_timeout(cmd, Input::Bytes(b""), Duration::from_secs(120));
    assert_eq!(run.status, 0, "{run:#?}");
    let (out, err) = (&run.stdout, &run.stderr);

    // Two sign-ins by the device code, the second after the refusal.
    assert_eq!(
        err.matches("signed in as me@example.com").count(),
        2,
        "{run:#?}"
    );
    let refused = err
        .find("ooauth2: error: ")
        .unwrap_or_else(|| panic!("no refusal: {run:#?}"));
    let hint = &err[refused..];
    assert!(hint.contains("invalid_grant"), "{run:#?}");
    assert!(
        hint.contains("ooauth2: hint: ") && hint.contains("ooauth2 login demo"),
        "{run:#?}"
    );
    let second_login = err.rfind("signed in as me@example.com").unwrap();
    assert!(refused < second_login, "{run:#?}");
    assert_eq!(err.matches("ooauth2: error: ").count(), 1, "{run:#?}");

    // stdout: two tokens, the status table, the revocation, the helper's
    // answer and ooauth2.py's three lines.
    let tokens = out.lines().filter(|l| l.starts_with("mockat.")).count();
    assert_eq!(tokens, 2, "{run:#?}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("demo ") && l.contains("me@example.com")),
        "no status row: {run:#?}"
    );
    assert!(out.contains("\"revoked_refresh_tokens\":"), "{run:#?}");
    assert!(out.contains("\naccess_token=mockat."), "{run:#?}");
    assert!(out.contains("\nRefresh Token: mockrt."), "{run:#?}");
    assert!(
        out.contains("\nAccess Token Expiration Seconds: "),
        "{run:#?}"
    );

    // The mock wrote nothing on the terminal, and was stopped.
    assert!(
        !out.contains("mock-idp") && !err.contains("mock-idp"),
        "{run:#?}"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the mock still runs after kill $mock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // `rm -r "$try"` left nothing behind.
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
    assert!(left.is_empty(), "{left:?}");
}
