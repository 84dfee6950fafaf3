//! The transport: the shared upgrade, the extension's negotiation, then
//! soketto's frame codec.

use hypersockets_core::{
    BoxFuture, ConnectRequest, Connection, HyperSocketError, Result, Transport,
};
use hypersockets_transport::TlsConfig;
use hypersockets_transport::upgrade::upgrade;

use crate::config::PerMessageDeflate;
use crate::connection::connection;
use crate::negotiate;

/// The handshake header that offers and accepts extensions.
const EXTENSIONS: &str = "Sec-WebSocket-Extensions";

/// Connects like [`TungsteniteTransport`] — the same TCP, proxies, TLS,
/// timeouts and typed handshake errors, through the same code — then
/// reads and writes frames with soketto's frame codec, and can negotiate
/// permessage-deflate (RFC 7692).
///
/// permessage-deflate is off by default: [`new`](Self::new) offers no
/// extension, and the connection is then the same on the wire as
/// tungstenite's. Turn it on with
/// [`permessage_deflate`](Self::permessage_deflate). Why off: it costs
/// CPU on every message received (inflating) and memory on every
/// connection (a 32 KiB window and the inflater's state, more once we
/// send); a venue that does not compress gains nothing; and a venue whose
/// answer to the offer breaks RFC 7692 fails the connection, which a user
/// who did not ask for compression should never meet.
///
/// With it on, the offer goes out in `Sec-WebSocket-Extensions` and the
/// server's answer is checked: an extension that was not offered, a
/// parameter that is unknown, repeated, malformed or over what was
/// offered, fails the connect with [`HyperSocketError::Handshake`] (its
/// source says which). A server that declines leaves the connection
/// uncompressed. Compressed messages are inflated up to
/// `TransportLimits::max_message_size` and no further: a message that
/// inflates past it fails the connection with
/// [`HyperSocketError::MessageTooLarge`] (the client answers 1009), with
/// no more memory than the limit spent on it.
///
/// The connection's semantics are those of [`TungsteniteTransport`]:
/// Pings are answered at once and handed on, the server's Close is
/// answered (its code echoed), handed on, and ends the stream; a server
/// that vanishes without one ends it with
/// [`HyperSocketError::ConnectionClosed`]; limits are enforced before a
/// frame's payload is read. The request may not set
/// `Sec-WebSocket-Extensions` itself
/// ([`HyperSocketError::InvalidConfiguration`]): the transport sets it.
///
/// Its read buffer follows the traffic: reads start at
/// `TransportLimits::read_buffer_size` (16 KiB by default); while they keep
/// filling the buffer, the next buffer doubles, up to
/// `TransportLimits::max_read_buffer_size` (128 KiB); a frame larger than
/// that gets room of its own; once the socket has nothing more to give,
/// reads go back to the starting size and a larger buffer is let go (freed
/// with the last message cut from it). An idle connection keeps at most
/// `read_buffer_size` for reading, whatever came before.
///
/// ```no_run
/// # async fn run() -> hypersockets::Result<()> {
/// use hypersockets::{ConnectRequest, PerMessageDeflate, SokettoTransport, Transport};
///
/// let transport = SokettoTransport::new().permessage_deflate(Some(PerMessageDeflate::new()));
/// let connection = transport
///     .connect(ConnectRequest::new("wss://ws.example.com/feed"))
///     .await?;
/// # drop(connection);
/// # Ok(())
/// # }
/// ```
///
/// [`TungsteniteTransport`]: https://docs.rs/hypersockets/latest/hypersockets/struct.TungsteniteTransport.html
#[derive(Clone, Debug, Default)]
pub struct SokettoTransport {
    /// `None`: the roots the transport crate's features enable.
    tls: Option<TlsConfig>,
    /// `None`: no extension offered.
    deflate: Option<PerMessageDeflate>,
}

impl SokettoTransport {
    /// A transport with default settings: no extension offered, and for
    /// `wss://` the roots the features enable (Mozilla's by default).
    ///
    /// ```
    /// use hypersockets::SokettoTransport;
    ///
    /// let transport = SokettoTransport::new();
    /// assert!(transport.permessage_deflate_config().is_none());
    /// assert!(transport.tls_config().is_none());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets which certificates `wss://` connects trust (default: the roots
    /// the features enable).
    ///
    /// ```no_run
    /// use hypersockets::{SokettoTransport, TlsConfig};
    ///
    /// let transport = SokettoTransport::new().tls(TlsConfig::webpki_roots());
    /// # assert!(transport.tls_config().is_some());
    /// ```
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The TLS settings given with [`tls`](Self::tls); `None` when the
    /// features decide.
    ///
    /// ```
    /// use hypersockets::SokettoTransport;
    ///
    /// assert!(SokettoTransport::new().tls_config().is_none());
    /// ```
    pub fn tls_config(&self) -> Option<&TlsConfig> {
        self.tls.as_ref()
    }

    /// Offers permessage-deflate with these parameters, `None` to offer
    /// nothing (default: `None`; see the type's docs for why).
    ///
    /// ```
    /// use hypersockets::{PerMessageDeflate, SokettoTransport};
    ///
    /// let transport = SokettoTransport::new().permessage_deflate(Some(PerMessageDeflate::new()));
    /// assert_eq!(transport.permessage_deflate_config(), Some(&PerMessageDeflate::new()));
    /// ```
    pub fn permessage_deflate(mut self, deflate: Option<PerMessageDeflate>) -> Self {
        self.deflate = deflate;
        self
    }

    /// The permessage-deflate offer; `None` when nothing is offered.
    ///
    /// ```
    /// use hypersockets::SokettoTransport;
    ///
    /// assert_eq!(SokettoTransport::new().permessage_deflate_config(), None);
    /// ```
    pub fn permessage_deflate_config(&self) -> Option<&PerMessageDeflate> {
        self.deflate.as_ref()
    }
}

impl Transport for SokettoTransport {
    fn connect(&self, request: ConnectRequest) -> BoxFuture<'static, Result<Connection>> {
        Box::pin(connect(request, self.tls.clone(), self.deflate))
    }
}

async fn connect(
    mut request: ConnectRequest,
    tls: Option<TlsConfig>,
    deflate: Option<PerMessageDeflate>,
) -> Result<Connection> {
    if request
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case(EXTENSIONS))
    {
        return Err(HyperSocketError::invalid_config(
            "headers",
            "sec-websocket-extensions is set by the transport",
        ));
    }
    if let Some(deflate) = &deflate {
        negotiate::check_window_bits(
            "permessage_deflate.server_max_window_bits",
            deflate.server_max_window_bits,
        )?;
        negotiate::check_window_bits(
            "permessage_deflate.client_max_window_bits",
            deflate.client_max_window_bits,
        )?;
        request = request.header(EXTENSIONS, negotiate::offer(deflate));
    }
    let limits = request.limits;
    let upgraded = upgrade(request, tls).await?;
    let negotiated = negotiate::accept(deflate.as_ref(), upgraded.extensions())?;
    tracing::debug!(permessage_deflate = ?negotiated, "extensions negotiated");
    Ok(connection(upgraded, limits, negotiated))
}
