//! A handler that runs on the reader itself: no hand-off, the lowest
//! latency, and no isolation (while it runs, nothing else is read).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use hypersockets_core::{BoxError, MessageRouter};

use crate::clock::{now_ns, ns_since, wall_ns_since};
use crate::lane::shared::LaneShared;
use crate::lane::worker::{HandlerResult, stream_histograms};
use crate::latency::{Stage, StreamIndex, record};
use crate::metrics::bump;

/// A synchronous handler, boxed so lanes of different handler types fit in
/// one table.
pub(crate) type InlineFn<M> = Box<dyn FnMut(M) -> Result<(), BoxError> + Send>;

pub(crate) struct InlineLane<M> {
    pub(crate) handler: InlineFn<M>,
    pub(crate) shared: Arc<LaneShared>,
    sample_every: u32,
    until_sample: u32,
    /// The lane's own index of its streams' histograms.
    streams: StreamIndex,
}

impl<M> InlineLane<M> {
    pub(crate) fn new(handler: InlineFn<M>, shared: Arc<LaneShared>, sample_every: u32) -> Self {
        Self {
            handler,
            shared,
            sample_every,
            until_sample: sample_every,
            streams: StreamIndex::default(),
        }
    }

    /// Calls the handler on a message `router` made, read at `received`;
    /// returns its result or the panic it raised.
    #[inline]
    pub(crate) fn call<R: MessageRouter<Message = M>>(
        &mut self,
        router: &R,
        message: M,
        received: Instant,
    ) -> HandlerResult {
        let counters = &self.shared.counters;
        bump(&counters.reader.enqueued, 1);
        let started = if self.sample_every != 0 {
            self.until_sample -= 1;
            if self.until_sample == 0 {
                self.until_sample = self.sample_every;
                now_ns()
            } else {
                0
            }
        } else {
            0
        };
        // Only for timed messages: the others never ask for their stream.
        let stream = match started {
            0 => None,
            _ => stream_histograms(router, &message, &mut self.streams, &self.shared),
        };
        let (lane, stream) = (&counters.latency, stream.as_deref());
        if started != 0
            && let Some(sent) = router.exchange_time(&message)
        {
            let delay = wall_ns_since(sent, received);
            record(lane, stream, Stage::ExchangeToRead, delay);
        }
        let handler = &mut self.handler;
        let result = catch_unwind(AssertUnwindSafe(|| handler(message)));
        if started != 0 {
            let done = now_ns();
            let handle = done.saturating_sub(started);
            bump(&counters.lane.handle_ns, handle);
            bump(&counters.lane.timed, 1);
            // Parsed on the reader (or just now for a classified message),
            // and handled at once: no queue.
            record(
                lane,
                stream,
                Stage::ReadToParsed,
                ns_since(received, started),
            );
            record(lane, stream, Stage::Handle, handle);
            record(lane, stream, Stage::ReadToDone, ns_since(received, done));
        }
        bump(&counters.lane.dequeued, 1);
        result
    }
}
