//! The one choice of a proxy for a request, and the one way a proxy is
//! shown to people.
//!
//! The HTTP client asks [`Proxies::choose`] for every connection (the HTTP
//! library's own reading of the environment is turned off), and `doctor`
//! names the proxy it used with [`ProxyChoice::shown`], so what is done and
//! what is said cannot drift apart. The rules are the usual ones (curl's,
//! and the HTTP library's): `HTTPS_PROXY` or `HTTP_PROXY` by the scheme of
//! the request, else `ALL_PROXY`, upper case before lower case, a value
//! without a scheme taken as `http://`; hosts in `NO_PROXY` go direct; no
//! proxy at all when `REQUEST_METHOD` says this is CGI (httpoxy). One rule
//! comes first, whatever the variables say: a request to a loopback host
//! never goes through a proxy, since plain `http` is allowed only there and
//! a proxy would read a refresh token in clear text.

use crate::provider::is_loopback_host;
use reqwest::Url;
use std::net::IpAddr;
use std::sync::Arc;

/// The proxy variables as they were when the client was built.
#[derive(Debug, Clone)]
pub(crate) struct Proxies {
    /// `REQUEST_METHOD` is set: a CGI program uses no proxy.
    cgi: bool,
    /// `HTTPS_PROXY` (or `https_proxy`): its name and value.
    https: Option<(&'static str, String)>,
    /// `HTTP_PROXY` (or `http_proxy`).
    http: Option<(&'static str, String)>,
    /// `ALL_PROXY` (or `all_proxy`).
    all: Option<(&'static str, String)>,
    /// `NO_PROXY` (or `no_proxy`): the hosts reached directly.
    no: String,
}

/// The proxy one request goes through, and the variable that named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProxyChoice {
    /// The proxy's URL, credentials included (for the client only).
    url: Url,
    /// The variable it came from.
    var: &'static str,
}

impl ProxyChoice {
    /// `scheme://host[:port] (from VAR)`: never a user name, a password, a
    /// path or a query, whatever form the variable has.
    pub(crate) fn shown(&self) -> String {
        let host = self.url.host().map(|h| h.to_string()).unwrap_or_default();
        let port = self.url.port().map(|p| format!(":{p}")).unwrap_or_default();
        format!("{}://{host}{port} (from {})", self.url.scheme(), self.var)
    }
}

/// The first of `names` set to something other than white space.
fn first_set(names: [&'static str; 2]) -> Option<(&'static str, String)> {
    names.into_iter().find_map(|n| {
        std::env::var(n)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| (n, v))
    })
}

impl Proxies {
    /// Reads the proxy variables once.
    pub(crate) fn from_env() -> Proxies {
        Proxies {
            cgi: std::env::var_os("REQUEST_METHOD").is_some(),
            https: first_set(["HTTPS_PROXY", "https_proxy"]),
            http: first_set(["HTTP_PROXY", "http_proxy"]),
            all: first_set(["ALL_PROXY", "all_proxy"]),
            no: first_set(["NO_PROXY", "no_proxy"])
                .map(|(_, v)| v)
                .unwrap_or_default(),
        }
    }

    /// The proxy a request to `target` goes through; `None`: direct.
    pub(crate) fn choose(&self, target: &Url) -> Option<ProxyChoice> {
        let host = target.host_str()?.trim_matches(['[', ']']);
        if self.cgi || is_loopback(host) || no_proxy_matches(&self.no, host) {
            return None;
        }
        let by_scheme = match target.scheme() {
            "https" => self.https.as_ref(),
            _ => self.http.as_ref(),
        };
        let (var, value) = by_scheme
            .and_then(|(n, v)| Some((*n, proxy_url(v)?)))
            .or_else(|| {
                self.all
                    .as_ref()
                    .and_then(|(n, v)| Some((*n, proxy_url(v)?)))
            })?;
        Some(ProxyChoice { url: value, var })
    }

    /// The client's proxy: this choice for every connection it opens.
    pub(super) fn for_client(self) -> reqwest::Proxy {
        let proxies = Arc::new(self);
        reqwest::Proxy::custom(move |url| proxies.choose(url).map(|c| c.url))
    }
}

/// A proxy variable's value as a URL (`http://` when it names none), if it
/// is one the client can use.
fn proxy_url(value: &str) -> Option<Url> {
    let value = value.trim();
    let url = if value.contains("://") {
        Url::parse(value)
    } else {
        Url::parse(&format!("http://{value}"))
    }
    .ok()?;
    let known = ["http", "https", "socks4", "socks4a", "socks5", "socks5h"];
    (known.contains(&url.scheme()) && url.host_str().is_some_and(|h| !h.is_empty())).then_some(url)
}

/// A host that is this machine: `localhost` (with or without the root
/// dot), 127.0.0.0/8, `::1` and `::ffff:127.x.y.z`.
fn is_loopback(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    is_loopback_host(host)
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// Whether `NO_PROXY` sends `host` direct: `*`, an IP address or network
/// (`10.0.0.0/8`) holding it, or a domain it is or is under (`example.com`
/// and `.example.com` both match `mail.example.com`), case ignored.
fn no_proxy_matches(list: &str, host: &str) -> bool {
    let ip = host.parse::<IpAddr>().ok();
    list.split(',').map(str::trim).any(|entry| match ip {
        _ if entry == "*" => true,
        Some(ip) => ip_entry_matches(entry, ip),
        None => domain_entry_matches(entry, host),
    })
}

/// Whether the `NO_PROXY` entry `entry` (an address, or a network with a
/// prefix length) holds `ip`.
fn ip_entry_matches(entry: &str, ip: IpAddr) -> bool {
    let (addr, bits) = match entry.split_once('/') {
        Some((a, b)) => (a, b.parse::<u32>().ok()),
        None => (entry, None),
    };
    let Ok(net) = addr.trim_matches(['[', ']']).parse::<IpAddr>() else {
        return false;
    };
    let (ip, net) = (ip.to_canonical(), net.to_canonical());
    let (a, b, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    let bits = bits.unwrap_or(width);
    if bits > width {
        return false;
    }
    let mask = u128::MAX.checked_shl(width - bits).unwrap_or(0) & (u128::MAX >> (128 - width));
    a & mask == b & mask
}

/// Whether the domain entry `entry` names `host` or a domain above it.
fn domain_entry_matches(entry: &str, host: &str) -> bool {
    let domain = entry.trim_start_matches('.').to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    !domain.is_empty() && (host == domain || host.ends_with(&format!(".{domain}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(https: &str, http: &str, all: &str, no: &str) -> Proxies {
        let var = |n: &'static str, v: &str| (!v.is_empty()).then(|| (n, v.to_string()));
        Proxies {
            cgi: false,
            https: var("HTTPS_PROXY", https),
            http: var("HTTP_PROXY", http),
            all: var("ALL_PROXY", all),
            no: no.to_string(),
        }
    }

    fn shown(p: &Proxies, target: &str) -> Option<String> {
        p.choose(&Url::parse(target).unwrap()).map(|c| c.shown())
    }

    #[test]
    fn a_proxy_is_shown_without_credentials_path_or_query_whatever_its_form() {
        for (value, expected) in [
            ("http://u:pw-1@10.0.0.1:3128", "http://10.0.0.1:3128"),
            ("u:pw-1@10.0.0.1:3128", "http://10.0.0.1:3128"),
            ("u:pw-1@proxy.corp:3128/", "http://proxy.corp:3128"),
            ("http://u:pw-1@[fd00::1]:3128", "http://[fd00::1]:3128"),
            ("u:pw-1@[fd00::1]:3128", "http://[fd00::1]:3128"),
            (
                "http://me%40corp:pw-1@proxy.corp:8080",
                "http://proxy.corp:8080",
            ),
            ("me@corp:pw-1@proxy.corp:8080", "http://proxy.corp:8080"),
            (
                "https://proxy.corp:8443/path?token=pw-1#pw-1",
                "https://proxy.corp:8443",
            ),
            ("proxy.corp:3128?pw-1", "http://proxy.corp:3128"),
            (
                "  socks5h://u:pw-1@proxy.corp:1080  ",
                "socks5h://proxy.corp:1080",
            ),
            ("proxy.corp", "http://proxy.corp"),
        ] {
            let p = proxies(value, "", "", "");
            assert_eq!(
                shown(&p, "https://login.example.com/x").as_deref(),
                Some(format!("{expected} (from HTTPS_PROXY)").as_str()),
                "{value}"
            );
        }
        // Credentials still reach the client.
        let c = proxies("me@corp:pw-1@proxy.corp:8080", "", "", "")
            .choose(&Url::parse("https://login.example.com/").unwrap())
            .unwrap();
        assert_eq!(
            (c.url.username(), c.url.password()),
            ("me%40corp", Some("pw-1"))
        );
    }

    #[test]
    fn the_variable_is_chosen_by_scheme_then_all_proxy() {
        let p = proxies("hs:1", "h:2", "a:3", "");
        assert_eq!(
            shown(&p, "https://x.example/").unwrap(),
            "http://hs:1 (from HTTPS_PROXY)"
        );
        assert_eq!(
            shown(&p, "http://x.example/").unwrap(),
            "http://h:2 (from HTTP_PROXY)"
        );
        let p = proxies("", "", "a:3", "");
        assert_eq!(
            shown(&p, "https://x.example/").unwrap(),
            "http://a:3 (from ALL_PROXY)"
        );
        // A value that is no proxy URL falls back to ALL_PROXY.
        let p = proxies("ftp://nope:1", "", "a:3", "");
        assert_eq!(
            shown(&p, "https://x.example/").unwrap(),
            "http://a:3 (from ALL_PROXY)"
        );
        let p = Proxies {
            cgi: true,
            ..proxies("hs:1", "h:2", "a:3", "")
        };
        assert_eq!(shown(&p, "https://x.example/"), None);
    }

    #[test]
    fn loopback_hosts_never_go_through_a_proxy() {
        let p = proxies("hs:1", "h:2", "a:3", "");
        for target in [
            "http://127.0.0.1:8080/token",
            "http://127.5.6.7/",
            "https://127.0.0.1/",
            "http://localhost:1/",
            "http://LOCALHOST./",
            "http://[::1]:8080/",
            "http://[::ffff:127.0.0.1]/",
        ] {
            assert_eq!(shown(&p, target), None, "{target}");
        }
        assert!(shown(&p, "http://10.0.0.1/").is_some());
        assert!(shown(&p, "http://localhost.example.com/").is_some());
    }

    #[test]
    fn no_proxy_sends_hosts_direct() {
        let no = " example.com, .corp.test ,10.1.0.0/16, fd00::/8, 192.168.1.5";
        let p = proxies("hs:1", "", "", no);
        for (target, direct) in [
            ("https://example.com/", true),
            ("https://Mail.Example.COM/", true),
            ("https://notexample.com/", false),
            ("https://corp.test/", true),
            ("https://a.b.corp.test/", true),
            ("https://10.1.200.3/", true),
            ("https://10.2.0.1/", false),
            ("https://[fd12::1]/", true),
            ("https://[fe80::1]/", false),
            ("https://192.168.1.5/", true),
            ("https://192.168.1.6/", false),
        ] {
            assert_eq!(shown(&p, target).is_none(), direct, "{target}");
        }
        assert_eq!(
            shown(&proxies("hs:1", "", "", "*"), "https://x.example/"),
            None
        );
    }
}
