//! The reader's end of a lane: push with the lane's overflow policy, keep
//! the depth figures, stamp sampled messages.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use crossbeam_channel::{Receiver, TrySendError};
use hypersockets_core::MessageContext;

use crate::clock::now_ns;
use crate::config::OverflowPolicy;
use crate::dispatcher::Dispatch;
use crate::lane::channel::LaneSender;
use crate::lane::envelope::{Envelope, Payload};
use crate::lane::shared::LaneShared;
use crate::metrics::bump;

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
            bump(&self.shared.counters.reader.dropped_unqueued, lost as u64);
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

    /// The envelope `payload` travels in, stamped if it is to be timed
    /// (for a message the dispatcher holds before queueing it).
    pub(crate) fn envelope(
        &mut self,
        payload: Payload<M, K>,
        context: MessageContext,
        bytes: usize,
    ) -> Envelope<M, K> {
        Envelope {
            payload,
            queued_at: self.stamp(),
            context,
            bytes,
        }
    }

    /// Queues a message without waiting: [`Dispatch::Queued`],
    /// [`Dropped`](Dispatch::Dropped) or [`Closed`](Dispatch::Closed). A
    /// full `Block` lane hands the envelope back (`Err`), for the dispatcher
    /// to hold. `bytes` count against the memory budget.
    #[inline]
    pub(crate) fn try_push(
        &mut self,
        payload: Payload<M, K>,
        context: MessageContext,
        bytes: usize,
    ) -> Result<Dispatch, Envelope<M, K>> {
        let queued_at = self.stamp();
        let sent = self.sender.try_send(payload, queued_at, context, bytes);
        self.after_send(sent)
    }

    /// [`try_push`](Self::try_push) for a message already in its envelope
    /// (one the dispatcher held).
    pub(crate) fn try_push_envelope(
        &mut self,
        envelope: Envelope<M, K>,
    ) -> Result<Dispatch, Envelope<M, K>> {
        let sent = self.sender.try_send_envelope(envelope);
        self.after_send(sent)
    }

    /// Books a send: counted when queued, the overflow policy when full.
    #[inline]
    fn after_send(
        &mut self,
        sent: Result<(), TrySendError<Envelope<M, K>>>,
    ) -> Result<Dispatch, Envelope<M, K>> {
        match sent {
            Ok(()) => {
                self.record_enqueue();
                Ok(Dispatch::Queued)
            }
            Err(TrySendError::Full(envelope)) => {
                self.note_depth();
                self.overflow(envelope)
            }
            Err(TrySendError::Disconnected(_)) => Ok(Dispatch::Closed),
        }
    }

    fn overflow(&mut self, mut envelope: Envelope<M, K>) -> Result<Dispatch, Envelope<M, K>> {
        match self.policy {
            OverflowPolicy::Block => Err(envelope),
            OverflowPolicy::DropNewest => {
                bump(&self.shared.counters.reader.dropped_unqueued, 1);
                tracing::trace!(lane = %self.shared.key, "lane full: dropped the newest message");
                Ok(Dispatch::Dropped)
            }
            OverflowPolicy::DropOldest | OverflowPolicy::KeepLatest => loop {
                // The lane may take the oldest first; then there is room anyway.
                if let Some(evictor) = &self.evictor
                    && let Ok(evicted) = evictor.try_recv()
                {
                    self.sender.release_evicted(evicted.bytes);
                    self.evicted += 1;
                    bump(&self.shared.counters.reader.evicted, 1);
                    tracing::trace!(lane = %self.shared.key, "lane full: dropped the oldest message");
                }
                match self.sender.try_send_envelope(envelope) {
                    Ok(()) => {
                        self.record_enqueue();
                        return Ok(Dispatch::Queued);
                    }
                    Err(TrySendError::Full(back)) => envelope = back,
                    Err(TrySendError::Disconnected(_)) => return Ok(Dispatch::Closed),
                }
            },
        }
    }
}
