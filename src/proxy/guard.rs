//! Local passwords at login: the account's hash checked (argon2, one check
//! at a time: each takes 19 MiB for a few dozen ms, so a flood of logins
//! costs time, not memory), a failure answered late, later for each recent
//! failure from the same address (a LAN scanner's password is short and
//! guessable otherwise), and `local_password_cmd`s run once at start-up.

use crate::config::{Listener, LocalPassword, Served};
use crate::error::Result;
use crate::secret::Secret;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// The first failure's delay; each further one doubles it.
const FIRST_DELAY: Duration = Duration::from_millis(500);

/// The longest delay.
const MAX_DELAY: Duration = Duration::from_secs(16);

/// How long a failure counts against its address.
const WINDOW: Duration = Duration::from_secs(15 * 60);

/// Addresses remembered at most (a flood from many addresses is forgotten
/// rather than grown without bound).
const MAX_PEERS: usize = 4096;

/// One check at a time.
static CHECKING: Mutex<()> = Mutex::new(());

/// Recent failures by address: how many, and the last one's time.
static FAILURES: LazyLock<Mutex<HashMap<IpAddr, (u32, Instant)>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Runs each `local_password_cmd` of `listeners` and keeps only the hash
/// of what it printed; called once before serving.
pub fn resolve_passwords(listeners: &mut [Listener], timeout: Duration) -> Result<()> {
    for l in listeners {
        for a in &mut l.accounts {
            if let Some(LocalPassword::Command(cmd)) = &a.password {
                let password = cmd.run(timeout)?;
                a.password = Some(LocalPassword::Hash(crate::password::hash(&password)?));
            }
        }
    }
    Ok(())
}

/// Whether `password` is the local password of `account` (`None`: the
/// name picks none, and the check fails all the same, as slowly). A
/// failure is delayed, and says why for the log (never the password).
pub(super) fn check(
    l: &Listener,
    account: Option<&Served>,
    password: &Secret,
    ip: Option<IpAddr>,
) -> std::result::Result<(), String> {
    // An unknown name is checked against another account's hash: it takes
    // the same time, and fails below whatever it gives.
    let phc = account
        .or(l.accounts.first())
        .and_then(|a| match &a.password {
            Some(LocalPassword::Hash(h)) => Some(h.as_str()),
            _ => None,
        });
    let ok = {
        let _one = CHECKING.lock().unwrap_or_else(|e| e.into_inner());
        phc.is_some_and(|h| crate::password::verify(h, password))
    };
    let mut failures = FAILURES.lock().unwrap_or_else(|e| e.into_inner());
    let Some(ip) = ip else {
        return if ok && account.is_some() {
            Ok(())
        } else {
            Err("no address to count failures by".into())
        };
    };
    if ok && account.is_some() {
        failures.remove(&ip);
        return Ok(());
    }
    let now = Instant::now();
    failures.retain(|_, (_, last)| now.duration_since(*last) < WINDOW);
    if failures.len() >= MAX_PEERS {
        failures.clear();
    }
    let count = failures.entry(ip).or_insert((0, now));
    *count = (count.0 + 1, now);
    let n = count.0;
    drop(failures);
    let delay = delay(n);
    std::thread::sleep(delay);
    Err(format!(
        "failure {n} from {ip} in {} min, answered after {:.1} s",
        WINDOW.as_secs() / 60,
        delay.as_secs_f32()
    ))
}

/// The delay of the `n`th recent failure from one address.
fn delay(n: u32) -> Duration {
    FIRST_DELAY
        .saturating_mul(1 << n.saturating_sub(1).min(8))
        .min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_a_bound() {
        assert_eq!(delay(1), FIRST_DELAY);
        assert_eq!(delay(2), FIRST_DELAY * 2);
        assert_eq!(delay(6), MAX_DELAY);
        assert_eq!(delay(u32::MAX), MAX_DELAY);
    }
}
