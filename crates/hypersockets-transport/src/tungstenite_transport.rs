//! The real transport: TCP (with TCP_NODELAY) and the WebSocket handshake
//! via tokio-tungstenite, each under its own timeout.

use futures_util::StreamExt;
use hypersockets_core::{
    BoxFuture, ConnectRequest, Connection, HyperSocketError, Result, Transport, TransportLimits,
};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tungstenite::client::IntoClientRequest;
use tungstenite::http::{HeaderName, HeaderValue};
use tungstenite::protocol::WebSocketConfig;

use crate::connection::{ReceiveHalf, SendHalf};
use crate::error::map_error;

/// Connects with tokio-tungstenite over TCP.
///
/// Applies the request's connect and handshake timeouts (tungstenite has
/// neither), sets `TCP_NODELAY`, sends the request's headers and enforces its
/// size limits. Supports `ws://` URLs; `wss://` is refused with an
/// [`InvalidConfiguration`](HyperSocketError::InvalidConfiguration) error
/// until TLS support lands.
///
/// ```no_run
/// # async fn run() -> hypersockets_core::Result<()> {
/// use hypersockets_core::{ConnectRequest, Transport};
/// use hypersockets_transport::TungsteniteTransport;
///
/// let connection = TungsteniteTransport::new()
///     .connect(ConnectRequest::new("ws://127.0.0.1:9001/ws"))
///     .await?;
/// # drop(connection);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct TungsteniteTransport {}

impl TungsteniteTransport {
    /// A transport with default settings.
    pub fn new() -> Self {
        Self {}
    }
}

impl Transport for TungsteniteTransport {
    fn connect(&self, request: ConnectRequest) -> BoxFuture<'static, Result<Connection>> {
        Box::pin(connect(request))
    }
}

fn websocket_config(limits: &TransportLimits) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(limits.max_message_size))
        .max_frame_size(Some(limits.max_frame_size))
        .write_buffer_size(limits.write_buffer_size)
        .max_write_buffer_size(limits.max_write_buffer_size)
}

async fn connect(request: ConnectRequest) -> Result<Connection> {
    let mut http_request = request
        .url
        .as_str()
        .into_client_request()
        // Every failure here is the URL's fault (unparsable, no host): a
        // configuration error, not a retryable handshake error.
        .map_err(|e| HyperSocketError::invalid_config("url", e.to_string()))?;
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
    if secure {
        return Err(HyperSocketError::invalid_config(
            "url",
            "wss:// is not supported by this transport yet",
        ));
    }
    let host = uri
        .host()
        .ok_or_else(|| HyperSocketError::invalid_config("url", "missing host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(80);

    for (name, value) in &request.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| HyperSocketError::invalid_config("headers", e.to_string()))?;
        let value = HeaderValue::from_str(value)
            .map_err(|e| HyperSocketError::invalid_config("headers", e.to_string()))?;
        http_request.headers_mut().append(name, value);
    }

    let tcp = timeout(
        request.connect_timeout,
        TcpStream::connect((host.as_str(), port)),
    )
    .await
    .map_err(|_| HyperSocketError::timeout("connect", request.connect_timeout))??;
    tcp.set_nodelay(true)?;

    let config = websocket_config(&request.limits);
    let (ws, response) = timeout(
        request.handshake_timeout,
        tokio_tungstenite::client_async_with_config(http_request, tcp, Some(config)),
    )
    .await
    .map_err(|_| HyperSocketError::timeout("handshake", request.handshake_timeout))?
    .map_err(|error| match map_error(error) {
        // A garbled answer to the upgrade request is a failed handshake.
        HyperSocketError::WebSocket(source) => HyperSocketError::Handshake {
            status: None,
            source: Some(source),
        },
        other => other,
    })?;
    tracing::debug!(url = %request.url, status = response.status().as_u16(), "websocket handshake done");

    let (sink, stream) = ws.split();
    Ok(Connection::new(
        Box::pin(SendHalf::new(sink)),
        Box::pin(ReceiveHalf::new(stream)),
    ))
}
