//! A lane as a tokio task: idle lanes cost no CPU and a few hundred bytes,
//! so thousands of them are fine.

use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::task::Poll;

use crossbeam_channel::TryRecvError;
use hypersockets_core::{MessageHandler, MessageRouter};

use crate::lane::channel::LaneReceiver;

/// Messages a busy task lane handles before yielding to other tasks
/// (tokio's own budget is 128 operations).
const YIELD_EVERY: u32 = 128;
use crate::lane::shared::LaneWaker;
use crate::lane::worker::{LaneWorker, Opened};

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
        let envelope = match queue.try_recv() {
            Ok(envelope) => envelope,
            Err(TryRecvError::Disconnected) => return,
            Err(TryRecvError::Empty) => {
                shared.announce_sleep();
                match queue.try_recv() {
                    Ok(envelope) => {
                        shared.cancel_sleep();
                        envelope
                    }
                    Err(TryRecvError::Disconnected) => {
                        shared.cancel_sleep();
                        return;
                    }
                    Err(TryRecvError::Empty) => {
                        // Register, then check: a wake between the two is
                        // seen by the check, one after it wakes the waker.
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
            }
        };
        if let Some(Opened { message, started }) = worker.open(envelope) {
            let result = {
                let mut future = pin!(worker.handler.handle(message));
                poll_fn(
                    |cx| match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
                        Ok(Poll::Ready(result)) => Poll::Ready(Ok(result)),
                        Ok(Poll::Pending) => Poll::Pending,
                        Err(panic) => Poll::Ready(Err(panic)),
                    },
                )
                .await
            };
            worker.finish(result, started);
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
