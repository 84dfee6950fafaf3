//! A broadcast channel for events whose memory follows its use.
//!
//! It behaves as `tokio::sync::broadcast` does, which it replaced: every
//! receiver gets every value sent after it subscribed, in order; one more
//! than `capacity` values behind loses the oldest and is told how many it
//! missed; sending never waits; a value sent with no receiver is dropped;
//! once every sender is gone a receiver reads what is left, then `Closed`.
//!
//! What differs is memory. tokio allocates every slot up front (1024 events
//! of ~80 bytes per client by default, whether or not anyone reads them);
//! here a value is kept only until every receiver has read it, so a channel
//! whose readers keep up (a `ClientManager` forwards each client's events at
//! once) holds nothing, and one with a slow reader holds what that reader
//! has not read, up to `capacity`. The queue gives its memory back once it
//! is empty again. Events are rare (a few per connection), so one mutex per
//! channel is cheap; receivers wait on a [`Notify`].

use std::collections::VecDeque;
use std::fmt;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// Slots an emptied queue may keep; a larger one gives its memory back.
const KEPT_SLOTS: usize = 8;

/// What a receive can return besides a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecvError {
    /// The receiver fell more than the capacity behind: this many values
    /// were skipped, and the next receive returns the oldest kept.
    Lagged(u64),
    /// Every sender is gone and every value was read.
    Closed,
}

/// A new channel keeping up to `capacity` (at least 1) values for a slow
/// receiver, without a receiver yet.
pub(crate) fn channel<T>(capacity: usize) -> Sender<T> {
    Sender {
        shared: Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                head: 0,
                capacity: capacity.max(1),
                receivers: 0,
                senders: 1,
            }),
            changed: Notify::new(),
        }),
    }
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Notified on every send and when the last sender goes.
    changed: Notify,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Nothing panics while holding the lock but a value's own `Drop` or
        // `Clone`; the state is still whole then (each change is one step).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct State<T> {
    /// The values some receiver has not read yet, oldest first.
    queue: VecDeque<Slot<T>>,
    /// The position of `queue[0]`; positions count every value kept.
    head: u64,
    capacity: usize,
    receivers: usize,
    senders: usize,
}

struct Slot<T> {
    value: T,
    /// Receivers that were there when it was sent and have not read it.
    unread: usize,
}

impl<T> State<T> {
    /// The position the next value sent will have.
    fn tail(&self) -> u64 {
        self.head + self.queue.len() as u64
    }

    /// Drops the values every receiver has read; an emptied queue gives
    /// back its memory.
    fn pop_read(&mut self) {
        while self.queue.front().is_some_and(|slot| slot.unread == 0) {
            self.queue.pop_front();
            self.head += 1;
        }
        if self.queue.is_empty() && self.queue.capacity() > KEPT_SLOTS {
            self.queue = VecDeque::new();
        }
    }
}

/// The sending side; cloned for each place that sends.
pub(crate) struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends `value` to every receiver there is now, without waiting; with
    /// none, it is dropped. The oldest value goes when more than the
    /// capacity are unread.
    pub(crate) fn send(&self, value: T) {
        let overflowed = {
            let mut state = self.shared.lock();
            if state.receivers == 0 {
                return;
            }
            let unread = state.receivers;
            state.queue.push_back(Slot { value, unread });
            // Dropped outside the lock.
            let overflowed = (state.queue.len() > state.capacity)
                .then(|| state.queue.pop_front())
                .flatten();
            if overflowed.is_some() {
                state.head += 1;
            }
            overflowed
        };
        drop(overflowed);
        self.shared.changed.notify_waiters();
    }

    /// A receiver of every value sent from now on.
    pub(crate) fn subscribe(&self) -> Receiver<T> {
        let mut state = self.shared.lock();
        state.receivers += 1;
        Receiver {
            next: state.tail(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let last = {
            let mut state = self.shared.lock();
            state.senders -= 1;
            state.senders == 0
        };
        if last {
            self.shared.changed.notify_waiters();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("Sender")
            .field("queued", &state.queue.len())
            .field("capacity", &state.capacity)
            .field("receivers", &state.receivers)
            .finish()
    }
}

/// The receiving side: every value sent after it subscribed.
pub(crate) struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The position of the next value to read.
    next: u64,
}

impl<T: Clone> Receiver<T> {
    /// The next value, waiting for one.
    ///
    /// Cancel safe: nothing changes until a value is returned.
    pub(crate) async fn recv(&mut self) -> Result<T, RecvError> {
        let shared = Arc::clone(&self.shared);
        loop {
            // Registered before looking, so a send in between wakes it.
            let mut changed = pin!(shared.changed.notified());
            changed.as_mut().enable();
            if let Some(outcome) = self.try_recv() {
                return outcome;
            }
            changed.await;
        }
    }

    /// The next value if one is waiting; `None` if none is (yet).
    pub(crate) fn try_recv(&mut self) -> Option<Result<T, RecvError>> {
        let mut state = self.shared.lock();
        if self.next < state.head {
            let skipped = state.head - self.next;
            self.next = state.head;
            return Some(Err(RecvError::Lagged(skipped)));
        }
        // `next` is never past the tail: it only moves over kept values.
        let index = usize::try_from(self.next - state.head).unwrap_or(usize::MAX);
        let Some(slot) = state.queue.get_mut(index) else {
            return (state.senders == 0).then_some(Err(RecvError::Closed));
        };
        slot.unread -= 1;
        self.next += 1;
        if index == 0 && slot.unread == 0 {
            // The last reader of the oldest value takes it, no clone.
            let slot = state.queue.pop_front()?;
            state.head += 1;
            state.pop_read();
            return Some(Ok(slot.value));
        }
        Some(Ok(slot.value.clone()))
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receivers -= 1;
        // What it has not read, others need no longer wait on.
        let from = usize::try_from(self.next.saturating_sub(state.head)).unwrap_or(usize::MAX);
        for slot in state.queue.iter_mut().skip(from) {
            slot.unread -= 1;
        }
        state.pop_read();
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}
