//! A cheap, clonable view of the router's figures.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use crate::lane::budget::Budget;
use crate::lane::shared::LaneShared;
use crate::latency::{LatencyTotals, Stage};
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
    /// Each lane's latency histograms now, for an exporter: `f(lane key,
    /// stage, buckets)` for every stage of every lane that has timed a
    /// message, the stage named as its [`LatencySnapshot`](crate::LatencySnapshot)
    /// field, each bucket an `(upper bound in ns, count)`, all counts since
    /// the lane began, the buckets always the same and in the same order
    /// (so that two readings can be subtracted bucket by bucket).
    ///
    /// ```
    /// use hypersockets_core::{MessageContext, MessageRouter, ParseError, WsMessage};
    /// use hypersockets_router::{LaneConfig, RouterBuilder};
    ///
    /// struct Text;
    /// impl MessageRouter for Text {
    ///     type Message = WsMessage;
    ///     type RouteKey = ();
    ///     fn parse(&self, message: &WsMessage) -> Result<WsMessage, ParseError> {
    ///         Ok(message.clone())
    ///     }
    ///     fn route_key(&self, _: &WsMessage) {}
    /// }
    ///
    /// let mut dispatcher = RouterBuilder::new(Text)
    ///     .lane_defaults(LaneConfig::default().timing_sample_every(1))
    ///     .inline_handler((), |_: WsMessage| Ok::<_, std::convert::Infallible>(()))
    ///     .build()?;
    /// dispatcher.dispatch(WsMessage::text("hi"), MessageContext::now(1));
    /// let mut handled = 0;
    /// dispatcher.stats().for_each_latency_histogram(|lane, stage, buckets| {
    ///     if stage == "handle" {
    ///         assert_eq!(lane, "()");
    ///         handled += buckets.map(|(_, count)| count).sum::<u64>();
    ///     }
    /// });
    /// assert_eq!(handled, 1);
    /// # Ok::<(), hypersockets_core::HyperSocketError>(())
    /// ```
    pub fn for_each_latency_histogram(
        &self,
        mut f: impl FnMut(&str, &'static str, &mut dyn Iterator<Item = (u64, u64)>),
    ) {
        for lane in self.lanes.iter() {
            let Some(histograms) = lane.counters.latency.load() else {
                continue;
            };
            for (stage, histogram) in Stage::ALL.into_iter().zip(&histograms) {
                let mut buckets = histogram
                    .into_iter()
                    .map(|bucket| (bucket.end(), bucket.count()));
                f(&lane.key, stage.name(), &mut buckets);
            }
        }
    }

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
