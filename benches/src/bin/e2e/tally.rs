//! The checking every client does per message, in its handler: per-stream
//! counts, strictly increasing sequence numbers per stream, a checksum over
//! every decimal field, and (in paced runs) the latency from the server's
//! send to the handler's start. Each handler owns its [`Tally`]; nothing is
//! shared while messages flow.

use std::sync::mpsc::Sender;
use std::time::Instant;

use hypersockets::{BoxError, MessageHandler};

use crate::clock;
use crate::dataset::Expected;
use crate::feed::{Kind, STREAMS, SYMBOLS, checksum_term, stream_index, symbol_index};

/// What a handler reads from a message to check it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Observation<'a> {
    /// The message's kind.
    pub(crate) kind: Kind,
    /// Its symbol.
    pub(crate) symbol: &'a [u8],
    /// Its stream sequence number.
    pub(crate) seq: u64,
    /// The `"E"` field: the server's send time (ns, `CLOCK_MONOTONIC`) in
    /// paced runs.
    pub(crate) stamp: u64,
    /// The sum of its decimals, in units of 1e-8.
    pub(crate) value: u64,
}

/// A parsed message the checking handlers can read.
pub(crate) trait Observe {
    /// What the check needs.
    fn observation(&self) -> Observation<'_>;
}

impl Observe for crate::tagged::Event {
    fn observation(&self) -> Observation<'_> {
        self.observation()
    }
}

impl Observe for crate::concrete::FastEvent {
    fn observation(&self) -> Observation<'_> {
        self.observation()
    }
}

/// One stream's count and last sequence number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StreamTally {
    /// Messages seen.
    pub(crate) count: u64,
    /// The last sequence number seen.
    pub(crate) last: u64,
}

/// What one handler saw.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    streams: Vec<StreamTally>,
    messages: u64,
    target: u64,
    checksum: u64,
    problems: u64,
    first_problem: Option<String>,
    done_at: Option<Instant>,
    latencies: Option<Vec<u32>>,
}

impl Tally {
    /// A tally expecting `target` messages; it notes the instant the last
    /// of them arrives. `paced` also records a latency per message (room
    /// for `target` of them is taken up front, so recording never
    /// allocates).
    pub(crate) fn new(target: u64, paced: bool) -> Self {
        Self {
            streams: vec![StreamTally::default(); STREAMS],
            target,
            latencies: paced.then(|| Vec::with_capacity(target as usize)),
            ..Self::default()
        }
    }

    /// The clock at the handler's start, when latencies are recorded.
    #[inline]
    pub(crate) fn arrival(&self) -> u64 {
        if self.latencies.is_some() {
            clock::now_ns()
        } else {
            0
        }
    }

    /// Checks and counts one message that arrived at `arrived` (from
    /// [`arrival`](Self::arrival)).
    #[inline]
    pub(crate) fn record(&mut self, arrived: u64, seen: Observation<'_>) {
        if let Some(latencies) = &mut self.latencies {
            let latency = arrived.saturating_sub(seen.stamp);
            latencies.push(u32::try_from(latency).unwrap_or(u32::MAX));
        }
        match symbol_index(seen.symbol) {
            Some(symbol) => {
                let stream = &mut self.streams[stream_index(seen.kind, symbol)];
                if seen.seq <= stream.last {
                    let last = stream.last;
                    self.problem(|| {
                        format!(
                            "{:?} {}: sequence {} after {last}",
                            seen.kind, SYMBOLS[symbol], seen.seq
                        )
                    });
                }
                let stream = &mut self.streams[stream_index(seen.kind, symbol)];
                stream.last = seen.seq;
                stream.count += 1;
            }
            None => self
                .problem(|| format!("unknown symbol {:?}", String::from_utf8_lossy(seen.symbol))),
        }
        self.checksum = self
            .checksum
            .wrapping_add(checksum_term(seen.seq, seen.value));
        self.messages += 1;
        if self.messages == self.target {
            self.done_at = Some(Instant::now());
        }
    }

    #[cold]
    fn problem(&mut self, describe: impl FnOnce() -> String) {
        self.problems += 1;
        if self.first_problem.is_none() {
            self.first_problem = Some(describe());
        }
    }

    /// Sees one message: reads the clock first (the handler's start), then
    /// checks it.
    #[inline]
    pub(crate) fn see(&mut self, message: &impl Observe) {
        let arrived = self.arrival();
        self.record(arrived, message.observation());
    }
}

/// Hands its tally back when dropped: a lane drops its handler when it
/// ends, and an inline handler is dropped with the dispatcher, so the
/// tallies come back once the client is closed.
#[derive(Debug)]
pub(crate) struct Reporter {
    /// The tally being filled.
    pub(crate) tally: Tally,
    out: Sender<Tally>,
}

impl Reporter {
    /// A reporter filling `tally`, to send to `out` when dropped.
    pub(crate) fn new(tally: Tally, out: Sender<Tally>) -> Self {
        Self { tally, out }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        let _ = self.out.send(std::mem::take(&mut self.tally));
    }
}

/// The lanes' handler: checks and counts, nothing else.
#[derive(Debug)]
pub(crate) struct CheckingHandler(pub(crate) Reporter);

impl<M: Observe + Send + 'static> MessageHandler<M> for CheckingHandler {
    async fn handle(&mut self, message: M) -> Result<(), BoxError> {
        self.0.tally.see(&message);
        Ok(())
    }
}

/// The tallies of one client run, merged: what it checked and measured.
#[derive(Debug)]
pub(crate) struct Merged {
    /// Messages handled.
    pub(crate) messages: u64,
    /// The checksum over every message.
    pub(crate) checksum: u64,
    /// When the last expected message was handled (the latest lane).
    pub(crate) done_at: Option<Instant>,
    /// Every latency sample, in ns (paced runs).
    pub(crate) latencies: Vec<u32>,
    streams: Vec<StreamTally>,
    problems: Vec<String>,
}

impl Merged {
    /// Merges the tallies of a run's handlers. A stream seen by two
    /// handlers is a routing error.
    pub(crate) fn of(tallies: Vec<Tally>) -> Self {
        let mut merged = Self {
            messages: 0,
            checksum: 0,
            done_at: None,
            latencies: Vec::new(),
            streams: vec![StreamTally::default(); STREAMS],
            problems: Vec::new(),
        };
        for tally in tallies {
            merged.messages += tally.messages;
            merged.checksum = merged.checksum.wrapping_add(tally.checksum);
            merged.done_at = match (merged.done_at, tally.done_at) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            if let Some(problem) = tally.first_problem {
                merged.problems.push(format!(
                    "{problem} ({} problems in this lane)",
                    tally.problems
                ));
            }
            for (index, (into, from)) in merged.streams.iter_mut().zip(&tally.streams).enumerate() {
                if from.count == 0 {
                    continue;
                }
                if into.count != 0 {
                    merged
                        .problems
                        .push(format!("stream {index} was handled by two handlers"));
                }
                into.count += from.count;
                into.last = into.last.max(from.last);
            }
            merged.latencies.extend(tally.latencies.unwrap_or_default());
        }
        merged
    }

    /// Checks against what the server sent: every stream's count, its last
    /// sequence number (with the order checked per message, the sequence
    /// was exactly 1, 2, …, count), the total and the checksum.
    pub(crate) fn verify(&self, expected: &Expected) -> Result<(), String> {
        let mut problems = self.problems.clone();
        if self.messages != expected.messages {
            problems.push(format!(
                "handled {} messages, the server sent {}",
                self.messages, expected.messages
            ));
        }
        if self.checksum != expected.checksum {
            problems.push(format!(
                "checksum {:#x}, expected {:#x}",
                self.checksum, expected.checksum
            ));
        }
        for (index, (seen, &count)) in self.streams.iter().zip(&expected.counts).enumerate() {
            if seen.count != count || seen.last != count {
                let kind = Kind::ALL[index / SYMBOLS.len()];
                let symbol = SYMBOLS[index % SYMBOLS.len()];
                problems.push(format!(
                    "{kind:?} {symbol}: {} messages up to sequence {}, expected {count} up to {count}",
                    seen.count, seen.last
                ));
            }
        }
        if self.done_at.is_none() && expected.messages > 0 {
            problems.push("the last message never arrived".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            problems.truncate(10);
            Err(problems.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(seq: u64) -> Observation<'static> {
        Observation {
            kind: Kind::Trade,
            symbol: b"BTCUSDT",
            seq,
            stamp: 0,
            value: 7,
        }
    }

    fn expected(counts: &[(usize, u64)], checksum: u64) -> Expected {
        let mut all = vec![0; STREAMS];
        for &(stream, count) in counts {
            all[stream] = count;
        }
        Expected {
            messages: all.iter().sum(),
            counts: all,
            checksum,
        }
    }

    #[test]
    fn in_order_delivery_passes() {
        let mut tally = Tally::new(3, false);
        for seq in 1..=3 {
            tally.record(0, seen(seq));
        }
        let checksum = (1..=3).fold(0u64, |sum, seq| sum.wrapping_add(checksum_term(seq, 7)));
        let merged = Merged::of(vec![tally]);
        assert_eq!(merged.verify(&expected(&[(0, 3)], checksum)), Ok(()));
    }

    #[test]
    fn reordering_gaps_and_wrong_values_fail() {
        let mut tally = Tally::new(3, false);
        for seq in [1, 3, 2] {
            tally.record(0, seen(seq));
        }
        let error = Merged::of(vec![tally])
            .verify(&expected(&[(0, 3)], 0))
            .unwrap_err();
        assert!(error.contains("sequence 2 after 3"), "{error}");
        assert!(error.contains("checksum"), "{error}");

        let mut tally = Tally::new(3, false);
        tally.record(0, seen(1));
        tally.record(0, seen(2));
        let error = Merged::of(vec![tally])
            .verify(&expected(&[(0, 3)], 0))
            .unwrap_err();
        assert!(error.contains("handled 2 messages"), "{error}");
    }

    #[test]
    fn a_stream_in_two_lanes_fails() {
        let mut a = Tally::new(1, false);
        a.record(0, seen(1));
        let mut b = Tally::new(1, false);
        b.record(0, seen(2));
        let error = Merged::of(vec![a, b])
            .verify(&expected(&[(0, 2)], 0))
            .unwrap_err();
        assert!(error.contains("two handlers"), "{error}");
    }
}
