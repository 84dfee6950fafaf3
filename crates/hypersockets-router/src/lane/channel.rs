//! A lane's queue, over crossbeam channels.
//!
//! A bounded lane is one bounded channel: capacity and the overflow
//! policies are per message, so each message is its own send.
//!
//! An unbounded lane (the default) moves messages in **chunks**: the reader
//! appends to a local chunk, and sends the chunk through an unbounded
//! channel when it releases the lane (see `Dispatcher::flush`): when the
//! socket has nothing more buffered, when 64 messages wait for this lane,
//! or every 1024 dispatches. One channel operation per chunk instead of one
//! per message: in the dispatch bench the channel operations were the
//! largest cost of the hand-off (a contended compare-and-swap and a cache
//! line moving between cores for each message). It adds no latency a lane
//! would see: a parked lane is woken at release time anyway, and a busy lane
//! is still working through older messages.
//!
//! Order: chunks travel through one FIFO channel, and each chunk is in
//! dispatch order, so the lane sees its messages in dispatch order. Emptied
//! chunks go back to the reader to be reused, so steady traffic allocates
//! nothing.

use std::collections::VecDeque;

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};

use crate::lane::envelope::Envelope;

/// The most messages a chunk holds before the reader releases it (the
/// dispatcher releases a lane after this many anyway).
pub(crate) const CHUNK: usize = 64;

/// Emptied chunks waiting to be reused.
const RECYCLED: usize = 4;

/// The reader's end.
pub(crate) enum LaneSender<T> {
    Bounded(Sender<T>),
    Chunked(ChunkSender<T>),
}

/// The lane's end.
pub(crate) enum LaneReceiver<T> {
    Bounded(Receiver<T>),
    Chunked(ChunkReceiver<T>),
}

pub(crate) struct ChunkSender<T> {
    chunks: Sender<VecDeque<T>>,
    open: VecDeque<T>,
    recycled: Receiver<VecDeque<T>>,
}

pub(crate) struct ChunkReceiver<T> {
    chunks: Receiver<VecDeque<T>>,
    current: VecDeque<T>,
    recycle: Sender<VecDeque<T>>,
}

/// A lane's queue: bounded to `capacity` messages, or unbounded.
pub(crate) fn lane_channel<T>(capacity: Option<usize>) -> (LaneSender<T>, LaneReceiver<T>) {
    match capacity {
        Some(capacity) => {
            let (tx, rx) = crossbeam_channel::bounded(capacity);
            (LaneSender::Bounded(tx), LaneReceiver::Bounded(rx))
        }
        None => {
            let (chunks_tx, chunks_rx) = crossbeam_channel::unbounded();
            let (recycle_tx, recycle_rx) = crossbeam_channel::bounded(RECYCLED);
            (
                LaneSender::Chunked(ChunkSender {
                    chunks: chunks_tx,
                    // Allocated on first use: idle lanes stay small.
                    open: VecDeque::new(),
                    recycled: recycle_rx,
                }),
                LaneReceiver::Chunked(ChunkReceiver {
                    chunks: chunks_rx,
                    current: VecDeque::new(),
                    recycle: recycle_tx,
                }),
            )
        }
    }
}

impl<T> LaneSender<T> {
    /// Queues without waiting; `Full` only for a bounded lane. An unbounded
    /// lane sees the message once the chunk is [released](Self::release).
    #[inline]
    pub(crate) fn try_send(&mut self, item: T) -> Result<(), TrySendError<T>> {
        match self {
            Self::Bounded(sender) => sender.try_send(item),
            Self::Chunked(chunked) => {
                chunked.open.push_back(item);
                Ok(())
            }
        }
    }

    /// Hands the open chunk to the lane. Returns how many messages could
    /// not be handed over because the lane has ended.
    #[inline]
    pub(crate) fn release(&mut self) -> usize {
        match self {
            Self::Bounded(_) => 0,
            Self::Chunked(chunked) => chunked.release(),
        }
    }
}

impl<T> ChunkSender<T> {
    fn release(&mut self) -> usize {
        if self.open.is_empty() {
            return 0;
        }
        let fresh = self
            .recycled
            .try_recv()
            .unwrap_or_else(|_| VecDeque::with_capacity(CHUNK));
        let chunk = std::mem::replace(&mut self.open, fresh);
        match self.chunks.send(chunk) {
            Ok(()) => 0,
            Err(lost) => lost.0.len(),
        }
    }
}

impl<T> Drop for ChunkSender<T> {
    fn drop(&mut self) {
        // Closing the lane: what is still open goes first, so a graceful
        // shutdown handles it.
        self.release();
    }
}

impl<T> LaneReceiver<T> {
    /// Another receiver of a bounded lane's channel, for the reader to
    /// evict the oldest message; `None` for an unbounded lane.
    pub(crate) fn evictor(&self) -> Option<Receiver<T>> {
        match self {
            Self::Bounded(receiver) => Some(receiver.clone()),
            Self::Chunked(_) => None,
        }
    }

    /// Takes the oldest message. `Disconnected` once the reader is gone
    /// and everything is taken.
    #[inline]
    pub(crate) fn try_recv(&mut self) -> Result<T, TryRecvError> {
        match self {
            Self::Bounded(receiver) => receiver.try_recv(),
            Self::Chunked(chunked) => chunked.try_recv(),
        }
    }
}

impl<T> ChunkReceiver<T> {
    #[inline]
    fn try_recv(&mut self) -> Result<T, TryRecvError> {
        loop {
            if let Some(item) = self.current.pop_front() {
                return Ok(item);
            }
            let next = self.chunks.try_recv()?;
            let emptied = std::mem::replace(&mut self.current, next);
            if emptied.capacity() > 0 {
                // The reader may have enough spare chunks: then it is dropped.
                let _ = self.recycle.try_send(emptied);
            }
        }
    }
}

/// The queue of a lane of messages `M` routed by `K`.
pub(crate) type EnvelopeSender<M, K> = LaneSender<Envelope<M, K>>;
/// The lane's end of it.
pub(crate) type EnvelopeReceiver<M, K> = LaneReceiver<Envelope<M, K>>;
