//! A lane's queue: crossbeam channels arranged so the common case runs on
//! the fast, preallocated array flavour.
//!
//! A bounded lane is one bounded channel. An unbounded lane is a bounded
//! "ring" plus an unbounded "spill" channel: the reader fills the ring, and
//! only while the ring is full (a burst the lane has not caught up with)
//! does it write to the spill channel, switching back once the lane has
//! emptied it. The lane always takes from the ring first.
//!
//! Why per-key order holds: while spilling, the reader writes only to the
//! spill channel, and the lane reads it only after finding the ring empty,
//! so every spilled message is newer than everything that was in the ring,
//! and the ring stays empty until the reader switches back, which it does
//! only once the lane has taken every spilled message.
//!
//! Why: crossbeam's list flavour (unbounded) costs about twice the array
//! flavour per message in the dispatch bench (see `docs/architecture.md`).

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};

use crate::lane::envelope::Envelope;

/// The reader's end.
pub(crate) struct LaneSender<T> {
    ring: Sender<T>,
    spill: Option<Sender<T>>,
    spilling: bool,
}

/// The lane's end.
pub(crate) struct LaneReceiver<T> {
    ring: Receiver<T>,
    spill: Option<Receiver<T>>,
}

/// A lane's queue: `capacity` bounds it; `None` makes it unbounded with a
/// ring of `ring_capacity`.
pub(crate) fn lane_channel<T>(
    capacity: Option<usize>,
    ring_capacity: usize,
) -> (LaneSender<T>, LaneReceiver<T>) {
    match capacity {
        Some(capacity) => {
            let (tx, rx) = crossbeam_channel::bounded(capacity);
            (
                LaneSender {
                    ring: tx,
                    spill: None,
                    spilling: false,
                },
                LaneReceiver {
                    ring: rx,
                    spill: None,
                },
            )
        }
        None => {
            let (ring_tx, ring_rx) = crossbeam_channel::bounded(ring_capacity.max(1));
            let (spill_tx, spill_rx) = crossbeam_channel::unbounded();
            (
                LaneSender {
                    ring: ring_tx,
                    spill: Some(spill_tx),
                    spilling: false,
                },
                LaneReceiver {
                    ring: ring_rx,
                    spill: Some(spill_rx),
                },
            )
        }
    }
}

impl<T> LaneSender<T> {
    /// Queues without waiting; `Full` only for a bounded lane.
    #[inline]
    pub(crate) fn try_send(&mut self, item: T) -> Result<(), TrySendError<T>> {
        let Some(spill) = &self.spill else {
            return self.ring.try_send(item);
        };
        if self.spilling {
            if !spill.is_empty() {
                return spill.try_send(item);
            }
            // The lane has taken every spilled message: the ring is empty.
            self.spilling = false;
        }
        match self.ring.try_send(item) {
            Err(TrySendError::Full(item)) => {
                self.spilling = true;
                spill.try_send(item)
            }
            other => other,
        }
    }
}

impl<T> LaneReceiver<T> {
    /// Another receiver of the ring, for the reader to evict the oldest
    /// message of a bounded lane.
    pub(crate) fn evictor(&self) -> Receiver<T> {
        self.ring.clone()
    }

    /// Takes the oldest message. `Disconnected` once the reader is gone
    /// and both channels are drained.
    #[inline]
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        match self.ring.try_recv() {
            Ok(item) => Ok(item),
            Err(ring) => match &self.spill {
                Some(spill) => match spill.try_recv() {
                    Ok(item) => Ok(item),
                    Err(TryRecvError::Disconnected) if ring == TryRecvError::Disconnected => {
                        Err(TryRecvError::Disconnected)
                    }
                    Err(_) => Err(TryRecvError::Empty),
                },
                None => Err(ring),
            },
        }
    }
}

/// The queue of a lane of messages `M` routed by `K`.
pub(crate) type EnvelopeSender<M, K> = LaneSender<Envelope<M, K>>;
/// The lane's end of it.
pub(crate) type EnvelopeReceiver<M, K> = LaneReceiver<Envelope<M, K>>;
