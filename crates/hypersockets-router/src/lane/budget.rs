//! The client's budget on queued bytes, shared by the reader and every lane.
//!
//! The reader adds a message's payload length when it hands the message to
//! a lane (per chunk for unbounded lanes, per message for bounded ones);
//! the lane subtracts it when it takes the message (or chunk) out. Past the
//! limit the dispatcher tells the reader to wait ([`Dispatch::Blocked`]),
//! and the reader awaits room: TCP backpressure reaches the server and no
//! message is dropped. The reader resumes once the lanes have drained to
//! half the limit, so that a sustained overload waits in long stretches
//! rather than once per message.
//!
//! [`Dispatch::Blocked`]: crate::Dispatch::Blocked

use std::sync::atomic::Ordering::{AcqRel, Relaxed};
use std::sync::atomic::{AtomicIsize, AtomicU64};

use crossbeam_utils::CachePadded;
use tokio::sync::Notify;

use crate::config::MemoryBudget;

#[derive(Debug)]
pub(crate) struct Budget {
    /// Bytes handed to lanes and not yet taken out: written by the reader
    /// and every lane. Signed: a bounded lane may take a message out (and
    /// subtract) before the reader has added it, so it can dip below zero
    /// for a moment.
    queued: CachePadded<AtomicIsize>,
    /// The total an add brought past the limit (0: not reached), set by
    /// the reader and cleared once it has waited for room. Kept apart from
    /// `queued`, which the lanes lower meanwhile, so that what stopped the
    /// reader is what it reports. Only the reader writes it, so it stays
    /// in the reader's cache.
    reached: CachePadded<AtomicIsize>,
    /// `isize::MAX` when unbounded.
    limit: isize,
    /// The reader resumes at or below this (half the limit).
    resume: isize,
    /// Signalled by a lane whose release brings `queued` down to `resume`.
    pub(crate) room: Notify,
    /// How many times the reader waited for room.
    pub(crate) waits: AtomicU64,
}

impl Budget {
    pub(crate) fn new(budget: MemoryBudget) -> Self {
        let limit = match budget {
            MemoryBudget::Bytes(limit) => isize::try_from(limit).unwrap_or(isize::MAX),
            MemoryBudget::Unbounded => isize::MAX,
        };
        Self {
            queued: CachePadded::new(AtomicIsize::new(0)),
            reached: CachePadded::new(AtomicIsize::new(0)),
            limit,
            resume: limit / 2,
            room: Notify::new(),
            waits: AtomicU64::new(0),
        }
    }

    /// Reader: `bytes` were handed to a lane. Sets [`reached`](Self::reached)
    /// when the total passes the limit.
    #[inline]
    pub(crate) fn add(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let bytes = signed(bytes);
        let total = self.queued.fetch_add(bytes, AcqRel).wrapping_add(bytes);
        if total > self.limit {
            // Past a limit of at least 0 by a positive add: never 0.
            self.reached.store(total, Relaxed);
        }
    }

    /// Lane: `bytes` were taken out of its queue. Wakes a waiting reader
    /// when this brings the total down to the resume mark.
    #[inline]
    pub(crate) fn release(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let bytes = signed(bytes);
        let before = self.queued.fetch_sub(bytes, AcqRel);
        if self.limit == isize::MAX {
            return;
        }
        // Only the release that crosses the mark signals: once per wait, not
        // per chunk. (`notify_one` keeps a permit if the reader is not
        // waiting yet, and the reader checks the total before it waits.)
        if before > self.resume && before.wrapping_sub(bytes) <= self.resume {
            self.room.notify_one();
        }
    }

    /// Reader: whether it must wait for room before reading on.
    #[inline]
    pub(crate) fn reached(&self) -> bool {
        self.reached.load(Relaxed) != 0
    }

    /// The total that passed the limit (0 if it has not been reached).
    pub(crate) fn reached_total(&self) -> usize {
        usize::try_from(self.reached.load(Relaxed)).unwrap_or(0)
    }

    /// Reader: whether the lanes have drained enough to read on.
    pub(crate) fn has_room(&self) -> bool {
        self.queued.load(Relaxed) <= self.resume
    }

    /// Reader: done waiting.
    pub(crate) fn clear_reached(&self) {
        self.reached.store(0, Relaxed);
    }

    /// Bytes queued now.
    pub(crate) fn queued(&self) -> usize {
        usize::try_from(self.queued.load(Relaxed)).unwrap_or(0)
    }

    /// The limit, `None` when unbounded.
    pub(crate) fn limit(&self) -> Option<usize> {
        (self.limit != isize::MAX).then(|| self.limit.unsigned_abs())
    }
}

/// A payload length as a signed count (no payload comes near `isize::MAX`).
#[inline]
fn signed(bytes: usize) -> isize {
    isize::try_from(bytes).unwrap_or(isize::MAX)
}
