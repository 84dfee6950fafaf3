//! Messages counted per stream by the handlers, read once a second by the
//! view: a lock-free counter for each stream that has a lane of its own,
//! and a map of counters (behind a lock) for streams that share one.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The most streams counted apart: a peer that names ever new streams
/// (or a feed whose "topic" is a timestamp) cannot grow the map past it.
pub(crate) const MAX_STREAMS: usize = 512;

/// The row the streams past [`MAX_STREAMS`] are counted under.
pub(crate) const OVERFLOW: &str = "(more streams)";

/// Per-stream message counts, shared by the handlers (which add) and the
/// view (which reads). Cheap to clone.
#[derive(Clone, Debug, Default)]
pub(crate) struct StreamCounts {
    streams: Arc<Mutex<BTreeMap<String, Arc<AtomicU64>>>>,
}

impl StreamCounts {
    /// The counter of `stream`, made if new: for a handler that counts one
    /// stream only, which then adds without taking the lock.
    pub(crate) fn counter(&self, stream: &str) -> Arc<AtomicU64> {
        let mut streams = self.lock();
        if let Some(counter) = streams.get(stream) {
            return Arc::clone(counter);
        }
        let name = if streams.len() < MAX_STREAMS {
            stream
        } else {
            OVERFLOW
        };
        Arc::clone(streams.entry(name.to_owned()).or_default())
    }

    /// Counts one message of `stream` (allocating only for a new stream).
    pub(crate) fn add(&self, stream: &str) {
        let mut streams = self.lock();
        if let Some(counter) = streams.get(stream) {
            counter.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let name = if streams.len() < MAX_STREAMS {
            stream
        } else {
            OVERFLOW
        };
        streams
            .entry(name.to_owned())
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Every stream's count now, by name.
    pub(crate) fn snapshot(&self) -> BTreeMap<String, u64> {
        self.lock()
            .iter()
            .map(|(name, counter)| (name.clone(), counter.load(Ordering::Relaxed)))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<AtomicU64>>> {
        // Nothing panics while holding it: each change is one step.
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_stream_through_counters_and_adds() {
        let counts = StreamCounts::default();
        let trades = counts.counter("btcusdt@trade");
        trades.fetch_add(2, Ordering::Relaxed);
        counts.add("btcusdt@trade");
        counts.add("ethusdt@trade");
        let snapshot = counts.snapshot();
        assert_eq!(snapshot.get("btcusdt@trade"), Some(&3));
        assert_eq!(snapshot.get("ethusdt@trade"), Some(&1));
        assert_eq!(snapshot.len(), 2);
    }

    #[test]
    fn streams_past_the_bound_share_one_row() {
        let counts = StreamCounts::default();
        for i in 0..MAX_STREAMS + 10 {
            counts.add(&format!("stream-{i}"));
        }
        let snapshot = counts.snapshot();
        assert_eq!(snapshot.len(), MAX_STREAMS + 1);
        assert_eq!(snapshot.get(OVERFLOW), Some(&10));
    }
}
