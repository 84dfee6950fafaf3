//! A proxy between the client and the exchange: HTTP CONNECT or SOCKS5.

use std::fmt;
use std::str::FromStr;

use crate::{HyperSocketError, Result};

/// The setting that proxy errors name.
const SETTING: &str = "proxy";

/// How a [`Proxy`] is spoken to.
///
/// ```
/// use hypersockets_core::{Proxy, ProxyKind};
///
/// let kind = |url: &str| url.parse::<Proxy>().unwrap().kind();
/// assert_eq!(kind("http://proxy.corp:3128"), ProxyKind::HttpConnect);
/// assert_eq!(kind("socks5://127.0.0.1:1080"), ProxyKind::Socks5);
/// assert_eq!(kind("socks5h://127.0.0.1:1080"), ProxyKind::Socks5h);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyKind {
    /// An HTTP proxy asked for a tunnel with `CONNECT host:port`
    /// (`http://` URLs). Credentials go as `Proxy-Authorization: Basic`.
    HttpConnect,
    /// A SOCKS5 proxy (RFC 1928) given the exchange's IP address: the
    /// client resolves the host name itself, with the system resolver,
    /// and asks for the first address (`socks5://` URLs, as curl does).
    /// Credentials go as RFC 1929 username/password.
    Socks5,
    /// A SOCKS5 proxy given the exchange's host name, which the proxy
    /// resolves (`socks5h://` URLs): for a client whose own resolver
    /// cannot see the exchange, or should not be asked.
    Socks5h,
}

impl ProxyKind {
    /// The URL scheme: `http`, `socks5` or `socks5h`.
    ///
    /// ```
    /// use hypersockets_core::ProxyKind;
    ///
    /// assert_eq!(ProxyKind::Socks5h.scheme(), "socks5h");
    /// ```
    pub fn scheme(self) -> &'static str {
        match self {
            Self::HttpConnect => "http",
            Self::Socks5 => "socks5",
            Self::Socks5h => "socks5h",
        }
    }

    /// The port a URL without one means: 80 for `http`, 1080 for SOCKS5.
    fn default_port(self) -> u16 {
        match self {
            Self::HttpConnect => 80,
            Self::Socks5 | Self::Socks5h => 1080,
        }
    }
}

/// A proxy the connection goes through: HTTP CONNECT or SOCKS5, with or
/// without credentials.
///
/// Built from a URL, `http://[user:pass@]host[:port]` (HTTP CONNECT; port
/// 80 by default), `socks5://…` or `socks5h://…` (SOCKS5; port 1080 by
/// default; see [`ProxyKind`] for who resolves the exchange's name), or a
/// bare `host:port`, taken as `http://`. User and password are
/// percent-decoded. A path other than `/`, a query, a fragment, another
/// scheme (`https://` proxies, TLS to the proxy, are not supported) or a
/// missing host is [`HyperSocketError::InvalidConfiguration`] for the
/// setting `proxy`.
///
/// The connection to the exchange is then TCP to the proxy, the proxy's
/// negotiation, TLS for `wss://` (checked against the exchange's host
/// name, never the proxy's), and the WebSocket handshake: the tunnel is
/// end to end, so the proxy sees neither the URL's path nor the headers.
///
/// The credentials are secrets: `Debug` and [`Display`](fmt::Display)
/// show neither user nor password, and neither does any log line, error
/// or event of HyperSockets.
///
/// ```
/// use hypersockets_core::{Proxy, ProxyKind};
///
/// let proxy = Proxy::from_url("http://trader:s%40cret@proxy.corp:3128")?;
/// assert_eq!(proxy.kind(), ProxyKind::HttpConnect);
/// assert_eq!((proxy.host(), proxy.port()), ("proxy.corp", 3128));
/// assert_eq!(proxy.username(), Some("trader"));
/// assert_eq!(proxy.password(), Some("s@cret"));
/// // Neither the user nor the password is ever shown.
/// assert_eq!(proxy.to_string(), "http://proxy.corp:3128");
/// assert!(!format!("{proxy:?}").contains("trader"));
///
/// let socks = Proxy::socks5h("127.0.0.1", 1080).credentials("user", "pass");
/// assert!(socks.username().is_some());
/// assert!(Proxy::from_url("ftp://proxy.corp").is_err());
/// # Ok::<(), hypersockets_core::HyperSocketError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Proxy {
    kind: ProxyKind,
    /// A name or an IP address, IPv6 without brackets.
    host: String,
    port: u16,
    credentials: Option<(String, String)>,
}

impl Proxy {
    /// An HTTP CONNECT proxy at `host:port`, without credentials.
    ///
    /// ```
    /// use hypersockets_core::Proxy;
    ///
    /// assert_eq!(Proxy::http("proxy.corp", 3128).to_string(), "http://proxy.corp:3128");
    /// ```
    pub fn http(host: impl Into<String>, port: u16) -> Self {
        Self::new(ProxyKind::HttpConnect, host.into(), port)
    }

    /// A SOCKS5 proxy at `host:port` that is given the exchange's IP
    /// address (resolved by the client), without credentials.
    ///
    /// ```
    /// use hypersockets_core::{Proxy, ProxyKind};
    ///
    /// assert_eq!(Proxy::socks5("127.0.0.1", 1080).kind(), ProxyKind::Socks5);
    /// ```
    pub fn socks5(host: impl Into<String>, port: u16) -> Self {
        Self::new(ProxyKind::Socks5, host.into(), port)
    }

    /// A SOCKS5 proxy at `host:port` that is given the exchange's host
    /// name and resolves it, without credentials.
    ///
    /// ```
    /// use hypersockets_core::{Proxy, ProxyKind};
    ///
    /// assert_eq!(Proxy::socks5h("[::1]", 1080).host(), "::1");
    /// ```
    pub fn socks5h(host: impl Into<String>, port: u16) -> Self {
        Self::new(ProxyKind::Socks5h, host.into(), port)
    }

    fn new(kind: ProxyKind, host: String, port: u16) -> Self {
        let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(inner) => inner.to_owned(),
            None => host,
        };
        Self {
            kind,
            host,
            port,
            credentials: None,
        }
    }

    /// Parses a proxy URL (see [`Proxy`] for the forms accepted).
    ///
    /// ```
    /// use hypersockets_core::{HyperSocketError, Proxy};
    ///
    /// assert_eq!(Proxy::from_url("socks5://proxy:9050")?.port(), 9050);
    /// assert_eq!(Proxy::from_url("proxy.corp:8080")?.to_string(), "http://proxy.corp:8080");
    /// assert!(matches!(
    ///     Proxy::from_url("https://proxy.corp"),
    ///     Err(HyperSocketError::InvalidConfiguration { setting: "proxy", .. })
    /// ));
    /// # Ok::<(), HyperSocketError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::InvalidConfiguration`] for the setting `proxy`:
    /// an unsupported scheme, no host, a port that is not a number from 1
    /// to 65535, a path, query or fragment, or user info that is not
    /// valid percent-encoded UTF-8. The message never repeats the URL,
    /// which may hold a password.
    pub fn from_url(url: &str) -> Result<Self> {
        let invalid = |reason: &str| HyperSocketError::invalid_config(SETTING, reason);
        let url = url.trim();
        let (kind, rest) = match url.split_once("://") {
            Some((scheme, rest)) => {
                let kind = match scheme.to_ascii_lowercase().as_str() {
                    "http" => ProxyKind::HttpConnect,
                    "socks5" => ProxyKind::Socks5,
                    "socks5h" => ProxyKind::Socks5h,
                    "https" => {
                        return Err(invalid(
                            "https:// proxies (TLS to the proxy) are not supported",
                        ));
                    }
                    _ => return Err(invalid("scheme must be http://, socks5:// or socks5h://")),
                };
                (kind, rest)
            }
            None => (ProxyKind::HttpConnect, url),
        };
        let (authority, tail) = match rest.find(['/', '?', '#']) {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        if !tail.is_empty() && tail != "/" {
            return Err(invalid("a proxy URL has no path, query or fragment"));
        }
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority),
        };
        let (host, port) = split_host_port(host_port).ok_or_else(|| invalid("bad host or port"))?;
        if host.is_empty() {
            return Err(invalid("missing host"));
        }
        let port = match port {
            Some(port) => port,
            None => kind.default_port(),
        };
        let mut proxy = Self::new(kind, host.to_owned(), port);
        if let Some(userinfo) = userinfo {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let decode = |part: &str| {
                percent_decode(part)
                    .ok_or_else(|| invalid("user info is not percent-encoded UTF-8"))
            };
            proxy = proxy.credentials(decode(user)?, decode(password)?);
        }
        Ok(proxy)
    }

    /// Sets the user and password sent to the proxy (default: none).
    /// HTTP CONNECT sends them as `Proxy-Authorization: Basic`, SOCKS5 as
    /// RFC 1929 username/password (each 1 to 255 bytes).
    ///
    /// ```
    /// use hypersockets_core::Proxy;
    ///
    /// let proxy = Proxy::http("proxy.corp", 3128).credentials("trader", "secret");
    /// assert_eq!(proxy.password(), Some("secret"));
    /// ```
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some((username.into(), password.into()));
        self
    }

    /// How the proxy is spoken to.
    ///
    /// ```
    /// use hypersockets_core::{Proxy, ProxyKind};
    ///
    /// assert_eq!(Proxy::http("proxy", 80).kind(), ProxyKind::HttpConnect);
    /// ```
    pub fn kind(&self) -> ProxyKind {
        self.kind
    }

    /// The proxy's host name or IP address (an IPv6 address without
    /// brackets).
    ///
    /// ```
    /// use hypersockets_core::Proxy;
    ///
    /// assert_eq!(Proxy::from_url("http://[::1]:3128")?.host(), "::1");
    /// # Ok::<(), hypersockets_core::HyperSocketError>(())
    /// ```
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    ///
    /// ```
    /// use hypersockets_core::Proxy;
    ///
    /// assert_eq!(Proxy::from_url("socks5://proxy")?.port(), 1080);
    /// # Ok::<(), hypersockets_core::HyperSocketError>(())
    /// ```
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user sent to the proxy, if any. A secret: keep it out of logs.
    ///
    /// ```
    /// use hypersockets_core::Proxy;
    ///
    /// assert_eq!(Proxy::http("proxy", 80).username(), None);
    /// ```
    pub fn username(&self) -> Option<&str> {
        self.credentials.as_ref().map(|(user, _)| user.as_str())
    }

    /// The password sent to the proxy, if any. A secret: keep it out of
    /// logs.
    ///
    /// ```
    /// use hypersockets_core::Proxy;
    ///
    /// let proxy = Proxy::socks5("proxy", 1080).credentials("user", "pass");
    /// assert_eq!(proxy.password(), Some("pass"));
    /// ```
    pub fn password(&self) -> Option<&str> {
        self.credentials
            .as_ref()
            .map(|(_, password)| password.as_str())
    }

    /// The proxy for a connection to `url` (`ws://` or `wss://`) from the
    /// process environment, the way curl and most HTTP clients read it:
    /// `https_proxy` then `HTTPS_PROXY` for `wss://`, `http_proxy` then
    /// `HTTP_PROXY` for `ws://`, else `all_proxy` then `ALL_PROXY`; `None`
    /// when none is set (or set empty), or when `no_proxy` / `NO_PROXY`
    /// names the URL's host (see [`from_lookup`](Self::from_lookup)).
    ///
    /// Nothing in HyperSockets reads the environment unless asked to: this
    /// function, or the client builder's `proxy_from_env`.
    ///
    /// ```
    /// use hypersockets_core::Proxy;
    ///
    /// // Whatever the environment says, a valid proxy or none.
    /// let proxy = Proxy::from_env("wss://stream.binance.com:9443/ws");
    /// # drop(proxy);
    /// ```
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::InvalidConfiguration`] for the setting `proxy`
    /// when the variable that applies holds no valid proxy URL.
    pub fn from_env(url: &str) -> Result<Option<Self>> {
        Self::from_lookup(url, |name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) with the variables read through
    /// `lookup` instead of the process environment (a configuration file,
    /// a test).
    ///
    /// `no_proxy` is a comma-separated list: `*` matches every host; any
    /// other entry matches its host name and every name under it
    /// (`example.com` and `.example.com` both match `example.com` and
    /// `stream.example.com`), or one IP address exactly. A `:port` on an
    /// entry is ignored; CIDR ranges are not supported.
    ///
    /// ```
    /// use hypersockets_core::Proxy;
    ///
    /// let env = |name: &str| match name {
    ///     "HTTPS_PROXY" => Some("http://proxy.corp:3128".to_owned()),
    ///     "NO_PROXY" => Some("localhost,.internal.corp".to_owned()),
    ///     _ => None,
    /// };
    /// let proxy = Proxy::from_lookup("wss://stream.example.com/ws", env)?;
    /// assert_eq!(proxy.unwrap().to_string(), "http://proxy.corp:3128");
    /// assert_eq!(Proxy::from_lookup("wss://feed.internal.corp/ws", env)?, None);
    /// // `ws://` reads HTTP_PROXY, unset here.
    /// assert_eq!(Proxy::from_lookup("ws://stream.example.com/ws", env)?, None);
    /// # Ok::<(), hypersockets_core::HyperSocketError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub fn from_lookup(url: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>> {
        let first = |names: &[&str]| {
            names
                .iter()
                .find_map(|name| lookup(name).filter(|value| !value.trim().is_empty()))
        };
        let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
        let scheme_vars: &[&str] = match scheme.to_ascii_lowercase().as_str() {
            "wss" => &["https_proxy", "HTTPS_PROXY"],
            "ws" => &["http_proxy", "HTTP_PROXY"],
            _ => &[],
        };
        let Some(value) = first(scheme_vars).or_else(|| first(&["all_proxy", "ALL_PROXY"])) else {
            return Ok(None);
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host_port = authority.rsplit('@').next().unwrap_or_default();
        let host = split_host_port(host_port).map_or(host_port, |(host, _)| host);
        if let Some(no_proxy) = first(&["no_proxy", "NO_PROXY"])
            && no_proxy_matches(&no_proxy, host)
        {
            return Ok(None);
        }
        Self::from_url(&value).map(Some)
    }
}

impl FromStr for Proxy {
    type Err = HyperSocketError;

    /// As [`Proxy::from_url`].
    fn from_str(url: &str) -> Result<Self> {
        Self::from_url(url)
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the user or password: whether there are any.
        f.debug_struct("Proxy")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("credentials", &self.credentials.is_some())
            .finish()
    }
}

/// `scheme://host:port`, without user or password: safe to log.
impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = self.kind.scheme();
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`: the host (without
/// brackets) and the port if given; `None` for a port that is not 1 to
/// 65535 or a bracket left open.
fn split_host_port(host_port: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match host_port.rsplit_once(':') {
            // A bare IPv6 address has more than one colon: no port.
            Some((host, _)) if host.contains(':') => (host_port, None),
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let port = match port {
        Some(port) => Some(port.parse::<u16>().ok().filter(|port| *port != 0)?),
        None => None,
    };
    Some((host, port))
}

/// `%XX` escapes decoded; `None` for a bad escape or bytes that are not
/// UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Whether a `no_proxy` list names `host`.
fn no_proxy_matches(list: &str, host: &str) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    list.split(',').map(str::trim).any(|entry| {
        if entry == "*" {
            return true;
        }
        let entry = match split_host_port(entry) {
            Some((name, _)) => name,
            None => entry,
        };
        let entry = entry
            .trim_start_matches("*.")
            .trim_start_matches('.')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        !entry.is_empty()
            && (host == entry
                || host
                    .strip_suffix(&entry)
                    .is_some_and(|above| above.ends_with('.')))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(url: &str) -> bool {
        matches!(
            Proxy::from_url(url),
            Err(HyperSocketError::InvalidConfiguration {
                setting: "proxy",
                ..
            })
        )
    }

    #[test]
    fn urls_parse_into_kind_host_port_and_credentials() {
        let proxy = Proxy::from_url("socks5h://u%3Ax:p%20w@[::1]:9050/").unwrap();
        assert_eq!(proxy.kind(), ProxyKind::Socks5h);
        assert_eq!((proxy.host(), proxy.port()), ("::1", 9050));
        assert_eq!(
            (proxy.username(), proxy.password()),
            (Some("u:x"), Some("p w"))
        );
        assert_eq!(proxy.to_string(), "socks5h://[::1]:9050");
        assert_eq!(Proxy::from_url("HTTP://h").unwrap().port(), 80);
        assert_eq!(Proxy::from_url("socks5://h").unwrap().port(), 1080);
        assert_eq!(Proxy::from_url("::1").unwrap().host(), "::1");
        let user_only = Proxy::from_url("http://user@h:1").unwrap();
        assert_eq!(
            (user_only.username(), user_only.password()),
            (Some("user"), Some(""))
        );
    }

    #[test]
    fn bad_urls_are_configuration_errors_without_the_password() {
        for url in [
            "https://h:1",
            "socks4://h:1",
            "http://",
            "http://u:p@:1",
            "http://h:0",
            "http://h:65536",
            "http://h:port",
            "http://h:1/path",
            "http://h:1?q",
            "http://[::1:1",
            "http://u:%zz@h:1",
        ] {
            assert!(invalid(url), "{url}");
        }
        let error = Proxy::from_url("http://user:SECRET@h:1/x").unwrap_err();
        assert!(!format!("{error} {error:?}").contains("SECRET"));
    }

    #[test]
    fn debug_and_display_hide_the_credentials() {
        let proxy = Proxy::http("h", 1).credentials("USER", "SECRET");
        let shown = format!("{proxy} {proxy:?}");
        assert!(
            !shown.contains("USER") && !shown.contains("SECRET"),
            "{shown}"
        );
    }

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_environment_picks_by_scheme_and_honours_no_proxy() {
        let vars = [
            ("http_proxy", "http://lower:1"),
            ("HTTP_PROXY", "http://upper:1"),
            ("HTTPS_PROXY", "socks5h://secure:1"),
            ("ALL_PROXY", "socks5://all:1"),
            ("no_proxy", " localhost, .internal.test ,10.0.0.1:443,[::1]"),
        ];
        let host = |url: &str| {
            Proxy::from_lookup(url, lookup(&vars))
                .unwrap()
                .map(|p| p.host().to_owned())
        };
        assert_eq!(host("ws://a.test/ws").as_deref(), Some("lower"));
        assert_eq!(host("wss://a.test/ws").as_deref(), Some("secure"));
        assert_eq!(host("wss://localhost:1/ws"), None);
        assert_eq!(host("wss://feed.internal.test/ws"), None);
        assert_eq!(host("wss://INTERNAL.test./ws"), None);
        assert_eq!(host("wss://notinternal.test/ws").as_deref(), Some("secure"));
        assert_eq!(host("ws://10.0.0.1:80/"), None);
        assert_eq!(host("ws://[::1]:80/"), None);
        assert_eq!(host("ws://10.0.0.10/").as_deref(), Some("lower"));

        let all = [("all_proxy", "socks5://all:1"), ("https_proxy", "")];
        let all = Proxy::from_lookup("wss://a.test", lookup(&all)).unwrap();
        assert_eq!(all.unwrap().host(), "all");
        assert_eq!(
            Proxy::from_lookup("wss://a.test", lookup(&[])).unwrap(),
            None
        );
        let star = [("ALL_PROXY", "h:1"), ("NO_PROXY", "*")];
        assert_eq!(
            Proxy::from_lookup("ws://a.test", lookup(&star)).unwrap(),
            None
        );
        let bad = [("https_proxy", "ftp://u:SECRET@h")];
        assert!(Proxy::from_lookup("wss://a.test", lookup(&bad)).is_err());
    }
}
