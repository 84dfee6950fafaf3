//! Entry points for the fuzz targets in `fuzz/`: the transport's own code
//! over any byte stream. Not part of the API; hidden from the docs.

use hypersockets_core::{ConnectRequest, Connection, Result};
use tokio::io::{AsyncRead, AsyncWrite};

pub use crate::upgrade_stream::UpgradeStream;

/// The WebSocket handshake and the connection over `stream`, exactly as
/// [`TungsteniteTransport`](crate::TungsteniteTransport) runs them over a
/// TCP or TLS stream.
///
/// # Errors
///
/// As `TungsteniteTransport::connect`, after the TCP connect.
pub async fn connect_over<S>(stream: S, request: ConnectRequest) -> Result<Connection>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = request.limits;
    let upgraded = crate::upgrade::upgrade_over(stream, request).await?;
    Ok(crate::tungstenite_transport::connection(upgraded, limits).await)
}
