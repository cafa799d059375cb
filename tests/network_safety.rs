//! What ooauth2 sends over the network, and to whom: the device flow's
//! polling pace, which requests go through a proxy (never a loopback one)
//! and what is shown of a proxy (never its credentials), and who may finish
//! a browser sign-in on the loopback listener (only the user who started
//! it; the `state` is never on a command line).

use crate::support::browser::{SignIn, get};
use crate::support::run::{
    Env, NOBODY, Run, USER, free_port, path_with, running_as_root, set_mode, sh_quote,
};
use mock_idp::{DeviceScript, Grant};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
    assert!(
        run.stdout.contains("is reachable (HTTP 404")
            && run.stdout.contains("directly, no proxy for this host)"),
        "{run:#?}"
    );
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

// ---------------------------------------------------------------------------
// The browser sign-in: only the user who started it can finish it
// ---------------------------------------------------------------------------

/// `ooauth2 helper` signing `USER` in with the auth code flow, `cmd` being
/// the prepared command (for its environment).
fn authcode_signin(env: &Env, mut cmd: Command) -> SignIn {
    let req = format!(
        "{}action=login\ninteractive=always\nflow=authcode\nopen_browser=false\n\n",
        env.account_lines(USER)
    );
    cmd.env("OOAUTH2_NOTIFY_SEND", "0");
    SignIn::spawn(cmd, &req)
}

/// The authorization URL a sign-in printed.
fn authorize_url(signin: &SignIn) -> String {
    signin.url_matching("http://", "/oauth2/v2.0/authorize?")
}

/// The value of `key` in the query of `url`.
fn query(url: &str, key: &str) -> String {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

/// `host:port` of the sign-in's listener.
fn listener_of(url: &str) -> String {
    let redirect = query(url, "redirect_uri");
    redirect
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

/// Sends `GET target` to `host:port` as the user `uid` (with setpriv) and
/// returns the raw answer.
fn get_as(uid: u32, listener: &str, target: &str) -> String {
    let (host, port) = listener.split_once(':').unwrap();
    let request =
        format!("GET {target} HTTP/1.1\\r\\nHost: {listener}\\r\\nConnection: close\\r\\n\\r\\n");
    let script = format!(
        "exec 3<>/dev/tcp/{host}/{port} && printf {} >&3 && cat <&3",
        sh_quote(&request)
    );
    let out = Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={uid}"),
            "--clear-groups",
            "bash",
            "-c",
            &script,
        ])
        .output()
        .expect("setpriv (util-linux) and bash");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn another_users_forged_redirect_is_refused_and_the_real_one_then_signs_in() {
    let env = Env::new();
    if !running_as_root(&env) {
        eprintln!("skipped: only root can connect as another user (setpriv)");
        return;
    }
    let signin = authcode_signin(&env, env.command(&["helper"]));
    let url = authorize_url(&signin);
    let listener = listener_of(&url);
    // Another local user who knows the state (as anyone could read it from
    // xdg-open's command line before) brings a code of its own.
    let forged = format!(
        "/?code=forged-code-by-nobody&state={}",
        query(&url, "state")
    );
    let answer = get_as(NOBODY, &listener, &forged);
    assert!(answer.starts_with("HTTP/1.1 403 "), "{answer}");
    assert!(answer.contains("only that user"), "{answer}");
    // The real browser, afterwards, signs in.
    let at_idp = get(&url);
    let page = get(&at_idp.location.unwrap());
    assert_eq!(page.status, 200, "{}", page.body);
    let run = signin.finish();
    run.expect(0);
    assert_eq!(run.pairs()["user"], USER);
    let exchanges = env.idp.token_requests(Grant::AuthCode);
    assert_eq!(exchanges.len(), 1);
    assert_ne!(exchanges[0].get("code"), Some("forged-code-by-nobody"));
    assert!(
        run.stderr.contains(&format!(
            "refused a request to the sign-in listener from another local user (uid {NOBODY})"
        )),
        "{run:#?}"
    );
}

#[test]
fn idle_connections_do_not_hold_up_the_redirect() {
    let env = Env::new();
    let signin = authcode_signin(&env, env.command(&["helper"]));
    let url = authorize_url(&signin);
    let listener = listener_of(&url);
    // Silent connections, as a browser's preconnects or a stray client make.
    let idle: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(&listener).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let redirect = get(&url).location.unwrap();
    let started = Instant::now();
    let page = get(&redirect);
    let took = started.elapsed();
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        took < Duration::from_secs(2),
        "the redirect waited {took:?}"
    );
    signin.finish().expect(0);
    drop(idle);
}

/// A stub program `name` in its own directory that records its argv (one
/// line per call) and, for each argument that is a file, its mode, its
/// directory's mode and its content. Returns the directory and the log.
fn stub(env: &Env, name: &str) -> (PathBuf, PathBuf) {
    let dir = env.root.join(format!("stub-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let log = env.root.join(format!("{name}.log"));
    let script = dir.join(name);
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n{{ echo \"ARGV=$*\"; for a in \"$@\"; do [ -f \"$a\" ] && \
             echo \"MODES=$(stat -c %a \"$a\") $(stat -c %a \"$(dirname \"$a\")\")\" && \
             cat \"$a\"; done; }} >> {}\nexit 0\n",
            sh_quote(&log.display().to_string())
        ),
    )
    .unwrap();
    set_mode(&script, 0o755);
    (dir, log)
}

/// Waits (5 s at most) for `log` to exist and to stop growing (the stub
/// writes it line by line, slowly on a busy machine), and returns it.
fn read_log(log: &Path) -> String {
    let start = Instant::now();
    while !log.exists() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut text = std::fs::read_to_string(log).unwrap_or_default();
    while start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(200));
        let now = std::fs::read_to_string(log).unwrap_or_default();
        if now == text {
            break;
        }
        text = now;
    }
    text
}

/// The `file://` page or path a notifier or browser was handed.
fn private_file(argv: &str) -> PathBuf {
    let word = argv
        .trim_start_matches("ARGV=")
        .split_whitespace()
        .find(|w| w.contains("ooauth2-sign-in-"))
        .unwrap_or_else(|| panic!("no private page in {argv:?}"));
    PathBuf::from(word.trim_start_matches("file://"))
}

#[test]
fn the_browser_gets_a_private_page_never_the_state_on_its_command_line() {
    let env = Env::new();
    let (dir, log) = stub(&env, "xdg-open");
    let mut cmd = env.command(&["helper"]);
    let runtime = env.root.join("runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    set_mode(&runtime, 0o700);
    cmd.env("PATH", path_with(&dir))
        .env("DISPLAY", ":0")
        .env("XDG_RUNTIME_DIR", &runtime);
    let req = format!(
        "{}action=login\ninteractive=always\nflow=authcode\n\n",
        env.account_lines(USER)
    );
    let signin = SignIn::spawn(cmd, &req);
    let url = authorize_url(&signin);
    let opened = read_log(&log);
    let argv = opened.lines().find(|l| l.starts_with("ARGV=")).unwrap();
    assert!(!argv.contains("state="), "{opened}");
    assert!(!argv.contains(&query(&url, "state")), "{opened}");
    let page = private_file(argv);
    assert!(page.starts_with(&runtime), "{opened}");
    assert!(opened.contains("MODES=600 700\n"), "{opened}");
    // The page leads to the authorization URL.
    assert!(opened.contains(&url.replace('&', "&amp;")), "{opened}");
    let redirect = get(&url).location.unwrap();
    assert_eq!(get(&redirect).status, 200);
    signin.finish().expect(0);
    // Removed once the sign-in is over.
    assert!(
        !page.exists() && !page.parent().unwrap().exists(),
        "{page:?}"
    );
}

#[test]
fn notify_send_never_gets_the_state_of_a_browser_sign_in() {
    let env = Env::new();
    let (dir, log) = stub(&env, "notify-send");
    let mut cmd = env.command_via(&["setsid", "-w"], &["helper"]);
    cmd.env("PATH", path_with(&dir))
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    let req = format!(
        "{}action=login\ninteractive=always\nflow=authcode\nopen_browser=false\n\n",
        env.account_lines(USER)
    );
    let signin = SignIn::spawn(cmd, &req);
    let url = authorize_url(&signin);
    let told = read_log(&log);
    let argv = told.lines().find(|l| l.starts_with("ARGV=")).unwrap();
    assert!(!argv.contains("state="), "{told}");
    assert!(!argv.contains(&query(&url, "state")), "{told}");
    assert!(
        argv.contains("Open this page to sign in: file://"),
        "{told}"
    );
    let page = private_file(argv);
    assert!(
        std::fs::read_to_string(&page)
            .unwrap()
            .contains(&url.replace('&', "&amp;"))
    );
    let redirect = get(&url).location.unwrap();
    assert_eq!(get(&redirect).status, 200);
    signin.finish().expect(0);
    assert!(!page.exists(), "{page:?}");
}
