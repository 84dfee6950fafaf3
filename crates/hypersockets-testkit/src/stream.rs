//! Market data streams: what each message looks like and how fast it comes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::protocol::Push;
use crate::{ConnectionId, SubscriptionProtocol};

/// How often a stream publishes on each connection subscribed to it.
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
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum StreamKind {
    /// Trades: `{"e":"trade",…,"t":seq,"p":…,"q":…}`.
    Trade,
    /// Order book deltas: `{"e":"depthUpdate",…,"U":seq,"u":seq,"b":[[p,q]],"a":[[p,q]]}`.
    BookDelta,
    /// 24-hour tickers: `{"e":"24hrTicker",…,"c":…,"b":…,"a":…,"v":…}`.
    Ticker,
    /// Any text, built by the function; it is sent as it is, with no
    /// envelope.
    Custom(MessageFn),
}

/// One named stream of market data.
///
/// Sequence numbers are per connection: each connection that subscribes to
/// the stream gets messages `1, 2, 3, …` from its subscription on, with no
/// gap. Unsubscribing pauses the stream on that connection; subscribing again
/// resumes it where it stopped, so a connection never sees a number twice.
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
}

impl Default for StreamConfig {
    /// Trades on `btcusdt@trade`, 10 per second, no limit, public.
    fn default() -> Self {
        Self::trades("btcusdt@trade")
    }
}

impl StreamConfig {
    /// A stream of this kind, with the defaults: 10 messages per second, no
    /// limit, public, symbol taken from the name.
    pub fn new(name: impl Into<String>, kind: StreamKind) -> Self {
        Self {
            name: name.into(),
            kind,
            rate: Rate::PerSecond(10),
            limit: None,
            private: false,
            symbol: None,
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

    /// How many messages it publishes at most on each connection, in total.
    /// Default: no limit.
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
    /// whole name upper-cased.
    pub fn symbol(mut self, symbol: impl Into<String>) -> Self {
        self.symbol = Some(symbol.into());
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

    /// The exact text of message `seq` of this stream on connection
    /// `connection`, as the server writes it.
    pub fn message(&self, connection: ConnectionId, seq: u64) -> String {
        self.render(connection, seq, Shape::Tagged)
    }

    /// The exact text of message `seq` of this stream on connection
    /// `connection` as an exchange emulating a venue of `protocol` writes
    /// it ([`ExchangeConfig::emulate`](crate::ExchangeConfig::emulate)):
    /// the same payload in the venue's envelope, with `"conn"` and `"seq"`
    /// members added for ground truth.
    ///
    /// ```
    /// use hypersockets_testkit::{ConnectionId, StreamConfig, SubscriptionProtocol};
    ///
    /// let trades = StreamConfig::trades("trades:BTC-USDT");
    /// let text = trades.venue_message(SubscriptionProtocol::Okx, ConnectionId::new(0), 1);
    /// assert!(text.starts_with(r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"conn":0,"seq":1,"data":[{"#));
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
        let symbol = self.symbol.clone().unwrap_or_else(|| symbol_of(&self.name));
        render(
            &self.kind,
            &self.name,
            &json_string(&self.name),
            &json_string(&symbol),
            connection,
            seq,
            shape,
        )
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        match self.rate {
            Rate::PerSecond(0) => Err(format!("stream {}: rate of 0 per second", self.name)),
            Rate::Every(every) if every.is_zero() => {
                Err(format!("stream {}: zero interval", self.name))
            }
            _ if self.name.is_empty() => Err("stream with an empty name".to_owned()),
            _ => Ok(()),
        }
    }
}

/// The default symbol of a stream name.
fn symbol_of(name: &str) -> String {
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
const EPOCH_MS: u64 = 1_700_000_000_000;

fn price(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// A deterministic walk around 50 000.00.
fn price_cents(seq: u64) -> u64 {
    4_990_000 + seq.wrapping_mul(7_919) % 20_001
}

fn quantity(seq: u64) -> String {
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

fn render(
    kind: &StreamKind,
    name: &str,
    name_json: &str,
    symbol_json: &str,
    connection: ConnectionId,
    seq: u64,
    shape: Shape,
) -> String {
    let time = EPOCH_MS.wrapping_add(seq);
    let cents = price_cents(seq);
    let data = match kind {
        StreamKind::Custom(f) => return (f.0)(name, connection, seq),
        StreamKind::Trade => format!(
            r#"{{"e":"trade","E":{time},"s":{symbol_json},"t":{seq},"p":"{}","q":"{}","T":{time},"m":{},"M":true}}"#,
            price(cents),
            quantity(seq),
            seq.is_multiple_of(2),
        ),
        StreamKind::BookDelta => format!(
            r#"{{"e":"depthUpdate","E":{time},"s":{symbol_json},"U":{seq},"u":{seq},"b":[["{}","{}"]],"a":[["{}","{}"]]}}"#,
            price(cents),
            quantity(seq),
            price(cents + 1),
            quantity(seq + 1),
        ),
        StreamKind::Ticker => format!(
            r#"{{"e":"24hrTicker","E":{time},"s":{symbol_json},"c":"{}","b":"{}","a":"{}","o":"50000.00","h":"50100.00","l":"49900.00","v":"{}.{:03}","n":{seq}}}"#,
            price(cents),
            price(cents - 1),
            price(cents + 1),
            1_000 + seq,
            seq % 1_000,
        ),
    };
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
            data: &data,
        }),
    }
}

/// One stream on one connection: its next sequence number and when its next
/// message is due.
#[derive(Debug)]
pub(crate) struct Cursor {
    config: Arc<StreamConfig>,
    name: Arc<str>,
    name_json: String,
    symbol_json: String,
    connection: ConnectionId,
    shape: Shape,
    next_seq: u64,
    active: bool,
    next_due: Instant,
}

impl Cursor {
    /// An active cursor whose first message is due now.
    pub(crate) fn new(
        config: Arc<StreamConfig>,
        connection: ConnectionId,
        now: Instant,
        shape: Shape,
    ) -> Self {
        let symbol = config
            .symbol
            .clone()
            .unwrap_or_else(|| symbol_of(&config.name));
        Self {
            name: Arc::from(config.name.as_str()),
            name_json: json_string(&config.name),
            symbol_json: json_string(&symbol),
            connection,
            shape,
            config,
            next_seq: 1,
            active: true,
            next_due: now,
        }
    }

    pub(crate) fn name(&self) -> &Arc<str> {
        &self.name
    }

    pub(crate) fn is_active(&self) -> bool {
        self.active
    }

    /// Subscribed again: resumes where it stopped, next message due now.
    pub(crate) fn activate(&mut self, now: Instant) {
        if !self.active {
            self.active = true;
            self.next_due = now;
        }
    }

    pub(crate) fn deactivate(&mut self) {
        self.active = false;
    }

    fn has_more(&self) -> bool {
        self.active && self.config.limit.is_none_or(|limit| self.next_seq <= limit)
    }

    /// Whether it publishes as fast as possible and has a message to send.
    pub(crate) fn wants_fast(&self) -> bool {
        self.has_more() && self.config.rate.period().is_none()
    }

    /// When its next timed message is due, if it is timed and has one.
    pub(crate) fn due_at(&self) -> Option<Instant> {
        (self.has_more() && self.config.rate.period().is_some()).then_some(self.next_due)
    }

    /// The text of the next message, without taking it.
    pub(crate) fn peek(&self) -> String {
        self.render(self.next_seq)
    }

    fn render(&self, seq: u64) -> String {
        render(
            &self.config.kind,
            &self.name,
            &self.name_json,
            &self.symbol_json,
            self.connection,
            seq,
            self.shape,
        )
    }

    /// Takes the next message: its sequence number and text.
    pub(crate) fn take(&mut self, now: Instant) -> (u64, String) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(period) = self.config.rate.period() {
            self.next_due += period;
            // Catch up after a stall, but by one second's worth at most.
            if now.saturating_duration_since(self.next_due) > Duration::from_secs(1) {
                self.next_due = now;
            }
        }
        (seq, self.render(seq))
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
        let mut cursor = Cursor::new(Arc::clone(&config), conn, now, Shape::Tagged);
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
    fn custom_streams_send_their_own_text() {
        let config = StreamConfig::custom("x", |name, conn, seq| format!("{name}-{conn}-{seq}"));
        assert_eq!(config.message(ConnectionId::new(2), 7), "x-#2-7");
    }
}
