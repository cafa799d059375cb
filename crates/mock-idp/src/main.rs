//! Runs the mock identity provider by hand, for people trying ooauth2 without
//! a Microsoft account (README, "Try it") and for bench/run.sh:
//!
//! cargo run -p mock-idp -- [--port N] [--user EMAIL] [--token-lifetime SECS]
//!     [--pending-polls N] [--interval SECS] [--log FILE]
//!
//! It says what it serves, then prints `authority=...` on stdout once it
//! listens, then logs each request until it is stopped: on stderr, or in
//! FILE with `--log`, so that a mock run in the background of a terminal
//! never writes over a sign-in screen there.

use std::fs::File;
use std::io::Write;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use mock_idp::{AuthorizeMode, DeviceOutcome, DeviceScript, MockIdp};

const USAGE: &str = "\
usage: mock-idp [--port N] [--user EMAIL] [--token-lifetime SECS]
                [--pending-polls N] [--interval SECS] [--log FILE]
       (from the source tree: cargo run -q -p mock-idp -- [options])

  --port N             listen on 127.0.0.1:N (default 0: any free port)
  --user EMAIL         account that signs in (default me@example.com)
  --token-lifetime S   access token lifetime in seconds (default 3600)
  --pending-polls N    polls answered authorization_pending before approval (default 2)
  --interval S         polling interval announced with device codes (default 1)
  --log FILE           what it serves and each request, appended to FILE
                       (default: on stderr)

Once it listens it prints authority=http://127.0.0.1:PORT on stdout. While it
runs, these change what it answers (curl -d ... URL):
  POST /mock/revoke    user=EMAIL: that user's refresh tokens are revoked
  POST /mock/expire    every access token issued so far stops being valid
  POST /mock/decline   the next sign-in is declined
Stop it with Ctrl-C, or kill PID (kill %1 for the shell's first background job).";

struct Options {
    port: u16,
    user: String,
    token_lifetime: u64,
    pending_polls: u32,
    interval: u64,
    log: Option<String>,
}

fn parse_args() -> Result<Option<Options>, String> {
    let mut o = Options {
        port: 0,
        user: "me@example.com".to_string(),
        token_lifetime: 3600,
        pending_polls: 2,
        interval: 1,
        log: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if name == "-h" || name == "--help" {
            return Ok(None);
        }
        let value = match inline.or_else(|| args.next()) {
            Some(v) => v,
            None => return Err(format!("{name} needs a value")),
        };
        let num = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{name}: not a number: {v}"))
        };
        match name.as_str() {
            "--port" => {
                o.port = u16::try_from(num(&value)?).map_err(|_| format!("--port: {value}"))?;
            }
            "--user" => o.user = value,
            "--token-lifetime" => o.token_lifetime = num(&value)?,
            "--pending-polls" => {
                o.pending_polls =
                    u32::try_from(num(&value)?).map_err(|_| format!("--pending-polls: {value}"))?;
            }
            "--interval" => o.interval = num(&value)?,
            "--log" => o.log = Some(value),
            _ => return Err(format!("unknown option {name}")),
        }
    }
    Ok(Some(o))
}

fn main() -> ExitCode {
    let o = match parse_args() {
        Ok(Some(o)) => o,
        Ok(None) => {
            eprintln!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("mock-idp: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut log: Box<dyn Write> = match &o.log {
        None => Box::new(std::io::stderr()),
        Some(path) => match File::options().create(true).append(true).open(path) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("mock-idp: cannot open the log {path}: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let idp = match MockIdp::start_on_port(o.port) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("mock-idp: cannot listen on 127.0.0.1:{}: {e}", o.port);
            return ExitCode::FAILURE;
        }
    };
    idp.set_token_lifetime(o.token_lifetime);
    idp.set_device_interval(o.interval);
    idp.set_device_script(DeviceScript {
        slow_down_polls: 0,
        pending_polls: o.pending_polls,
        outcome: DeviceOutcome::Approve(o.user.clone()),
    });
    idp.set_authorize_mode(AuthorizeMode::Approve(o.user.clone()));

    announce(&idp, &o, &mut log);
    log_requests(&idp, &mut log)
}

/// What is served, in the log; then the authority on stdout (for scripts),
/// so that whoever waits for that line has the log's head too.
fn announce(idp: &MockIdp, o: &Options, log: &mut dyn Write) {
    let authority = idp.authority();
    let _ = writeln!(
        log,
        "mock-idp: a mock Microsoft identity platform on {authority} (tenant: any), pid {}\n\
         \x20 POST {authority}/{{tenant}}/oauth2/v2.0/devicecode\n\
         \x20 POST {authority}/{{tenant}}/oauth2/v2.0/token\n\
         \x20 POST {authority}/introspect   (RFC 7662: token=... or Authorization: Bearer)\n\
         \x20 POST {authority}/mock/revoke (user=EMAIL), /mock/expire, /mock/decline\n\
         Device codes are approved for {} after {} pending poll(s); nothing to type at\n\
         {authority}/devicelogin. Access tokens live {} s; refresh tokens rotate.\n\
         Point the client's authority at {authority}. Requests are logged below.\n\
         Stop it with Ctrl-C or kill {}.",
        std::process::id(),
        o.user,
        o.pending_polls,
        o.token_lifetime,
        std::process::id()
    );
    let _ = log.flush();
    println!("authority={authority}");
    let _ = std::io::stdout().flush();
}

/// Logs each request as it arrives, until the process is stopped.
fn log_requests(idp: &MockIdp, log: &mut dyn Write) -> ! {
    let mut seen = 0;
    loop {
        thread::sleep(Duration::from_millis(200));
        if idp.total_count() == seen {
            continue;
        }
        let reqs = idp.requests();
        for r in reqs.iter().skip(seen) {
            let mut line = format!("mock-idp: {} {}", r.method, r.path);
            for key in ["grant_type", "client_id", "scope"] {
                if let Some(v) = r.get(key) {
                    line.push_str(&format!(" {key}={v}"));
                }
            }
            let _ = writeln!(log, "{line}");
        }
        seen = reqs.len();
    }
}
