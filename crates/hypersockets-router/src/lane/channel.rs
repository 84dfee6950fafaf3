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
//!
//! Both kinds keep the memory budget's books (`budget.rs`): a bounded lane
//! per message, an unbounded one per chunk (the reader adds a chunk's bytes
//! when it hands the chunk over, the lane subtracts them when it takes it).
//!
//! A chunk keeps a small slot per message and parsed values in a queue of
//! their own: with `classify` nearly every message is a raw frame (48
//! bytes), while a parsed type can be hundreds of bytes (an order book delta
//! with fixed-size level arrays), and a slot sized for it would be copied in
//! and out for every raw frame too (profiled: 10 % of the `best` client's
//! CPU went to such copies).

use std::collections::VecDeque;

use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};
use hypersockets_core::{MessageContext, WsMessage};

use crate::lane::budget::Budget;
use crate::lane::envelope::{Envelope, Payload};

/// The most messages a chunk holds before the reader releases it (the
/// dispatcher releases a lane after this many anyway).
pub(crate) const CHUNK: usize = 64;

/// Emptied chunks waiting to be reused.
const RECYCLED: usize = 4;

/// The reader's end of the queue of a lane of messages `M` routed by `K`.
pub(crate) enum LaneSender<M, K> {
    Bounded(Sender<Envelope<M, K>>, Arc<Budget>),
    Chunked(ChunkSender<M, K>),
}

/// The lane's end.
pub(crate) enum LaneReceiver<M, K> {
    Bounded(Receiver<Envelope<M, K>>, Arc<Budget>),
    Chunked(ChunkReceiver<M, K>),
}

/// One message's place in a chunk; a parsed message's value waits in the
/// chunk's `parsed` queue.
enum Slot<K> {
    Raw(WsMessage),
    RawKeyed(WsMessage, K),
    Parsed,
}

/// Messages for one lane, in dispatch order.
struct Chunk<M, K> {
    /// Each message's slot, its `queued_at` stamp and its context.
    slots: VecDeque<(Slot<K>, u64, MessageContext)>,
    /// The values of the `Parsed` slots, in the same order.
    parsed: VecDeque<M>,
    /// What its messages count against the memory budget.
    bytes: usize,
}

impl<M, K> Chunk<M, K> {
    /// Allocates nothing until used: idle lanes stay small.
    const fn new() -> Self {
        Self {
            slots: VecDeque::new(),
            parsed: VecDeque::new(),
            bytes: 0,
        }
    }

    fn with_capacity() -> Self {
        Self {
            slots: VecDeque::with_capacity(CHUNK),
            parsed: VecDeque::new(),
            bytes: 0,
        }
    }

    #[inline]
    fn push(
        &mut self,
        payload: Payload<M, K>,
        queued_at: u64,
        context: MessageContext,
        bytes: usize,
    ) {
        self.bytes += bytes;
        let slot = match payload {
            Payload::Raw(raw) => Slot::Raw(raw),
            Payload::RawKeyed(raw, key) => Slot::RawKeyed(raw, key),
            Payload::Parsed(message) => {
                self.parsed.push_back(message);
                Slot::Parsed
            }
        };
        self.slots.push_back((slot, queued_at, context));
    }

    #[inline]
    fn pop(&mut self) -> Option<Envelope<M, K>> {
        let (slot, queued_at, context) = self.slots.pop_front()?;
        let payload = match slot {
            Slot::Raw(raw) => Payload::Raw(raw),
            Slot::RawKeyed(raw, key) => Payload::RawKeyed(raw, key),
            // Pushed together with its slot, so it is there.
            Slot::Parsed => Payload::Parsed(self.parsed.pop_front()?),
        };
        // The chunk's bytes were released when the lane took it.
        Some(Envelope {
            payload,
            queued_at,
            context,
            bytes: 0,
        })
    }

    fn len(&self) -> usize {
        self.slots.len()
    }

    fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn has_storage(&self) -> bool {
        self.slots.capacity() > 0
    }
}

pub(crate) struct ChunkSender<M, K> {
    chunks: Sender<Chunk<M, K>>,
    open: Chunk<M, K>,
    recycled: Receiver<Chunk<M, K>>,
    budget: Arc<Budget>,
}

pub(crate) struct ChunkReceiver<M, K> {
    chunks: Receiver<Chunk<M, K>>,
    current: Chunk<M, K>,
    recycle: Sender<Chunk<M, K>>,
    budget: Arc<Budget>,
}

/// A lane's queue: bounded to `capacity` messages, or unbounded; its
/// bytes counted against `budget`.
pub(crate) fn lane_channel<M, K>(
    capacity: Option<usize>,
    budget: Arc<Budget>,
) -> (LaneSender<M, K>, LaneReceiver<M, K>) {
    match capacity {
        Some(capacity) => {
            let (tx, rx) = crossbeam_channel::bounded(capacity);
            (
                LaneSender::Bounded(tx, Arc::clone(&budget)),
                LaneReceiver::Bounded(rx, budget),
            )
        }
        None => {
            let (chunks_tx, chunks_rx) = crossbeam_channel::unbounded();
            let (recycle_tx, recycle_rx) = crossbeam_channel::bounded(RECYCLED);
            (
                LaneSender::Chunked(ChunkSender {
                    chunks: chunks_tx,
                    open: Chunk::new(),
                    recycled: recycle_rx,
                    budget: Arc::clone(&budget),
                }),
                LaneReceiver::Chunked(ChunkReceiver {
                    chunks: chunks_rx,
                    current: Chunk::new(),
                    recycle: recycle_tx,
                    budget,
                }),
            )
        }
    }
}

impl<M, K> LaneSender<M, K> {
    /// Queues without waiting; `Full` only for a bounded lane. An unbounded
    /// lane sees the message once the chunk is [released](Self::release).
    #[inline]
    pub(crate) fn try_send(
        &mut self,
        payload: Payload<M, K>,
        queued_at: u64,
        context: MessageContext,
        bytes: usize,
    ) -> Result<(), TrySendError<Envelope<M, K>>> {
        match self {
            Self::Bounded(..) => self.try_send_envelope(Envelope {
                payload,
                queued_at,
                context,
                bytes,
            }),
            Self::Chunked(chunked) => {
                chunked.open.push(payload, queued_at, context, bytes);
                Ok(())
            }
        }
    }

    /// Queues an envelope without waiting (a retry after `Full`).
    #[inline]
    pub(crate) fn try_send_envelope(
        &mut self,
        envelope: Envelope<M, K>,
    ) -> Result<(), TrySendError<Envelope<M, K>>> {
        match self {
            Self::Bounded(sender, budget) => {
                let bytes = envelope.bytes;
                sender.try_send(envelope)?;
                budget.add(bytes);
                Ok(())
            }
            Self::Chunked(chunked) => {
                chunked.open.push(
                    envelope.payload,
                    envelope.queued_at,
                    envelope.context,
                    envelope.bytes,
                );
                Ok(())
            }
        }
    }

    /// The reader took a message out of a bounded lane to drop it
    /// (`DropOldest`, `KeepLatest`): its bytes leave the budget.
    pub(crate) fn release_evicted(&self, bytes: usize) {
        if let Self::Bounded(_, budget) = self {
            budget.release(bytes);
        }
    }

    /// Hands the open chunk to the lane. Returns how many messages could
    /// not be handed over because the lane has ended.
    #[inline]
    pub(crate) fn release(&mut self) -> usize {
        match self {
            Self::Bounded(..) => 0,
            Self::Chunked(chunked) => chunked.release(),
        }
    }
}

impl<M, K> ChunkSender<M, K> {
    fn release(&mut self) -> usize {
        if self.open.is_empty() {
            return 0;
        }
        let fresh = self
            .recycled
            .try_recv()
            .unwrap_or_else(|_| Chunk::with_capacity());
        let chunk = std::mem::replace(&mut self.open, fresh);
        // Counted before it can be taken, so the total never misses it.
        let bytes = chunk.bytes;
        self.budget.add(bytes);
        match self.chunks.send(chunk) {
            Ok(()) => 0,
            Err(lost) => {
                self.budget.release(bytes);
                lost.0.len()
            }
        }
    }
}

impl<M, K> Drop for ChunkSender<M, K> {
    fn drop(&mut self) {
        // Closing the lane: what is still open goes first, so a graceful
        // shutdown handles it.
        self.release();
    }
}

impl<M, K> LaneReceiver<M, K> {
    /// Another receiver of a bounded lane's channel, for the reader to
    /// evict the oldest message; `None` for an unbounded lane.
    pub(crate) fn evictor(&self) -> Option<Receiver<Envelope<M, K>>> {
        match self {
            Self::Bounded(receiver, _) => Some(receiver.clone()),
            Self::Chunked(_) => None,
        }
    }

    /// Takes the oldest message. `Disconnected` once the reader is gone
    /// and everything is taken.
    #[inline]
    pub(crate) fn try_recv(&mut self) -> Result<Envelope<M, K>, TryRecvError> {
        match self {
            Self::Bounded(receiver, budget) => {
                let envelope = receiver.try_recv()?;
                budget.release(envelope.bytes);
                Ok(envelope)
            }
            Self::Chunked(chunked) => chunked.try_recv(),
        }
    }
}

impl<M, K> ChunkReceiver<M, K> {
    #[inline]
    fn try_recv(&mut self) -> Result<Envelope<M, K>, TryRecvError> {
        loop {
            if let Some(envelope) = self.current.pop() {
                return Ok(envelope);
            }
            let mut next = self.chunks.try_recv()?;
            self.budget.release(std::mem::take(&mut next.bytes));
            let emptied = std::mem::replace(&mut self.current, next);
            if emptied.has_storage() {
                // The reader may have enough spare chunks: then it is dropped.
                let _ = self.recycle.try_send(emptied);
            }
        }
    }
}
