//! `ooauth2 keepalive`: every stored account (or the ones named), matched
//! to its config entry as `status` matches them, refreshed by the engine
//! when its refresh token was left unused for `--idle`; one line per
//! account on stdout (like `doctor`'s findings, the command's output), the
//! person told by `notify_cmd` or `notify-send` when a sign-in is due.

use super::status::{take_record, users_of};
use crate::args::KeepaliveArgs;
use crate::context::Context;
use crate::doctor::names;
use crate::output::{Status, print_stdout};
use crate::terminal::{Started, settle, tell_sign_in_needed};
use ooauth2::config;
use ooauth2::engine::KeepAlive;
use ooauth2::error::{Code, Error, Result};
use ooauth2::health::{DAY, within};
use ooauth2::request::{Raw, Request};
use ooauth2::store::Record;
use ooauth2::time::{Clock, SystemClock};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Accounts refreshed at once: the provider sees a few requests at a time,
/// and one slow account does not hold up the others.
const WORKERS: usize = 4;

/// How long the notifiers get, in all, before keepalive exits.
const NOTIFY_WAIT: Duration = Duration::from_secs(2);

/// One stored account to keep alive.
struct Target {
    /// Its config entry's name, if it has one.
    name: Option<String>,
    /// Its request: the config entry's, else the record's own values.
    req: Result<Request>,
    /// The stored record, as listed.
    rec: Record,
}

/// How one account ended, for its line and the exit status.
enum Line {
    /// Healthy: nothing needed, or refreshed.
    Healthy(String),
    /// Needs the person: the line, and what the notification says.
    NeedsUser(String, String),
    /// A temporary failure.
    Later(String),
}

/// `keepalive`: the lines on stdout, then the exit status they add up to.
pub fn run(ctx: &Context, args: &KeepaliveArgs) -> Result<Status> {
    let idle = idle_seconds(&args.idle)?;
    let (targets, unreadable) = targets(ctx)?;
    let targets = selected(targets, &args.accounts)?;
    let lines = keep_all(ctx, &targets, idle);
    let mut started: Vec<Started> = Vec::new();
    let mut text = String::new();
    let (mut needs_user, mut later) = (!unreadable.is_empty(), false);
    for line in &unreadable {
        text.push_str(&format!("{line}\n"));
    }
    for (target, line) in targets.iter().zip(&lines) {
        match line {
            Line::Healthy(l) => text.push_str(&format!("{l}\n")),
            Line::Later(l) => {
                later = true;
                text.push_str(&format!("{l}\n"));
            }
            Line::NeedsUser(l, message) => {
                needs_user = true;
                text.push_str(&format!("{l}\n"));
                let notify = target.req.as_ref().ok().and_then(|r| ctx.notify_cmd(r));
                let notify = notify.or(ctx.settings.notify_cmd());
                let send = !ctx.settings.notify_send_off();
                started.extend(tell_sign_in_needed(notify, send, &target.rec.user, message));
            }
        }
    }
    if targets.is_empty() && unreadable.is_empty() {
        eprintln!("ooauth2: no accounts stored to keep alive");
    }
    print_stdout(&text)?;
    settle(started, NOTIFY_WAIT);
    Ok(match (needs_user, later) {
        (true, _) => Status::ProblemsFound,
        (false, true) => Status::TryLater,
        (false, false) => Status::Done,
    })
}

/// `--idle`: a number of days, or of seconds, minutes, hours or days with
/// `s`, `m`, `h` or `d`.
fn idle_seconds(text: &str) -> Result<u64> {
    let t = text.trim();
    let (digits, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&t[..i], c),
        _ => (t, 'd'),
    };
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => DAY,
        _ => 0,
    };
    match digits.parse::<u64>() {
        Ok(n) if scale > 0 => Ok(n.saturating_mul(scale)),
        _ => Err(Error::invalid(format!("--idle '{text}' is not a duration"))
            .hint("give a number with s, m, h or d, e.g. --idle 7d")),
    }
}

/// Every stored account with its request: the configured ones first (as
/// `status` pairs them, so their client_secret_cmd and secret_store
/// apply), then the others; and a line for each record that cannot be read.
fn targets(ctx: &Context) -> Result<(Vec<Target>, Vec<String>)> {
    let config = config::load(&ctx.settings)?;
    let store = ctx.store()?;
    let mut records = store.list()?;
    let mut out = Vec::new();
    let never = || Raw {
        interactive: Some("never".into()),
        ..Raw::default()
    };
    for named in config.iter().flat_map(|c| &c.accounts) {
        let Ok(req) = named.request(never()) else {
            continue;
        };
        for user in users_of(&store, &req)? {
            let users = [user];
            if let Some((_, Ok(rec))) = take_record(&store, &mut records, &req, &users) {
                let req = named.request(never());
                out.push(Target {
                    name: Some(named.name.clone()),
                    req,
                    rec,
                });
            }
        }
    }
    let mut unreadable = Vec::new();
    for (path, rec) in records {
        match rec {
            Ok(rec) => out.push(Target {
                name: None,
                req: Request::validate(Raw {
                    interactive: Some("never".into()),
                    ..rec.raw()
                }),
                rec,
            }),
            Err(e) => unreadable.push(unreadable_line(&path, &e)),
        }
    }
    Ok((out, unreadable))
}

/// The line of a record that cannot be read.
fn unreadable_line(path: &std::path::Path, e: &Error) -> String {
    format!(
        "needs sign-in: {} ({}) -> {}",
        e.message,
        path.display(),
        e.next_step()
    )
}

/// The targets `wanted` names (config names or stored addresses), in the
/// store's order; all of them when none is named. A name that matches
/// nothing is an error before any request.
fn selected(targets: Vec<Target>, wanted: &[String]) -> Result<Vec<Target>> {
    if wanted.is_empty() {
        return Ok(targets);
    }
    let names =
        |t: &Target, w: &str| t.name.as_deref() == Some(w) || t.rec.user.eq_ignore_ascii_case(w);
    if let Some(missing) = wanted.iter().find(|w| !targets.iter().any(|t| names(t, w))) {
        return Err(Error::invalid(format!(
            "no stored account is named '{missing}' (a config file name or a stored address)"
        ))
        .hint("'ooauth2 status' lists the configured and stored accounts"));
    }
    Ok(targets
        .into_iter()
        .filter(|t| wanted.iter().any(|w| names(t, w)))
        .collect())
}

/// Keeps every target alive, `WORKERS` at a time; the lines in the
/// targets' order.
fn keep_all(ctx: &Context, targets: &[Target], idle: u64) -> Vec<Line> {
    let next = AtomicUsize::new(0);
    let lines: Mutex<Vec<Option<Line>>> = Mutex::new((0..targets.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..WORKERS.min(targets.len()) {
            s.spawn(|| work(ctx, targets, idle, &next, &lines));
        }
    });
    let lines = lines.into_inner().unwrap_or_default();
    lines
        .into_iter()
        .map(|l| l.unwrap_or_else(|| Line::Later("temporary failure: no result".into())))
        .collect()
}

/// One worker: takes the next target until none is left, its line into `lines`.
fn work(
    ctx: &Context,
    targets: &[Target],
    idle: u64,
    next: &AtomicUsize,
    lines: &Mutex<Vec<Option<Line>>>,
) {
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(target) = targets.get(i) else {
            return;
        };
        let line = keep(ctx, target, idle);
        if let Ok(mut all) = lines.lock() {
            all[i] = Some(line);
        }
    }
}

/// One account kept alive, as its line.
fn keep(ctx: &Context, target: &Target, idle: u64) -> Line {
    let (label, login) = names(&target.rec, target.name.as_deref());
    let req = match &target.req {
        Ok(req) => req,
        Err(e) => return needs_user(&label, &login, e),
    };
    let now = SystemClock.now();
    let done = ctx
        .with_engine(req, false, |engine| {
            engine.keep_alive(req, &target.rec.user, idle)
        })
        .and_then(|r| r);
    match done {
        Ok(KeepAlive::Fresh(used)) => {
            let when = used.map_or_else(
                || "recently".to_string(),
                |t| format!("{} ago", ago(now.saturating_sub(t))),
            );
            Line::Healthy(format!("ok: {label}: used {when}"))
        }
        Ok(KeepAlive::Refreshed { rotated }) => Line::Healthy(format!(
            "refreshed: {label}{}",
            if rotated {
                "; the new refresh token is stored"
            } else {
                ""
            }
        )),
        Ok(KeepAlive::NeedsSignIn(e)) => needs_user(&label, &login, &e),
        Ok(KeepAlive::Failed(e)) | Err(e) if e.code.is_transient() => Line::Later(format!(
            "temporary failure: {label}: {} -> try again later",
            e.message
        )),
        Ok(KeepAlive::Failed(e)) | Err(e) => needs_user(&label, &login, &e),
    }
}

/// The line of an account that needs the person, and its notification:
/// a sign-in with its command, or another fix (the app registration, the
/// store) with the error's own next step.
fn needs_user(label: &str, login: &str, e: &Error) -> Line {
    let sign_in = matches!(
        e.code,
        Code::LoginRequired | Code::InvalidGrant | Code::ExpiredToken | Code::AccessDenied
    );
    if !sign_in {
        let line = format!("problem: {label}: {} -> {}", e.message, e.next_step());
        return Line::NeedsUser(line, format!("{label}: {}", e.message));
    }
    let line = format!("needs sign-in: {label}: {} -> run: {login}", e.message);
    let message = format!("{label} needs a new sign-in: run {login}");
    Line::NeedsUser(line, message)
}

/// How long ago, in the words of `within`: "3 days", "5 hours".
fn ago(secs: u64) -> String {
    within(secs).trim_start_matches("in ").to_string()
}
