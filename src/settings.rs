//! Every `OOAUTH2_*` knob and XDG path, read from the environment once per
//! run (in `Settings::from_env`) and parsed where it is used, so a bad
//! value fails only the commands that need it, with the variable's name
//! (every engine knob is checked whenever an engine is built). A path must
//! be absolute: a relative one would make the store or the config file
//! depend on the current directory.

use crate::error::{Code, Error, Result};
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
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

/// The home directory the XDG paths default to.
const HOME_ENV: &str = "HOME";
/// The base of the config file's default path.
const XDG_CONFIG_ENV: &str = "XDG_CONFIG_HOME";
/// The base of the store's default path.
const XDG_DATA_ENV: &str = "XDG_DATA_HOME";

/// The environment as ooauth2 reads it.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    config: Option<OsString>,
    store: Option<OsString>,
    /// The XDG config and data directories (`None` without a home).
    xdg: Option<(PathBuf, PathBuf)>,
    /// `$HOME`, `$XDG_CONFIG_HOME` and `$XDG_DATA_HOME` as set (not empty),
    /// the variables the XDG directories come from.
    home: Option<OsString>,
    xdg_config: Option<OsString>,
    xdg_data: Option<OsString>,
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
            home: path(HOME_ENV),
            xdg_config: path(XDG_CONFIG_ENV),
            xdg_data: path(XDG_DATA_ENV),
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
            return absolute(CONFIG_ENV, p, CONFIG_FILE);
        }
        self.xdg_base_is_absolute(XDG_CONFIG_ENV, self.xdg_config.as_deref(), CONFIG_FILE)?;
        match &self.xdg {
            Some((config, _)) => absolute(
                XDG_CONFIG_ENV,
                config.join("config.toml").as_os_str(),
                CONFIG_FILE,
            ),
            None => Err(
                Error::invalid("cannot find a home directory for the config file")
                    .hint(format!("set HOME, XDG_CONFIG_HOME or {CONFIG_ENV}")),
            ),
        }
    }

    /// Whether `$OOAUTH2_CONFIG` names the config file (programs that read
    /// it then need the variable too).
    pub fn config_from_env(&self) -> bool {
        self.config.is_some()
    }

    /// The store directory: `$OOAUTH2_STORE_DIR`, else `$XDG_DATA_HOME/ooauth2`.
    pub(crate) fn store_dir(&self) -> Result<PathBuf> {
        if let Some(d) = &self.store {
            return absolute(STORE_ENV, d, STORE);
        }
        self.xdg_base_is_absolute(XDG_DATA_ENV, self.xdg_data.as_deref(), STORE)?;
        match &self.xdg {
            Some((_, data)) => absolute(XDG_DATA_ENV, data.as_os_str(), STORE),
            None => Err(Error::new(
                Code::StoreError,
                "cannot find a home directory for the store",
            )
            .hint(format!("set HOME, XDG_DATA_HOME or {STORE_ENV}"))),
        }
    }

    /// Refuses a relative XDG base (`name` set to `value`), or, when it is
    /// unset, a relative `$HOME` (the base it defaults to); `what` is
    /// the path built on it.
    fn xdg_base_is_absolute(&self, name: &str, value: Option<&OsStr>, what: &str) -> Result<()> {
        match (value, &self.home) {
            (Some(v), _) => absolute(name, v, what).map(drop),
            (None, Some(home)) => absolute(HOME_ENV, home, what).map(drop),
            (None, None) => Ok(()),
        }
    }

    /// The wait for an account's lock (default 60 s).
    pub(crate) fn lock_timeout(&self) -> Result<Duration> {
        seconds(
            LOCK_TIMEOUT_ENV,
            self.lock_timeout.as_deref(),
            LOCK_TIMEOUT_DEFAULT,
        )
    }

    /// The limit on one HTTP request or mail server answer (default 30 s).
    pub fn http_timeout(&self) -> Result<Duration> {
        seconds(
            HTTP_TIMEOUT_ENV,
            self.http_timeout.as_deref(),
            HTTP_TIMEOUT_DEFAULT,
        )
    }

    /// The limit on opening a connection (default 10 s).
    pub fn connect_timeout(&self) -> Result<Duration> {
        seconds(
            CONNECT_TIMEOUT_ENV,
            self.connect_timeout.as_deref(),
            CONNECT_TIMEOUT_DEFAULT,
        )
    }

    /// The limit on a `client_secret_cmd` (default 120 s).
    pub fn secret_cmd_timeout(&self) -> Result<Duration> {
        seconds(
            SECRET_CMD_TIMEOUT_ENV,
            self.secret_cmd_timeout.as_deref(),
            SECRET_CMD_TIMEOUT_DEFAULT,
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

/// Seconds of [`Settings::lock_timeout`] when the variable is unset.
const LOCK_TIMEOUT_DEFAULT: f64 = 60.0;
/// Seconds of [`Settings::http_timeout`] when the variable is unset.
const HTTP_TIMEOUT_DEFAULT: f64 = 30.0;
/// Seconds of [`Settings::connect_timeout`] when the variable is unset.
const CONNECT_TIMEOUT_DEFAULT: f64 = 10.0;
/// Seconds of [`Settings::secret_cmd_timeout`] when the variable is unset.
const SECRET_CMD_TIMEOUT_DEFAULT: f64 = 120.0;

/// Every variable read here, with what it does: the man page's ENVIRONMENT,
/// next to the names and defaults it describes.
pub fn variables() -> Vec<(&'static str, String)> {
    vec![
        (
            CONFIG_ENV,
            format!("The config file, instead of ${XDG_CONFIG_ENV}/ooauth2/config.toml."),
        ),
        (
            STORE_ENV,
            format!("The store directory, instead of ${XDG_DATA_ENV}/ooauth2."),
        ),
        (
            LOCK_TIMEOUT_ENV,
            format!(
                "Seconds to wait for another process's lock on an account (default {LOCK_TIMEOUT_DEFAULT})."
            ),
        ),
        (
            HTTP_TIMEOUT_ENV,
            format!(
                "Seconds one HTTP request, or one answer of a mail server, may take (default {HTTP_TIMEOUT_DEFAULT})."
            ),
        ),
        (
            CONNECT_TIMEOUT_ENV,
            format!("Seconds a connection may take to open (default {CONNECT_TIMEOUT_DEFAULT})."),
        ),
        (
            SECRET_CMD_TIMEOUT_ENV,
            format!(
                "Seconds a client_secret_cmd may run before it is stopped (default {SECRET_CMD_TIMEOUT_DEFAULT})."
            ),
        ),
        (
            NOTIFY_ENV,
            "The notify_cmd of accounts without one: a command told the sign-in page and code \
             when no terminal can show them."
                .to_string(),
        ),
        (
            NOTIFY_SEND_ENV,
            "0 (or false, no, off): no notify-send fallback when no terminal can show a sign-in."
                .to_string(),
        ),
        (
            XDG_CONFIG_ENV,
            format!("The base of the config file's default path (default ${HOME_ENV}/.config)."),
        ),
        (
            XDG_DATA_ENV,
            format!("The base of the store's default path (default ${HOME_ENV}/.local/share)."),
        ),
        (
            HOME_ENV,
            "The home directory the XDG paths default to.".to_string(),
        ),
    ]
}

/// What a relative store path would move.
const STORE: &str = "the store";
/// What a relative config path would move.
const CONFIG_FILE: &str = "the config file";

/// The path `value` of the variable `name` (the base of `what`), refused
/// when it is relative: resolved against the current directory, the store
/// (or the config file) would move with every `cd`, so a mail client
/// started elsewhere would not find it, or would write tokens where it
/// happens to run.
fn absolute(name: &str, value: &OsStr, what: &str) -> Result<PathBuf> {
    let path = Path::new(value);
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    Err(Error::invalid(format!(
        "{name} is a relative path ('{}'): {what} would depend on the current directory",
        crate::error::shown(&path.to_string_lossy())
    ))
    .hint(format!(
        "set {name} to an absolute path (one that starts with /)"
    )))
}

/// The effective user id of this process, from `/proc/self/status`
/// (Linux; `None` without `/proc`): the owner the store directory and the
/// config file's directory must have.
pub fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uids = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    // Real, effective, saved and filesystem uid, in that order.
    uids.split_whitespace().nth(1)?.parse().ok()
}

/// The effective user id of this process when `owner` is not it; `None`
/// when it is (or, without `/proc`, cannot be told).
pub fn not_me(owner: u32) -> Option<u32> {
    // One stat on the cached path: /proc/self belongs to the effective uid,
    // or to root when the process is not dumpable (and root is trusted).
    if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == owner) {
        return None;
    }
    effective_uid().filter(|me| *me != owner)
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

    #[test]
    fn relative_paths_are_refused_with_the_variable_named() {
        let xdg = Some((PathBuf::from("/h/.config/ooauth2"), PathBuf::from("/h/d")));
        let s = Settings {
            store: Some("rel".into()),
            config: Some("c.toml".into()),
            ..Settings::default()
        };
        let e = s.store_dir().unwrap_err();
        assert_eq!(e.code, Code::InvalidRequest);
        assert!(
            e.message
                .starts_with("OOAUTH2_STORE_DIR is a relative path ('rel'): the store")
        );
        assert!(s.config_path().unwrap_err().message.contains(CONFIG_ENV));
        let home = Settings {
            home: Some("h".into()),
            xdg: xdg.clone(),
            ..Settings::default()
        };
        assert!(home.store_dir().unwrap_err().message.starts_with("HOME "));
        // An absolute XDG base does not depend on HOME.
        let data = Settings {
            xdg_data: Some("/d".into()),
            xdg_config: Some("c".into()),
            ..home
        };
        assert_eq!(data.store_dir().unwrap(), PathBuf::from("/h/d"));
        let e = data.config_path().unwrap_err();
        assert!(e.message.starts_with("XDG_CONFIG_HOME "), "{e:?}");
    }

    #[test]
    fn the_effective_uid_is_the_owner_of_what_this_process_creates() {
        let path = std::env::temp_dir().join(format!("ooauth2-uid-{}", std::process::id()));
        std::fs::write(&path, b"").unwrap();
        let owner = std::fs::metadata(&path).unwrap().uid();
        let _ = std::fs::remove_file(&path);
        assert_eq!(effective_uid(), Some(owner));
        assert_eq!(not_me(owner), None);
        let other = if owner == 0 { 65534 } else { 0 };
        assert_eq!(not_me(other), Some(owner));
    }
}
