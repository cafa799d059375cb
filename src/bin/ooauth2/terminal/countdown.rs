//! The live countdown under a device sign-in screen: one line redrawn in
//! place with a carriage return (no escape sequence, so any terminal shows
//! it), only when the shown number of seconds changes; for a moment after
//! ENTER it says instead that the sign-in is not done yet.

use super::screen::Screen;
use std::time::{Duration, Instant};

/// Columns the countdown line is padded to, so a shorter text overwrites a
/// longer one without an escape sequence.
const COUNTDOWN_WIDTH: usize = 32;

/// The countdown line under the sign-in screen.
pub(super) struct Countdown {
    /// Where the line is drawn.
    screen: Screen,
    /// When the code expires.
    deadline: Instant,
    /// The line on the screen now: redrawn only when it changes.
    shown: String,
    /// A note shown in the line's place until then (after ENTER).
    note: Option<(&'static str, Instant)>,
}

impl Countdown {
    /// Draws the countdown of a code that expires in `expires_in` on `screen`.
    pub(super) fn start(screen: Screen, expires_in: Duration) -> Countdown {
        let mut countdown = Countdown {
            screen,
            deadline: Instant::now() + expires_in,
            shown: String::new(),
            note: None,
        };
        countdown.tick();
        countdown
    }

    /// Whether the line is on our stderr, where a warning would land in it.
    pub(super) fn on_stderr(&self) -> bool {
        matches!(self.screen, Screen::Stderr)
    }

    /// Shows `note` in the line's place for `shown_for`, then the countdown again.
    pub(super) fn note(&mut self, note: &'static str, shown_for: Duration) {
        self.note = Some((note, Instant::now() + shown_for));
        self.tick();
    }

    /// Redraws the line in place (a carriage return, no escape sequence).
    pub(super) fn tick(&mut self) {
        let now = Instant::now();
        let line = match self.note {
            Some((note, until)) if now < until => note.to_string(),
            _ => countdown_line(self.deadline.saturating_duration_since(now)),
        };
        if line != self.shown {
            self.screen
                .write(&format!("\r{line:<w$}", w = COUNTDOWN_WIDTH));
            self.shown = line;
        }
    }

    /// Blanks the line, leaving the cursor at its start.
    pub(super) fn clear(&mut self) {
        self.screen
            .write(&format!("\r{:w$}\r", "", w = COUNTDOWN_WIDTH));
        self.shown.clear();
    }

    /// How long until the shown number of seconds changes (just past it).
    pub(super) fn until_next_change(&self, now: Instant) -> Duration {
        let left = self.deadline.saturating_duration_since(now);
        let frac = Duration::from_nanos(u64::from(left.subsec_nanos()));
        let step = if frac.is_zero() {
            Duration::from_secs(1)
        } else {
            frac
        };
        step + Duration::from_millis(5)
    }
}

/// "code expires in 14:32", or that it expired.
fn countdown_line(left: Duration) -> String {
    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    if secs == 0 {
        return "the code has expired".to_string();
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("code expires in {h}:{m:02}:{s:02}")
    } else {
        format!("code expires in {m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdown_shows_minutes_and_seconds_rounded_up() {
        let s = Duration::from_secs;
        assert_eq!(countdown_line(s(872)), "code expires in 14:32");
        assert_eq!(
            countdown_line(Duration::from_millis(871_200)),
            "code expires in 14:32"
        );
        assert_eq!(countdown_line(s(59)), "code expires in 0:59");
        assert_eq!(countdown_line(s(3600)), "code expires in 1:00:00");
        assert_eq!(countdown_line(Duration::ZERO), "the code has expired");
        assert!(countdown_line(s(3600)).len() <= COUNTDOWN_WIDTH);
        assert!(super::super::STILL_WAITING.len() <= COUNTDOWN_WIDTH);
    }
}
