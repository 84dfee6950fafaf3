//! Latency distributions of a lane's timed messages, stage by stage from
//! the socket read to the end of the handler: recorded without locks into
//! atomic histograms, read into percentiles (and merged across lanes) when
//! a snapshot is taken.

use std::sync::OnceLock;
use std::time::Duration;

use histogram::{AtomicHistogram, Histogram};

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

/// One lane's histograms, made at its first timed message (about 8 KiB
/// each, so that an idle lane costs nothing). Every writer of a lane's
/// timings is the lane itself (or the reader, for an inline lane).
#[derive(Debug, Default)]
pub(crate) struct LaneLatency {
    stages: OnceLock<Box<[AtomicHistogram; STAGES]>>,
}

impl LaneLatency {
    /// Records that a timed message spent `ns` in `stage`.
    #[inline]
    pub(crate) fn record(&self, stage: Stage, ns: u64) {
        let stages = self.stages.get_or_init(|| {
            Box::new(std::array::from_fn(|_| {
                AtomicHistogram::new(GROUPING_POWER, MAX_VALUE_POWER)
                    .expect("the histogram's parameters are valid")
            }))
        });
        // In range by the clamp: the result carries nothing to handle.
        let _ = stages[stage as usize].increment(ns.min(MAX_NS));
    }

    /// The histograms now, one per stage; `None` before the first timed
    /// message.
    pub(crate) fn load(&self) -> Option<[Histogram; STAGES]> {
        let stages = self.stages.get()?;
        Some(std::array::from_fn(|stage| stages[stage].load()))
    }
}

/// Merges lanes' histograms, stage by stage, and reads their percentiles.
#[derive(Debug, Default)]
pub(crate) struct LatencyTotals {
    stages: Option<[Histogram; STAGES]>,
}

impl LatencyTotals {
    pub(crate) fn add(&mut self, lane: &[Histogram; STAGES]) {
        match &mut self.stages {
            None => self.stages = Some(lane.clone()),
            Some(stages) => {
                for (total, lane) in stages.iter_mut().zip(lane) {
                    // Same parameters everywhere: the sum cannot fail but
                    // by overflowing a count, where the total stays as it was.
                    let _ = total.checked_add_assign(lane);
                }
            }
        }
    }

    pub(crate) fn snapshot(&self) -> LatencySnapshot {
        let Some(stages) = &self.stages else {
            return LatencySnapshot::default();
        };
        let percentiles = |stage: Stage| Percentiles::of(&stages[stage as usize]);
        LatencySnapshot {
            exchange_to_read: percentiles(Stage::ExchangeToRead),
            read_to_parsed: percentiles(Stage::ReadToParsed),
            parsed_to_start: percentiles(Stage::ParsedToStart),
            handle: percentiles(Stage::Handle),
            read_to_done: percentiles(Stage::ReadToDone),
        }
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
