//! The writer's queue of the session's requests (login, subscribe,
//! unsubscribe): unbounded, so that a paced restore of many subscriptions
//! never makes the reader wait, and empty when idle. (A tokio channel
//! keeps a block of 32 slots per connection from the start: ~1.6 KiB on
//! every quiet client of a thousand.)

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::runtime::writer::Outgoing;

#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<VecDeque<Outgoing>>,
    /// A request was queued (one stored permit when the writer is busy).
    queued: Notify,
    /// The writer stopped: nothing more is taken.
    closed: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Outgoing>> {
        // Nothing panics while holding it; each change is one step.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The session's end.
#[derive(Debug)]
pub(crate) struct RequestSender(Arc<Shared>);

/// The writer's end.
#[derive(Debug)]
pub(crate) struct RequestReceiver(Arc<Shared>);

/// A new, empty queue (nothing allocated for its items until one comes).
pub(crate) fn request_queue() -> (RequestSender, RequestReceiver) {
    let shared = Arc::new(Shared::default());
    (RequestSender(Arc::clone(&shared)), RequestReceiver(shared))
}

impl RequestSender {
    /// Queues `request`; gives it back when the writer has stopped.
    pub(crate) fn send(&self, request: Outgoing) -> Result<(), Outgoing> {
        {
            let mut queue = self.0.lock();
            if self.0.closed.load(Ordering::Acquire) {
                return Err(request);
            }
            queue.push_back(request);
        }
        self.0.queued.notify_one();
        Ok(())
    }
}

impl RequestReceiver {
    /// The next request, waiting for one. Cancel safe: a request is only
    /// taken when returned.
    pub(crate) async fn recv(&self) -> Outgoing {
        loop {
            // Registered before the check: a request queued in between
            // leaves a permit, so the wait ends at once.
            let queued = self.0.queued.notified();
            if let Some(request) = self.take() {
                return request;
            }
            queued.await;
        }
    }

    fn take(&self) -> Option<Outgoing> {
        let mut queue = self.0.lock();
        let request = queue.pop_front();
        if queue.is_empty() {
            // Idle connections keep no buffer.
            queue.shrink_to_fit();
        }
        request
    }

    /// Stops taking requests; the ones queued are returned.
    pub(crate) fn close(&self) -> VecDeque<Outgoing> {
        let mut queue = self.0.lock();
        self.0.closed.store(true, Ordering::Release);
        std::mem::take(&mut *queue)
    }
}
