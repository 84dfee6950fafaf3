//! Latency distributions of a lane's timed messages, stage by stage from
//! the socket read to the end of the handler, for the lane and for each
//! venue stream the router names: recorded without locks into atomic
//! histograms, read into percentiles (and merged across lanes) when a
//! snapshot is taken.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use histogram::{AtomicHistogram, Histogram};
use hypersockets_core::StreamId;
use rustc_hash::FxHashMap;

use crate::metrics::LaneMetricsSnapshot;

/// 2^-5: a percentile is within 3.2 % of the true value.
const GROUPING_POWER: u8 = 5;
/// 2^36 ns, about 68.7 s: longer times are recorded as the longest.
const MAX_VALUE_POWER: u8 = 36;
const MAX_NS: u64 = (1 << MAX_VALUE_POWER) - 1;

/// The stages of a message's way through its lane.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stage {
    /// The venue's event time → read from the socket (routers that say
    /// it, `MessageRouter::exchange_time`).
    ExchangeToRead,
    /// Read from the socket → parsed (on the reader, or in the lane).
    ReadToParsed,
    /// Parsed on the reader → its handler starts: the queue's wait.
    ParsedToStart,
    /// The handler's call.
    Handle,
    /// Read from the socket → its handler is done.
    ReadToDone,
}

const STAGES: usize = 5;

impl Stage {
    /// Every stage, in the order of a message's way.
    pub(crate) const ALL: [Self; STAGES] = [
        Self::ExchangeToRead,
        Self::ReadToParsed,
        Self::ParsedToStart,
        Self::Handle,
        Self::ReadToDone,
    ];

    /// Its name in [`LatencySnapshot`] and in exported metrics.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::ExchangeToRead => "exchange_to_read",
            Self::ReadToParsed => "read_to_parsed",
            Self::ParsedToStart => "parsed_to_start",
            Self::Handle => "handle",
            Self::ReadToDone => "read_to_done",
        }
    }
}

/// A lane's or a stream's histograms, one per stage, each made at the
/// first value it records (about 8 KiB each, so that an idle lane costs
/// nothing and a stage nothing goes through, such as `exchange_to_read`
/// for a router without event times, costs nothing either). Every writer
/// of a lane's timings, its streams' included, is the lane itself (or the
/// reader, for an inline lane).
#[derive(Debug, Default)]
pub(crate) struct StageHistograms {
    stages: [OnceLock<AtomicHistogram>; STAGES],
}

/// A histogram of the shape every lane and stream uses.
fn new_histogram() -> AtomicHistogram {
    AtomicHistogram::new(GROUPING_POWER, MAX_VALUE_POWER)
        .expect("the histogram's parameters are valid")
}

impl StageHistograms {
    /// Records that a timed message spent `ns` in `stage`.
    #[inline]
    pub(crate) fn record(&self, stage: Stage, ns: u64) {
        let histogram = self.stages[stage as usize].get_or_init(new_histogram);
        // In range by the clamp: the result carries nothing to handle.
        let _ = histogram.increment(ns.min(MAX_NS));
    }

    /// The histograms now, one per stage (`None` for a stage nothing
    /// went through); `None` before the first timed message.
    pub(crate) fn load(&self) -> Option<[Option<Histogram>; STAGES]> {
        let stages: [Option<Histogram>; STAGES] =
            std::array::from_fn(|stage| self.stages[stage].get().map(AtomicHistogram::load));
        stages.iter().any(Option::is_some).then_some(stages)
    }

    /// Calls `f` with each stage's histogram now, for the stages something
    /// went through, read into `scratch` (so that reading many streams
    /// allocates nothing more).
    pub(crate) fn each_stage(&self, scratch: &mut Histogram, mut f: impl FnMut(Stage, &Histogram)) {
        for stage in Stage::ALL {
            if let Some(histogram) = self.stages[stage as usize].get()
                && histogram.load_into(scratch).is_ok()
            {
                f(stage, scratch);
            }
        }
    }

    /// The percentiles now, stage by stage, read through `scratch`.
    pub(crate) fn snapshot(&self, scratch: &mut Histogram) -> LatencySnapshot {
        let mut snapshot = LatencySnapshot::default();
        self.each_stage(scratch, |stage, histogram| {
            *snapshot.stage_mut(stage) = Percentiles::of(histogram);
        });
        snapshot
    }
}

/// An empty histogram of the shape every lane and stream uses, to read
/// atomic ones into.
pub(crate) fn scratch_histogram() -> Histogram {
    Histogram::new(GROUPING_POWER, MAX_VALUE_POWER).expect("the histogram's parameters are valid")
}

/// Records a timed message's `stage` in its lane's histograms and, when
/// its stream is tracked, in its stream's.
#[inline]
pub(crate) fn record(
    lane: &StageHistograms,
    stream: Option<&StageHistograms>,
    stage: Stage,
    ns: u64,
) {
    lane.record(stage, ns);
    if let Some(stream) = stream {
        stream.record(stage, ns);
    }
}

/// The streams a lane keeps latency histograms for, as readers find them:
/// the lane adds one here when it first times a message of the stream
/// (the only time it takes the lock), a snapshot copies the list. At most
/// [`LaneMetricsSnapshot::MAX_STREAMS`].
#[derive(Debug, Default)]
pub(crate) struct StreamRegistry {
    streams: Mutex<Vec<(StreamId, Arc<StageHistograms>)>>,
}

impl StreamRegistry {
    /// The streams now, in the order they were first timed. Copied out, so
    /// that the lock is held only for the copy, never while percentiles are
    /// read.
    pub(crate) fn streams(&self) -> Vec<(StreamId, Arc<StageHistograms>)> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(StreamId, Arc<StageHistograms>)>> {
        // Nothing panics while holding it; a poisoned list is still whole.
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A lane's own index of its streams' histograms: only the lane (the
/// reader, for an inline lane) reads and writes it, so finding a stream's
/// histograms takes a hash lookup and no lock. A stream seen for the first
/// time is also added to the lane's [`StreamRegistry`], for snapshots.
#[derive(Debug, Default)]
pub(crate) struct StreamIndex {
    streams: FxHashMap<StreamId, Arc<StageHistograms>>,
    /// The lane tracks [`LaneMetricsSnapshot::MAX_STREAMS`] streams: a new
    /// one is timed for the lane only.
    full: bool,
}

impl StreamIndex {
    /// The histograms of `stream`, added at its first timed message; `None`
    /// once the lane tracks as many streams as it may (a peer naming ever
    /// new streams must not grow memory without bound).
    #[inline]
    pub(crate) fn find(
        &mut self,
        stream: StreamId,
        registry: &StreamRegistry,
        lane: &str,
    ) -> Option<Arc<StageHistograms>> {
        match self.streams.get(&stream) {
            Some(histograms) => Some(Arc::clone(histograms)),
            None => self.add(stream, registry, lane),
        }
    }

    #[cold]
    fn add(
        &mut self,
        stream: StreamId,
        registry: &StreamRegistry,
        lane: &str,
    ) -> Option<Arc<StageHistograms>> {
        if self.full {
            return None;
        }
        let mut streams = registry.lock();
        // Already there if this index is not the lane's first (the list
        // outlives any one worker of the lane).
        let known = streams.iter().find(|(id, _)| *id == stream);
        let histograms = match known {
            Some((_, histograms)) => Arc::clone(histograms),
            None if streams.len() >= LaneMetricsSnapshot::MAX_STREAMS => {
                drop(streams);
                self.full = true;
                tracing::warn!(
                    lane,
                    max = LaneMetricsSnapshot::MAX_STREAMS,
                    "the lane times too many streams to keep each apart; \
                     further streams count in the lane's latency only"
                );
                return None;
            }
            None => {
                let histograms = Arc::new(StageHistograms::default());
                streams.push((stream, Arc::clone(&histograms)));
                histograms
            }
        };
        drop(streams);
        self.streams.insert(stream, Arc::clone(&histograms));
        Some(histograms)
    }
}

/// Merges lanes' histograms, stage by stage, and reads their percentiles.
#[derive(Debug, Default)]
pub(crate) struct LatencyTotals {
    stages: [Option<Histogram>; STAGES],
}

impl LatencyTotals {
    pub(crate) fn add(&mut self, lane: &[Option<Histogram>; STAGES]) {
        for (total, lane) in self.stages.iter_mut().zip(lane) {
            let Some(lane) = lane else {
                continue;
            };
            match total {
                None => *total = Some(lane.clone()),
                // Same parameters everywhere: the sum cannot fail but by
                // overflowing a count, where the total stays as it was.
                Some(total) => {
                    let _ = total.checked_add_assign(lane);
                }
            }
        }
    }

    pub(crate) fn snapshot(&self) -> LatencySnapshot {
        let mut snapshot = LatencySnapshot::default();
        for stage in Stage::ALL {
            if let Some(histogram) = &self.stages[stage as usize] {
                *snapshot.stage_mut(stage) = Percentiles::of(histogram);
            }
        }
        snapshot
    }
}

/// Where a lane's timed messages spent their time, stage by stage: the
/// distribution of each stage over the messages timed (one in
/// [`LaneConfig::timing_sample_every`](crate::LaneConfig::timing_sample_every),
/// 64 by default; 1 times every message) since the lane began. For
/// recent windows (the last minute's p99), export the figures
/// (`export_metrics`, the facade's `metrics` feature): the export hands on
/// each interval's new values, for the monitoring system to window.
///
/// ```
/// use hypersockets_router::RouterMetricsSnapshot;
///
/// fn report(metrics: &RouterMetricsSnapshot) {
///     for lane in &metrics.lanes {
///         let late = &lane.latency.read_to_done;
///         println!(
///             "lane {}: read to handled p50 {:?} p99 {:?} p99.9 {:?} max {:?} ({} timed)",
///             lane.key, late.p50, late.p99, late.p999, late.max, late.samples,
///         );
///     }
/// }
/// # report(&RouterMetricsSnapshot::default());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LatencySnapshot {
    /// The venue's event time → read from the socket: the network and the
    /// venue's own queues, as far as the two clocks agree. Recorded for
    /// routers that give it ([`MessageRouter::exchange_time`](hypersockets_core::MessageRouter::exchange_time));
    /// a venue's clock ahead of this machine's counts as 0.
    pub exchange_to_read: Percentiles,
    /// Read from the socket → parsed: on the reader for a router that
    /// parses there, or in the lane for a classified message (its queue's
    /// wait included).
    pub read_to_parsed: Percentiles,
    /// Parsed on the reader → the handler starts: the time in the lane's
    /// queue. Not recorded for a classified message (parsed in the lane
    /// just before its handler) or an inline handler (no queue).
    pub parsed_to_start: Percentiles,
    /// The handler's call, start to end.
    pub handle: Percentiles,
    /// Read from the socket → the handler is done: how late the handler
    /// finished with the data.
    pub read_to_done: Percentiles,
}

impl LatencySnapshot {
    /// The figures of `stage`.
    fn stage_mut(&mut self, stage: Stage) -> &mut Percentiles {
        match stage {
            Stage::ExchangeToRead => &mut self.exchange_to_read,
            Stage::ReadToParsed => &mut self.read_to_parsed,
            Stage::ParsedToStart => &mut self.parsed_to_start,
            Stage::Handle => &mut self.handle,
            Stage::ReadToDone => &mut self.read_to_done,
        }
    }
}

/// One venue stream's latency within a lane: the stages of the lane's
/// timed messages that the router placed in this stream
/// ([`MessageRouter::sequence`](hypersockets_core::MessageRouter::sequence)).
/// The lane's own [`latency`](crate::LaneMetricsSnapshot::latency) counts
/// them as well.
///
/// A lane keeps apart at most
/// [`LaneMetricsSnapshot::MAX_STREAMS`] streams, the first it times;
/// messages of any stream after those count in the lane's figures only
/// (see [`LaneMetricsSnapshot::untracked_stream_samples`]).
///
/// ```
/// use hypersockets_core::StreamId;
/// use hypersockets_router::RouterMetricsSnapshot;
///
/// fn report(metrics: &RouterMetricsSnapshot) {
///     let btc = StreamId::of(&["btcusdt@depth"]);
///     for lane in &metrics.lanes {
///         if let Some(stream) = lane.stream(btc) {
///             let late = &stream.latency.read_to_done;
///             println!("lane {}: btc p99 {:?} ({} timed)", lane.key, late.p99, late.samples);
///         }
///     }
/// }
/// # report(&RouterMetricsSnapshot::default());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamLatencySnapshot {
    /// The stream, as the router's `sequence` named it. Exported metrics
    /// label it with [`StreamId::get`] in decimal, as the client's logs do.
    pub stream: StreamId,
    /// Its timed messages' latency, stage by stage.
    pub latency: LatencySnapshot,
}

/// A distribution's percentiles; all zero when nothing was recorded.
///
/// Each is the upper end of its histogram bucket, within 3.2 % above the
/// true value; times over 68 s count as 68 s.
///
/// ```
/// use hypersockets_router::Percentiles;
///
/// let none = Percentiles::default();
/// assert_eq!(none.samples, 0);
/// assert!(none.p50 <= none.p99 && none.p99 <= none.max);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Percentiles {
    /// How many values were recorded.
    pub samples: u64,
    /// The median.
    pub p50: Duration,
    /// 90 % were at most this.
    pub p90: Duration,
    /// 99 % were at most this.
    pub p99: Duration,
    /// 99.9 % were at most this.
    pub p999: Duration,
    /// The largest.
    pub max: Duration,
}

impl Percentiles {
    fn of(histogram: &Histogram) -> Self {
        const QUANTILES: [f64; 5] = [0.5, 0.9, 0.99, 0.999, 1.0];
        let mut buckets = [None, None, None, None, None];
        if histogram
            .quantile_buckets_into(&QUANTILES, &mut buckets)
            .is_err()
        {
            return Self::default();
        }
        let at =
            |i: usize| Duration::from_nanos(buckets[i].as_ref().map_or(0, |bucket| bucket.end()));
        Self {
            samples: histogram
                .as_slice()
                .iter()
                .fold(0u64, |sum, &count| sum.saturating_add(count)),
            p50: at(0),
            p90: at(1),
            p99: at(2),
            p999: at(3),
            max: at(4),
        }
    }
}
