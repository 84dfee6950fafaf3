//! A lane as a tokio task: idle lanes cost no CPU and a few hundred bytes,
//! so thousands of them are fine.

use std::future::poll_fn;
use std::task::Poll;

use hypersockets_core::{MessageHandler, MessageRouter};

use crate::lane::channel::LaneReceiver;
use crate::lane::next::Next;
use crate::lane::shared::LaneWaker;
use crate::lane::worker::LaneWorker;

/// Messages a busy task lane handles before yielding to other tasks
/// (tokio's own budget is 128 operations).
const YIELD_EVERY: u32 = 128;

pub(crate) async fn run<R, H>(
    mut worker: LaneWorker<R, H>,
    mut queue: LaneReceiver<R::Message, R::RouteKey>,
) where
    R: MessageRouter,
    H: MessageHandler<R::Message>,
{
    let shared = std::sync::Arc::clone(&worker.shared);
    let LaneWaker::Task(waker) = shared.waker() else {
        // Task lanes are always built with a task waker.
        return;
    };
    let mut since_yield = 0u32;
    loop {
        match queue.next(&shared) {
            Next::Envelope(envelope) => worker.handle(envelope).await,
            Next::Closed => return,
            Next::Park => {
                // Register, then check: a wake between the two is seen by
                // the check, one after it wakes the waker.
                poll_fn(|cx| {
                    waker.register(cx.waker());
                    if shared.still_sleeping() {
                        Poll::Pending
                    } else {
                        Poll::Ready(())
                    }
                })
                .await;
                continue;
            }
        }
        // A lane that always has work must still let other tasks run; a
        // counter is cheaper than consulting tokio's budget per message.
        since_yield += 1;
        if since_yield == YIELD_EVERY {
            since_yield = 0;
            tokio::task::yield_now().await;
        }
    }
}
