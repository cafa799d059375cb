//! What the mock remembers: its settings, the device codes, authorization
//! codes, refresh and access tokens it issued, queued faults, and the log of
//! every request (the one source of every count).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::doctor::DoctorModes;
use crate::http::Request;
use crate::ids::URL_SAFE_CHARS;
use crate::rng::Rng;
use crate::time::unix_now;
use crate::{AuthorizeMode, DeviceScript, DiscoveryMode, Fault, Recorded};

/// A device code from the device authorization endpoint.
pub(crate) struct DeviceEntry {
    pub(crate) client_id: String,
    pub(crate) scope: String,
    pub(crate) created: Instant,
    pub(crate) expires_in: u64,
    pub(crate) script: DeviceScript,
    pub(crate) polls: u64,
    pub(crate) consumed: bool,
}

/// An authorization code from the authorize endpoint.
pub(crate) struct CodeEntry {
    pub(crate) user: String,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) challenge: String,
    pub(crate) scope: String,
    pub(crate) created: Instant,
    pub(crate) redeemed: bool,
    /// Whether the exchange returns a refresh token (Microsoft: when the
    /// scope holds offline_access; Google: with access_type=offline).
    pub(crate) offline: bool,
}

/// A refresh token issued, and what has happened to it since.
pub(crate) struct RtEntry {
    pub(crate) user: String,
    pub(crate) client_id: String,
    pub(crate) issued_unix: u64,
    pub(crate) revoked: bool,
    pub(crate) expired: bool,
    pub(crate) used: bool,
}

/// An access token issued, as `/introspect` describes it.
pub(crate) struct AtEntry {
    pub(crate) user: String,
    pub(crate) client_id: String,
    pub(crate) scope: String,
    pub(crate) expires_at: Instant,
    pub(crate) exp_unix: u64,
    pub(crate) expired: bool,
}

impl AtEntry {
    pub(crate) fn active(&self) -> bool {
        !self.expired && Instant::now() < self.expires_at
    }
}

/// Everything behind the one lock; see [`crate::MockIdp`] for the settings.
pub(crate) struct State {
    pub(crate) token_lifetime: u64,
    pub(crate) device_interval: u64,
    pub(crate) device_expires_in: u64,
    pub(crate) device_script: DeviceScript,
    pub(crate) device_uri_complete: bool,
    pub(crate) authorize_mode: AuthorizeMode,
    /// The next sign-in is declined (`POST /mock/decline`), then this clears.
    pub(crate) decline_next: bool,
    pub(crate) discovery_mode: DiscoveryMode,
    pub(crate) rotation: bool,
    pub(crate) strict_rotation: bool,
    pub(crate) delay_ms: u64,
    /// Extra sleep before answering a refresh grant of one user's token.
    pub(crate) user_delay_ms: HashMap<String, u64>,
    /// `refresh_token_expires_in` sent with every token answer (Google's
    /// time-limited grants), when set.
    pub(crate) rt_expires_in: Option<u64>,
    pub(crate) token_size: usize,
    pub(crate) secrets: HashMap<String, String>,
    pub(crate) faults: VecDeque<Fault>,
    pub(crate) devices: HashMap<String, DeviceEntry>,
    pub(crate) codes: HashMap<String, CodeEntry>,
    pub(crate) rts: HashMap<String, RtEntry>,
    pub(crate) ats: HashMap<String, AtEntry>,
    pub(crate) last_rt: HashMap<String, String>,
    /// Every request, in arrival order; counts are filters over it.
    pub(crate) requests: Vec<Recorded>,
    /// Numbers the tokens and codes, so that no two are alike.
    counter: u64,
    pub(crate) rng: Rng,
    /// Doctor tests: see [`crate::MockIdp::set_date_offset`] and friends.
    pub(crate) doctor: DoctorModes,
}

impl State {
    pub(crate) fn new() -> State {
        State {
            token_lifetime: 3600,
            device_interval: 0,
            device_expires_in: 900,
            device_script: DeviceScript::default(),
            device_uri_complete: true,
            authorize_mode: AuthorizeMode::Approve("me@example.com".to_string()),
            decline_next: false,
            discovery_mode: DiscoveryMode::Both,
            rotation: true,
            strict_rotation: false,
            delay_ms: 0,
            user_delay_ms: HashMap::new(),
            rt_expires_in: None,
            token_size: 0,
            secrets: HashMap::new(),
            faults: VecDeque::new(),
            devices: HashMap::new(),
            codes: HashMap::new(),
            rts: HashMap::new(),
            ats: HashMap::new(),
            last_rt: HashMap::new(),
            requests: Vec::new(),
            counter: 0,
            rng: Rng::from_clock(),
            doctor: DoctorModes::default(),
        }
    }

    /// The sleep before answering `req`: the mock's delay, plus the delay
    /// of the user whose refresh token it carries.
    pub(crate) fn delay_for(&self, req: &Request) -> u64 {
        let user = req
            .form
            .iter()
            .find(|(k, _)| k == "refresh_token")
            .and_then(|(_, rt)| self.rts.get(rt))
            .and_then(|e| self.user_delay_ms.get(&e.user));
        self.delay_ms + user.copied().unwrap_or(0)
    }

    pub(crate) fn next_counter(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// Logs `req`, whatever it is and whatever the answer will be.
    pub(crate) fn record(&mut self, req: &Request, tenant: String) {
        self.requests.push(Recorded {
            method: req.method.clone(),
            path: req.path.clone(),
            tenant,
            form: req.form.clone(),
            at: req.at,
        });
    }

    pub(crate) fn new_refresh_token(&mut self, user: &str, client_id: &str) -> String {
        let n = self.next_counter();
        let rt = format!("mockrt.{n}.{}", self.rng.string(32, URL_SAFE_CHARS));
        self.rts.insert(
            rt.clone(),
            RtEntry {
                user: user.to_string(),
                client_id: client_id.to_string(),
                issued_unix: unix_now(),
                revoked: false,
                expired: false,
                used: false,
            },
        );
        self.last_rt.insert(user.to_string(), rt.clone());
        rt
    }

    pub(crate) fn new_access_token(&mut self, user: &str, client_id: &str, scope: &str) -> String {
        let n = self.next_counter();
        let mut at = format!("mockat.{n}.{}", self.rng.string(16, URL_SAFE_CHARS));
        if at.len() < self.token_size {
            let pad = self.token_size - at.len();
            at.push_str(&self.rng.string(pad, URL_SAFE_CHARS));
        }
        self.ats.insert(
            at.clone(),
            AtEntry {
                user: user.to_string(),
                client_id: client_id.to_string(),
                scope: scope.to_string(),
                expires_at: Instant::now() + Duration::from_secs(self.token_lifetime),
                exp_unix: unix_now() + self.token_lifetime,
                expired: false,
            },
        );
        at
    }
}
