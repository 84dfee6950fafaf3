//! The real transport: TCP (with TCP_NODELAY), through a proxy when asked,
//! TLS with rustls for `wss://`, then the WebSocket handshake via
//! tokio-tungstenite, each phase under its timeout.

use futures_util::StreamExt;
use hypersockets_core::{
    BoxFuture, ConnectRequest, Connection, Result, Transport, TransportLimits,
};
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::Role;

use crate::close_watch::{CloseWatch, SentCloseCode};
use crate::connection::{ReceiveHalf, SendHalf};
use crate::tls::TlsConfig;
use crate::upgrade::{Upgraded, upgrade, websocket_config};

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
/// Read buffer: each connection reads into a buffer of
/// `TransportLimits::read_buffer_size` (16 KiB by default), at most that
/// much per read. tungstenite fixes both when the connection starts and
/// zeroes the buffer before every read, so all of it stays resident: it is
/// the connection's read cost when idle. A frame larger than the buffer
/// still arrives whole (up to `max_frame_size`): the buffer grows to hold
/// it, and keeps that size for the rest of the connection (tungstenite
/// cannot shrink it). `max_read_buffer_size` does not apply: tungstenite
/// cannot grow its reads with the traffic (the soketto transport does).
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
///
/// [`HyperSocketError::Timeout`]: hypersockets_core::HyperSocketError::Timeout
/// [`HyperSocketError::Tls`]: hypersockets_core::HyperSocketError::Tls
/// [`HyperSocketError::Proxy`]: hypersockets_core::HyperSocketError::Proxy
/// [`HyperSocketError::InvalidConfiguration`]: hypersockets_core::HyperSocketError::InvalidConfiguration
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

async fn connect(request: ConnectRequest, tls: Option<TlsConfig>) -> Result<Connection> {
    let limits = request.limits;
    let upgraded = upgrade(request, tls).await?;
    Ok(connection(upgraded, limits).await)
}

/// tungstenite's codec over an upgraded socket, as our two halves.
pub(crate) async fn connection(upgraded: Upgraded, limits: TransportLimits) -> Connection {
    let Upgraded {
        socket, read_ahead, ..
    } = upgraded;
    let config = websocket_config(&limits);
    // The frame codec built afresh with a full-size read buffer (see
    // `upgrade_stream.rs`), starting with what followed the answer.
    let mut buffer = Vec::with_capacity(config.read_buffer_size.max(read_ahead.len()));
    buffer.extend_from_slice(&read_ahead);
    // Follows the frames for the server's real close code (see
    // `close_watch.rs`).
    let sent = SentCloseCode::default();
    let socket = CloseWatch::new(socket, &buffer, sent.clone());
    let ws = WebSocketStream::from_partially_read(socket, buffer, Role::Client, Some(config)).await;
    let (sink, stream) = ws.split();
    Connection::new(
        Box::pin(SendHalf::new(sink)),
        Box::pin(ReceiveHalf::new(stream, sent)),
    )
}
