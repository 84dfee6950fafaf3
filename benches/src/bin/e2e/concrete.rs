//! The feed parsed for speed (the `best` client): the kind is peeked from the
//! raw bytes, and the message is parsed straight into that kind's struct, no
//! tag dispatch and no buffering. Strings are borrowed from the frame
//! (`&str`) while parsing and turned into inline values on the spot: prices
//! and quantities into fixed-point integers, the symbol into a small inline
//! array. The parse allocates nothing, and the result is `'static` (a lane
//! message must be), without pointing into the frame.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use crate::feed::{Kind, parse_e8};
use crate::tally::Observation;

/// A decimal in units of 1e-8, parsed from a borrowed string.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct E8(pub(crate) u64);

impl<'de> Deserialize<'de> for E8 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <&'de str>::deserialize(deserializer)?;
        parse_e8(text)
            .map(E8)
            .ok_or_else(|| de::Error::custom("expected a decimal with 8 places"))
    }
}

/// A symbol of up to 15 bytes, kept inline.
#[derive(Clone, Copy)]
pub(crate) struct Symbol {
    len: u8,
    bytes: [u8; 15],
}

impl Symbol {
    /// The symbol's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl<'de> Deserialize<'de> for Symbol {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <&'de str>::deserialize(deserializer)?;
        let mut bytes = [0u8; 15];
        bytes
            .get_mut(..text.len())
            .ok_or_else(|| de::Error::custom("symbol longer than 15 bytes"))?
            .copy_from_slice(text.as_bytes());
        Ok(Self {
            len: text.len() as u8,
            bytes,
        })
    }
}

/// A candle interval (`"1m"`, `"1h"`, …) in seconds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Interval(#[allow(dead_code)] u32); // parsed, not checked

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <&'de str>::deserialize(deserializer)?;
        let (count, unit) = text.split_at(text.len().saturating_sub(1));
        let unit = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            _ => return Err(de::Error::custom("unknown interval unit")),
        };
        let count: u32 = count
            .parse()
            .map_err(|_| de::Error::custom("bad interval"))?;
        Ok(Self(count * unit))
    }
}

/// Up to eight `[price, qty]` levels, inline.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Levels {
    len: u8,
    items: [(E8, E8); 8],
}

impl Levels {
    /// The levels received.
    pub(crate) fn as_slice(&self) -> &[(E8, E8)] {
        &self.items[..usize::from(self.len)]
    }
}

impl<'de> Deserialize<'de> for Levels {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LevelsVisitor;

        impl<'de> Visitor<'de> for LevelsVisitor {
            type Value = Levels;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("at most 8 [price, qty] levels")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Levels, A::Error> {
                let mut levels = Levels::default();
                while let Some(level) = seq.next_element::<(E8, E8)>()? {
                    let slot = levels
                        .items
                        .get_mut(usize::from(levels.len))
                        .ok_or_else(|| de::Error::custom("more than 8 levels"))?;
                    *slot = level;
                    levels.len += 1;
                }
                Ok(levels)
            }
        }

        deserializer.deserialize_seq(LevelsVisitor)
    }
}

/// One message of the feed, parsed for speed.
#[derive(Debug)]
pub(crate) enum FastEvent {
    /// A trade.
    Trade(FastTrade),
    /// An order book delta.
    Depth(FastDepth),
    /// Best bid and offer.
    BookTicker(FastBookTicker),
    /// A candle.
    Kline(FastKline),
}

/// `trade`.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // every field is parsed, as for the tagged shape; the check reads some
pub(crate) struct FastTrade {
    #[serde(rename = "E")]
    event_time: u64,
    #[serde(rename = "s")]
    symbol: Symbol,
    #[serde(rename = "t")]
    trade_id: u64,
    #[serde(rename = "p")]
    price: E8,
    #[serde(rename = "q")]
    qty: E8,
    #[serde(rename = "T")]
    trade_time: u64,
    #[serde(rename = "m")]
    buyer_is_maker: bool,
    #[serde(rename = "M")]
    best_match: bool,
}

/// `depthUpdate`.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // every field is parsed, as for the tagged shape; the check reads some
pub(crate) struct FastDepth {
    #[serde(rename = "E")]
    event_time: u64,
    #[serde(rename = "s")]
    symbol: Symbol,
    #[serde(rename = "U")]
    first_update: u64,
    #[serde(rename = "u")]
    last_update: u64,
    #[serde(rename = "b")]
    bids: Levels,
    #[serde(rename = "a")]
    asks: Levels,
}

/// `bookTicker`.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // every field is parsed, as for the tagged shape; the check reads some
pub(crate) struct FastBookTicker {
    #[serde(rename = "u")]
    update_id: u64,
    #[serde(rename = "E")]
    event_time: u64,
    #[serde(rename = "T")]
    tx_time: u64,
    #[serde(rename = "s")]
    symbol: Symbol,
    #[serde(rename = "b")]
    bid: E8,
    #[serde(rename = "B")]
    bid_qty: E8,
    #[serde(rename = "a")]
    ask: E8,
    #[serde(rename = "A")]
    ask_qty: E8,
}

/// `kline`.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // every field is parsed, as for the tagged shape; the check reads some
pub(crate) struct FastKline {
    #[serde(rename = "E")]
    event_time: u64,
    #[serde(rename = "s")]
    symbol: Symbol,
    #[serde(rename = "k")]
    candle: FastCandle,
}

/// The candle of a `kline`.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // every field is parsed, as for the tagged shape; the check reads some
pub(crate) struct FastCandle {
    #[serde(rename = "t")]
    start: u64,
    #[serde(rename = "T")]
    end: u64,
    #[serde(rename = "s")]
    symbol: Symbol,
    #[serde(rename = "i")]
    interval: Interval,
    #[serde(rename = "f")]
    first_trade: u64,
    #[serde(rename = "L")]
    last_trade: u64,
    #[serde(rename = "o")]
    open: E8,
    #[serde(rename = "c")]
    close: E8,
    #[serde(rename = "h")]
    high: E8,
    #[serde(rename = "l")]
    low: E8,
    #[serde(rename = "v")]
    volume: E8,
    #[serde(rename = "n")]
    trades: u64,
    #[serde(rename = "x")]
    closed: bool,
    #[serde(rename = "q")]
    quote_volume: E8,
}

fn sum(values: impl IntoIterator<Item = E8>) -> u64 {
    values
        .into_iter()
        .fold(0u64, |sum, value| sum.wrapping_add(value.0))
}

impl FastEvent {
    /// Parses `text`, known to be of `kind`, straight into that kind's struct.
    #[inline]
    pub(crate) fn parse(kind: Kind, text: &str) -> serde_json::Result<Self> {
        Ok(match kind {
            Kind::Trade => Self::Trade(serde_json::from_str(text)?),
            Kind::Depth => Self::Depth(serde_json::from_str(text)?),
            Kind::BookTicker => Self::BookTicker(serde_json::from_str(text)?),
            Kind::Kline => Self::Kline(serde_json::from_str(text)?),
        })
    }

    /// The route key: the message's kind.
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Self::Trade(_) => Kind::Trade,
            Self::Depth(_) => Kind::Depth,
            Self::BookTicker(_) => Kind::BookTicker,
            Self::Kline(_) => Kind::Kline,
        }
    }

    /// What the checking handler needs (the decimals are integers already).
    pub(crate) fn observation(&self) -> Observation<'_> {
        match self {
            Self::Trade(t) => Observation {
                kind: Kind::Trade,
                symbol: t.symbol.as_bytes(),
                seq: t.trade_id,
                stamp: t.event_time,
                value: sum([t.price, t.qty]),
            },
            Self::Depth(d) => {
                let levels = d.bids.as_slice().iter().chain(d.asks.as_slice());
                Observation {
                    kind: Kind::Depth,
                    symbol: d.symbol.as_bytes(),
                    seq: d.last_update,
                    stamp: d.event_time,
                    value: sum(levels.flat_map(|&(p, q)| [p, q])),
                }
            }
            Self::BookTicker(b) => Observation {
                kind: Kind::BookTicker,
                symbol: b.symbol.as_bytes(),
                seq: b.update_id,
                stamp: b.event_time,
                value: sum([b.bid, b.bid_qty, b.ask, b.ask_qty]),
            },
            Self::Kline(k) => {
                let c = &k.candle;
                Observation {
                    kind: Kind::Kline,
                    symbol: k.symbol.as_bytes(),
                    seq: c.last_trade,
                    stamp: k.event_time,
                    value: sum([c.open, c.close, c.high, c.low, c.volume, c.quote_volume]),
                }
            }
        }
    }
}
