//! How a lane runs and what it does when its queue is full.

/// The largest lane capacity: a bounded queue allocates its slots up front.
pub(crate) const MAX_LANE_CAPACITY: usize = 1 << 20;

/// Where a lane's handler runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LaneKind {
    /// The lane runs on a pool of OS threads shared by every pool lane of
    /// the process (the default; one thread per core, started with the
    /// first pool lane and kept): the number of threads does not grow with
    /// the number of lanes or clients, an idle lane costs no CPU and a few
    /// hundred bytes, and a slow handler holds a pool thread, never a tokio
    /// worker. Per key, messages are handled in order (a lane runs on one
    /// pool thread at a time); different lanes run in parallel. A busy lane
    /// makes way for the others every 128 messages. Throughput in the e2e
    /// bench is that of thread lanes within noise. A handler that blocks
    /// for long holds one of the few pool threads, and with it every lane
    /// queued behind: give such a handler its own [`Thread`](Self::Thread)
    /// lane. Handlers can use tokio (the lane enters the runtime it was
    /// built in).
    #[default]
    Pool,
    /// A dedicated OS thread per lane: for one hot feed whose handler must
    /// never wait behind another lane's, or a handler that blocks (a
    /// synchronous database call, a lock held for long); a slow or blocking
    /// handler cannot starve the tokio workers or other lanes. The thread
    /// enters the runtime, so handlers can still use tokio. Costs a thread
    /// and its stack per lane, so not for thousands of lanes.
    Thread,
    /// A tokio task per lane on the current runtime: idle lanes cost no CPU
    /// and about 3 KB, so thousands of them are fine (a `ClientManager` with
    /// hundreds of clients), and the hand-off itself is the cheapest when
    /// handlers are trivial, and the latency is the lowest (a woken lane
    /// runs on the reader's worker as soon as the reader yields, with no
    /// thread to wake). When the reader runs on a worker, a woken lane
    /// waits in that worker's LIFO slot instead of running on another core,
    /// which costs throughput once lanes parse. Must be built inside a tokio
    /// runtime.
    Task,
}

/// What a bounded lane does when its queue is full.
///
/// Every message a policy drops is counted in the lane's `dropped` figure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OverflowPolicy {
    /// Wait for room: backpressure reaches the reader, and through it the
    /// socket. Nothing is dropped. The default.
    #[default]
    Block,
    /// Drop the oldest queued message to make room for the new one.
    DropOldest,
    /// Drop the new message.
    DropNewest,
    /// Conflation for tickers: only the newest message waits; a new one
    /// replaces any that is still queued. The capacity is ignored (it is 1).
    KeepLatest,
}

/// Settings of one handler lane.
///
/// ```
/// use hypersockets_router::{LaneConfig, LaneKind, OverflowPolicy};
///
/// let config = LaneConfig::default()
///     .kind(LaneKind::Task)
///     .capacity(1024)
///     .overflow(OverflowPolicy::DropOldest);
/// assert_eq!(config.capacity, Some(1024));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LaneConfig {
    /// Where the handler runs. Default: [`LaneKind::Pool`].
    pub kind: LaneKind,
    /// Queue bound; `None` is unbounded. Default: `None` (the seed's choice:
    /// bursts never block the reader, memory grows instead).
    pub capacity: Option<usize>,
    /// What a bounded lane does when full. Default: [`OverflowPolicy::Block`].
    pub overflow: OverflowPolicy,
    /// Time one message in this many (queue wait, parse, handler); 0 turns
    /// timing off. Default: 64 (a clock read costs ~20 ns; timing every
    /// message would add ~3 % to the hot path).
    pub timing_sample_every: u32,
    /// Stack size of a [`LaneKind::Thread`] lane's thread. Default: 2 MiB.
    pub thread_stack_size: usize,
}

impl Default for LaneConfig {
    fn default() -> Self {
        Self {
            kind: LaneKind::Pool,
            capacity: None,
            overflow: OverflowPolicy::Block,
            timing_sample_every: 64,
            thread_stack_size: 2 << 20,
        }
    }
}

impl LaneConfig {
    /// Sets where the handler runs (default [`LaneKind::Pool`]).
    pub fn kind(mut self, kind: LaneKind) -> Self {
        self.kind = kind;
        self
    }

    /// Bounds the queue to `capacity` messages (default unbounded). At least
    /// 1 and at most 1 048 576 (the slots are allocated up front); checked
    /// when the lanes are built.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// Makes the queue unbounded (the default).
    pub fn unbounded(mut self) -> Self {
        self.capacity = None;
        self
    }

    /// Sets the overflow policy of a bounded queue (default [`OverflowPolicy::Block`]).
    pub fn overflow(mut self, policy: OverflowPolicy) -> Self {
        self.overflow = policy;
        self
    }

    /// Times one message in `every` (default 64; 0 turns timing off).
    pub fn timing_sample_every(mut self, every: u32) -> Self {
        self.timing_sample_every = every;
        self
    }

    /// Sets a thread lane's stack size (default 2 MiB). One the system
    /// cannot give fails the build with an I/O error.
    pub fn thread_stack_size(mut self, bytes: usize) -> Self {
        self.thread_stack_size = bytes;
        self
    }

    /// The queue bound actually used: 1 for [`OverflowPolicy::KeepLatest`].
    pub(crate) fn effective_capacity(&self) -> Option<usize> {
        match (self.overflow, self.capacity) {
            (OverflowPolicy::KeepLatest, _) => Some(1),
            (_, capacity) => capacity,
        }
    }
}

/// A client's budget on the bytes waiting in its lanes' queues, all lanes
/// together.
///
/// A message counts its payload length (`WsMessage::len`) plus
/// [`MESSAGE_OVERHEAD`](Self::MESSAGE_OVERHEAD) from the moment the reader
/// queues it until its lane takes it out. Past the budget the
/// reader stops reading until the lanes have worked the queues down to half
/// of it: TCP backpressure reaches the server, and no message is dropped.
/// Each such wait is counted
/// ([`RouterMetricsSnapshot::backpressure_waits`](crate::RouterMetricsSnapshot::backpressure_waits))
/// and reported as
/// [`ClientEvent::MemoryBudgetReached`](hypersockets_core::ClientEvent::MemoryBudgetReached).
/// The budget can be overshot by what the reader has read but not yet
/// handed over (at most 1024 messages). Messages for inline handlers never
/// wait, so they do not count.
///
/// ```
/// use hypersockets_router::MemoryBudget;
///
/// assert_eq!(MemoryBudget::default(), MemoryBudget::Bytes(64 << 20));
/// let unbounded = MemoryBudget::Unbounded; // only when asked for by name
/// # let _ = unbounded;
/// // A 200-byte message counts 712 bytes.
/// assert_eq!(200 + MemoryBudget::MESSAGE_OVERHEAD, 712);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MemoryBudget {
    /// At most this many bytes queued (payloads plus
    /// [`MESSAGE_OVERHEAD`](Self::MESSAGE_OVERHEAD) each). The default is
    /// 64 MiB: a burst of ordinary market data (100–500 bytes a message)
    /// can get about a hundred thousand messages ahead, while a slow
    /// handler can no longer grow the queues without bound (a
    /// 2-million-message burst once took 532 MiB).
    Bytes(usize),
    /// No budget: queues grow as long as the handlers fall behind.
    Unbounded,
}

impl MemoryBudget {
    /// What a queued message counts beyond its payload, in bytes: its place
    /// in the queue and, above all, the part of the read buffer it keeps
    /// alive (a frame's payload shares the buffer it arrived in; measured
    /// 0.7–0.9 KiB of resident memory per queued 200-byte message). Without
    /// it a budget of small messages would hold several times its figure.
    pub const MESSAGE_OVERHEAD: usize = 512;
}

impl Default for MemoryBudget {
    fn default() -> Self {
        Self::Bytes(64 << 20)
    }
}

/// How [`Dispatcher::shutdown`](crate::Dispatcher::shutdown) treats queued messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ShutdownMode {
    /// Stop accepting, let every lane handle what is queued, then join.
    #[default]
    Graceful,
    /// Stop accepting, drop what is queued (counted as dropped), then join.
    Abort,
}
