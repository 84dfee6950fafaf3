//! A handler that runs on the reader itself: no hand-off, the lowest
//! latency, and no isolation (while it runs, nothing else is read).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use hypersockets_core::BoxError;

use crate::clock::now_ns;
use crate::lane::shared::LaneShared;
use crate::lane::worker::HandlerResult;
use crate::metrics::bump;

/// A synchronous handler, boxed so lanes of different handler types fit in
/// one table.
pub(crate) type InlineFn<M> = Box<dyn FnMut(M) -> Result<(), BoxError> + Send>;

pub(crate) struct InlineLane<M> {
    pub(crate) handler: InlineFn<M>,
    pub(crate) shared: Arc<LaneShared>,
    sample_every: u32,
    until_sample: u32,
}

impl<M> InlineLane<M> {
    pub(crate) fn new(handler: InlineFn<M>, shared: Arc<LaneShared>, sample_every: u32) -> Self {
        Self {
            handler,
            shared,
            sample_every,
            until_sample: sample_every,
        }
    }

    /// Calls the handler; returns its result or the panic it raised.
    #[inline]
    pub(crate) fn call(&mut self, message: M) -> HandlerResult {
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
        let handler = &mut self.handler;
        let result = catch_unwind(AssertUnwindSafe(|| handler(message)));
        if started != 0 {
            bump(&counters.lane.handle_ns, now_ns().saturating_sub(started));
            bump(&counters.lane.timed, 1);
        }
        bump(&counters.lane.dequeued, 1);
        result
    }
}
