//! Token health: when a stored refresh token is expected to die (the
//! provider's own figure where it sent one, else its documented inactivity
//! rule), said as one plain phrase for `status`, `doctor` and `keepalive`,
//! and the once-a-day warning a `get` gives before the cliff.

use crate::store::Record;

/// A day in seconds.
pub const DAY: u64 = 86_400;

/// How close a death is for `status` and `doctor` to say so.
pub const SOON: u64 = 14 * DAY;

/// How close a death is for a `get` to warn (at most once a day).
pub const WARN_WITHIN: u64 = DAY;

/// What an expected death is known from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// The provider said when the grant ends (`refresh_token_expires_in`):
    /// use does not extend it.
    Provider,
    /// The provider's documented rule for unused tokens: any refresh
    /// extends it.
    Inactivity,
}

impl Basis {
    /// The name `status --json` gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Provider => "provider",
            Basis::Inactivity => "inactivity rule",
        }
    }
}

/// A stored refresh token's health at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// When the refresh token arrived.
    pub obtained_at: Option<u64>,
    /// When it was last used (see [`last_activity`]).
    pub last_used_at: Option<u64>,
    /// When it is expected to die, and from what, where known.
    pub dies: Option<(u64, Basis)>,
    /// Whether only a new sign-in helps: no refresh token, refused, or dead.
    pub needs_sign_in: bool,
    /// The time it was judged at.
    now: u64,
}

impl Health {
    /// The health of `rec`'s refresh token at `now`.
    pub fn of(rec: &Record, now: u64) -> Health {
        let provider = rec.refresh_token_expires_at.map(|t| (t, Basis::Provider));
        let idle = rec
            .provider_preset()
            .refresh_token_idle_limit()
            .zip(last_activity(rec))
            .map(|(limit, since)| (since.saturating_add(limit), Basis::Inactivity));
        // The sooner of the two is the one that counts.
        let dies = match (provider, idle) {
            (Some(p), Some(i)) => Some(if i.0 < p.0 { i } else { p }),
            (p, i) => p.or(i),
        };
        let dead = dies.is_some_and(|(t, _)| t <= now);
        Health {
            obtained_at: rec.refresh_token_obtained_at,
            last_used_at: last_activity(rec),
            dies,
            needs_sign_in: !rec.has_refresh_token() || rec.needs_login.is_some() || dead,
            now,
        }
    }

    /// Seconds left before the expected death, when one is known.
    pub fn left(&self) -> Option<u64> {
        self.dies.map(|(t, _)| t.saturating_sub(self.now))
    }

    /// Whether the death is within [`SOON`] (not yet past).
    pub fn dies_soon(&self) -> bool {
        !self.needs_sign_in && self.left().is_some_and(|l| l <= SOON)
    }

    /// Whether the provider limits the grant's life whatever its use: a
    /// Google app in Testing (its fix is to publish the app).
    pub fn time_limited(&self) -> bool {
        matches!(self.dies, Some((_, Basis::Provider)))
    }

    /// The plain phrase: "renews itself", "dies in 3 days unless used",
    /// "dies in 5 days (a time-limited grant)", "needs sign-in".
    pub fn phrase(&self) -> String {
        match (self.needs_sign_in, self.dies, self.left()) {
            (true, _, _) => "needs sign-in".into(),
            (false, Some((_, Basis::Provider)), Some(left)) => {
                format!("dies {} (a time-limited grant)", within(left))
            }
            (false, Some((_, Basis::Inactivity)), Some(left)) if left <= SOON => {
                format!("dies {} unless used", within(left))
            }
            _ => "renews itself".into(),
        }
    }
}

/// When the refresh token was last used: the record's last write (which
/// follows every grant; see `Record::updated_at`), or its arrival if that
/// is later; `None` when the provider refused it (its last write was the
/// refusal, no use).
pub fn last_activity(rec: &Record) -> Option<u64> {
    if rec.needs_login.is_some() {
        return rec.refresh_token_obtained_at;
    }
    Some(
        rec.updated_at
            .max(rec.refresh_token_obtained_at.unwrap_or(0)),
    )
}

/// "in 3 days", "in 5 hours", "in under an hour": to the nearest day from
/// a day on, else to the nearest hour (a second either way of a boundary
/// says the same).
pub fn within(secs: u64) -> String {
    if secs >= DAY {
        return match (secs + DAY / 2) / DAY {
            1 => "in 1 day".into(),
            d => format!("in {d} days"),
        };
    }
    match (secs + 1800) / 3600 {
        0 => "in under an hour".into(),
        1 => "in 1 hour".into(),
        h => format!("in {h} hours"),
    }
}

/// The warning a `get` of `rec` gives at `now`, if its refresh token dies
/// within [`WARN_WITHIN`] and none was given in the last day; `login`
/// makes the command that signs the account in again (only then: the
/// cached path pays for nothing else).
pub fn due_warning(rec: &Record, now: u64, login: impl FnOnce() -> String) -> Option<String> {
    let health = Health::of(rec, now);
    let (_, basis) = health.dies?;
    let warned_lately = rec
        .health_warned_at
        .is_some_and(|t| t <= now && now - t < DAY);
    if health.needs_sign_in || warned_lately || health.left()? > WARN_WITHIN {
        return None;
    }
    let what = format!(
        "the refresh token of {} dies {}",
        rec.user,
        within(health.left()?)
    );
    Some(match basis {
        Basis::Provider => format!("{what} (a time-limited grant); sign in again: {}", login()),
        Basis::Inactivity => format!("{what} unless used; run: ooauth2 keepalive"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Account;
    use crate::provider::Provider;

    fn record(provider: Provider, used: u64) -> Record {
        let account = Account {
            provider,
            authority: provider.default_authority().into(),
            tenant: "common".into(),
            client_id: "c".into(),
            user: "u@x".into(),
        };
        let mut rec = Record::new(&account, "s", used);
        rec.refresh_token = Some("rt".into());
        rec.refresh_token_obtained_at = Some(used);
        rec
    }

    #[test]
    fn microsoft_dies_after_90_idle_days() {
        let rec = record(Provider::Microsoft, 1000);
        let h = Health::of(&rec, 1000 + DAY);
        assert_eq!(h.phrase(), "renews itself");
        assert_eq!(h.dies, Some((1000 + 90 * DAY, Basis::Inactivity)));
        let h = Health::of(&rec, 1000 + 87 * DAY);
        assert_eq!(h.phrase(), "dies in 3 days unless used");
        assert!(h.dies_soon());
        let h = Health::of(&rec, 1000 + 90 * DAY);
        assert_eq!(h.phrase(), "needs sign-in");
    }

    #[test]
    fn the_providers_figure_wins_when_sooner() {
        let mut rec = record(Provider::Google, 1000);
        rec.refresh_token_expires_at = Some(1000 + 7 * DAY);
        let h = Health::of(&rec, 1000 + 2 * DAY);
        assert_eq!(h.phrase(), "dies in 5 days (a time-limited grant)");
        assert!(h.time_limited());
        assert_eq!(
            Health::of(&record(Provider::Fastmail, 1), 10 * 365 * DAY).phrase(),
            "renews itself"
        );
    }

    #[test]
    fn a_get_warns_once_a_day_within_a_day() {
        let mut rec = record(Provider::Google, 1000);
        rec.refresh_token_expires_at = Some(1000 + 7 * DAY);
        assert_eq!(due_warning(&rec, 1000 + 5 * DAY, || "L".into()), None);
        let now = 1000 + 7 * DAY - 5 * 3600;
        let w = due_warning(&rec, now, || "ooauth2 login g".into()).unwrap();
        assert!(
            w.contains("dies in 5 hours") && w.ends_with("ooauth2 login g"),
            "{w}"
        );
        rec.health_warned_at = Some(now);
        assert_eq!(due_warning(&rec, now + 3600, || "L".into()), None);
        rec.health_warned_at = Some(now - DAY);
        assert!(due_warning(&rec, now, || "L".into()).is_some());
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(within(59), "in under an hour");
        assert_eq!(within(3599), "in 1 hour");
        assert_eq!(within(5 * 3600 - 1), "in 5 hours");
        assert_eq!(within(DAY + 1), "in 1 day");
        assert_eq!(within(3 * DAY - 1), "in 3 days");
        assert_eq!(within(3 * DAY + 1), "in 3 days");
    }
}
