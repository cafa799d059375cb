//! What the provider says never becomes a line of our answer (issue 11,
//! item 13): the line breaks other readers split on (Python's
//! `str.splitlines()` breaks on U+2028, U+2029, U+0085 and \x0b \x0c \x1c
//! \x1d \x1e too) in a provider's `scope` or `error_description` cannot add
//! an `access_token=` line to a helper response.

use crate::support::run::{Env, Run, USER};
use mock_idp::Fault;
use std::io::Write;
use std::process::{Command, Stdio};

/// Every character Python's `str.splitlines()` breaks a line on that `\n`
/// splitting does not, each followed by a line a reader would take for a key.
const INJECTED: &str = "x\u{2028}access_token=EVIL\u{2029}token_type=EVIL\u{85}source=EVIL\
\u{0b}expires_in=EVIL\u{0c}user=EVIL\u{1c}scope=EVIL\u{1d}error=EVIL\u{1e}hint=EVIL";

/// The response block of `stdout` as a Python client reads it: split by
/// `str.splitlines()`, up to the first empty line, each line at its first '='.
fn python_pairs(stdout: &str) -> Vec<(String, String)> {
    let script = "import sys, json\n\
        pairs = []\n\
        for line in sys.stdin.buffer.read().decode('utf-8').splitlines():\n\
        \x20   if not line:\n\
        \x20       break\n\
        \x20   k, _, v = line.partition('=')\n\
        \x20   pairs.append([k, v])\n\
        print(json.dumps(pairs))\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdout.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3 failed: {out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The response block of `stdout`, split on `\n` as ooauth2 means it.
fn lf_pairs(stdout: &str) -> Vec<(String, String)> {
    stdout
        .split('\n')
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// Python reads exactly the keys ooauth2 wrote, each once, and none of them
/// is one of the injected lines.
#[track_caller]
fn python_reads_what_was_written(run: &Run, expected_keys: &[&str]) {
    let python = python_pairs(&run.stdout);
    let keys: Vec<&str> = python.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, expected_keys, "{run:#?}");
    assert_eq!(python, lf_pairs(&run.stdout), "{run:#?}");
    assert!(python.iter().all(|(_, v)| v != "EVIL"), "{python:?}");
    for line in run.stdout.lines().chain(run.stderr.lines()) {
        assert!(
            !line
                .chars()
                .any(|c| "\u{2028}\u{2029}\u{85}\u{0b}\u{0c}\u{1c}\u{1d}\u{1e}".contains(c)),
            "a line break left in {line:?}: {run:#?}"
        );
    }
}

#[test]
fn a_line_separator_in_the_granted_scope_injects_no_key() {
    let env = Env::new();
    env.seed(USER);
    env.expire_cached(USER);
    let scope = format!("https://outlook.office.com/IMAP.AccessAsUser.All {INJECTED}");
    env.idp
        .push_fault(Fault::Patch(serde_json::json!({ "scope": scope })));
    let run = env.helper("interactive=never");
    run.expect(0);
    let written: Vec<String> = lf_pairs(&run.stdout).into_iter().map(|(k, _)| k).collect();
    let written: Vec<&str> = written.iter().map(String::as_str).collect();
    assert!(written.contains(&"access_token"), "{run:#?}");
    python_reads_what_was_written(&run, &written);
    // The cached answer, from the record, reads the same.
    let cached = env.helper("interactive=never");
    cached.expect(0);
    assert_eq!(cached.pairs()["source"], "cache");
    python_reads_what_was_written(&cached, &written);
}

#[test]
fn a_line_separator_in_an_error_description_injects_no_key() {
    let env = Env::new();
    env.seed(USER);
    env.expire_cached(USER);
    env.idp.push_fault(Fault::OAuthError {
        status: 400,
        error: "invalid_grant".into(),
        description: format!("AADSTS70000: refused {INJECTED}"),
        code: 70000,
    });
    let run = env.helper("interactive=never");
    run.expect(1);
    python_reads_what_was_written(&run, &["error", "error_description", "hint"]);
    assert_eq!(run.pairs()["error"], "invalid_grant");
    // The refusal is kept as the reason to sign in again, and told the same way.
    let marked = env.helper("interactive=never");
    marked.expect(1);
    python_reads_what_was_written(&marked, &["error", "error_description", "hint"]);
}
