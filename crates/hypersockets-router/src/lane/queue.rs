//! The reader's end of a lane: push with the lane's overflow policy, keep
//! the depth figures, stamp sampled messages.

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use crossbeam_channel::{Receiver, TrySendError};

use crate::clock::now_ns;
use crate::config::OverflowPolicy;
use crate::lane::channel::LaneSender;
use crate::lane::envelope::{Envelope, Payload};
use crate::lane::shared::LaneShared;
use crate::metrics::bump;

/// What happened to a pushed message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PushOutcome {
    Queued,
    Dropped,
    Closed,
}

pub(crate) struct LaneQueue<M, K> {
    sender: LaneSender<M, K>,
    /// A receiver for evicting the oldest message (`DropOldest`, `KeepLatest`).
    evictor: Option<Receiver<Envelope<M, K>>>,
    policy: OverflowPolicy,
    pub(crate) shared: Arc<LaneShared>,
    sample_every: u32,
    until_sample: u32,
    enqueued: u64,
    evicted: u64,
    high_water: u64,
    /// Messages queued since the lane was last checked on; it is in the
    /// dispatcher's pending list while this is not zero.
    pub(crate) unwoken: u32,
}

impl<M, K> LaneQueue<M, K> {
    pub(crate) fn new(
        sender: LaneSender<M, K>,
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
            unwoken: 0,
        }
    }

    /// Now, if this message is to be timed; else 0.
    #[inline]
    fn stamp(&mut self) -> u64 {
        if self.sample_every == 0 {
            return 0;
        }
        self.until_sample -= 1;
        if self.until_sample == 0 {
            self.until_sample = self.sample_every;
            now_ns()
        } else {
            0
        }
    }

    #[inline]
    fn record_enqueue(&mut self) {
        self.enqueued += 1;
        self.shared
            .counters
            .reader
            .enqueued
            .store(self.enqueued, Relaxed);
    }

    /// Hands what is queued to the lane (an unbounded lane's open chunk)
    /// and wakes it if it is parked.
    #[inline]
    pub(crate) fn release(&mut self) {
        self.unwoken = 0;
        let lost = self.sender.release();
        if lost > 0 {
            // Only when the lane has already ended (shutting down).
            bump(&self.shared.counters.reader.dropped_newest, lost as u64);
        }
        self.note_depth();
        self.shared.wake_if_sleeping();
    }

    /// Updates the high-water mark from the lane's progress. Called at each
    /// flush and when a bounded queue fills, not per message: reading the
    /// lane's counter would pull its cache line to the reader every time.
    pub(crate) fn note_depth(&mut self) {
        let outstanding = self.enqueued - self.evicted;
        let dequeued = self.shared.counters.lane.dequeued.load(Relaxed);
        let depth = outstanding.saturating_sub(dequeued);
        if depth > self.high_water {
            self.high_water = depth;
            self.shared.counters.reader.high_water.store(depth, Relaxed);
        }
    }

    /// Queues a message without waiting. A full `Block` lane hands the
    /// envelope back, to be queued with [`push_blocking`](Self::push_blocking).
    #[inline]
    pub(crate) fn try_push(
        &mut self,
        payload: Payload<M, K>,
    ) -> Result<PushOutcome, Envelope<M, K>> {
        let queued_at = self.stamp();
        match self.sender.try_send(payload, queued_at) {
            Ok(()) => {
                self.record_enqueue();
                Ok(PushOutcome::Queued)
            }
            Err(TrySendError::Full(envelope)) => {
                self.note_depth();
                self.overflow(envelope)
            }
            Err(TrySendError::Disconnected(_)) => Ok(PushOutcome::Closed),
        }
    }

    fn overflow(&mut self, mut envelope: Envelope<M, K>) -> Result<PushOutcome, Envelope<M, K>> {
        match self.policy {
            OverflowPolicy::Block => Err(envelope),
            OverflowPolicy::DropNewest => {
                bump(&self.shared.counters.reader.dropped_newest, 1);
                tracing::trace!(lane = %self.shared.key, "lane full: dropped the newest message");
                Ok(PushOutcome::Dropped)
            }
            OverflowPolicy::DropOldest | OverflowPolicy::KeepLatest => loop {
                // The lane may take the oldest first; then there is room anyway.
                if let Some(evictor) = &self.evictor
                    && evictor.try_recv().is_ok()
                {
                    self.evicted += 1;
                    bump(&self.shared.counters.reader.evicted, 1);
                    tracing::trace!(lane = %self.shared.key, "lane full: dropped the oldest message");
                }
                match self.sender.try_send_envelope(envelope) {
                    Ok(()) => {
                        self.record_enqueue();
                        return Ok(PushOutcome::Queued);
                    }
                    Err(TrySendError::Full(back)) => envelope = back,
                    Err(TrySendError::Disconnected(_)) => return Ok(PushOutcome::Closed),
                }
            },
        }
    }

    /// Waits for room in a full `Block` lane, then queues.
    ///
    /// Awaited, never spun on: the lane may run on this very worker.
    pub(crate) async fn push_blocking(&mut self, mut envelope: Envelope<M, K>) -> PushOutcome {
        // The lane must be running to make room: wake it now, not at the
        // next flush.
        self.shared.wake_if_sleeping();
        let shared = Arc::clone(&self.shared);
        loop {
            let mut room = pin!(shared.room.notified());
            room.as_mut().enable();
            shared.announce_reader_waiting();
            match self.sender.try_send_envelope(envelope) {
                Ok(()) => {
                    shared.clear_reader_waiting();
                    self.record_enqueue();
                    return PushOutcome::Queued;
                }
                Err(TrySendError::Full(back)) => envelope = back,
                Err(TrySendError::Disconnected(_)) => {
                    shared.clear_reader_waiting();
                    return PushOutcome::Closed;
                }
            }
            room.await;
        }
    }
}
