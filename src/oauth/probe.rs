//! For `ooauth2 doctor`: whether a provider's host can be reached with this
//! proxy and CA store, what its clock says (the probe sends no credential),
//! and whether the app registration allows the device flow (one device
//! authorization and one poll, as a sign-in starts).

use super::grants::{Client, Poll, poll_device, start_device};
use super::http::{Http, HttpConfig, chain, host_of, in_words, source_chain};
use crate::error::{Code, Error, Result};
use crate::provider::Endpoints;
use std::time::{Duration, Instant};

/// What one plain request to a provider's host showed.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The HTTP status; any status means the host was reached.
    pub status: u16,
    /// The `Date` header, as sent.
    pub date: Option<String>,
    /// How long the answer took.
    pub elapsed: Duration,
    /// The proxy the request went through, described for people.
    pub proxy: Option<String>,
}

impl Http {
    /// One GET of the origin of `url` through this client (the system's
    /// proxy variables, its CA store, no redirects): nothing but `/` is
    /// asked and no credential is sent. No retry: the question is whether
    /// the host answers now. A failure is an error whose hint names the
    /// likely cause: the network, the proxy, the CA store or the timeout.
    pub fn probe(&self, url: &str) -> Result<Probe> {
        let origin = reqwest::Url::parse(url)
            .ok()
            .map(|u| u.origin())
            .filter(|o| o.is_tuple())
            .map(|o| format!("{}/", o.ascii_serialization()))
            .ok_or_else(|| Error::invalid(format!("'{url}' has no host to reach")))?;
        let host = host_of(url);
        let proxy = reqwest::Url::parse(&origin)
            .ok()
            .and_then(|u| self.proxies.choose(&u))
            .map(|c| c.shown());
        let started = Instant::now();
        let sent = self.client.get(&origin).send();
        let elapsed = started.elapsed();
        match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let date = resp
                    .headers()
                    .get("date")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                self.log(|| {
                    format!(
                        "GET {origin} (reachability) -> {status} in {} ms",
                        elapsed.as_millis()
                    )
                });
                Ok(Probe {
                    status,
                    date,
                    elapsed,
                    proxy,
                })
            }
            Err(e) => {
                self.log(|| format!("GET {origin} (reachability) failed: {}", chain(&e)));
                Err(unreachable(&host, &e, proxy.as_deref(), &self.config))
            }
        }
    }
}

/// Why a host could not be reached, with the fix for that cause.
fn unreachable(host: &str, e: &reqwest::Error, proxy: Option<&str>, config: &HttpConfig) -> Error {
    let lower = source_chain(e).to_ascii_lowercase();
    // Shown: the cause in words, not the HTTP stack's layers.
    let cause = in_words(e);
    let via = proxy
        .map(|p| format!(" through the proxy {p}"))
        .unwrap_or_default();
    let (msg, hint) = if lower.contains("certificate") || lower.contains("unknownissuer") {
        (
            format!("the TLS certificate of {host} is not trusted{via}: {cause}"),
            "a TLS-inspecting proxy or firewall may be in the way: add its CA certificate to \
             the system CA store (/usr/local/share/ca-certificates, then update-ca-certificates) \
             or point SSL_CERT_FILE at a bundle holding it; check the date and time too"
                .to_string(),
        )
    } else if proxy.is_some() && (e.is_connect() || e.is_timeout()) {
        (
            format!("cannot reach {host}{via}: {cause}"),
            "check that the proxy runs and that HTTPS_PROXY (or ALL_PROXY) names it \
             correctly; unset it if this network needs no proxy (NO_PROXY lists hosts \
             reached directly)"
                .to_string(),
        )
    } else if e.is_timeout() {
        (
            format!(
                "{host} did not answer within {} s (connect: {} s)",
                config.timeout.as_secs_f32(),
                config.connect_timeout.as_secs_f32()
            ),
            "check the network: a firewall that drops packets looks like this; if this \
             network needs a proxy, set HTTPS_PROXY; OOAUTH2_CONNECT_TIMEOUT and \
             OOAUTH2_HTTP_TIMEOUT set the wait"
                .to_string(),
        )
    } else if lower.contains("tls")
        || lower.contains("handshake")
        || lower.contains("corrupt message")
    {
        (
            format!("the TLS handshake with {host} failed{via}: {cause}"),
            "something that does not speak HTTPS answered there: check the authority (its \
             host and port), and whether a captive portal or proxy is in the way"
                .to_string(),
        )
    } else {
        (
            format!("cannot reach {host}: {cause}"),
            "check the network connection, DNS and the firewall; if this network needs a \
             proxy, set HTTPS_PROXY=http://PROXY:PORT"
                .to_string(),
        )
    };
    Error::new(Code::NetworkError, msg).hint(hint)
}

/// What one device authorization and one poll said about the app
/// registration, without the user: the provider waiting for a sign-in
/// (`authorization_pending` or `slow_down`) means the registration allows
/// the flow. Neither code is shown anywhere; the sign-in it began expires
/// unused.
pub(crate) fn check_device_flow(
    http: &Http,
    endpoints: &Endpoints,
    client: &Client,
    scope: &str,
) -> Result<()> {
    let device_url = endpoints
        .device
        .as_deref()
        .ok_or_else(|| Error::invalid("this provider has no device authorization endpoint"))?;
    let auth = start_device(http, device_url, client, scope)?;
    // A token without a sign-in cannot happen; were it sent, it is dropped.
    match poll_device(http, &endpoints.token, client, &auth.device_code)? {
        Poll::Pending | Poll::SlowDown | Poll::Done(_) => Ok(()),
    }
}
