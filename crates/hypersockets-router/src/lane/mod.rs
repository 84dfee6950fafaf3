//! Handler lanes: one per route key, each with its own FIFO queue.

pub(crate) mod budget;
pub(crate) mod channel;
pub(crate) mod envelope;
pub(crate) mod inline;
pub(crate) mod next;
pub(crate) mod pool;
pub(crate) mod queue;
pub(crate) mod shared;
pub(crate) mod task_lane;
pub(crate) mod thread_lane;
pub(crate) mod worker;

use inline::InlineLane;
use queue::LaneQueue;

/// A lane as the dispatcher sees it.
pub(crate) enum LaneSlot<M, K> {
    /// Runs on its own thread or task, fed through a queue.
    Queued(LaneQueue<M, K>),
    /// Runs on the reader. `key` is set for keyed lanes (to parse
    /// classified messages), `None` for an inline fallback.
    Inline { lane: InlineLane<M>, key: Option<K> },
}

/// What to wait for at shutdown.
#[derive(Debug)]
pub(crate) enum LaneJoin {
    Thread(std::thread::JoinHandle<()>),
    Task(tokio::task::JoinHandle<()>),
    /// A pool lane, which reports its end through `LaneShared::ended`.
    Pool(pool::PoolJoin),
}
