//! A lane on its own OS thread.
//!
//! The thread takes messages with `try_recv` and parks when the queue is
//! empty (see `shared.rs` for the wake-up protocol); it never spins. The
//! handler's future is polled right there: a handler that never waits
//! completes on its first poll, and one that does wait parks the thread
//! until its waker unparks it. The thread enters the tokio runtime it was
//! built in, so handlers can use tokio's timers, channels and sockets.

use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::thread::{self, JoinHandle, Thread};

use hypersockets_core::{MessageHandler, MessageRouter};

use crate::lane::channel::LaneReceiver;
use crate::lane::next::Next;
use crate::lane::shared::{Ended, LaneWaker};
use crate::lane::worker::LaneWorker;

/// Wakes a parked lane thread.
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

pub(crate) fn spawn<R, H>(
    mut worker: LaneWorker<R, H>,
    mut queue: LaneReceiver<R::Message, R::RouteKey>,
    stack_size: usize,
    runtime: Option<tokio::runtime::Handle>,
) -> std::io::Result<JoinHandle<()>>
where
    R: MessageRouter,
    H: MessageHandler<R::Message>,
{
    let name: String = format!("hs-lane-{}", worker.shared.key)
        .chars()
        .filter(|c| *c != '\0')
        .take(48)
        .collect();
    // The lane logs in the builder's span (a client's), like its tasks.
    let span = tracing::Span::current();
    thread::Builder::new()
        .name(name)
        .stack_size(stack_size)
        .spawn(move || {
            // Dropped last, even on a panic: tells a shutdown the thread is done.
            let _ended = Ended(Arc::clone(&worker.shared));
            let _span = span.enter();
            let _runtime = runtime.as_ref().map(tokio::runtime::Handle::enter);
            if let LaneWaker::Thread(cell) = worker.shared.waker() {
                // Set before the lane can ever announce that it sleeps, so
                // the reader always finds a thread to unpark.
                let _ = cell.set(thread::current());
            }
            let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
            let mut cx = Context::from_waker(&waker);
            run(&mut worker, &mut queue, &mut cx);
            drop(queue);
            drop(worker);
        })
}

fn run<R, H>(
    worker: &mut LaneWorker<R, H>,
    queue: &mut LaneReceiver<R::Message, R::RouteKey>,
    cx: &mut Context<'_>,
) where
    R: MessageRouter,
    H: MessageHandler<R::Message>,
{
    loop {
        match queue.next(&worker.shared) {
            Next::Envelope(envelope) => worker.handle_blocking(envelope, cx),
            Next::Closed => return,
            Next::Park => {
                while worker.shared.still_sleeping() {
                    thread::park();
                }
            }
        }
    }
}
