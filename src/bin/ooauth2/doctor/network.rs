//! The network checks: each provider host's reachability (once per host,
//! through the proxy and CA store the grants use), the clock against its
//! `Date` header, and each account's app registration.

use super::refusal::refusal;
use super::{Finding, Online, Target, problem_of};
use ooauth2::engine::{Engine, Options, RefreshCheck};
use ooauth2::provider::{Flow, Provider};
use ooauth2::settings::Settings;
use ooauth2::store::{Record, Store};
use ooauth2::time::{Clock, SystemClock, parse_http_date};
use std::collections::HashMap;

/// The largest difference between the local clock and the provider's `Date`
/// header that is not a problem. Five minutes is the usual tolerance of
/// token and certificate checks (Kerberos' default, Entra ID's for
/// assertions); `Date` has whole seconds and the answer takes a moment, so
/// a smaller limit would report noise.
const MAX_CLOCK_SKEW: u64 = 300;

/// Reachability and clock once per provider host, then the app
/// registration of each account whose host answered.
pub(super) fn check_network(
    settings: &Settings,
    store: &Store,
    targets: Vec<Target>,
    now: u64,
    online: Online,
    out: &mut Vec<Finding>,
) {
    if targets.is_empty() {
        out.push(Finding::Skipped(
            "network checks: no account to check".into(),
        ));
        return;
    }
    let options = match Options::new(settings, online.verbose) {
        Ok(o) => o,
        Err(e) => {
            out.push(problem_of(&e, "fix the variable it names"));
            return;
        }
    };
    let clock = SystemClock;
    // Never shown: every request here is made with interactive=never.
    let mut ui = crate::terminal::TerminalUi::new(false);
    let mut engine = Engine::new(store.clone(), &clock, options, &mut ui);
    // Each token endpoint's host is asked once; its accounts share the answer.
    let mut reached: HashMap<String, bool> = HashMap::new();
    for t in targets {
        let token_url = first_url(&t);
        let host = host_label(&token_url);
        let ok = *reached
            .entry(host.clone())
            .or_insert_with(|| check_host(&mut engine, &token_url, &host, out));
        let finding = if ok {
            let finding = registration(&mut engine, &t, now);
            superseded(&t, &finding, out);
            finding
        } else {
            Finding::Skipped(format!(
                "{}: the app registration check ({host} was not reached)",
                t.label
            ))
        };
        out.push(finding);
    }
}

/// Drops the offline finding of a record marked as refused once the
/// refresh check has asked the provider again: its refusal says the same
/// with the provider's reason decoded (one problem, not two), and its
/// success means the mark is gone.
fn superseded(t: &Target, finding: &Finding, out: &mut Vec<Finding>) {
    let asked = t
        .rec
        .as_ref()
        .is_some_and(|r| r.needs_login.is_some() && r.has_refresh_token());
    let answered = match finding {
        Finding::Ok(_) => true,
        Finding::Problem(what, _) => what.contains(" was refused: "),
        _ => false,
    };
    if asked && answered {
        let mark = super::record::refused_mark(&t.label);
        out.retain(|f| !matches!(f, Finding::Problem(what, _) if what.starts_with(&mark)));
    }
}

/// The first URL the account's grants ask: its issuer's (discovery comes
/// first), else its token endpoint.
fn first_url(t: &Target) -> String {
    t.req
        .issuer()
        .map(str::to_string)
        .unwrap_or_else(|| t.req.endpoints().token.clone())
}

/// `scheme://host[:port]` of a URL, for findings.
fn host_label(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| url.to_string())
}

/// Whether the host of `token_url` answers; and, if it does, whether its
/// `Date` agrees with the local clock.
fn check_host(engine: &mut Engine, token_url: &str, host: &str, out: &mut Vec<Finding>) -> bool {
    let probe = engine.http_client().and_then(|http| http.probe(token_url));
    let probe = match probe {
        Ok(p) => p,
        Err(e) => {
            out.push(problem_of(&e, "check the network connection"));
            return false;
        }
    };
    let route = match &probe.proxy {
        Some(p) => format!("through the proxy {p}"),
        None => "directly, no proxy for this host".into(),
    };
    out.push(Finding::Ok(format!(
        "{host} is reachable (HTTP {} in {} ms, {route})",
        probe.status,
        probe.elapsed.as_millis()
    )));
    out.push(clock_finding(
        host,
        probe.date.as_deref(),
        SystemClock.now(),
    ));
    true
}

/// The local clock (`local`, Unix seconds) against a `Date` header.
fn clock_finding(host: &str, date: Option<&str>, local: u64) -> Finding {
    let Some(date) = date else {
        return Finding::Skipped(format!(
            "the clock: {host} sent no Date header to compare with"
        ));
    };
    let Some(theirs) = parse_http_date(date) else {
        return Finding::Skipped(format!(
            "the clock: the Date header of {host} ('{}') is not an HTTP date",
            ooauth2::error::one_line(&date.chars().take(60).collect::<String>())
        ));
    };
    let skew = local.abs_diff(theirs);
    if skew <= MAX_CLOCK_SKEW {
        return Finding::Ok(format!(
            "the clock agrees with {host} ({skew} s apart; up to {MAX_CLOCK_SKEW} s is fine)"
        ));
    }
    let way = if local > theirs { "fast" } else { "slow" };
    Finding::Problem(
        format!(
            "the clock is {skew} s {way} (compared with the Date header of {host}); \
             certificate and token lifetime checks assume a correct clock"
        ),
        "enable time sync (timedatectl set-ntp true), or set the time (e.g. chronyc makestep)"
            .into(),
    )
}

/// Whether the app registration allows the account's grants: a refresh
/// when it has a refresh token, else a device authorization and one poll.
fn registration(engine: &mut Engine, t: &Target, now: u64) -> Finding {
    if let Some(rec) = t.rec.as_ref().filter(|r| r.has_refresh_token()) {
        return refresh(engine, t, rec, now);
    }
    if t.req.flow() == Flow::Device && t.req.endpoints().device.is_some() {
        return match engine.check_device(&t.req) {
            Ok(()) => Finding::Ok(format!(
                "{}: the app registration allows the device flow (a device \
                 authorization was granted and the provider waits for a sign-in)",
                t.label
            )),
            Err(e) => refusal(&e, t, "device authorization", now),
        };
    }
    Finding::Skipped(format!(
        "{}: the app registration check ({} signs in with a browser, so there is \
         nothing to ask without you; `ooauth2 login` shows the provider's answer)",
        t.label,
        t.req.provider().name()
    ))
}

/// Whether the provider accepts the stored refresh token, through the
/// engine (which stores what a refresh returns, as any refresh does).
fn refresh(engine: &mut Engine, t: &Target, rec: &Record, now: u64) -> Finding {
    let label = &t.label;
    if t.req.provider() == Provider::Google
        && t.req.client_secret().is_none()
        && t.req.client_secret_cmd().is_none()
    {
        // Google refuses a refresh without the secret whatever the
        // registration says, so the answer would tell nothing.
        return Finding::Skipped(format!(
            "{label}: the refresh check (Google wants the client secret: give doctor \
             --client-secret-cmd, or the account a client_secret_cmd in the config file)"
        ));
    }
    match engine.check_refresh(&t.req, &rec.user) {
        Ok(RefreshCheck::Refreshed { rotated }) => Finding::Ok(format!(
            "{label}: the provider accepted the refresh token (a new access token{} was \
             stored): the app registration allows it",
            if rotated {
                " and the rotated refresh token"
            } else {
                ""
            }
        )),
        Ok(RefreshCheck::NoRefreshToken) => Finding::Skipped(format!(
            "{label}: the refresh check (the refresh token was erased meanwhile)"
        )),
        Ok(RefreshCheck::Refused(e)) => refusal(&e, t, "refresh", now),
        Err(e) => problem_of(&e, "check the store directory"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_skew_beyond_five_minutes_is_a_problem() {
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        let theirs = 784_111_777;
        assert!(!clock_finding("h", Some(date), theirs + MAX_CLOCK_SKEW).is_problem());
        let fast = clock_finding("h", Some(date), theirs + 600).to_string();
        assert!(
            fast.starts_with("problem: the clock is 600 s fast"),
            "{fast}"
        );
        assert!(fast.contains("-> enable time sync (timedatectl set-ntp true)"));
        let slow = clock_finding("h", Some(date), theirs - 301).to_string();
        assert!(
            slow.starts_with("problem: the clock is 301 s slow"),
            "{slow}"
        );
        assert!(matches!(clock_finding("h", None, 0), Finding::Skipped(_)));
        assert!(matches!(
            clock_finding("h", Some("yesterday"), 0),
            Finding::Skipped(_)
        ));
    }
}
