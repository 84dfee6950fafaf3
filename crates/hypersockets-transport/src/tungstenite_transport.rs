//! The real transport: TCP (with TCP_NODELAY), through a proxy when asked,
//! TLS with rustls for `wss://`, then the WebSocket handshake via
//! tokio-tungstenite, each phase under its timeout.

use futures_util::StreamExt;
use hypersockets_core::{
    BoxFuture, ConnectRequest, Connection, HyperSocketError, Result, TcpKeepalive, Transport,
    TransportLimits,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::WebSocketStream;
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::client::Request;
use tungstenite::http::{HeaderName, HeaderValue};
use tungstenite::protocol::{Role, WebSocketConfig};

use crate::close_watch::{CloseWatch, SentCloseCode};
use crate::connection::{ReceiveHalf, SendHalf};
use crate::error::map_handshake_error;
use crate::linger::Linger;
use crate::tls::{self, TlsConfig};
use crate::upgrade_stream::UpgradeStream;

/// Connects with tokio-tungstenite over TCP, and over TLS (rustls) for
/// `wss://`.
///
/// For each connect it:
///
/// 1. opens TCP to the URL's host and port (80 for `ws://`, 443 for
///    `wss://` unless the URL names one) and sets `TCP_NODELAY`, so small
///    messages (subscriptions, pongs, orders) leave at once, and the
///    request's OS TCP keepalive (`SO_KEEPALIVE`, on by default);
///    with a [`Proxy`](hypersockets_core::Proxy) in the request, it opens
///    TCP to the proxy instead (same socket options) and asks it for a
///    tunnel to the URL's host and port: HTTP `CONNECT` (with
///    `Proxy-Authorization: Basic` when the proxy has credentials; the
///    answer's headers are capped at 8 KiB) or SOCKS5 (with RFC 1929
///    username/password when it has credentials);
/// 2. for `wss://`, runs the TLS handshake with rustls (the *ring* crypto
///    provider), checking the certificate against the URL's host, a DNS name
///    or an IP address, and the roots of its [`TlsConfig`];
/// 3. runs the WebSocket handshake with the request's headers, then enforces
///    the request's size limits on every frame and message.
///
/// TCP, the proxy's negotiation and TLS together must finish within the
/// request's `connect_timeout`,
/// and the WebSocket handshake within its `handshake_timeout` (tungstenite
/// has neither); when one passes, connect fails with
/// [`HyperSocketError::Timeout`] whose `operation` is `"connect"` or
/// `"handshake"`. Certificate, protocol and alert failures are
/// [`HyperSocketError::Tls`], with the rustls error as the source. A proxy
/// that cannot be reached, or refuses or fails the tunnel, is
/// [`HyperSocketError::Proxy`] (fatal for refused credentials).
///
/// The trusted roots default to those the crate features enable: Mozilla's
/// (`TlsConfig::webpki_roots`, feature `rustls-webpki-roots`, on by
/// default), else the OS store (feature `rustls-native-roots`); with
/// neither, a `wss://` connect fails with
/// [`HyperSocketError::InvalidConfiguration`] for the setting `tls` unless
/// [`tls`](Self::tls) gives given roots
/// ([`TlsConfig::with_root_certificates`]) or a complete rustls
/// configuration ([`TlsConfig::custom`]). No tungstenite type appears in its
/// API.
///
/// ```no_run
/// # #[cfg(feature = "rustls-native-roots")]
/// # async fn run() -> hypersockets_core::Result<()> {
/// use hypersockets_core::{ConnectRequest, Transport};
/// use hypersockets_transport::{TlsConfig, TungsteniteTransport};
///
/// let transport = TungsteniteTransport::new().tls(TlsConfig::native_roots()?);
/// let connection = transport
///     .connect(ConnectRequest::new("wss://stream.example.com:9443/ws"))
///     .await?;
/// # drop(connection);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct TungsteniteTransport {
    /// `None`: the roots the crate features enable, resolved at connect.
    tls: Option<TlsConfig>,
}

impl TungsteniteTransport {
    /// A transport with default settings: for `wss://`, the roots the crate
    /// features enable (Mozilla's by default).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets which certificates `wss://` connects trust (default: the roots
    /// the crate features enable).
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The TLS settings given with [`tls`](Self::tls); `None` when the
    /// crate features decide.
    pub fn tls_config(&self) -> Option<&TlsConfig> {
        self.tls.as_ref()
    }
}

impl Transport for TungsteniteTransport {
    fn connect(&self, request: ConnectRequest) -> BoxFuture<'static, Result<Connection>> {
        Box::pin(connect(request, self.tls.clone()))
    }
}

fn websocket_config(limits: &TransportLimits) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(limits.max_message_size))
        .max_frame_size(Some(limits.max_frame_size))
        .write_buffer_size(limits.write_buffer_size)
        .max_write_buffer_size(limits.max_write_buffer_size)
}

async fn connect(request: ConnectRequest, tls: Option<TlsConfig>) -> Result<Connection> {
    let http_request = client_request(&request)?;
    let uri = http_request.uri().clone();
    let secure = match uri.scheme_str() {
        Some("ws") => false,
        Some("wss") => true,
        _ => {
            return Err(HyperSocketError::invalid_config(
                "url",
                "scheme must be ws:// or wss://",
            ));
        }
    };
    let host = uri
        .host()
        .ok_or_else(|| HyperSocketError::invalid_config("url", "missing host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });

    let connect_timeout = request.connect_timeout;
    let timed_out = |_| HyperSocketError::timeout("connect", connect_timeout);
    if secure {
        // Before any network: without roots there is nothing to connect for.
        let tls = match tls {
            Some(tls) => tls,
            None => TlsConfig::from_features()?,
        };
        let stream = timeout(connect_timeout, async {
            let tcp = open_tcp(&request, &host, port).await?;
            tls::handshake(&tls, &host, tcp).await
        })
        .await
        .map_err(timed_out)??;
        websocket(http_request, stream, &request).await
    } else {
        let tcp = timeout(connect_timeout, open_tcp(&request, &host, port))
            .await
            .map_err(timed_out)??;
        websocket(http_request, tcp, &request).await
    }
}

/// The handshake request: the URL and the request's headers.
pub(crate) fn client_request(request: &ConnectRequest) -> Result<Request> {
    let mut http_request = request
        .url
        .as_str()
        .into_client_request()
        // Every failure here is the URL's fault (unparsable, no host): a
        // configuration error, not a retryable handshake error.
        .map_err(|e| HyperSocketError::invalid_config("url", e.to_string()))?;
    for (name, value) in &request.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| HyperSocketError::invalid_config("headers", e.to_string()))?;
        let value = HeaderValue::from_str(value)
            .map_err(|e| HyperSocketError::invalid_config("headers", e.to_string()))?;
        http_request.headers_mut().append(name, value);
    }
    Ok(http_request)
}

/// TCP to `host:port`, directly or through the request's proxy.
async fn open_tcp(request: &ConnectRequest, host: &str, port: u16) -> Result<TcpStream> {
    match &request.proxy {
        Some(proxy) => crate::proxy::tunnel(proxy, host, port, request.tcp_keepalive).await,
        None => tcp_connect(host, port, request.tcp_keepalive).await,
    }
}

/// TCP to `host:port`, with `TCP_NODELAY` set and OS keepalive as asked.
pub(crate) async fn tcp_connect(
    host: &str,
    port: u16,
    keepalive: Option<TcpKeepalive>,
) -> Result<TcpStream> {
    let tcp = TcpStream::connect((host, port)).await?;
    tcp.set_nodelay(true)?;
    if let Some(keepalive) = keepalive {
        set_keepalive(&tcp, &keepalive)?;
    }
    Ok(tcp)
}

/// `SO_KEEPALIVE` with the idle time, and the probe interval and count
/// where the OS lets a socket set them (elsewhere its own values apply).
fn set_keepalive(tcp: &TcpStream, keepalive: &TcpKeepalive) -> std::io::Result<()> {
    let params = socket2::TcpKeepalive::new().with_time(keepalive.idle);
    #[cfg(any(
        target_os = "android",
        target_os = "freebsd",
        target_os = "ios",
        target_os = "linux",
        target_os = "macos",
        target_os = "netbsd",
        target_os = "windows",
    ))]
    let params = params
        .with_interval(keepalive.interval)
        .with_retries(keepalive.retries);
    socket2::SockRef::from(tcp).set_tcp_keepalive(&params)
}

/// The WebSocket handshake over an open stream (TCP or TLS), under the
/// handshake timeout, and the connection's two halves.
pub(crate) async fn websocket<S>(
    http_request: Request,
    stream: S,
    request: &ConnectRequest,
) -> Result<Connection>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let config = websocket_config(&request.limits);
    let (mut ws, response) = timeout(
        request.handshake_timeout,
        tokio_tungstenite::client_async_with_config(
            http_request,
            // Closed gracefully when dropped, so our Close frame reaches the
            // peer even with its bytes still unread here (see `linger.rs`).
            UpgradeStream::new(Linger::new(stream)),
            Some(config),
        ),
    )
    .await
    .map_err(|_| HyperSocketError::timeout("handshake", request.handshake_timeout))?
    .map_err(map_handshake_error)?;
    // No URL here: its path or query may carry a listen key (the client's span names the host).
    tracing::debug!(
        status = response.status().as_u16(),
        "websocket handshake done"
    );

    // The same connection, its frame codec rebuilt with a full-size read
    // buffer (see `upgrade_stream.rs`), with whatever followed the response.
    match ws.get_mut().take_back() {
        Some((stream, after_response)) => {
            let mut read_ahead =
                Vec::with_capacity(config.read_buffer_size.max(after_response.len()));
            read_ahead.extend_from_slice(&after_response);
            // Follows the frames for the server's real close code (see
            // `close_watch.rs`).
            let sent = SentCloseCode::default();
            let stream = CloseWatch::new(stream, &read_ahead, sent.clone());
            let ws = WebSocketStream::from_partially_read(
                stream,
                read_ahead,
                Role::Client,
                Some(config),
            )
            .await;
            Ok(halves(ws, Some(sent)))
        }
        None => Ok(halves(ws, None)),
    }
}

fn halves<S>(ws: WebSocketStream<S>, sent: Option<SentCloseCode>) -> Connection
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sink, stream) = ws.split();
    Connection::new(
        Box::pin(SendHalf::new(sink)),
        Box::pin(ReceiveHalf::new(stream, sent)),
    )
}
