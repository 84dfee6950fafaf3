//! State shared by a lane and the reader: counters, and the wake-up
//! protocol that wakes a lane only when it is parked.
//!
//! Lane, before parking: `sleeping = true`, fence, look at the queue again,
//! park only if still empty. Reader, after queueing: fence, and wake only if
//! `sleeping` is set. The two fences order the flag against the queue on
//! both sides (store-fence-load), so a wake-up is never lost, and a lane
//! that is already awake is never woken again.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::thread::Thread;

use crossbeam_utils::CachePadded;
use futures_util::task::AtomicWaker;
use tokio::sync::Notify;

use crate::metrics::LaneCounters;

/// How a parked lane is woken.
#[derive(Debug)]
pub(crate) enum LaneWaker {
    /// A thread lane: unpark its thread (set when the thread starts, before
    /// it can ever announce that it sleeps).
    Thread(OnceLock<Thread>),
    /// A task lane: wake its task (lock-free, unlike `Notify`).
    Task(AtomicWaker),
    /// An inline lane runs on the reader and is never woken.
    Inline,
}

#[derive(Debug)]
pub(crate) struct LaneShared {
    pub(crate) key: String,
    pub(crate) inline: bool,
    pub(crate) counters: LaneCounters,
    /// Set by the reader on abort: the lane drops what is queued.
    pub(crate) abort: AtomicBool,
    /// Written at park and wake time by both sides: its own cache line.
    sleeping: CachePadded<AtomicBool>,
    waker: LaneWaker,
    /// Set by a reader waiting for room in a full `Block` lane.
    reader_waiting: AtomicBool,
    /// Signalled by the lane when it takes a message while the reader waits.
    pub(crate) room: Notify,
    /// Set (and `end` signalled) when a thread or pool lane is done, so
    /// that a shutdown can wait for it with a deadline instead of blocking
    /// on `join`.
    ended: AtomicBool,
    end: Notify,
}

/// Marks its lane ended when dropped (a thread lane's thread returning or
/// unwinding, a pool lane's future finishing or dropped).
pub(crate) struct Ended(pub(crate) std::sync::Arc<LaneShared>);

impl Drop for Ended {
    fn drop(&mut self) {
        self.0.mark_ended();
    }
}

impl LaneShared {
    pub(crate) fn new(key: String, waker: LaneWaker, inline: bool) -> Self {
        Self {
            key,
            inline,
            counters: LaneCounters::default(),
            abort: AtomicBool::new(false),
            sleeping: CachePadded::new(AtomicBool::new(false)),
            waker,
            reader_waiting: AtomicBool::new(false),
            room: Notify::new(),
            ended: AtomicBool::new(false),
            end: Notify::new(),
        }
    }

    /// Thread or pool lane: it is done (the handler dropped).
    pub(crate) fn mark_ended(&self) {
        self.ended.store(true, Ordering::Release);
        self.end.notify_waiters();
    }

    /// Waits until [`mark_ended`](Self::mark_ended).
    pub(crate) async fn ended(&self) {
        loop {
            let mut end = std::pin::pin!(self.end.notified());
            end.as_mut().enable();
            if self.ended.load(Ordering::Acquire) {
                return;
            }
            end.await;
        }
    }

    pub(crate) fn waker(&self) -> &LaneWaker {
        &self.waker
    }

    /// Lane: announce that it is about to park. The caller must look at the
    /// queue again afterwards and call [`cancel_sleep`](Self::cancel_sleep)
    /// if it found something.
    #[inline]
    pub(crate) fn announce_sleep(&self) {
        self.sleeping.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// Lane: it found work after announcing, or was woken.
    #[inline]
    pub(crate) fn cancel_sleep(&self) {
        self.sleeping.store(false, Ordering::Relaxed);
    }

    /// Lane: whether it should stay parked (nobody has woken it yet).
    #[inline]
    pub(crate) fn still_sleeping(&self) -> bool {
        self.sleeping.load(Ordering::Acquire)
    }

    /// Reader: wakes the lane if, and only if, it is parked.
    #[inline]
    pub(crate) fn wake_if_sleeping(&self) {
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::Relaxed) && self.sleeping.swap(false, Ordering::AcqRel) {
            self.wake();
        }
    }

    /// Wakes the lane unconditionally (shutdown).
    pub(crate) fn force_wake(&self) {
        self.sleeping.store(false, Ordering::Release);
        self.wake();
    }

    fn wake(&self) {
        match &self.waker {
            LaneWaker::Thread(thread) => {
                if let Some(thread) = thread.get() {
                    thread.unpark();
                }
            }
            LaneWaker::Task(waker) => waker.wake(),
            LaneWaker::Inline => {}
        }
    }

    /// Reader: about to wait for room; the caller retries the send after.
    #[inline]
    pub(crate) fn announce_reader_waiting(&self) {
        self.reader_waiting.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// Reader: done waiting.
    #[inline]
    pub(crate) fn clear_reader_waiting(&self) {
        self.reader_waiting.store(false, Ordering::Relaxed);
    }

    /// Lane (Block lanes only): after taking a message, tell a waiting reader.
    #[inline]
    pub(crate) fn signal_room(&self) {
        fence(Ordering::SeqCst);
        if self.reader_waiting.load(Ordering::Relaxed)
            && self.reader_waiting.swap(false, Ordering::AcqRel)
        {
            self.room.notify_one();
        }
    }
}
