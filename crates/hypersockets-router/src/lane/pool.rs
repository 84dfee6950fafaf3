//! Lanes on a shared, bounded pool of OS threads ([`LaneKind::Pool`]).
//!
//! A pool lane is the task lane's future (`task_lane::run`), polled by one
//! of the pool's threads instead of a tokio worker: handlers may block or
//! burn CPU without starving the runtime, yet a thousand quiet lanes cost
//! a thousand small futures, not a thousand threads. A woken lane is put on
//! the pool's run queue once (its state says it is already there, or being
//! polled, in which case it is polled again afterwards); whichever pool
//! thread takes it polls it. Only one thread polls a lane at a time, so a
//! lane's messages are handled in order, while different lanes run on
//! different threads, and no pool thread ever waits for another's lane. A
//! busy lane yields every 128 messages (the task lane's budget), going to
//! the back of the run queue when other lanes wait there.
//!
//! [`LaneKind::Pool`]: crate::LaneKind::Pool

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Wake, Waker};

use crossbeam_channel::{Receiver, Sender};

type LaneFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The process-wide pool that [`LaneKind::Pool`](crate::LaneKind::Pool)
/// lanes run on: one thread per available core, started when the first
/// pool lane is built, and kept for the life of the process.
pub(crate) fn shared_pool() -> std::io::Result<&'static LanePool> {
    static POOL: OnceLock<LanePool> = OnceLock::new();
    static START: Mutex<()> = Mutex::new(());
    if let Some(pool) = POOL.get() {
        return Ok(pool);
    }
    // One builder at a time, so that a failed start can be reported (a
    // `get_or_init` closure cannot fail) and no thread is started twice.
    let _starting = START
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(pool) = POOL.get() {
        return Ok(pool);
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let pool = LanePool::start(threads)?;
    Ok(POOL.get_or_init(|| pool))
}

/// A set of threads polling the lanes put on its run queue.
#[derive(Debug)]
pub(crate) struct LanePool {
    queue: Sender<Arc<PoolLane>>,
}

impl LanePool {
    /// Starts `threads` pool threads.
    fn start(threads: usize) -> std::io::Result<Self> {
        let (queue, runnable) = crossbeam_channel::unbounded();
        for index in 0..threads.max(1) {
            let runnable: Receiver<Arc<PoolLane>> = runnable.clone();
            std::thread::Builder::new()
                .name(format!("hs-lane-pool-{index}"))
                .spawn(move || {
                    for lane in runnable.iter() {
                        lane.poll();
                    }
                })?;
        }
        Ok(Self { queue })
    }

    /// Puts `future` on the pool (polled at once by a pool thread); the
    /// handle cancels it.
    pub(crate) fn spawn(
        &self,
        future: impl Future<Output = ()> + Send + 'static,
        runtime: Option<tokio::runtime::Handle>,
    ) -> PoolJoin {
        let future: LaneFuture = match runtime {
            // Handlers may use tokio (timers, channels, sockets): the
            // runtime the lane was built in is entered for each poll.
            Some(runtime) => Box::pin(InRuntime {
                runtime,
                future: Box::pin(future),
            }),
            None => Box::pin(future),
        };
        let lane = Arc::new(PoolLane {
            future: Mutex::new(Some(future)),
            state: AtomicU8::new(IDLE),
            cancelled: AtomicBool::new(false),
            queue: self.queue.clone(),
        });
        lane.schedule();
        PoolJoin(lane)
    }
}

/// Where a pool lane is: waiting for a wake-up, on the run queue, being
/// polled, being polled and woken meanwhile (polled again after), or done.
const IDLE: u8 = 0;
const QUEUED: u8 = 1;
const RUNNING: u8 = 2;
const NOTIFIED: u8 = 3;
const DONE: u8 = 4;

/// A lane's future, the pool's unit of work (and its own waker).
struct PoolLane {
    /// `None` once finished or cancelled. Only the thread that moved the
    /// state to `RUNNING` locks it, so the lock is never contended.
    future: Mutex<Option<LaneFuture>>,
    state: AtomicU8,
    cancelled: AtomicBool,
    queue: Sender<Arc<PoolLane>>,
}

impl PoolLane {
    /// Puts the lane on the run queue, unless it is there already; a lane
    /// being polled is marked to be polled again instead, so no pool
    /// thread ever waits for another to finish with a lane.
    fn schedule(self: &Arc<Self>) {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let next = match state {
                IDLE => QUEUED,
                RUNNING => NOTIFIED,
                _ => return,
            };
            match self
                .state
                .compare_exchange(state, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) if next == QUEUED => return self.enqueue(),
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
    }

    fn enqueue(self: &Arc<Self>) {
        // The pool's threads live as long as the process: the queue never
        // closes.
        let _ = self.queue.send(Arc::clone(self));
    }

    /// Polls the future (a pool thread, having taken the lane off the run
    /// queue), again as long as it was woken meanwhile and no other lane
    /// waits: handing a busy lane to the back of an empty queue would only
    /// wake another pool thread to carry on with it on another core.
    fn poll(self: Arc<Self>) {
        self.state.store(RUNNING, Ordering::Release);
        let waker = Waker::from(Arc::clone(&self));
        let mut cx = Context::from_waker(&waker);
        let mut slot = self
            .future
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        loop {
            let finished = match slot.as_mut() {
                None => true,
                Some(_) if self.cancelled.load(Ordering::Acquire) => true,
                // The lane catches its handler's and router's panics; one
                // that escapes anyway ends this lane, never the pool thread.
                Some(future) => {
                    match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx))) {
                        Ok(Poll::Pending) => false,
                        Ok(Poll::Ready(())) => true,
                        Err(_) => {
                            tracing::error!("pool lane panicked; it is stopped");
                            true
                        }
                    }
                }
            };
            if finished {
                *slot = None;
                drop(slot);
                self.state.store(DONE, Ordering::Release);
                return;
            }
            if self
                .state
                .compare_exchange(RUNNING, IDLE, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return;
            }
            // Woken while it ran: polled again here if no other lane
            // waits, else it goes to the back of the run queue.
            if self.queue.is_empty() {
                self.state.store(RUNNING, Ordering::Release);
                continue;
            }
            drop(slot);
            self.state.store(QUEUED, Ordering::Release);
            self.enqueue();
            return;
        }
    }
}

impl Wake for PoolLane {
    fn wake(self: Arc<Self>) {
        self.schedule();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.schedule();
    }
}

/// What a shutdown holds of a pool lane: it can only cancel it (the lane
/// reports its own end through `LaneShared::ended`).
pub(crate) struct PoolJoin(Arc<PoolLane>);

impl PoolJoin {
    /// Drops the lane's future at its next turn on the pool (not during a
    /// handler call that is running now: that one finishes first).
    pub(crate) fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::Release);
        self.0.schedule();
    }
}

impl std::fmt::Debug for PoolJoin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolJoin").finish_non_exhaustive()
    }
}

/// A lane's future polled inside the tokio runtime it was built in.
struct InRuntime {
    runtime: tokio::runtime::Handle,
    future: LaneFuture,
}

impl Future for InRuntime {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let _entered = this.runtime.enter();
        this.future.as_mut().poll(cx)
    }
}
