//! Connects as the default transport does, then reads and writes frames
//! with tokio-websockets.

use futures_util::StreamExt;
use hypersockets_core::{
    BoxFuture, ConnectRequest, Connection, Result, Transport, TransportLimits,
};
use hypersockets_transport::TlsConfig;
use hypersockets_transport::upgrade::{CloseWatch, SentCloseCode, upgrade};
use tokio_websockets::{ClientBuilder, Config, Limits};

use crate::connection::{ReceiveHalf, SendHalf};

/// Connects like [`TungsteniteTransport`] (TCP with `TCP_NODELAY` and
/// keepalive, the request's proxy, TLS with rustls for `wss://`, the
/// handshake with the request's headers, under the same timeouts and with
/// the same typed errors), then runs the connection on tokio-websockets'
/// frame codec.
///
/// Limits: a message (one frame or reassembled fragments) longer than the
/// request's `max_message_size`, or a frame longer than its
/// `max_frame_size`, fails with [`HyperSocketError::MessageTooLarge`] and is
/// answered with a Close frame (1009), as with the default transport.
/// Outgoing messages longer than `max_frame_size` are split into frames of
/// that size; the sending half flushes once `write_buffer_size` bytes wait,
/// and waits for the socket (back-pressure) rather than buffer more.
///
/// Read buffer: tokio-websockets reads through tokio-util's `FramedRead`,
/// whose buffer starts at 8 KiB, takes what the socket has up to its spare
/// room, and grows to hold a frame larger than that; it offers no way to
/// size it, so `TransportLimits::read_buffer_size` and
/// `max_read_buffer_size` do not apply here. After a large frame the
/// buffer keeps its size for the rest of the connection.
///
/// [`TungsteniteTransport`]: hypersockets_transport::TungsteniteTransport
/// [`HyperSocketError::MessageTooLarge`]: hypersockets_core::HyperSocketError::MessageTooLarge
///
/// ```no_run
/// # async fn run() -> hypersockets_core::Result<()> {
/// use hypersockets_core::{ConnectRequest, Transport};
/// use hypersockets_transport_tokio_websockets::TokioWebsocketsTransport;
///
/// let transport = TokioWebsocketsTransport::new();
/// let connection = transport
///     .connect(ConnectRequest::new("wss://stream.example.com:9443/ws"))
///     .await?;
/// # drop(connection);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct TokioWebsocketsTransport {
    /// `None`: the roots the transport crate's features enable.
    tls: Option<TlsConfig>,
}

impl TokioWebsocketsTransport {
    /// A transport with default settings: for `wss://`, the roots the
    /// features enable (Mozilla's by default).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets which certificates `wss://` connects trust (default: the roots
    /// the features enable).
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The TLS settings given with [`tls`](Self::tls); `None` when the
    /// features decide.
    pub fn tls_config(&self) -> Option<&TlsConfig> {
        self.tls.as_ref()
    }
}

impl Transport for TokioWebsocketsTransport {
    fn connect(&self, request: ConnectRequest) -> BoxFuture<'static, Result<Connection>> {
        Box::pin(connect(request, self.tls.clone()))
    }
}

async fn connect(request: ConnectRequest, tls: Option<TlsConfig>) -> Result<Connection> {
    let limits = request.limits;
    let upgraded = upgrade(request, tls).await?;
    // Follows the frames for the server's close code, which the codec does
    // not report when it refuses it, and holds frames to `max_frame_size`,
    // which the codec does not know (it limits messages).
    let sent = SentCloseCode::default();
    let socket = CloseWatch::new(upgraded, &[], sent.clone()).max_frame_size(limits.max_frame_size);
    let (sink, stream) = ClientBuilder::new()
        .config(config(&limits))
        .limits(Limits::default().max_payload_len(Some(limits.max_message_size)))
        .take_over(socket)
        .split();
    Ok(Connection::new(
        Box::pin(SendHalf::new(sink)),
        Box::pin(ReceiveHalf::new(stream, sent)),
    ))
}

fn config(limits: &TransportLimits) -> Config {
    Config::default()
        // Zero would make the codec panic; no frame can be empty anyway.
        .frame_size(limits.max_frame_size.max(1))
        .flush_threshold(limits.write_buffer_size)
}
