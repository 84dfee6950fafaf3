//! Turning raw messages into typed ones, and choosing their lane.

use std::fmt::Debug;
use std::hash::Hash;
use std::time::SystemTime;

use crate::{MessageContext, ParseError, StreamSequence, WsMessage};

/// Parses raw messages into the user's type and picks a route key for each.
///
/// Each route key has one handler lane: messages with the same key reach
/// their handler one at a time, in the order the socket received them;
/// different keys are handled in parallel.
///
/// `parse` is a plain function, not an `async fn`: parsing is CPU work with
/// nothing to wait on, and an async wrapper only adds a state machine per
/// message (see `docs/architecture.md` for the measurement).
///
/// # Where the parse runs
///
/// By default the reader parses every message and hands the typed result to
/// the lane. A router that can tell a message's key from its raw bytes
/// cheaply (for example by peeking at a type tag) implements
/// [`classify`](Self::classify); the reader then hands over the raw bytes and
/// the full parse runs inside the lane, in parallel across keys and still in
/// order within a key.
///
/// # Example
///
/// ```
/// use hypersockets_core::{MessageRouter, ParseError, WsMessage};
///
/// #[derive(Debug)]
/// enum Feed {
///     Trade(String),
///     Ticker(String),
/// }
///
/// #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
/// enum Key {
///     Trade,
///     Ticker,
/// }
///
/// struct FeedRouter;
///
/// impl MessageRouter for FeedRouter {
///     type Message = Feed;
///     type RouteKey = Key;
///
///     fn parse(&self, message: &WsMessage) -> Result<Feed, ParseError> {
///         let text = message.as_text().ok_or_else(|| ParseError::new("expected text"))?;
///         match text.split_once(':') {
///             Some(("trade", rest)) => Ok(Feed::Trade(rest.to_owned())),
///             Some(("ticker", rest)) => Ok(Feed::Ticker(rest.to_owned())),
///             _ => Err(ParseError::new("unknown message")),
///         }
///     }
///
///     fn route_key(&self, message: &Feed) -> Key {
///         match message {
///             Feed::Trade(_) => Key::Trade,
///             Feed::Ticker(_) => Key::Ticker,
///         }
///     }
///
///     // Cheap: looks at the prefix only, so the full parse can run in the lane.
///     fn classify(&self, message: &WsMessage) -> Option<Key> {
///         let bytes = message.as_bytes();
///         if bytes.starts_with(b"trade:") {
///             Some(Key::Trade)
///         } else if bytes.starts_with(b"ticker:") {
///             Some(Key::Ticker)
///         } else {
///             None
///         }
///     }
/// }
///
/// let router = FeedRouter;
/// let msg = WsMessage::text("trade:BTC 1.5");
/// assert_eq!(router.classify(&msg), Some(Key::Trade));
/// let parsed = router.parse(&msg).unwrap();
/// assert_eq!(router.route_key(&parsed), Key::Trade);
/// ```
pub trait MessageRouter: Send + Sync + 'static {
    /// The typed message handlers receive.
    type Message: Send + 'static;

    /// Picks the handler lane. Small `Copy` enums are the cheapest keys.
    type RouteKey: Eq + Hash + Clone + Send + Sync + Debug + 'static;

    /// Parses a received text or binary message.
    fn parse(&self, message: &WsMessage) -> Result<Self::Message, ParseError>;

    /// The route key of a parsed message. Should be O(1) and never allocate.
    fn route_key(&self, message: &Self::Message) -> Self::RouteKey;

    /// Tells a raw message's route key without parsing it fully.
    ///
    /// `Some(key)` sends the raw message to `key`'s lane, where
    /// [`parse_classified`](Self::parse_classified) runs; `None` (the default)
    /// parses it on the reader with [`parse`](Self::parse) and routes it by
    /// [`route_key`](Self::route_key).
    #[inline]
    fn classify(&self, message: &WsMessage) -> Option<Self::RouteKey> {
        let _ = message;
        None
    }

    /// Parses a message that [`classify`](Self::classify) gave `key`.
    ///
    /// Override it to parse straight into the concrete type for `key`
    /// (no tag dispatch); the default calls [`parse`](Self::parse).
    #[inline]
    fn parse_classified(
        &self,
        key: &Self::RouteKey,
        message: &WsMessage,
    ) -> Result<Self::Message, ParseError> {
        let _ = key;
        self.parse(message)
    }

    /// Parses a message knowing which connection it came on and when it
    /// was received; the client calls this one, for every message.
    ///
    /// `key` is what [`classify`](Self::classify) gave (`None` when the
    /// message was not classified). The default ignores `context` and
    /// calls [`parse_classified`](Self::parse_classified) with the key, or
    /// [`parse`](Self::parse) without one; override it to stamp the
    /// context into the typed message. It runs where the parse runs (on
    /// the reader, or in the lane for a classified message), with the
    /// context of the message's own receipt either way.
    ///
    /// ```
    /// use hypersockets_core::{MessageContext, MessageRouter, ParseError, WsMessage};
    ///
    /// /// Each text with the connection it came on.
    /// struct Stamped;
    ///
    /// impl MessageRouter for Stamped {
    ///     type Message = (u64, String);
    ///     type RouteKey = ();
    ///
    ///     fn parse(&self, message: &WsMessage) -> Result<(u64, String), ParseError> {
    ///         self.parse_in_context(None, message, &MessageContext::now(0))
    ///     }
    ///
    ///     fn route_key(&self, _: &(u64, String)) {}
    ///
    ///     fn parse_in_context(
    ///         &self,
    ///         _key: Option<&()>,
    ///         message: &WsMessage,
    ///         context: &MessageContext,
    ///     ) -> Result<(u64, String), ParseError> {
    ///         let text = message.as_text().ok_or_else(|| ParseError::new("expected text"))?;
    ///         Ok((context.connection, text.to_owned()))
    ///     }
    /// }
    ///
    /// let parsed = Stamped.parse_in_context(None, &WsMessage::text("hi"), &MessageContext::now(3));
    /// assert_eq!(parsed.unwrap(), (3, "hi".to_owned()));
    /// ```
    #[inline]
    fn parse_in_context(
        &self,
        key: Option<&Self::RouteKey>,
        message: &WsMessage,
        context: &MessageContext,
    ) -> Result<Self::Message, ParseError> {
        let _ = context;
        match key {
            Some(key) => self.parse_classified(key, message),
            None => self.parse(message),
        }
    }

    /// The stream and the venue's number of a parsed message, for the
    /// client's per-stream tracking (gaps, duplicates, resync: see
    /// `Integrity`); `None` (the default) for a message that is not part of
    /// a numbered stream.
    ///
    /// The numbers come from the parse the client does anyway, so tracking
    /// costs no second pass over the bytes. It is asked of messages parsed
    /// on the reader; a message [`classify`](Self::classify) sends to its
    /// lane raw is parsed there, too late to be tracked, and is numbered by
    /// the client's raw `SequenceReader` (a venue profile's) instead, as is
    /// any message for which this gives `None`. Should be O(1) and never
    /// allocate.
    ///
    /// ```
    /// use hypersockets_core::{MessageRouter, ParseError, StreamId, StreamSequence, WsMessage};
    ///
    /// /// "<symbol> <first> <last>": a depth diff covering updates first..=last.
    /// struct Diff {
    ///     stream: StreamId,
    ///     first: u64,
    ///     last: u64,
    /// }
    ///
    /// struct Diffs;
    ///
    /// impl MessageRouter for Diffs {
    ///     type Message = Diff;
    ///     type RouteKey = StreamId;
    ///
    ///     fn parse(&self, message: &WsMessage) -> Result<Diff, ParseError> {
    ///         let text = message.as_text().ok_or_else(|| ParseError::new("expected text"))?;
    ///         let mut parts = text.split(' ');
    ///         let mut next = || parts.next().ok_or_else(|| ParseError::new("short diff"));
    ///         let stream = StreamId::of(&[next()?]);
    ///         let number = |part: &str| part.parse().map_err(|_| ParseError::new("bad number"));
    ///         Ok(Diff { stream, first: number(next()?)?, last: number(next()?)? })
    ///     }
    ///
    ///     fn route_key(&self, diff: &Diff) -> StreamId {
    ///         diff.stream
    ///     }
    ///
    ///     // Binance's rule: a diff follows the one whose last update is `first - 1`.
    ///     fn sequence(&self, diff: &Diff) -> Option<StreamSequence> {
    ///         let previous = diff.first.checked_sub(1)?;
    ///         Some(StreamSequence::new(diff.stream, diff.last).previous(previous))
    ///     }
    /// }
    ///
    /// let diff = Diffs.parse(&WsMessage::text("BTCUSDT 157 160")).unwrap();
    /// let at = Diffs.sequence(&diff).unwrap();
    /// assert_eq!((at.number, at.previous), (160, Some(156)));
    /// ```
    #[inline]
    fn sequence(&self, message: &Self::Message) -> Option<StreamSequence> {
        let _ = message;
        None
    }

    /// When the venue says it made `message` (its event time: Binance's
    /// `E`, OKX's and Bybit's `ts`, …), for the lanes' latency figures:
    /// with it they add the exchange → socket read stage
    /// (`LatencySnapshot::exchange_to_read` in the `hypersockets` crate),
    /// on the messages they time. `None` (the default) leaves it out.
    ///
    /// Asked only of timed messages, just before their handler; a venue's
    /// clock ahead of this machine's counts as no delay.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime, UNIX_EPOCH};
    ///
    /// use hypersockets_core::{MessageRouter, ParseError, WsMessage};
    ///
    /// /// "<symbol> <event time in ms>"
    /// struct Trade {
    ///     event_ms: u64,
    /// }
    ///
    /// struct Trades;
    ///
    /// impl MessageRouter for Trades {
    ///     type Message = Trade;
    ///     type RouteKey = ();
    ///
    ///     fn parse(&self, message: &WsMessage) -> Result<Trade, ParseError> {
    ///         let text = message.as_text().ok_or_else(|| ParseError::new("expected text"))?;
    ///         let ms = text.split(' ').nth(1).ok_or_else(|| ParseError::new("no time"))?;
    ///         let event_ms = ms.parse().map_err(|_| ParseError::new("bad time"))?;
    ///         Ok(Trade { event_ms })
    ///     }
    ///
    ///     fn route_key(&self, _: &Trade) {}
    ///
    ///     fn exchange_time(&self, trade: &Trade) -> Option<SystemTime> {
    ///         UNIX_EPOCH.checked_add(Duration::from_millis(trade.event_ms))
    ///     }
    /// }
    ///
    /// let trade = Trades.parse(&WsMessage::text("BTCUSDT 1700000000123")).unwrap();
    /// let sent = Trades.exchange_time(&trade).unwrap();
    /// assert_eq!(sent.duration_since(UNIX_EPOCH).unwrap().as_millis(), 1_700_000_000_123);
    /// ```
    #[inline]
    fn exchange_time(&self, message: &Self::Message) -> Option<SystemTime> {
        let _ = message;
        None
    }
}

/// The router of a feed that needs no parsing: every text or binary
/// message goes, as it is, to the one handler under the key `()`.
///
/// ```
/// use hypersockets_core::{MessageRouter, PassThrough, WsMessage};
///
/// let message = WsMessage::text("BTC 43000");
/// let routed = PassThrough.parse(&message).unwrap();
/// assert_eq!(routed, message);
/// assert_eq!(PassThrough.route_key(&routed), ());
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct PassThrough;

impl MessageRouter for PassThrough {
    type Message = WsMessage;
    type RouteKey = ();

    #[inline]
    fn parse(&self, message: &WsMessage) -> Result<WsMessage, ParseError> {
        Ok(message.clone())
    }

    #[inline]
    fn route_key(&self, _: &WsMessage) {}
}
