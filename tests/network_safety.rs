//! What ooauth2 sends over the network, and to whom: the device flow's
//! polling pace, which requests go through a proxy (never a loopback one)
//! and what is shown of a proxy (never its credentials), and who may finish
//! a browser sign-in on the loopback listener (only the user who started
//! it; the `state` is never on a command line).

use crate::support::run::{Env, Run, USER, free_port};
use mock_idp::{DeviceScript, Grant};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

// ---------------------------------------------------------------------------
// The device flow's pace
// ---------------------------------------------------------------------------

#[test]
fn an_interval_of_zero_still_polls_at_most_once_a_second() {
    let env = Env::new();
    env.idp.set_device_interval(0);
    env.idp.set_device_expires_in(3);
    env.idp.set_device_script(DeviceScript {
        pending_polls: 1000,
        ..Default::default()
    });
    let run = env.helper("action=login\ninteractive=always");
    run.expect(1);
    assert_eq!(run.pairs()["error"], "expired_token", "{run:#?}");
    let polls = env.idp.token_requests(Grant::Device);
    // 3 s of waiting: the first poll at once (interval 0), then one a second.
    assert!(
        (2..=5).contains(&polls.len()),
        "{} polls in 3 s: {run:#?}",
        polls.len()
    );
    for pair in polls.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(gap >= Duration::from_millis(900), "polls {gap:?} apart");
    }
}

// ---------------------------------------------------------------------------
// Proxies: never for a loopback host, never shown with their credentials
// ---------------------------------------------------------------------------

/// A listener standing in for a proxy on 127.0.0.1: it records the request
/// head of every connection and refuses it (403), so nothing goes further.
struct FakeProxy {
    port: u16,
    heads: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeProxy {
    fn start() -> FakeProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s) = (heads.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        conn.set_nonblocking(false).unwrap();
                        conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                        let mut buf = [0u8; 4096];
                        let n = conn.read(&mut buf).unwrap_or(0);
                        h.lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                        let _ = conn.write_all(
                            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakeProxy {
            port,
            heads,
            stop,
            thread: Some(thread),
        }
    }

    /// The request heads received so far, one per connection.
    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

impl Drop for FakeProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A secret of the proxy URLs below: never printed.
const PROXY_PASSWORD: &str = "proxy-pass-5521";

#[test]
fn a_loopback_authority_never_goes_through_a_proxy() {
    let env = Env::new();
    env.seed(USER);
    let proxy = FakeProxy::start();
    let proxy_url = format!("http://someone:{PROXY_PASSWORD}@127.0.0.1:{}", proxy.port);
    // Whatever NO_PROXY says: unset, empty, or naming other hosts.
    let cases: &[(&str, Option<&str>)] = &[
        ("HTTP_PROXY", None),
        ("http_proxy", Some("")),
        ("ALL_PROXY", Some("example.com,10.0.0.0/8")),
    ];
    for (var, no_proxy) in cases {
        env.expire_cached(USER);
        let refreshes = env.idp.count(Grant::Refresh);
        let mut cmd = env.command(&env.args("token", USER, &["--non-interactive"]));
        cmd.env(var, &proxy_url);
        if let Some(no) = no_proxy {
            cmd.env("NO_PROXY", no);
        }
        let run = env.run_with(cmd, b"");
        run.expect(0);
        assert_eq!(run.stdout, format!("{}\n", env.cached_access_token(USER)));
        assert_eq!(env.idp.count(Grant::Refresh), refreshes + 1, "{var}");
        assert_eq!(proxy.heads(), Vec::<String>::new(), "{var}: {run:#?}");
    }
    // doctor's probe and refresh go direct too, and say so.
    let mut cmd = env.command(
        &std::iter::once("doctor".to_string())
            .chain(env.account_flags(USER))
            .collect::<Vec<_>>(),
    );
    cmd.env("HTTP_PROXY", &proxy_url);
    let run = env.run_with(cmd, b"");
    run.expect(0);
    assert!(run.stdout.contains("is reachable (HTTP 404"), "{run:#?}");
    assert!(!run.stdout.contains("through the proxy"), "{run:#?}");
    assert_eq!(proxy.heads(), Vec::<String>::new());
}

/// `doctor -v` for `USER` at `authority` with the environment `vars`.
fn doctor_with(env: &Env, authority: &str, vars: &[(&str, &str)]) -> Run {
    let mut args = vec!["doctor".to_string(), "-v".to_string()];
    args.extend(env.account_flags_at(authority, USER));
    let mut cmd = env.command(&args);
    cmd.envs(vars.iter().copied());
    env.run_with(cmd, b"")
}

/// Asserts that no part of a proxy's credentials or query is in the output.
#[track_caller]
fn nothing_of_the_credentials(run: &Run) {
    let all = format!("{}{}", run.stdout, run.stderr);
    for secret in [
        PROXY_PASSWORD,
        "someone",
        "me@corp",
        "me%40corp",
        "proxy-query-77",
    ] {
        assert!(!all.contains(secret), "{secret:?} shown: {run:#?}");
    }
}

#[test]
fn doctor_never_shows_a_proxy_password_whatever_the_form() {
    let env = Env::new();
    let proxy = FakeProxy::start();
    let p = proxy.port;
    let pw = PROXY_PASSWORD;
    // 0.0.0.0 is no loopback address, so the proxy rules apply to it; and a
    // direct connection would stay on this machine (Linux takes it as the
    // local host), never reaching a network.
    let authority = format!("https://0.0.0.0:{}", free_port());
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "HTTPS_PROXY",
            format!("someone:{pw}@127.0.0.1:{p}"),
            "someone",
        ),
        (
            "ALL_PROXY",
            format!("someone:{pw}@127.0.0.1:{p}"),
            "someone",
        ),
        (
            "https_proxy",
            format!("http://someone:{pw}@127.0.0.1:{p}/"),
            "someone",
        ),
        (
            "HTTPS_PROXY",
            format!("http://me%40corp:{pw}@127.0.0.1:{p}/x?key=proxy-query-77"),
            "me@corp",
        ),
        (
            "ALL_PROXY",
            format!("me@corp:{pw}@127.0.0.1:{p}?proxy-query-77"),
            "me@corp",
        ),
    ];
    for (var, value, user) in &cases {
        let run = doctor_with(&env, &authority, &[(var, value)]);
        run.expect(1);
        nothing_of_the_credentials(&run);
        let named = format!("through the proxy http://127.0.0.1:{p} (from {var})");
        assert!(run.stdout.contains(&named), "{var}={value}: {run:#?}");
        // The proxy was used, with its credentials.
        let head = proxy.heads().pop().unwrap_or_default();
        assert!(head.starts_with("CONNECT 0.0.0.0:"), "{head}");
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
        assert!(
            head.contains(&format!("Basic {basic}")),
            "{var}={value}: {head}"
        );
    }
    // An IPv6 proxy (nothing listens there): named by its address alone.
    let port = free_port();
    let value = format!("someone:{pw}@[::1]:{port}");
    let run = doctor_with(&env, &authority, &[("HTTPS_PROXY", &value)]);
    run.expect(1);
    let named = format!("through the proxy http://[::1]:{port} (from HTTPS_PROXY)");
    nothing_of_the_credentials(&run);
    assert!(run.stdout.contains(&named), "{run:#?}");
}
