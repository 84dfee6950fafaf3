//! Everything before the first frame: TCP (through a proxy when asked), TLS
//! for `wss://`, and the HTTP upgrade, each under its timeout.
//!
//! **For the transport crates of this workspace; no semver promise.**
//! Hidden from the documentation. Every transport shares this one path, so
//! proxies, TLS roots, timeouts, TCP options and the typed answers to a
//! refused upgrade (status, `Retry-After`) are the same whichever codec then
//! reads the frames: tungstenite's here, or another crate's that takes the
//! socket over.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use hypersockets_core::{ConnectRequest, HyperSocketError, Result, TcpKeepalive, TransportLimits};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::client::Request;
use tungstenite::http::{HeaderName, HeaderValue};
use tungstenite::protocol::WebSocketConfig;

pub use crate::close_watch::{CloseWatch, FrameTooLarge, SentCloseCode};
use crate::error::map_handshake_error;
use crate::linger::Linger;
use crate::tls::{self, TlsConfig};
use crate::upgrade_stream::UpgradeStream;

/// A byte stream a connection runs on: TCP, or TLS over TCP.
pub(crate) trait Socket: AsyncRead + AsyncWrite + Unpin + Send {}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Socket for S {}

/// A socket (closed gracefully when dropped: see `linger.rs`), whatever
/// its type.
pub(crate) type BoxedSocket = Box<dyn Socket>;

/// A connection whose WebSocket handshake is done: read it for the frames
/// the server sends, write frames to it.
///
/// Reads yield first the bytes the server sent right after its handshake
/// answer (frames already on their way), then the socket's.
pub struct Upgraded {
    pub(crate) socket: BoxedSocket,
    /// Bytes read past the handshake answer, not yet handed out.
    pub(crate) read_ahead: Vec<u8>,
    /// How many of `read_ahead` were handed out.
    consumed: usize,
    /// The answer's `Sec-WebSocket-Extensions`, its lines joined.
    extensions: Option<String>,
}

impl Upgraded {
    /// The server's `Sec-WebSocket-Extensions` answer (several header
    /// lines joined with `", "`, as RFC 9110 §5.3 allows), `None` when it
    /// named no extension.
    ///
    /// tungstenite does not check this header: a transport that offers an
    /// extension reads the answer here, and must fail the connection when
    /// it names one that was not offered (RFC 6455 §4.1).
    pub fn extensions(&self) -> Option<&str> {
        self.extensions.as_deref()
    }
}

/// Ours from an I/O error on an upgraded socket: TLS failures (rustls
/// errors inside the `io::Error`) become [`HyperSocketError::Tls`], the
/// rest [`HyperSocketError::Io`].
pub fn io_error(error: io::Error) -> HyperSocketError {
    tls::io_error(error)
}

impl std::fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upgraded")
            .field("read_ahead", &(self.read_ahead.len() - self.consumed))
            .field("extensions", &self.extensions)
            .finish_non_exhaustive()
    }
}

impl AsyncRead for Upgraded {
    #[inline]
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.consumed < this.read_ahead.len() {
            let rest = &this.read_ahead[this.consumed..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.consumed += n;
            if this.consumed == this.read_ahead.len() {
                this.read_ahead = Vec::new();
                this.consumed = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.socket).poll_read(cx, buf)
    }
}

impl AsyncWrite for Upgraded {
    #[inline]
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.socket).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.socket).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.socket.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket).poll_shutdown(cx)
    }
}

/// Opens the connection `request` asks for and runs the WebSocket
/// handshake: TCP with `TCP_NODELAY` and the request's keepalive (to the
/// proxy and through it when the request names one), TLS with `tls` for
/// `wss://` (`None`: the roots the crate features enable), then the
/// upgrade with the request's headers.
///
/// TCP, the proxy's negotiation and TLS must finish within the request's
/// `connect_timeout`, the upgrade within its `handshake_timeout`.
///
/// # Errors
///
/// [`HyperSocketError::InvalidConfiguration`] for a bad URL or header, or
/// `wss://` without roots; [`HyperSocketError::Timeout`] (`"connect"` or
/// `"handshake"`); [`HyperSocketError::Proxy`], [`HyperSocketError::Tls`],
/// [`HyperSocketError::Io`]; [`HyperSocketError::Handshake`] for an answer
/// other than `101`, with its status and `Retry-After`.
///
/// # Cancel safety
///
/// Cancelling drops the half-open connection; nothing else is lost.
pub async fn upgrade(request: ConnectRequest, tls: Option<TlsConfig>) -> Result<Upgraded> {
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
        let socket = timeout(connect_timeout, open_tls(&request, &host, port, &tls))
            .await
            .map_err(timed_out)??;
        handshake(http_request, socket, &request).await
    } else {
        let socket = timeout(connect_timeout, open_tcp(&request, &host, port))
            .await
            .map_err(timed_out)??;
        handshake(http_request, socket, &request).await
    }
}

/// The upgrade over `socket`, already open: what [`upgrade`] does after
/// TCP and TLS.
pub(crate) async fn upgrade_over(
    socket: impl Socket + 'static,
    request: ConnectRequest,
) -> Result<Upgraded> {
    handshake(client_request(&request)?, socket, &request).await
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

/// TLS over [`open_tcp`], for `host`.
async fn open_tls(
    request: &ConnectRequest,
    host: &str,
    port: u16,
    tls: &TlsConfig,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = open_tcp(request, host, port).await?;
    tls::handshake(tls, host, tcp).await
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
fn set_keepalive(tcp: &TcpStream, keepalive: &TcpKeepalive) -> io::Result<()> {
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

/// The limits as tungstenite's configuration.
pub(crate) fn websocket_config(limits: &TransportLimits) -> WebSocketConfig {
    // tungstenite reads at most `read_buffer_size` at once, into a buffer
    // of that size that it fills with zeroes before each read (so all of
    // it stays resident), and cannot change either once the codec is
    // built: the starting size is its size for good (see
    // `TungsteniteTransport`).
    let (read_buffer_size, _) = crate::read_buffer::read_sizes(limits);
    WebSocketConfig::default()
        .read_buffer_size(read_buffer_size)
        .max_message_size(Some(limits.max_message_size))
        .max_frame_size(Some(limits.max_frame_size))
        .write_buffer_size(limits.write_buffer_size)
        .max_write_buffer_size(limits.max_write_buffer_size)
}

/// The upgrade over an open socket, under the handshake timeout; the socket
/// and whatever followed the answer.
async fn handshake(
    http_request: Request,
    socket: impl Socket + 'static,
    request: &ConnectRequest,
) -> Result<Upgraded> {
    let (mut ws, response) = timeout(
        request.handshake_timeout,
        tokio_tungstenite::client_async_with_config(
            http_request,
            // Hands tungstenite the answer and not a byte more, so that the
            // socket can be taken back (see `upgrade_stream.rs`).
            // Closed gracefully when dropped, so our Close frame reaches the
            // peer even with its bytes still unread here (see `linger.rs`).
            UpgradeStream::new(Linger::new(socket)),
            Some(websocket_config(&request.limits)),
        ),
    )
    .await
    .map_err(|_| HyperSocketError::timeout("handshake", request.handshake_timeout))?
    .map_err(map_handshake_error)?;
    // No URL here: its path or query may carry a listen key (the client's
    // span names the host).
    tracing::debug!(
        status = response.status().as_u16(),
        "websocket handshake done"
    );
    let extensions = joined_extensions(response.headers());
    let (socket, read_ahead) = ws.get_mut().take_back().ok_or_else(|| {
        // `UpgradeStream` never hands tungstenite a byte past the answer.
        HyperSocketError::handshake(std::sync::Arc::new(io::Error::other(
            "handshake read past the server's answer",
        )))
    })?;
    Ok(Upgraded {
        socket: Box::new(socket),
        read_ahead,
        consumed: 0,
        extensions,
    })
}

/// Every `Sec-WebSocket-Extensions` line of an answer, joined with
/// `", "`; bytes that are not UTF-8 are kept as replacement characters,
/// which no extension parser accepts.
fn joined_extensions(headers: &tungstenite::http::HeaderMap) -> Option<String> {
    let mut lines = headers
        .get_all(tungstenite::http::header::SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .map(|value| String::from_utf8_lossy(value.as_bytes()));
    let first = lines.next()?.into_owned();
    Some(lines.fold(first, |mut all, line| {
        all.push_str(", ");
        all.push_str(&line);
        all
    }))
}
