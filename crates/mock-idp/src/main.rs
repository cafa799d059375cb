//! Runs the mock identity provider by hand, for people trying ooauth2 without
//! a Microsoft account (README, "Try it") and for bench/run.sh:
//!
//! cargo run -p mock-idp -- [--port N] [--user EMAIL] [--token-lifetime SECS]
//!     [--pending-polls N] [--interval SECS]
//!
//! It prints `authority=...` on stdout once it listens, then logs each
//! request on stderr until it is stopped.

use std::io::Write;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use mock_idp::{DeviceOutcome, DeviceScript, MockIdp};

const USAGE: &str = "\
usage: mock-idp [--port N] [--user EMAIL] [--token-lifetime SECS]
                [--pending-polls N] [--interval SECS]
       (from the source tree: cargo run -p mock-idp -- [options])

  --port N             listen on 127.0.0.1:N (default 0: any free port)
  --user EMAIL         account that approves device codes (default me@example.com)
  --token-lifetime S   access token lifetime in seconds (default 3600)
  --pending-polls N    polls answered authorization_pending before approval (default 2)
  --interval S         polling interval announced with device codes (default 1)";

struct Options {
    port: u16,
    user: String,
    token_lifetime: u64,
    pending_polls: u32,
    interval: u64,
}

fn parse_args() -> Result<Option<Options>, String> {
    let mut o = Options {
        port: 0,
        user: "me@example.com".to_string(),
        token_lifetime: 3600,
        pending_polls: 2,
        interval: 1,
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

    announce(&idp, &o);
    log_requests(&idp)
}

/// The authority on stdout (for scripts), what is served on stderr.
fn announce(idp: &MockIdp, o: &Options) {
    let authority = idp.authority();
    println!("authority={authority}");
    let _ = std::io::stdout().flush();
    eprintln!(
        "mock-idp: a mock Microsoft identity platform on {authority} (tenant: any)\n\
         \x20 POST {authority}/{{tenant}}/oauth2/v2.0/devicecode\n\
         \x20 POST {authority}/{{tenant}}/oauth2/v2.0/token\n\
         \x20 POST {authority}/introspect   (RFC 7662: token=... or Authorization: Bearer)\n\
         Device codes are approved for {} after {} pending poll(s); nothing to type at\n\
         {authority}/devicelogin. Access tokens live {} s; refresh tokens rotate.\n\
         Point the client's authority at {authority}. Requests are logged below. Ctrl-C stops.",
        o.user, o.pending_polls, o.token_lifetime
    );
}

/// Logs each request on stderr as it arrives, until the process is stopped.
fn log_requests(idp: &MockIdp) -> ! {
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
            eprintln!("{line}");
        }
        seen = reqs.len();
    }
}
