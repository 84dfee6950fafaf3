//! What the transport offers for permessage-deflate.

/// The permessage-deflate (RFC 7692) offer a [`SokettoTransport`] makes,
/// given with [`SokettoTransport::permessage_deflate`].
///
/// The defaults suit a feed: the server keeps its compression window from
/// message to message (context takeover), which is where the gain on
/// small, similar JSON messages comes from, and its window may be the
/// largest (32 KiB); we ask to reset our own window after each message we
/// send (`client_no_context_takeover`), since we send little and the
/// server can then forget our window too.
///
/// Received messages are always inflated with a 32 KiB window, enough for
/// any window the server picks. Our messages are compressed with the
/// window the server allows; where it allows only 256 bytes
/// (`client_max_window_bits=8`, which zlib cannot produce) they are sent
/// uncompressed, as RFC 7692 lets a sender do with any message.
///
/// ```
/// use hypersockets::{PerMessageDeflate, SokettoTransport};
///
/// let deflate = PerMessageDeflate::new()
///     // Ask the server to compress each message on its own (less memory
///     // for both sides, a worse ratio on small messages).
///     .server_no_context_takeover(true)
///     // And with a window of at most 2^12 bytes.
///     .server_max_window_bits(Some(12));
/// let transport = SokettoTransport::new().permessage_deflate(Some(deflate));
/// assert_eq!(transport.permessage_deflate_config(), Some(&deflate));
/// ```
///
/// [`SokettoTransport`]: crate::SokettoTransport
/// [`SokettoTransport::permessage_deflate`]: crate::SokettoTransport::permessage_deflate
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PerMessageDeflate {
    pub(crate) server_no_context_takeover: bool,
    pub(crate) client_no_context_takeover: bool,
    pub(crate) server_max_window_bits: Option<u8>,
    pub(crate) client_max_window_bits: Option<u8>,
}

impl Default for PerMessageDeflate {
    fn default() -> Self {
        Self {
            server_no_context_takeover: false,
            client_no_context_takeover: true,
            server_max_window_bits: None,
            client_max_window_bits: None,
        }
    }
}

impl PerMessageDeflate {
    /// The default offer: `permessage-deflate; client_no_context_takeover;
    /// client_max_window_bits`.
    ///
    /// ```
    /// use hypersockets::PerMessageDeflate;
    ///
    /// assert_eq!(PerMessageDeflate::new(), PerMessageDeflate::default());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the server to compress each message with a fresh window
    /// (`server_no_context_takeover`; default `false`). A server that
    /// accepts the offer must agree, or the connection fails.
    ///
    /// ```
    /// use hypersockets::PerMessageDeflate;
    ///
    /// let deflate = PerMessageDeflate::new().server_no_context_takeover(true);
    /// # assert_ne!(deflate, PerMessageDeflate::new());
    /// ```
    pub fn server_no_context_takeover(mut self, on: bool) -> Self {
        self.server_no_context_takeover = on;
        self
    }

    /// Resets our compression window after each message we send, and says
    /// so in the offer (`client_no_context_takeover`; default `true`).
    /// With `false` our window is kept, unless the server asks otherwise:
    /// better ratios on what we send, and about 256 KiB more memory for the
    /// connection's compressor.
    ///
    /// ```
    /// use hypersockets::PerMessageDeflate;
    ///
    /// let deflate = PerMessageDeflate::new().client_no_context_takeover(false);
    /// # assert_ne!(deflate, PerMessageDeflate::new());
    /// ```
    pub fn client_no_context_takeover(mut self, on: bool) -> Self {
        self.client_no_context_takeover = on;
        self
    }

    /// Asks the server to compress with a window of at most 2^`bits` bytes
    /// (`server_max_window_bits`, 8 to 15; default `None`: the server's
    /// choice, up to 15). A server that accepts must answer with the same
    /// or a smaller value. A value outside 8 to 15 fails the connect with
    /// `InvalidConfiguration`.
    ///
    /// ```
    /// use hypersockets::PerMessageDeflate;
    ///
    /// let deflate = PerMessageDeflate::new().server_max_window_bits(Some(10));
    /// # assert_ne!(deflate, PerMessageDeflate::new());
    /// ```
    pub fn server_max_window_bits(mut self, bits: Option<u8>) -> Self {
        self.server_max_window_bits = bits;
        self
    }

    /// Promises to compress with a window of at most 2^`bits` bytes
    /// (`client_max_window_bits=bits`, 8 to 15; default `None`: offered
    /// without a value, so the server may pick any). A value outside 8 to
    /// 15 fails the connect with `InvalidConfiguration`.
    ///
    /// ```
    /// use hypersockets::PerMessageDeflate;
    ///
    /// let deflate = PerMessageDeflate::new().client_max_window_bits(Some(9));
    /// # assert_ne!(deflate, PerMessageDeflate::new());
    /// ```
    pub fn client_max_window_bits(mut self, bits: Option<u8>) -> Self {
        self.client_max_window_bits = bits;
        self
    }
}
