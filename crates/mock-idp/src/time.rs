//! The dates the mock writes: Microsoft's timestamps in error descriptions
//! and the HTTP `Date` header, from a small civil-calendar conversion (no
//! date crate, so the mock shares no date code with the client).

use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Year, month, day and second of the day of a Unix time (Howard Hinnant's
/// days-from-civil, inverted).
fn civil(unix: u64) -> (i64, u32, u32, u64) {
    let days = (unix / 86400) as i64;
    let secs = unix % 86400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, secs)
}

/// `2026-11-28 10:00:00Z`, as in Microsoft error descriptions.
pub(crate) fn ms_time(unix: u64) -> String {
    let (y, m, d, s) = civil(unix);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// `2026-11-28T10:00:00Z`
pub(crate) fn iso_time(unix: u64) -> String {
    ms_time(unix).replacen(' ', "T", 1)
}

/// `Sat, 28 Nov 2026 10:00:00 GMT` (RFC 9110 §5.6.7, IMF-fixdate).
pub(crate) fn http_date(unix: u64) -> String {
    let (y, m, d, s) = civil(unix);
    let days = unix / 86_400;
    // 1970-01-01 was a Thursday.
    let wday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m - 1) as usize];
    format!(
        "{wday}, {d:02} {month} {y:04} {:02}:{:02}:{:02} GMT",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}
