//! Half-open detection with protocol Pings, as python-websockets does it.

use std::time::Duration;

/// Finds a dead connection with WebSocket protocol Pings: when nothing has
/// been received for `interval`, the client sends a Ping; when nothing at
/// all (the Pong, or any other frame) arrives within `timeout` more, the
/// connection is dead
/// ([`DisconnectReason::LivenessTimeout`](crate::DisconnectReason::LivenessTimeout),
/// with `interval + timeout`) and the client reconnects.
///
/// On by default (20 s and 20 s, python-websockets' values), because a
/// peer that vanished without a FIN or RST (a crashed host, a dropped NAT
/// entry, a cable pulled) otherwise looks open forever. Every server
/// answers protocol Pings (RFC 6455 requires it), and a busy feed never
/// sees one: any received frame restarts the wait. Turn it off with
/// [`no_protocol_ping`](crate::WebSocketClientBuilder::no_protocol_ping).
/// Silence is checked every quarter of the shorter of the two, so the
/// Ping and the verdict each come up to that much later.
///
/// ```
/// use std::time::Duration;
/// use hypersockets::ProtocolPing;
///
/// let ping = ProtocolPing::default();
/// assert_eq!(ping.interval, Duration::from_secs(20));
/// assert_eq!(ping.timeout, Duration::from_secs(20));
/// let eager = ProtocolPing::default().interval(Duration::from_secs(5));
/// assert_eq!(eager.interval, Duration::from_secs(5));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProtocolPing {
    /// Silence before a Ping is sent. Default: 20 s.
    pub interval: Duration,
    /// Further silence, after the Ping, before the connection is dead.
    /// Default: 20 s.
    pub timeout: Duration,
}

impl Default for ProtocolPing {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(20),
            timeout: Duration::from_secs(20),
        }
    }
}

impl ProtocolPing {
    /// Sets the silence before a Ping (default 20 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use hypersockets::ProtocolPing;
    /// assert_eq!(ProtocolPing::default().interval(Duration::from_secs(10)).interval, Duration::from_secs(10));
    /// ```
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets how long to wait for any frame after the Ping (default 20 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use hypersockets::ProtocolPing;
    /// assert_eq!(ProtocolPing::default().timeout(Duration::from_secs(5)).timeout, Duration::from_secs(5));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}
