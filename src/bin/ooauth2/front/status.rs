//! `ooauth2 status`: the configured and stored accounts, as a table for
//! people or JSON for scripts. Never reads a secret.

use crate::args::StatusArgs;
use crate::context::Context;
use crate::output::print_stdout;
use ooauth2::config::{self, Named};
use ooauth2::error::Result;
use ooauth2::provider::{self, Provider};
use ooauth2::request::{Raw, Request};
use ooauth2::store::{Record, Store};
use ooauth2::time::{Clock, SystemClock, utc};
use std::path::PathBuf;

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
    state: &'static str,
}

impl StatusRow {
    /// A configured account with nothing stored.
    fn unstored(name: &str, req: Option<&Request>, state: &'static str) -> StatusRow {
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
            state,
        }
    }

    /// A stored record; `name` is its configured name, if any.
    fn stored(name: Option<&str>, r: Record) -> StatusRow {
        let state = if r.needs_login.is_some() || r.refresh_token.is_none() {
            "needs sign-in"
        } else {
            "ready"
        };
        let tenant = realm_of(r.provider_preset(), &r.tenant);
        StatusRow {
            name: name.map(str::to_string),
            provider: Some(r.provider_preset().name()),
            has_refresh_token: r.refresh_token.is_some(),
            refresh_token_obtained_at: r.refresh_token.as_ref().and(r.refresh_token_obtained_at),
            expires_at: r.expires_at,
            user: Some(r.user),
            client_id: Some(r.client_id),
            tenant: Some(tenant),
            authority: Some(r.authority),
            state,
        }
    }

    /// The table's cells.
    fn cells(&self, now: u64) -> [String; 7] {
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let at = match self.expires_at {
            Some(t) if t > now => format!("expires in {} min", (t - now) / 60),
            Some(_) => "expired".into(),
            None => "none".into(),
        };
        let rt = match (self.has_refresh_token, self.refresh_token_obtained_at) {
            (true, Some(t)) => utc(t),
            (true, None) => "unknown".into(),
            (false, _) => "none".into(),
        };
        let tenant = match (&self.tenant, &self.authority) {
            (Some(t), Some(a)) => tenant_column(t, a),
            _ => "-".into(),
        };
        [
            dash(&self.name),
            dash(&self.user),
            dash(&self.client_id),
            tenant,
            at,
            rt,
            self.state.into(),
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
            "state": self.state,
        })
    }
}

/// `status`: the configured accounts first, each with its stored record if
/// there is one, then the stored accounts no config entry names.
pub fn run(ctx: &Context, args: &StatusArgs) -> Result<()> {
    let config = config::load(&ctx.settings)?;
    let store = ctx.store()?;
    let mut records = store.list()?;
    let configured = config
        .as_ref()
        .map(|c| c.accounts.as_slice())
        .unwrap_or_default();
    let now = SystemClock.now();
    let mut rows = Vec::new();
    for named in configured {
        rows.extend(configured_row(&store, &mut records, named)?);
    }
    for (path, rec) in records {
        match rec {
            Ok(r) => rows.push(StatusRow::stored(None, r)),
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
    print_stdout(&status_table(&rows, now, use_style()))
}

/// The row of a configured account, taking its record out of `records`;
/// `None` for a record that cannot be read (warned about here).
fn configured_row(
    store: &Store,
    records: &mut Vec<(PathBuf, Result<Record>)>,
    named: &Named,
) -> Result<Option<StatusRow>> {
    // Each value was checked when the file was read; only a missing
    // client_id can fail here, and status still lists the rest.
    let Ok(req) = named.request(Raw::default()) else {
        return Ok(Some(StatusRow::unstored(
            &named.name,
            None,
            "incomplete: no client_id",
        )));
    };
    let users = match req.user() {
        Some(u) => vec![u.to_string()],
        None => store.find_users(&req.account(""))?,
    };
    let stored = match users.as_slice() {
        [user] => {
            let path = store.record_path(&req.account(user));
            records
                .iter()
                .position(|(p, _)| *p == path)
                .map(|i| records.remove(i))
        }
        _ => None,
    };
    Ok(match stored {
        Some((_, Ok(r))) => Some(StatusRow::stored(Some(&named.name), r)),
        Some((path, Err(e))) => {
            eprintln!("ooauth2: warning: {} ({})", e.message, path.display());
            None
        }
        None => {
            let state = if users.len() > 1 {
                "several stored: set user"
            } else {
                "never signed in"
            };
            Some(StatusRow::unstored(&named.name, Some(&req), state))
        }
    })
}

/// Whether stdout may carry terminal styling: a terminal, and styling
/// allowed by `NO_COLOR` and `TERM` (the same rule as the sign-in screen).
fn use_style() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && crate::terminal::colour_allowed()
}

/// The aligned `status` table; with `bold`, the header line is bold.
fn status_table(rows: &[StatusRow], now: u64, bold: bool) -> String {
    let mut cells = vec![[
        "NAME".to_string(),
        "USER".into(),
        "CLIENT ID".into(),
        "TENANT".into(),
        "ACCESS TOKEN".into(),
        "REFRESH TOKEN OBTAINED".into(),
        "STATE".into(),
    ]];
    cells.extend(rows.iter().map(|r| r.cells(now)));
    let widths: Vec<usize> = (0..7)
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (n, row) in cells.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        let line = line.join("  ");
        let line = line.trim_end();
        if bold && n == 0 {
            out.push_str(&format!("\x1b[1m{line}\x1b[0m"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
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

    #[test]
    fn status_table_is_bold_only_when_asked() {
        let row = StatusRow {
            name: None,
            provider: Some("microsoft"),
            user: Some("u@x".into()),
            client_id: Some("c".into()),
            tenant: Some("common".into()),
            authority: Some(provider::DEFAULT_AUTHORITY.into()),
            expires_at: Some(1000 + 600),
            has_refresh_token: true,
            refresh_token_obtained_at: None,
            state: "ready",
        };
        let plain = status_table(std::slice::from_ref(&row), 1000, false);
        assert!(!plain.contains('\x1b'), "{plain}");
        assert!(
            plain
                .lines()
                .nth(1)
                .is_some_and(|l| l.contains("expires in 10 min"))
        );
        let bold = status_table(&[row], 1000, true);
        let lines: Vec<&str> = bold.lines().collect();
        assert!(lines[0].starts_with("\x1b[1mNAME") && lines[0].ends_with("\x1b[0m"));
        assert!(!lines[1].contains('\x1b'));
    }
}
