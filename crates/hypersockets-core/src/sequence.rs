//! Where a message sits in its venue stream: the stream, and the venue's
//! number for the message (a trade id, an update id), read from the raw
//! bytes without a full parse.

use std::future::Future;

use crate::{BoxError, BoxFuture, WsMessage};

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
        let mut hash = Self::OFFSET;
        for part in parts {
            hash = Self::hash(hash, part);
            hash = Self::separate(hash);
        }
        Self(hash)
    }

    /// The id of the one part that is `parts` put end to end, hashed where
    /// they lie, without building it: a topic from its pieces
    /// (`"books"`, `":"`, `"BTC-USDT"`) costs no allocation.
    ///
    /// ```
    /// use hypersockets_core::StreamId;
    ///
    /// let books = StreamId::concat(&["books", ":", "BTC-USDT"]);
    /// assert_eq!(books, StreamId::of(&["books:BTC-USDT"]));
    /// assert_eq!(StreamId::concat(&["ab", "c"]), StreamId::concat(&["a", "bc"]));
    /// // Unlike `of`'s parts, which are kept apart.
    /// assert_ne!(books, StreamId::of(&["books", ":", "BTC-USDT"]));
    /// ```
    pub fn concat(parts: &[&str]) -> Self {
        let hash = parts
            .iter()
            .fold(Self::OFFSET, |hash, part| Self::hash(hash, part));
        Self(Self::separate(hash))
    }

    /// FNV-1a's 64-bit offset basis and prime.
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    /// `hash` with the bytes of `part` added.
    fn hash(hash: u64, part: &str) -> u64 {
        part.as_bytes().iter().fold(hash, |hash, &byte| {
            (hash ^ u64::from(byte)).wrapping_mul(Self::PRIME)
        })
    }

    /// `hash` with the end of a part added: a separator no UTF-8 text
    /// contains keeps the parts apart.
    fn separate(hash: u64) -> u64 {
        (hash ^ 0xff).wrapping_mul(Self::PRIME)
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
    /// says (or, for a venue whose numbers go up by one, `number - 1`):
    /// with it, a missing message shows as a gap.
    pub previous: Option<u64>,
    /// The message starts the stream afresh: a venue's snapshot, or its
    /// restart marker (Bybit's `u` of 1). It is never a gap or a
    /// duplicate; the stream goes on from its number.
    pub reset: bool,
}

impl StreamSequence {
    /// Message `number` of `stream`, with no previous number.
    pub fn new(stream: StreamId, number: u64) -> Self {
        Self {
            stream,
            number,
            previous: None,
            reset: false,
        }
    }

    /// The number of the message before this one.
    pub fn previous(mut self, previous: u64) -> Self {
        self.previous = Some(previous);
        self
    }

    /// Marks the message as starting the stream afresh (a snapshot, a
    /// venue's restart marker).
    ///
    /// ```
    /// use hypersockets_core::{StreamId, StreamSequence};
    ///
    /// let snapshot = StreamSequence::new(StreamId::of(&["books:BTC-USDT"]), 900).reset();
    /// assert!(snapshot.reset);
    /// ```
    pub fn reset(mut self) -> Self {
        self.reset = true;
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

/// A snapshot of one stream, fetched by a [`SnapshotSource`]: the venue's
/// number it stands at (Binance's `lastUpdateId`) and the message that
/// carries it, which goes to the stream's handler through the router like
/// any received message, before the deltas buffered after it.
///
/// ```
/// use hypersockets_core::{StreamSnapshot, WsMessage};
///
/// let snapshot = StreamSnapshot::new(1027024, WsMessage::text(r#"{"lastUpdateId":1027024}"#));
/// assert_eq!(snapshot.number, 1027024);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamSnapshot {
    /// The last number the snapshot includes: deltas up to it are dropped,
    /// the first one kept must follow it.
    pub number: u64,
    /// What the handler receives, parsed by the router.
    pub message: WsMessage,
}

impl StreamSnapshot {
    /// A snapshot standing at `number`, delivered as `message`.
    pub fn new(number: u64, message: WsMessage) -> Self {
        Self { number, message }
    }
}

/// Fetches a stream's snapshot (typically over the venue's REST API) to
/// resynchronise it after a gap, Binance-style: meanwhile the stream's
/// deltas are buffered; the snapshot is delivered, then the buffered
/// deltas after its number.
///
/// It gets the stream's id and, when one of the client's subscriptions
/// names it, that subscription's id (the topic, `"btcusdt@depth"`). Any
/// `Fn(StreamId, Option<String>) -> impl Future<Output = Result<StreamSnapshot, BoxError>>`
/// is one. The future runs on its own task: it may take its time.
///
/// ```
/// use hypersockets_core::{BoxError, SnapshotSource, StreamId, StreamSnapshot, WsMessage};
///
/// let source = |_stream: StreamId, topic: Option<String>| async move {
///     let topic = topic.ok_or("not a subscribed topic")?;
///     // A real one fetches https://api.binance.com/api/v3/depth?symbol=… here.
///     let body = format!(r#"{{"topic":"{topic}","lastUpdateId":42,"bids":[],"asks":[]}}"#);
///     Ok::<_, BoxError>(StreamSnapshot::new(42, WsMessage::text(body)))
/// };
/// # fn is_source(_: &impl SnapshotSource) {}
/// # is_source(&source);
/// ```
pub trait SnapshotSource: Send + Sync + 'static {
    /// The snapshot of `stream`, whose subscription is `topic` if known.
    fn snapshot(
        &self,
        stream: StreamId,
        topic: Option<String>,
    ) -> BoxFuture<'static, Result<StreamSnapshot, BoxError>>;
}

impl<F, Fut> SnapshotSource for F
where
    F: Fn(StreamId, Option<String>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<StreamSnapshot, BoxError>> + Send + 'static,
{
    fn snapshot(
        &self,
        stream: StreamId,
        topic: Option<String>,
    ) -> BoxFuture<'static, Result<StreamSnapshot, BoxError>> {
        Box::pin(self(stream, topic))
    }
}
