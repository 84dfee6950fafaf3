//! What the feed is made of: the four message kinds (the route key), the
//! symbols and fixed-point decimals.

/// A message's type: the route key of every HyperSockets client in this
/// bench, so there are four lanes. Each (kind, symbol) pair is a stream with
/// its own sequence numbers, like Binance's `btcusdt@trade`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// `trade`, ~140 bytes.
    Trade,
    /// `depthUpdate` with two to six price levels, ~230 bytes.
    Depth,
    /// `bookTicker` (the futures shape, which carries `"e"`), ~165 bytes.
    BookTicker,
    /// `kline`, ~300 bytes.
    Kline,
}

impl Kind {
    /// Every kind, in index order.
    pub(crate) const ALL: [Self; 4] = [Self::Trade, Self::Depth, Self::BookTicker, Self::Kline];

    /// 0..4, for arrays indexed by kind.
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The kind whose `"e"` field is `tag`.
    pub(crate) fn from_tag(tag: &str) -> Option<Self> {
        match tag {
            "trade" => Some(Self::Trade),
            "depthUpdate" => Some(Self::Depth),
            "bookTicker" => Some(Self::BookTicker),
            "kline" => Some(Self::Kline),
            _ => None,
        }
    }

    /// The value of the `"e"` field.
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Self::Trade => "trade",
            Self::Depth => "depthUpdate",
            Self::BookTicker => "bookTicker",
            Self::Kline => "kline",
        }
    }
}

/// How the server sends the messages: the request's `feed=` parameter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Feed {
    /// Text frames of plain JSON, Binance's way.
    #[default]
    Plain,
    /// Binary frames of one gzip member each, HTX's way.
    Gzip,
}

impl Feed {
    /// The request's query parameter for this feed: none for the plain one,
    /// so that its URL (and the handshake's bytes) stay as they were.
    pub(crate) fn query(self) -> &'static str {
        match self {
            Self::Plain => "",
            Self::Gzip => "&feed=gzip",
        }
    }

    /// The feed a request's `feed=` value names.
    pub(crate) fn from_query(value: &str) -> Option<Self> {
        match value {
            "plain" => Some(Self::Plain),
            "gzip" => Some(Self::Gzip),
            _ => None,
        }
    }
}

/// The symbols of the feed; a stream is (kind, symbol).
pub(crate) const SYMBOLS: [&str; 16] = [
    "BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "AVAXUSDT",
    "DOTUSDT", "LINKUSDT", "POLUSDT", "LTCUSDT", "TRXUSDT", "ATOMUSDT", "NEARUSDT", "APTUSDT",
];

/// How many streams there are: every kind of every symbol.
pub(crate) const STREAMS: usize = Kind::ALL.len() * SYMBOLS.len();

/// The stream index of (kind, symbol index).
pub(crate) fn stream_index(kind: Kind, symbol: usize) -> usize {
    kind.index() * SYMBOLS.len() + symbol
}

/// The index of a symbol in [`SYMBOLS`], by a short linear search (as cheap
/// as a hash for 16 short names, and the same for every client).
pub(crate) fn symbol_index(symbol: &[u8]) -> Option<usize> {
    SYMBOLS.iter().position(|known| known.as_bytes() == symbol)
}

/// Parses an 8-decimal string such as `"43251.12000000"` into units of
/// 1e-8 (`4325112000000`). Every price and quantity of the feed has exactly
/// eight decimals, as Binance's spot prices do.
pub(crate) fn parse_e8(text: &str) -> Option<u64> {
    let (whole, frac) = text.split_once('.')?;
    if frac.len() != 8 || whole.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for byte in whole.bytes().chain(frac.bytes()) {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(byte - b'0'))?;
    }
    Some(value)
}

/// Mixes one message into a checksum: the sum, over messages, of its
/// sequence number times an odd constant plus the sum of its decimals.
/// Order-insensitive (order is checked separately), and sensitive to every
/// decimal field and every sequence number.
pub(crate) fn checksum_term(seq: u64, value: u64) -> u64 {
    seq.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e8() {
        assert_eq!(parse_e8("43251.12000000"), Some(4_325_112_000_000));
        assert_eq!(parse_e8("0.00000001"), Some(1));
        assert_eq!(parse_e8("1.5"), None);
        assert_eq!(parse_e8("x.00000000"), None);
    }

    #[test]
    fn tags() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_tag(kind.tag()), Some(kind));
        }
        assert_eq!(Kind::from_tag("klines"), None);
    }
}
