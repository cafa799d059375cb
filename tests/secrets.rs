//! Secrets stay secret (issue 3, "Secrets"; design.md contract 4): every
//! failure path the tests can reach, and the success paths, run with
//! `--verbose`, and no access token, refresh token (old or rotated), client
//! secret or device code shows on stderr, on the stdout of a failure, or in
//! any file but the account's own record. The verbose log still says what
//! happened: method, URL, status and the provider's error code. A provider
//! that echoes the request back (issue 11, item 10) gets nothing out either.

use crate::support::run::{CLIENT, Env, Run, USER, finish, free_port};
use mock_idp::{DeviceOutcome, DeviceScript, Fault, Grant};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Text every token, code or secret of these tests starts with; none may
/// show outside the record (and the answer of a successful request).
const MARKERS: [&str; 6] = [
    // The mock's refresh and access tokens.
    "mockrt.",
    "mockat.",
    // The mock's device codes.
    "DAQABIQEAAAB",
    // Every client secret (right or wrong) and bad token used here.
    "SECRET-",
    // An id_token's header ({"alg":...).
    "eyJhbGci",
    // The giant access token of Fault::Huge.
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
];

/// Markers a record may hold: its own tokens.
const RECORD_MARKERS: [&str; 2] = ["mockrt.", "mockat."];

/// Whether `hay` holds `secret` or a piece of it (24 characters from any
/// offset that is a multiple of 8), so a truncated echo counts too.
fn leaks(hay: &str, secret: &str) -> bool {
    const PIECE: usize = 24;
    if secret.len() <= PIECE {
        return hay.contains(secret);
    }
    let b = secret.as_bytes();
    (0..=b.len() - PIECE)
        .step_by(8)
        .chain([b.len() - PIECE])
        .any(|i| std::str::from_utf8(&b[i..i + PIECE]).is_ok_and(|p| hay.contains(p)))
}

fn random_hex() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    let a = h.finish();
    h.write_u64(a);
    format!("{a:016x}{:016x}", h.finish())
}

/// The `key=value` lines of a helper answer (other output gives none).
fn parse_response(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every file under `root`.
fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// One scenario: a store, the mock provider with a confidential client, and
/// every run made, checked together at the end.
struct Case {
    env: Env,
    /// The client secret the mock requires of CLIENT.
    secret: String,
    runs: Vec<(String, Run)>,
    /// Secrets the mock does not record: wrong secrets, refused tokens.
    also: Vec<String>,
    /// Users whose newest refresh token counts as a secret.
    users: Vec<String>,
}

impl Case {
    fn new() -> Case {
        let env = Env::new();
        let secret = format!("SECRET-{}", random_hex());
        env.idp.require_secret(CLIENT, &secret);
        Case {
            env,
            secret,
            runs: Vec::new(),
            also: Vec::new(),
            users: vec![USER.to_string()],
        }
    }

    /// The request lines of the test account, with the client secret.
    fn lines(&self, extra: &str) -> String {
        format!(
            "{}client_secret={}\n{extra}\n",
            self.env.account_lines(USER),
            self.secret
        )
    }

    /// Records a run after checking its exit status.
    fn keep(&mut self, label: &str, run: Run, status: i32) -> &Run {
        assert_eq!(run.status, status, "{label}: {run:#?}");
        assert!(!run.stderr.contains("panicked"), "{label}: {run:#?}");
        self.runs.push((label.to_string(), run));
        &self.runs.last().unwrap().1
    }

    /// `ooauth2 -v helper` with the account, the secret and `extra` lines.
    fn helper(&mut self, label: &str, extra: &str, status: i32) -> &Run {
        let run = self
            .env
            .run(&["-vv", "helper"], self.lines(extra).as_bytes());
        self.keep(label, run, status)
    }

    /// `ooauth2 -v helper` with exactly `request`.
    fn raw(&mut self, label: &str, request: &str, status: i32) -> &Run {
        let run = self.env.run(&["-vv", "helper"], request.as_bytes());
        self.keep(label, run, status)
    }

    /// A prepared command (which should carry `-v`).
    fn command(&mut self, label: &str, mut cmd: Command, status: i32) -> &Run {
        let run = finish(cmd.spawn().unwrap(), b"");
        self.keep(label, run, status)
    }

    /// `ooauth2 -v token` for the account with `extra` flags.
    fn token(&mut self, label: &str, extra: &[&str], status: i32) -> &Run {
        let mut args = vec!["-vv".to_string()];
        args.extend(self.env.args("token", USER, extra));
        let run = self.env.run(&args, b"");
        self.keep(label, run, status)
    }

    /// Signs the account in by importing a refresh token (with -v); returns
    /// the refresh token now stored (the rotated one).
    fn seed(&mut self) -> String {
        let rt = self.env.idp.issue_refresh_token(USER, CLIENT);
        self.helper("seed", &format!("action=store\nrefresh_token={rt}"), 0);
        self.stored("refresh_token")
    }

    /// A text field of the account's record.
    fn stored(&self, field: &str) -> String {
        self.env.record(USER)[field].as_str().unwrap().to_string()
    }

    /// The stderr of the run labelled `label`.
    fn stderr(&self, label: &str) -> &str {
        &self
            .runs
            .iter()
            .find(|(l, _)| l == label)
            .unwrap_or_else(|| panic!("no run {label}"))
            .1
            .stderr
    }

    /// Asserts the verbose log of `label` holds each of `needles`.
    fn logged(&self, label: &str, needles: &[&str]) {
        let stderr = self.stderr(label);
        for n in needles {
            assert!(
                stderr.contains(n),
                "{label}: -v output lacks {n:?}:\n{stderr}"
            );
        }
    }

    /// `METHOD URL (what)` of the token endpoint, as the verbose log names it.
    fn token_post(&self, what: &str) -> String {
        format!(
            "POST {}/common/oauth2/v2.0/token ({what})",
            self.env.idp.authority()
        )
    }

    /// Every secret the scenario handled.
    fn secrets(&self) -> BTreeSet<String> {
        let mut s: BTreeSet<String> = self.also.iter().cloned().collect();
        s.insert(self.secret.clone());
        for r in self.env.idp.requests() {
            for (k, v) in &r.form {
                if ["refresh_token", "device_code", "client_secret"].contains(&k.as_str()) {
                    s.insert(v.clone());
                }
            }
        }
        for u in &self.users {
            s.extend(self.env.idp.last_refresh_token_for(u));
        }
        for (_, run) in &self.runs {
            if run.status == 0 {
                let p = parse_response(&run.stdout);
                s.extend(p.get("access_token").cloned());
                // `token` prints the bare token.
                if let Some(line) = run
                    .stdout
                    .lines()
                    .next()
                    .filter(|l| l.starts_with("mockat."))
                {
                    s.insert(line.to_string());
                }
            }
        }
        for (_, rec) in self.env.records() {
            for f in ["refresh_token", "access_token"] {
                s.extend(rec[f].as_str().map(str::to_string));
            }
        }
        s.retain(|x| x.len() >= 8);
        s
    }

    /// The checks of contract 4 over every run and file of the scenario.
    fn check(&self) {
        let secrets = self.secrets();
        assert!(secrets.contains(&self.secret));
        for (label, run) in &self.runs {
            for m in MARKERS {
                assert!(
                    !run.stderr.contains(m),
                    "{label}: {m:?} on stderr:\n{}",
                    run.stderr
                );
            }
            for s in &secrets {
                assert!(
                    !leaks(&run.stderr, s),
                    "{label}: secret {s:.40} on stderr:\n{}",
                    run.stderr
                );
            }
            if run.status == 0 {
                // The answer may carry its own access token, nothing else.
                let own = parse_response(&run.stdout)
                    .get("access_token")
                    .cloned()
                    .or_else(|| run.stdout.lines().next().map(str::to_string))
                    .unwrap_or_default();
                for s in secrets
                    .iter()
                    .filter(|s| **s != own && !own.contains(s.as_str()))
                {
                    assert!(
                        !leaks(&run.stdout, s),
                        "{label}: {s:.40} on stdout:\n{}",
                        run.stdout
                    );
                }
            } else {
                for m in MARKERS {
                    assert!(
                        !run.stdout.contains(m),
                        "{label}: {m:?} on stdout:\n{}",
                        run.stdout
                    );
                }
            }
        }
        let store = self.env.store();
        for path in files(&self.env.root) {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let record = path.parent() == Some(store.as_path())
                && name.ends_with(".json")
                && !name.starts_with('.');
            let own: Vec<String> = if record {
                let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                ["refresh_token", "access_token"]
                    .iter()
                    .filter_map(|f| v[f].as_str().map(str::to_string))
                    .collect()
            } else {
                Vec::new()
            };
            for m in MARKERS {
                if !(record && RECORD_MARKERS.contains(&m)) {
                    assert!(!text.contains(m), "{m:?} in {path:?}:\n{text}");
                }
            }
            for s in secrets.iter().filter(|s| !own.contains(s)) {
                assert!(!leaks(&text, s), "secret {s:.40} in {path:?}:\n{text}");
            }
        }
    }
}

#[test]
fn success_paths() {
    let mut c = Case::new();
    let seeded = c.seed();
    c.logged("seed", &[&c.token_post("grant_type=refresh_token"), " in "]);
    c.helper("cached get", "interactive=never", 0);
    assert_eq!(c.runs.last().unwrap().1.pairs()["source"], "cache");
    c.env.expire_cached(USER);
    c.helper("refresh on expiry", "interactive=never", 0);
    c.logged(
        "refresh on expiry",
        &[&format!(
            "{} -> 200",
            c.token_post("grant_type=refresh_token")
        )],
    );
    // -vv: the form and the answer, each secret only by its length.
    c.logged(
        "refresh on expiry",
        &[
            "form: grant_type=refresh_token refresh_token=<",
            " bytes, not shown> scope=",
            "client_secret=<",
            "content-type: application/json",
            "body: {\"access_token\":\"<",
        ],
    );
    let rotated = c.stored("refresh_token");
    assert_ne!(rotated, seeded, "no rotation");
    c.helper("forced refresh", "action=refresh", 0);
    assert_ne!(c.stored("refresh_token"), rotated, "no rotation");
    // The token command, cached (it has no client secret flag).
    for format in ["raw", "json", "xoauth2", "oauthbearer"] {
        c.token(&format!("token {format}"), &["--format", format], 0);
    }
    let mut status = c.env.command(&["-vv", "status"]);
    status.stdin(std::process::Stdio::null());
    c.command("status", status, 0);
    assert!(c.runs.last().unwrap().1.stdout.contains(USER));
    // The record holds the newest tokens, so the scan below has something to
    // allow there and forbid elsewhere.
    let rec = c.env.record(USER);
    assert_eq!(
        rec["refresh_token"],
        c.env.idp.last_refresh_token_for(USER).unwrap()
    );
    assert!(rec["access_token"].as_str().unwrap().starts_with("mockat."));
    assert!(c.secrets().len() >= 6, "{:?}", c.secrets());
    c.check();
    // Erased: only the lock file is left, holding nothing.
    let mut erase = c
        .env
        .command(&["-vv", "erase", "--client-id", CLIENT, "--user", USER]);
    erase.args(["--authority", &c.env.idp.authority()]);
    c.command("erase", erase, 0);
    assert!(c.env.records().is_empty());
    c.check();
}

#[test]
fn revoked_refresh_token_invalid_grant() {
    let mut c = Case::new();
    let rt = c.seed();
    c.env.idp.revoke_refresh_token(&rt);
    // Still a valid cached token: served, with a warning naming the refusal.
    c.helper("revoked, cache valid", "min_ttl=7200\ninteractive=never", 0);
    c.logged(
        "revoked, cache valid",
        &[
            &format!(
                "{} -> 400 invalid_grant AADSTS50173",
                c.token_post("grant_type=refresh_token")
            ),
            "ooauth2: warning: could not refresh",
        ],
    );
    c.env.expire_cached(USER);
    c.helper("revoked", "action=refresh\ninteractive=never", 1);
    assert_eq!(c.runs.last().unwrap().1.pairs()["error"], "invalid_grant");
    c.logged("revoked", &["-> 400 invalid_grant AADSTS50173"]);
    // Marked: no request, login_required; the token command says the same.
    c.helper("marked", "interactive=never", 1);
    c.token("token marked", &["--non-interactive"], 1);
    assert!(c.stderr("token marked").contains("ooauth2 login"));
    // The kept refresh token is still the revoked one, in the record only.
    assert_eq!(c.stored("refresh_token"), rt);
    c.check();
}

#[test]
fn server_errors_and_throttling() {
    let mut c = Case::new();
    c.seed();
    c.env.expire_cached(USER);
    for _ in 0..4 {
        c.env.idp.push_fault(Fault::Status(500));
    }
    c.helper("500", "interactive=never", 75);
    c.logged(
        "500",
        &[&format!(
            "{} -> 500 server_error AADSTS50000",
            c.token_post("grant_type=refresh_token")
        )],
    );
    for _ in 0..4 {
        c.env.idp.push_fault(Fault::Status(503));
    }
    c.helper("503", "interactive=never", 75);
    c.logged("503", &["-> 503 temporarily_unavailable AADSTS90033"]);
    for _ in 0..4 {
        c.env.idp.push_fault(Fault::TooManyRequests {
            retry_after_secs: 0,
        });
    }
    c.helper("429", "interactive=never", 75);
    c.logged("429", &["-> 429 temporarily_unavailable AADSTS90055"]);
    // A still-valid cached token is served despite the 503s, with a warning.
    c.helper("fresh token", "interactive=never", 0);
    for _ in 0..4 {
        c.env.idp.push_fault(Fault::Status(503));
    }
    c.helper(
        "503 with a valid cache",
        "min_ttl=7200\ninteractive=never",
        0,
    );
    c.logged(
        "503 with a valid cache",
        &[
            "-> 503 temporarily_unavailable",
            "ooauth2: warning: could not refresh",
        ],
    );
    c.env.expire_cached(USER);
    // 500 once, then success: the retried request hands out the token.
    c.env.idp.push_fault(Fault::Status(500));
    c.helper("500 then 200", "interactive=never", 0);
    c.logged("500 then 200", &["-> 500 server_error", "-> 200"]);
    c.check();
}

#[test]
fn unusable_answers() {
    let mut c = Case::new();
    c.seed();
    for (label, fault, needle, status) in [
        ("invalid json", Fault::InvalidJson, "-> 200", 75),
        ("html", Fault::Html, "-> 200", 75),
        ("no access_token", Fault::MissingAccessToken, "-> 200", 75),
        // Accepted (tests/token_safety.rs), and as secret in the log.
        ("no expires_in", Fault::MissingExpiresIn, "-> 200", 0),
        ("expires_in string", Fault::ExpiresInString, "-> 200", 0),
        ("huge", Fault::Huge(2 << 20), "more than 1 MiB", 75),
        (
            "redirect",
            Fault::Redirect("https://elsewhere.example/steal".into()),
            "redirected",
            75,
        ),
        ("closed", Fault::CloseWithoutAnswer, "failed", 75),
    ] {
        c.env.expire_cached(USER);
        c.env.idp.push_fault(fault);
        c.helper(label, "interactive=never", status);
        c.logged(label, &[needle]);
        assert_eq!(c.env.idp.pending_faults(), 0, "{label}");
    }
    c.check();
}

#[test]
fn timeout_and_refused_connection() {
    let mut c = Case::new();
    c.seed();
    c.env.expire_cached(USER);
    c.env.idp.push_fault(Fault::NeverAnswer);
    let mut cmd = c.env.command(&["-vv", "helper"]);
    cmd.env("OOAUTH2_HTTP_TIMEOUT", "1");
    let run = c.env.run_with(cmd, c.lines("interactive=never").as_bytes());
    c.keep("timeout", run, 75);
    c.logged(
        "timeout",
        &[
            &format!(
                "{} failed: error sending request",
                c.token_post("grant_type=refresh_token")
            ),
            "timed out",
            "did not answer within 1 s",
        ],
    );
    // Nothing listens on the authority: the import of a valid token fails.
    let port = free_port();
    let rt = c.env.idp.issue_refresh_token(USER, CLIENT);
    c.also.push(rt.clone());
    let req = format!(
        "action=store\nclient_id={CLIENT}\nclient_secret={}\nauthority=http://127.0.0.1:{port}\nrefresh_token={rt}\n",
        c.secret
    );
    c.raw("refused", &req, 75);
    c.logged(
        "refused",
        &[&format!("POST http://127.0.0.1:{port}/common/oauth2/v2.0/token (grant_type=refresh_token) failed")],
    );
    c.check();
}

#[test]
fn corrupt_records_are_store_errors_without_secrets() {
    let mut c = Case::new();
    c.seed();
    let (path, good) = c.env.record_path(USER);
    let text = serde_json::to_string_pretty(&good).unwrap();
    // Cut in the middle of the refresh token.
    let rt = good["refresh_token"].as_str().unwrap();
    let cut = text.find(rt).unwrap() + rt.len() / 2;
    std::fs::write(&path, &text[..cut]).unwrap();
    c.helper("truncated", "interactive=never", 74);
    // A control character inside the refresh token.
    let mut bad = good.clone();
    bad["refresh_token"] = format!("{rt}\u{1}").into();
    std::fs::write(&path, serde_json::to_vec(&bad).unwrap()).unwrap();
    c.helper("control character", "interactive=never", 74);
    // A record of a newer version.
    let mut bad = good.clone();
    bad["version"] = 99.into();
    std::fs::write(&path, serde_json::to_vec(&bad).unwrap()).unwrap();
    c.helper("newer", "interactive=never", 74);
    let mut status = c.env.command(&["-vv", "status"]);
    status.stdin(std::process::Stdio::null());
    c.command("status of a corrupt store", status, 0);
    for label in ["truncated", "control character", "newer"] {
        assert_eq!(
            parse_response(&c.runs.iter().find(|(l, _)| l == label).unwrap().1.stdout)["error"],
            "store_error"
        );
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&good).unwrap()).unwrap();
    c.check();
}

/// A record whose fields have the wrong JSON types (hand-edited, or written
/// by another tool) must not have its secrets quoted in the error.
#[test]
fn mistyped_record_fields_are_not_quoted_in_errors() {
    let mut c = Case::new();
    c.seed();
    let (path, good) = c.env.record_path(USER);
    let at = good["access_token"].as_str().unwrap().to_string();
    let rt = good["refresh_token"].as_str().unwrap().to_string();
    for (label, field, value) in [
        ("token as expiry", "expires_at", serde_json::json!(at)),
        ("token as timestamp", "updated_at", serde_json::json!(rt)),
        ("token in a list", "refresh_token", serde_json::json!([rt])),
    ] {
        let mut bad = good.clone();
        bad[field] = value;
        std::fs::write(&path, serde_json::to_vec_pretty(&bad).unwrap()).unwrap();
        c.helper(label, "interactive=never", 74);
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&good).unwrap()).unwrap();
    c.check();
}

#[test]
fn device_flow_declined_expired_and_unknown() {
    let mut c = Case::new();
    for (label, outcome, code) in [
        ("declined", DeviceOutcome::Decline, "access_denied"),
        ("expired", DeviceOutcome::Expire, "expired_token"),
        ("bad code", DeviceOutcome::BadCode, "bad_verification_code"),
    ] {
        // No slow_down: each would add 5 s to the polling interval.
        c.env.idp.set_device_script(DeviceScript {
            slow_down_polls: 0,
            pending_polls: 1,
            outcome,
        });
        c.helper(label, "action=login\ninteractive=always", 1);
        assert_eq!(c.runs.last().unwrap().1.pairs()["error"], code, "{label}");
    }
    let authority = c.env.idp.authority();
    c.logged(
        "declined",
        &[
            &format!(
                "POST {authority}/common/oauth2/v2.0/devicecode (device authorization) -> 200"
            ),
            &format!(
                "{} -> 400 authorization_pending AADSTS70016",
                c.token_post("grant_type=device_code")
            ),
            "-> 400 authorization_declined AADSTS70000",
        ],
    );
    c.logged("expired", &["-> 400 expired_token AADSTS70020"]);
    c.logged("bad code", &["-> 400 bad_verification_code AADSTS70000"]);
    // The login command has no client secret flag: the confidential client
    // is refused when the first poll comes back.
    c.env.idp.set_device_script(DeviceScript::default());
    let mut login = c.env.command(&["-vv", "login"]);
    login.args(c.env.account_flags(USER));
    c.command("login command", login, 1);
    c.logged(
        "login command",
        &["-> 401 invalid_client AADSTS7000218", "client_secret"],
    );
    let codes = c
        .env
        .idp
        .requests()
        .iter()
        .filter_map(|r| r.get("device_code").map(str::to_string))
        .collect::<BTreeSet<_>>();
    assert_eq!(codes.len(), 4, "{codes:?}");
    c.check();
}

#[test]
fn device_flow_success_and_user_mismatch() {
    let mut c = Case::new();
    c.users.push("other@example.com".into());
    c.helper("login", "action=login\ninteractive=always", 0);
    c.logged(
        "login",
        &[
            "(device authorization) -> 200",
            "(grant_type=device_code) -> 200",
        ],
    );
    let first = c.stored("refresh_token");
    c.env.idp.set_device_script(DeviceScript {
        slow_down_polls: 0,
        pending_polls: 0,
        outcome: DeviceOutcome::Approve("other@example.com".into()),
    });
    c.helper("mismatch", "action=login\ninteractive=always", 1);
    assert_eq!(c.runs.last().unwrap().1.pairs()["error"], "user_mismatch");
    // The other account's tokens went nowhere; the record is as it was.
    let other = c
        .env
        .idp
        .last_refresh_token_for("other@example.com")
        .unwrap();
    assert_ne!(other, first);
    assert_eq!(c.stored("refresh_token"), first);
    assert_eq!(c.env.records().len(), 1);
    c.check();
}

#[test]
fn store_with_bad_tokens_and_secrets() {
    let mut c = Case::new();
    let bad = format!("SECRET-bad-token-{}", random_hex());
    let wrong = format!("SECRET-wrong-secret-{}", random_hex());
    let long = format!("SECRET-long-{}", random_hex().repeat(640));
    c.also.extend([bad.clone(), wrong.clone(), long.clone()]);
    c.helper(
        "unknown token",
        &format!("action=store\nrefresh_token={bad}"),
        1,
    );
    c.logged("unknown token", &["-> 400 invalid_grant AADSTS70000"]);
    c.helper(
        "token too long",
        &format!("action=store\nrefresh_token={long}"),
        2,
    );
    c.helper(
        "token with a tab",
        &format!("action=store\nrefresh_token={bad}\tx"),
        2,
    );
    c.helper(
        "token outside store",
        &format!("action=get\nrefresh_token={bad}"),
        2,
    );
    // A wrong client secret, with a valid token.
    let rt = c.env.idp.issue_refresh_token(USER, CLIENT);
    let req = format!(
        "{}client_secret={wrong}\naction=store\nrefresh_token={rt}\n",
        c.env.account_lines(USER)
    );
    c.raw("wrong secret", &req, 1);
    c.logged("wrong secret", &["-> 401 invalid_client AADSTS7000215"]);
    // Damaged secret lines: a typo in the key, no '=', a NUL, a control character.
    let account = c.env.account_lines(USER);
    for (label, line) in [
        ("typo in key", format!("client_secrett={wrong}")),
        ("no equals", format!("client_secret {wrong}")),
        ("nul", format!("client_secret={wrong}\0")),
        ("control", format!("client_secret={wrong}\u{7f}")),
        ("secret too long", format!("client_secret={long}")),
        ("token key typo", format!("refresh_tokn={bad}")),
    ] {
        c.raw(label, &format!("{account}{line}\n"), 2);
    }
    assert!(c.env.records().is_empty());
    c.check();
}

/// A secret line with the wrong separator (`:` or a space) and an '=' inside
/// the secret (base64 padding) parses as an unknown key: the error must not
/// quote that "key", which is mostly the secret.
#[test]
fn secret_lines_with_a_wrong_separator_are_not_quoted() {
    let mut c = Case::new();
    let wrong = format!("SECRET-{}==", random_hex());
    let token = format!("SECRET-rt-{}=", random_hex());
    c.also.extend([wrong.clone(), token.clone()]);
    let account = c.env.account_lines(USER);
    for (label, line) in [
        ("secret after a colon", format!("client_secret:{wrong}")),
        ("secret after a space", format!("client_secret {wrong}")),
        (
            "token after a space",
            format!("action=store\nrefresh_token {token}"),
        ),
    ] {
        c.raw(label, &format!("{account}{line}\n"), 2);
    }
    c.check();
}

/// The verbose log names every HTTP exchange, even one whose answer is
/// refused (a redirect, a body over 1 MiB).
#[test]
fn verbose_log_names_refused_answers() {
    let mut c = Case::new();
    c.seed();
    for (label, fault, status) in [
        (
            "redirect",
            Fault::Redirect("https://elsewhere.example/x".into()),
            "302",
        ),
        ("huge", Fault::Huge(2 << 20), "200"),
    ] {
        c.env.expire_cached(USER);
        c.env.idp.push_fault(fault);
        c.helper(label, "interactive=never", 75);
        c.logged(
            label,
            &[&format!(
                "{} -> {status}",
                c.token_post("grant_type=refresh_token")
            )],
        );
    }
    c.check();
}

/// The checks themselves find a secret where one is put: a copy of the
/// record under another name, and a piece of a refresh token on stderr.
#[test]
fn the_checks_find_planted_secrets() {
    let caught =
        |c: &Case| std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.check())).is_err();
    let mut c = Case::new();
    let rt = c.seed();
    assert_eq!(c.env.idp.count(Grant::Refresh), 1);
    assert!(!caught(&c), "a clean scenario was flagged");
    let (path, _) = c.env.record_path(USER);
    let backup = c.env.store().join("backup.txt");
    std::fs::copy(&path, &backup).unwrap();
    assert!(caught(&c), "a refresh token in backup.txt went unnoticed");
    std::fs::remove_file(&backup).unwrap();
    // 30 characters from the middle of the token, without its "mockrt." start.
    let piece = &rt[rt.len() - 30..];
    let mut run = c.env.run(&["helper"], b"action=capability\n\n");
    run.stderr = format!("ooauth2: error: cannot refresh with {piece}\n");
    c.runs.push(("planted".into(), run));
    assert!(
        caught(&c),
        "a piece of a refresh token on stderr went unnoticed"
    );
}

/// Providers that echo the request (some put its parameters in
/// `error_description`, or in unknown members of an answer): no secret
/// ooauth2 sent comes back into view, in a warning, the error block, the
/// `-vv` log or the record's reason to sign in again, as sent or
/// percent-encoded, with `-vv` or without.
#[test]
fn secrets_the_provider_echoes_are_neither_shown_nor_stored() {
    let mut c = Case::new();
    c.seed();
    // Successful refreshes whose answers echo the token and the secret.
    for param in ["refresh_token", "client_secret"] {
        let label = format!("200 echoing {param}");
        c.env.expire_cached(USER);
        c.env.idp.push_fault(Fault::Echo(param.into()));
        c.helper(&label, "interactive=never", 0);
        c.logged(&label, &[&format!("\"request_echo\":\"{param}=<")]);
    }
    let rt = c.stored("refresh_token");
    c.env.idp.revoke_refresh_token(&rt);
    // Refused while the cached token is still good: the warning.
    c.env.idp.push_fault(Fault::Echo("refresh_token".into()));
    let run = c.env.run(
        &["helper"],
        c.lines("min_ttl=7200\ninteractive=never").as_bytes(),
    );
    c.keep("warning", run, 0);
    c.logged(
        "warning",
        &["warning: could not refresh", "Request: refresh_token=<"],
    );
    // Refused (the warning marked the account, so forced): the error block
    // and the mark on the record, quiet and -vv.
    assert_eq!(c.env.idp.pending_faults(), 0);
    c.env.expire_cached(USER);
    c.env.idp.push_fault(Fault::Echo("refresh_token".into()));
    let run = c.env.run(
        &["helper"],
        c.lines("action=refresh\ninteractive=never").as_bytes(),
    );
    let quiet = c.keep("refused", run, 1).pairs();
    assert_eq!(quiet["error"], "invalid_grant");
    assert!(
        quiet["error_description"].contains("refresh_token=<"),
        "{quiet:?}"
    );
    for param in ["refresh_token", "client_secret"] {
        c.env.idp.push_fault(Fault::Echo(param.into()));
        let label = format!("refused, -vv, echoing {param}");
        c.helper(&label, "action=refresh\ninteractive=never", 1);
        c.logged(&label, &[&format!("sent as {param}=<")]);
    }
    let (path, rec) = c.env.record_path(USER);
    let mark = rec["needs_login"].as_str().unwrap().to_string();
    assert!(mark.contains("not shown") && !leaks(&mark, &rt), "{mark}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches(&rt).count(), 1, "{text}");
    assert!(!leaks(&text, &c.secret), "{text}");
    // A token that is percent-encoded when sent, echoed both ways.
    let odd = format!("SECRET-rt/{}+=~*", random_hex());
    c.also.push(odd.clone());
    c.env.idp.push_fault(Fault::Echo("refresh_token".into()));
    c.helper(
        "odd token",
        &format!("action=store\nrefresh_token={odd}"),
        1,
    );
    c.logged(
        "odd token",
        &["Request: refresh_token=<", "sent as refresh_token=<"],
    );
    c.env.idp.push_fault(Fault::Echo("refresh_token".into()));
    let run = c.env.run(
        &["helper"],
        c.lines(&format!("action=store\nrefresh_token={odd}"))
            .as_bytes(),
    );
    c.keep("odd token, quiet", run, 1);
    c.check();
}
