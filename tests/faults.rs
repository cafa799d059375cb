//! A store that cannot be written and a provider that misbehaves: each case
//! ends with the right code, exit status and message, loses nothing, and
//! serves a still-valid cached token when a refresh fails for a transient
//! reason (design.md, contracts 1, 2 and 5).

use crate::support::run::{
    Env, NO_FILE_WRITES, NOBODY, Run, USER, finish, running_as_root, set_mode,
};
use mock_idp::{Fault, Grant, MockIdp};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

/// Forces a refresh attempt although the cached token is still valid.
const FORCE: &str = "min_ttl=7200\ninteractive=never";

/// Runs `cmd` with the helper request for `USER` at `authority` plus `extra`.
fn helper_at(env: &Env, cmd: Command, authority: &str, extra: &str) -> (Run, Duration) {
    let req = format!("{}{extra}\n", env.account_lines_at(authority, USER));
    let started = Instant::now();
    let child = env.start_with(cmd, &req);
    let run = finish(child, b"");
    (run, started.elapsed())
}

/// `ooauth2 helper` against the env's mock, timed.
fn helper(env: &Env, extra: &str) -> (Run, Duration) {
    helper_at(env, env.command(&["helper"]), &env.idp.authority(), extra)
}

/// `ooauth2 token` for `USER` at `authority`, timed, with `vars` set.
fn token_at(env: &Env, authority: &str, extra: &[&str], vars: &[(&str, &str)]) -> (Run, Duration) {
    let mut cmd = env.command(&env.args_at("token", authority, USER, extra));
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let run = env.run_with(cmd, b"");
    (run, started.elapsed())
}

/// A failed helper run: status, code, nothing but the error block on
/// stdout, and the message and a hint on stderr.
#[track_caller]
fn assert_failed(run: &Run, status: i32, code: &str, needle: &str) {
    run.expect(status);
    let p = run.pairs();
    assert_eq!(p["error"], code, "{run:#?}");
    for k in p.keys() {
        assert!(
            ["error", "error_description", "hint"].contains(&k.as_str()),
            "unexpected key {k}: {run:#?}"
        );
    }
    assert!(
        p["error_description"].contains(needle),
        "{needle}: {run:#?}"
    );
    assert!(
        run.stderr.contains("ooauth2: error: ") && run.stderr.contains(needle),
        "{needle}: {run:#?}"
    );
    assert!(run.stderr.contains("ooauth2: hint: "), "{run:#?}");
}

/// A failed `ooauth2 token`: status, empty stdout, the message on stderr.
#[track_caller]
fn assert_token_failed(run: &Run, status: i32, needle: &str) {
    run.expect(status);
    assert_eq!(run.stdout, "", "stdout must be empty on failure");
    assert!(
        run.stderr.contains("ooauth2: error: ") && run.stderr.contains(needle),
        "{needle}: {run:#?}"
    );
}

/// The still-valid cached token served with a warning naming the failure.
#[track_caller]
fn assert_cached_served(run: &Run, cached: &str, needle: &str) {
    run.expect(0);
    let p = run.pairs();
    assert_eq!(p["access_token"], cached, "{run:#?}");
    assert_eq!(p["source"], "cache");
    assert!(
        run.stderr.contains("ooauth2: warning: could not refresh") && run.stderr.contains(needle),
        "{needle}: {run:#?}"
    );
}

/// `ooauth2 token` printed exactly one line, the cached token.
#[track_caller]
fn assert_token_line(run: &Run, token: &str) {
    run.expect(0);
    assert_eq!(run.stdout, format!("{token}\n"), "{run:#?}");
}

/// An env with `USER` signed in; returns it with the cached access token.
fn signed_in() -> (Env, String) {
    let env = Env::new();
    env.seed(USER);
    let cached = env.cached_access_token(USER);
    env.idp.reset_log();
    (env, cached)
}

// ---------------------------------------------------------------------------
// The store cannot be written
// ---------------------------------------------------------------------------

#[test]
fn a_file_size_limit_on_refresh_is_store_error_and_keeps_the_old_record() {
    let (env, _) = signed_in();
    env.expire_cached(USER);
    let before = env.snapshot();
    let rt = env.stored_refresh_token(USER);
    let cmd = env.command_via(NO_FILE_WRITES, &["helper"]);
    let (run, _) = helper_at(&env, cmd, &env.idp.authority(), "interactive=never");
    assert_failed(&run, 74, "store_error", "File too large");
    assert!(
        run.pairs()["error_description"].contains(&env.store().display().to_string()),
        "the message does not name the store: {run:#?}"
    );
    // The write is tried before the grant: the refresh token is not spent.
    assert_eq!(
        env.idp.count(Grant::Refresh),
        0,
        "the token was spent anyway"
    );
    assert_eq!(env.snapshot(), before, "the record or a temp file changed");

    // The token front end: nothing on stdout.
    let args = env.args("token", USER, &["--non-interactive"]);
    let run = env.run_with(env.command_via(NO_FILE_WRITES, &args), b"");
    assert_token_failed(&run, 74, "File too large");
    assert_eq!(env.snapshot(), before);

    // The old refresh token still works once the limit is gone.
    let run = env.helper("interactive=never");
    run.expect(0);
    assert_eq!(run.pairs()["source"], "refresh");
    let refresh = &env.idp.token_requests(Grant::Refresh)[0];
    assert_eq!(refresh.get("refresh_token"), Some(rt.as_str()));
}

#[test]
fn a_write_cut_off_midway_leaves_the_old_record_whole() {
    // A limit of 64 blocks (32 or 64 KiB): the new record, with a 256 KiB
    // access token, is cut off in the middle of its write, as a full disk or
    // a crash would; the old record must not be the file that was written.
    const WRITES_CUT_MIDWAY: &[&str] =
        &["sh", "-c", "trap '' XFSZ; ulimit -f 64; exec \"$0\" \"$@\""];
    let (env, _) = signed_in();
    env.expire_cached(USER);
    let before = env.snapshot();
    env.idp.set_token_size(256 * 1024);
    let cmd = env.command_via(WRITES_CUT_MIDWAY, &["helper"]);
    let (run, _) = helper_at(&env, cmd, &env.idp.authority(), "interactive=never");
    assert_failed(&run, 74, "store_error", "File too large");
    assert_eq!(env.idp.count(Grant::Refresh), 1, "no refresh was tried");
    assert_eq!(env.snapshot(), before, "the record or a temp file changed");
}

#[test]
fn a_file_size_limit_gets_a_hint_that_says_what_to_fix() {
    let (env, _) = signed_in();
    env.expire_cached(USER);
    let cmd = env.command_via(NO_FILE_WRITES, &["helper"]);
    let (run, _) = helper_at(&env, cmd, &env.idp.authority(), "interactive=never");
    run.expect(74);
    let hint = run.pairs()["hint"].to_lowercase();
    assert!(
        hint.contains("space") || hint.contains("size limit") || hint.contains("ulimit"),
        "the hint does not say to free space or raise the file size limit: {run:#?}"
    );
}

/// Makes the store read-only for the binary and returns the wrapper that
/// runs it as a user bound by the permission bits: as root, the store goes
/// to nobody and the binary runs as nobody (mode bits do not stop root).
fn read_only_store(env: &Env, files_mode: u32) -> Vec<&'static str> {
    let store = env.store();
    let wrapper = if running_as_root(env) {
        let setpriv = Command::new("setpriv").arg("--version").output();
        assert!(
            setpriv.is_ok_and(|o| o.status.success()),
            "running as root: the read-only store test needs setpriv (util-linux) \
             to drop to uid {NOBODY}, since mode bits do not stop root"
        );
        for p in std::iter::once(store.clone()).chain(env.files()) {
            std::os::unix::fs::chown(&p, Some(NOBODY), Some(NOBODY)).unwrap();
        }
        vec![
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]
    } else {
        vec!["env"]
    };
    for p in env.files() {
        set_mode(&p, files_mode);
    }
    set_mode(&store, 0o500);
    wrapper
}

fn restore_store(env: &Env) {
    let store = env.store();
    set_mode(&store, 0o700);
    for p in env.files() {
        set_mode(&p, 0o600);
    }
}

/// Makes the store writable again when a test ends, even by a panic, so the
/// env can remove it.
struct Writable<'a>(&'a Env);

impl Drop for Writable<'_> {
    fn drop(&mut self) {
        restore_store(self.0);
    }
}

#[test]
fn a_read_only_store_is_store_error_and_keeps_the_old_record() {
    let (env, cached) = signed_in();
    let _writable = Writable(&env);
    env.expire_cached(USER);
    let authority = env.idp.authority();
    // Files writable, directory not: the write is tried before the grant,
    // so the refresh token is not spent on an answer that cannot be kept.
    let wrapper = read_only_store(&env, 0o600);
    let before = env.snapshot();
    let cmd = env.command_via(&wrapper, &["helper"]);
    let (run, _) = helper_at(&env, cmd, &authority, "interactive=never");
    assert_failed(&run, 74, "store_error", "Permission denied");
    assert!(run.pairs()["hint"].contains("writable"), "{run:#?}");
    assert_eq!(env.idp.count(Grant::Refresh), 0);
    assert_eq!(env.snapshot(), before, "the store changed");

    // Nothing writable, not even the lock: fails before asking the provider.
    restore_store(&env);
    let wrapper = read_only_store(&env, 0o400);
    let before = env.snapshot();
    let args = env.args_at("token", &authority, USER, &["--non-interactive"]);
    let run = env.run_with(env.command_via(&wrapper, &args), b"");
    assert_token_failed(&run, 74, "Permission denied");
    assert!(run.stderr.contains("writable"), "{run:#?}");
    assert_eq!(
        env.idp.count(Grant::Refresh),
        0,
        "asked the provider anyway"
    );
    assert_eq!(env.snapshot(), before, "the store changed");

    // A still-valid token is read without writing anything.
    restore_store(&env);
    let (path, mut v) = env.record_path(USER);
    v["expires_at"] = serde_json::json!(4_000_000_000u64);
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let wrapper = read_only_store(&env, 0o400);
    let run = env.run_with(env.command_via(&wrapper, &args), b"");
    assert_token_line(&run, &cached);

    // The same user with a writable store succeeds: the set-up is sound.
    restore_store(&env);
    env.expire_cached(USER);
    let run = env.run_with(env.command_via(&wrapper, &args), b"");
    run.expect(0);
    assert_eq!(run.stdout.lines().count(), 1, "{run:#?}");
    assert_eq!(
        env.idp.count(Grant::Refresh),
        1,
        "one grant in all: this one"
    );
}

// ---------------------------------------------------------------------------
// The provider misbehaves
// ---------------------------------------------------------------------------

/// The store is byte for byte what it was before the failure, refresh
/// token included.
#[track_caller]
fn assert_kept(env: &Env, before: &[(std::path::PathBuf, Vec<u8>)]) {
    assert_eq!(env.snapshot(), before, "the store changed after a failure");
}

#[test]
fn a_provider_that_refuses_connections() {
    let (mut env, cached) = signed_in();
    // Stop the provider the account belongs to: its port now refuses.
    let authority = env.idp.authority();
    env.idp = MockIdp::start();
    let before = env.snapshot();
    let port = authority.rsplit(':').next().unwrap();

    // Cached token still valid: served with a warning, by both front ends.
    let (run, took) = helper_at(&env, env.command(&["helper"]), &authority, FORCE);
    assert_cached_served(&run, &cached, "cannot connect");
    assert!(took < Duration::from_secs(6), "took {took:?}");
    let (run, _) = token_at(
        &env,
        &authority,
        &["--min-ttl", "7200", "--non-interactive"],
        &[],
    );
    assert_token_line(&run, &cached);
    assert!(run.stderr.contains("warning"), "{run:#?}");
    assert_kept(&env, &before);

    // Expired: network_error, exit 75.
    env.expire_cached(USER);
    let before = env.snapshot();
    let (run, _) = helper_at(
        &env,
        env.command(&["helper"]),
        &authority,
        "interactive=never",
    );
    assert_failed(
        &run,
        75,
        "network_error",
        &format!("cannot connect to 127.0.0.1:{port}"),
    );
    let (run, _) = token_at(&env, &authority, &["--non-interactive"], &[]);
    assert_token_failed(&run, 75, "cannot connect");
    assert_kept(&env, &before);
}

#[test]
fn a_provider_that_never_answers_times_out() {
    let (env, cached) = signed_in();
    let authority = env.idp.authority();
    let before = env.snapshot();
    let mut cmd = env.command(&["helper"]);
    cmd.env("OOAUTH2_HTTP_TIMEOUT", "1");
    env.idp.push_fault(Fault::NeverAnswer);
    let (run, took) = helper_at(&env, cmd, &authority, FORCE);
    assert_cached_served(&run, &cached, "did not answer within 1 s");
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert_kept(&env, &before);

    env.expire_cached(USER);
    let before = env.snapshot();
    env.idp.reset_log();
    env.idp.push_fault(Fault::NeverAnswer);
    let mut cmd = env.command(&["helper"]);
    cmd.env("OOAUTH2_HTTP_TIMEOUT", "1");
    let (run, took) = helper_at(&env, cmd, &authority, "interactive=never");
    assert_failed(&run, 75, "network_error", "did not answer within 1 s");
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert_eq!(env.idp.count(Grant::Refresh), 1, "retried a timed-out POST");
    assert_kept(&env, &before);

    env.idp.push_fault(Fault::NeverAnswer);
    let (run, took) = token_at(
        &env,
        &authority,
        &["--non-interactive"],
        &[("OOAUTH2_HTTP_TIMEOUT", "1")],
    );
    assert_token_failed(&run, 75, "did not answer");
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert_kept(&env, &before);
}

#[test]
fn a_500_then_200_is_retried_and_the_new_token_printed() {
    let (env, cached) = signed_in();
    let rt = env.stored_refresh_token(USER);
    env.idp.push_fault(Fault::Status(500));
    let (run, _) = token_at(
        &env,
        &env.idp.authority(),
        &["--min-ttl", "7200", "--non-interactive"],
        &[],
    );
    run.expect(0);
    let fresh = env.cached_access_token(USER);
    assert_ne!(fresh, cached);
    assert_token_line(&run, &fresh);
    assert!(!run.stderr.contains("error"), "{run:#?}");
    let reqs = env.idp.token_requests(Grant::Refresh);
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs.iter()
            .all(|r| r.get("refresh_token") == Some(rt.as_str()))
    );
    assert_eq!(
        env.idp.last_refresh_token_for(USER),
        Some(env.stored_refresh_token(USER))
    );
}

#[test]
fn a_429_with_a_short_retry_after_is_waited_for() {
    let (env, _) = signed_in();
    env.expire_cached(USER);
    env.idp.push_fault(Fault::TooManyRequests {
        retry_after_secs: 1,
    });
    let (run, took) = token_at(&env, &env.idp.authority(), &["--non-interactive"], &[]);
    assert_token_line(&run, &env.cached_access_token(USER));
    assert!(
        took >= Duration::from_secs(1),
        "Retry-After ignored: {took:?}"
    );
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert_eq!(env.idp.count(Grant::Refresh), 2);
}

#[test]
fn a_429_with_a_long_retry_after_gives_up_at_once() {
    let (env, cached) = signed_in();
    let before = env.snapshot();
    let busy = Fault::TooManyRequests {
        retry_after_secs: 120,
    };
    env.idp.push_fault(busy.clone());
    let (run, took) = helper(&env, FORCE);
    assert_cached_served(&run, &cached, "retry after 120 s");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_kept(&env, &before);

    env.expire_cached(USER);
    let before = env.snapshot();
    env.idp.reset_log();
    env.idp.push_fault(busy.clone());
    let (run, took) = helper(&env, "interactive=never");
    assert_failed(&run, 75, "server_error", "retry after 120 s");
    assert!(took < Duration::from_secs(3), "waited {took:?}");
    assert_eq!(env.idp.count(Grant::Refresh), 1);
    env.idp.push_fault(busy);
    let (run, _) = token_at(&env, &env.idp.authority(), &["--non-interactive"], &[]);
    assert_token_failed(&run, 75, "retry after 120 s");
    assert_kept(&env, &before);
}

#[test]
fn a_connection_closed_without_an_answer() {
    let (env, cached) = signed_in();
    let before = env.snapshot();
    env.idp.push_fault(Fault::CloseWithoutAnswer);
    let (run, _) = helper(&env, FORCE);
    assert_cached_served(&run, &cached, "could not refresh");
    assert_kept(&env, &before);

    env.expire_cached(USER);
    let before = env.snapshot();
    env.idp.reset_log();
    env.idp.push_fault(Fault::CloseWithoutAnswer);
    let (run, took) = helper(&env, "interactive=never");
    assert_failed(&run, 75, "network_error", "127.0.0.1");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    env.idp.push_fault(Fault::CloseWithoutAnswer);
    let (run, _) = token_at(&env, &env.idp.authority(), &["--non-interactive"], &[]);
    assert_token_failed(&run, 75, "127.0.0.1");
    assert_kept(&env, &before);
}

#[test]
fn an_answer_over_one_mib_is_refused_quickly() {
    let (env, cached) = signed_in();
    let before = env.snapshot();
    env.idp.push_fault(Fault::Huge(8 * 1024 * 1024));
    let (run, took) = helper(&env, FORCE);
    assert_cached_served(&run, &cached, "more than 1 MiB");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_kept(&env, &before);

    env.expire_cached(USER);
    let before = env.snapshot();
    env.idp.push_fault(Fault::Huge(8 * 1024 * 1024));
    let (run, took) = helper(&env, "interactive=never");
    assert_failed(&run, 75, "bad_response", "more than 1 MiB");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    env.idp.push_fault(Fault::Huge(8 * 1024 * 1024));
    let (run, _) = token_at(&env, &env.idp.authority(), &["--non-interactive"], &[]);
    assert_token_failed(&run, 75, "more than 1 MiB");
    assert_kept(&env, &before);
}

#[test]
fn a_redirect_to_another_host_is_not_followed() {
    let (env, cached) = signed_in();
    let thief = MockIdp::start();
    let target = format!("{}/common/oauth2/v2.0/token", thief.authority());
    let thief_host = thief.authority().trim_start_matches("http://").to_string();
    let rt = env.stored_refresh_token(USER);
    let before = env.snapshot();
    env.idp.push_fault(Fault::Redirect(target.clone()));
    let (run, _) = helper(&env, FORCE);
    assert_cached_served(&run, &cached, "not followed");
    assert_kept(&env, &before);

    env.expire_cached(USER);
    let before = env.snapshot();
    env.idp.reset_log();
    env.idp.push_fault(Fault::Redirect(target.clone()));
    let (run, _) = helper(&env, "interactive=never");
    assert_failed(
        &run,
        75,
        "bad_response",
        &format!("redirected the request to {thief_host}"),
    );
    assert!(!run.stderr.contains(&rt) && !run.stdout.contains(&rt));
    env.idp.push_fault(Fault::Redirect(target));
    let (run, _) = token_at(&env, &env.idp.authority(), &["--non-interactive"], &[]);
    assert_token_failed(&run, 75, "not followed");
    assert_eq!(env.idp.total_count(), 2, "a second request went out");
    assert_eq!(thief.total_count(), 0, "the redirect was followed");
    assert_kept(&env, &before);
}

#[test]
fn malformed_answers_serve_the_cached_token_and_leave_token_stdout_empty() {
    // protocol.rs checks the helper's bad_response on an expired token; here
    // the still-valid cached token and the `token` front end.
    // A missing or string expires_in is accepted (tests/token_safety.rs).
    for (fault, needle) in [
        (Fault::InvalidJson, "not JSON"),
        (Fault::Html, "an HTML page"),
        (Fault::MissingAccessToken, "has no access_token"),
    ] {
        let (env, cached) = signed_in();
        let before = env.snapshot();
        env.idp.push_fault(fault.clone());
        let (run, _) = helper(&env, FORCE);
        assert_cached_served(&run, &cached, needle);
        assert_kept_but_rotation(&env, &before, &cached);

        env.expire_cached(USER);
        let before = env.snapshot();
        env.idp.push_fault(fault.clone());
        let (run, _) = token_at(&env, &env.idp.authority(), &["--non-interactive"], &[]);
        assert_token_failed(&run, 75, needle);
        assert_eq!(env.idp.count(Grant::Refresh), 2, "{fault:?}");
        assert_kept_but_rotation(&env, &before, &cached);
    }
}

/// [`assert_kept`], except that a refresh token the refused answer carried
/// replaces the stored one (the one it rotated may be spent): the cached
/// access token stays as it was.
#[track_caller]
fn assert_kept_but_rotation(env: &Env, before: &[(std::path::PathBuf, Vec<u8>)], cached: &str) {
    let issued = env.idp.last_refresh_token_for(USER).unwrap();
    if env.stored_refresh_token(USER) == issued && env.snapshot() != before {
        assert_eq!(env.cached_access_token(USER), cached);
        assert!(env.idp.is_valid_refresh_token(&issued));
    } else {
        assert_kept(env, before);
    }
}

/// A token endpoint whose 200 answer never ends: `total` bytes of JSON,
/// announced in Content-Length or not. Returns its authority and a thread
/// that yields how many body bytes got out before the client hung up.
fn endless_answer(total: usize, with_length: bool) -> (String, std::thread::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let authority = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        conn.set_write_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        // Read the request: its head, then Content-Length bytes of form.
        let mut req = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = conn.read(&mut buf).unwrap();
            assert!(n > 0, "the client hung up before sending its request");
            req.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&req).to_ascii_lowercase();
            if let Some(end) = text.find("\r\n\r\n") {
                let len: usize = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                if req.len() >= end + 4 + len {
                    break;
                }
            }
        }
        let mut head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n".to_string();
        if with_length {
            head.push_str(&format!("Content-Length: {total}\r\n"));
        }
        head.push_str("Connection: close\r\n\r\n");
        conn.write_all(head.as_bytes()).unwrap();
        let prefix = b"{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"";
        let mut sent = 0;
        if conn.write_all(prefix).is_ok() {
            sent = prefix.len();
            let chunk = vec![b'A'; 64 * 1024];
            while sent < total {
                let k = chunk.len().min(total - sent);
                if conn.write_all(&chunk[..k]).is_err() {
                    break;
                }
                sent += k;
            }
        }
        sent
    });
    (authority, server)
}

#[test]
fn an_endless_answer_is_refused_without_reading_it_all() {
    const TOTAL: usize = 128 * 1024 * 1024;
    for with_length in [true, false] {
        let env = Env::new();
        let (authority, server) = endless_answer(TOTAL, with_length);
        let req = format!(
            "{}action=store\nrefresh_token=some-refresh-token\n",
            env.account_lines_at(&authority, USER)
        );
        let started = Instant::now();
        let run = env.run(&["helper"], req.as_bytes());
        let took = started.elapsed();
        assert_failed(&run, 75, "bad_response", "more than 1 MiB");
        let sent = server.join().unwrap();
        // Socket buffers take a few MiB; reading it all would take 128.
        assert!(
            sent < TOTAL / 3,
            "Content-Length {with_length}: {sent} bytes were read"
        );
        assert!(took < Duration::from_secs(5), "took {took:?}");
        assert!(
            env.files().is_empty(),
            "a refused answer left files: {:?}",
            env.files()
        );
    }
}

/// An authorization code is single use, and a 5xx may come after the
/// provider took it: the exchange is sent once, whatever the answer, while
/// a refresh is retried.
#[test]
fn the_code_exchange_is_not_retried_after_a_server_error() {
    use crate::support::browser::{SignIn, get};
    let env = Env::new();
    let req = format!(
        "{}action=login\ninteractive=always\nflow=authcode\n\n",
        env.account_lines(USER)
    );
    let signin = SignIn::start(&env, &["helper"], &req, None);
    let url = signin.url_matching("http://", "/oauth2/v2.0/authorize?");
    env.idp.push_fault(Fault::Status(503));
    env.idp.push_fault(Fault::Status(503));
    let at_idp = get(&url);
    assert_eq!(at_idp.status, 302);
    get(&at_idp.location.unwrap());
    let run = signin.finish();
    run.expect(75);
    assert!(
        run.stderr.contains("temporarily_unavailable")
            && run.stderr.contains("an authorization code works only once"),
        "{}",
        run.stderr
    );
    assert_eq!(env.idp.count(Grant::AuthCode), 1);
    assert!(env.records().is_empty());
    // The second fault is still queued: a refresh would have taken it.
    assert_eq!(env.idp.pending_faults(), 1);
}
