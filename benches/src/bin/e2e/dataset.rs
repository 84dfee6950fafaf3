//! The feed's content: 100,000 distinct messages generated from a fixed
//! seed, cycled to reach any count. Both processes generate the same
//! sequence: the server encodes it (see [`crate::frames`]), the client
//! derives what it must receive from it ([`Expected`]).
//!
//! Each (kind, symbol) pair is a stream with its own sequence number, which
//! keeps increasing from cycle to cycle: in cycle `c`, the message that is
//! its stream's `i`-th in the catalog carries `c * per_cycle + i + 1`. So
//! each stream's sequence is exactly 1, 2, 3, … however many cycles run.

use crate::feed::{Kind, STREAMS, SYMBOLS, checksum_term, stream_index};

/// Distinct messages before the feed repeats itself.
pub(crate) const DISTINCT: usize = 100_000;

const SEED: u64 = 0x5EED_F11D_2024;

/// A small deterministic generator (SplitMix64).
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// Price levels of a symbol, in units of 1e-8.
const BASE_PRICES_E8: [u64; SYMBOLS.len()] = [
    4_325_112_000_000,
    225_034_000_000,
    31_210_000_000,
    6_150_000_000,
    61_230_000,
    59_870_000,
    9_120_000,
    3_655_000_000,
    745_000_000,
    1_478_000_000,
    85_420_000,
    7_390_000_000,
    10_520_000,
    985_000_000,
    352_000_000,
    912_000_000,
];

/// One message before encoding: everything but its sequence number, which
/// depends on the cycle.
#[derive(Debug)]
pub(crate) struct Spec {
    /// Its kind.
    pub(crate) kind: Kind,
    /// Its symbol's index in [`SYMBOLS`].
    pub(crate) symbol: usize,
    /// Event time in ms (the `"E"` field of a blast; paced runs overwrite
    /// it with the send time).
    pub(crate) event_ms: u64,
    /// The kind's own fields.
    pub(crate) body: Body,
}

/// The fields that differ by kind; decimals in units of 1e-8.
#[derive(Debug)]
pub(crate) enum Body {
    /// `trade`.
    Trade { price: u64, qty: u64, maker: bool },
    /// `depthUpdate`: one to three levels a side.
    Depth {
        bids: Vec<(u64, u64)>,
        asks: Vec<(u64, u64)>,
    },
    /// `bookTicker`.
    BookTicker {
        bid: u64,
        bid_qty: u64,
        ask: u64,
        ask_qty: u64,
    },
    /// `kline` (its decimals: open, close, high, low, volume, quote volume).
    Kline {
        start_ms: u64,
        first_trade: u64,
        decimals: [u64; 6],
        trades: u64,
        closed: bool,
    },
}

impl Spec {
    /// The sum of its decimals: what the checksum adds besides the sequence.
    pub(crate) fn value(&self) -> u64 {
        let sum = |values: &mut dyn Iterator<Item = u64>| values.fold(0u64, u64::wrapping_add);
        match &self.body {
            Body::Trade { price, qty, .. } => sum(&mut [*price, *qty].into_iter()),
            Body::Depth { bids, asks } => {
                sum(&mut bids.iter().chain(asks).flat_map(|&(p, q)| [p, q]))
            }
            Body::BookTicker {
                bid,
                bid_qty,
                ask,
                ask_qty,
            } => sum(&mut [*bid, *bid_qty, *ask, *ask_qty].into_iter()),
            Body::Kline { decimals, .. } => sum(&mut decimals.iter().copied()),
        }
    }

    /// Its stream's index.
    pub(crate) fn stream(&self) -> usize {
        stream_index(self.kind, self.symbol)
    }
}

/// Calls `each` with every message of the catalog, in order.
pub(crate) fn for_each_spec(mut each: impl FnMut(&Spec)) {
    let mut rng = Rng(SEED);
    let mut clock_ms: u64 = 1_700_000_000_000;
    for _ in 0..DISTINCT {
        // Mix: 30 % trades, 30 % depth, 30 % book tickers, 10 % klines.
        let kind = match rng.below(10) {
            0..=2 => Kind::Trade,
            3..=5 => Kind::Depth,
            6..=8 => Kind::BookTicker,
            _ => Kind::Kline,
        };
        let symbol = rng.below(SYMBOLS.len() as u64) as usize;
        clock_ms += rng.below(3);
        let base = BASE_PRICES_E8[symbol];
        let tick = (base / 10_000).max(1);
        let price = |rng: &mut Rng| base - 50 * tick + rng.below(100) * tick;
        let qty = |rng: &mut Rng| 1_000 * (1 + rng.below(5_000_000));
        let body = match kind {
            Kind::Trade => Body::Trade {
                price: price(&mut rng),
                qty: qty(&mut rng),
                maker: rng.below(2) == 0,
            },
            Kind::Depth => {
                let bids = (0..1 + rng.below(3))
                    .map(|_| (price(&mut rng), qty(&mut rng)))
                    .collect();
                let asks = (0..1 + rng.below(3))
                    .map(|_| (price(&mut rng), qty(&mut rng)))
                    .collect();
                Body::Depth { bids, asks }
            }
            Kind::BookTicker => Body::BookTicker {
                bid: price(&mut rng),
                bid_qty: qty(&mut rng),
                ask: price(&mut rng),
                ask_qty: qty(&mut rng),
            },
            Kind::Kline => Body::Kline {
                start_ms: clock_ms / 60_000 * 60_000,
                first_trade: 3_000_000_000 + rng.below(1_000_000_000),
                decimals: [
                    price(&mut rng),
                    price(&mut rng),
                    price(&mut rng),
                    price(&mut rng),
                    qty(&mut rng),
                    qty(&mut rng) * 100,
                ],
                trades: 1 + rng.below(5_000),
                closed: rng.below(10) == 0,
            },
        };
        each(&Spec {
            kind,
            symbol,
            event_ms: clock_ms,
            body,
        });
    }
}

/// What the catalog's messages contribute, compactly: enough to know any
/// message's sequence number and checksum term in any cycle.
#[derive(Debug)]
pub(crate) struct Catalog {
    /// Per catalog message: its stream, its index within that stream in a
    /// cycle, and the sum of its decimals.
    pub(crate) entries: Vec<Entry>,
    /// Per stream: its messages in one cycle.
    pub(crate) per_cycle: Vec<u64>,
}

/// One catalog message, compactly.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    /// Its stream.
    pub(crate) stream: u16,
    /// Its index within its stream, in one cycle.
    pub(crate) local: u32,
    /// The sum of its decimals.
    pub(crate) value: u64,
}

impl Entry {
    /// Its sequence number in cycle `cycle`.
    #[inline]
    pub(crate) fn seq(&self, catalog: &Catalog, cycle: u64) -> u64 {
        cycle * catalog.per_cycle[usize::from(self.stream)] + u64::from(self.local) + 1
    }
}

impl Catalog {
    /// Builds the catalog, handing each message to `also` (the server
    /// encodes them).
    pub(crate) fn build(mut also: impl FnMut(&Spec, &Entry)) -> Self {
        let mut per_cycle = vec![0u64; STREAMS];
        let mut entries = Vec::with_capacity(DISTINCT);
        for_each_spec(|spec| {
            let stream = spec.stream();
            let entry = Entry {
                stream: stream as u16,
                local: per_cycle[stream] as u32,
                value: spec.value(),
            };
            per_cycle[stream] += 1;
            also(spec, &entry);
            entries.push(entry);
        });
        Self { entries, per_cycle }
    }
}

/// What a client must receive from a feed of `messages` messages.
#[derive(Debug)]
pub(crate) struct Expected {
    /// How many messages.
    pub(crate) messages: u64,
    /// Per stream: how many (and so the last sequence number).
    pub(crate) counts: Vec<u64>,
    /// The checksum over all of them.
    pub(crate) checksum: u64,
}

impl Expected {
    /// What the first `messages` messages of the feed are.
    pub(crate) fn of(messages: u64) -> Self {
        let catalog = Catalog::build(|_, _| {});
        let mut counts = vec![0u64; STREAMS];
        let mut checksum = 0u64;
        for index in 0..messages {
            let entry = &catalog.entries[(index % DISTINCT as u64) as usize];
            let seq = entry.seq(&catalog, index / DISTINCT as u64);
            counts[usize::from(entry.stream)] += 1;
            checksum = checksum.wrapping_add(checksum_term(seq, entry.value));
        }
        Self {
            messages,
            counts,
            checksum,
        }
    }

    /// How many messages of `kind` (one lane's share).
    pub(crate) fn of_kind(&self, kind: Kind) -> u64 {
        let start = stream_index(kind, 0);
        self.counts[start..start + SYMBOLS.len()].iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_continue_across_cycles() {
        let expected = Expected::of(DISTINCT as u64 * 2 + 7);
        let catalog = Catalog::build(|_, _| {});
        assert_eq!(expected.counts.iter().sum::<u64>(), expected.messages);
        for (stream, &per_cycle) in catalog.per_cycle.iter().enumerate() {
            assert!(expected.counts[stream] >= 2 * per_cycle);
        }
        let kinds: u64 = Kind::ALL.iter().map(|&k| expected.of_kind(k)).sum();
        assert_eq!(kinds, expected.messages);
    }
}
