//! What the mock exchange observed, for assertions: connections, the
//! handshakes, the messages received from clients and the messages written
//! to them.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use hypersockets_core::{CloseFrame, Utf8Bytes};

use crate::{Fault, HandshakeResponse, KeepaliveStats};

/// The id of one WebSocket connection.
///
/// Ids are given in the order handshakes complete, starting at 0, so the
/// `n`-th connection of a test (counting from 1) has id `n - 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(u64);

impl ConnectionId {
    /// The id with this number.
    pub const fn new(id: u64) -> Self {
        Self(id)
    }

    /// The number.
    pub const fn get(self) -> u64 {
        self.0
    }

    pub(crate) fn index(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// One market data message that the server fully wrote (and flushed) to a
/// connection.
///
/// A message is recorded only after the WebSocket library has written every
/// byte of its frame to the socket, so a client of that connection can have
/// received exactly a prefix of a connection's records, per stream and
/// overall, and all of them when the connection closed gracefully.
#[derive(Clone, PartialEq, Eq)]
pub struct SentRecord {
    connection: ConnectionId,
    stream: Arc<str>,
    seq: u64,
    text: Utf8Bytes,
    snapshot: bool,
}

impl SentRecord {
    pub(crate) fn new(
        connection: ConnectionId,
        stream: Arc<str>,
        seq: u64,
        text: Utf8Bytes,
    ) -> Self {
        Self {
            connection,
            stream,
            seq,
            text,
            snapshot: false,
        }
    }

    /// Marks it a book snapshot.
    pub(crate) fn with_snapshot(mut self, snapshot: bool) -> Self {
        self.snapshot = snapshot;
        self
    }

    /// The connection it was written to.
    pub fn connection(&self) -> ConnectionId {
        self.connection
    }

    /// The stream's name, as subscribed (e.g. `btcusdt@trade`).
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The message's sequence number in its stream on this connection (the
    /// first message after a subscription is 1), or for a
    /// [global](crate::StreamConfig::global) stream, the venue's number.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The exact text of the message.
    pub fn text(&self) -> &str {
        self.text.as_str()
    }

    /// The text as a shared buffer (no copy).
    pub fn text_bytes(&self) -> Utf8Bytes {
        self.text.clone()
    }

    /// Whether it is a book snapshot
    /// ([`StreamConfig::snapshot_on_subscribe`](crate::StreamConfig::snapshot_on_subscribe))
    /// rather than a delta. Its [`seq`](Self::seq) is the number of the last
    /// delta it includes (`0` for an empty book), so on a resubscription it
    /// repeats the number of the delta before it; its payload is
    /// `{"e":"depthSnapshot","type":"snapshot",…}`.
    ///
    /// ```
    /// # use hypersockets_testkit::{Control, ConnectionId};
    /// # fn show(control: &Control, conn: ConnectionId) {
    /// let sent = control.sent_on(conn, "btcusdt@depth").unwrap();
    /// let deltas: Vec<u64> = sent.iter().filter(|r| !r.is_snapshot()).map(|r| r.seq()).collect();
    /// # }
    /// ```
    pub fn is_snapshot(&self) -> bool {
        self.snapshot
    }
}

impl fmt::Debug for SentRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentRecord")
            .field("connection", &self.connection)
            .field("stream", &&*self.stream)
            .field("seq", &self.seq)
            .field("text", &self.text.as_str())
            .field("snapshot", &self.snapshot)
            .finish()
    }
}

/// Why a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseCause {
    /// The client sent a Close frame (shown here), and the server answered it.
    ClientClosed(Option<CloseFrame>),
    /// The socket failed or the client went away without a Close frame.
    ConnectionLost(String),
    /// A fault ended it.
    Fault(Fault),
    /// The client sent nothing for the configured idle time.
    IdleTimeout,
    /// The client missed too many server pings in a row.
    PingTimeout,
    /// Writing to the client took longer than the configured write timeout.
    WriteTimeout,
    /// The client sent more messages than the configured limit allows
    /// (see [`ExchangeConfig::incoming_limit`](crate::ExchangeConfig::incoming_limit));
    /// closed with 1008, as Binance does.
    TooManyMessages,
    /// The mock exchange shut down, or was dropped.
    Shutdown,
    /// The connection reached its lifetime
    /// ([`ExchangeConfig::connection_lifetime`](crate::ExchangeConfig::connection_lifetime))
    /// and the server closed it with 1001, as a venue does at its maximum
    /// connection age or for maintenance.
    Lifetime,
}

/// Where a connection stands.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionStatus {
    /// Open and serving.
    Open,
    /// Half-open: the TCP connection is kept but the server neither reads nor
    /// writes (after [`Fault::HalfOpen`]).
    Silent,
    /// Ended, and the socket is closed.
    Closed(CloseCause),
}

impl ConnectionStatus {
    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        matches!(self, ConnectionStatus::Closed(_))
    }
}

/// A snapshot of one connection.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// Its id.
    pub id: ConnectionId,
    /// The client's address.
    pub peer: SocketAddr,
    /// The request path and query of the handshake (e.g. `/ws`).
    pub path: String,
    /// The handshake request's headers, names in lowercase, in order.
    pub headers: Vec<(String, String)>,
    /// Where it stands.
    pub status: ConnectionStatus,
    /// The streams it is subscribed to now, in subscription order.
    pub subscriptions: Vec<String>,
    /// Whether it logged in successfully.
    pub authenticated: bool,
    /// How many market data messages have been fully written to it.
    pub data_messages_written: u64,
    /// Keepalive counters.
    pub keepalive: KeepaliveStats,
}

impl ConnectionInfo {
    /// The value of the first handshake header with this name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One WebSocket handshake request the server read, and how it answered.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HandshakeRecord {
    /// The request path and query (e.g. `/ws?streams=a`).
    pub path: String,
    /// The request's headers, names in lowercase, in order. Values that are
    /// not visible ASCII are shown as `<binary>`.
    pub headers: Vec<(String, String)>,
    /// The answer the server chose.
    pub response: HandshakeResponse,
    /// The connection it became, when the handshake completed.
    pub connection: Option<ConnectionId>,
    /// When the server read the request: the gap between two records is how
    /// long a client waited between attempts (e.g. for `Retry-After`).
    pub at: std::time::Instant,
}

impl HandshakeRecord {
    /// The value of the first header with this name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How much of one stream on one connection a client got, from
/// [`Control::check_delivery`](crate::Control::check_delivery).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamDelivery {
    /// The connection.
    pub connection: ConnectionId,
    /// The stream.
    pub stream: String,
    /// How many of its messages the client got (always the first ones).
    pub delivered: u64,
    /// How many the server fully wrote.
    pub written: u64,
}

impl StreamDelivery {
    /// Whether the client got every message written.
    pub fn is_complete(&self) -> bool {
        self.delivered == self.written
    }
}

/// The result of a successful
/// [`Control::check_delivery`](crate::Control::check_delivery): for every
/// connection and stream with messages written, how many were delivered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryReport {
    /// One entry per connection and stream, by connection, then in the order
    /// the streams were first written.
    pub streams: Vec<StreamDelivery>,
}

impl DeliveryReport {
    /// Whether every message written (on every connection) was delivered.
    pub fn is_complete(&self) -> bool {
        self.streams.iter().all(StreamDelivery::is_complete)
    }

    /// Whether every message written on `connection` was delivered.
    pub fn is_complete_on(&self, connection: ConnectionId) -> bool {
        self.streams
            .iter()
            .filter(|s| s.connection == connection)
            .all(StreamDelivery::is_complete)
    }

    /// How many messages were delivered in total.
    pub fn delivered(&self) -> u64 {
        self.streams.iter().map(|s| s.delivered).sum()
    }
}

/// Why delivered messages are not an in-order, gap-free, duplicate-free
/// prefix of what was written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// A delivered text is no message the server wrote (or it was cut).
    #[error("delivered message {index} was never written: {text}")]
    NotWritten {
        /// Its position among the delivered texts.
        index: usize,
        /// The text.
        text: String,
    },
    /// A message of a stream came out of turn: a gap (`got > expected`), a
    /// duplicate or a reordering (`got < expected`).
    #[error(
        "delivered message {index} is {stream} #{got} on connection {connection}, expected #{expected}"
    )]
    OutOfOrder {
        /// Its position among the delivered texts.
        index: usize,
        /// The connection it was written to.
        connection: ConnectionId,
        /// The stream.
        stream: String,
        /// The sequence number expected next.
        expected: u64,
        /// The sequence number delivered.
        got: u64,
    },
    /// The exchange no longer has every market data message written to a
    /// connection (its ring dropped the oldest, see
    /// [`Recording`](crate::Recording)), so delivery cannot be checked
    /// message by message: record everything with
    /// [`Recording::All`](crate::Recording::All), or compare counts and
    /// checksums ([`Control::summary`](crate::Control::summary)).
    #[error(
        "the market data written to connection {connection} is no longer all recorded \
         ({dropped} dropped): check_delivery needs Recording::All"
    )]
    Truncated {
        /// The connection.
        connection: ConnectionId,
        /// How many of its oldest market data messages were dropped.
        dropped: u64,
    },
}
