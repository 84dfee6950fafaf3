//! The error type shared by every HyperSockets crate.

use std::time::Duration;

/// A boxed error that can cross threads: what handlers and providers return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`HyperSocketError`] as the error.
pub type Result<T, E = HyperSocketError> = std::result::Result<T, E>;

/// Everything that can go wrong in HyperSockets.
///
/// A normal close by the peer is not an error: the message stream just ends.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HyperSocketError {
    /// A WebSocket protocol error (bad frame, reserved bits, bad control frame).
    #[error("websocket protocol error")]
    WebSocket(#[source] BoxError),

    /// An I/O error on the socket.
    #[error("i/o error")]
    Io(#[from] std::io::Error),

    /// A TLS error (handshake, certificate, configuration).
    #[error("tls error")]
    Tls(#[source] BoxError),

    /// The WebSocket handshake was refused or failed.
    #[error("handshake failed{}", status.map(|s| format!(" with http status {s}")).unwrap_or_default())]
    Handshake {
        /// The HTTP status the server answered with, when it answered.
        status: Option<u16>,
        /// What went wrong.
        #[source]
        source: Option<BoxError>,
    },

    /// Authentication was rejected or could not be produced.
    #[error("authentication failed: {reason}")]
    Auth {
        /// Why, as the server or the provider put it.
        reason: String,
        /// Whether retrying with the same credentials is pointless.
        fatal: bool,
    },

    /// A received message could not be parsed by the router.
    #[error(transparent)]
    Parse(#[from] ParseError),

    /// A handler returned an error.
    #[error("handler failed")]
    Handler(#[source] BoxError),

    /// A client manager has no client under this key.
    #[error("no client under key {key}")]
    UnknownClient {
        /// The key, as its `Debug` form.
        key: String,
    },

    /// A channel (command, lane or writer queue) is closed.
    #[error("channel closed: {0}")]
    ChannelSend(&'static str),

    /// The connection closed when it was not expected to.
    #[error("connection closed unexpectedly")]
    ConnectionClosed,

    /// Not connected right now, so the message cannot be sent.
    #[error("not connected")]
    NotConnected,

    /// The client has been shut down.
    #[error("client is shut down")]
    ShutDown,

    /// A received text frame was not valid UTF-8.
    #[error("invalid utf-8 in text frame")]
    InvalidUtf8(#[source] BoxError),

    /// A message or frame exceeded a configured limit.
    #[error("message too large: {size} bytes, limit {limit}")]
    MessageTooLarge {
        /// The size seen (or a lower bound of it).
        size: usize,
        /// The configured limit.
        limit: usize,
    },

    /// A configuration value is invalid.
    #[error("invalid configuration for `{setting}`: {reason}")]
    InvalidConfiguration {
        /// The setting at fault, e.g. `"heartbeat.timeout"`.
        setting: &'static str,
        /// Why it is invalid.
        reason: String,
    },

    /// An operation did not finish in time.
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        /// What timed out, e.g. `"connect"` or `"handshake"`.
        operation: &'static str,
        /// The limit that passed.
        after: Duration,
    },

    /// The reconnection strategy gave up.
    #[error("gave up reconnecting after {attempts} attempts")]
    ReconnectExhausted {
        /// How many attempts were made.
        attempts: u32,
    },
}

impl HyperSocketError {
    /// An [`InvalidConfiguration`](Self::InvalidConfiguration) error.
    pub fn invalid_config(setting: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidConfiguration {
            setting,
            reason: reason.into(),
        }
    }

    /// A [`Timeout`](Self::Timeout) error.
    pub fn timeout(operation: &'static str, after: Duration) -> Self {
        Self::Timeout { operation, after }
    }

    /// Whether reconnecting could help: false for configuration errors,
    /// fatal auth rejections and a shut-down client.
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self,
            Self::InvalidConfiguration { .. }
                | Self::Auth { fatal: true, .. }
                | Self::ShutDown
                | Self::ReconnectExhausted { .. }
        )
    }
}

/// A router could not parse a message.
///
/// Keeps the underlying error (for example a `serde_json::Error`) as its source.
///
/// ```
/// use hypersockets_core::ParseError;
///
/// let err = ParseError::new("not a trade");
/// assert_eq!(err.to_string(), "parse error: not a trade");
/// let err = ParseError::from_source("bad json", std::io::Error::other("eof"));
/// assert!(std::error::Error::source(&err).is_some());
/// ```
#[derive(Debug, thiserror::Error)]
#[error("parse error: {message}")]
pub struct ParseError {
    message: std::borrow::Cow<'static, str>,
    #[source]
    source: Option<BoxError>,
}

impl ParseError {
    /// A parse error with a message and no source.
    pub fn new(message: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// A parse error that keeps the error that caused it.
    pub fn from_source(
        message: impl Into<std::borrow::Cow<'static, str>>,
        source: impl Into<BoxError>,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// The message, without the source.
    pub fn message(&self) -> &str {
        &self.message
    }
}
