//! Per-lane figures: written by the reader and the lane with relaxed
//! atomics, read by anyone at any time.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Live counters of one lane. Each is written by one side only (reader or
/// lane), so updates are plain relaxed stores or adds with no contention.
#[derive(Debug, Default)]
pub(crate) struct LaneCounters {
    // Written by the reader.
    pub(crate) enqueued: AtomicU64,
    pub(crate) high_water: AtomicU64,
    /// Dropped by `DropNewest` (never queued).
    pub(crate) dropped_newest: AtomicU64,
    /// Evicted from the queue by `DropOldest` or `KeepLatest`.
    pub(crate) evicted: AtomicU64,
    // Written by the lane.
    pub(crate) dequeued: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) dropped_abort: AtomicU64,
    pub(crate) handler_errors: AtomicU64,
    pub(crate) handler_panics: AtomicU64,
    pub(crate) parse_errors: AtomicU64,
    pub(crate) timed: AtomicU64,
    pub(crate) wait_ns: AtomicU64,
    pub(crate) parse_ns: AtomicU64,
    pub(crate) handle_ns: AtomicU64,
    pub(crate) max_wait_ns: AtomicU64,
}

#[inline]
pub(crate) fn add(counter: &AtomicU64, value: u64) {
    counter.fetch_add(value, Relaxed);
}

#[inline]
pub(crate) fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl LaneCounters {
    pub(crate) fn snapshot(&self, key: String, inline: bool) -> LaneMetricsSnapshot {
        let enqueued = self.enqueued.load(Relaxed);
        let dequeued = self.dequeued.load(Relaxed);
        let evicted = self.evicted.load(Relaxed);
        let timed = self.timed.load(Relaxed);
        let mean = |total: &AtomicU64| {
            Duration::from_nanos(total.load(Relaxed).checked_div(timed).unwrap_or(0))
        };
        LaneMetricsSnapshot {
            key,
            inline,
            depth: enqueued.saturating_sub(dequeued).saturating_sub(evicted),
            high_water: self.high_water.load(Relaxed),
            enqueued,
            delivered: self.delivered.load(Relaxed),
            dropped: self.dropped_newest.load(Relaxed) + evicted + self.dropped_abort.load(Relaxed),
            handler_errors: self.handler_errors.load(Relaxed),
            handler_panics: self.handler_panics.load(Relaxed),
            parse_errors: self.parse_errors.load(Relaxed),
            timed_samples: timed,
            mean_wait: mean(&self.wait_ns),
            max_wait: Duration::from_nanos(self.max_wait_ns.load(Relaxed)),
            mean_parse: mean(&self.parse_ns),
            mean_handle: mean(&self.handle_ns),
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
    /// The deepest the queue has been.
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
    /// Every lane, in the order they were configured; the fallback last.
    pub lanes: Vec<LaneMetricsSnapshot>,
}

impl RouterMetricsSnapshot {
    /// The lane with this `Debug`-formatted key.
    pub fn lane(&self, key: &str) -> Option<&LaneMetricsSnapshot> {
        self.lanes.iter().find(|lane| lane.key == key)
    }
}

/// Reader-side counters.
#[derive(Debug, Default)]
pub(crate) struct ReaderCounters {
    pub(crate) dispatched: AtomicU64,
    pub(crate) parse_errors: AtomicU64,
    pub(crate) unrouted: AtomicU64,
}
