//! `ooauth2 status`: the configured and stored accounts, as a table for
//! people (fitted to the window, 80 columns in a pipe; `--wide` for every
//! column in full) or JSON for scripts, each account that needs the person
//! followed by what fixes it. Never reads a secret.

use crate::args::StatusArgs;
use crate::context::Context;
use crate::output::{minutes, print_stdout};
use ooauth2::account;
use ooauth2::config::{self, Named};
use ooauth2::error::Result;
use ooauth2::health::Health;
use ooauth2::provider::{self, Provider};
use ooauth2::request::{Raw, Request};
use ooauth2::secret::SecretStore;
use ooauth2::store::{Record, Store};
use ooauth2::time::{Clock, SystemClock, utc};
use std::path::{Path, PathBuf};

/// One account as `status` shows it; never holds a secret.
struct StatusRow {
    /// Its configured name, if it is one of the config file's accounts.
    name: Option<String>,
    /// The provider preset's name, when known.
    provider: Option<&'static str>,
    user: Option<String>,
    client_id: Option<String>,
    tenant: Option<String>,
    authority: Option<String>,
    /// When the cached access token expires (Unix seconds).
    expires_at: Option<u64>,
    /// Whether a refresh token is stored (its value is never read here).
    has_refresh_token: bool,
    refresh_token_obtained_at: Option<u64>,
    /// Where the refresh token rests (`file`, `command (sealed)`, ...).
    secret_store: &'static str,
    /// The stored refresh token's health, for a stored account.
    health: Option<Health>,
    state: String,
    /// What the person does to make the account ready, when it is not.
    fix: Option<String>,
}

impl StatusRow {
    /// A configured account with nothing stored; `fix` says what makes it ready.
    fn unstored(name: &str, req: Option<&Request>, state: &str, fix: String) -> StatusRow {
        StatusRow {
            name: Some(name.to_string()),
            provider: req.map(|r| r.provider().name()),
            user: req.and_then(|r| r.user().map(str::to_string)),
            client_id: req.and_then(|r| r.client_id().map(str::to_string)),
            tenant: req.map(|r| realm_of(r.provider(), r.tenant())),
            authority: req.map(|r| r.authority().to_string()),
            expires_at: None,
            has_refresh_token: false,
            refresh_token_obtained_at: None,
            secret_store: req
                .and_then(Request::secret_store)
                .map_or("file", SecretStore::name),
            health: None,
            state: state.to_string(),
            fix: Some(fix),
        }
    }

    /// A stored record; `name` is its configured name, if any.
    /// `wanted`: the account's secret_store, if it names one.
    fn stored(name: Option<&str>, r: Record, wanted: Option<&SecretStore>, now: u64) -> StatusRow {
        let health = Health::of(&r, now);
        let ready = !health.needs_sign_in;
        let state = if ready { "ready" } else { "needs sign-in" }.to_string();
        let fix = (!ready).then(|| format!("to sign in again: {}", login_of(name, &r)));
        let tenant = realm_of(r.provider_preset(), &r.tenant);
        StatusRow {
            fix,
            name: name.map(str::to_string),
            provider: Some(r.provider_preset().name()),
            has_refresh_token: r.has_refresh_token(),
            refresh_token_obtained_at: r
                .has_refresh_token()
                .then_some(r.refresh_token_obtained_at)
                .flatten(),
            secret_store: r.refresh_token_rests(wanted),
            health: Some(health),
            expires_at: r.expires_at,
            user: Some(r.user),
            client_id: Some(r.client_id),
            tenant: Some(tenant),
            authority: Some(r.authority),
            state,
        }
    }

    /// The cells of `--wide`: every column, each value in full.
    fn wide_cells(&self, now: u64) -> Vec<String> {
        let at = match self.expires_at {
            Some(t) if t > now => format!("expires in {}", minutes(t - now)),
            Some(_) => "expired".into(),
            None => "none".into(),
        };
        let rt = match (self.has_refresh_token, self.refresh_token_obtained_at) {
            (true, Some(t)) => utc(t),
            (true, None) => "unknown".into(),
            (false, _) => "none".into(),
        };
        // Today's column for a file account; another store says so.
        let rt = match self.secret_store {
            "file" => rt,
            store => format!("{rt}, {store}"),
        };
        let tenant = match (&self.tenant, &self.authority) {
            (Some(t), Some(a)) => tenant_column(t, a),
            _ => "-".into(),
        };
        vec![
            dash(&self.name),
            dash(&self.user),
            dash(&self.client_id),
            tenant,
            at,
            rt,
            self.health
                .as_ref()
                .map_or_else(|| "-".into(), health_details),
            self.shown_state(),
        ]
    }

    /// The STATE cell: a ready account's health phrase ("renews itself",
    /// "dies in 3 days unless used"), else the state.
    fn shown_state(&self) -> String {
        match &self.health {
            Some(h) if self.state == "ready" => h.phrase(),
            _ => self.state.clone(),
        }
    }

    /// The cells of the default table: who, which app registration (its
    /// client id shortened), which tenant, and the state.
    fn narrow_cells(&self) -> Vec<String> {
        vec![
            dash(&self.name),
            dash(&self.user),
            self.client_id
                .as_deref()
                .map_or_else(|| "-".into(), |c| clip(c, CLIENT_ID_SHOWN + 1)),
            dash(&self.tenant),
            // "several stored: set user" as "several stored": the line
            // under the row says what to do.
            self.shown_state()
                .split(':')
                .next()
                .unwrap_or_default()
                .into(),
        ]
    }

    /// The `--json` object: the same facts, times as Unix seconds.
    fn json(&self, now: u64) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "provider": self.provider,
            "user": self.user,
            "client_id": self.client_id,
            "tenant": self.tenant,
            "authority": self.authority,
            "access_token_expires_at": self.expires_at,
            "expires_in": self.expires_at.map(|t| t.saturating_sub(now)),
            "refresh_token_obtained_at": self.refresh_token_obtained_at,
            "secret_store": self.secret_store,
            "state": self.state,
            "health": self.health.as_ref().map(|h| serde_json::json!({
                "phrase": h.phrase(),
                "refresh_token_obtained_at": h.obtained_at,
                "refresh_token_last_used_at": h.last_used_at,
                "expected_death_at": h.dies.map(|(t, _)| t),
                "expected_death_source": h.dies.map(|(_, b)| b.as_str()),
            })),
            "fix": self.fix,
        })
    }
}

/// `status`: the configured accounts first, each with its stored record if
/// there is one, then the stored accounts no config entry names.
pub fn run(ctx: &Context, args: &StatusArgs) -> Result<()> {
    let config = config::load(&ctx.settings)?;
    let configured = config
        .as_ref()
        .map(|c| c.accounts.as_slice())
        .unwrap_or_default();
    let store = ctx.store()?;
    let mut records = store.list()?;
    let config_path = ctx.settings.config_path()?;
    let now = SystemClock.now();
    let mut rows = Vec::new();
    for named in configured {
        rows.extend(configured_row(
            &store,
            &mut records,
            named,
            &config_path,
            now,
        )?);
    }
    for (path, rec) in records {
        match rec {
            Ok(r) => rows.push(StatusRow::stored(None, r, None, now)),
            Err(e) => eprintln!("ooauth2: warning: {} ({})", e.message, path.display()),
        }
    }
    if args.json {
        let all: Vec<serde_json::Value> = rows.iter().map(|r| r.json(now)).collect();
        return print_stdout(&format!("{}\n", serde_json::Value::Array(all)));
    }
    if rows.is_empty() {
        eprintln!("ooauth2: no accounts stored in {}", store.dir().display());
        return Ok(());
    }
    let layout = if args.wide {
        Layout::Wide
    } else {
        Layout::Fit(columns())
    };
    print_stdout(&status_table(&rows, now, use_style(), layout))
}

/// The row of a configured account, taking its record out of `records`;
/// `None` for a record that cannot be read (warned about here).
fn configured_row(
    store: &Store,
    records: &mut Vec<(PathBuf, Result<Record>)>,
    named: &Named,
    config_path: &Path,
    now: u64,
) -> Result<Option<StatusRow>> {
    let table = format!("[accounts.{}] in {}", named.name, config_path.display());
    // Each value was checked when the file was read; only a missing
    // client_id can fail here, and status still lists the rest.
    let Ok(req) = named.request(Raw::default()) else {
        let fix = format!("to complete it: add client_id = \"...\" to {table}");
        return Ok(Some(StatusRow::unstored(
            &named.name,
            None,
            "incomplete: no client_id",
            fix,
        )));
    };
    let users = users_of(store, &req)?;
    Ok(match take_record(store, records, &req, &users) {
        Some((_, Ok(r))) => Some(StatusRow::stored(
            Some(&named.name),
            r,
            req.secret_store(),
            now,
        )),
        Some((path, Err(e))) => {
            eprintln!("ooauth2: warning: {} ({})", e.message, path.display());
            None
        }
        None if users.len() > 1 => {
            let fix = format!("to choose one: add user = \"...\" to {table}");
            Some(StatusRow::unstored(
                &named.name,
                Some(&req),
                "several stored: set user",
                fix,
            ))
        }
        None => {
            let fix = format!(
                "to sign in: {}",
                req.login_command(req.user().unwrap_or_default())
            );
            Some(StatusRow::unstored(
                &named.name,
                Some(&req),
                "never signed in",
                fix,
            ))
        }
    })
}

/// The users a configured account's request means: its `user`, else every
/// stored one of its client id and realm.
pub(super) fn users_of(store: &Store, req: &Request) -> Result<Vec<String>> {
    match req.user() {
        Some(u) => Ok(vec![u.to_string()]),
        None => store.find_users(&req.account("")),
    }
}

/// The record of the one user `users` names, taken out of `records`;
/// `None` for none or several users, or nothing stored.
pub(super) fn take_record(
    store: &Store,
    records: &mut Vec<(PathBuf, Result<Record>)>,
    req: &Request,
    users: &[String],
) -> Option<(PathBuf, Result<Record>)> {
    let [user] = users else {
        return None;
    };
    let path = store.record_path(&req.account(user));
    let i = records.iter().position(|(p, _)| *p == path)?;
    Some(records.remove(i))
}

/// The command that signs the account of `r` in again: by its configured
/// name, else with the flags its record gives (a generic provider's
/// endpoints too).
fn login_of(name: Option<&str>, r: &Record) -> String {
    if name.is_some() {
        return account::login_command(name, &r.account());
    }
    match Request::validate(r.raw()) {
        Ok(req) => req.login_command(&r.user),
        Err(_) => account::login_command(None, &r.account()),
    }
}

/// The `--wide` HEALTH cell: when the refresh token was last used, and
/// when it is expected to die and from what.
fn health_details(h: &Health) -> String {
    let used = h
        .last_used_at
        .map_or_else(|| "use unknown".to_string(), |t| format!("used {}", utc(t)));
    match h.dies {
        Some((t, basis)) => format!("{used}, dies {} ({})", utc(t), basis.as_str()),
        None => used,
    }
}

/// Whether stdout may carry terminal styling: a terminal, and styling
/// allowed by `NO_COLOR` and `TERM` (the same rule as the sign-in screen).
fn use_style() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && crate::terminal::colour_allowed()
}

/// How the table is laid out.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// Five columns fitted to this many columns (values clipped with "…").
    Fit(usize),
    /// Every column, every value in full (`--wide`).
    Wide,
}

/// Columns a table fits in a pipe, or when the terminal's width is unknown.
const DEFAULT_COLUMNS: usize = 80;

/// Characters of a client id the default table shows (a GUID's first group).
const CLIENT_ID_SHOWN: usize = 8;

/// Space between two columns.
const GAP: usize = 2;

/// The width the table fits: the terminal's when stdout is one, else 80.
fn columns() -> usize {
    use std::io::IsTerminal;
    let out = std::io::stdout();
    if !out.is_terminal() {
        return DEFAULT_COLUMNS;
    }
    terminal_size::terminal_size_of(std::os::fd::AsFd::as_fd(&out))
        .map_or(DEFAULT_COLUMNS, |(w, _)| usize::from(w.0))
}

/// The aligned `status` table in `layout`, each row that needs the person
/// followed by what fixes it; with `bold`, the header line is bold.
fn status_table(rows: &[StatusRow], now: u64, bold: bool, layout: Layout) -> String {
    let header: &[&str] = match layout {
        Layout::Wide => &[
            "NAME",
            "USER",
            "CLIENT ID",
            "TENANT",
            "ACCESS TOKEN",
            "REFRESH TOKEN OBTAINED",
            "HEALTH",
            "STATE",
        ],
        Layout::Fit(_) => &["NAME", "USER", "CLIENT ID", "TENANT", "STATE"],
    };
    let mut cells = vec![header.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
    cells.extend(rows.iter().map(|r| match layout {
        Layout::Wide => r.wide_cells(now),
        Layout::Fit(_) => r.narrow_cells(),
    }));
    let mut widths: Vec<usize> = (0..header.len())
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    if let Layout::Fit(budget) = layout {
        fit(&mut widths, budget);
    }
    let mut out = String::new();
    for (n, row) in cells.iter().enumerate() {
        let line = aligned(row, &widths);
        if bold && n == 0 {
            out.push_str(&format!("\x1b[1m{line}\x1b[0m\n"));
        } else {
            out.push_str(&format!("{line}\n"));
        }
        if let Some(fix) = n.checked_sub(1).and_then(|i| rows[i].fix.as_deref()) {
            out.push_str(&format!("  {fix}\n"));
        }
    }
    out
}

/// One line of the table: each cell clipped to its column's width and
/// padded, trailing blanks dropped.
fn aligned(row: &[String], widths: &[usize]) -> String {
    let cells: Vec<String> = row
        .iter()
        .zip(widths)
        .map(|(c, &w)| format!("{:<w$}", clip(c, w)))
        .collect();
    cells.join(&" ".repeat(GAP)).trim_end().to_string()
}

/// Narrows the default table's NAME (column 0), USER (1) and TENANT (3)
/// until the row fits `budget`: first down to widths that still read well
/// (the address keeping the most), then to the least that says anything.
/// Each step takes one character from the column with the most to spare.
fn fit(widths: &mut [usize], budget: usize) {
    const SOFT: [(usize, usize); 3] = [(0, 12), (1, 24), (3, 16)];
    const HARD: [(usize, usize); 3] = [(0, 6), (1, 12), (3, 6)];
    for floors in [SOFT, HARD] {
        loop {
            let total = widths.iter().sum::<usize>() + GAP * widths.len().saturating_sub(1);
            if total <= budget {
                return;
            }
            let spare = floors
                .iter()
                .filter(|&&(i, floor)| widths[i] > floor)
                .max_by_key(|&&(i, floor)| widths[i] - floor);
            match spare {
                Some(&(i, _)) => widths[i] -= 1,
                None => break,
            }
        }
    }
}

/// `text` in at most `width` characters, "…" marking a cut.
fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let kept: String = text.chars().take(width.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// A cell's value, or "-".
fn dash(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "-".into())
}

/// The TENANT column: Microsoft's tenant, or the name of another provider.
fn realm_of(provider: Provider, tenant: &str) -> String {
    if provider.is_microsoft() {
        tenant.to_string()
    } else {
        provider.name().to_string()
    }
}

/// The tenant, with the authority when it is not Microsoft's public cloud.
fn tenant_column(tenant: &str, authority: &str) -> String {
    if authority == provider::DEFAULT_AUTHORITY {
        tenant.to_string()
    } else {
        format!("{tenant} ({authority})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(user: &str, tenant: &str, state: &'static str) -> StatusRow {
        StatusRow {
            name: None,
            provider: Some("microsoft"),
            user: Some(user.into()),
            client_id: Some("9e5f94bc-e8a4-4e73-b8be-63364c29d753".into()),
            tenant: Some(tenant.into()),
            authority: Some(provider::DEFAULT_AUTHORITY.into()),
            expires_at: Some(1000 + 600),
            has_refresh_token: true,
            refresh_token_obtained_at: None,
            secret_store: "file",
            health: None,
            state: state.into(),
            fix: None,
        }
    }

    #[test]
    fn a_token_about_to_expire_never_says_zero_minutes() {
        let mut row = row("u@x", "common", "ready");
        row.expires_at = Some(1000 + 30);
        let wide = status_table(&[row], 1000, false, Layout::Wide);
        assert!(wide.contains("expires in under a minute"), "{wide}");
    }

    #[test]
    fn status_table_is_bold_only_when_asked() {
        let row = row("u@x", "common", "ready");
        let plain = status_table(std::slice::from_ref(&row), 1000, false, Layout::Wide);
        assert!(!plain.contains('\x1b'), "{plain}");
        assert!(
            plain
                .lines()
                .nth(1)
                .is_some_and(|l| l.contains("expires in 10 minutes"))
        );
        let bold = status_table(&[row], 1000, true, Layout::Fit(80));
        let lines: Vec<&str> = bold.lines().collect();
        assert!(lines[0].starts_with("\x1b[1mNAME") && lines[0].ends_with("\x1b[0m"));
        assert!(!lines[1].contains('\x1b'));
    }

    #[test]
    fn the_default_table_fits_its_width_and_keeps_the_address_longest() {
        let long = "firstname.lastname@subsidiary.contoso.onmicrosoft.com";
        let rows = [
            row(
                long,
                "subsidiary.contoso.onmicrosoft.com",
                "never signed in",
            ),
            row("me@example.com", "common", "ready"),
        ];
        for budget in [80, 60] {
            let table = status_table(&rows, 1000, false, Layout::Fit(budget));
            for line in table.lines() {
                assert!(line.chars().count() <= budget, "{budget}: {line:?}");
            }
            assert!(table.contains("9e5f94bc…  "), "{table}");
            assert!(table.contains("me@example.com"), "{table}");
        }
        let table = status_table(&rows, 1000, false, Layout::Fit(80));
        let first = table.lines().nth(1).unwrap_or_default();
        assert!(first.contains("firstname.lastname@subsid…  "), "{table}");
        assert!(first.contains("subsidiary.contos…  "), "{table}");
        // Nothing is cut when the window has room.
        let table = status_table(&rows, 1000, false, Layout::Fit(200));
        assert!(table.contains(long), "{table}");
    }

    #[test]
    fn clipping_marks_the_cut() {
        assert_eq!(clip("abcdef", 6), "abcdef");
        assert_eq!(clip("abcdefg", 6), "abcde…");
        assert_eq!(clip("é€x", 2), "é…");
    }
}
