//! The seam between the client and the network: swap it in tests.

use std::fmt::{self, Debug};
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use futures_sink::Sink;

use crate::{BoxFuture, Proxy, Result, TcpKeepalive, WsMessage};

/// Size limits on what a connection reads and buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransportLimits {
    /// Largest message (after reassembling fragments) accepted. Default: 16 MiB,
    /// room for the largest order-book snapshots exchanges send.
    pub max_message_size: usize,
    /// Largest single frame accepted. Default: 16 MiB.
    pub max_frame_size: usize,
    /// Bytes buffered before a write is flushed to the socket. Default: 128 KiB.
    pub write_buffer_size: usize,
    /// Bytes that may wait to be written before writes fail; bounds memory
    /// when the peer stops reading. Default: 4 MiB.
    pub max_write_buffer_size: usize,
    /// Bytes a connection's read buffer starts with, and the most one read
    /// from the socket takes until the feed proves busy. A frame larger
    /// than this still arrives whole (up to `max_frame_size`): the buffer
    /// makes room for it. Default: 16 KiB.
    pub read_buffer_size: usize,
    /// The most a busy connection reads from the socket at once: while its
    /// reads keep filling the buffer, the buffer doubles up to this; once
    /// the socket has nothing more to give, it goes back to
    /// `read_buffer_size`. Default: 128 KiB. Not every transport grows: see
    /// each one's documentation.
    pub max_read_buffer_size: usize,
}

impl Default for TransportLimits {
    fn default() -> Self {
        Self {
            max_message_size: 16 << 20,
            max_frame_size: 16 << 20,
            write_buffer_size: 128 << 10,
            max_write_buffer_size: 4 << 20,
            read_buffer_size: 16 << 10,
            max_read_buffer_size: 128 << 10,
        }
    }
}

impl TransportLimits {
    /// Sets the largest message accepted (default 16 MiB).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets the largest frame accepted (default 16 MiB).
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Sets the write buffer size (default 128 KiB).
    pub fn write_buffer_size(mut self, bytes: usize) -> Self {
        self.write_buffer_size = bytes;
        self
    }

    /// Sets the cap on buffered outgoing bytes (default 4 MiB).
    pub fn max_write_buffer_size(mut self, bytes: usize) -> Self {
        self.max_write_buffer_size = bytes;
        self
    }

    /// Sets the read buffer's starting size and first read size (default
    /// 16 KiB; at least 1 KiB is used): smaller keeps an idle connection
    /// small, larger saves reads on a busy feed.
    ///
    /// ```
    /// use hypersockets_core::TransportLimits;
    ///
    /// // Thousands of quiet streams: start every read buffer at 4 KiB.
    /// let limits = TransportLimits::default().read_buffer_size(4 << 10);
    /// assert_eq!(limits.read_buffer_size, 4096);
    /// assert_eq!(TransportLimits::default().read_buffer_size, 16 << 10);
    /// ```
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.read_buffer_size = bytes;
        self
    }

    /// Sets the most a busy connection reads at once (default 128 KiB; never
    /// less than [`read_buffer_size`](Self::read_buffer_size)).
    ///
    /// ```
    /// use hypersockets_core::TransportLimits;
    ///
    /// // One hot feed: let its reads grow to 1 MiB.
    /// let limits = TransportLimits::default().max_read_buffer_size(1 << 20);
    /// assert_eq!(limits.max_read_buffer_size, 1 << 20);
    /// assert_eq!(TransportLimits::default().max_read_buffer_size, 128 << 10);
    /// ```
    pub fn max_read_buffer_size(mut self, bytes: usize) -> Self {
        self.max_read_buffer_size = bytes;
        self
    }
}

/// What a [`Transport`] needs to open one connection.
///
/// ```
/// use std::time::Duration;
/// use hypersockets_core::ConnectRequest;
///
/// let request = ConnectRequest::new("wss://stream.example.com/ws")
///     .header("X-Api-Key", "abc")
///     .connect_timeout(Duration::from_secs(5));
/// assert_eq!(request.headers.len(), 1);
/// // Debug shows the host and header names, never a path, query or value:
/// // they can carry listen keys and tokens.
/// let shown = format!("{request:?}");
/// assert!(shown.contains("stream.example.com") && !shown.contains("abc"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectRequest {
    /// `ws://` or `wss://` URL.
    pub url: String,
    /// Extra handshake headers, as name/value pairs. Default: none.
    pub headers: Vec<(String, String)>,
    /// Size limits. Default: [`TransportLimits::default`].
    pub limits: TransportLimits,
    /// Limit on TCP connect, the proxy's negotiation (with a proxy) and
    /// TLS. Default: 10 s.
    pub connect_timeout: Duration,
    /// Limit on the WebSocket handshake once connected. Default: 10 s.
    pub handshake_timeout: Duration,
    /// OS TCP keepalive on the socket, `None` for none. Default:
    /// [`TcpKeepalive::default`] (on).
    pub tcp_keepalive: Option<TcpKeepalive>,
    /// The proxy to connect through, `None` to connect directly. Default:
    /// `None` (the environment is not read: see [`Proxy::from_env`]).
    pub proxy: Option<Proxy>,
}

impl Debug for ConnectRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("ConnectRequest")
            .field("host", &self.host())
            .field("header_names", &header_names)
            .field("limits", &self.limits)
            .field("connect_timeout", &self.connect_timeout)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("tcp_keepalive", &self.tcp_keepalive)
            // Its Debug shows no credentials.
            .field("proxy", &self.proxy)
            .finish()
    }
}

impl ConnectRequest {
    /// A request for `url` with default limits and timeouts.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            headers: Vec::new(),
            limits: TransportLimits::default(),
            connect_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            tcp_keepalive: Some(TcpKeepalive::default()),
            proxy: None,
        }
    }

    /// Adds one handshake header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the handshake headers (default: none).
    pub fn headers(mut self, headers: Vec<(String, String)>) -> Self {
        self.headers = headers;
        self
    }

    /// Sets the size limits (default [`TransportLimits::default`]).
    pub fn limits(mut self, limits: TransportLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the connect timeout (default 10 s): TCP, the proxy's
    /// negotiation when there is a proxy, and TLS.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the handshake timeout (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The URL's `host[:port]`, without user info, path, query or
    /// fragment: what is safe to log, since paths and queries can carry
    /// listen keys and tokens.
    ///
    /// ```
    /// use hypersockets_core::ConnectRequest;
    ///
    /// let host = |url: &str| ConnectRequest::new(url).host().to_owned();
    /// assert_eq!(host("wss://stream.binance.com:9443/ws/LISTENKEY"), "stream.binance.com:9443");
    /// assert_eq!(host("ws://127.0.0.1:80?token=secret"), "127.0.0.1:80");
    /// assert_eq!(host("wss://user:pass@host.test/x"), "host.test");
    /// assert_eq!(host("wss://host.test#frag"), "host.test");
    /// assert_eq!(host("wss://"), "");
    /// ```
    pub fn host(&self) -> &str {
        let rest = self
            .url
            .split_once("://")
            .map_or(&*self.url, |(_, rest)| rest);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        authority.rsplit('@').next().unwrap_or_default()
    }

    /// Sets the socket's OS TCP keepalive, `None` to leave it off
    /// (default: [`TcpKeepalive::default`], on).
    ///
    /// ```
    /// use hypersockets_core::{ConnectRequest, TcpKeepalive};
    ///
    /// let request = ConnectRequest::new("wss://stream.example.com/ws");
    /// assert_eq!(request.tcp_keepalive, Some(TcpKeepalive::default()));
    /// assert_eq!(request.tcp_keepalive(None).tcp_keepalive, None);
    /// ```
    pub fn tcp_keepalive(mut self, keepalive: Option<TcpKeepalive>) -> Self {
        self.tcp_keepalive = keepalive;
        self
    }

    /// Sets the proxy to connect through, `None` for a direct connection
    /// (default: `None`).
    ///
    /// ```
    /// use hypersockets_core::{ConnectRequest, Proxy};
    ///
    /// let proxy = Proxy::from_url("socks5h://user:SECRET@127.0.0.1:1080")?;
    /// let request = ConnectRequest::new("wss://stream.example.com/ws").proxy(Some(proxy));
    /// assert_eq!(request.proxy.as_ref().map(|p| p.port()), Some(1080));
    /// // Debug shows the proxy's address, never its credentials.
    /// let shown = format!("{request:?}");
    /// assert!(shown.contains("127.0.0.1") && !shown.contains("SECRET") && !shown.contains("user"));
    /// # Ok::<(), hypersockets_core::HyperSocketError>(())
    /// ```
    pub fn proxy(mut self, proxy: Option<Proxy>) -> Self {
        self.proxy = proxy;
        self
    }
}

/// The sending half of a connection.
///
/// `poll_close` sends a Close frame (if none was sent) and closes the socket.
pub type MessageSink = Pin<Box<dyn Sink<WsMessage, Error = crate::HyperSocketError> + Send>>;

/// The receiving half of a connection.
///
/// Yields every frame, control frames included; a Close frame from the peer
/// is yielded as [`WsMessage::Close`] and the stream then ends. An error
/// ends the connection.
pub type MessageStream = Pin<Box<dyn Stream<Item = Result<WsMessage>> + Send>>;

/// One open connection: a sending half and a receiving half, usable from
/// different tasks.
#[non_exhaustive]
pub struct Connection {
    /// Sends messages.
    pub sink: MessageSink,
    /// Receives messages.
    pub stream: MessageStream,
}

impl Connection {
    /// A connection from its two halves.
    pub fn new(sink: MessageSink, stream: MessageStream) -> Self {
        Self { sink, stream }
    }
}

impl Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

/// Opens WebSocket connections.
///
/// The client calls it for every connect and reconnect. The real one is the
/// tokio-tungstenite transport; tests swap in an in-memory one.
///
/// ```
/// use hypersockets_core::{BoxFuture, ConnectRequest, Connection, HyperSocketError, Result, Transport};
///
/// /// A transport that is always down.
/// #[derive(Debug)]
/// struct Offline;
///
/// impl Transport for Offline {
///     fn connect(&self, _request: ConnectRequest) -> BoxFuture<'static, Result<Connection>> {
///         Box::pin(async { Err(HyperSocketError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))) })
///     }
/// }
/// ```
pub trait Transport: Send + Sync + Debug + 'static {
    /// Opens a connection: TCP (to the request's proxy and through it,
    /// when it names one), TLS for `wss://`, then the handshake with the
    /// request's headers, within the request's timeouts.
    fn connect(&self, request: ConnectRequest) -> BoxFuture<'static, Result<Connection>>;
}
