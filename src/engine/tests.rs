//! Unit tests of the engine with a fake clock and a provider that cannot be reached.

use super::*;
use crate::oauth::DeviceAuth;
use crate::request::Raw;
use crate::store::Record;
use std::cell::Cell;
use std::path::PathBuf;

struct FakeClock(Cell<u64>);

impl Clock for FakeClock {
    fn now(&self) -> u64 {
        self.0.get()
    }
}

/// A UI that must never be used: these tests run no sign-in.
struct NoUi;

impl SignInUi for NoUi {
    fn can_prompt(&self) -> bool {
        false
    }
    fn show(&mut self, _: &DeviceAuth) {
        panic!("no sign-in expected");
    }
    fn wait(&mut self, _: Duration) {}
    fn show_authorize(&mut self, _: &str, _: &str, _: Duration) {
        panic!("no sign-in expected");
    }
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn setup(name: &str) -> (PathBuf, Request) {
    let dir = std::env::temp_dir().join(format!("ooauth2-engine-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let raw = Raw {
        client_id: Some("cid".into()),
        user: Some("me@example.com".into()),
        interactive: Some("never".into()),
        authority: Some(format!("http://127.0.0.1:{}", closed_port())),
        ..Raw::default()
    };
    let req = Request::validate(raw).unwrap();
    let store = Store::at(dir.clone());
    let account = req.account("me@example.com");
    let lock = store.lock(&account, Duration::from_secs(1)).unwrap();
    let mut rec = Record::new(&account, provider::DEFAULT_SCOPE, 1000);
    rec.refresh_token = Some("rt".into());
    rec.access_token = Some("at".into());
    rec.expires_at = Some(1000 + 3600);
    store.prepare(&lock).unwrap().commit(&rec).unwrap();
    (dir, req)
}

fn run(dir: &std::path::Path, req: &Request, now: u64) -> Result<Answer> {
    let clock = FakeClock(Cell::new(now));
    let mut ui = NoUi;
    let options = Options {
        http: HttpConfig {
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            retries: 0,
            verbose: 0,
        },
        lock_timeout: Duration::from_secs(1),
        secret_cmd_timeout: Duration::from_secs(1),
    };
    let mut engine = Engine::new(Store::at(dir.to_path_buf()), &clock, options, &mut ui);
    match engine.handle(req)? {
        Outcome::Token(a) => Ok(*a),
        Outcome::Erased { .. } => panic!("erase outcome"),
    }
}

#[test]
fn fresh_token_comes_from_cache_without_network() {
    let (dir, req) = setup("fresh");
    let a = run(&dir, &req, 1000).unwrap();
    assert_eq!(a.source, Source::Cache);
    assert_eq!(a.access_token.expose(), "at");
    assert_eq!(a.expires_in, 3600);
    assert!(a.warning.is_none());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn nearly_expired_token_is_served_with_a_warning_when_the_provider_is_down() {
    let (dir, req) = setup("nearly");
    let a = run(&dir, &req, 1000 + 3500).unwrap();
    assert_eq!(a.source, Source::Cache);
    assert_eq!(a.expires_in, 100);
    assert!(a.warning.unwrap().contains("serving the cached token"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn expired_token_with_the_provider_down_is_a_network_error() {
    let (dir, req) = setup("expired");
    let e = run(&dir, &req, 1000 + 3600).err().unwrap();
    assert_eq!(e.code, Code::NetworkError);
    assert_eq!(e.exit_status(), 75);
    let _ = std::fs::remove_dir_all(dir);
}
