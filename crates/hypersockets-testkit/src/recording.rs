//! How much the exchange remembers of each connection's traffic: counts and
//! checksums always, and a bounded ring of the most recent messages (or
//! every message, when a test asks for it).

use std::collections::VecDeque;
use std::fmt;

use hypersockets_core::WsMessage;

use crate::{ConnectionId, SentRecord, TestkitError};

/// How many messages a [`MockExchange`](crate::MockExchange) keeps per
/// connection, set with
/// [`ExchangeConfig::recording`](crate::ExchangeConfig::recording).
/// Default: [`Recent(1024)`](Self::Recent).
///
/// Counts, byte totals and checksums ([`RecordSummary`]) are kept for every
/// connection whatever the mode, so delivery can be checked without the
/// messages. The lists ([`Control::sent`](crate::Control::sent) and
/// friends) are complete only until the ring drops its first message; from
/// then on they fail with [`TestkitError::Truncated`], and the
/// `Control::recent_*` accessors say how many were dropped.
///
/// Memory: with `Recent(n)`, at most `n` messages each way for every
/// connection the exchange has had (closed ones included), so a run of
/// hours costs what its connections cost, not what they carried. A long
/// run with many reconnects should keep `n` small.
///
/// ```
/// use hypersockets_testkit::{ExchangeConfig, Recording};
///
/// assert_eq!(Recording::default(), Recording::Recent(Recording::DEFAULT_RECENT));
/// // A soak: counts and checksums, and the last 16 messages for a failure message.
/// let soak = ExchangeConfig::new().recording(Recording::Recent(16));
/// // A test that reads every message written.
/// let exact = ExchangeConfig::new().recording(Recording::All);
/// # drop((soak, exact));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Recording {
    /// Keeps the `n` most recent messages received and the `n` most recent
    /// written on each connection (0: none, counts and checksums only).
    Recent(usize),
    /// Keeps every message of every connection until the exchange and its
    /// handles are dropped: memory grows with the traffic.
    All,
}

impl Recording {
    /// The ring's length by default: 1,024 messages each way.
    pub const DEFAULT_RECENT: usize = 1024;

    /// The most a ring keeps, or `None` for no limit.
    pub(crate) fn limit(self) -> Option<usize> {
        match self {
            Recording::Recent(n) => Some(n),
            Recording::All => None,
        }
    }
}

impl Default for Recording {
    fn default() -> Self {
        Recording::Recent(Self::DEFAULT_RECENT)
    }
}

/// An order-sensitive checksum of a sequence of messages: what a client
/// computes over the market data texts it got from one connection (or one
/// stream of it), to compare with the exchange's [`RecordSummary`] without
/// either side keeping the messages.
///
/// It is 64-bit FNV-1a over each message's length (8 bytes, little-endian)
/// followed by its bytes, message after message: the same messages in
/// another order, or split differently, give another checksum. Not a
/// cryptographic hash.
///
/// ```
/// use hypersockets_testkit::Checksum;
///
/// let mut running = Checksum::new();
/// running.add("a");
/// running.add("bc");
/// assert_eq!(running, Checksum::of(["a", "bc"]));
/// assert_ne!(running, Checksum::of(["bc", "a"]));
/// assert_ne!(running, Checksum::of(["ab", "c"]));
/// assert_eq!(Checksum::new(), Checksum::of(Vec::<&str>::new()));
/// assert_eq!(format!("{}", Checksum::new()), "0xcbf29ce484222325");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Checksum(u64);

impl Checksum {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    /// The checksum of no messages.
    ///
    /// ```
    /// assert_eq!(hypersockets_testkit::Checksum::new().value(), 0xcbf29ce484222325);
    /// ```
    pub const fn new() -> Self {
        Self(Self::OFFSET_BASIS)
    }

    /// Adds the next message (its text, or any payload).
    ///
    /// ```
    /// let mut checksum = hypersockets_testkit::Checksum::new();
    /// checksum.add(r#"{"seq":1}"#);
    /// assert_ne!(checksum, hypersockets_testkit::Checksum::new());
    /// ```
    pub fn add(&mut self, message: impl AsRef<[u8]>) {
        let message = message.as_ref();
        // The length first, so that message boundaries count.
        let len = message.len() as u64;
        for &byte in len.to_le_bytes().iter().chain(message) {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(Self::PRIME);
        }
    }

    /// The checksum of `messages`, in order.
    ///
    /// ```
    /// use hypersockets_testkit::Checksum;
    ///
    /// let texts = vec![String::from("x"), String::from("y")];
    /// assert_eq!(Checksum::of(&texts), Checksum::of(["x", "y"]));
    /// ```
    pub fn of<I>(messages: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let mut checksum = Self::new();
        for message in messages {
            checksum.add(message);
        }
        checksum
    }

    /// The value, e.g. to print or to send between processes.
    ///
    /// ```
    /// let checksum = hypersockets_testkit::Checksum::of(["a"]);
    /// assert_ne!(checksum.value(), hypersockets_testkit::Checksum::new().value());
    /// ```
    pub const fn value(self) -> u64 {
        self.0
    }
}

impl Default for Checksum {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Checksum({:#018x})", self.0)
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#018x}", self.0)
    }
}

/// What one connection carried, counted whatever the [`Recording`] mode,
/// from [`Control::summary`](crate::Control::summary).
///
/// Byte counts are of payloads as in [`WsMessage::len`] (the text before
/// any [`Compression`](crate::Compression); a Close frame's reason), not of
/// frames on the wire. What counts as written is what
/// [`Control::written`](crate::Control::written) lists; what counts as
/// received, what [`Control::received`](crate::Control::received) lists.
///
/// ```
/// use std::time::Duration;
///
/// use futures_util::{SinkExt, StreamExt};
/// use hypersockets_testkit::{
///     Checksum, ExchangeConfig, MockExchange, Rate, Recording, StreamConfig,
/// };
/// use tokio_tungstenite::tungstenite::Message;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// const WAIT: Duration = Duration::from_secs(5);
///
/// // Keeps no message at all: the summary is enough to check delivery.
/// let exchange = MockExchange::start(
///     ExchangeConfig::new()
///         .recording(Recording::Recent(0))
///         .stream(StreamConfig::trades("btcusdt@trade").rate(Rate::AsFastAsPossible).limit(5)),
/// )
/// .await?;
/// let (mut client, _) = tokio_tungstenite::connect_async(exchange.url()).await?;
/// client
///     .send(Message::text(r#"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}"#))
///     .await?;
/// let mut texts = Vec::new();
/// while texts.len() < 6 {
///     if let Message::Text(text) = tokio::time::timeout(WAIT, client.next()).await?.unwrap()? {
///         texts.push(text.to_string());
///     }
/// }
///
/// let control = exchange.control();
/// let conn = control.wait_for_subscription("btcusdt@trade", WAIT).await?;
/// control.wait_for_sent(conn, 5, WAIT).await?;
/// let summary = control.summary(conn).unwrap();
/// assert_eq!(summary.data_messages_written, 5);
/// assert_eq!(summary.data_checksum, Checksum::of(&texts[1..]));
/// assert_eq!(summary.messages_written, 6); // the answer, then the data
/// assert_eq!(summary.messages_received, 1);
/// let trades = summary.stream("btcusdt@trade").unwrap();
/// assert_eq!((trades.messages, trades.checksum), (5, Checksum::of(&texts[1..])));
/// // The lists were not kept, and say so.
/// assert!(control.sent(conn).is_err());
/// assert_eq!(control.recent_sent(conn).dropped, 5);
///
/// drop(client);
/// exchange.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordSummary {
    /// Messages received from the client (all kinds, Close included).
    pub messages_received: u64,
    /// Their payload bytes.
    pub bytes_received: u64,
    /// Messages fully written to the client (all kinds, market data
    /// included).
    pub messages_written: u64,
    /// Their payload bytes.
    pub bytes_written: u64,
    /// Market data messages fully written, all streams together (as in
    /// [`ConnectionInfo::data_messages_written`](crate::ConnectionInfo::data_messages_written)).
    pub data_messages_written: u64,
    /// The [`Checksum`] of their texts, in the order written.
    pub data_checksum: Checksum,
    /// The same per stream, in the order each stream was first written.
    pub streams: Vec<StreamSummary>,
}

impl RecordSummary {
    /// The summary of one stream, if any of its messages was written.
    ///
    /// ```
    /// let summary = hypersockets_testkit::RecordSummary::default();
    /// assert!(summary.stream("btcusdt@trade").is_none());
    /// ```
    pub fn stream(&self, name: &str) -> Option<&StreamSummary> {
        self.streams.iter().find(|s| s.stream == name)
    }

    /// How many market data messages of one stream were fully written: 0
    /// if none.
    ///
    /// ```
    /// let summary = hypersockets_testkit::RecordSummary::default();
    /// assert_eq!(summary.data_messages_written_on("btcusdt@trade"), 0);
    /// ```
    pub fn data_messages_written_on(&self, stream: &str) -> u64 {
        self.stream(stream).map_or(0, |s| s.messages)
    }

    fn add_received(&mut self, message: &WsMessage) {
        self.messages_received += 1;
        self.bytes_received += message.len() as u64;
    }

    fn add_written(&mut self, message: &WsMessage) {
        self.messages_written += 1;
        self.bytes_written += message.len() as u64;
    }

    fn add_data(&mut self, record: &SentRecord) {
        let text = record.text();
        self.messages_written += 1;
        self.bytes_written += text.len() as u64;
        self.data_messages_written += 1;
        self.data_checksum.add(text);
        let index = match self
            .streams
            .iter()
            .position(|s| s.stream == record.stream())
        {
            Some(index) => index,
            None => {
                self.streams.push(StreamSummary {
                    stream: record.stream().to_owned(),
                    messages: 0,
                    checksum: Checksum::new(),
                });
                self.streams.len() - 1
            }
        };
        let stream = &mut self.streams[index];
        stream.messages += 1;
        stream.checksum.add(text);
    }
}

/// The market data of one stream written to one connection, in a
/// [`RecordSummary`].
///
/// ```
/// use hypersockets_testkit::RecordSummary;
///
/// let summary = RecordSummary::default();
/// let written: u64 = summary.streams.iter().map(|s| s.messages).sum();
/// assert_eq!(written, summary.data_messages_written);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamSummary {
    /// The stream's name, as subscribed.
    pub stream: String,
    /// How many of its messages were fully written.
    pub messages: u64,
    /// The [`Checksum`] of their texts, in the order written.
    pub checksum: Checksum,
}

/// The most recent messages of one list, and how many older ones the ring
/// dropped, from the `Control::recent_*` accessors. With
/// [`Recording::All`], or while fewer messages than the ring holds have
/// gone by, nothing is dropped and `messages` is the whole list.
///
/// ```
/// use std::time::Duration;
///
/// use futures_util::SinkExt;
/// use hypersockets_testkit::{ExchangeConfig, MockExchange, Recording};
/// use tokio_tungstenite::tungstenite::Message;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let exchange = MockExchange::start(ExchangeConfig::new().recording(Recording::Recent(2))).await?;
/// let (mut client, _) = tokio_tungstenite::connect_async(exchange.url()).await?;
/// for text in ["one", "two", "three"] {
///     client.send(Message::text(text)).await?;
/// }
/// let control = exchange.control();
/// let conn = control.wait_for_connections(1, Duration::from_secs(5)).await?;
/// control.wait_for_received(conn, 3, Duration::from_secs(5)).await?;
///
/// let recent = control.recent_received(conn);
/// let texts: Vec<_> = recent.messages.iter().filter_map(|m| m.as_text()).collect();
/// assert_eq!(texts, ["two", "three"]);
/// assert_eq!((recent.dropped, recent.total()), (1, 3));
/// assert!(!recent.is_complete());
/// // The complete list is not there, and the error says so.
/// assert!(control.received(conn).is_err());
///
/// drop(client);
/// exchange.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recorded<T> {
    /// The messages kept, oldest first: the most recent ones.
    pub messages: Vec<T>,
    /// How many older messages were recorded and then dropped: 0 when
    /// `messages` is everything.
    pub dropped: u64,
}

impl<T> Recorded<T> {
    pub(crate) fn new(messages: Vec<T>, dropped: u64) -> Self {
        Self { messages, dropped }
    }

    /// Whether nothing was dropped: `messages` is the whole list.
    ///
    /// ```
    /// # use hypersockets_testkit::{Control, ConnectionId};
    /// # fn show(control: &Control, conn: ConnectionId) {
    /// let recent = control.recent_written(conn);
    /// assert_eq!(recent.is_complete(), recent.dropped == 0);
    /// # }
    /// ```
    pub fn is_complete(&self) -> bool {
        self.dropped == 0
    }

    /// How many messages were recorded in all, dropped ones included.
    ///
    /// ```
    /// # use hypersockets_testkit::{Control, ConnectionId};
    /// # fn show(control: &Control, conn: ConnectionId) {
    /// let recent = control.recent_sent(conn);
    /// assert_eq!(recent.total(), recent.dropped + recent.messages.len() as u64);
    /// # }
    /// ```
    pub fn total(&self) -> u64 {
        self.dropped + self.messages.len() as u64
    }

    /// The whole list, or [`TestkitError::Truncated`] naming `what` on
    /// `connection` if anything was dropped.
    pub(crate) fn complete(self, connection: ConnectionId, what: &str) -> crate::Result<Vec<T>> {
        if self.is_complete() {
            Ok(self.messages)
        } else {
            Err(TestkitError::Truncated {
                connection,
                what: what.to_owned(),
                dropped: self.dropped,
                kept: self.messages.len(),
            })
        }
    }
}

/// A message fully written to a connection, as the ring keeps it.
#[derive(Debug)]
pub(crate) enum Written {
    /// Market data, with its stream and sequence number.
    Data(SentRecord),
    /// Anything else: answers, pings, the Close frame.
    Other(WsMessage),
}

impl Written {
    pub(crate) fn message(&self) -> WsMessage {
        match self {
            Written::Data(record) => WsMessage::Text(record.text_bytes()),
            Written::Other(message) => message.clone(),
        }
    }
}

/// A FIFO that keeps at most `limit` items, counting the ones it drops.
/// Grows as used: a quiet connection costs no more than its messages.
#[derive(Debug)]
pub(crate) struct Ring<T> {
    items: VecDeque<T>,
    dropped: u64,
}

impl<T> Default for Ring<T> {
    fn default() -> Self {
        Self {
            items: VecDeque::new(),
            dropped: 0,
        }
    }
}

impl<T> Ring<T> {
    pub(crate) fn push(&mut self, item: T, limit: Option<usize>) {
        match limit {
            Some(0) => self.dropped += 1,
            Some(limit) => {
                if self.items.len() >= limit {
                    self.items.pop_front();
                    self.dropped += 1;
                }
                self.items.push_back(item);
            }
            None => self.items.push_back(item),
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// One connection's records of its traffic.
#[derive(Debug, Default)]
pub(crate) struct Records {
    pub(crate) summary: RecordSummary,
    pub(crate) received: Ring<WsMessage>,
    pub(crate) written: Ring<Written>,
}

impl Records {
    pub(crate) fn record_received(&mut self, message: WsMessage, limit: Option<usize>) {
        self.summary.add_received(&message);
        self.received.push(message, limit);
    }

    pub(crate) fn record_written(&mut self, message: WsMessage, limit: Option<usize>) {
        self.summary.add_written(&message);
        self.written.push(Written::Other(message), limit);
    }

    pub(crate) fn record_data(&mut self, record: SentRecord, limit: Option<usize>) {
        self.summary.add_data(&record);
        self.written.push(Written::Data(record), limit);
    }

    pub(crate) fn received(&self) -> Recorded<WsMessage> {
        Recorded::new(
            self.received.iter().cloned().collect(),
            self.received.dropped(),
        )
    }

    pub(crate) fn written(&self) -> Recorded<WsMessage> {
        Recorded::new(
            self.written.iter().map(Written::message).collect(),
            self.written.dropped(),
        )
    }

    /// The market data records kept, of one stream or all; the dropped
    /// count is what was written of them and is no longer kept.
    pub(crate) fn sent(&self, stream: Option<&str>) -> Recorded<SentRecord> {
        let messages: Vec<SentRecord> = self
            .written
            .iter()
            .filter_map(|w| match w {
                Written::Data(record) if stream.is_none_or(|s| s == record.stream()) => {
                    Some(record.clone())
                }
                _ => None,
            })
            .collect();
        let written = match stream {
            None => self.summary.data_messages_written,
            Some(name) => self.summary.data_messages_written_on(name),
        };
        let dropped = written.saturating_sub(messages.len() as u64);
        Recorded::new(messages, dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(ring: &Ring<u32>) -> Vec<u32> {
        ring.iter().copied().collect()
    }

    #[test]
    fn a_ring_keeps_the_newest_and_counts_the_rest() {
        let mut ring = Ring::default();
        for n in 1..=5 {
            ring.push(n, Some(3));
        }
        assert_eq!((kept(&ring), ring.dropped()), (vec![3, 4, 5], 2));

        let mut none = Ring::default();
        for n in 1..=5 {
            none.push(n, Some(0));
        }
        assert_eq!((kept(&none), none.dropped()), (vec![], 5));

        let mut all = Ring::default();
        for n in 1..=5 {
            all.push(n, None);
        }
        assert_eq!((kept(&all), all.dropped()), (vec![1, 2, 3, 4, 5], 0));
    }
}
