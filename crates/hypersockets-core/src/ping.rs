//! Application-level pings, recognised before parsing and answered at once.

use bytes::{BufMut, BytesMut};

use crate::{Utf8Bytes, WsMessage};

/// Recognises an application-level ping among received messages and says
/// what to answer.
///
/// The client calls it for every data message before parsing, so it must be
/// cheap and must not allocate when the message is not a ping. A recognised
/// ping is answered at once and never parsed or routed.
///
/// ```
/// use hypersockets_core::{PassivePingDetector, WsMessage};
///
/// /// Kraken-style: `{"event":"ping"}` → `{"event":"pong"}`.
/// struct EventPing;
///
/// impl PassivePingDetector for EventPing {
///     fn detect(&self, message: &WsMessage) -> Option<WsMessage> {
///         (message.as_text()? == r#"{"event":"ping"}"#)
///             .then(|| WsMessage::text(r#"{"event":"pong"}"#))
///     }
/// }
///
/// assert!(EventPing.detect(&WsMessage::text(r#"{"event":"ping"}"#)).is_some());
/// assert!(EventPing.detect(&WsMessage::text(r#"{"e":"trade"}"#)).is_none());
/// ```
pub trait PassivePingDetector: Send + Sync + 'static {
    /// `Some(reply)` if `message` is a ping; `None` otherwise.
    fn detect(&self, message: &WsMessage) -> Option<WsMessage>;
}

/// Text ping such as OKX's: a text frame that is exactly `ping` is answered
/// with `pong`. Both words can be changed.
///
/// ```
/// use hypersockets_core::{PassivePingDetector, TextPing, WsMessage};
///
/// let detector = TextPing::default();
/// assert_eq!(detector.detect(&WsMessage::text("ping")), Some(WsMessage::text("pong")));
/// assert_eq!(detector.detect(&WsMessage::text("pingx")), None);
/// ```
#[derive(Clone, Debug)]
pub struct TextPing {
    ping: Utf8Bytes,
    pong: Utf8Bytes,
}

impl TextPing {
    /// Recognises `ping` exactly and answers `pong`.
    pub fn new(ping: impl Into<Utf8Bytes>, pong: impl Into<Utf8Bytes>) -> Self {
        Self {
            ping: ping.into(),
            pong: pong.into(),
        }
    }
}

impl Default for TextPing {
    /// `ping` → `pong`.
    fn default() -> Self {
        Self {
            ping: Utf8Bytes::from_static("ping"),
            pong: Utf8Bytes::from_static("pong"),
        }
    }
}

impl PassivePingDetector for TextPing {
    #[inline]
    fn detect(&self, message: &WsMessage) -> Option<WsMessage> {
        match message {
            WsMessage::Text(text) if text.as_bytes() == self.ping.as_bytes() => {
                Some(WsMessage::Text(self.pong.clone()))
            }
            _ => None,
        }
    }
}

/// JSON ping such as HTX's: `{"ping": N}` is answered with `{"pong": N}`,
/// echoing N exactly as received (digits are copied, never re-formatted).
///
/// Only an object whose single member is the ping key with an integer value
/// matches; whitespace between tokens is allowed. Text and binary frames are
/// both checked, and the answer is sent in the same kind of frame.
///
/// ```
/// use hypersockets_core::{JsonPing, PassivePingDetector, WsMessage};
///
/// let detector = JsonPing::default();
/// assert_eq!(
///     detector.detect(&WsMessage::text(r#"{"ping": 1492420473027}"#)),
///     Some(WsMessage::text(r#"{"pong":1492420473027}"#))
/// );
/// assert_eq!(detector.detect(&WsMessage::text(r#"{"ping":}"#)), None);
/// ```
#[derive(Clone, Debug)]
pub struct JsonPing {
    ping_key: String,
    pong_key: String,
}

impl JsonPing {
    /// Recognises `{"<ping_key>": N}` and answers `{"<pong_key>":N}`.
    ///
    /// Keys are matched byte for byte and must not need JSON escaping.
    pub fn new(ping_key: impl Into<String>, pong_key: impl Into<String>) -> Self {
        Self {
            ping_key: ping_key.into(),
            pong_key: pong_key.into(),
        }
    }

    /// The integer's digits (with an optional leading `-`), if `bytes` is
    /// exactly `{"<ping_key>": <integer>}`.
    fn ping_value<'a>(&self, bytes: &'a [u8]) -> Option<&'a [u8]> {
        let mut rest = skip_ws(bytes).strip_prefix(b"{")?;
        rest = skip_ws(rest).strip_prefix(b"\"")?;
        rest = rest.strip_prefix(self.ping_key.as_bytes())?;
        rest = rest.strip_prefix(b"\"")?;
        rest = skip_ws(rest).strip_prefix(b":")?;
        rest = skip_ws(rest);
        let sign = usize::from(rest.first() == Some(&b'-'));
        let digits = rest[sign..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            return None;
        }
        let (value, tail) = rest.split_at(sign + digits);
        let tail = skip_ws(tail).strip_prefix(b"}")?;
        skip_ws(tail).is_empty().then_some(value)
    }
}

impl Default for JsonPing {
    /// `{"ping": N}` → `{"pong":N}`.
    fn default() -> Self {
        Self::new("ping", "pong")
    }
}

impl PassivePingDetector for JsonPing {
    #[inline]
    fn detect(&self, message: &WsMessage) -> Option<WsMessage> {
        let (bytes, is_text) = match message {
            WsMessage::Text(text) => (text.as_bytes(), true),
            WsMessage::Binary(data) => (&data[..], false),
            _ => return None,
        };
        let value = self.ping_value(bytes)?;
        let mut reply = BytesMut::with_capacity(self.pong_key.len() + value.len() + 5);
        reply.put_slice(b"{\"");
        reply.put_slice(self.pong_key.as_bytes());
        reply.put_slice(b"\":");
        reply.put_slice(value);
        reply.put_slice(b"}");
        let reply = reply.freeze();
        Some(if is_text {
            // Built from a UTF-8 key and ASCII digits, so this cannot fail.
            WsMessage::Text(Utf8Bytes::try_from(reply).ok()?)
        } else {
            WsMessage::Binary(reply)
        })
    }
}

#[inline]
fn skip_ws(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .unwrap_or(bytes.len());
    &bytes[start..]
}
