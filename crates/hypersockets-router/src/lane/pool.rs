//! Lanes on a shared, bounded pool of OS threads ([`LaneKind::Pool`]).
//!
//! A pool lane is the task lane's future (`task_lane::run`), polled by one
//! of the pool's threads instead of a tokio worker: handlers may block or
//! burn CPU without starving the runtime, yet a thousand quiet lanes cost
//! a thousand small futures, not a thousand threads. A woken lane is put on
//! the pool's run queue once (a flag says it is already there); whichever
//! pool thread takes it polls it. Its mutex makes sure only one thread
//! polls a lane at a time, so a lane's messages are handled in order, while
//! different lanes run on different threads. A busy lane yields every 128
//! messages (the task lane's budget), going to the back of the run queue.
//!
//! [`LaneKind::Pool`]: crate::LaneKind::Pool

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
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
            queued: AtomicBool::new(false),
            cancelled: AtomicBool::new(false),
            queue: self.queue.clone(),
        });
        lane.schedule();
        PoolJoin(lane)
    }
}

/// A lane's future, the pool's unit of work (and its own waker).
struct PoolLane {
    /// `None` once finished or cancelled.
    future: Mutex<Option<LaneFuture>>,
    /// On the run queue (or about to be): a wake-up is not queued twice.
    queued: AtomicBool,
    cancelled: AtomicBool,
    queue: Sender<Arc<PoolLane>>,
}

impl PoolLane {
    fn schedule(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            // The pool's threads live as long as the process: the queue
            // never closes.
            let _ = self.queue.send(Arc::clone(self));
        }
    }

    /// Polls the future once (a pool thread).
    fn poll(self: Arc<Self>) {
        // Cleared before polling: a wake-up during the poll queues the lane
        // again, and that second poll waits for this one on the mutex.
        self.queued.store(false, Ordering::Release);
        let mut slot = self
            .future
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.cancelled.load(Ordering::Acquire) {
            *slot = None;
            return;
        }
        let Some(future) = slot.as_mut() else {
            return;
        };
        let waker = Waker::from(Arc::clone(&self));
        let mut cx = Context::from_waker(&waker);
        // The lane catches its handler's and router's panics; one that
        // escapes anyway ends this lane, never the pool thread.
        match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx))) {
            Ok(Poll::Pending) => {}
            Ok(Poll::Ready(())) => *slot = None,
            Err(_) => {
                tracing::error!("pool lane panicked; it is stopped");
                *slot = None;
            }
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
