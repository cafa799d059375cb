//! Every `OOAUTH2_*` knob and XDG path, read from the environment once per
//! run (in `Settings::from_env`) and parsed where it is used, so a bad
//! value fails only the command that needs it, with the variable's name.

use crate::error::{Code, Error, Result};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// Names the config file (tests, unusual set-ups).
pub(crate) const CONFIG_ENV: &str = "OOAUTH2_CONFIG";
/// Overrides the store location.
pub(crate) const STORE_ENV: &str = "OOAUTH2_STORE_DIR";
/// How long to wait for another process's account lock (seconds).
pub(crate) const LOCK_TIMEOUT_ENV: &str = "OOAUTH2_LOCK_TIMEOUT";
/// How long one HTTP request (or mail server answer) may take (seconds).
pub(crate) const HTTP_TIMEOUT_ENV: &str = "OOAUTH2_HTTP_TIMEOUT";
/// How long a connection may take to open (seconds).
pub(crate) const CONNECT_TIMEOUT_ENV: &str = "OOAUTH2_CONNECT_TIMEOUT";
/// How long a `client_secret_cmd` may run (seconds).
pub(crate) const SECRET_CMD_TIMEOUT_ENV: &str = "OOAUTH2_SECRET_CMD_TIMEOUT";
/// A `notify_cmd` for accounts that have none.
pub(crate) const NOTIFY_ENV: &str = "OOAUTH2_NOTIFY_CMD";
/// Set to `0` (or `false`, `no`, `off`), keeps ooauth2 from falling back
/// to `notify-send`.
pub(crate) const NOTIFY_SEND_ENV: &str = "OOAUTH2_NOTIFY_SEND";

/// The environment as ooauth2 reads it.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    config: Option<OsString>,
    store: Option<OsString>,
    /// The XDG config and data directories (`None` without a home).
    xdg: Option<(PathBuf, PathBuf)>,
    lock_timeout: Option<String>,
    http_timeout: Option<String>,
    connect_timeout: Option<String>,
    secret_cmd_timeout: Option<String>,
    notify_cmd: Option<String>,
    notify_send: Option<String>,
}

impl Settings {
    /// Reads every knob from the process environment.
    pub fn from_env() -> Settings {
        let var = |name: &str| std::env::var(name).ok();
        let path = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        Settings {
            config: path(CONFIG_ENV),
            store: path(STORE_ENV),
            xdg: directories::ProjectDirs::from("", "", "ooauth2")
                .map(|d| (d.config_dir().to_path_buf(), d.data_dir().to_path_buf())),
            lock_timeout: var(LOCK_TIMEOUT_ENV),
            http_timeout: var(HTTP_TIMEOUT_ENV),
            connect_timeout: var(CONNECT_TIMEOUT_ENV),
            secret_cmd_timeout: var(SECRET_CMD_TIMEOUT_ENV),
            notify_cmd: var(NOTIFY_ENV),
            notify_send: var(NOTIFY_SEND_ENV),
        }
    }

    /// The config file: `$OOAUTH2_CONFIG`, else `$XDG_CONFIG_HOME/ooauth2/config.toml`.
    pub fn config_path(&self) -> Result<PathBuf> {
        if let Some(p) = &self.config {
            return Ok(PathBuf::from(p));
        }
        match &self.xdg {
            Some((config, _)) => Ok(config.join("config.toml")),
            None => Err(
                Error::invalid("cannot find a home directory for the config file")
                    .hint(format!("set HOME, XDG_CONFIG_HOME or {CONFIG_ENV}")),
            ),
        }
    }

    /// The store directory: `$OOAUTH2_STORE_DIR`, else `$XDG_DATA_HOME/ooauth2`.
    pub(crate) fn store_dir(&self) -> Result<PathBuf> {
        if let Some(d) = &self.store {
            return Ok(PathBuf::from(d));
        }
        match &self.xdg {
            Some((_, data)) => Ok(data.clone()),
            None => Err(Error::new(
                Code::StoreError,
                "cannot find a home directory for the store",
            )
            .hint(format!("set HOME, XDG_DATA_HOME or {STORE_ENV}"))),
        }
    }

    /// The wait for an account's lock (default 60 s).
    pub(crate) fn lock_timeout(&self) -> Result<Duration> {
        seconds(LOCK_TIMEOUT_ENV, self.lock_timeout.as_deref(), 60.0)
    }

    /// The limit on one HTTP request or mail server answer (default 30 s).
    pub fn http_timeout(&self) -> Result<Duration> {
        seconds(HTTP_TIMEOUT_ENV, self.http_timeout.as_deref(), 30.0)
    }

    /// The limit on opening a connection (default 10 s).
    pub fn connect_timeout(&self) -> Result<Duration> {
        seconds(CONNECT_TIMEOUT_ENV, self.connect_timeout.as_deref(), 10.0)
    }

    /// The limit on a `client_secret_cmd` (default 120 s).
    pub(crate) fn secret_cmd_timeout(&self) -> Result<Duration> {
        seconds(
            SECRET_CMD_TIMEOUT_ENV,
            self.secret_cmd_timeout.as_deref(),
            120.0,
        )
    }

    /// `$OOAUTH2_NOTIFY_CMD`, the notifier of accounts without a `notify_cmd`.
    pub fn notify_cmd(&self) -> Option<&str> {
        self.notify_cmd.as_deref()
    }

    /// Whether `$OOAUTH2_NOTIFY_SEND` turns the notify-send fallback off.
    pub fn notify_send_off(&self) -> bool {
        self.notify_send
            .as_deref()
            .is_some_and(|v| matches!(v.trim(), "0" | "false" | "no" | "off"))
    }
}

/// A duration in (possibly fractional) seconds, or the default when unset.
fn seconds(name: &str, value: Option<&str>, default: f64) -> Result<Duration> {
    let Some(v) = value else {
        return Ok(Duration::from_secs_f64(default));
    };
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            Error::invalid(format!(
                "{name} must be a number of seconds above 0 and at most 86400"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_checked_with_the_variable_named() {
        let s = Settings {
            lock_timeout: Some("0.5".into()),
            http_timeout: Some("abc".into()),
            connect_timeout: Some("0".into()),
            ..Settings::default()
        };
        assert_eq!(s.lock_timeout().unwrap(), Duration::from_millis(500));
        assert!(
            s.http_timeout()
                .unwrap_err()
                .message
                .contains(HTTP_TIMEOUT_ENV)
        );
        assert!(s.connect_timeout().is_err());
        assert_eq!(s.secret_cmd_timeout().unwrap(), Duration::from_secs(120));
    }

    #[test]
    fn explicit_paths_win_and_no_home_is_an_error() {
        let s = Settings {
            config: Some("/c.toml".into()),
            ..Settings::default()
        };
        assert_eq!(s.config_path().unwrap(), PathBuf::from("/c.toml"));
        assert_eq!(s.store_dir().unwrap_err().code, Code::StoreError);
        let off = Settings {
            notify_send: Some(" off ".into()),
            ..Settings::default()
        };
        assert!(off.notify_send_off() && !s.notify_send_off());
    }
}
