//! The feed as a user writes it without thinking about speed: an internally
//! tagged serde enum (`#[serde(tag = "e")]`) with owned `String`s. The
//! baseline, seed-style, classified and inline clients all parse into it.

use serde::Deserialize;

use crate::feed::{Kind, parse_e8};
use crate::tally::Observation;

/// One message of the feed.
#[derive(Debug, Deserialize)]
#[serde(tag = "e")]
pub(crate) enum Event {
    /// A trade.
    #[serde(rename = "trade")]
    Trade(Trade),
    /// An order book delta.
    #[serde(rename = "depthUpdate")]
    Depth(Depth),
    /// Best bid and offer.
    #[serde(rename = "bookTicker")]
    BookTicker(BookTicker),
    /// A candle.
    #[serde(rename = "kline")]
    Kline(Kline),
}

/// `trade`.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // every field is parsed, as a user's program would; the check reads some
pub(crate) struct Trade {
    #[serde(rename = "E")]
    event_time: u64,
    #[serde(rename = "s")]
    symbol: String,
    #[serde(rename = "t")]
    trade_id: u64,
    #[serde(rename = "p")]
    price: String,
    #[serde(rename = "q")]
    qty: String,
    #[serde(rename = "T")]
    trade_time: u64,
    #[serde(rename = "m")]
    buyer_is_maker: bool,
    #[serde(rename = "M")]
    best_match: bool,
}

/// `depthUpdate`: `[price, qty]` levels.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // every field is parsed, as a user's program would; the check reads some
pub(crate) struct Depth {
    #[serde(rename = "E")]
    event_time: u64,
    #[serde(rename = "s")]
    symbol: String,
    #[serde(rename = "U")]
    first_update: u64,
    #[serde(rename = "u")]
    last_update: u64,
    #[serde(rename = "b")]
    bids: Vec<[String; 2]>,
    #[serde(rename = "a")]
    asks: Vec<[String; 2]>,
}

/// `bookTicker`.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // every field is parsed, as a user's program would; the check reads some
pub(crate) struct BookTicker {
    #[serde(rename = "u")]
    update_id: u64,
    #[serde(rename = "E")]
    event_time: u64,
    #[serde(rename = "T")]
    tx_time: u64,
    #[serde(rename = "s")]
    symbol: String,
    #[serde(rename = "b")]
    bid: String,
    #[serde(rename = "B")]
    bid_qty: String,
    #[serde(rename = "a")]
    ask: String,
    #[serde(rename = "A")]
    ask_qty: String,
}

/// `kline`: the candle is nested under `"k"`.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // every field is parsed, as a user's program would; the check reads some
pub(crate) struct Kline {
    #[serde(rename = "E")]
    event_time: u64,
    #[serde(rename = "s")]
    symbol: String,
    #[serde(rename = "k")]
    candle: Candle,
}

/// The candle of a `kline`.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // every field is parsed, as a user's program would; the check reads some
pub(crate) struct Candle {
    #[serde(rename = "t")]
    start: u64,
    #[serde(rename = "T")]
    end: u64,
    #[serde(rename = "s")]
    symbol: String,
    #[serde(rename = "i")]
    interval: String,
    #[serde(rename = "f")]
    first_trade: u64,
    #[serde(rename = "L")]
    last_trade: u64,
    #[serde(rename = "o")]
    open: String,
    #[serde(rename = "c")]
    close: String,
    #[serde(rename = "h")]
    high: String,
    #[serde(rename = "l")]
    low: String,
    #[serde(rename = "v")]
    volume: String,
    #[serde(rename = "n")]
    trades: u64,
    #[serde(rename = "x")]
    closed: bool,
    #[serde(rename = "q")]
    quote_volume: String,
}

/// Sums 8-decimal strings; an unparsable one adds `u64::MAX` so that the
/// checksum cannot match by accident.
fn e8_sum<'a>(texts: impl IntoIterator<Item = &'a str>) -> u64 {
    texts.into_iter().fold(0u64, |sum, text| {
        sum.wrapping_add(parse_e8(text).unwrap_or(u64::MAX))
    })
}

impl Event {
    /// The route key: the message's kind.
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Self::Trade(_) => Kind::Trade,
            Self::Depth(_) => Kind::Depth,
            Self::BookTicker(_) => Kind::BookTicker,
            Self::Kline(_) => Kind::Kline,
        }
    }

    /// What the checking handler needs: symbol, stream sequence number,
    /// send stamp and the sum of the decimals (read from the strings here,
    /// as a user of this shape would when using them).
    pub(crate) fn observation(&self) -> Observation<'_> {
        match self {
            Self::Trade(t) => Observation {
                kind: Kind::Trade,
                symbol: t.symbol.as_bytes(),
                seq: t.trade_id,
                stamp: t.event_time,
                value: e8_sum([t.price.as_str(), t.qty.as_str()]),
            },
            Self::Depth(d) => {
                let levels = d.bids.iter().chain(&d.asks);
                Observation {
                    kind: Kind::Depth,
                    symbol: d.symbol.as_bytes(),
                    seq: d.last_update,
                    stamp: d.event_time,
                    value: e8_sum(levels.flat_map(|[p, q]| [p.as_str(), q.as_str()])),
                }
            }
            Self::BookTicker(b) => Observation {
                kind: Kind::BookTicker,
                symbol: b.symbol.as_bytes(),
                seq: b.update_id,
                stamp: b.event_time,
                value: e8_sum([&b.bid, &b.bid_qty, &b.ask, &b.ask_qty].map(String::as_str)),
            },
            Self::Kline(k) => {
                let c = &k.candle;
                let decimals = [
                    &c.open,
                    &c.close,
                    &c.high,
                    &c.low,
                    &c.volume,
                    &c.quote_volume,
                ];
                Observation {
                    kind: Kind::Kline,
                    symbol: k.symbol.as_bytes(),
                    seq: c.last_trade,
                    stamp: k.event_time,
                    value: e8_sum(decimals.map(String::as_str)),
                }
            }
        }
    }
}
