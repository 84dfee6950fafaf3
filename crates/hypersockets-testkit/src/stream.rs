//! Market data streams: what each message looks like and how fast it comes.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::book::{self, Book, Delta, Levels};
use crate::protocol::{Push, Trade};
use crate::{ConnectionId, StreamFault, SubscriptionProtocol};

/// How often a stream publishes on each connection subscribed to it (for a
/// [global](StreamConfig::global) stream, how often the venue publishes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rate {
    /// `n` messages per second, evenly spaced. Must be at least 1.
    PerSecond(u32),
    /// One message per interval. Must not be zero.
    Every(Duration),
    /// As fast as the connection takes them: only the socket's back-pressure
    /// slows the stream down.
    AsFastAsPossible,
}

impl Rate {
    /// The time between two messages, or `None` for
    /// [`AsFastAsPossible`](Rate::AsFastAsPossible).
    pub(crate) fn period(self) -> Option<Duration> {
        match self {
            Rate::PerSecond(n) => Some(Duration::from_secs(1) / n.max(1)),
            Rate::Every(every) => Some(every),
            Rate::AsFastAsPossible => None,
        }
    }
}

/// Builds the text of a custom stream's message from the stream's name, the
/// connection and the message's sequence number.
///
/// Texts should differ between connections and sequence numbers, as the
/// built-in ones do, for [`Control::check_delivery`](crate::Control::check_delivery)
/// to tell them apart.
#[derive(Clone)]
pub struct MessageFn(Arc<BuildMessage>);

type BuildMessage = dyn Fn(&str, ConnectionId, u64) -> String + Send + Sync + 'static;

impl MessageFn {
    /// Wraps a function of `(stream name, connection, seq)`.
    pub fn new(f: impl Fn(&str, ConnectionId, u64) -> String + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }
}

impl fmt::Debug for MessageFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MessageFn(..)")
    }
}

/// What a stream's messages look like.
///
/// The built-in kinds write Binance-like JSON with prices and quantities as
/// strings, wrapped in an envelope that names the stream, the connection it
/// was written to and the message's sequence number:
///
/// ```text
/// {"stream":"btcusdt@trade","conn":0,"seq":1,"data":{"e":"trade","E":1700000000001,"s":"BTCUSDT","t":1,"p":"49979.19","q":"0.834","T":1700000000001,"m":false,"M":true}}
/// ```
///
/// Every field is a function of the stream's name, the connection id and
/// the sequence number alone (times are `1700000000000 + seq`; prices walk
/// around 50000.00 with `seq`), so every run writes the same texts, and no
/// two messages of a stream are alike, even across connections.
///
/// In a venue's shape ([`StreamConfig::venue_message`]) trades are the
/// venue's own trade objects, their trade id carrying the sequence number;
/// the other kinds keep the Binance-like payload in the venue's envelope.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum StreamKind {
    /// Trades: `{"e":"trade",…,"t":seq,"p":…,"q":…}`, or the venue's trade
    /// object.
    Trade,
    /// Order book deltas: `{"e":"depthUpdate",…,"U":seq,"u":seq,"b":[[p,q]],"a":[[p,q]]}`,
    /// with `,"checksum":N` at the end for a stream with
    /// [checksums](StreamConfig::checksum), and a snapshot first for one
    /// with [snapshots](StreamConfig::snapshot_on_subscribe).
    BookDelta,
    /// 24-hour tickers: `{"e":"24hrTicker",…,"c":…,"b":…,"a":…,"v":…}`.
    Ticker,
    /// Any text, built by the function; it is sent as it is, with no
    /// envelope.
    Custom(MessageFn),
}

/// One named stream of market data.
///
/// Sequence numbers are per connection by default: each connection that
/// subscribes to the stream gets messages `1, 2, 3, …` from its
/// subscription on, with no gap. Unsubscribing pauses the stream on that
/// connection; subscribing again resumes it where it stopped, so a
/// connection never sees a number twice. A [global](Self::global) stream
/// numbers its messages as a venue numbers its trades instead: the same
/// numbers at the same instants on every connection.
///
/// ```
/// use hypersockets_testkit::{ConnectionId, Rate, StreamConfig};
///
/// let trades = StreamConfig::trades("btcusdt@trade")
///     .rate(Rate::AsFastAsPossible)
///     .limit(100);
/// assert!(
///     trades
///         .message(ConnectionId::new(0), 1)
///         .starts_with(r#"{"stream":"btcusdt@trade","conn":0,"seq":1,"data":{"#)
/// );
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StreamConfig {
    name: String,
    kind: StreamKind,
    rate: Rate,
    limit: Option<u64>,
    private: bool,
    symbol: Option<String>,
    global: bool,
    checksum: bool,
    snapshot_on_subscribe: bool,
}

impl Default for StreamConfig {
    /// Trades on `btcusdt@trade`, 10 per second, no limit, public.
    fn default() -> Self {
        Self::trades("btcusdt@trade")
    }
}

impl StreamConfig {
    /// A stream of this kind, with the defaults: 10 messages per second, no
    /// limit, public, symbol taken from the name, numbered per connection.
    pub fn new(name: impl Into<String>, kind: StreamKind) -> Self {
        Self {
            name: name.into(),
            kind,
            rate: Rate::PerSecond(10),
            limit: None,
            private: false,
            symbol: None,
            global: false,
            checksum: false,
            snapshot_on_subscribe: false,
        }
    }

    /// A stream of trades.
    pub fn trades(name: impl Into<String>) -> Self {
        Self::new(name, StreamKind::Trade)
    }

    /// A stream of order book deltas.
    pub fn book_deltas(name: impl Into<String>) -> Self {
        Self::new(name, StreamKind::BookDelta)
    }

    /// A stream of 24-hour tickers.
    pub fn tickers(name: impl Into<String>) -> Self {
        Self::new(name, StreamKind::Ticker)
    }

    /// A stream whose messages `f(name, connection, seq)` builds.
    pub fn custom(
        name: impl Into<String>,
        f: impl Fn(&str, ConnectionId, u64) -> String + Send + Sync + 'static,
    ) -> Self {
        Self::new(name, StreamKind::Custom(MessageFn::new(f)))
    }

    /// How fast it publishes on each subscribed connection. Default: 10 per
    /// second.
    pub fn rate(mut self, rate: Rate) -> Self {
        self.rate = rate;
        self
    }

    /// How many messages it publishes at most on each connection, in total;
    /// for a [global](Self::global) stream, the last sequence number the
    /// venue publishes. Default: no limit.
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Whether a connection must log in before subscribing. Default: false.
    pub fn private(mut self, private: bool) -> Self {
        self.private = private;
        self
    }

    /// The instrument symbol written in the messages. Default: taken from the
    /// name: the part before `@`, upper-cased (`btcusdt@trade` → `BTCUSDT`),
    /// else the part after `:` (`trades:BTC-USDT` → `BTC-USDT`), else the
    /// whole name upper-cased; in a Bybit venue trade, the part after the
    /// last `.` (`publicTrade.BTCUSDT` → `BTCUSDT`).
    pub fn symbol(mut self, symbol: impl Into<String>) -> Self {
        self.symbol = Some(symbol.into());
        self
    }

    /// Whether the stream's sequence numbers are the venue's, shared by
    /// every connection, as a venue's trade ids are. Default: false (each
    /// connection counts from 1).
    ///
    /// Message `k` is due at the exchange's start plus `k` periods of the
    /// [rate](Self::rate), which must be timed
    /// ([`AsFastAsPossible`](Rate::AsFastAsPossible) is refused by
    /// [`MockExchange::start`](crate::MockExchange::start)). So two
    /// connections subscribed at the same time receive the same numbers at
    /// the same instants, and a connection that subscribes at time `t`
    /// starts at the first message due after `t`: what a client rotating
    /// its connections deduplicates by trade id. A connection that falls
    /// behind still gets every number, in order; one that unsubscribes and
    /// subscribes again resumes at the message then due, the numbers in
    /// between not sent to it, as on a venue.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hypersockets_testkit::{Rate, StreamConfig};
    ///
    /// // Trade ids 1, 2, 3, … every 100 ms since the exchange started.
    /// let trades = StreamConfig::trades("btcusdt@trade")
    ///     .rate(Rate::Every(Duration::from_millis(100)))
    ///     .global(true);
    /// assert!(trades.is_global());
    /// ```
    pub fn global(mut self, global: bool) -> Self {
        self.global = global;
        self
    }

    /// Whether each book delta carries the Kraken checksum of the book
    /// after it, as `"checksum":N` at the end of its payload. Default:
    /// false. Only for [book deltas](StreamKind::BookDelta):
    /// [`MockExchange::start`](crate::MockExchange::start) refuses it on
    /// other kinds.
    ///
    /// The book after delta `seq` is that of deltas `1..=seq` applied in
    /// order: each `b` or `a` entry sets its level's quantity, a zero
    /// quantity (`"0.000"`) removes the level. The checksum is
    /// [`book_checksum`](crate::book_checksum) of its top 10 levels each
    /// side. With checksums (or [snapshots](Self::snapshot_on_subscribe))
    /// the stream's deltas come from a small book of at most 17 levels each
    /// side, bids from `49999.50` down and asks from `50000.50` up by
    /// `0.50`, one delta in five removing the levels the delta before set;
    /// without either, deltas are as they always were (one bid and one ask
    /// around a price walk, never removed). A running stream moves its
    /// book on delta by delta; [`message`](Self::message) and
    /// [`book_snapshot`](Self::book_snapshot) rebuild it from delta 1, in
    /// time linear in `seq`.
    ///
    /// ```
    /// use hypersockets_testkit::{ConnectionId, StreamConfig, book_checksum};
    ///
    /// let book = StreamConfig::book_deltas("btcusdt@depth").checksum(true);
    /// assert!(book.has_checksum());
    /// assert_eq!(
    ///     book.message(ConnectionId::new(0), 1),
    ///     r#"{"stream":"btcusdt@depth","conn":0,"seq":1,"data":{"e":"depthUpdate","E":1700000000001,"s":"BTCUSDT","U":1,"u":1,"b":[["49996.00","2.764"]],"a":[["50007.50","1.112"]],"checksum":3085735623}}"#
    /// );
    /// // The book after delta 1 is that one bid and that one ask.
    /// assert_eq!(
    ///     book_checksum(&[("50007.50", "1.112")], &[("49996.00", "2.764")]),
    ///     3_085_735_623
    /// );
    /// ```
    pub fn checksum(mut self, checksum: bool) -> Self {
        self.checksum = checksum;
        self
    }

    /// Whether a connection that subscribes to the stream (or subscribes
    /// again after unsubscribing) first gets a snapshot of the book, then
    /// the deltas after it. Default: false. Only for [book
    /// deltas](StreamKind::BookDelta):
    /// [`MockExchange::start`](crate::MockExchange::start) refuses it on
    /// other kinds; it gives the stream the small book that
    /// [`checksum`](Self::checksum) describes.
    ///
    /// The snapshot is of the book after `N`, the last number the
    /// connection's stream has produced (for a
    /// [global](Self::global) stream, the venue's last before the
    /// subscription): `0`, an empty book, on a first subscription to a
    /// stream numbered per connection. The next delta is `N + 1`. It is
    /// written in the stream's envelope with `"seq":N`, bids best (highest)
    /// first, asks best (lowest) first, every level, and a checksum with
    /// [`checksum`](Self::checksum):
    ///
    /// ```text
    /// {"stream":"btcusdt@depth","conn":0,"seq":0,"data":{"e":"depthSnapshot","type":"snapshot","s":"BTCUSDT","lastUpdateId":0,"U":0,"u":0,"bids":[],"asks":[],"checksum":0}}
    /// ```
    ///
    /// It is recorded as sent like the deltas, with
    /// [`SentRecord::is_snapshot`](crate::SentRecord::is_snapshot) true and
    /// its `seq` `N`: the same number as the delta before it, when
    /// resubscribing. Stream faults
    /// ([`Control::stream_fault`](crate::Control::stream_fault)) leave it
    /// alone and apply to the deltas.
    ///
    /// ```
    /// use hypersockets_testkit::StreamConfig;
    ///
    /// let book = StreamConfig::book_deltas("btcusdt@depth").snapshot_on_subscribe(true);
    /// assert!(book.has_snapshot_on_subscribe());
    /// assert_eq!(book.book_snapshot(0), r#"{"lastUpdateId":0,"bids":[],"asks":[]}"#);
    /// ```
    pub fn snapshot_on_subscribe(mut self, snapshot: bool) -> Self {
        self.snapshot_on_subscribe = snapshot;
        self
    }

    /// The name clients subscribe to.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What its messages look like.
    pub fn kind(&self) -> &StreamKind {
        &self.kind
    }

    /// How fast it publishes.
    pub fn get_rate(&self) -> Rate {
        self.rate
    }

    /// The most messages it publishes per connection, if limited.
    pub fn get_limit(&self) -> Option<u64> {
        self.limit
    }

    /// Whether it needs a login.
    pub fn is_private(&self) -> bool {
        self.private
    }

    /// Whether its sequence numbers are the venue's, shared by every
    /// connection (see [`global`](Self::global)).
    pub fn is_global(&self) -> bool {
        self.global
    }

    /// Whether its book deltas carry checksums (see
    /// [`checksum`](Self::checksum)).
    ///
    /// ```
    /// use hypersockets_testkit::StreamConfig;
    ///
    /// assert!(!StreamConfig::book_deltas("btcusdt@depth").has_checksum());
    /// ```
    pub fn has_checksum(&self) -> bool {
        self.checksum
    }

    /// Whether a subscription gets a snapshot first (see
    /// [`snapshot_on_subscribe`](Self::snapshot_on_subscribe)).
    ///
    /// ```
    /// use hypersockets_testkit::StreamConfig;
    ///
    /// assert!(!StreamConfig::book_deltas("btcusdt@depth").has_snapshot_on_subscribe());
    /// ```
    pub fn has_snapshot_on_subscribe(&self) -> bool {
        self.snapshot_on_subscribe
    }

    /// The book after this stream's deltas `1..=seq`, in Binance's REST
    /// depth shape: `{"lastUpdateId":seq,"bids":[["p","q"],…],"asks":[…]}`,
    /// bids best (highest) first, asks best (lowest) first, every level.
    /// The book is a function of the stream's configuration and `seq`
    /// alone, the same on every connection; for a stream of another kind
    /// than [`BookDelta`](StreamKind::BookDelta), it is empty.
    ///
    /// With [`checksum`](Self::checksum) or
    /// [`snapshot_on_subscribe`](Self::snapshot_on_subscribe) the book is
    /// small; without, levels are never removed and the book grows with
    /// `seq` (to 20 001 levels each side). What a test's "REST snapshot"
    /// fetches: see [`Control::book_snapshot`](crate::Control::book_snapshot)
    /// for the number a running exchange has reached.
    ///
    /// ```
    /// use hypersockets_testkit::{ConnectionId, StreamConfig};
    ///
    /// let book = StreamConfig::book_deltas("btcusdt@depth").checksum(true);
    /// // Delta 1 sets one bid and one ask.
    /// assert_eq!(
    ///     book.book_snapshot(1),
    ///     r#"{"lastUpdateId":1,"bids":[["49996.00","2.764"]],"asks":[["50007.50","1.112"]]}"#
    /// );
    /// assert!(book.message(ConnectionId::new(0), 1).contains(r#""b":[["49996.00","2.764"]]"#));
    /// ```
    pub fn book_snapshot(&self, seq: u64) -> String {
        self.book_levels(seq).rest_snapshot(seq)
    }

    /// The levels of its book after deltas `1..=seq`.
    pub(crate) fn book_levels(&self, seq: u64) -> Levels {
        self.book_levels_from(None, seq)
    }

    /// The same, moving `book` (a modelled book before `seq`) on rather
    /// than starting from the empty book.
    fn book_levels_from(&self, book: Option<&mut Book>, seq: u64) -> Levels {
        match (&self.kind, book) {
            (StreamKind::BookDelta, Some(book)) if self.models_book() => {
                book.advance_to(seq);
                book.levels()
            }
            (StreamKind::BookDelta, _) if self.models_book() => Book::at(seq).levels(),
            (StreamKind::BookDelta, _) => book::plain_levels(seq),
            _ => Levels::default(),
        }
    }

    /// Whether its deltas come from the small modelled book (see
    /// [`checksum`](Self::checksum)).
    pub(crate) fn models_book(&self) -> bool {
        matches!(self.kind, StreamKind::BookDelta) && (self.checksum || self.snapshot_on_subscribe)
    }

    /// The period of a global stream's numbers, if it is one.
    pub(crate) fn global_period(&self) -> Option<Duration> {
        self.rate.period().filter(|_| self.global)
    }

    /// The exact text of message `seq` of this stream on connection
    /// `connection`, as the server writes it.
    pub fn message(&self, connection: ConnectionId, seq: u64) -> String {
        self.render(connection, seq, Shape::Tagged)
    }

    /// The exact text of message `seq` of this stream on connection
    /// `connection` as an exchange emulating a venue of `protocol` writes
    /// it ([`ExchangeConfig::emulate`](crate::ExchangeConfig::emulate)):
    /// the venue's envelope, with `"conn"` and `"seq"` members added for
    /// ground truth, around the payload: for trades, the venue's documented
    /// trade object, whose trade id is `seq`; for the other kinds, the
    /// Binance-like payload.
    ///
    /// | protocol | trade payload (trade id in bold) |
    /// | --- | --- |
    /// | Binance | `{"e":"trade",…,"t":`**`5`**`,…}` in `{"stream":…,"data":…}` |
    /// | OKX | `"data":[{"instId":"BTC-USDT","tradeId":"`**`5`**`","px":…,"sz":…,"side":…,"ts":…,"count":"1"}]` |
    /// | Bybit | `"data":[{"T":…,"s":"BTCUSDT","S":…,"v":…,"p":…,"L":"PlusTick","i":…,"BT":false,"seq":`**`5`**`}]` |
    /// | Kraken | `"data":[{"symbol":"BTC/USD","side":…,"price":…,"qty":…,"ord_type":"market","trade_id":`**`5`**`,"timestamp":…}]` |
    /// | Coinbase | `"events":[{"type":"update","trades":[{"trade_id":"`**`5`**`","product_id":"BTC-USD",…}]}]` |
    /// | Hyperliquid | `"data":[{"coin":"BTC","side":…,"px":…,"sz":…,"hash":…,"time":…,"tid":`**`5`**`}]` |
    /// | HTX | `"tick":{"id":5,"ts":…,"data":[{"id":5,"ts":…,"tradeId":`**`5`**`,"amount":…,"price":…,"direction":…}]}` |
    /// | KuCoin | `"subject":"trade.l3match","data":{"sequence":"5","type":"match",…,"tradeId":"`**`5`**`","time":…}` |
    ///
    /// ```
    /// use hypersockets_testkit::{ConnectionId, StreamConfig, SubscriptionProtocol};
    ///
    /// let trades = StreamConfig::trades("trades:BTC-USDT");
    /// let text = trades.venue_message(SubscriptionProtocol::Okx, ConnectionId::new(0), 5);
    /// assert_eq!(
    ///     text,
    ///     r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"conn":0,"seq":5,"data":[{"instId":"BTC-USDT","tradeId":"5","px":"50095.94","sz":"0.170","side":"buy","ts":"1700000000005","count":"1"}]}"#
    /// );
    /// ```
    pub fn venue_message(
        &self,
        protocol: SubscriptionProtocol,
        connection: ConnectionId,
        seq: u64,
    ) -> String {
        self.render(connection, seq, Shape::Venue(protocol))
    }

    fn render(&self, connection: ConnectionId, seq: u64, shape: Shape) -> String {
        let book = if self.models_book() {
            DeltaBook::Modelled(self.checksum.then(|| Book::at(seq).levels().checksum()))
        } else {
            DeltaBook::Plain
        };
        render(
            &self.kind,
            &self.name,
            &Labels::new(self, shape),
            connection,
            seq,
            shape,
            book,
        )
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        match self.rate {
            Rate::PerSecond(0) => Err(format!("stream {}: rate of 0 per second", self.name)),
            Rate::Every(every) if every.is_zero() => {
                Err(format!("stream {}: zero interval", self.name))
            }
            Rate::AsFastAsPossible if self.global => Err(format!(
                "stream {}: a global stream needs a timed rate (PerSecond or Every), \
                 not AsFastAsPossible",
                self.name
            )),
            _ if self.name.is_empty() => Err("stream with an empty name".to_owned()),
            _ if (self.checksum || self.snapshot_on_subscribe)
                && !matches!(self.kind, StreamKind::BookDelta) =>
            {
                Err(format!(
                    "stream {}: checksums and snapshots need a book delta stream",
                    self.name
                ))
            }
            _ => Ok(()),
        }
    }
}

/// A stream's name and instrument as its messages write them, worked out
/// once per cursor.
#[derive(Debug)]
struct Labels {
    name_json: String,
    /// For the Binance-like payloads.
    symbol_json: String,
    /// For venue trades, in the venue's syntax; not JSON-quoted.
    instrument: String,
}

impl Labels {
    fn new(config: &StreamConfig, shape: Shape) -> Self {
        let symbol = config.symbol.clone();
        let instrument = match (&symbol, shape) {
            (Some(symbol), _) => symbol.clone(),
            (None, Shape::Venue(protocol)) => protocol.instrument(&config.name),
            (None, Shape::Tagged) => String::new(),
        };
        Self {
            name_json: json_string(&config.name),
            symbol_json: json_string(&symbol.unwrap_or_else(|| symbol_of(&config.name))),
            instrument,
        }
    }
}

/// The default symbol of a stream name.
pub(crate) fn symbol_of(name: &str) -> String {
    if let Some((symbol, _)) = name.split_once('@') {
        symbol.to_ascii_uppercase()
    } else if let Some((_, symbol)) = name.split_once(':') {
        symbol.to_owned()
    } else {
        name.to_ascii_uppercase()
    }
}

fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// Base of the deterministic event times.
pub(crate) const EPOCH_MS: u64 = 1_700_000_000_000;

pub(crate) fn price(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// A deterministic walk around 50 000.00.
pub(crate) fn price_cents(seq: u64) -> u64 {
    4_990_000 + seq.wrapping_mul(7_919) % 20_001
}

pub(crate) fn quantity(seq: u64) -> String {
    format!("0.{:03}", seq.wrapping_mul(104_729) % 999 + 1)
}

/// The envelope around a stream's payloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `{"stream":…,"conn":…,"seq":…,"data":…}`, whatever the protocol.
    Tagged,
    /// The venue's own shape, as its emulation writes it.
    Venue(SubscriptionProtocol),
}

/// How a book delta is written.
#[derive(Clone, Copy, Debug)]
enum DeltaBook {
    /// As book deltas always were (and for other kinds, nothing).
    Plain,
    /// From the modelled book, with this checksum if the stream has them.
    Modelled(Option<u32>),
}

fn render(
    kind: &StreamKind,
    name: &str,
    labels: &Labels,
    connection: ConnectionId,
    seq: u64,
    shape: Shape,
    book: DeltaBook,
) -> String {
    let Labels {
        symbol_json,
        instrument,
        ..
    } = labels;
    let time = EPOCH_MS.wrapping_add(seq);
    let cents = price_cents(seq);
    let venue_trade = match (kind, shape) {
        (StreamKind::Trade, Shape::Venue(protocol)) => protocol.trade(&Trade {
            seq,
            time,
            price: &price(cents),
            quantity: &quantity(seq),
            // As the Binance-like payload's `"m"`: the buyer was the maker.
            sell: seq.is_multiple_of(2),
            symbol: instrument,
        }),
        _ => None,
    };
    let trade = venue_trade.is_some();
    let data = match (kind, venue_trade) {
        (StreamKind::Custom(f), _) => return (f.0)(name, connection, seq),
        (_, Some(data)) => data,
        (StreamKind::Trade, None) => format!(
            r#"{{"e":"trade","E":{time},"s":{symbol_json},"t":{seq},"p":"{}","q":"{}","T":{time},"m":{},"M":true}}"#,
            price(cents),
            quantity(seq),
            seq.is_multiple_of(2),
        ),
        (StreamKind::BookDelta, None) => match book {
            DeltaBook::Plain => format!(
                r#"{{"e":"depthUpdate","E":{time},"s":{symbol_json},"U":{seq},"u":{seq},"b":[["{}","{}"]],"a":[["{}","{}"]]}}"#,
                price(cents),
                quantity(seq),
                price(cents + 1),
                quantity(seq + 1),
            ),
            DeltaBook::Modelled(checksum) => {
                let checksum = checksum.map_or_else(String::new, |c| format!(r#","checksum":{c}"#));
                format!(
                    r#"{{"e":"depthUpdate","E":{time},"s":{symbol_json},"U":{seq},"u":{seq},{}{checksum}}}"#,
                    Delta::of(seq).entries_json(),
                )
            }
        },
        (StreamKind::Ticker, None) => format!(
            r#"{{"e":"24hrTicker","E":{time},"s":{symbol_json},"c":"{}","b":"{}","a":"{}","o":"50000.00","h":"50100.00","l":"49900.00","v":"{}.{:03}","n":{seq}}}"#,
            price(cents),
            price(cents - 1),
            price(cents + 1),
            1_000 + seq,
            seq % 1_000,
        ),
    };
    wrap(name, labels, connection, seq, shape, &data, trade)
}

/// The envelope of `shape` around a payload.
fn wrap(
    name: &str,
    labels: &Labels,
    connection: ConnectionId,
    seq: u64,
    shape: Shape,
    data: &str,
    trade: bool,
) -> String {
    let name_json = &labels.name_json;
    let time = EPOCH_MS.wrapping_add(seq);
    let conn = connection.get();
    match shape {
        Shape::Tagged => {
            format!(r#"{{"stream":{name_json},"conn":{conn},"seq":{seq},"data":{data}}}"#)
        }
        Shape::Venue(protocol) => protocol.push(Push {
            name,
            conn,
            seq,
            time,
            data,
            trade,
        }),
    }
}

/// One stream on one connection: its next sequence number and when its next
/// message is due.
#[derive(Debug)]
pub(crate) struct Cursor {
    config: Arc<StreamConfig>,
    name: Arc<str>,
    labels: Labels,
    connection: ConnectionId,
    shape: Shape,
    next_seq: u64,
    active: bool,
    /// `None`: never (a global stream's message too far out to be timed).
    next_due: Option<Instant>,
    /// The exchange's start and the period, for a global stream: message
    /// `k` is due at `start + k × period`.
    global: Option<(Instant, Duration)>,
    /// The modelled book after the last number taken (see
    /// [`StreamConfig::checksum`]); `None` for other streams.
    book: Option<Book>,
    /// Stream faults waiting for the next messages, in order.
    faults: VecDeque<StreamFault>,
    /// The first message of a [`StreamFault::Reorder`], written after the
    /// next one.
    held: Option<Write>,
    /// Since when a snapshot is due, before any delta.
    snapshot_due: Option<Instant>,
}

/// What one turn of a stream writes, in order: nothing, one message or
/// two (no allocation on the hot path).
pub(crate) type Writes = [Option<Write>; 2];

/// A message a cursor gives to be written.
#[derive(Clone, Debug)]
pub(crate) struct Write {
    pub(crate) seq: u64,
    pub(crate) text: String,
    pub(crate) snapshot: bool,
}

impl Cursor {
    /// An active cursor: its first message is due now, or for a global
    /// stream, the first message due after now. `start` is when the
    /// exchange started.
    pub(crate) fn new(
        config: Arc<StreamConfig>,
        connection: ConnectionId,
        now: Instant,
        shape: Shape,
        start: Instant,
    ) -> Self {
        // `check` refuses an untimed global stream; were one to get here,
        // it would count per connection.
        let global = config
            .rate
            .period()
            .filter(|_| config.global)
            .map(|period| (start, period));
        let mut cursor = Self {
            name: Arc::from(config.name.as_str()),
            labels: Labels::new(&config, shape),
            connection,
            shape,
            book: config.models_book().then(Book::new),
            snapshot_due: config.snapshot_on_subscribe.then_some(now),
            config,
            next_seq: 1,
            active: true,
            next_due: Some(now),
            global,
            faults: VecDeque::new(),
            held: None,
        };
        if cursor.global.is_some() {
            cursor.next_seq = cursor.first_due_after(now);
            cursor.next_due = cursor.due_of(cursor.next_seq);
        }
        cursor
    }

    /// Queues a stream fault for its next messages.
    pub(crate) fn push_fault(&mut self, fault: StreamFault) {
        self.faults.push_back(fault);
    }

    /// Whether the exchange tracks the last number it produced on this
    /// connection, for [`Control::book_snapshot`](crate::Control::book_snapshot):
    /// book streams numbered per connection.
    pub(crate) fn tracks_produced(&self) -> bool {
        self.global.is_none() && matches!(self.config.kind, StreamKind::BookDelta)
    }

    /// The last number produced (taken, written or not); 0 before any.
    pub(crate) fn last_produced(&self) -> u64 {
        self.next_seq.saturating_sub(1)
    }

    pub(crate) fn name(&self) -> &Arc<str> {
        &self.name
    }

    pub(crate) fn is_active(&self) -> bool {
        self.active
    }

    /// Subscribed again: resumes where it stopped, next message due now; a
    /// global stream resumes at the first message due after now (never
    /// going back).
    pub(crate) fn activate(&mut self, now: Instant) {
        if self.active {
            return;
        }
        self.active = true;
        if self.global.is_some() {
            self.next_seq = self.next_seq.max(self.first_due_after(now));
            self.next_due = self.due_of(self.next_seq);
        } else {
            self.next_due = Some(now);
        }
        if self.config.snapshot_on_subscribe {
            self.snapshot_due = Some(now);
        }
    }

    pub(crate) fn deactivate(&mut self) {
        self.active = false;
    }

    /// The number of a global stream's first message due strictly after
    /// `now`.
    fn first_due_after(&self, now: Instant) -> u64 {
        let Some((start, period)) = self.global else {
            return self.next_seq;
        };
        let elapsed = now.saturating_duration_since(start).as_nanos();
        let k = elapsed / period.as_nanos().max(1) + 1;
        u64::try_from(k).unwrap_or(u64::MAX)
    }

    /// When a global stream's message `seq` is due; `None` past what an
    /// `Instant` can hold.
    fn due_of(&self, seq: u64) -> Option<Instant> {
        let (start, period) = self.global?;
        let nanos = period.as_nanos().checked_mul(u128::from(seq))?;
        let secs = u64::try_from(nanos / 1_000_000_000).ok()?;
        let subsec = u32::try_from(nanos % 1_000_000_000).ok()?;
        start.checked_add(Duration::new(secs, subsec))
    }

    fn has_more(&self) -> bool {
        self.active && (self.snapshot_due.is_some() || self.held.is_some() || self.within_limit())
    }

    fn within_limit(&self) -> bool {
        self.config.limit.is_none_or(|limit| self.next_seq <= limit)
    }

    /// Whether it publishes as fast as possible and has a message to send.
    pub(crate) fn wants_fast(&self) -> bool {
        self.has_more() && self.config.rate.period().is_none()
    }

    /// When its next timed message is due, if it is timed and has one.
    pub(crate) fn due_at(&self) -> Option<Instant> {
        if !self.has_more() || self.config.rate.period().is_none() {
            None
        } else if self.snapshot_due.is_some() {
            // The snapshot goes at once, even before a global stream's next
            // number is due.
            self.snapshot_due
        } else {
            self.next_due
        }
    }

    /// The text of the next delta, without taking it.
    pub(crate) fn peek(&self) -> String {
        let mut book = self.book.clone();
        self.render(self.next_seq, book.as_mut(), false)
    }

    /// The text of message `seq`, `book` (the modelled book, if any) moved
    /// on to it; its checksum wrong (XOR 1) when `wrong`.
    fn render(&self, seq: u64, book: Option<&mut Book>, wrong: bool) -> String {
        let book = match book {
            Some(book) => {
                book.advance_to(seq);
                let checksum = self.config.checksum.then(|| {
                    let checksum = book.levels().checksum();
                    if wrong { checksum ^ 1 } else { checksum }
                });
                DeltaBook::Modelled(checksum)
            }
            None => DeltaBook::Plain,
        };
        render(
            &self.config.kind,
            &self.name,
            &self.labels,
            self.connection,
            seq,
            self.shape,
            book,
        )
    }

    /// What to write now, the stream's turn having come: the snapshot
    /// when one is due, else the next delta as the queued faults say. Each
    /// turn takes one number (none for a snapshot); a turn may write
    /// nothing (a gap, the first of a reorder), or two messages.
    pub(crate) fn produce(&mut self, now: Instant) -> Writes {
        if self.snapshot_due.take().is_some() {
            let seq = self.last_produced();
            let levels = self.config.book_levels_from(self.book.as_mut(), seq);
            let data = levels.stream_snapshot(&self.labels.symbol_json, seq, self.config.checksum);
            let text = wrap(
                &self.name,
                &self.labels,
                self.connection,
                seq,
                self.shape,
                &data,
                false,
            );
            return [
                Some(Write {
                    seq,
                    text,
                    snapshot: true,
                }),
                None,
            ];
        }
        if let Some(held) = self.held.take() {
            if !self.within_limit() {
                return [Some(held), None];
            }
            return [Some(self.take_write(now, false)), Some(held)];
        }
        if !self.within_limit() {
            return [None, None];
        }
        while let Some(fault) = self.faults.front_mut() {
            match fault {
                StreamFault::Gap(0) => {
                    self.faults.pop_front();
                }
                StreamFault::Gap(left) => {
                    *left -= 1;
                    if *left == 0 {
                        self.faults.pop_front();
                    }
                    // The number is used up (the book moves on), unwritten.
                    self.take_write(now, false);
                    return [None, None];
                }
                StreamFault::Duplicate => {
                    self.faults.pop_front();
                    let write = self.take_write(now, false);
                    return [Some(write.clone()), Some(write)];
                }
                StreamFault::Reorder => {
                    self.faults.pop_front();
                    let write = self.take_write(now, false);
                    if !self.within_limit() {
                        // The last message: nothing to swap it with.
                        return [Some(write), None];
                    }
                    // Held until the next one is due, so that nothing goes
                    // out before its time.
                    self.held = Some(write);
                    return [None, None];
                }
                StreamFault::WrongChecksum => {
                    self.faults.pop_front();
                    return [Some(self.take_write(now, true)), None];
                }
            }
        }
        [Some(self.take_write(now, false)), None]
    }

    fn take_write(&mut self, now: Instant, wrong: bool) -> Write {
        let (seq, text) = self.take_with(now, wrong);
        Write {
            seq,
            text,
            snapshot: false,
        }
    }

    /// Takes the next message: its sequence number and text.
    #[cfg(test)]
    pub(crate) fn take(&mut self, now: Instant) -> (u64, String) {
        self.take_with(now, false)
    }

    fn take_with(&mut self, now: Instant, wrong: bool) -> (u64, String) {
        let seq = self.next_seq;
        self.next_seq = seq.saturating_add(1);
        if self.global.is_some() {
            // Due times are fixed by the venue's clock: after a stall, the
            // messages now overdue go out back to back, none skipped.
            self.next_due = self.due_of(self.next_seq);
        } else if let (Some(period), Some(due)) = (self.config.rate.period(), self.next_due) {
            let mut due = due + period;
            // Catch up after a stall, but by one second's worth at most.
            if now.saturating_duration_since(due) > Duration::from_secs(1) {
                due = now;
            }
            self.next_due = Some(due);
        }
        let mut book = self.book.take();
        let text = self.render(seq, book.as_mut(), wrong);
        self.book = book;
        (seq, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_messages_are_json_with_the_envelope() {
        for config in [
            StreamConfig::trades("btcusdt@trade"),
            StreamConfig::book_deltas("ethusdt@depth"),
            StreamConfig::tickers("tickers:BTC-USDT"),
        ] {
            for seq in [1, 2, 999, 1_000_000] {
                let text = config.message(ConnectionId::new(3), seq);
                let value: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert_eq!(value["stream"], config.name());
                assert_eq!(value["seq"], seq);
                assert_eq!(value["conn"], 3);
                assert!(value["data"]["s"].is_string());
            }
        }
        let value: serde_json::Value = serde_json::from_str(
            &StreamConfig::trades("btcusdt@trade").message(ConnectionId::new(0), 1),
        )
        .unwrap();
        assert_eq!(value["data"]["s"], "BTCUSDT");
        assert!(value["data"]["p"].is_string());
    }

    #[test]
    fn the_documented_example_is_exact() {
        assert_eq!(
            StreamConfig::trades("btcusdt@trade").message(ConnectionId::new(0), 1),
            r#"{"stream":"btcusdt@trade","conn":0,"seq":1,"data":{"e":"trade","E":1700000000001,"s":"BTCUSDT","t":1,"p":"49979.19","q":"0.834","T":1700000000001,"m":false,"M":true}}"#
        );
    }

    #[test]
    fn cursor_matches_config_message() {
        let config = Arc::new(StreamConfig::tickers("tickers:BTC-USDT").limit(2));
        let now = Instant::now();
        let conn = ConnectionId::new(1);
        let mut cursor = Cursor::new(Arc::clone(&config), conn, now, Shape::Tagged, now);
        assert_eq!(cursor.peek(), config.message(conn, 1));
        assert_eq!(cursor.take(now), (1, config.message(conn, 1)));
        assert_eq!(cursor.take(now), (2, config.message(conn, 2)));
        assert_ne!(
            config.message(conn, 1),
            config.message(ConnectionId::new(2), 1)
        );
        assert!(cursor.due_at().is_none(), "limit reached");
    }

    #[test]
    fn venue_trades_are_the_venues_trade_objects() {
        use SubscriptionProtocol::*;
        let conn = ConnectionId::new(0);
        let cases = [
            (
                Binance,
                "btcusdt@trade",
                r#"{"stream":"btcusdt@trade","conn":0,"seq":5,"data":{"e":"trade","E":1700000000005,"s":"BTCUSDT","t":5,"p":"50095.94","q":"0.170","T":1700000000005,"m":false,"M":true}}"#,
            ),
            (
                Okx,
                "trades:BTC-USDT",
                r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"conn":0,"seq":5,"data":[{"instId":"BTC-USDT","tradeId":"5","px":"50095.94","sz":"0.170","side":"buy","ts":"1700000000005","count":"1"}]}"#,
            ),
            (
                Bybit,
                "publicTrade.BTCUSDT",
                r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1700000000005,"conn":0,"seq":5,"data":[{"T":1700000000005,"s":"BTCUSDT","S":"Buy","v":"0.170","p":"50095.94","L":"PlusTick","i":"00000000-0000-4000-8000-000000000005","BT":false,"seq":5}]}"#,
            ),
            (
                Kraken,
                "trade:BTC/USD",
                r#"{"channel":"trade","type":"update","conn":0,"seq":5,"data":[{"symbol":"BTC/USD","side":"buy","price":50095.94,"qty":0.170,"ord_type":"market","trade_id":5,"timestamp":"2023-11-14T22:13:20.005000Z"}]}"#,
            ),
            (
                Coinbase,
                "market_trades:BTC-USD",
                r#"{"channel":"market_trades","client_id":"","timestamp":"2023-11-14T22:13:20.000000Z","sequence_num":5,"conn":0,"seq":5,"events":[{"type":"update","trades":[{"trade_id":"5","product_id":"BTC-USD","price":"50095.94","size":"0.170","side":"BUY","time":"2023-11-14T22:13:20.005000Z"}]}]}"#,
            ),
            (
                Hyperliquid,
                "trades:BTC",
                r#"{"channel":"trades","conn":0,"seq":5,"data":[{"coin":"BTC","side":"B","px":"50095.94","sz":"0.170","hash":"0x0000000000000000000000000000000000000000000000000000000000000005","time":1700000000005,"tid":5}]}"#,
            ),
            (
                Htx,
                "market.btcusdt.trade.detail",
                r#"{"ch":"market.btcusdt.trade.detail","ts":1700000000005,"conn":0,"seq":5,"tick":{"id":5,"ts":1700000000005,"data":[{"id":5,"ts":1700000000005,"tradeId":5,"amount":0.170,"price":50095.94,"direction":"buy"}]}}"#,
            ),
            (
                Kucoin,
                "/market/match:BTC-USDT",
                r#"{"type":"message","topic":"/market/match:BTC-USDT","subject":"trade.l3match","conn":0,"seq":5,"data":{"sequence":"5","type":"match","symbol":"BTC-USDT","side":"buy","price":"50095.94","size":"0.170","tradeId":"5","time":"1700000000005000000"}}"#,
            ),
        ];
        for (protocol, name, expected) in cases {
            let config = StreamConfig::trades(name);
            assert_eq!(
                config.venue_message(protocol, conn, 5),
                expected,
                "{protocol:?}"
            );
            // The cursor writes what `venue_message` says.
            let now = Instant::now();
            let cursor = Cursor::new(Arc::new(config), conn, now, Shape::Venue(protocol), now);
            assert_eq!(cursor.render(5, None, false), expected, "{protocol:?}");
        }
        // The tagged envelope ignores the protocol.
        assert_eq!(
            StreamConfig::trades("trades:BTC-USDT").message(conn, 5),
            r#"{"stream":"trades:BTC-USDT","conn":0,"seq":5,"data":{"e":"trade","E":1700000000005,"s":"BTC-USDT","t":5,"p":"50095.94","q":"0.170","T":1700000000005,"m":false,"M":true}}"#
        );
    }

    #[test]
    fn an_explicit_symbol_names_the_venue_trade() {
        let text = StreamConfig::trades("trade:XBT/USD")
            .symbol("BTC/USD")
            .venue_message(SubscriptionProtocol::Kraken, ConnectionId::new(0), 2);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["data"][0]["symbol"], "BTC/USD");
        assert_eq!(value["data"][0]["side"], "sell", "even: the buyer made");
    }

    #[test]
    fn other_kinds_keep_the_binance_like_payload_in_venue_shapes() {
        let text = StreamConfig::tickers("tickers:BTC-USDT").venue_message(
            SubscriptionProtocol::Okx,
            ConnectionId::new(0),
            1,
        );
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["data"][0]["e"], "24hrTicker");
    }

    const SECOND: Duration = Duration::from_secs(1);

    fn global_cursor(start: Instant, now: Instant) -> Cursor {
        let config = StreamConfig::trades("btcusdt@trade")
            .rate(Rate::Every(SECOND))
            .global(true);
        Cursor::new(
            Arc::new(config),
            ConnectionId::new(0),
            now,
            Shape::Tagged,
            start,
        )
    }

    #[test]
    fn a_global_stream_follows_the_venues_schedule() {
        let start = Instant::now();
        // Subscribed at the start: message 1 at start + 1 s.
        let mut cursor = global_cursor(start, start);
        assert_eq!(cursor.due_at(), Some(start + SECOND));
        assert_eq!(cursor.take(start + SECOND).0, 1);
        assert_eq!(cursor.due_at(), Some(start + 2 * SECOND));
        // Another connection, subscribed between 2 s and 3 s, starts at 3;
        // one subscribed at exactly 3 s, at 4.
        let later = global_cursor(start, start + 2 * SECOND + Duration::from_millis(500));
        assert_eq!(later.due_at(), Some(start + 3 * SECOND));
        assert_eq!(later.peek(), later.config.message(ConnectionId::new(0), 3));
        let exact = global_cursor(start, start + 3 * SECOND);
        assert_eq!(exact.due_at(), Some(start + 4 * SECOND));
    }

    #[test]
    fn a_stalled_global_stream_sends_every_number_in_order() {
        let start = Instant::now();
        let mut cursor = global_cursor(start, start);
        // Nothing taken for 10 s: messages 1 to 10 are all overdue.
        let now = start + 10 * SECOND;
        let mut seqs = Vec::new();
        while cursor.due_at().is_some_and(|due| due <= now) {
            seqs.push(cursor.take(now).0);
        }
        assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
        assert_eq!(cursor.due_at(), Some(start + 11 * SECOND));
    }

    #[test]
    fn a_global_stream_resubscribed_resumes_at_the_message_then_due() {
        let start = Instant::now();
        let mut cursor = global_cursor(start, start);
        assert_eq!(cursor.take(start + SECOND).0, 1);
        cursor.deactivate();
        assert_eq!(cursor.due_at(), None);
        cursor.activate(start + 5 * SECOND + Duration::from_millis(1));
        assert_eq!(cursor.due_at(), Some(start + 6 * SECOND));
        assert_eq!(cursor.take(start + 6 * SECOND).0, 6);
        // Again within the same period: no number goes back.
        cursor.deactivate();
        cursor.activate(start + 6 * SECOND);
        assert_eq!(cursor.take(start + 7 * SECOND).0, 7);
    }

    #[test]
    fn a_global_streams_limit_is_its_last_number() {
        let start = Instant::now();
        let config = StreamConfig::trades("t")
            .rate(Rate::Every(SECOND))
            .global(true)
            .limit(3);
        let cursor = Cursor::new(
            Arc::new(config),
            ConnectionId::new(0),
            start + 3 * SECOND,
            Shape::Tagged,
            start,
        );
        assert_eq!(cursor.due_at(), None, "message 4 is past the limit");
    }

    #[test]
    fn a_global_stream_needs_a_timed_rate() {
        let fast = StreamConfig::trades("t")
            .rate(Rate::AsFastAsPossible)
            .global(true);
        let error = fast.check().unwrap_err();
        assert!(
            error.contains("global") && error.contains("AsFastAsPossible"),
            "{error}"
        );
        assert!(fast.global(false).check().is_ok());
        assert!(
            StreamConfig::trades("t")
                .rate(Rate::PerSecond(3))
                .global(true)
                .check()
                .is_ok()
        );
    }

    #[test]
    fn global_due_times_do_not_overflow() {
        let start = Instant::now();
        let config = StreamConfig::trades("t")
            .rate(Rate::Every(Duration::from_secs(u64::MAX / 2)))
            .global(true);
        let mut cursor = Cursor::new(
            Arc::new(config),
            ConnectionId::new(0),
            start,
            Shape::Tagged,
            start,
        );
        // Message 1 cannot be timed: never due, no panic.
        assert_eq!(cursor.due_at(), None);
        cursor.deactivate();
        cursor.activate(start);
        assert_eq!(cursor.due_at(), None);
    }

    #[test]
    fn plain_book_deltas_are_as_they_were() {
        assert_eq!(
            StreamConfig::book_deltas("btcusdt@depth").message(ConnectionId::new(0), 1),
            r#"{"stream":"btcusdt@depth","conn":0,"seq":1,"data":{"e":"depthUpdate","E":1700000000001,"s":"BTCUSDT","U":1,"u":1,"b":[["49979.19","0.834"]],"a":[["49979.20","0.668"]]}}"#
        );
        // A plain book is the union of its deltas.
        let snapshot: serde_json::Value =
            serde_json::from_str(&StreamConfig::book_deltas("b").book_snapshot(1)).unwrap();
        assert_eq!(snapshot["bids"], serde_json::json!([["49979.19", "0.834"]]));
        assert_eq!(snapshot["asks"], serde_json::json!([["49979.20", "0.668"]]));
        assert_eq!(
            StreamConfig::trades("t").book_snapshot(5),
            r#"{"lastUpdateId":5,"bids":[],"asks":[]}"#
        );
    }

    #[test]
    fn checksums_and_snapshots_need_a_book_stream() {
        assert!(StreamConfig::trades("t").checksum(true).check().is_err());
        assert!(
            StreamConfig::tickers("t")
                .snapshot_on_subscribe(true)
                .check()
                .is_err()
        );
        assert!(
            StreamConfig::book_deltas("b")
                .checksum(true)
                .check()
                .is_ok()
        );
    }

    fn book_cursor(config: StreamConfig, now: Instant) -> (Arc<StreamConfig>, Cursor) {
        let config = Arc::new(config.rate(Rate::AsFastAsPossible));
        let cursor = Cursor::new(
            Arc::clone(&config),
            ConnectionId::new(0),
            now,
            Shape::Tagged,
            now,
        );
        (config, cursor)
    }

    fn seqs(writes: &Writes) -> Vec<u64> {
        writes.iter().flatten().map(|w| w.seq).collect()
    }

    fn only(writes: Writes) -> Write {
        match writes {
            [Some(write), None] => write,
            other => panic!("expected one message, got {other:?}"),
        }
    }

    #[test]
    fn stream_faults_skip_repeat_swap_and_spoil() {
        let now = Instant::now();
        let conn = ConnectionId::new(0);
        let (config, mut cursor) = book_cursor(StreamConfig::book_deltas("b").checksum(true), now);
        for fault in [
            StreamFault::Gap(0),
            StreamFault::Gap(2),
            StreamFault::Duplicate,
            StreamFault::Reorder,
            StreamFault::WrongChecksum,
        ] {
            cursor.push_fault(fault);
        }
        let turns: Vec<Writes> = (0..7).map(|_| cursor.produce(now)).collect();
        let got: Vec<Vec<u64>> = turns.iter().map(seqs).collect();
        assert_eq!(
            got,
            [
                vec![],
                vec![],
                vec![3, 3],
                vec![],
                vec![5, 4],
                vec![6],
                vec![7]
            ]
        );
        assert_eq!(cursor.last_produced(), 7);
        for write in turns.iter().flatten().flatten().filter(|w| w.seq != 6) {
            assert_eq!(write.text, config.message(conn, write.seq));
            assert!(!write.snapshot);
        }
        // Message 6: the right text but for a checksum XOR 1.
        let right = config.message(conn, 6);
        let checksum = |text: &str| {
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            value["data"]["checksum"].as_u64().unwrap()
        };
        assert_eq!(
            checksum(&turns[5][0].as_ref().unwrap().text),
            checksum(&right) ^ 1
        );
        assert_eq!(
            turns[5][0].as_ref().unwrap().text.replace(
                &checksum(&turns[5][0].as_ref().unwrap().text).to_string(),
                &checksum(&right).to_string()
            ),
            right
        );
    }

    #[test]
    fn a_reorder_at_the_limit_writes_what_there_is() {
        let now = Instant::now();
        let (_, mut cursor) = book_cursor(StreamConfig::book_deltas("b").limit(2), now);
        cursor.push_fault(StreamFault::Reorder);
        assert!(seqs(&cursor.produce(now)).is_empty());
        assert_eq!(seqs(&cursor.produce(now)), [2, 1]);
        assert!(!cursor.wants_fast());

        let (_, mut cursor) = book_cursor(StreamConfig::book_deltas("b").limit(2), now);
        assert_eq!(seqs(&cursor.produce(now)), [1]);
        cursor.push_fault(StreamFault::Reorder);
        assert_eq!(seqs(&cursor.produce(now)), [2], "the last goes alone");
        assert!(!cursor.wants_fast());
    }

    #[test]
    fn a_snapshot_comes_first_on_every_subscription() {
        let now = Instant::now();
        let conn = ConnectionId::new(0);
        let (config, mut cursor) = book_cursor(
            StreamConfig::book_deltas("btcusdt@depth")
                .checksum(true)
                .snapshot_on_subscribe(true),
            now,
        );
        cursor.push_fault(StreamFault::Duplicate);
        let first = only(cursor.produce(now));
        assert_eq!(first.seq, 0);
        assert!(first.snapshot);
        assert_eq!(
            first.text,
            r#"{"stream":"btcusdt@depth","conn":0,"seq":0,"data":{"e":"depthSnapshot","type":"snapshot","s":"BTCUSDT","lastUpdateId":0,"U":0,"u":0,"bids":[],"asks":[],"checksum":0}}"#
        );
        // The fault is the first delta's.
        assert_eq!(seqs(&cursor.produce(now)), [1, 1]);
        for seq in 2..=20 {
            assert_eq!(only(cursor.produce(now)).text, config.message(conn, seq));
        }
        cursor.deactivate();
        assert!(!cursor.wants_fast());
        cursor.activate(now);
        let again = only(cursor.produce(now));
        assert_eq!((again.seq, again.snapshot), (20, true));
        let value: serde_json::Value = serde_json::from_str(&again.text).unwrap();
        let rest: serde_json::Value = serde_json::from_str(&config.book_snapshot(20)).unwrap();
        assert_eq!(value["data"]["bids"], rest["bids"]);
        assert_eq!(value["data"]["asks"], rest["asks"]);
        assert_eq!(value["data"]["lastUpdateId"], 20);
        assert_eq!(
            value["data"]["checksum"],
            u64::from(config.book_levels(20).checksum())
        );
        assert_eq!(only(cursor.produce(now)).text, config.message(conn, 21));
        // Peeking moves nothing.
        assert_eq!(cursor.peek(), config.message(conn, 22));
        assert_eq!(only(cursor.produce(now)).text, config.message(conn, 22));
    }

    #[test]
    fn a_global_snapshot_is_at_the_venues_last_number() {
        let start = Instant::now();
        let config = StreamConfig::book_deltas("b")
            .snapshot_on_subscribe(true)
            .rate(Rate::Every(SECOND))
            .global(true);
        let now = start + 2 * SECOND + Duration::from_millis(500);
        let mut cursor = Cursor::new(
            Arc::new(config),
            ConnectionId::new(0),
            now,
            Shape::Tagged,
            start,
        );
        // Due at once, not at message 3's time.
        assert_eq!(cursor.due_at(), Some(now));
        assert_eq!(seqs(&cursor.produce(now)), [2]);
        assert_eq!(cursor.due_at(), Some(start + 3 * SECOND));
        assert_eq!(seqs(&cursor.produce(start + 3 * SECOND)), [3]);
    }

    #[test]
    fn custom_streams_send_their_own_text() {
        let config = StreamConfig::custom("x", |name, conn, seq| format!("{name}-{conn}-{seq}"));
        assert_eq!(config.message(ConnectionId::new(2), 7), "x-#2-7");
    }
}
