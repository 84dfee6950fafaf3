//! Where a message sits in its venue stream: the stream, and the venue's
//! number for the message (a trade id, an update id), read from the raw
//! bytes without a full parse.

use crate::WsMessage;

/// A venue stream's identity: a hash of the parts that name it (a
/// channel and a symbol, a topic), so it costs no allocation per message.
///
/// ```
/// use hypersockets_core::StreamId;
///
/// assert_eq!(StreamId::of(&["trades", "BTC-USDT"]), StreamId::of(&["trades", "BTC-USDT"]));
/// assert_ne!(StreamId::of(&["trades", "BTC-USDT"]), StreamId::of(&["trades", "ETH-USDT"]));
/// // The parts are kept apart: ("ab", "c") is not ("a", "bc").
/// assert_ne!(StreamId::of(&["ab", "c"]), StreamId::of(&["a", "bc"]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(u64);

impl StreamId {
    /// The id of the stream named by `parts`, in order (FNV-1a, 64 bits:
    /// the same in every process and run).
    pub fn of(parts: &[&str]) -> Self {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut hash = OFFSET;
        for part in parts {
            for &byte in part.as_bytes() {
                hash = (hash ^ u64::from(byte)).wrapping_mul(PRIME);
            }
            // A separator no UTF-8 text contains keeps the parts apart.
            hash = (hash ^ 0xff).wrapping_mul(PRIME);
        }
        Self(hash)
    }

    /// The hash.
    ///
    /// ```
    /// use hypersockets_core::StreamId;
    ///
    /// assert_ne!(StreamId::of(&["btcusdt@trade"]).get(), 0);
    /// ```
    pub fn get(self) -> u64 {
        self.0
    }
}

/// A message's place in its stream: the stream, the venue's number for
/// the message, and, where the venue sends it, the number of the message
/// before it (Binance futures' `pu`, OKX's `prevSeqId`), which proves two
/// messages follow each other with nothing between.
///
/// ```
/// use hypersockets_core::{StreamId, StreamSequence};
///
/// let stream = StreamId::of(&["btcusdt@depth"]);
/// let at = StreamSequence::new(stream, 42).previous(41);
/// assert_eq!(at.stream, stream);
/// assert_eq!(at.number, 42);
/// assert_eq!(at.previous, Some(41));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct StreamSequence {
    /// Which stream.
    pub stream: StreamId,
    /// The venue's number for this message: it grows along the stream.
    pub number: u64,
    /// The number of the stream's message before this one, when the venue
    /// says.
    pub previous: Option<u64>,
}

impl StreamSequence {
    /// Message `number` of `stream`, with no previous number.
    pub fn new(stream: StreamId, number: u64) -> Self {
        Self {
            stream,
            number,
            previous: None,
        }
    }

    /// The number of the message before this one.
    pub fn previous(mut self, previous: u64) -> Self {
        self.previous = Some(previous);
        self
    }
}

/// Reads a message's stream and number, cheaply: a peek at the raw bytes
/// (as `classify` does), never a full parse. `None` for a message that is
/// not part of a numbered stream (an answer, a ticker without a number).
///
/// With one, a connection rotation delivers every numbered message once,
/// in order, though both connections carry it for a while. Venue profiles
/// supply theirs; any `Fn(&WsMessage) -> Option<StreamSequence>` is one.
///
/// ```
/// use hypersockets_core::{SequenceReader, StreamId, StreamSequence, WsMessage};
///
/// // "<stream> <number> <payload>"
/// let reader = |message: &WsMessage| {
///     let text = message.as_text()?;
///     let mut parts = text.splitn(3, ' ');
///     let stream = parts.next()?;
///     let number = parts.next()?.parse().ok()?;
///     Some(StreamSequence::new(StreamId::of(&[stream]), number))
/// };
/// let at = reader.sequence(&WsMessage::text("btc 7 {}")).unwrap();
/// assert_eq!(at.number, 7);
/// assert!(reader.sequence(&WsMessage::text("hello")).is_none());
/// ```
pub trait SequenceReader: Send + Sync + 'static {
    /// The message's stream and number, if it has them.
    fn sequence(&self, message: &WsMessage) -> Option<StreamSequence>;
}

impl<F> SequenceReader for F
where
    F: Fn(&WsMessage) -> Option<StreamSequence> + Send + Sync + 'static,
{
    fn sequence(&self, message: &WsMessage) -> Option<StreamSequence> {
        self(message)
    }
}

/// Tells a venue's notice that it will soon close the connection (OKX's
/// event 64008 before a service upgrade, Binance's `serverShutdown`), so
/// that the client rotates to a new connection before the old one goes.
/// Any `Fn(&WsMessage) -> bool` is one.
///
/// ```
/// use hypersockets_core::{ShutdownNotice, WsMessage};
///
/// let notice = |message: &WsMessage| message.as_text().is_some_and(|t| t.contains("\"64008\""));
/// assert!(notice.is_notice(&WsMessage::text(r#"{"event":"notice","code":"64008"}"#)));
/// assert!(!notice.is_notice(&WsMessage::text("{}")));
/// ```
pub trait ShutdownNotice: Send + Sync + 'static {
    /// Whether `message` announces the connection's end.
    fn is_notice(&self, message: &WsMessage) -> bool;
}

impl<F> ShutdownNotice for F
where
    F: Fn(&WsMessage) -> bool + Send + Sync + 'static,
{
    fn is_notice(&self, message: &WsMessage) -> bool {
        self(message)
    }
}
