//! The reader's end of a lane: push with the lane's overflow policy, keep
//! the depth figures, stamp sampled messages.

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::config::OverflowPolicy;
use crate::lane::envelope::{Envelope, Payload};
use crate::lane::shared::LaneShared;
use crate::metrics::add;

/// What happened to a pushed message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PushOutcome {
    Queued,
    Dropped,
    Closed,
}

pub(crate) struct LaneQueue<M, K> {
    sender: Sender<Envelope<M, K>>,
    /// A receiver for evicting the oldest message (`DropOldest`, `KeepLatest`).
    evictor: Option<Receiver<Envelope<M, K>>>,
    policy: OverflowPolicy,
    pub(crate) shared: Arc<LaneShared>,
    sample_every: u32,
    until_sample: u32,
    enqueued: u64,
    evicted: u64,
    high_water: u64,
    /// Queued since the last flush; the dispatcher wakes it then.
    pub(crate) wake_pending: bool,
}

impl<M, K> LaneQueue<M, K> {
    pub(crate) fn new(
        sender: Sender<Envelope<M, K>>,
        evictor: Option<Receiver<Envelope<M, K>>>,
        policy: OverflowPolicy,
        shared: Arc<LaneShared>,
        sample_every: u32,
    ) -> Self {
        Self {
            sender,
            evictor,
            policy,
            shared,
            sample_every,
            until_sample: sample_every,
            enqueued: 0,
            evicted: 0,
            high_water: 0,
            wake_pending: false,
        }
    }

    /// When this message should be timed, now.
    #[inline]
    fn stamp(&mut self) -> Option<Instant> {
        if self.sample_every == 0 {
            return None;
        }
        self.until_sample -= 1;
        if self.until_sample == 0 {
            self.until_sample = self.sample_every;
            Some(Instant::now())
        } else {
            None
        }
    }

    #[inline]
    fn record_enqueue(&mut self) {
        let counters = &self.shared.counters;
        self.enqueued += 1;
        counters.enqueued.store(self.enqueued, Relaxed);
        let outstanding = self.enqueued - self.evicted;
        let depth = outstanding.saturating_sub(counters.dequeued.load(Relaxed));
        if depth > self.high_water {
            self.high_water = depth;
            counters.high_water.store(depth, Relaxed);
        }
    }

    /// Queues a message under the lane's policy. Awaits only for a full
    /// `Block` lane.
    #[inline]
    pub(crate) async fn push(&mut self, payload: Payload<M, K>) -> PushOutcome {
        let envelope = Envelope {
            payload,
            queued_at: self.stamp(),
        };
        match self.sender.try_send(envelope) {
            Ok(()) => {
                self.record_enqueue();
                PushOutcome::Queued
            }
            Err(TrySendError::Full(envelope)) => self.overflow(envelope).await,
            Err(TrySendError::Disconnected(_)) => PushOutcome::Closed,
        }
    }

    async fn overflow(&mut self, mut envelope: Envelope<M, K>) -> PushOutcome {
        match self.policy {
            OverflowPolicy::DropNewest => {
                add(&self.shared.counters.dropped_newest, 1);
                tracing::trace!(lane = %self.shared.key, "lane full: dropped the newest message");
                PushOutcome::Dropped
            }
            OverflowPolicy::DropOldest | OverflowPolicy::KeepLatest => loop {
                // The lane may take the oldest first; then there is room anyway.
                if let Some(evictor) = &self.evictor
                    && evictor.try_recv().is_ok()
                {
                    self.evicted += 1;
                    add(&self.shared.counters.evicted, 1);
                    tracing::trace!(lane = %self.shared.key, "lane full: dropped the oldest message");
                }
                match self.sender.try_send(envelope) {
                    Ok(()) => {
                        self.record_enqueue();
                        return PushOutcome::Queued;
                    }
                    Err(TrySendError::Full(back)) => envelope = back,
                    Err(TrySendError::Disconnected(_)) => return PushOutcome::Closed,
                }
            },
            OverflowPolicy::Block => {
                // The lane must be running to make room: wake it now rather
                // than at the next flush.
                self.shared.wake_if_sleeping();
                let shared = Arc::clone(&self.shared);
                loop {
                    let mut room = pin!(shared.room.notified());
                    room.as_mut().enable();
                    self.shared.announce_reader_waiting();
                    match self.sender.try_send(envelope) {
                        Ok(()) => {
                            self.shared.clear_reader_waiting();
                            self.record_enqueue();
                            return PushOutcome::Queued;
                        }
                        Err(TrySendError::Full(back)) => envelope = back,
                        Err(TrySendError::Disconnected(_)) => {
                            self.shared.clear_reader_waiting();
                            return PushOutcome::Closed;
                        }
                    }
                    // Awaited, never spun on: the lane may share our worker.
                    room.await;
                }
            }
        }
    }
}
