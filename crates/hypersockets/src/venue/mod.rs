//! Ready venue profiles: each venue's URL, keepalive, request and answer
//! formats, pacing and limits, picked with one builder call.

mod binance;
mod bybit;
mod coinbase;
mod htx;
mod hyperliquid;
mod kraken;
mod kucoin;
mod limits;
mod okx;
mod router;

use std::sync::Arc;
use std::time::Duration;

use hypersockets_core::{
    PassivePingDetector, StreamId, StreamSequence, SubscriptionAcks, TopicRequests, WsMessage,
};

pub use limits::VenueLimits;
pub use router::TopicRouter;

use crate::{Decompression, Heartbeat, Pacing};

/// Reads the topic a venue's data message belongs to, spelled as it was
/// subscribed; `None` for anything else (answers, pongs, statuses).
type TopicOf = fn(&WsMessage) -> Option<String>;
/// Reads the parts of that topic from a message's text, without
/// allocating: its channel and, for a topic spelled `channel:symbol`, its
/// symbol. Each venue's `topic_of` and `sequence_of` are built on it (see
/// [`topic`] and [`numbered`]).
type TopicParts = fn(&str) -> Option<(&str, Option<&str>)>;
type SequenceOf = fn(&WsMessage) -> Option<StreamSequence>;
type NoticeOf = fn(&WsMessage) -> bool;

/// A venue's rules, ready to use: where to connect, how to keep the
/// connection alive, how to write subscription requests for topics and
/// read the answers, how fast to write, and the venue's limits.
///
/// Pick one with [`WebSocketClientBuilder::venue`](crate::WebSocketClientBuilder::venue)
/// (it sets the URL and every setting below); override any part with the
/// setters here or with later builder calls. Subscribe with
/// [`Subscription::topic`](crate::Subscription::topic), in the venue's
/// topic syntax (each constructor documents it); route by topic with
/// [`Venue::router`].
///
/// Each constructor's documentation gives the venue's documented facts it
/// relies on, and says where the venue's documentation is silent.
///
/// ```
/// # use hypersockets::prelude::*;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// use hypersockets::{Subscription, Venue};
///
/// let binance = Venue::binance_spot();
/// let client = WebSocketClient::builder()
///     .venue(binance.clone())
///     .router(binance.router())
///     .handler("btcusdt@trade".to_owned(), handler_fn(|trade: WsMessage| {
///         println!("{trade:?}");
///         Ok::<_, BoxError>(())
///     }))
///     .subscribe(Subscription::topic("btcusdt@trade"))
///     .subscribe(Subscription::topic("ethusdt@trade"))
///     .build()?;
/// # client.close().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Venue {
    name: &'static str,
    url: String,
    topics: Arc<dyn TopicRequests>,
    acks: Option<Arc<dyn SubscriptionAcks>>,
    ping_detector: Option<Arc<dyn PassivePingDetector>>,
    heartbeat: Option<Heartbeat>,
    liveness_timeout: Option<Duration>,
    pacing: Pacing,
    decompression: Decompression,
    limits: VenueLimits,
    topic_of: TopicOf,
    /// Reads a message's stream and number, on every message: for a
    /// rotation's overlap and for each stream's integrity.
    sequence_of: SequenceOf,
    /// Tells the venue's shutdown notice, if it sends one.
    notice: Option<NoticeOf>,
    /// Topics the profile always subscribes to (Coinbase's `heartbeats`).
    standing: &'static [&'static str],
}

impl std::fmt::Debug for Venue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: a token venue's URL carries its token.
        f.debug_struct("Venue")
            .field("name", &self.name)
            .field("acks", &self.acks.is_some())
            .field("ping_detector", &self.ping_detector.is_some())
            .field("heartbeat", &self.heartbeat)
            .field("liveness_timeout", &self.liveness_timeout)
            .field("pacing", &self.pacing)
            .field("decompression", &self.decompression)
            .field("limits", &self.limits)
            .field("notice", &self.notice.is_some())
            .field("standing", &self.standing)
            .finish_non_exhaustive()
    }
}

impl Venue {
    /// A profile from its parts; the constructors below fill the rest.
    fn new(
        name: &'static str,
        url: impl Into<String>,
        topics: impl TopicRequests,
        acks: impl SubscriptionAcks,
        topic_of: TopicOf,
        sequence_of: SequenceOf,
    ) -> Self {
        Self {
            name,
            url: url.into(),
            topics: Arc::new(topics),
            acks: Some(Arc::new(acks)),
            ping_detector: None,
            heartbeat: None,
            liveness_timeout: None,
            pacing: Pacing::default(),
            decompression: Decompression::Off,
            limits: VenueLimits::default(),
            topic_of,
            sequence_of,
            notice: None,
            standing: &[],
        }
    }

    /// The venue's name, as in logs (`"binance-spot"`, `"okx"`, …).
    ///
    /// ```
    /// assert_eq!(hypersockets::Venue::okx().name(), "okx");
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The URL the client connects to (the venue's public endpoint unless
    /// changed with [`url`](Self::url)).
    ///
    /// ```
    /// let okx = hypersockets::Venue::okx();
    /// assert_eq!(okx.endpoint(), "wss://ws.okx.com:8443/ws/v5/public");
    /// ```
    pub fn endpoint(&self) -> &str {
        &self.url
    }

    /// Connects to `url` instead: a testnet, a private endpoint, a region,
    /// a mock exchange.
    ///
    /// ```
    /// let testnet = hypersockets::Venue::binance_spot().url("wss://stream.testnet.binance.vision/stream");
    /// assert_eq!(testnet.endpoint(), "wss://stream.testnet.binance.vision/stream");
    /// ```
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    /// How fast the client writes to the venue (each constructor documents
    /// its choice, within the venue's limits).
    ///
    /// ```
    /// use hypersockets::{Pacing, Venue};
    ///
    /// let bybit = Venue::bybit_spot().pacing(Pacing::default());
    /// assert_eq!(bybit.pacing_of(), Pacing::default());
    /// ```
    pub fn pacing(mut self, pacing: Pacing) -> Self {
        self.pacing = pacing;
        self
    }

    /// The pacing the client gets.
    ///
    /// ```
    /// use hypersockets::{Rate, Venue};
    ///
    /// assert_eq!(Venue::binance_spot().pacing_of().all_limit(), Some(Rate::per_second(5)));
    /// ```
    pub fn pacing_of(&self) -> Pacing {
        self.pacing
    }

    /// The heartbeat the client sends (`None`: none).
    ///
    /// ```
    /// use std::time::Duration;
    /// use hypersockets::{Heartbeat, Venue};
    ///
    /// let okx = Venue::okx().heartbeat(Some(Heartbeat::new(Duration::from_secs(10), "ping").reply("pong")));
    /// assert_eq!(okx.heartbeat_of().map(|h| h.interval), Some(Duration::from_secs(10)));
    /// ```
    pub fn heartbeat(mut self, heartbeat: Option<Heartbeat>) -> Self {
        self.heartbeat = heartbeat;
        self
    }

    /// The heartbeat the client sends, if any.
    ///
    /// ```
    /// assert!(hypersockets::Venue::binance_spot().heartbeat_of().is_none()); // Binance pings us
    /// ```
    pub fn heartbeat_of(&self) -> Option<&Heartbeat> {
        self.heartbeat.as_ref()
    }

    /// How long the client waits for any message before judging the
    /// connection dead (`None`: only the protocol ping's judgement).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let okx = hypersockets::Venue::okx().liveness_timeout(Some(Duration::from_secs(45)));
    /// assert_eq!(okx.liveness_timeout_of(), Some(Duration::from_secs(45)));
    /// ```
    pub fn liveness_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.liveness_timeout = timeout;
        self
    }

    /// The liveness timeout, if any.
    ///
    /// ```
    /// assert!(hypersockets::Venue::okx().liveness_timeout_of().is_some());
    /// ```
    pub fn liveness_timeout_of(&self) -> Option<Duration> {
        self.liveness_timeout
    }

    /// Reads the venue's answers with `acks` instead (`None`: a
    /// subscription counts as done once written).
    ///
    /// ```
    /// let okx = hypersockets::Venue::okx().acks(None::<hypersockets::OkxAcks>);
    /// # let _ = okx;
    /// ```
    pub fn acks<A: SubscriptionAcks>(mut self, acks: Option<A>) -> Self {
        self.acks = acks.map(|a| Arc::new(a) as Arc<dyn SubscriptionAcks>);
        self
    }

    /// Writes topic requests with `topics` instead.
    ///
    /// ```
    /// use hypersockets::{TopicRequests, Venue, WsMessage};
    ///
    /// struct OneAtATime;
    ///
    /// impl TopicRequests for OneAtATime {
    ///     fn max_topics(&self) -> usize {
    ///         1
    ///     }
    ///     fn subscribe(&self, topics: &[&str], id: u64) -> WsMessage {
    ///         WsMessage::text(format!(r#"{{"method":"SUBSCRIBE","params":["{}"],"id":{id}}}"#, topics[0]))
    ///     }
    ///     fn unsubscribe(&self, topics: &[&str], id: u64) -> Option<WsMessage> {
    ///         Some(WsMessage::text(format!(r#"{{"method":"UNSUBSCRIBE","params":["{}"],"id":{id}}}"#, topics[0])))
    ///     }
    /// }
    ///
    /// let binance = Venue::binance_spot().topic_requests(OneAtATime);
    /// # let _ = binance;
    /// ```
    pub fn topic_requests(mut self, topics: impl TopicRequests) -> Self {
        self.topics = Arc::new(topics);
        self
    }

    /// The venue's limits (see [`VenueLimits`]).
    ///
    /// ```
    /// let binance = hypersockets::Venue::binance_spot();
    /// assert_eq!(binance.limits().streams_per_connection_limit(), Some(1024));
    /// ```
    pub fn limits(&self) -> VenueLimits {
        self.limits
    }

    /// Replaces the venue's limits (a VIP tier, a stricter policy).
    ///
    /// ```
    /// use hypersockets::{Venue, VenueLimits};
    ///
    /// let okx = Venue::okx().with_limits(VenueLimits::default().streams_per_connection(Some(200)));
    /// assert_eq!(okx.limits().streams_per_connection_limit(), Some(200));
    /// ```
    pub fn with_limits(mut self, limits: VenueLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The topic of a data message, spelled as it was subscribed
    /// (`"btcusdt@trade"`, `"trades:BTC-USDT"`); `None` for anything else
    /// (answers, pongs, statuses). The venue's classification of its
    /// message shapes, as [`TopicRouter`] uses it.
    ///
    /// ```
    /// use hypersockets::{Venue, WsMessage};
    ///
    /// let okx = Venue::okx();
    /// let trade = WsMessage::text(r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[]}"#);
    /// assert_eq!(okx.topic_of(&trade).as_deref(), Some("trades:BTC-USDT"));
    /// assert_eq!(okx.topic_of(&WsMessage::text("pong")), None);
    /// ```
    pub fn topic_of(&self, message: &WsMessage) -> Option<String> {
        (self.topic_of)(message)
    }

    /// A message's stream (its topic) and the venue's number for it: what
    /// a rotation matches the two connections' copies by, and what each
    /// stream's integrity checks on every message (gaps, duplicates, the
    /// venue's snapshots and restarts, which are
    /// [`reset`](StreamSequence::reset)s). It reads the raw text without
    /// allocating.
    ///
    /// ```
    /// use hypersockets::{StreamId, Venue, WsMessage};
    ///
    /// let trade = WsMessage::text(
    ///     r#"{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT","t":12345}}"#,
    /// );
    /// let at = Venue::binance_spot().sequence_of(&trade).unwrap();
    /// assert_eq!(at.stream, StreamId::of(&["btcusdt@trade"]));
    /// assert_eq!(at.number, 12345);
    /// ```
    pub fn sequence_of(&self, message: &WsMessage) -> Option<StreamSequence> {
        (self.sequence_of)(message)
    }

    /// Whether `message` is the venue's notice that it will close the
    /// connection (OKX's 64008, Binance's `serverShutdown`).
    ///
    /// ```
    /// use hypersockets::{Venue, WsMessage};
    ///
    /// let notice = WsMessage::text(r#"{"event":"notice","code":"64008","msg":"…","connId":"a"}"#);
    /// assert!(Venue::okx().is_notice(&notice));
    /// assert!(!Venue::kraken().is_notice(&notice));
    /// ```
    pub fn is_notice(&self, message: &WsMessage) -> bool {
        self.notice.is_some_and(|notice| notice(message))
    }

    /// A router passing each message on as it is, keyed by its topic (see
    /// [`TopicRouter`]).
    ///
    /// ```
    /// use hypersockets::{MessageRouter, Venue, WsMessage};
    ///
    /// let router = Venue::bybit_spot().router();
    /// let trade = WsMessage::text(r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","data":[]}"#);
    /// assert_eq!(router.classify(&trade).as_deref(), Some("publicTrade.BTCUSDT"));
    /// ```
    pub fn router(&self) -> TopicRouter {
        TopicRouter::new(self.topic_of)
    }

    /// The request subscribing to `topics`, as the client writes it.
    ///
    /// ```
    /// use hypersockets::{Venue, WsMessage};
    ///
    /// let request = Venue::binance_spot().subscribe_request(&["btcusdt@trade", "ethusdt@trade"], 1);
    /// assert_eq!(
    ///     request,
    ///     WsMessage::text(r#"{"method":"SUBSCRIBE","params":["btcusdt@trade","ethusdt@trade"],"id":1}"#)
    /// );
    /// ```
    pub fn subscribe_request(&self, topics: &[&str], id: u64) -> WsMessage {
        self.topics.subscribe(topics, id)
    }

    /// The most topics one subscription request carries.
    ///
    /// ```
    /// assert_eq!(hypersockets::Venue::bybit_spot().max_topics_per_request(), 10);
    /// ```
    pub fn max_topics_per_request(&self) -> usize {
        self.topics.max_topics()
    }

    /// Applies the profile to a client's settings.
    pub(crate) fn apply(self, config: &mut crate::config::ClientConfig) -> String {
        config.topics = Some(self.topics);
        config.acks = self.acks;
        config.keepalive.ping_detector = self.ping_detector;
        config.keepalive.heartbeat = self.heartbeat;
        config.keepalive.liveness_timeout = self.liveness_timeout;
        config.pacing = self.pacing;
        config.decompression = self.decompression;
        config.rotation = crate::Rotation::default()
            .max_age(self.limits.max_connection_age_limit())
            .notice(self.notice);
        config.sequence = Some(Arc::new(self.sequence_of));
        config.subscriptions.extend(
            self.standing
                .iter()
                .map(|topic| crate::Subscription::topic(*topic)),
        );
        self.url
    }
}

/// `text` as a JSON string literal.
fn json_str(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// `["a","b"]` for `topics`.
fn json_list(topics: &[&str]) -> String {
    serde_json::Value::from(topics.to_vec()).to_string()
}

/// The topic of a data message, `channel:symbol` or `channel`, from the
/// parts `parts` reads: what each venue's `topic_of` (and so its router)
/// gives.
fn topic(message: &WsMessage, parts: TopicParts) -> Option<String> {
    Some(match parts(message.as_text()?)? {
        (channel, Some(symbol)) => format!("{channel}:{symbol}"),
        (channel, None) => channel.to_owned(),
    })
}

/// The stream of the topic named by `channel` and `symbol`, without
/// building the topic: `StreamId::of(&[&topic])`.
fn stream_of(channel: &str, symbol: Option<&str>) -> StreamId {
    match symbol {
        Some(symbol) => StreamId::concat(&[channel, ":", symbol]),
        None => StreamId::concat(&[channel]),
    }
}

/// A message's number as a venue's profile reads it, before [`numbered`]
/// adds its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Number {
    at: u64,
    previous: Option<u64>,
    reset: bool,
}

impl Number {
    /// Number `at`, with no previous number.
    fn at(at: u64) -> Self {
        Self {
            at,
            previous: None,
            reset: false,
        }
    }

    /// After `previous`, when the venue says.
    fn after(mut self, previous: Option<u64>) -> Self {
        self.previous = previous;
        self
    }

    /// Starting the stream afresh (a snapshot, a restart) when `reset`.
    fn reset_if(mut self, reset: bool) -> Self {
        self.reset = reset;
        self
    }

    /// This number's place in `stream`.
    fn sequence(self, stream: StreamId) -> StreamSequence {
        let mut sequence = StreamSequence::new(stream, self.at);
        if let Some(previous) = self.previous {
            sequence = sequence.previous(previous);
        }
        if self.reset {
            sequence = sequence.reset();
        }
        sequence
    }
}

/// A message's place in its stream: the stream is its topic, as `parts`
/// reads it; the number (the previous one, whether it starts the stream
/// afresh) is what `number` reads of its text, given the topic's channel.
///
/// Runs on every received message: for a rotation's overlap, and for each
/// stream's integrity (gaps, duplicates, resets). So it never allocates:
/// the stream id is hashed from the topic's parts where they lie.
fn numbered(
    message: &WsMessage,
    parts: TopicParts,
    number: impl FnOnce(&str, &str) -> Option<Number>,
) -> Option<StreamSequence> {
    let text = message.as_text()?;
    let (channel, symbol) = parts(text)?;
    let number = number(text, channel)?;
    Some(number.sequence(stream_of(channel, symbol)))
}

/// `channel:symbol` split at its first `:`; a bare channel has none.
fn channel_of(topic: &str) -> (&str, Option<&str>) {
    match topic.split_once(':') {
        Some((channel, symbol)) => (channel, Some(symbol)),
        None => (topic, None),
    }
}

/// Whether `topic` may join a request that names one channel for many
/// symbols (Kraken, Coinbase, KuCoin), whose first topic is `first`: the
/// same channel, both with a symbol.
fn same_channel(first: &str, topic: &str) -> bool {
    match (channel_of(first), channel_of(topic)) {
        ((a, Some(_)), (b, Some(_))) => a == b,
        _ => false,
    }
}

/// The raw value after each `"key":` in `text`, in order (without
/// allocating: this runs on every message). Each candidate is found by
/// its key's first byte (`memchr`: SIMD, nothing to set up per search,
/// where a substring searcher costs more to build than to run on a
/// message), then checked for its quotes and colon.
fn values<'a>(text: &'a str, key: &str) -> impl Iterator<Item = &'a str> + 'a {
    let bytes = text.as_bytes();
    let (first, len) = (key.as_bytes().first().copied(), key.len());
    // The key's bytes, for the comparison: keys are short literals.
    let mut own = [0u8; 32];
    let fits = len <= own.len();
    if fits {
        own[..len].copy_from_slice(key.as_bytes());
    }
    let mut from = 0;
    std::iter::from_fn(move || {
        let first = first.filter(|_| fits)?;
        loop {
            let found = from + memchr::memchr(first, bytes.get(from..)?)?;
            from = found + 1;
            let end = found + len;
            let quoted = found > 0
                && bytes[found - 1] == b'"'
                && bytes.get(end) == Some(&b'"')
                && bytes.get(found..end) == Some(&own[..len]);
            if !quoted {
                continue;
            }
            if let Some(value) = text.get(end + 1..)?.trim_start().strip_prefix(':') {
                from = end;
                return Some(value.trim_start());
            }
        }
    })
}

/// The string a raw value holds (no escapes), as `find_str` reads one.
fn string_at(value: &str) -> Option<&str> {
    let value = value.strip_prefix('"')?;
    let end = value.find(['"', '\\'])?;
    (value.as_bytes()[end] == b'"').then(|| &value[..end])
}

/// The first string value of key `key` anywhere in `text` (a nested
/// object's, an array element's): a cheap read of a field that only
/// nested data carries, such as the symbol of a push's first item. Keys
/// and values with escapes are not matched.
fn find_str<'a>(text: &'a str, key: &'a str) -> Option<&'a str> {
    values(text, key).find_map(string_at)
}

/// The largest number among the values of `key`, bare or quoted
/// (`"t":12`, `"tradeId":"12"`): a batch of trades is numbered by its
/// last.
fn max_number(text: &str, key: &str) -> Option<u64> {
    values(text, key).filter_map(number_at).max()
}

/// The first number among the values of `key`, bare or quoted.
fn first_number(text: &str, key: &str) -> Option<u64> {
    values(text, key).find_map(number_at)
}

fn number_at(value: &str) -> Option<u64> {
    let value = value.strip_prefix('"').unwrap_or(value);
    let digits = value.bytes().take_while(u8::is_ascii_digit).count();
    value.get(..digits)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use hypersockets_core::{StreamId, StreamSequence, WsMessage};

    use super::{Venue, find_str, first_number, max_number};

    /// A message's number, its previous one and whether it resets its
    /// stream, to compare at once.
    pub(super) fn place(at: StreamSequence) -> (u64, Option<u64>, bool) {
        (at.number, at.previous, at.reset)
    }

    #[test]
    fn stream_ids_are_the_ids_of_the_topics() {
        let kucoin = Venue::kucoin("wss://ws-api-spot.kucoin.com/?token=T");
        let samples = [
            (
                Venue::binance_spot(),
                r#"{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT","t":12345}}"#,
            ),
            (
                Venue::binance_usdm(),
                r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","s":"BTCUSDT","U":157,"u":160,"pu":149}}"#,
            ),
            (
                Venue::okx(),
                r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"130639474","px":"42219.9"}]}"#,
            ),
            (
                Venue::okx(),
                r#"{"arg":{"channel":"books","instId":"BTC-USDT-SWAP"},"action":"update","data":[{"asks":[],"bids":[],"prevSeqId":7,"seqId":9}]}"#,
            ),
            // A bare channel: its topic has no `:`.
            (
                Venue::okx(),
                r#"{"arg":{"channel":"trades-all"},"data":[{"tradeId":"5"}]}"#,
            ),
            (
                Venue::bybit_spot(),
                r#"{"topic":"orderbook.50.BTCUSDT","type":"delta","data":{"s":"BTCUSDT","b":[],"a":[],"u":18521289,"seq":7961638783}}"#,
            ),
            (
                Venue::kraken(),
                r#"{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","price":42000.1,"trade_id":4665906}]}"#,
            ),
            (
                Venue::coinbase(),
                r#"{"channel":"market_trades","events":[{"type":"update","trades":[{"trade_id":"000000000","product_id":"ETH-USD"}]}]}"#,
            ),
            (
                Venue::hyperliquid(),
                r#"{"channel":"trades","data":[{"coin":"BTC","side":"B","px":"42000","tid":118906512037719}]}"#,
            ),
            (
                Venue::htx(),
                r#"{"ch":"market.btcusdt.mbp.150","ts":1573199608679,"tick":{"seqNum":100020146795,"prevSeqNum":100020146794,"bids":[],"asks":[]}}"#,
            ),
            (
                Venue::htx_private(),
                r#"{"action":"push","ch":"trade.clearing#btcusdt#0","data":{"symbol":"btcusdt","tradeId":301}}"#,
            ),
            (
                kucoin,
                r#"{"type":"message","topic":"/market/level2:BTC-USDT","subject":"trade.l2update","data":{"sequenceStart":1545896669105,"sequenceEnd":1545896669106,"symbol":"BTC-USDT"}}"#,
            ),
        ];
        for (venue, text) in samples {
            let message = WsMessage::text(text);
            let topic = venue.topic_of(&message).expect(text);
            let at = venue.sequence_of(&message).expect(text);
            assert_eq!(
                at.stream,
                StreamId::of(&[&topic]),
                "{}: {topic}",
                venue.name()
            );
        }
    }

    #[test]
    fn numbers_are_read_bare_or_quoted_and_the_largest_taken() {
        let push = r#"{"data":[{"tradeId":"7","px":"1.5"},{"tradeId":"9"},{"tradeId": 8}]}"#;
        assert_eq!(max_number(push, "tradeId"), Some(9));
        assert_eq!(first_number(push, "tradeId"), Some(7));
        assert_eq!(max_number(push, "px"), Some(1));
        assert_eq!(max_number(push, "ts"), None);
        assert_eq!(
            max_number(r#"{"xtradeId":5,"tradeIdx":6}"#, "tradeId"),
            None
        );
        assert_eq!(max_number(r#"{"t":"-1"}"#, "t"), None);
        assert_eq!(max_number(r#"{"t":99999999999999999999999}"#, "t"), None);
    }

    #[test]
    fn find_str_reads_the_first_string_value_of_a_key() {
        let push =
            r#"{"channel":"trade","data":[{"symbol" : "BTC/USD","qty":1},{"symbol":"ETH/USD"}]}"#;
        assert_eq!(find_str(push, "symbol"), Some("BTC/USD"));
        assert_eq!(find_str(push, "channel"), Some("trade"));
        assert_eq!(find_str(push, "qty"), None);
        assert_eq!(
            find_str(r#"{"symbol":1,"x":{"symbol":"A"}}"#, "symbol"),
            Some("A")
        );
        assert_eq!(find_str(r#"{"symbol":"a\"b"}"#, "symbol"), None);
        assert_eq!(find_str(r#"{"symbol":"unterminated"#, "symbol"), None);
        assert_eq!(find_str("", "symbol"), None);
    }
}
