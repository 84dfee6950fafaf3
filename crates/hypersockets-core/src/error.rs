//! The error type shared by every HyperSockets crate.

use std::fmt;
use std::time::Duration;

/// A boxed error that can cross threads: what handlers and providers return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The source of a [`HyperSocketError`]: shared, so the error can be cloned
/// (one error reaches [`connect`]'s callers and the event stream alike).
///
/// Any [`BoxError`] converts with `Arc::from`.
///
/// [`connect`]: https://docs.rs/hypersockets/latest/hypersockets/struct.WebSocketClient.html#method.connect
pub type ErrorSource = std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`HyperSocketError`] as the error.
pub type Result<T, E = HyperSocketError> = std::result::Result<T, E>;

/// Everything that can go wrong in HyperSockets.
///
/// A normal close by the peer is not an error: the message stream just ends.
/// Cheap to clone: sources are shared.
///
/// Each message says its own part only; the cause is the
/// [`source`](std::error::Error::source), never repeated in the message.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum HyperSocketError {
    /// A WebSocket protocol error (bad frame, reserved bits, bad control frame).
    WebSocket(ErrorSource),

    /// An I/O error on the socket.
    Io(std::sync::Arc<std::io::Error>),

    /// A TLS error (handshake, certificate, configuration).
    Tls(ErrorSource),

    /// The WebSocket handshake was refused or failed.
    ///
    /// A refusal with 400, 401, 403, 404, 405 or 410 is fatal (see
    /// [`is_retryable`](Self::is_retryable)): the same request would be
    /// refused again.
    Handshake {
        /// The HTTP status the server answered with, when it answered.
        status: Option<u16>,
        /// How long the server asked the client to wait (its `Retry-After`
        /// header, in seconds or as an HTTP date), as it said it; the
        /// client waits at least this long before the next attempt (capped,
        /// see [`ReconnectionStrategy::delay_after`](crate::ReconnectionStrategy::delay_after)).
        retry_after: Option<Duration>,
        /// What went wrong.
        source: Option<ErrorSource>,
    },

    /// The proxy the connection goes through could not be reached, or
    /// refused or failed the tunnel to the server. Never carries the
    /// proxy's credentials.
    ///
    /// Fatal (see [`is_retryable`](Self::is_retryable)) when the same
    /// attempt would be refused again: credentials refused or missing
    /// (HTTP 407, or 401 as some proxies answer wrong credentials; a
    /// SOCKS5 authentication failure or no acceptable authentication
    /// method), or the tunnel forbidden by the proxy's rules (HTTP 400,
    /// 403 or 405, SOCKS5 "not allowed by ruleset").
    /// A proxy that refuses TCP, is unreachable, answers 5xx or cannot
    /// reach the server is retried with the client's usual backoff.
    Proxy {
        /// The HTTP status an HTTP CONNECT proxy refused the tunnel with;
        /// `None` for SOCKS5, or when the proxy gave no answer.
        status: Option<u16>,
        /// Whether retrying the same attempt is pointless.
        fatal: bool,
        /// What went wrong: the I/O error reaching the proxy, the SOCKS5
        /// failure, the malformed answer.
        source: Option<ErrorSource>,
    },

    /// Authentication was rejected or could not be produced.
    Auth {
        /// Why, as the server or the provider put it.
        reason: String,
        /// Whether retrying with the same credentials is pointless.
        fatal: bool,
    },

    /// A client manager has no client under this key.
    UnknownClient {
        /// The key, as its `Debug` form.
        key: String,
    },

    /// An outgoing queue is full. From `try_send`: the queue of user sends
    /// is full (backpressure: the peer or the network is slower than the
    /// sends; try later, or `send`, which waits). As a disconnect reason:
    /// the queue of keepalive answers and control messages was full, so
    /// the writer is stuck and the connection is dropped.
    WriteQueueFull,

    /// The connection closed when it was not expected to.
    ConnectionClosed,

    /// Not connected right now, so the message cannot be sent.
    NotConnected,

    /// The client has been shut down.
    ShutDown,

    /// A received text frame was not valid UTF-8.
    InvalidUtf8(ErrorSource),

    /// A compressed frame could not be inflated (not the configured
    /// format, corrupt, truncated, or a checksum that does not match); the
    /// client answered 1007 (invalid payload data) and reconnects.
    Decompression(ErrorSource),

    /// The server closed with a code no endpoint may send (e.g. 999, 1005,
    /// 5000); the client answered 1002 (protocol error), as RFC 6455 says.
    InvalidCloseCode {
        /// The code the server sent.
        code: u16,
    },

    /// A message or frame exceeded a configured limit.
    MessageTooLarge {
        /// The size seen (or a lower bound of it).
        size: usize,
        /// The configured limit.
        limit: usize,
    },

    /// Every connection the venue allows already holds as many streams as
    /// it takes: a subscription has nowhere to go.
    NoRoom {
        /// The connections open, the most the venue allows.
        connections: usize,
        /// The venue's streams per connection.
        streams_per_connection: usize,
    },

    /// A configuration value is invalid.
    InvalidConfiguration {
        /// The setting at fault, e.g. `"heartbeat.timeout"`.
        setting: &'static str,
        /// Why it is invalid.
        reason: String,
    },

    /// An operation did not finish in time.
    Timeout {
        /// What timed out, e.g. `"connect"` or `"handshake"`.
        operation: &'static str,
        /// The limit that passed.
        after: Duration,
    },

    /// The reconnection strategy gave up.
    ReconnectExhausted {
        /// How many attempts were made.
        attempts: u32,
    },

    /// User code the client cannot go on without panicked (the auth or
    /// header provider, the reconnection strategy), or the client's
    /// connection task itself ended abnormally: the client shut down. The
    /// panic's message is not kept, since it could carry a secret.
    Panicked {
        /// What panicked, e.g. `"auth provider"`.
        what: &'static str,
    },
}

impl fmt::Display for HyperSocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WebSocket(_) => f.write_str("websocket protocol error"),
            Self::Io(_) => f.write_str("i/o error"),
            Self::Tls(_) => f.write_str("tls error"),
            Self::Handshake {
                status: Some(status),
                retry_after: Some(after),
                ..
            } => write!(
                f,
                "handshake failed with http status {status}, retry after {after:?}"
            ),
            Self::Handshake {
                status: Some(status),
                ..
            } => write!(f, "handshake failed with http status {status}"),
            Self::Handshake { status: None, .. } => f.write_str("handshake failed"),
            Self::Proxy {
                status: Some(status),
                ..
            } => write!(f, "proxy refused the tunnel with http status {status}"),
            Self::Proxy { status: None, .. } => f.write_str("proxy failed"),
            Self::Auth { reason, .. } => write!(f, "authentication failed: {reason}"),
            Self::UnknownClient { key } => write!(f, "no client under key {key}"),
            Self::WriteQueueFull => f.write_str("write queue full"),
            Self::ConnectionClosed => f.write_str("connection closed unexpectedly"),
            Self::NotConnected => f.write_str("not connected"),
            Self::ShutDown => f.write_str("client is shut down"),
            Self::InvalidUtf8(_) => f.write_str("invalid utf-8 in text frame"),
            Self::Decompression(_) => f.write_str("compressed frame could not be inflated"),
            Self::InvalidCloseCode { code } => {
                write!(f, "server closed with invalid code {code}; answered 1002")
            }
            Self::MessageTooLarge { size, limit } => {
                write!(f, "message too large: {size} bytes, limit {limit}")
            }
            Self::NoRoom {
                connections,
                streams_per_connection,
            } => write!(
                f,
                "no room for another subscription: {connections} connections of {streams_per_connection} streams"
            ),
            Self::InvalidConfiguration { setting, reason } => {
                write!(f, "invalid configuration for `{setting}`: {reason}")
            }
            Self::Timeout { operation, after } => {
                write!(f, "{operation} timed out after {after:?}")
            }
            Self::ReconnectExhausted { attempts } => {
                write!(f, "gave up reconnecting after {attempts} attempts")
            }
            Self::Panicked { what } => write!(f, "{what} panicked"),
        }
    }
}

impl std::error::Error for HyperSocketError {
    /// The shared source itself (not its `Arc`), so it can be downcast.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::WebSocket(source)
            | Self::Tls(source)
            | Self::InvalidUtf8(source)
            | Self::Decompression(source)
            | Self::Handshake {
                source: Some(source),
                ..
            }
            | Self::Proxy {
                source: Some(source),
                ..
            } => Some(&**source),
            Self::Io(source) => Some(&**source),
            _ => None,
        }
    }
}

impl From<std::io::Error> for HyperSocketError {
    fn from(error: std::io::Error) -> Self {
        Self::Io(std::sync::Arc::new(error))
    }
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

    /// A [`Handshake`](Self::Handshake) error without a status: the
    /// handshake failed before or without an HTTP answer.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use hypersockets_core::HyperSocketError;
    ///
    /// let err = HyperSocketError::handshake(Arc::new(std::io::Error::other("no token")));
    /// assert_eq!(err.to_string(), "handshake failed");
    /// ```
    pub fn handshake(source: ErrorSource) -> Self {
        Self::Handshake {
            status: None,
            retry_after: None,
            source: Some(source),
        }
    }

    /// Whether reconnecting could help: false for configuration errors,
    /// fatal auth rejections, fatal proxy refusals (credentials refused,
    /// see [`Proxy`](Self::Proxy)), a shut-down client, and a handshake refused
    /// with a status that the same request would get again (400 Bad
    /// Request, 401 Unauthorized, 403 Forbidden, 404 Not Found, 405 Method
    /// Not Allowed, 410 Gone). Other refusals (429, 5xx, and 418, which
    /// Binance answers to clients that ignored a 429) are retried.
    ///
    /// ```
    /// use hypersockets_core::HyperSocketError;
    ///
    /// let refused = |status| HyperSocketError::Handshake {
    ///     status: Some(status),
    ///     retry_after: None,
    ///     source: None,
    /// };
    /// assert!(!refused(404).is_retryable());
    /// assert!(refused(429).is_retryable() && refused(503).is_retryable());
    ///
    /// let proxy = |status, fatal| HyperSocketError::Proxy { status, fatal, source: None };
    /// assert!(!proxy(Some(407), true).is_retryable());
    /// assert!(proxy(Some(502), false).is_retryable() && proxy(None, false).is_retryable());
    /// assert_eq!(proxy(Some(407), true).to_string(), "proxy refused the tunnel with http status 407");
    /// ```
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self,
            Self::InvalidConfiguration { .. }
                | Self::NoRoom { .. }
                | Self::Auth { fatal: true, .. }
                | Self::Proxy { fatal: true, .. }
                | Self::ShutDown
                | Self::ReconnectExhausted { .. }
                | Self::Panicked { .. }
                | Self::Handshake {
                    status: Some(400 | 401 | 403 | 404 | 405 | 410),
                    ..
                }
        )
    }

    /// The close code the client answers this error with, when the peer
    /// broke the protocol and is still there to be told: 1002 for a
    /// protocol violation, 1007 for invalid UTF-8 or a frame that does not
    /// inflate, 1009 for a message (inflated or not) or
    /// frame over the limit. `None` for everything else (a lost socket
    /// cannot be told anything).
    ///
    /// ```
    /// use hypersockets_core::{CloseCode, HyperSocketError};
    ///
    /// let too_big = HyperSocketError::MessageTooLarge { size: 10, limit: 5 };
    /// assert_eq!(too_big.close_code(), Some(CloseCode::SIZE));
    /// assert_eq!(HyperSocketError::ConnectionClosed.close_code(), None);
    /// ```
    pub fn close_code(&self) -> Option<crate::CloseCode> {
        match self {
            Self::WebSocket(_) => Some(crate::CloseCode::PROTOCOL),
            Self::InvalidUtf8(_) | Self::Decompression(_) => Some(crate::CloseCode::INVALID),
            Self::MessageTooLarge { .. } => Some(crate::CloseCode::SIZE),
            _ => None,
        }
    }

    /// How long the server asked to wait before the next attempt (the
    /// `Retry-After` of a refused handshake), as it said it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hypersockets_core::HyperSocketError;
    ///
    /// let busy = HyperSocketError::Handshake {
    ///     status: Some(429),
    ///     retry_after: Some(Duration::from_secs(1)),
    ///     source: None,
    /// };
    /// assert_eq!(busy.retry_after(), Some(Duration::from_secs(1)));
    /// assert_eq!(HyperSocketError::NotConnected.retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Handshake { retry_after, .. } => *retry_after,
            _ => None,
        }
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
