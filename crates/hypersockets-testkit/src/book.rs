//! The order books behind book delta streams: the book after each delta,
//! its Kraken checksum, and snapshots of it.
//!
//! A stream with [checksums](crate::StreamConfig::checksum) or
//! [snapshots](crate::StreamConfig::snapshot_on_subscribe) has a *modelled*
//! book: a small grid of levels each side that its deltas set and, now and
//! then, remove. Other book delta streams keep their historical deltas (one
//! bid and one ask around a price walk, never removed), and their book is
//! the union of those.

use std::collections::BTreeMap;

use crate::stream::{price, price_cents, quantity};

/// Price levels each side of a modelled book: more than the 10 a checksum
/// covers, so that the cut at 10 is exercised, few enough to stay small.
const LEVELS: usize = 17;

/// How many levels each side the checksum covers.
const DEPTH: usize = 10;

/// The period of the historical price walk ([`price_cents`]): only the last
/// this many deltas of a plain stream can still be in its book.
const WALK_PERIOD: u64 = 20_001;

/// The CRC32 (IEEE) checksum of a book as Kraken computes it for its
/// WebSocket `book` channel (v1 and v2): the top 10 asks, best (lowest)
/// first, then the top 10 bids, best (highest) first, each level written as
/// its price then its quantity, each with the `.` removed and then its
/// leading zeros, all concatenated.
///
/// Levels must already be sorted best first; only the first 10 of each side
/// are read. Prices and quantities are used as written (`"0.500"` and
/// `"0.5"` differ), as in the messages that carry them.
///
/// ```
/// use hypersockets_testkit::book_checksum;
///
/// // Kraken's documented example: asks 0.05005 to 0.05050, bids 0.05000
/// // down to 0.04950 (no 0.04985), 0.00000500 each.
/// let asks: Vec<(String, &str)> = (0..10)
///     .map(|k| (format!("0.0{}", 5005 + 5 * k), "0.00000500"))
///     .collect();
/// let bids: Vec<(String, &str)> = [5000, 4995, 4990, 4980, 4975, 4970, 4965, 4960, 4955, 4950]
///     .iter()
///     .map(|p| (format!("0.0{p}"), "0.00000500"))
///     .collect();
/// let asks: Vec<(&str, &str)> = asks.iter().map(|(p, q)| (p.as_str(), *q)).collect();
/// let bids: Vec<(&str, &str)> = bids.iter().map(|(p, q)| (p.as_str(), *q)).collect();
/// assert_eq!(book_checksum(&asks, &bids), 974_947_235);
/// ```
pub fn book_checksum(asks: &[(&str, &str)], bids: &[(&str, &str)]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    for (price, quantity) in asks.iter().take(DEPTH).chain(bids.iter().take(DEPTH)) {
        // Fed level by level: the same CRC as of the whole string.
        hasher.update(checksum_digits(price).as_bytes());
        hasher.update(checksum_digits(quantity).as_bytes());
    }
    hasher.finalize()
}

/// A price or quantity as the checksum takes it: no `.`, no leading zeros.
fn checksum_digits(value: &str) -> String {
    let digits: String = value.chars().filter(|&c| c != '.').collect();
    digits.trim_start_matches('0').to_owned()
}

/// One level of a book, as written: price and quantity.
pub(crate) type Level = (String, String);

/// The levels of a book: bids best (highest) first, asks best (lowest)
/// first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Levels {
    pub(crate) bids: Vec<Level>,
    pub(crate) asks: Vec<Level>,
}

impl Levels {
    /// Its [`book_checksum`].
    pub(crate) fn checksum(&self) -> u32 {
        fn pairs(side: &[Level]) -> Vec<(&str, &str)> {
            side.iter()
                .take(DEPTH)
                .map(|(p, q)| (p.as_str(), q.as_str()))
                .collect()
        }
        book_checksum(&pairs(&self.asks), &pairs(&self.bids))
    }

    /// Binance's REST depth shape:
    /// `{"lastUpdateId":N,"bids":[["p","q"],…],"asks":[…]}`.
    pub(crate) fn rest_snapshot(&self, seq: u64) -> String {
        format!(
            r#"{{"lastUpdateId":{seq},"bids":{},"asks":{}}}"#,
            side_json(&self.bids),
            side_json(&self.asks)
        )
    }

    /// The payload of a snapshot message on a stream.
    pub(crate) fn stream_snapshot(&self, symbol_json: &str, seq: u64, checksum: bool) -> String {
        let checksum = if checksum {
            format!(r#","checksum":{}"#, self.checksum())
        } else {
            String::new()
        };
        format!(
            r#"{{"e":"depthSnapshot","type":"snapshot","s":{symbol_json},"lastUpdateId":{seq},"U":{seq},"u":{seq},"bids":{},"asks":{}{checksum}}}"#,
            side_json(&self.bids),
            side_json(&self.asks)
        )
    }
}

/// `[["p","q"],…]`.
fn side_json(side: &[Level]) -> String {
    let mut json = String::with_capacity(2 + side.len() * 24);
    json.push('[');
    for (k, (price, quantity)) in side.iter().enumerate() {
        if k > 0 {
            json.push(',');
        }
        json.push_str(&format!(r#"["{price}","{quantity}"]"#));
    }
    json.push(']');
    json
}

/// What one delta of a modelled book does: a level on each side and the
/// quantity it sets there, in thousandths; 0 removes the level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Delta {
    pub(crate) bid: (usize, u32),
    pub(crate) ask: (usize, u32),
}

impl Delta {
    /// Delta `seq` (from 1) of a modelled book: a function of `seq` alone.
    pub(crate) fn of(seq: u64) -> Self {
        if seq > 1 && seq.is_multiple_of(5) {
            // One delta in five removes the levels the one before set (never
            // itself a removal): removals are exercised and the book stays
            // smaller than its grid.
            let (bid, ask) = grid_levels(seq - 1);
            Self {
                bid: (bid, 0),
                ask: (ask, 0),
            }
        } else {
            let (bid, ask) = grid_levels(seq);
            Self {
                bid: (bid, grid_quantity(seq)),
                ask: (ask, grid_quantity(seq.wrapping_add(7))),
            }
        }
    }

    /// `"b":[["p","q"]],"a":[["p","q"]]`, as written in a message.
    pub(crate) fn entries_json(self) -> String {
        format!(
            r#""b":[["{}","{}"]],"a":[["{}","{}"]]"#,
            bid_price(self.bid.0),
            thousandths(self.bid.1),
            ask_price(self.ask.0),
            thousandths(self.ask.1)
        )
    }
}

/// The grid levels delta `seq` touches: each side visits every level in
/// turn, in its own order (7 and 11 are prime to [`LEVELS`]).
fn grid_levels(seq: u64) -> (usize, usize) {
    let levels = LEVELS as u64;
    let bid = seq.wrapping_mul(7) % levels;
    let ask = (seq.wrapping_mul(11).wrapping_add(3)) % levels;
    (bid as usize, ask as usize)
}

/// A quantity from 0.001 to 2.999, in thousandths.
fn grid_quantity(seq: u64) -> u32 {
    (seq.wrapping_mul(104_729) % 2_999 + 1) as u32
}

/// Bid level `k` (0 the best): 49999.50, 49999.00, … (trailing zeros kept,
/// as the checksum takes them).
fn bid_price(level: usize) -> String {
    price(4_999_950 - 50 * level as u64)
}

/// Ask level `k` (0 the best): 50000.50, 50001.00, …
fn ask_price(level: usize) -> String {
    price(5_000_050 + 50 * level as u64)
}

/// `1.234`, `0.050`; `0.000` for a removal.
fn thousandths(quantity: u32) -> String {
    format!("{}.{:03}", quantity / 1_000, quantity % 1_000)
}

/// A modelled book after its deltas `1..=seq`: quantities in thousandths per
/// grid level (0: no level), best level first. Small and `Copy`-cheap, so a
/// cursor keeps one and moves it forward.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Book {
    seq: u64,
    bids: [u32; LEVELS],
    asks: [u32; LEVELS],
}

impl Book {
    /// The empty book, before delta 1.
    pub(crate) fn new() -> Self {
        Self {
            seq: 0,
            bids: [0; LEVELS],
            asks: [0; LEVELS],
        }
    }

    /// The book after deltas `1..=seq`.
    pub(crate) fn at(seq: u64) -> Self {
        let mut book = Self::new();
        book.advance_to(seq);
        book
    }

    /// Applies the deltas after its own up to `seq`; never goes back.
    pub(crate) fn advance_to(&mut self, seq: u64) {
        while self.seq < seq {
            self.seq += 1;
            let delta = Delta::of(self.seq);
            self.bids[delta.bid.0] = delta.bid.1;
            self.asks[delta.ask.0] = delta.ask.1;
        }
    }

    /// Its levels, as written in messages.
    pub(crate) fn levels(&self) -> Levels {
        let side = |quantities: &[u32; LEVELS], price: fn(usize) -> String| {
            quantities
                .iter()
                .enumerate()
                .filter(|&(_, &q)| q > 0)
                .map(|(level, &q)| (price(level), thousandths(q)))
                .collect()
        };
        Levels {
            bids: side(&self.bids, bid_price),
            asks: side(&self.asks, ask_price),
        }
    }
}

/// The book of a plain (not modelled) book delta stream after its deltas
/// `1..=seq`: delta `s` sets the bid at `price(s)` and the ask a cent
/// higher, and nothing is ever removed. The price walk repeats every
/// [`WALK_PERIOD`] deltas, so only the last ones can still be in the book.
pub(crate) fn plain_levels(seq: u64) -> Levels {
    let from = seq.saturating_sub(WALK_PERIOD - 1).max(1);
    // Price in cents → the delta that set it last.
    let mut bids = BTreeMap::new();
    let mut asks = BTreeMap::new();
    for s in from..=seq {
        let cents = price_cents(s);
        bids.insert(cents, s);
        asks.insert(cents + 1, s);
    }
    Levels {
        bids: bids
            .iter()
            .rev()
            .map(|(&cents, &s)| (price(cents), quantity(s)))
            .collect(),
        asks: asks
            .iter()
            .map(|(&cents, &s)| (price(cents), quantity(s + 1)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_is_krakens() {
        // Kraken's documented v1 example (the algorithm is v2's too): its
        // string, and an 11th level each side that must be left out.
        let asks: Vec<String> = (0..11).map(|k| format!("0.0{}", 5005 + 5 * k)).collect();
        let bids: Vec<String> = [
            5000, 4995, 4990, 4980, 4975, 4970, 4965, 4960, 4955, 4950, 4945,
        ]
        .iter()
        .map(|p| format!("0.0{p}"))
        .collect();
        fn pairs(side: &[String]) -> Vec<(&str, &str)> {
            side.iter().map(|p| (p.as_str(), "0.00000500")).collect()
        }
        let expected = "50055005010500501550050205005025500503050050355005040500504550050505005000500499550049905004980500497550049705004965500496050049555004950500";
        assert_eq!(crc32fast::hash(expected.as_bytes()), 974_947_235);
        assert_eq!(book_checksum(&pairs(&asks), &pairs(&bids)), 974_947_235);
        assert_eq!(checksum_digits("0.00100000"), "100000");
        assert_eq!(checksum_digits("45285.2"), "452852");
        assert_eq!(book_checksum(&[], &[]), crc32fast::hash(b""));
    }

    #[test]
    fn a_modelled_book_stays_small_and_removes_levels() {
        let mut book = Book::new();
        let mut removals = 0;
        let mut over_depth = 0;
        for seq in 1..=1_000 {
            let delta = Delta::of(seq);
            if delta.bid.1 == 0 {
                // A removal hits a level that is there.
                assert!(book.bids[delta.bid.0] > 0, "seq {seq}");
                assert!(book.asks[delta.ask.0] > 0, "seq {seq}");
                removals += 1;
            }
            book.advance_to(seq);
            assert_eq!(book, Book::at(seq));
            let levels = book.levels();
            assert!(levels.bids.len() <= LEVELS && levels.asks.len() <= LEVELS);
            if levels.bids.len() > DEPTH && levels.asks.len() > DEPTH {
                over_depth += 1;
            }
            // Sorted best first, not crossed.
            let cents = |p: &str| p.replace('.', "").parse::<u64>().unwrap();
            assert!(
                levels
                    .bids
                    .windows(2)
                    .all(|w| cents(&w[0].0) > cents(&w[1].0))
            );
            assert!(
                levels
                    .asks
                    .windows(2)
                    .all(|w| cents(&w[0].0) < cents(&w[1].0))
            );
        }
        assert_eq!(removals, 200);
        assert!(over_depth > 500, "{over_depth}: the cut at 10 is exercised");
    }

    #[test]
    fn a_plain_book_is_the_union_of_its_deltas() {
        let levels = plain_levels(2);
        assert_eq!(
            levels.bids,
            [
                (price(price_cents(2)), quantity(2)),
                (price(price_cents(1)), quantity(1))
            ]
        );
        assert_eq!(levels.asks.len(), 2);
        assert_eq!(plain_levels(0), Levels::default());
        // Far out, the window still finds every level once.
        assert_eq!(plain_levels(100_000).bids.len(), WALK_PERIOD as usize);
    }
}
