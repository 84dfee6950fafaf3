//! Per-lane figures: written by the reader and the lane with relaxed
//! atomics, read by anyone at any time.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crossbeam_utils::CachePadded;

use hypersockets_core::StreamId;

use crate::latency::{
    LatencySnapshot, LatencyTotals, StageHistograms, StreamLatencySnapshot, StreamRegistry,
    scratch_histogram,
};

/// Live counters of one lane, in two cache lines: one written by the
/// reader, one by the lane, so neither side's writes evict the other's.
/// Every counter has a single writer (an inline lane's both halves are
/// written by the reader), which is what lets [`bump`] avoid locked
/// read-modify-write instructions.
#[derive(Debug, Default)]
pub(crate) struct LaneCounters {
    pub(crate) reader: CachePadded<ReaderSide>,
    pub(crate) lane: CachePadded<LaneSide>,
    /// Written by whoever writes `lane`.
    pub(crate) latency: StageHistograms,
    /// The lane's streams' histograms, also written by whoever writes
    /// `lane`; the list itself changes only when a stream is first timed.
    pub(crate) streams: StreamRegistry,
}

/// Written by the reader.
#[derive(Debug, Default)]
pub(crate) struct ReaderSide {
    pub(crate) enqueued: AtomicU64,
    pub(crate) high_water: AtomicU64,
    /// Dropped on the reader without being queued: by `DropNewest`, held
    /// messages at an abort, messages for a lane that has ended.
    pub(crate) dropped_unqueued: AtomicU64,
    /// Evicted from the queue by `DropOldest` or `KeepLatest`.
    pub(crate) evicted: AtomicU64,
}

/// Written by the lane.
#[derive(Debug, Default)]
pub(crate) struct LaneSide {
    pub(crate) dequeued: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) dropped_abort: AtomicU64,
    pub(crate) handler_errors: AtomicU64,
    pub(crate) handler_panics: AtomicU64,
    pub(crate) parse_errors: AtomicU64,
    pub(crate) timed: AtomicU64,
    /// Timed messages of a stream past the lane's bound on streams.
    pub(crate) untracked_stream_samples: AtomicU64,
    pub(crate) wait_ns: AtomicU64,
    pub(crate) parse_ns: AtomicU64,
    pub(crate) handle_ns: AtomicU64,
    pub(crate) max_wait_ns: AtomicU64,
}

/// Adds to a counter that only the calling thread writes: a plain load and
/// store, no locked instruction. Readers on other threads see each value
/// whole, just possibly a moment late.
#[inline]
pub(crate) fn bump(counter: &AtomicU64, value: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(value), Relaxed);
}

/// Raises a single-writer maximum.
#[inline]
pub(crate) fn raise(counter: &AtomicU64, value: u64) {
    if value > counter.load(Relaxed) {
        counter.store(value, Relaxed);
    }
}

impl LaneCounters {
    /// The lane's figures now; its latency histograms are added to `totals`.
    pub(crate) fn snapshot(
        &self,
        key: String,
        inline: bool,
        totals: &mut LatencyTotals,
    ) -> LaneMetricsSnapshot {
        let (reader, lane) = (&*self.reader, &*self.lane);
        let enqueued = reader.enqueued.load(Relaxed);
        let evicted = reader.evicted.load(Relaxed);
        let dequeued = lane.dequeued.load(Relaxed);
        let timed = lane.timed.load(Relaxed);
        let mean = |total: &AtomicU64| {
            Duration::from_nanos(total.load(Relaxed).checked_div(timed).unwrap_or(0))
        };
        let depth = enqueued.saturating_sub(evicted).saturating_sub(dequeued);
        let latency = match self.latency.load() {
            Some(histograms) => {
                totals.add(&histograms);
                let mut lane = LatencyTotals::default();
                lane.add(&histograms);
                lane.snapshot()
            }
            None => LatencySnapshot::default(),
        };
        let registered = self.streams.streams();
        let streams = if registered.is_empty() {
            Vec::new()
        } else {
            let mut scratch = scratch_histogram();
            registered
                .iter()
                .map(|(stream, histograms)| StreamLatencySnapshot {
                    stream: *stream,
                    latency: histograms.snapshot(&mut scratch),
                })
                .collect()
        };
        LaneMetricsSnapshot {
            key,
            inline,
            depth,
            high_water: reader.high_water.load(Relaxed).max(depth),
            enqueued,
            delivered: lane.delivered.load(Relaxed),
            dropped: reader.dropped_unqueued.load(Relaxed)
                + evicted
                + lane.dropped_abort.load(Relaxed),
            handler_errors: lane.handler_errors.load(Relaxed),
            handler_panics: lane.handler_panics.load(Relaxed),
            parse_errors: lane.parse_errors.load(Relaxed),
            timed_samples: timed,
            mean_wait: mean(&lane.wait_ns),
            max_wait: Duration::from_nanos(lane.max_wait_ns.load(Relaxed)),
            mean_parse: mean(&lane.parse_ns),
            mean_handle: mean(&lane.handle_ns),
            latency,
            streams,
            untracked_stream_samples: lane.untracked_stream_samples.load(Relaxed),
        }
    }
}

/// The figures of one lane at one moment.
///
/// Times are means over the sampled messages (one in
/// [`LaneConfig::timing_sample_every`](crate::LaneConfig::timing_sample_every)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LaneMetricsSnapshot {
    /// The lane's route key, formatted with `Debug` (`"fallback"` for the fallback lane).
    pub key: String,
    /// Whether the handler runs inline on the reader.
    pub inline: bool,
    /// Messages waiting in the queue now (including any being evicted).
    pub depth: u64,
    /// The deepest the queue has been, as seen when the reader checks on
    /// the lane (at each flush, at most 64 messages apart) and when a
    /// bounded queue fills.
    pub high_water: u64,
    /// Messages put in the queue (or handed to an inline handler).
    pub enqueued: u64,
    /// Messages the handler finished with (successfully or not).
    pub delivered: u64,
    /// Messages dropped by the overflow policy or an abort.
    pub dropped: u64,
    /// Handler calls that returned an error.
    pub handler_errors: u64,
    /// Handler calls that panicked (caught; the lane went on).
    pub handler_panics: u64,
    /// Messages the lane could not parse (classified messages parse in the lane).
    pub parse_errors: u64,
    /// How many messages were timed.
    pub timed_samples: u64,
    /// Mean time a timed message waited in the queue.
    pub mean_wait: Duration,
    /// Longest wait of a timed message.
    pub max_wait: Duration,
    /// Mean parse time of a timed message, where the parse ran in the lane.
    pub mean_parse: Duration,
    /// Mean time in the handler of a timed message.
    pub mean_handle: Duration,
    /// The timed messages' latency, stage by stage: percentiles from the
    /// socket read to the handler's end.
    pub latency: LatencySnapshot,
    /// The same per venue stream, for the timed messages the router
    /// places in a stream ([`MessageRouter::sequence`](hypersockets_core::MessageRouter::sequence)),
    /// in the order the lane first timed them; at most
    /// [`MAX_STREAMS`](Self::MAX_STREAMS). Empty for a router that names
    /// no streams.
    pub streams: Vec<StreamLatencySnapshot>,
    /// Timed messages of streams the lane did not keep apart, being past
    /// [`MAX_STREAMS`](Self::MAX_STREAMS): they count in
    /// [`latency`](Self::latency) only.
    pub untracked_stream_samples: u64,
}

impl LaneMetricsSnapshot {
    /// The most streams a lane keeps latency histograms for: the first it
    /// times. As many as a venue lets one connection carry (Binance's
    /// 1024), and a bound on the memory a peer naming ever new streams
    /// could make a lane use: a stream's histograms take 8 KiB per stage
    /// its messages went through (3 to 5 stages), so at most 40 MiB per
    /// lane.
    pub const MAX_STREAMS: usize = 1024;

    /// The latency of `stream` in this lane, if the lane timed any of its
    /// messages.
    ///
    /// ```
    /// use hypersockets_core::StreamId;
    /// use hypersockets_router::LaneMetricsSnapshot;
    ///
    /// let lane = LaneMetricsSnapshot::default();
    /// assert!(lane.stream(StreamId::of(&["btcusdt@trade"])).is_none());
    /// ```
    pub fn stream(&self, stream: StreamId) -> Option<&StreamLatencySnapshot> {
        self.streams.iter().find(|known| known.stream == stream)
    }
}

/// Figures of the whole router: reader-side counters and every lane.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouterMetricsSnapshot {
    /// Messages given to the dispatcher.
    pub dispatched: u64,
    /// Messages the reader failed to parse (unclassified messages).
    pub parse_errors: u64,
    /// Messages whose key had no lane (sent to the fallback when there is one).
    pub unrouted: u64,
    /// Bytes waiting in the lanes' queues now, all lanes together, as the
    /// [`MemoryBudget`](crate::MemoryBudget) counts them (payloads plus
    /// [`MESSAGE_OVERHEAD`](crate::MemoryBudget::MESSAGE_OVERHEAD) each).
    pub queued_bytes: u64,
    /// The [`MemoryBudget`](crate::MemoryBudget) on
    /// [`queued_bytes`](Self::queued_bytes); `None` when unbounded.
    pub memory_budget: Option<u64>,
    /// How many times the reader stopped reading because the queues
    /// reached the memory budget.
    pub backpressure_waits: u64,
    /// Lanes a shutdown gave up on because they did not finish in time
    /// (a stuck handler): threads detached, tasks aborted.
    pub abandoned_lanes: u64,
    /// Every lane, in the order they were configured; the fallback last.
    pub lanes: Vec<LaneMetricsSnapshot>,
    /// Every lane's timed messages together: the router's latency, stage
    /// by stage (the lanes' histograms merged).
    pub latency: LatencySnapshot,
}

impl RouterMetricsSnapshot {
    /// The lane with this `Debug`-formatted key.
    pub fn lane(&self, key: &str) -> Option<&LaneMetricsSnapshot> {
        self.lanes.iter().find(|lane| lane.key == key)
    }

    /// Messages that failed to parse anywhere: on the reader
    /// ([`parse_errors`](Self::parse_errors)) and in every lane.
    pub fn all_parse_errors(&self) -> u64 {
        self.lanes
            .iter()
            .map(|lane| lane.parse_errors)
            .fold(self.parse_errors, u64::saturating_add)
    }

    /// Handler calls that returned an error or panicked, in every lane.
    pub fn handler_failures(&self) -> u64 {
        self.lanes
            .iter()
            .map(|lane| lane.handler_errors.saturating_add(lane.handler_panics))
            .fold(0, u64::saturating_add)
    }
}

/// Reader-side counters of the whole router (single writer: the reader).
#[derive(Debug, Default)]
pub(crate) struct ReaderCounters {
    pub(crate) dispatched: AtomicU64,
    pub(crate) parse_errors: AtomicU64,
    pub(crate) unrouted: AtomicU64,
    /// Written by the shutdown, which the reader's owner runs.
    pub(crate) abandoned_lanes: AtomicU64,
}
