//! The WebSocket message type that flows through every layer.

use std::fmt;
use std::ops::Deref;
use std::str::Utf8Error;

use bytes::Bytes;
use bytestring::ByteString;

/// A cheaply clonable UTF-8 string backed by [`Bytes`].
///
/// UTF-8 is checked once, when the value is built; [`as_str`](Self::as_str)
/// never validates or allocates again, and cloning only bumps a reference
/// count.
///
/// ```
/// use hypersockets_core::Utf8Bytes;
///
/// let text = Utf8Bytes::from_static("ping");
/// assert_eq!(text.as_str(), "ping");
/// assert!(Utf8Bytes::try_from(bytes::Bytes::from_static(b"\xff")).is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Utf8Bytes(ByteString);

impl Utf8Bytes {
    /// Wraps a static string without copying it.
    #[inline]
    pub const fn from_static(text: &'static str) -> Self {
        Self(ByteString::from_static(text))
    }

    /// The text, borrowed; never validates or allocates.
    #[inline]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The UTF-8 bytes, borrowed.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The underlying shared buffer (a reference-count bump, no copy).
    #[inline]
    pub fn to_bytes(&self) -> Bytes {
        self.0.as_bytes().clone()
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Deref for Utf8Bytes {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl From<String> for Utf8Bytes {
    fn from(text: String) -> Self {
        Self(ByteString::from(text))
    }
}

impl From<&str> for Utf8Bytes {
    fn from(text: &str) -> Self {
        Self(ByteString::from(text))
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = Utf8Error;

    /// Validates the bytes once; no copy.
    fn try_from(bytes: Bytes) -> Result<Self, Utf8Error> {
        ByteString::try_from(bytes).map(Self)
    }
}

impl TryFrom<Vec<u8>> for Utf8Bytes {
    type Error = Utf8Error;

    fn try_from(bytes: Vec<u8>) -> Result<Self, Utf8Error> {
        Self::try_from(Bytes::from(bytes))
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(text: Utf8Bytes) -> Self {
        text.0.into_bytes()
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A WebSocket close status code (RFC 6455, section 7.4).
///
/// ```
/// use hypersockets_core::CloseCode;
///
/// assert_eq!(u16::from(CloseCode::NORMAL), 1000);
/// assert!(CloseCode::from(1000).is_normal());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(u16);

impl CloseCode {
    /// 1000: the purpose of the connection was fulfilled.
    pub const NORMAL: Self = Self(1000);
    /// 1001: the endpoint is going away (server restart, page navigation).
    pub const AWAY: Self = Self(1001);
    /// 1002: protocol error.
    pub const PROTOCOL: Self = Self(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED: Self = Self(1003);
    /// 1005: no status code was present (never sent on the wire).
    pub const STATUS: Self = Self(1005);
    /// 1006: closed without a close frame (never sent on the wire).
    pub const ABNORMAL: Self = Self(1006);
    /// 1007: data inconsistent with the message type (e.g. invalid UTF-8).
    pub const INVALID: Self = Self(1007);
    /// 1008: a policy was violated.
    pub const POLICY: Self = Self(1008);
    /// 1009: a message was too big to process.
    pub const SIZE: Self = Self(1009);
    /// 1011: the server hit an unexpected condition.
    pub const ERROR: Self = Self(1011);
    /// 1012: the service is restarting.
    pub const RESTART: Self = Self(1012);
    /// 1013: try again later (overload).
    pub const AGAIN: Self = Self(1013);

    /// Whether this is 1000, a normal closure.
    #[inline]
    pub const fn is_normal(self) -> bool {
        self.0 == 1000
    }

    /// The numeric code.
    #[inline]
    pub const fn as_u16(self) -> u16 {
        self.0
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        Self(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloseCode({})", self.0)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The payload of a Close frame: a status code and a UTF-8 reason.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason, at most 123 bytes on the wire.
    pub reason: Utf8Bytes,
}

impl CloseFrame {
    /// A close frame with the given code and reason.
    pub fn new(code: impl Into<CloseCode>, reason: impl Into<Utf8Bytes>) -> Self {
        Self {
            code: code.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for CloseFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reason.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{} ({})", self.code, self.reason)
        }
    }
}

/// A WebSocket message, independent of the transport library.
///
/// Payloads are shared buffers: cloning a message never copies its bytes.
/// Text is valid UTF-8, checked once when the message is built.
///
/// ```
/// use hypersockets_core::WsMessage;
///
/// let msg = WsMessage::text("ping");
/// assert_eq!(msg.as_text(), Some("ping"));
/// assert_eq!(msg.as_bytes(), b"ping");
/// assert!(WsMessage::binary(vec![1, 2, 3]).as_text().is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsMessage {
    /// A text frame (valid UTF-8).
    Text(Utf8Bytes),
    /// A binary frame.
    Binary(Bytes),
    /// A protocol Ping control frame; the peer expects a Pong with the same payload.
    Ping(Bytes),
    /// A protocol Pong control frame.
    Pong(Bytes),
    /// A Close control frame, with its code and reason when present.
    Close(Option<CloseFrame>),
}

impl WsMessage {
    /// A text message.
    #[inline]
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        WsMessage::Text(text.into())
    }

    /// A binary message.
    #[inline]
    pub fn binary(data: impl Into<Bytes>) -> Self {
        WsMessage::Binary(data.into())
    }

    /// A Ping control frame.
    #[inline]
    pub fn ping(payload: impl Into<Bytes>) -> Self {
        WsMessage::Ping(payload.into())
    }

    /// A Pong control frame.
    #[inline]
    pub fn pong(payload: impl Into<Bytes>) -> Self {
        WsMessage::Pong(payload.into())
    }

    /// A Close frame with a code and reason.
    #[inline]
    pub fn close(code: impl Into<CloseCode>, reason: impl Into<Utf8Bytes>) -> Self {
        WsMessage::Close(Some(CloseFrame::new(code, reason)))
    }

    /// The text, if this is a text message. Never allocates or validates.
    #[inline]
    pub fn as_text(&self) -> Option<&str> {
        match self {
            WsMessage::Text(text) => Some(text.as_str()),
            _ => None,
        }
    }

    /// The payload bytes of any kind of message (the reason, for Close).
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            WsMessage::Text(text) => text.as_bytes(),
            WsMessage::Binary(data) | WsMessage::Ping(data) | WsMessage::Pong(data) => data,
            WsMessage::Close(Some(frame)) => frame.reason.as_bytes(),
            WsMessage::Close(None) => &[],
        }
    }

    /// Payload length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the payload is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }

    /// Whether this is a text or binary data message.
    #[inline]
    pub fn is_data(&self) -> bool {
        matches!(self, WsMessage::Text(_) | WsMessage::Binary(_))
    }

    /// Whether this is a Ping, Pong or Close control frame.
    #[inline]
    pub fn is_control(&self) -> bool {
        !self.is_data()
    }

    /// Whether this is a text message.
    #[inline]
    pub fn is_text(&self) -> bool {
        matches!(self, WsMessage::Text(_))
    }

    /// Whether this is a binary message.
    #[inline]
    pub fn is_binary(&self) -> bool {
        matches!(self, WsMessage::Binary(_))
    }

    /// Whether this is a Close frame.
    #[inline]
    pub fn is_close(&self) -> bool {
        matches!(self, WsMessage::Close(_))
    }
}

impl From<String> for WsMessage {
    fn from(text: String) -> Self {
        WsMessage::Text(text.into())
    }
}

impl From<&str> for WsMessage {
    fn from(text: &str) -> Self {
        WsMessage::Text(text.into())
    }
}

impl From<Utf8Bytes> for WsMessage {
    fn from(text: Utf8Bytes) -> Self {
        WsMessage::Text(text)
    }
}

impl From<Bytes> for WsMessage {
    fn from(data: Bytes) -> Self {
        WsMessage::Binary(data)
    }
}

impl From<Vec<u8>> for WsMessage {
    fn from(data: Vec<u8>) -> Self {
        WsMessage::Binary(data.into())
    }
}
