//! Bad input, end to end (issue 3, "Bad input"): ten thousand generated
//! requests fed to the real `ooauth2 helper`, and table-driven hostile values
//! for the keys that name an account (`user`, `tenant`, `authority`,
//! `client_id`) on the wire and on the command line.
//!
//! Every answer must be one of the documented ones: no panic, no hang, an exit
//! status of 0, 1, 2, 74 or 75, on failure exactly an `error=` block with a
//! documented code that matches the status, and a rejected request creates or
//! changes no file. The generator is a fixed xorshift, so a failure names the
//! case number that reproduces it.

use crate::support::run::{CLIENT, Env, USER, free_port, parse_response};
use mock_idp::rng::Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Generated requests fed to the binary by `ten_thousand_generated_requests`.
const CASES: u64 = 10_000;
/// Parallel workers, each with its own store and mock provider.
const WORKERS: u64 = 4;
/// A run longer than this is a hang.
const HANG: Duration = Duration::from_secs(10);
/// The client id of the generated requests; never the seeded account's.
const FUZZ_CLIENT: &str = "fuzz-client-0001";
/// The request size limit of protocol.md.
const MAX_REQUEST: usize = 64 * 1024;

// ---------------------------------------------------------------------------
// Running the binary with a time limit
// ---------------------------------------------------------------------------

/// A finished run, bytes as they came.
struct Out {
    status: i32,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Out")
            .field("status", &self.status)
            .field("stdout", &self.stdout())
            .field("stderr", &self.stderr())
            .finish()
    }
}

impl Out {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Runs `cmd` with `stdin`; kills it and returns an error after [`HANG`].
fn run_bounded(mut cmd: Command, stdin: Vec<u8>) -> Result<Out, String> {
    let mut child = cmd.spawn().map_err(|e| format!("spawn: {e}"))?;
    let pid = child.id();
    let mut input = child.stdin.take();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        if let Some(s) = input.as_mut() {
            // The binary stops reading past the limit or at the blank line:
            // a broken pipe here is expected.
            let _ = s.write_all(&stdin);
        }
        drop(input);
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(HANG) {
        Ok(Ok(o)) => Ok(Out {
            status: o.status.code().unwrap_or(-1),
            stdout: o.stdout,
            stderr: o.stderr,
        }),
        Ok(Err(e)) => Err(format!("wait: {e}")),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            Err(format!("no answer within {} s: killed", HANG.as_secs()))
        }
    }
}

/// `env.command(args)`, with HTTPS sent to a closed local port: even a request
/// the generator did not foresee can reach no host but this machine.
fn command(env: &Env, guard_port: u16, args: &[&str]) -> Command {
    let mut c = env.command(args);
    let proxy = format!("http://127.0.0.1:{guard_port}");
    c.env("HTTPS_PROXY", &proxy).env("https_proxy", &proxy);
    c
}

// ---------------------------------------------------------------------------
// What every answer must look like
// ---------------------------------------------------------------------------

/// The exit status design.md gives each error code.
fn status_of(code: &str) -> i32 {
    match code {
        "invalid_request" => 2,
        "store_error" => 74,
        "store_busy" | "network_error" | "server_error" | "bad_response" => 75,
        _ => 1,
    }
}

/// The documented error codes and response keys, from `action=capability`.
struct Documented {
    errors: BTreeSet<String>,
    response_keys: BTreeSet<String>,
}

fn documented(env: &Env) -> Documented {
    let run = env.run(&["helper"], b"action=capability\n\n");
    run.expect(0);
    let p = run.pairs();
    let set = |k: &str| p[k].split(' ').map(str::to_string).collect();
    let d = Documented {
        errors: set("errors"),
        response_keys: set("response_keys"),
    };
    assert!(d.errors.contains("invalid_request") && d.errors.len() >= 10);
    // The generator gives hostile values to every request key there is.
    let request_keys: BTreeSet<String> = set("request_keys");
    let fuzzed: BTreeSet<String> = REQUEST_KEYS.iter().map(|k| k.to_string()).collect();
    assert_eq!(request_keys, fuzzed, "REQUEST_KEYS is out of date");
    d
}

/// Checks the contracts every answer keeps; returns the error code, if any.
fn check_answer(out: &Out, doc: &Documented) -> Result<Option<String>, String> {
    let stderr = out.stderr();
    if stderr.contains("panicked") || out.status == 101 {
        return Err("the program panicked".into());
    }
    if ![0, 1, 2, 74, 75].contains(&out.status) {
        return Err(format!("undocumented exit status {}", out.status));
    }
    let stdout = String::from_utf8(out.stdout.clone()).map_err(|_| "stdout is not UTF-8")?;
    let Some(block) = stdout.strip_suffix("\n\n") else {
        return Err("stdout is not one block ended by a blank line".into());
    };
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for line in block.split('\n') {
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!("stdout line without '=': {line:?}"));
        };
        if k.is_empty() || v.contains(['\r', '\0']) || pairs.iter().any(|(seen, _)| *seen == k) {
            return Err(format!("bad or repeated stdout line {line:?}"));
        }
        pairs.push((k, v));
    }
    for line in stderr.lines() {
        if !line.starts_with("ooauth2: ") {
            return Err(format!("stderr line not from ooauth2: {line:?}"));
        }
    }
    if out.status == 0 {
        if let Some((k, _)) = pairs
            .iter()
            .find(|(k, _)| *k == "error" || !doc.response_keys.contains(*k))
        {
            return Err(format!("success answer with key {k}"));
        }
        return Ok(None);
    }
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| *k).collect();
    if keys != ["error", "error_description"] && keys != ["error", "error_description", "hint"] {
        return Err(format!("failure stdout is not an error block: {keys:?}"));
    }
    let (code, description) = (pairs[0].1, pairs[1].1);
    if !doc.errors.contains(code) {
        return Err(format!("undocumented error code {code:?}"));
    }
    if status_of(code) != out.status {
        return Err(format!("{code} with exit status {}", out.status));
    }
    if description.is_empty() || !stderr.contains(&format!("ooauth2: error: {description}")) {
        return Err("error_description empty or not on stderr".into());
    }
    Ok(Some(code.to_string()))
}

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

/// Every file and directory under `root`: kind, permission bits and bytes.
type Tree = BTreeMap<PathBuf, (bool, u32, Vec<u8>)>;

fn tree(root: &Path) -> Tree {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Tree::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let mode = m.permissions().mode() & 0o7777;
            if m.is_dir() {
                todo.push(p.clone());
                out.insert(p, (true, mode, Vec::new()));
            } else {
                let bytes = std::fs::read(&p).unwrap_or_default();
                out.insert(p, (false, mode, bytes));
            }
        }
    }
    out
}

/// What changed between two trees, for messages.
fn tree_diff(before: &Tree, after: &Tree) -> String {
    let mut d = Vec::new();
    for p in before.keys().chain(after.keys()).collect::<BTreeSet<_>>() {
        match (before.get(p), after.get(p)) {
            (Some(_), None) => d.push(format!("removed {}", p.display())),
            (None, Some(_)) => d.push(format!("created {}", p.display())),
            (Some(a), Some(b)) if a != b => d.push(format!("changed {}", p.display())),
            _ => {}
        }
    }
    d.join(", ")
}

// ---------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------

/// The generator of case `case`: deterministic, so case N is the same on
/// every run.
fn rng_for_case(case: u64) -> Rng {
    let mut r = Rng::seeded((case + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    r.next_u64();
    r
}

/// Every request key of protocol.md, in the order the generator writes them:
/// `interactive` and `authority` first, so a value that ends the request
/// early (a blank line in it) never leaves a request that may sign in or
/// reach another host.
const REQUEST_KEYS: [&str; 26] = [
    "interactive",
    "authority",
    "action",
    "client_id",
    "user",
    "tenant",
    "scope",
    "min_ttl",
    "host",
    "port",
    "client_secret",
    "refresh_token",
    // No value the generator writes is `command`: a hostile encrypt_cmd or
    // decrypt_cmd is refused without secret_store=command, never run.
    "secret_store",
    "encrypt_cmd",
    "decrypt_cmd",
    // Without secret_store=command only `true` is accepted.
    "cache_access_token",
    "account",
    "flow",
    "redirect_port",
    "signin_timeout",
    "open_browser",
    // With `authority` given, `generic` is refused: no endpoint key can
    // send a request elsewhere.
    "provider",
    "authorization_endpoint",
    "token_endpoint",
    "device_authorization_endpoint",
    // An issuer implies generic: refused with `authority` too.
    "issuer",
];

/// Hostile values: path tricks, '=', line breaks and injected lines, control
/// characters, NUL, invalid UTF-8, odd Unicode, numbers, URLs, long strings.
fn hostile(rng: &mut Rng) -> Vec<u8> {
    const POOL: &[&[u8]] = &[
        b"../../x",
        b"..",
        b"../",
        b"/etc/passwd",
        b"a/b",
        b"a\\b",
        b"..\\..\\x",
        b"./x",
        b"~root",
        b"%2e%2e%2fx",
        b"....//x",
        b"/",
        b"=",
        b"a=b",
        b"==",
        b"=x",
        b"x=",
        b"a\nb",
        b"a\n\nb",
        b"\n",
        b"a\nerror=evil",
        b"a\naccess_token=evil",
        b"a\nclient_id=dup",
        b"a\naction=erase",
        b"a\nunknown_key=1",
        b"a\r\nb",
        b"a\rb",
        b"\r",
        b"a\0b",
        b"\0",
        b"\xff",
        b"a\xc3\x28",
        b"\xed\xa0\x80",
        b"\xef\xbb\xbfx",
        b"a\x1b[2Jb",
        b"a\x7fb",
        b"\xc2\x85",
        b"a\tb",
        b" ",
        b" a ",
        b"",
        "\u{e9}t\u{e9}".as_bytes(),
        "\u{202e}gpj.exe".as_bytes(),
        "\u{2028}".as_bytes(),
        "a\u{a0}b".as_bytes(),
        "\u{1f600}".as_bytes(),
        "\u{ff55}\u{ff53}\u{ff45}\u{ff52}".as_bytes(),
        "e\u{301}".as_bytes(),
        b"-1",
        b"+1",
        b"0",
        b"65536",
        b"86401",
        b"99999999999999999999999",
        b"1e3",
        b"0x10",
        b" 1",
        b"http://evil.example",
        b"http://127.0.0.1.evil.example",
        b"http://evil.example@127.0.0.1:1",
        b"http://10.0.0.1",
        b"http://0.0.0.0:1",
        b"HTTP://EVIL.EXAMPLE",
        b"ftp://127.0.0.1",
        b"file:///etc/passwd",
        b"https://u:p@127.0.0.1",
        b"https://127.0.0.1/?q=1",
        b"https://127.0.0.1/#f",
        b"javascript:alert(1)",
        b"//evil.example",
    ];
    let mut v = match rng.below(10) {
        0..=5 => rng.pick(POOL).to_vec(),
        // One control character between letters.
        6 => {
            let c = [1u8, 2, 7, 8, 9, 11, 12, 13, 27, 31, 127][rng.below(11)];
            vec![b'a', c, b'b']
        }
        // Long: around every length limit, and far past them.
        7 => {
            let n = *rng.pick(&[
                128usize, 129, 256, 257, 320, 321, 512, 513, 1024, 1025, 4096, 4097, 10_000,
                16_384, 16_385, 40_000,
            ]);
            const UNITS: [&[u8]; 4] = [b"x", b"\xc3\xa9", b"a/", b"."];
            let unit = UNITS[rng.below(UNITS.len())];
            unit.iter().copied().cycle().take(n).collect()
        }
        // Random bytes.
        8 => {
            let n = rng.below(40);
            rng.bytes(n)
        }
        // Random printable ASCII.
        _ => {
            let n = rng.below(40);
            (0..n).map(|_| 0x20 + rng.below(95) as u8).collect()
        }
    };
    if rng.chance(15) {
        let more = rng.pick(POOL).to_vec();
        v.extend(more);
    }
    v
}

/// Whether a hostile `interactive` value could read as a sign-in allowed:
/// the text before its first line break is `auto` or `always`.
fn may_sign_in(v: &[u8]) -> bool {
    let first = v.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    first == b"auto" || first == b"always"
}

/// What a case is, for the summary and failure messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    RawBytes,
    Soup,
    Hostile,
    Mutated,
    LineEnds,
    Huge,
}

/// The generator's fixed values.
struct Ctx {
    authority: String,
}

/// A request that passes validation and, with an empty account and
/// `interactive=never`, ends without a write: `login_required`, a
/// capability or erase answer, or (store without user) `invalid_grant`.
fn valid_lines(rng: &mut Rng, ctx: &Ctx, case: u64) -> Vec<(&'static str, Vec<u8>)> {
    let action = *rng.pick(&[
        "get",
        "get",
        "refresh",
        "erase",
        "capability",
        "login",
        "store",
    ]);
    let mut lines: Vec<(&'static str, Vec<u8>)> = vec![
        ("interactive", b"never".to_vec()),
        ("authority", ctx.authority.clone().into_bytes()),
        ("action", action.as_bytes().to_vec()),
        ("client_id", FUZZ_CLIENT.as_bytes().to_vec()),
    ];
    // A store with user= takes the account's lock before the provider
    // answers; without it nothing is written when the token is refused.
    if action != "store" {
        lines.push(("user", format!("fuzz{}@example.com", case % 7).into_bytes()));
    }
    let optional: [(&str, &[&str]); 7] = [
        (
            "tenant",
            &["common", "organizations", "contoso.onmicrosoft.com"],
        ),
        (
            "scope",
            &["offline_access https://outlook.office.com/IMAP.AccessAsUser.All"],
        ),
        ("min_ttl", &["0", "300", "86400"]),
        ("host", &["outlook.office365.com", "[::1]"]),
        ("port", &["993", "587"]),
        ("client_secret", &["SECRET-fuzz-value"]),
        ("refresh_token", &["not-a-token-the-mock-knows"]),
    ];
    for (k, values) in optional {
        let wanted = if k == "refresh_token" {
            action == "store"
        } else {
            rng.chance(40)
        };
        if wanted {
            lines.push((k, rng.pick(values).as_bytes().to_vec()));
        }
    }
    lines
}

fn line_end(rng: &mut Rng) -> &'static [u8] {
    match rng.below(20) {
        0..=13 => b"\n",
        14..=16 => b"\r\n",
        17 => b"\r",
        18 => b"\n\r",
        _ => b"",
    }
}

fn join(lines: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in lines {
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        out.extend_from_slice(v);
        out.push(b'\n');
    }
    out
}

/// Case `case`: its kind and the bytes fed to `ooauth2 helper`.
fn generate(case: u64, ctx: &Ctx) -> (Kind, Vec<u8>) {
    let mut rng = rng_for_case(case);
    match case % 10 {
        // Anything at all; now and then past the size limit.
        0 | 1 => {
            let n = if rng.chance(3) {
                MAX_REQUEST - 64 + rng.below(4096)
            } else {
                rng.below(400)
            };
            (Kind::RawBytes, rng.bytes(n))
        }
        // Lines of known, response and unknown keys with valid and hostile
        // values and any line end, after the two lines that keep it local.
        2 => {
            let mut out = format!("interactive=never\nauthority={}\n", ctx.authority).into_bytes();
            let keys: Vec<&str> = REQUEST_KEYS
                .iter()
                .copied()
                .chain(["access_token", "error", "tennant", "", "user ", "USER"])
                .collect();
            for _ in 0..rng.below(10) {
                out.extend_from_slice(rng.pick(&keys).as_bytes());
                if rng.chance(90) {
                    out.push(b'=');
                }
                let value = match rng.below(3) {
                    // Never "store": a store with user= would write a lock file.
                    0 => rng
                        .pick(&[
                            "get",
                            "erase",
                            "capability",
                            FUZZ_CLIENT,
                            "me@example.com",
                            "common",
                            "300",
                        ])
                        .as_bytes()
                        .to_vec(),
                    _ => hostile(&mut rng),
                };
                out.extend(value);
                out.extend_from_slice(line_end(&mut rng));
            }
            (Kind::Soup, out)
        }
        // A valid request with one to three keys (present or not) given
        // hostile values.
        3..=5 => {
            let mut lines = valid_lines(&mut rng, ctx, case);
            let store = lines.iter().any(|(k, v)| *k == "action" && v == b"store");
            for _ in 0..1 + rng.below(3) {
                let key = *rng.pick(&REQUEST_KEYS);
                if store && key == "user" {
                    continue;
                }
                let mut value = hostile(&mut rng);
                if key == "interactive" && may_sign_in(&value) {
                    value = b"sometimes".to_vec();
                }
                match lines.iter_mut().find(|(k, _)| *k == key) {
                    Some(line) => line.1 = value,
                    None => lines.push((key, value)),
                }
            }
            (Kind::Hostile, join(&lines))
        }
        // A valid request, damaged byte by byte.
        6 | 7 => {
            let mut bytes = join(&valid_lines(&mut rng, ctx, case));
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len() + 1);
                let op = rng.below(8);
                let single = [0u8, b'\n', b'\r', b'=', 0xff, 0xc3, b'/', 0x01][rng.below(8)];
                match op {
                    0 if at < bytes.len() => bytes[at] ^= 1 << rng.below(8),
                    1 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    2 => bytes.insert(at, single),
                    3 => bytes.truncate(at),
                    4 => {
                        let junk = hostile(&mut rng);
                        bytes.splice(at..at, junk);
                    }
                    5 if at < bytes.len() => bytes[at] = rng.next_u64() as u8,
                    6 => {
                        // Repeat a line (a duplicate key).
                        let copy: Vec<u8> =
                            bytes.split(|&b| b == b'\n').nth(3).unwrap_or(&[]).to_vec();
                        bytes.splice(at..at, copy.into_iter().chain([b'\n']));
                    }
                    _ => bytes.insert(at, b'\n'),
                }
            }
            (Kind::Mutated, bytes)
        }
        // A valid request with mixed line ends, maybe a blank line and
        // anything after it (which must be ignored).
        8 => {
            let lines = valid_lines(&mut rng, ctx, case);
            let mut out = Vec::new();
            for (k, v) in &lines {
                out.extend_from_slice(k.as_bytes());
                out.push(b'=');
                out.extend_from_slice(v);
                out.extend_from_slice(line_end(&mut rng));
            }
            if rng.chance(50) {
                out.extend_from_slice(if rng.chance(50) { b"\n" } else { b"\r\n" });
                let n = if rng.chance(10) {
                    200_000
                } else {
                    rng.below(300)
                };
                out.extend(rng.bytes(n));
            }
            (Kind::LineEnds, out)
        }
        // Sizes around and far past the limit: one long value, many lines,
        // no line end at all, or a long line of NULs or of invalid UTF-8.
        _ => {
            let target = *rng.pick(&[
                MAX_REQUEST - 1,
                MAX_REQUEST,
                MAX_REQUEST + 1,
                MAX_REQUEST + 2,
                100_000,
                1 << 20,
            ]);
            let mut out = format!("interactive=never\nauthority={}\n", ctx.authority).into_bytes();
            match rng.below(5) {
                0 => {
                    let key = *rng.pick(&REQUEST_KEYS[2..]);
                    out.extend_from_slice(format!("{key}=").as_bytes());
                    out.resize(target - 1, b'a');
                    out.push(b'\n');
                }
                1 => {
                    while out.len() < target {
                        out.extend_from_slice(b"user=x\n");
                    }
                    out.truncate(target);
                }
                2 => out.resize(target, b'x'),
                3 => out.resize(target, 0),
                _ => {
                    while out.len() < target {
                        out.extend_from_slice(b"\xff\xfe");
                    }
                    out.truncate(target);
                }
            }
            (Kind::Huge, out)
        }
    }
}

/// Shows the start of an input for a failure message.
fn show(bytes: &[u8]) -> String {
    let s: String = String::from_utf8_lossy(&bytes[..bytes.len().min(240)])
        .escape_debug()
        .collect();
    format!(
        "{s}{} ({} bytes)",
        if bytes.len() > 240 { "..." } else { "" },
        bytes.len()
    )
}

/// How many cases ended in each (kind, exit status, error code).
type Tally = BTreeMap<(Kind, i32, String), usize>;

/// Runs the cases `case % WORKERS == worker` against a store holding one
/// account; returns failures and a count per (kind, status, code).
fn fuzz_worker(worker: u64) -> (Vec<String>, Tally) {
    let env = Env::new();
    env.seed(USER);
    let doc = documented(&env);
    let guard = free_port();
    let ctx = Ctx {
        authority: env.idp.authority(),
    };
    let mut before = tree(&env.root);
    assert!(
        before
            .keys()
            .any(|p| p.extension().is_some_and(|e| e == "json")),
        "no seeded record"
    );
    let mut failures = Vec::new();
    let mut seen = BTreeMap::new();
    for case in (worker..CASES).step_by(WORKERS as usize) {
        let (kind, input) = generate(case, &ctx);
        let shown = show(&input);
        let out = match run_bounded(command(&env, guard, &["helper"]), input) {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("case {case} ({kind:?}): {e}\n  input: {shown}"));
                continue;
            }
        };
        let code = match check_answer(&out, &doc) {
            Ok(c) => c.unwrap_or_default(),
            Err(why) => {
                failures.push(format!(
                    "case {case} ({kind:?}): {why}\n  input: {shown}\n  status {}\n  stdout {:?}\n  stderr {:?}",
                    out.status,
                    out.stdout(),
                    out.stderr()
                ));
                continue;
            }
        };
        let after = tree(&env.root);
        if after != before {
            failures.push(format!(
                "case {case} ({kind:?}): {} (exit {}, {code})\n  input: {shown}",
                tree_diff(&before, &after),
                out.status
            ));
            before = after;
            continue;
        }
        *seen.entry((kind, out.status, code)).or_insert(0) += 1;
    }
    (failures, seen)
}

#[test]
fn ten_thousand_generated_requests_get_documented_answers_and_change_nothing() {
    let started = Instant::now();
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WORKERS)
            .map(|w| s.spawn(move || fuzz_worker(w)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut failures = Vec::new();
    let mut seen = Tally::new();
    for (f, s) in results {
        failures.extend(f);
        for (k, n) in s {
            *seen.entry(k).or_insert(0) += n;
        }
    }
    let total: usize = seen.values().sum::<usize>() + failures.len();
    eprintln!(
        "{total} requests in {:.1} s:",
        started.elapsed().as_secs_f64()
    );
    for ((kind, status, code), n) in &seen {
        eprintln!("  {kind:?} exit {status} {code}: {n}");
    }
    assert_eq!(total as u64, CASES);
    assert!(
        failures.is_empty(),
        "{} of {CASES} requests broke a contract:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The generator reaches every kind of answer it is meant to: refusals,
    // login_required, the provider's invalid_grant, and plain successes.
    let count = |status: i32, code: &str| -> usize {
        seen.iter()
            .filter(|((_, s, c), _)| *s == status && c == code)
            .map(|(_, n)| n)
            .sum()
    };
    assert!(count(2, "invalid_request") > 5_000, "{seen:?}");
    assert!(count(1, "login_required") > 300, "{seen:?}");
    assert!(count(1, "invalid_grant") > 30, "{seen:?}");
    assert!(count(0, "") > 100, "{seen:?}");
}

// ---------------------------------------------------------------------------
// Hostile values of the identity keys, one by one
// ---------------------------------------------------------------------------

/// What a hostile value must lead to.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// Refused as `invalid_request` (exit 2), the description holding this.
    Refused(&'static str),
    /// Accepted as a name: the account is simply not stored (`login_required`).
    Accepted,
}

use Want::{Accepted, Refused};

fn long(unit: &str, n: usize) -> String {
    unit.repeat(n)
}

/// Runs one request with `key` set to `value` (other keys valid) and checks
/// the answer, the untouched files and that the provider heard nothing.
fn check_hostile(env: &Env, doc: &Documented, key: &str, value: &[u8], want: Want) {
    let mut lines: Vec<(&str, Vec<u8>)> = vec![
        ("interactive", b"never".to_vec()),
        ("authority", env.idp.authority().into_bytes()),
        ("client_id", FUZZ_CLIENT.as_bytes().to_vec()),
        ("user", b"someone@example.com".to_vec()),
    ];
    match lines.iter_mut().find(|(k, _)| *k == key) {
        Some(l) => l.1 = value.to_vec(),
        None => lines.push((key, value.to_vec())),
    }
    let before = tree(&env.root);
    let requests = env.idp.total_count();
    let out = run_bounded(command(env, free_port(), &["helper"]), join(&lines)).unwrap();
    let what = format!("{key}={}: {out:?}", show(value));
    let code = check_answer(&out, doc).unwrap_or_else(|e| panic!("{e}: {what}"));
    let description = parse_response(&out.stdout())
        .get("error_description")
        .cloned()
        .unwrap_or_default();
    match want {
        Refused(needle) => {
            assert_eq!(code.as_deref(), Some("invalid_request"), "{what}");
            assert!(description.contains(needle), "wanted {needle:?}: {what}");
        }
        Accepted => assert_eq!(code.as_deref(), Some("login_required"), "{what}"),
    }
    assert_eq!(
        tree_diff(&before, &tree(&env.root)),
        "",
        "files changed: {what}"
    );
    assert_eq!(
        env.idp.total_count(),
        requests,
        "provider contacted: {what}"
    );
}

#[test]
fn hostile_user_values() {
    let env = Env::new();
    let doc = documented(&env);
    let cases: Vec<(Vec<u8>, Want)> = vec![
        // The user is hashed into the file name: path tricks are just names.
        (b"../../x".to_vec(), Accepted),
        (b"..".to_vec(), Accepted),
        (b"/etc/passwd".to_vec(), Accepted),
        (b"a/b".to_vec(), Accepted),
        (b"..\\..\\x".to_vec(), Accepted),
        (b"a=b".to_vec(), Accepted),
        (b"=".to_vec(), Accepted),
        (
            "\u{e9}l\u{e8}ve@\u{e9}cole.fr".as_bytes().to_vec(),
            Accepted,
        ),
        (long("x", 320).into_bytes(), Accepted),
        (long("x", 321).into_bytes(), Refused("1 to 320 bytes")),
        (long("x", 10_000).into_bytes(), Refused("1 to 320 bytes")),
        (
            long("\u{e9}", 5_000).into_bytes(),
            Refused("1 to 320 bytes"),
        ),
        (b"".to_vec(), Refused("1 to 320 bytes")),
        (b"a b".to_vec(), Refused("spaces")),
        (b"a\tb".to_vec(), Refused("control character")),
        (b"a\x01b".to_vec(), Refused("control character")),
        (b"a\x1b[2Jb".to_vec(), Refused("control character")),
        (b"a\x7fb".to_vec(), Refused("control character")),
        ("a\u{85}b".as_bytes().to_vec(), Refused("control character")),
        ("a\u{2028}b".as_bytes().to_vec(), Refused("spaces")),
        ("a\u{a0}b".as_bytes().to_vec(), Refused("spaces")),
        (b"a\rb".to_vec(), Refused("control character")),
        (b"a\0b".to_vec(), Refused("NUL")),
        (b"a\xffb".to_vec(), Refused("not valid UTF-8")),
        // A line break cannot be inside a value on the wire: the rest is a line.
        (b"a\nb".to_vec(), Refused("line 5 has no '='")),
        (b"a\nerror=evil".to_vec(), Refused("response key")),
        (b"a\nuser=b".to_vec(), Refused("duplicate key 'user'")),
    ];
    for (value, want) in cases {
        check_hostile(&env, &doc, "user", &value, want);
    }
}

#[test]
fn hostile_tenant_values() {
    let env = Env::new();
    let doc = documented(&env);
    let refused = "is not a tenant id, domain or keyword";
    let mut cases: Vec<(Vec<u8>, Want)> = vec![
        (b"contoso.onmicrosoft.com".to_vec(), Accepted),
        (b"9188040d-6c67-4c5b-b112-36a304b66dad".to_vec(), Accepted),
        (long("x", 128).into_bytes(), Accepted),
        (long("x", 129).into_bytes(), Refused(refused)),
        (long("x", 10_000).into_bytes(), Refused(refused)),
        (b"a\x01b".to_vec(), Refused("control character")),
        (b"a\0b".to_vec(), Refused("NUL")),
        (b"a\nb".to_vec(), Refused("line 6 has no '='")),
    ];
    for v in [
        "..",
        "../x",
        "../../etc",
        ".hidden",
        "a/b",
        "/x",
        "a\\b",
        "a=b",
        "=",
        "a b",
        "a?b",
        "a#b",
        "a%2fb",
        "a@b",
        "a:b",
        "",
        "\u{e9}",
        "\u{202e}x",
        "common/../organizations",
    ] {
        cases.push((v.as_bytes().to_vec(), Refused(refused)));
    }
    for (value, want) in cases {
        check_hostile(&env, &doc, "tenant", &value, want);
    }
}

#[test]
fn hostile_client_id_values() {
    let env = Env::new();
    let doc = documented(&env);
    let refused = "has characters a client id cannot have";
    let mut cases: Vec<(Vec<u8>, Want)> = vec![
        // Client ids only travel in form bodies and the record's hash.
        (b"..".to_vec(), Accepted),
        (b"a:b@c~d+e".to_vec(), Accepted),
        (long("x", 256).into_bytes(), Accepted),
        (long("x", 257).into_bytes(), Refused(refused)),
        (long("x", 10_000).into_bytes(), Refused(refused)),
        (b"a\x01b".to_vec(), Refused("control character")),
        (b"a\0b".to_vec(), Refused("NUL")),
        (b"a\nb".to_vec(), Refused("has no '='")),
        (
            b"a\nclient_id=b".to_vec(),
            Refused("duplicate key 'client_id'"),
        ),
    ];
    for v in [
        "../x", "a/b", "a\\b", "a=b", "=", "a b", "a%2Fb", "a&b", "a?b", "a#b", "", "\u{e9}",
        "\u{ff41}",
    ] {
        cases.push((v.as_bytes().to_vec(), Refused(refused)));
    }
    for (value, want) in cases {
        check_hostile(&env, &doc, "client_id", &value, want);
    }
}

#[test]
fn hostile_authority_values() {
    let env = Env::new();
    let doc = documented(&env);
    let port = env.idp.port();
    let mut cases: Vec<(String, Want)> = vec![
        // Plain http only on loopback hosts.
        (
            "http://evil.example".into(),
            Refused("uses http on a non-loopback host"),
        ),
        (
            "HTTP://EVIL.EXAMPLE:80".into(),
            Refused("uses http on a non-loopback host"),
        ),
        (
            "http://127.0.0.1.evil.example".into(),
            Refused("non-loopback"),
        ),
        (
            "http://localhost.evil.example".into(),
            Refused("non-loopback"),
        ),
        (
            "http://127.0.0.1@evil.example".into(),
            Refused("non-loopback"),
        ),
        ("http://10.0.0.1".into(), Refused("non-loopback")),
        ("http://192.168.1.1:8080".into(), Refused("non-loopback")),
        ("http://0.0.0.0:1".into(), Refused("non-loopback")),
        ("http://[fe80::1]:1".into(), Refused("non-loopback")),
        // Other schemes, credentials, queries, fragments, non-URLs.
        ("ftp://127.0.0.1".into(), Refused("must use https")),
        ("javascript:alert(1)".into(), Refused("authority '")),
        ("file:///etc/passwd".into(), Refused("authority '")),
        ("//evil.example".into(), Refused("is not a URL")),
        ("../..".into(), Refused("is not a URL")),
        ("".into(), Refused("is not a URL")),
        (
            format!("http://evil:pw@127.0.0.1:{port}"),
            Refused("credentials"),
        ),
        (
            "https://user@login.microsoftonline.com".into(),
            Refused("credentials"),
        ),
        (
            "https://login.microsoftonline.com/?x=1".into(),
            Refused("query"),
        ),
        (
            "https://login.microsoftonline.com/#x".into(),
            Refused("fragment"),
        ),
        (
            format!("https://{}", long("a", 10_000)),
            Refused("longer than 512"),
        ),
        (
            format!("http://127.0.0.1:{port}/{}", long("a", 600)),
            Refused("longer than 512"),
        ),
        // Valid: loopback http, https anywhere. Nothing is sent (never, no account).
        (format!("http://127.0.0.1:{port}/"), Accepted),
        (format!("http://localhost:{port}"), Accepted),
        (format!("http://[::1]:{port}"), Accepted),
        (format!("http://127.0.0.1:{port}/a=b"), Accepted),
        (format!("http://127.0.0.1:{port}/x/../.."), Accepted),
        ("https://login.microsoftonline.us".into(), Accepted),
    ];
    cases.push((
        "http://127.0.0.1:1\u{1}".into(),
        Refused("control character"),
    ));
    for (value, want) in cases {
        check_hostile(&env, &doc, "authority", value.as_bytes(), want);
    }
    for value in [&b"http://127.0.0.1\0"[..], b"http://\xff", b"http://a\nb"] {
        let want = if value.contains(&0) {
            Refused("NUL")
        } else if value.contains(&b'\n') {
            Refused("has no '='")
        } else {
            Refused("not valid UTF-8")
        };
        check_hostile(&env, &doc, "authority", value, want);
    }
}

/// The same names on the command line, where a line break can be in a value:
/// refused (or taken as a mere name), with nothing on stdout, every stderr
/// line ooauth2's own, and no file touched.
#[test]
fn hostile_identity_flags_of_the_token_command() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let env = Env::new();
    let authority = env.idp.authority();
    let base = |flag: &str, value: &OsStr| -> Command {
        let mut c = command(&env, free_port(), &[]);
        c.arg("token").arg("--non-interactive");
        for (f, v) in [
            ("--client-id", FUZZ_CLIENT),
            ("--authority", authority.as_str()),
            ("--user", "someone@example.com"),
        ] {
            if f != flag {
                c.args([f, v]);
            }
        }
        c.arg(flag).arg(value);
        c
    };
    let cases: Vec<(&str, &[u8], i32, &str)> = vec![
        (
            "--user",
            b"a\nb",
            2,
            "user must not contain spaces or control characters",
        ),
        (
            "--user",
            b"a\nooauth2: hint: run rm -rf ~",
            2,
            "control characters",
        ),
        ("--user", b"a\rb", 2, "control characters"),
        ("--user", b"a\x1b[2Jb", 2, "control characters"),
        ("--user", "a\u{85}b".as_bytes(), 2, "control characters"),
        ("--user", b"../../x", 1, "no refresh token is stored"),
        ("--user", b"a=b", 1, "no refresh token is stored"),
        // Not UTF-8: a usage error of the command line parser.
        ("--user", b"\xff", 2, "invalid UTF-8"),
        ("--tenant", b"a\nb", 2, "is not a tenant id"),
        ("--tenant", b"../../x", 2, "is not a tenant id"),
        ("--tenant", b"a\xffb", 2, "invalid UTF-8"),
        (
            "--client-id",
            b"a\nb",
            2,
            "has characters a client id cannot have",
        ),
        (
            "--client-id",
            b"a=b",
            2,
            "has characters a client id cannot have",
        ),
        ("--authority", b"http://evil.example\n", 2, "authority"),
        ("--authority", b"http://evil.example", 2, "non-loopback"),
    ];
    for (flag, value, status, needle) in cases {
        let before = tree(&env.root);
        let out = run_bounded(base(flag, OsStr::from_bytes(value)), Vec::new()).unwrap();
        let what = format!("{flag} {}: {out:?}", show(value));
        assert_eq!(out.status, status, "{what}");
        assert!(out.stdout.is_empty(), "stdout not empty: {what}");
        let stderr = out.stderr();
        assert!(stderr.contains(needle), "wanted {needle:?}: {what}");
        assert!(!stderr.contains("panicked"), "{what}");
        // clap's own usage errors aside, every stderr line is ooauth2's.
        if needle != "invalid UTF-8" {
            for line in stderr.lines() {
                assert!(line.starts_with("ooauth2: "), "forged stderr line: {what}");
            }
        }
        assert_eq!(tree_diff(&before, &tree(&env.root)), "", "{what}");
    }
    assert_eq!(env.idp.total_count(), 0);
}

/// `user=../../x` and friends name an account like any other: the record is a
/// hashed name inside the store, nothing appears outside it, and the account
/// works (store, cached get, erase).
#[test]
fn path_tricks_in_user_stay_inside_the_store() {
    let env = Env::new();
    let store = env.store();
    let escape = std::env::temp_dir().join(format!("ooauth2-escape-{}", std::process::id()));
    let users = [
        "../../x".to_string(),
        "../x".into(),
        "..".into(),
        ".".into(),
        "a/../../b".into(),
        "..\\..\\x".into(),
        "%2e%2e%2fx".into(),
        escape.display().to_string(),
        format!("{}/../../../x", store.display()),
    ];
    // Where the tricks would land if a name became a path.
    let targets = [
        store.join("../../x"),
        store.join("../x"),
        store.join("../../b"),
        store.join("x"),
        env.root.join("x"),
        escape.clone(),
    ];
    let existed: Vec<bool> = targets.iter().map(|p| p.exists()).collect();
    for user in &users {
        let rt = env.idp.issue_refresh_token(user, CLIENT);
        let run = env.helper_for(user, &format!("action=store\nrefresh_token={rt}\n"));
        run.expect(0);
        assert_eq!(run.pairs()["user"], *user);
        let (path, rec) = env.record_path(user);
        assert_eq!(rec["user"], *user);
        assert_eq!(path.parent(), Some(store.as_path()), "{user}: {path:?}");
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.len() == 37 && name[..32].bytes().all(|b| b.is_ascii_hexdigit()),
            "{user}: record file {name}"
        );
        let run = env.helper_for(user, "interactive=never");
        run.expect(0);
        assert_eq!(run.pairs()["source"], "cache", "{user}");
    }
    // Everything is inside the store, named by hash.
    for (p, (is_dir, _, _)) in tree(&env.root) {
        assert!(p.starts_with(&store), "outside the store: {p:?}");
        if p != store {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let stem = name.split('.').next().unwrap();
            if is_dir {
                // The store's own: import receipts (named by hash inside).
                assert!(
                    p.parent() == Some(store.as_path()) && name == "imports",
                    "directory in the store: {p:?}"
                );
                continue;
            }
            assert!(
                stem.len() == 32 && stem.bytes().all(|b| b.is_ascii_hexdigit()),
                "{p:?}"
            );
        }
    }
    assert_eq!(env.records().len(), users.len());
    for (p, existed) in targets.iter().zip(existed) {
        assert!(existed || !p.exists(), "{p:?} was created");
    }
    // Erasing one tricky name removes its record only.
    let run = env.helper_for("../../x", "action=erase");
    run.expect(0);
    assert_eq!(run.pairs()["erased"], "true");
    assert_eq!(env.records().len(), users.len() - 1);
}

/// The size limit end to end: exactly 64 KiB is read (and judged on its
/// content), one byte more is refused, and bytes after the blank line are
/// never read, however many there are.
#[test]
fn request_size_limit_end_to_end() {
    let env = Env::new();
    let doc = documented(&env);
    let head = format!("interactive=never\nauthority={}\n", env.idp.authority());
    let sized = |n: usize| {
        let mut b = format!("{head}user=").into_bytes();
        b.resize(n - 1, b'a');
        b.push(b'\n');
        b
    };
    let ask = |input: Vec<u8>| {
        let started = Instant::now();
        let out = run_bounded(command(&env, free_port(), &["helper"]), input).unwrap();
        check_answer(&out, &doc).unwrap();
        (out, started.elapsed())
    };
    let (out, _) = ask(sized(MAX_REQUEST));
    let p = parse_response(&out.stdout());
    assert_eq!(p["error"], "invalid_request");
    assert!(p["error_description"].contains("1 to 320 bytes"), "{p:?}");
    let (out, _) = ask(sized(MAX_REQUEST + 1));
    let p = parse_response(&out.stdout());
    assert!(
        p["error_description"].contains("larger than 65536 bytes"),
        "{p:?}"
    );
    // 16 MiB on one line: refused after 64 KiB, at once.
    let (out, took) = ask(vec![b'u'; 16 << 20]);
    assert!(out.stdout().contains("larger than 65536 bytes"));
    assert!(took < Duration::from_secs(5), "{took:?}");
    // A valid request, a blank line, then 16 MiB: answered as if alone.
    let mut input = format!("{head}client_id={FUZZ_CLIENT}\nuser=a@example.com\n\n").into_bytes();
    input.resize(16 << 20, b'\0');
    let (out, took) = ask(input);
    assert_eq!(parse_response(&out.stdout())["error"], "login_required");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(env.files().is_empty());
    assert_eq!(env.idp.total_count(), 0);
}

/// A refresh token the provider refuses is bad input like any other: the
/// request fails with invalid_grant and the store is left as it was.
#[test]
fn store_of_a_refused_token_creates_no_file() {
    let env = Env::new();
    let run = env.helper("action=store\nrefresh_token=not-a-token-the-mock-knows\n");
    run.expect(1);
    assert_eq!(run.pairs()["error"], "invalid_grant");
    assert_eq!(
        tree(&env.root).into_keys().collect::<Vec<_>>(),
        Vec::<PathBuf>::new(),
        "a refused store left files"
    );
}

/// The same store without user= learns the account from the answer and so
/// writes only after the provider accepted the token: nothing is left.
#[test]
fn store_of_a_refused_token_without_user_creates_no_file() {
    let env = Env::new();
    let req = format!(
        "action=store\nclient_id={CLIENT}\nauthority={}\nrefresh_token=not-a-token\n",
        env.idp.authority()
    );
    let run = env.run(&["helper"], req.as_bytes());
    run.expect(1);
    assert_eq!(run.pairs()["error"], "invalid_grant");
    assert!(tree(&env.root).is_empty(), "{:?}", tree(&env.root).keys());
}
