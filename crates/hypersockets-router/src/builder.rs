//! Declaring lanes and starting them.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use hypersockets_core::{
    BoxError, ClientEvent, HyperSocketError, MessageHandler, MessageRouter, Result,
};

use crate::config::{LaneConfig, LaneKind, MAX_LANE_CAPACITY, MemoryBudget, OverflowPolicy};
use crate::dispatcher::Dispatcher;
use crate::events::{EventSink, discard};
use crate::lane::budget::Budget;
use crate::lane::channel::lane_channel;
use crate::lane::inline::{InlineFn, InlineLane};
use crate::lane::queue::LaneQueue;
use crate::lane::shared::{Ended, LaneShared, LaneWaker};
use crate::lane::worker::LaneWorker;
use crate::lane::{LaneJoin, LaneSlot, pool, task_lane, thread_lane};
use crate::latency::StreamIndex;
use crate::metrics::ReaderCounters;
use crate::stats::RouterStats;
use crate::table::RouteTable;

/// Everything a lane needs to start, handed to its type-erased starter.
struct LaneStart<R: MessageRouter> {
    router: Arc<R>,
    key: Option<R::RouteKey>,
    shared: Arc<LaneShared>,
    config: LaneConfig,
    events: EventSink,
    runtime: Option<tokio::runtime::Handle>,
    budget: Arc<Budget>,
}

/// A started lane: the dispatcher's end of it, and what to join at shutdown.
type StartedLane<R> = (
    LaneSlot<<R as MessageRouter>::Message, <R as MessageRouter>::RouteKey>,
    LaneJoin,
);

type Starter<R> = Box<dyn FnOnce(LaneStart<R>) -> Result<StartedLane<R>> + Send>;

enum LaneSpec<R: MessageRouter> {
    Queued {
        config: Option<LaneConfig>,
        start: Starter<R>,
    },
    Inline(InlineFn<R::Message>),
}

/// Declares the lanes of a router and starts them.
///
/// Each route key gets one handler. A key's lane is a queue plus a thread
/// or task running its handler ([`handler`](Self::handler)), or the reader
/// itself ([`inline_handler`](Self::inline_handler)). Keys without a lane
/// go to the [`fallback`](Self::fallback), if any.
///
/// ```
/// use hypersockets_core::{MessageContext, MessageRouter, ParseError, WsMessage, handler_fn};
/// use hypersockets_router::{LaneConfig, LaneKind, RouterBuilder, ShutdownMode};
///
/// struct Words;
///
/// impl MessageRouter for Words {
///     type Message = String;
///     type RouteKey = usize; // route by length, for the example
///
///     fn parse(&self, message: &WsMessage) -> Result<String, ParseError> {
///         message.as_text().map(str::to_owned).ok_or_else(|| ParseError::new("not text"))
///     }
///
///     fn route_key(&self, word: &String) -> usize {
///         word.len()
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> hypersockets_core::Result<()> {
/// let (tx, rx) = std::sync::mpsc::channel();
/// let mut dispatcher = RouterBuilder::new(Words)
///     .lane_defaults(LaneConfig::default().kind(LaneKind::Task))
///     .handler(4, handler_fn(move |word: String| tx.send(word)))
///     .build()?;
///
/// dispatcher.dispatch(WsMessage::text("ping"), MessageContext::now(1));
/// dispatcher.dispatch(WsMessage::text("pong"), MessageContext::now(1));
/// dispatcher.flush();
/// dispatcher.shutdown(ShutdownMode::Graceful).await;
/// assert_eq!(rx.iter().collect::<Vec<_>>(), ["ping", "pong"]);
/// # Ok(())
/// # }
/// ```
pub struct RouterBuilder<R: MessageRouter> {
    router: R,
    defaults: LaneConfig,
    lanes: Vec<(R::RouteKey, LaneSpec<R>)>,
    fallback: Option<LaneSpec<R>>,
    events: EventSink,
    budget: MemoryBudget,
}

impl<R: MessageRouter> RouterBuilder<R> {
    /// A router with no lanes yet and default lane settings.
    pub fn new(router: R) -> Self {
        Self {
            router,
            defaults: LaneConfig::default(),
            lanes: Vec::new(),
            fallback: None,
            events: discard(),
            budget: MemoryBudget::default(),
        }
    }

    /// Sets the budget on the bytes queued in all lanes together, beyond
    /// which the reader waits (default [`MemoryBudget::default`]: 64 MiB).
    /// See [`MemoryBudget`].
    pub fn memory_budget(mut self, budget: MemoryBudget) -> Self {
        self.budget = budget;
        self
    }

    /// Sets the settings of lanes added without their own (default
    /// [`LaneConfig::default`]: a thread each, unbounded).
    pub fn lane_defaults(mut self, config: LaneConfig) -> Self {
        self.defaults = config;
        self
    }

    /// Gives `key` a lane with `handler`, using the default lane settings.
    pub fn handler<H>(self, key: R::RouteKey, handler: H) -> Self
    where
        H: MessageHandler<R::Message>,
    {
        self.add_queued(Some(key), handler, None)
    }

    /// Gives `key` a lane with `handler` and its own settings.
    pub fn handler_with_config<H>(self, key: R::RouteKey, handler: H, config: LaneConfig) -> Self
    where
        H: MessageHandler<R::Message>,
    {
        self.add_queued(Some(key), handler, Some(config))
    }

    /// Runs `handler` on the reader itself for `key`: no queue, no hand-off,
    /// the lowest latency. The price is isolation: while it runs nothing
    /// else is read, so it must be quick and must never block.
    pub fn inline_handler<F, E>(mut self, key: R::RouteKey, mut handler: F) -> Self
    where
        F: FnMut(R::Message) -> std::result::Result<(), E> + Send + 'static,
        E: Into<BoxError>,
    {
        let boxed: InlineFn<R::Message> =
            Box::new(move |message| handler(message).map_err(Into::into));
        self.lanes.push((key, LaneSpec::Inline(boxed)));
        self
    }

    /// Handles messages whose key has no lane (otherwise they are counted
    /// as unrouted and dropped).
    pub fn fallback<H>(self, handler: H) -> Self
    where
        H: MessageHandler<R::Message>,
    {
        self.add_queued(None, handler, None)
    }

    /// Like [`fallback`](Self::fallback), with its own lane settings.
    pub fn fallback_with_config<H>(self, handler: H, config: LaneConfig) -> Self
    where
        H: MessageHandler<R::Message>,
    {
        self.add_queued(None, handler, Some(config))
    }

    /// Receives the router's events ([`ClientEvent::HandlerPanicked`], and
    /// [`ClientEvent::CallbackPanicked`] for a panic in the router's code on
    /// the reader).
    /// Default: events are only logged.
    pub fn on_event<F>(mut self, callback: F) -> Self
    where
        F: Fn(ClientEvent) + Send + Sync + 'static,
    {
        self.events = Arc::new(callback);
        self
    }

    fn add_queued<H>(
        mut self,
        key: Option<R::RouteKey>,
        handler: H,
        config: Option<LaneConfig>,
    ) -> Self
    where
        H: MessageHandler<R::Message>,
    {
        let start: Starter<R> = Box::new(move |start| start_queued(start, handler));
        let spec = LaneSpec::Queued { config, start };
        match key {
            Some(key) => self.lanes.push((key, spec)),
            None => self.fallback = Some(spec),
        }
        self
    }

    /// Checks the configuration and starts every lane.
    ///
    /// Task lanes are spawned on the current tokio runtime; thread lanes
    /// enter it, if there is one, so handlers can use tokio.
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::InvalidConfiguration`] for a key given twice, a
    /// capacity of 0 or over [`LaneConfig::capacity`]'s bound, or task
    /// lanes outside a tokio runtime;
    /// [`HyperSocketError::Io`] if a lane thread cannot be spawned.
    pub fn build(self) -> Result<Dispatcher<R>> {
        let RouterBuilder {
            router,
            defaults,
            lanes,
            fallback,
            events,
            budget,
        } = self;
        for (index, (key, _)) in lanes.iter().enumerate() {
            if lanes[..index].iter().any(|(other, _)| other == key) {
                return Err(HyperSocketError::invalid_config(
                    "handler",
                    format!("route key {key:?} has more than one handler"),
                ));
            }
        }
        let runtime = tokio::runtime::Handle::try_current().ok();
        // Check every lane before starting any: a lane started before a bad
        // one would be left parked for good, owning its handler.
        let queued = lanes
            .iter()
            .map(|(key, spec)| (Some(key), spec))
            .chain(fallback.iter().map(|spec| (None, spec)));
        for (key, spec) in queued {
            if let LaneSpec::Queued { config, .. } = spec {
                let name = key.map_or_else(|| "fallback".to_owned(), |key| format!("{key:?}"));
                validate(
                    config.as_ref().unwrap_or(&defaults),
                    &name,
                    runtime.is_some(),
                )?;
            }
        }
        let router = Arc::new(router);
        let reader = Arc::new(ReaderCounters::default());
        let budget = Arc::new(Budget::new(budget));

        let mut slots = Vec::with_capacity(lanes.len() + 1);
        let mut shared = Vec::with_capacity(lanes.len() + 1);
        let mut joins = Vec::new();
        let mut entries = Vec::with_capacity(lanes.len());
        let mut fallback_index = None;
        let specs = lanes
            .into_iter()
            .map(|(key, spec)| (Some(key), spec))
            .chain(fallback.map(|spec| (None, spec)));
        for (index, (key, spec)) in specs.enumerate() {
            let name = key
                .as_ref()
                .map_or_else(|| "fallback".to_owned(), |key| format!("{key:?}"));
            match &key {
                Some(key) => entries.push((key.clone(), index)),
                None => fallback_index = Some(index),
            }
            let slot = match spec {
                LaneSpec::Inline(handler) => {
                    let lane_shared = Arc::new(LaneShared::new(name, LaneWaker::Inline, true));
                    shared.push(Arc::clone(&lane_shared));
                    LaneSlot::Inline {
                        lane: InlineLane::new(handler, lane_shared, defaults.timing_sample_every),
                        key,
                    }
                }
                LaneSpec::Queued { config, start } => {
                    let config = config.unwrap_or_else(|| defaults.clone());
                    let waker = match config.kind {
                        LaneKind::Thread => LaneWaker::Thread(Default::default()),
                        // A pool lane is a task lane's future on other threads.
                        LaneKind::Task | LaneKind::Pool => LaneWaker::Task(Default::default()),
                    };
                    let lane_shared = Arc::new(LaneShared::new(name, waker, false));
                    shared.push(Arc::clone(&lane_shared));
                    let lane = Arc::clone(&lane_shared);
                    let started = start(LaneStart {
                        router: Arc::clone(&router),
                        key,
                        shared: lane_shared,
                        config,
                        events: Arc::clone(&events),
                        runtime: runtime.clone(),
                        budget: Arc::clone(&budget),
                    });
                    let (slot, join) = match started {
                        Ok(started) => started,
                        Err(error) => {
                            // Stop the lanes already started, as a dropped
                            // dispatcher does: close their queues, wake them.
                            drop(slots);
                            for lane in &shared {
                                lane.force_wake();
                            }
                            return Err(error);
                        }
                    };
                    joins.push((lane, join));
                    slot
                }
            };
            slots.push(slot);
        }
        let stats = RouterStats {
            reader: Arc::clone(&reader),
            lanes: shared.into(),
            budget: Arc::clone(&budget),
        };
        Ok(Dispatcher {
            router,
            table: RouteTable::new(entries),
            pending: Vec::with_capacity(slots.len()),
            held: VecDeque::new(),
            lanes: slots,
            fallback: fallback_index,
            since_flush: 0,
            reader,
            stats,
            joins,
            events,
            budget,
            budget_reported: false,
        })
    }
}

fn validate(config: &LaneConfig, lane: &str, in_runtime: bool) -> Result<()> {
    if config.capacity == Some(0) && config.overflow != OverflowPolicy::KeepLatest {
        return Err(HyperSocketError::invalid_config(
            "lane.capacity",
            format!("lane {lane}: capacity must be at least 1"),
        ));
    }
    if config
        .capacity
        .is_some_and(|capacity| capacity > MAX_LANE_CAPACITY)
    {
        return Err(HyperSocketError::invalid_config(
            "lane.capacity",
            format!("lane {lane}: capacity must be at most {MAX_LANE_CAPACITY}"),
        ));
    }
    if config.kind == LaneKind::Task && !in_runtime {
        return Err(HyperSocketError::invalid_config(
            "lane.kind",
            format!("lane {lane}: task lanes must be built inside a tokio runtime"),
        ));
    }
    Ok(())
}

fn start_queued<R, H>(start: LaneStart<R>, handler: H) -> Result<StartedLane<R>>
where
    R: MessageRouter,
    H: MessageHandler<R::Message>,
{
    let LaneStart {
        router,
        key,
        shared,
        config,
        events,
        runtime,
        budget,
    } = start;
    let capacity = config.effective_capacity();
    let (sender, receiver) = lane_channel(capacity, budget);
    let evicts = capacity.is_some()
        && matches!(
            config.overflow,
            OverflowPolicy::DropOldest | OverflowPolicy::KeepLatest
        );
    let signal_room = capacity.is_some() && config.overflow == OverflowPolicy::Block;
    let evictor = if evicts { receiver.evictor() } else { None };
    let queue = LaneQueue::new(
        sender,
        evictor,
        config.overflow,
        Arc::clone(&shared),
        config.timing_sample_every,
    );
    let worker = LaneWorker {
        router,
        key,
        handler,
        shared,
        events,
        signal_room,
        streams: StreamIndex::default(),
    };
    let join = match (config.kind, runtime) {
        (LaneKind::Task, Some(runtime)) => {
            LaneJoin::Task(runtime.spawn(
                // In the builder's span (a client's), like everything it runs.
                tracing::Instrument::in_current_span(task_lane::run(worker, receiver)),
            ))
        }
        (LaneKind::Task, None) => {
            return Err(HyperSocketError::invalid_config(
                "lane.kind",
                "task lanes must be built inside a tokio runtime",
            ));
        }
        (LaneKind::Pool, runtime) => {
            let ended = Ended(Arc::clone(&worker.shared));
            let lane = async move {
                let _ended = ended;
                task_lane::run(worker, receiver).await;
            };
            // In the builder's span (a client's), like everything it runs.
            let lane = tracing::Instrument::in_current_span(lane);
            LaneJoin::Pool(pool::shared_pool()?.spawn(lane, runtime))
        }
        (LaneKind::Thread, runtime) => LaneJoin::Thread(thread_lane::spawn(
            worker,
            receiver,
            config.thread_stack_size,
            runtime,
        )?),
    };
    Ok((LaneSlot::Queued(queue), join))
}

impl<R: MessageRouter> fmt::Debug for RouterBuilder<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouterBuilder")
            .field(
                "lanes",
                &self.lanes.iter().map(|(key, _)| key).collect::<Vec<_>>(),
            )
            .field("fallback", &self.fallback.is_some())
            .field("defaults", &self.defaults)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}
