//! The `mock-idp` binary's command line, as the README's try-out and
//! bench/run.sh use it: `authority=` on stdout once it listens, what it
//! serves and each request in the `--log` file (nothing on the terminal),
//! and the controls over HTTP. Building this test also builds the binary,
//! which ooauth2's tests/tryout.rs runs.
// Test set-up fails loudly by design: a panic names what went wrong.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mock-idp");

/// A POST of `body` (a form) to `path`; the status and the body.
fn post(authority: &str, path: &str, body: &str) -> (u16, String) {
    let host = authority.trim_start_matches("http://");
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

#[test]
fn help_names_the_log_and_the_controls() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "--log FILE",
        "POST /mock/revoke",
        "POST /mock/expire",
        "POST /mock/decline",
        "kill %1",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    let bad = Command::new(BIN).arg("--bogus").output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn with_log_it_writes_nothing_on_the_terminal_and_takes_controls() {
    let dir = std::env::temp_dir().join(format!("mock-idp-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("mock.log");
    let mut child = Command::new(BIN)
        .args(["--port", "0", "--pending-polls", "0", "--log"])
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let authority = line
        .trim_end()
        .strip_prefix("authority=")
        .unwrap()
        .to_string();
    // What it serves is in the log before the authority line is out.
    let head = std::fs::read_to_string(&log).unwrap();
    assert!(head.contains(&format!("on {authority}")), "{head}");
    assert!(head.contains("/mock/revoke"), "{head}");

    let (status, body) = post(&authority, "/mock/revoke", "user=me%40example.com");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        "{\"revoked_refresh_tokens\":0,\"user\":\"me@example.com\"}\n"
    );
    let (status, _) = post(&authority, "/mock/decline", "");
    assert_eq!(status, 200);
    let (_, dc) = post(
        &authority,
        "/common/oauth2/v2.0/devicecode",
        "client_id=c&scope=offline_access",
    );
    let code = dc.split("\"device_code\":\"").nth(1).unwrap();
    let code = &code[..code.find('"').unwrap()];
    let (status, body) = post(
        &authority,
        "/common/oauth2/v2.0/token",
        &format!(
            "client_id=c&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code={code}"
        ),
    );
    assert_eq!(status, 400);
    assert!(body.contains("authorization_declined"), "{body}");

    // Each request lands in the log, within the logger's 200 ms.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut text = String::new();
    while Instant::now() < deadline {
        text = std::fs::read_to_string(&log).unwrap();
        if text.contains("mock-idp: POST /common/oauth2/v2.0/token") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(text.contains("mock-idp: POST /mock/revoke"), "{text}");
    assert!(
        text.contains("mock-idp: POST /common/oauth2/v2.0/token"),
        "{text}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(stderr, "", "nothing on the terminal");
    let _ = std::fs::remove_dir_all(&dir);
}
