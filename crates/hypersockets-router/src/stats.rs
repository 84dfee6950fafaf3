//! A cheap, clonable view of the router's figures.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use histogram::Histogram;
use hypersockets_core::StreamId;

use crate::lane::budget::Budget;
use crate::lane::shared::LaneShared;
use crate::latency::{LatencyTotals, Stage, StageHistograms, scratch_histogram};
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
    /// stage, buckets)` for every stage a timed message of the lane went
    /// through, the stage named as its [`LatencySnapshot`](crate::LatencySnapshot)
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
        let mut scratch = scratch_histogram();
        for lane in self.lanes.iter() {
            each_histogram(&lane.counters.latency, &mut scratch, |stage, buckets| {
                f(&lane.key, stage, buckets);
            });
        }
    }

    /// Each lane's per-stream latency histograms now, for an exporter, as
    /// [`for_each_latency_histogram`](Self::for_each_latency_histogram)
    /// gives the lanes': `f(lane key, stream, stage, buckets)` for every
    /// stream a lane keeps apart ([`LaneMetricsSnapshot::streams`](crate::LaneMetricsSnapshot::streams)),
    /// every stage its timed messages went through.
    ///
    /// ```
    /// use hypersockets_core::{
    ///     MessageContext, MessageRouter, ParseError, StreamId, StreamSequence, WsMessage,
    /// };
    /// use hypersockets_router::{LaneConfig, RouterBuilder};
    ///
    /// /// "<stream> <number>": numbered messages of named streams.
    /// struct Numbered;
    /// impl MessageRouter for Numbered {
    ///     type Message = (StreamId, u64);
    ///     type RouteKey = ();
    ///     fn parse(&self, message: &WsMessage) -> Result<(StreamId, u64), ParseError> {
    ///         let text = message.as_text().ok_or_else(|| ParseError::new("not text"))?;
    ///         let (stream, number) = text.split_once(' ').ok_or_else(|| ParseError::new("short"))?;
    ///         let number = number.parse().map_err(|_| ParseError::new("bad number"))?;
    ///         Ok((StreamId::of(&[stream]), number))
    ///     }
    ///     fn route_key(&self, _: &(StreamId, u64)) {}
    ///     fn sequence(&self, &(stream, number): &(StreamId, u64)) -> Option<StreamSequence> {
    ///         Some(StreamSequence::new(stream, number))
    ///     }
    /// }
    ///
    /// let mut dispatcher = RouterBuilder::new(Numbered)
    ///     .lane_defaults(LaneConfig::default().timing_sample_every(1))
    ///     .inline_handler((), |_: (StreamId, u64)| Ok::<_, std::convert::Infallible>(()))
    ///     .build()?;
    /// for message in ["btc 1", "eth 1", "btc 2"] {
    ///     dispatcher.dispatch(WsMessage::text(message), MessageContext::now(1));
    /// }
    /// let mut btc = 0;
    /// dispatcher.stats().for_each_stream_latency_histogram(|lane, stream, stage, buckets| {
    ///     if stream == StreamId::of(&["btc"]) && stage == "handle" {
    ///         assert_eq!(lane, "()");
    ///         btc += buckets.map(|(_, count)| count).sum::<u64>();
    ///     }
    /// });
    /// assert_eq!(btc, 2);
    /// # Ok::<(), hypersockets_core::HyperSocketError>(())
    /// ```
    pub fn for_each_stream_latency_histogram(
        &self,
        mut f: impl FnMut(&str, StreamId, &'static str, &mut dyn Iterator<Item = (u64, u64)>),
    ) {
        let mut scratch = scratch_histogram();
        for lane in self.lanes.iter() {
            for (stream, histograms) in lane.counters.streams.streams() {
                each_histogram(&histograms, &mut scratch, |stage, buckets| {
                    f(&lane.key, stream, stage, buckets);
                });
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

/// Calls `f` with the buckets of each stage of `histograms` that something
/// went through, read into `scratch` (one for all, so that reading many
/// streams allocates nothing more).
fn each_histogram(
    histograms: &StageHistograms,
    scratch: &mut Histogram,
    mut f: impl FnMut(&'static str, &mut dyn Iterator<Item = (u64, u64)>),
) {
    histograms.each_stage(scratch, |stage: Stage, histogram| {
        let mut buckets = histogram
            .into_iter()
            .map(|bucket| (bucket.end(), bucket.count()));
        f(stage.name(), &mut buckets);
    });
}
