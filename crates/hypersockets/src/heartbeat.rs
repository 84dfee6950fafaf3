//! The client's own application-level keepalive.

use std::time::Duration;

use hypersockets_core::WsMessage;

/// An application ping the client sends every `interval` (e.g. OKX's text
/// `ping`, Bybit's `{"op":"ping"}`).
///
/// When `reply` is set, received messages equal to it are taken as the
/// answer and never parsed or routed. Whether the connection is alive is
/// judged by the client's liveness timeout
/// ([`liveness_timeout`](crate::WebSocketClientBuilder::liveness_timeout)),
/// which must be longer than the interval.
///
/// ```
/// use std::time::Duration;
/// use hypersockets::{Heartbeat, WsMessage};
///
/// let okx = Heartbeat::new(Duration::from_secs(20), WsMessage::text("ping"))
///     .reply(WsMessage::text("pong"));
/// assert_eq!(okx.interval, Duration::from_secs(20));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Heartbeat {
    /// How often to send it.
    pub interval: Duration,
    /// What to send.
    pub message: WsMessage,
    /// The answer to consume, if the server sends one. Default: none.
    pub reply: Option<WsMessage>,
}

impl Heartbeat {
    /// Sends `message` every `interval`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hypersockets::{Heartbeat, WsMessage};
    ///
    /// let bybit = Heartbeat::new(Duration::from_secs(20), r#"{"op":"ping"}"#);
    /// assert_eq!(bybit.message, WsMessage::text(r#"{"op":"ping"}"#));
    /// assert_eq!(bybit.reply, None); // its answers are parsed and routed
    /// ```
    pub fn new(interval: Duration, message: impl Into<WsMessage>) -> Self {
        Self {
            interval,
            message: message.into(),
            reply: None,
        }
    }

    /// Consumes received messages equal to `reply` (default: none).
    ///
    /// ```
    /// use std::time::Duration;
    /// use hypersockets::{Heartbeat, WsMessage};
    ///
    /// let okx = Heartbeat::new(Duration::from_secs(20), "ping").reply("pong");
    /// assert_eq!(okx.reply, Some(WsMessage::text("pong")));
    /// ```
    pub fn reply(mut self, reply: impl Into<WsMessage>) -> Self {
        self.reply = Some(reply.into());
        self
    }
}
