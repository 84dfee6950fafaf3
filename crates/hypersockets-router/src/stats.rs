//! A cheap, clonable view of the router's figures.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use crate::lane::budget::Budget;
use crate::lane::shared::LaneShared;
use crate::latency::LatencyTotals;
use crate::metrics::{ReaderCounters, RouterMetricsSnapshot};

/// Reads the router's figures from any thread, without locks, while the
/// reader and the lanes keep going.
#[derive(Clone, Debug)]
pub struct RouterStats {
    pub(crate) reader: Arc<ReaderCounters>,
    pub(crate) lanes: Arc<[Arc<LaneShared>]>,
    pub(crate) budget: Arc<Budget>,
}

impl RouterStats {
    /// Every figure now.
    pub fn snapshot(&self) -> RouterMetricsSnapshot {
        let mut latency = LatencyTotals::default();
        let lanes = self
            .lanes
            .iter()
            .map(|lane| {
                lane.counters
                    .snapshot(lane.key.clone(), lane.inline, &mut latency)
            })
            .collect();
        RouterMetricsSnapshot {
            dispatched: self.reader.dispatched.load(Relaxed),
            parse_errors: self.reader.parse_errors.load(Relaxed),
            unrouted: self.reader.unrouted.load(Relaxed),
            queued_bytes: self.budget.queued() as u64,
            memory_budget: self.budget.limit().map(|limit| limit as u64),
            backpressure_waits: self.budget.waits.load(Relaxed),
            abandoned_lanes: self.reader.abandoned_lanes.load(Relaxed),
            lanes,
            latency: latency.snapshot(),
        }
    }
}
