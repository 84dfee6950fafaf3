//! The reader's side of the router: classify or parse, pick the lane, queue.

use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;

use futures_util::FutureExt;

use hypersockets_core::{ClientEvent, MessageContext, MessageRouter, WsMessage};

use crate::config::{MemoryBudget, ShutdownMode};
use crate::events::EventSink;
use crate::excerpt::{log_parse_failure, panic_message};
use crate::lane::budget::Budget;
use crate::lane::envelope::{Envelope, Payload};
use crate::lane::inline::InlineLane;
use crate::lane::queue::LaneQueue;
use crate::lane::shared::LaneShared;
use crate::lane::worker::{parse_in_lane, record_result};
use crate::lane::{LaneJoin, LaneSlot};
use crate::metrics::{ReaderCounters, bump};
use crate::routed::Routed;
use crate::stats::RouterStats;
use crate::table::RouteTable;

/// Lanes with new messages are released at the latest after this many
/// dispatches, even if the caller never flushes: the bound on how long a
/// message can wait unseen while the reader never runs dry (a client
/// flushes whenever the socket has nothing at hand). 1024 lets each of 16
/// busy lanes get a full chunk per release; 256 cost 12 % of the dispatch
/// bench's throughput at 16 keys.
const FLUSH_EVERY: u32 = 1024;

/// A lane is released (its chunk handed over, the lane woken if parked) as
/// soon as this many messages wait for it, so a busy lane need not wait for
/// the next flush, and with many lanes each wake-up still moves a batch.
const WAKE_BATCH: u32 = crate::lane::channel::CHUNK as u32;

/// What became of a dispatched message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dispatch {
    /// Queued for its lane.
    Queued,
    /// Handled by an inline handler on the spot (successfully or not; the
    /// lane's figures say which).
    HandledInline,
    /// Dropped by its lane's overflow policy (counted).
    Dropped,
    /// No lane for its key and no fallback (counted).
    Unrouted,
    /// The router could not parse it on the reader (counted and logged).
    ParseFailed,
    /// Its lane has shut down.
    Closed,
    /// Await [`Dispatcher::ready`] before dispatching more: the message is
    /// held by the dispatcher, in order (its lane is bounded with
    /// [`OverflowPolicy::Block`](crate::OverflowPolicy::Block) and full, or
    /// an earlier message is held), or it is queued but the lanes' queues
    /// have reached the [`MemoryBudget`](crate::MemoryBudget).
    Blocked,
}

/// What [`Dispatcher::dispatch_unless`] did with a message.
pub enum Routing<R: MessageRouter> {
    /// Dispatched, as [`Dispatcher::dispatch`] would have.
    Dispatched(Dispatch),
    /// Kept back, parsed (or classified) and with its lane, for
    /// [`Dispatcher::queue`].
    Kept(Routed<R>),
}

impl<R: MessageRouter> fmt::Debug for Routing<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dispatched(outcome) => f.debug_tuple("Dispatched").field(outcome).finish(),
            Self::Kept(routed) => f.debug_tuple("Kept").field(routed).finish(),
        }
    }
}

/// Messages the dispatcher holds, oldest first, each with its lane's index.
type Held<M, K> = VecDeque<(usize, Envelope<M, K>)>;

/// Takes messages from the reader and puts each in its route key's lane.
///
/// This is the engine of the `hypersockets` facade's read loop (and of the
/// benches); programs normally use it through the facade. Owned by the
/// reader (`&mut self`, no locks). Per key, messages reach the handler in
/// the order they were dispatched.
///
/// [`dispatch`](Self::dispatch) never waits. A message for a full
/// [`Block`](crate::OverflowPolicy::Block) lane is *held* by the
/// dispatcher ([`Dispatch::Blocked`]) and the reader awaits
/// [`ready`](Self::ready), which queues it once the lane has room: that is
/// the backpressure. While any message is held, every message for a queued
/// lane (any key) is held behind it, in dispatch order, so per-key order
/// holds whatever the reader does; messages for inline handlers, and those
/// that are unrouted or fail to parse, are dealt with at once (they have no
/// queue to overtake).
///
/// Lanes are woken lazily: a lane that is already running is never woken
/// again, and parked lanes with new messages are woken by
/// [`flush`](Self::flush), which the reader calls when it has nothing more
/// at hand (the socket has no buffered message), when 64 messages wait for
/// one lane, and at the latest every 1024 dispatches. Dropping the
/// dispatcher closes the lanes; they finish what is queued and stop (held
/// messages that do not fit then are counted as dropped).
pub struct Dispatcher<R: MessageRouter> {
    pub(crate) router: Arc<R>,
    pub(crate) table: RouteTable<R::RouteKey>,
    pub(crate) lanes: Vec<LaneSlot<R::Message, R::RouteKey>>,
    pub(crate) fallback: Option<usize>,
    pub(crate) pending: Vec<usize>,
    /// Messages waiting for room in a full `Block` lane, and every queued
    /// message dispatched after them.
    pub(crate) held: Held<R::Message, R::RouteKey>,
    pub(crate) since_flush: u32,
    pub(crate) reader: Arc<ReaderCounters>,
    pub(crate) stats: RouterStats,
    /// What to wait for at shutdown, with the lane it belongs to.
    pub(crate) joins: Vec<(Arc<LaneShared>, LaneJoin)>,
    pub(crate) events: EventSink,
    /// The bytes queued in every lane, against the memory budget.
    pub(crate) budget: Arc<Budget>,
    /// This wait for the budget has been counted and reported: a `ready`
    /// cancelled and called again (the read loop answers commands while it
    /// waits) continues the same wait.
    pub(crate) budget_reported: bool,
}

impl<R: MessageRouter> Dispatcher<R> {
    /// Routes one received message, which came with `context` (its
    /// connection and receive instant: the router's parse and the handler
    /// see it); never waits.
    ///
    /// A message the router can [`classify`](MessageRouter::classify) goes
    /// to its lane raw and is parsed there; any other is parsed here and
    /// routed by its [`route_key`](MessageRouter::route_key). Panics in the
    /// router's code are caught and counted as parse errors.
    ///
    /// [`Dispatch::Blocked`]: its lane is bounded with
    /// [`OverflowPolicy::Block`](crate::OverflowPolicy::Block) and full, or
    /// an earlier message is held. The dispatcher keeps the message, in
    /// order, and the caller must await [`ready`](Self::ready) before
    /// relying on it being queued. A message for a queued lane (any key)
    /// dispatched while a message is held is held behind it: never
    /// reordered, never lost. One for an inline handler is handled at once:
    /// an inline key never has anything held to overtake.
    ///
    /// Also [`Dispatch::Blocked`], for a message that was queued, once the
    /// lanes' queues hold more than the
    /// [`MemoryBudget`](crate::MemoryBudget): the caller must await
    /// [`ready`](Self::ready), which returns when the lanes have worked
    /// them down to half the budget.
    #[inline]
    pub fn dispatch(&mut self, message: WsMessage, context: MessageContext) -> Dispatch {
        match self.dispatch_unless(message, context, |_, _, _| false) {
            Routing::Dispatched(outcome) => outcome,
            // Never kept: `keep` says no.
            Routing::Kept(routed) => self.queue(routed),
        }
    }

    /// [`dispatch`](Self::dispatch), unless `keep` wants the message
    /// once it is parsed (or classified) and its lane found: `keep` sees
    /// the router, the parsed message (`None` for a classified one, parsed
    /// later in its lane) and the raw one, and saying `true` gets it back
    /// ([`Routing::Kept`]) instead of queued, to [`queue`](Self::queue)
    /// now, later or never. The client numbers each message in `keep` (from
    /// the parse) and keeps back only those that do not follow on from
    /// their stream's last (a gap, a repeat, a stale stream's), for its
    /// stream tracker; the rest go to their lanes without being moved.
    ///
    /// A message that goes no further is [`Routing::Dispatched`] with
    /// [`Dispatch::ParseFailed`] (counted and logged; panics in the
    /// router's code and in `keep` are caught and counted as parse errors
    /// too) or [`Dispatch::Unrouted`] (no lane for its key and no fallback;
    /// counted); `keep` does not see it.
    #[inline]
    pub fn dispatch_unless<F>(
        &mut self,
        message: WsMessage,
        context: MessageContext,
        keep: F,
    ) -> Routing<R>
    where
        F: FnOnce(&R, Option<&R::Message>, &WsMessage) -> bool,
    {
        bump(&self.reader.dispatched, 1);
        let Self {
            router,
            table,
            lanes,
            pending,
            held,
            fallback,
            reader,
            events,
            ..
        } = self;
        let router = &**router;
        let routed = catch_unwind(AssertUnwindSafe(move || {
            // What the message counts against the memory budget.
            let bytes = message.len() + MemoryBudget::MESSAGE_OVERHEAD;
            let (index, parsed, key) = match router.classify(&message) {
                Some(key) => match table.get(&key) {
                    Some(index) => (Some(index), None, None),
                    // The fallback lane parses it with the key.
                    None => (None, None, Some(key)),
                },
                None => match router.parse_in_context(None, &message, &context) {
                    Ok(parsed) => (table.get(&router.route_key(&parsed)), Some(parsed), None),
                    Err(error) => {
                        bump(&reader.parse_errors, 1);
                        log_parse_failure(None, &error, &message);
                        return Routing::Dispatched(Dispatch::ParseFailed);
                    }
                },
            };
            let index = match index {
                Some(index) => index,
                None => {
                    bump(&reader.unrouted, 1);
                    let Some(index) = *fallback else {
                        tracing::debug!("message has no lane and there is no fallback");
                        return Routing::Dispatched(Dispatch::Unrouted);
                    };
                    index
                }
            };
            if keep(router, parsed.as_ref(), &message) {
                return Routing::Kept(Routed {
                    index,
                    raw: message,
                    parsed,
                    key,
                    context,
                    bytes,
                });
            }
            // Delivered where it is made: a parsed message can be hundreds
            // of bytes, and returning it through a value would copy it.
            let payload = match (parsed, key) {
                (Some(parsed), _) => Payload::Parsed(parsed),
                (None, Some(key)) => Payload::RawKeyed(message, key),
                (None, None) => Payload::Raw(message),
            };
            let to = Target {
                router,
                lanes,
                pending,
                held,
                events,
                context,
            };
            Routing::Dispatched(to.deliver(index, payload, bytes))
        }));
        match routed {
            Ok(Routing::Dispatched(outcome)) => Routing::Dispatched(self.counted(outcome)),
            Ok(kept) => kept,
            Err(panic) => {
                bump(&self.reader.parse_errors, 1);
                // The panic's text can quote the payload (a private channel's
                // data): only at DEBUG, never in the event.
                tracing::error!("router panicked; message skipped");
                tracing::debug!(message = %panic_message(panic.as_ref()), "router panic");
                (self.events)(ClientEvent::CallbackPanicked { callback: "router" });
                Routing::Dispatched(Dispatch::ParseFailed)
            }
        }
    }

    /// Queues a message [`dispatch_unless`](Self::dispatch_unless) kept,
    /// in its lane, or hands it to its inline handler; never waits. Its
    /// outcomes, and what the caller must do on [`Dispatch::Blocked`], are
    /// [`dispatch`](Self::dispatch)'s: per key, messages reach the handler
    /// in the order they are queued.
    #[inline]
    pub fn queue(&mut self, routed: Routed<R>) -> Dispatch {
        let (index, payload, context, bytes) = routed.payload();
        let to = Target {
            router: &*self.router,
            lanes: &mut self.lanes,
            pending: &mut self.pending,
            held: &mut self.held,
            events: &self.events,
            context,
        };
        let outcome = to.deliver(index, payload, bytes);
        self.counted(outcome)
    }

    /// Books a delivery towards the next flush; [`Dispatch::Blocked`] for
    /// a queued message once the lanes' queues reached the memory budget.
    #[inline]
    fn counted(&mut self, outcome: Dispatch) -> Dispatch {
        self.since_flush += 1;
        if self.since_flush >= FLUSH_EVERY {
            self.flush();
        }
        // Queues are counted when a lane is released (per chunk), so the
        // budget is seen as reached at most one flush late.
        if outcome == Dispatch::Queued && self.budget.reached() {
            return Dispatch::Blocked;
        }
        outcome
    }

    /// Waits until every held message is queued and the lanes' queues are
    /// within the memory budget; returns at once when nothing is held and
    /// the budget was not reached.
    ///
    /// Returns [`Dispatch::Queued`], or [`Dispatch::Closed`] if a held
    /// message's lane shut down meanwhile (that message is counted as
    /// dropped). Before waiting, every lane is released (as by
    /// [`flush`](Self::flush)): the reader is idle anyway, and the full lane
    /// must run to make room. A wait for the budget is counted
    /// ([`RouterMetricsSnapshot::backpressure_waits`](crate::RouterMetricsSnapshot::backpressure_waits))
    /// and reported as [`ClientEvent::MemoryBudgetReached`].
    ///
    /// # Cancel safety
    ///
    /// Cancelling keeps the held messages held (nothing is lost) and the
    /// budget reached; a later `ready` continues.
    pub async fn ready(&mut self) -> Dispatch {
        if self.held.is_empty() && !self.budget.reached() {
            return Dispatch::Queued;
        }
        // Boxed: the waiting is the rare case, and it would make every
        // caller's future bigger.
        Box::pin(self.wait_ready()).await
    }

    /// The waiting part of [`ready`](Self::ready): held messages first,
    /// then the budget.
    async fn wait_ready(&mut self) -> Dispatch {
        let queued = if self.held.is_empty() {
            Dispatch::Queued
        } else {
            self.queue_held().await
        };
        if self.budget.reached() {
            self.wait_for_budget().await;
        }
        queued
    }

    /// Waits until the lanes have worked their queues down to half the
    /// memory budget.
    async fn wait_for_budget(&mut self) {
        // Hand the lanes everything, so that they can drain it all.
        self.flush();
        let budget = Arc::clone(&self.budget);
        if !std::mem::replace(&mut self.budget_reported, true) {
            bump(&budget.waits, 1);
            // What stopped the reader: lanes may have taken some since.
            let queued_bytes = budget.reached_total();
            let limit = budget.limit().unwrap_or(usize::MAX);
            tracing::info!(queued_bytes, limit, "memory budget reached; reading paused");
            (self.events)(ClientEvent::MemoryBudgetReached {
                queued_bytes,
                limit,
            });
        }
        loop {
            let mut room = pin!(budget.room.notified());
            room.as_mut().enable();
            if budget.has_room() {
                break;
            }
            room.await;
        }
        budget.clear_reached();
        self.budget_reported = false;
        tracing::debug!(queued_bytes = budget.queued(), "reading resumed");
    }

    /// The waiting part of [`ready`](Self::ready). Held messages stay in the
    /// queue of held ones until they are pushed, so a cancelled wait loses
    /// nothing.
    async fn queue_held(&mut self) -> Dispatch {
        let mut closed = self.push_held().closed;
        while let Some(&(index, _)) = self.held.front() {
            let Some(LaneSlot::Queued(queue)) = self.lanes.get(index) else {
                // Not a queued lane: the next `push_held` drops it.
                closed |= self.push_held().closed;
                continue;
            };
            let shared = Arc::clone(&queue.shared);
            self.flush();
            // The full lane must run to make room: wake it now.
            shared.wake_if_sleeping();
            let mut room = pin!(shared.room.notified());
            room.as_mut().enable();
            shared.announce_reader_waiting();
            // Try again after announcing: room made before the announcement
            // is found here, room made after it is signalled.
            let again = self.push_held();
            closed |= again.closed;
            if again.taken == 0 {
                room.await;
                closed |= self.push_held().closed;
            }
            shared.clear_reader_waiting();
        }
        if closed {
            Dispatch::Closed
        } else {
            Dispatch::Queued
        }
    }

    /// Queues held messages, oldest first, while they fit.
    fn push_held(&mut self) -> HeldPushed {
        push_held(&mut self.lanes, &mut self.pending, &mut self.held)
    }

    /// Wakes every parked lane that has received messages since the last flush.
    #[inline]
    pub fn flush(&mut self) {
        self.since_flush = 0;
        for index in self.pending.drain(..) {
            if let Some(LaneSlot::Queued(queue)) = self.lanes.get_mut(index) {
                queue.release();
            }
        }
    }

    /// A clonable view of the router's figures.
    pub fn stats(&self) -> RouterStats {
        self.stats.clone()
    }

    /// The router.
    pub fn router(&self) -> &Arc<R> {
        &self.router
    }

    /// Stops the lanes and waits until every thread and task of theirs has
    /// ended.
    ///
    /// [`Graceful`](ShutdownMode::Graceful) first queues the held messages
    /// (waiting for room, as [`ready`](Self::ready) does), then lets each
    /// lane handle what is queued; [`Abort`](ShutdownMode::Abort) drops what
    /// is held and queued (counted as dropped). A handler that never returns
    /// keeps this waiting: see [`shutdown_until`](Self::shutdown_until) for
    /// a bounded shutdown.
    ///
    /// # Cancel safety
    ///
    /// Cancelling while held messages wait for room drops the dispatcher:
    /// the lanes are closed and the held messages that do not fit are
    /// counted as dropped. Cancelling later stops the waiting only: the
    /// lanes are already told to stop and end on their own.
    pub async fn shutdown(self, mode: ShutdownMode) {
        self.stop(mode, StopWaiting::<std::future::Pending<()>>::Never)
            .await;
    }

    /// [`shutdown`](Self::shutdown), waiting only until `stop_waiting`
    /// completes (a timer, a signal, or both in turn). Held messages that
    /// did not fit by then are dropped (counted); a lane still busy then is
    /// abandoned: a thread lane's thread is left to end on its own
    /// (detached), a task lane is aborted; each is counted
    /// ([`RouterMetricsSnapshot::abandoned_lanes`](crate::RouterMetricsSnapshot::abandoned_lanes))
    /// and reported ([`ClientEvent::LaneAbandoned`]).
    ///
    /// # Cancel safety
    ///
    /// As [`shutdown`](Self::shutdown)'s.
    pub async fn shutdown_until<F>(self, mode: ShutdownMode, stop_waiting: F)
    where
        F: Future<Output = ()>,
    {
        let stop_waiting = pin!(stop_waiting);
        self.stop(mode, StopWaiting::Pending(stop_waiting)).await;
    }

    /// The shutdown, waiting as `until` says.
    async fn stop<S: Future<Output = ()>>(
        mut self,
        mode: ShutdownMode,
        mut until: StopWaiting<'_, S>,
    ) {
        // Held messages only: the lanes drain anyway, the budget is moot.
        // What does not fit in time is dropped (and counted) below.
        if mode == ShutdownMode::Graceful && !self.held.is_empty() {
            until.wait(Box::pin(self.queue_held())).await;
        }
        let lanes = self.close_lanes(mode);
        let joins = std::mem::take(&mut self.joins);
        let (reader, events) = (Arc::clone(&self.reader), Arc::clone(&self.events));
        drop(self);
        drop(lanes);
        for (lane, join) in joins {
            let finished = match join {
                LaneJoin::Task(mut handle) => match until.wait(&mut handle).await {
                    Some(Err(error)) => {
                        tracing::error!(%error, "lane task failed");
                        true
                    }
                    Some(Ok(())) => true,
                    None => {
                        handle.abort();
                        false
                    }
                },
                LaneJoin::Pool(lane_future) => {
                    let ended = until.wait(lane.ended()).await.is_some();
                    if !ended {
                        lane_future.cancel();
                    }
                    ended
                }
                LaneJoin::Thread(handle) => {
                    // With a bound, waited for through a signal first, not
                    // `join`: a stuck thread must not hold a blocking thread
                    // (which would also hold up the runtime's own shutdown).
                    // Without one, joined on the spot.
                    let ended = match until {
                        StopWaiting::Never => true,
                        _ => until.wait(lane.ended()).await.is_some(),
                    };
                    if ended {
                        join_thread(handle).await;
                    }
                    ended
                }
            };
            if !finished {
                bump(&reader.abandoned_lanes, 1);
                tracing::warn!(lane = %lane.key, "lane did not finish in time: abandoned");
                events(ClientEvent::LaneAbandoned {
                    lane: lane.key.clone(),
                });
            }
        }
    }

    /// Closes every queue and wakes every lane so it notices. Held messages
    /// are queued if they fit (graceful) and counted as dropped otherwise.
    fn close_lanes(&mut self, mode: ShutdownMode) -> Arc<[Arc<LaneShared>]> {
        if mode == ShutdownMode::Graceful {
            self.push_held();
        }
        self.drop_held();
        let shared = Arc::clone(&self.stats.lanes);
        if mode == ShutdownMode::Abort {
            for lane in shared.iter() {
                lane.abort.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        // Dropping the queues drops the senders: lanes see `Disconnected`
        // once they have drained (or, on abort, dropped) what is queued.
        self.lanes.clear();
        self.pending.clear();
        for lane in shared.iter() {
            lane.force_wake();
        }
        shared
    }

    /// Drops every held message, counting each against its lane.
    fn drop_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        tracing::debug!(held = self.held.len(), "dropping held messages");
        for (index, _) in self.held.drain(..) {
            if let Some(LaneSlot::Queued(queue)) = self.lanes.get(index) {
                bump(&queue.shared.counters.reader.dropped_unqueued, 1);
            }
        }
    }
}

/// How long a shutdown waits.
enum StopWaiting<'a, S> {
    /// For ever.
    Never,
    /// Until this completes.
    Pending(Pin<&'a mut S>),
    /// No longer: it has completed.
    Passed,
}

impl<S: Future<Output = ()>> StopWaiting<'_, S> {
    /// Awaits `future` while waiting is still on; `None` once it is over
    /// (a future that is ready at once still counts).
    async fn wait<F: Future>(&mut self, future: F) -> Option<F::Output> {
        let stop = match self {
            Self::Never => return Some(future.await),
            Self::Passed => return future.now_or_never(),
            Self::Pending(stop) => stop,
        };
        let mut future = pin!(future);
        // The future first: one that is ready wins over a stop due too.
        let output = poll_fn(|cx| match future.as_mut().poll(cx) {
            Poll::Ready(output) => Poll::Ready(Some(output)),
            Poll::Pending => stop.as_mut().poll(cx).map(|()| None),
        })
        .await;
        if output.is_none() {
            *self = Self::Passed;
        }
        output
    }
}

/// Joins a lane thread that has signalled its end (so the join is brief).
async fn join_thread(handle: std::thread::JoinHandle<()>) {
    let joined = match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime
            .spawn_blocking(move || handle.join().is_ok())
            .await
            .unwrap_or(false),
        Err(_) => handle.join().is_ok(),
    };
    if !joined {
        tracing::error!("lane thread panicked");
    }
}

/// What [`push_held`] did.
#[derive(Clone, Copy, Debug, Default)]
struct HeldPushed {
    /// Messages taken off the held queue (queued, dropped by a policy, or
    /// lost to a closed lane).
    taken: usize,
    /// Whether a lane had shut down.
    closed: bool,
}

/// Queues held messages, oldest first, until one does not fit (its `Block`
/// lane is full). A message whose lane has shut down is counted as dropped.
fn push_held<M, K>(
    lanes: &mut [LaneSlot<M, K>],
    pending: &mut Vec<usize>,
    held: &mut Held<M, K>,
) -> HeldPushed {
    let mut pushed = HeldPushed::default();
    while let Some((index, envelope)) = held.pop_front() {
        // Only queued lanes' messages are held, and the lanes go away only
        // at shutdown, which pushes nothing afterwards: the `else` is moot.
        if let Some(LaneSlot::Queued(queue)) = lanes.get_mut(index) {
            match queue.try_push_envelope(envelope) {
                Err(envelope) => {
                    held.push_front((index, envelope));
                    break;
                }
                Ok(Dispatch::Closed) => {
                    bump(&queue.shared.counters.reader.dropped_unqueued, 1);
                    pushed.closed = true;
                }
                Ok(outcome) => {
                    booked(queue, pending, index, outcome);
                }
            }
        } else {
            pushed.closed = true;
        }
        pushed.taken += 1;
    }
    pushed
}

/// Where [`Dispatcher::dispatch_unless`] and [`Dispatcher::queue`]
/// deliver: the dispatcher's lanes, borrowed apart from its route table.
struct Target<'a, R: MessageRouter> {
    router: &'a R,
    lanes: &'a mut Vec<LaneSlot<R::Message, R::RouteKey>>,
    pending: &'a mut Vec<usize>,
    held: &'a mut Held<R::Message, R::RouteKey>,
    events: &'a EventSink,
    /// The message's connection and receive instant.
    context: MessageContext,
}

impl<R: MessageRouter> Target<'_, R> {
    /// Queues `payload` (`bytes` for the memory budget) in lane `index`, or
    /// hands it to an inline handler.
    #[inline]
    fn deliver(
        self,
        index: usize,
        payload: Payload<R::Message, R::RouteKey>,
        bytes: usize,
    ) -> Dispatch {
        if !self.held.is_empty() {
            return self.deliver_behind_held(index, payload, bytes);
        }
        self.deliver_now(index, payload, bytes)
    }

    /// [`deliver`](Self::deliver) with nothing held.
    #[inline]
    fn deliver_now(
        self,
        index: usize,
        payload: Payload<R::Message, R::RouteKey>,
        bytes: usize,
    ) -> Dispatch {
        let Some(slot) = self.lanes.get_mut(index) else {
            return Dispatch::Closed;
        };
        match slot {
            LaneSlot::Queued(queue) => match queue.try_push(payload, self.context, bytes) {
                Ok(outcome) => booked(queue, self.pending, index, outcome),
                Err(envelope) => hold(self.held, index, envelope),
            },
            LaneSlot::Inline { lane, key } => handle_inline(
                self.router,
                self.events,
                lane,
                key.as_ref(),
                payload,
                &self.context,
            ),
        }
    }

    /// [`deliver`](Self::deliver) while messages are held: what fits of
    /// them goes first (the caller may not have awaited `ready`); if some
    /// are still held, a message for a queued lane is held behind them.
    #[cold]
    #[inline(never)]
    fn deliver_behind_held(
        self,
        index: usize,
        payload: Payload<R::Message, R::RouteKey>,
        bytes: usize,
    ) -> Dispatch {
        push_held(self.lanes, self.pending, self.held);
        if self.held.is_empty() {
            return self.deliver_now(index, payload, bytes);
        }
        match self.lanes.get_mut(index) {
            None => Dispatch::Closed,
            Some(LaneSlot::Queued(queue)) => {
                let envelope = queue.envelope(payload, self.context, bytes);
                hold(self.held, index, envelope)
            }
            Some(LaneSlot::Inline { lane, key }) => handle_inline(
                self.router,
                self.events,
                lane,
                key.as_ref(),
                payload,
                &self.context,
            ),
        }
    }
}

/// Runs an inline handler on `payload`; `key` is the lane's key (`None`
/// for an inline fallback), to parse classified messages with.
#[inline]
fn handle_inline<R: MessageRouter>(
    router: &R,
    events: &EventSink,
    lane: &mut InlineLane<R::Message>,
    key: Option<&R::RouteKey>,
    payload: Payload<R::Message, R::RouteKey>,
    context: &MessageContext,
) -> Dispatch {
    // The handler's panics are caught in `call`.
    let received = context.received_at;
    let result = match payload {
        // Straight to the handler, no `Option` in between.
        Payload::Parsed(message) => Some(lane.call(router, message, received)),
        Payload::Raw(raw) => key
            .and_then(|key| parse_in_lane(router, key, &raw, context, &lane.shared, events))
            .map(|message| lane.call(router, message, received)),
        Payload::RawKeyed(raw, key) => {
            parse_in_lane(router, &key, &raw, context, &lane.shared, events)
                .map(|message| lane.call(router, message, received))
        }
    };
    if let Some(result) = result {
        record_result(&lane.shared, events, result);
    }
    Dispatch::HandledInline
}

/// Holds a message that must wait for room (or for the held ones before it).
#[cold]
fn hold<M, K>(held: &mut Held<M, K>, index: usize, envelope: Envelope<M, K>) -> Dispatch {
    held.push_back((index, envelope));
    Dispatch::Blocked
}

/// Books a push into lane `index`: counts it towards the lane's release.
#[inline]
fn booked<M, K>(
    queue: &mut LaneQueue<M, K>,
    pending: &mut Vec<usize>,
    index: usize,
    outcome: Dispatch,
) -> Dispatch {
    if outcome == Dispatch::Queued {
        queue.unwoken += 1;
        if queue.unwoken == 1 {
            pending.push(index);
        } else if queue.unwoken >= WAKE_BATCH {
            // Enough for this lane alone: release it now; the next flush
            // skips it unless more arrive.
            queue.release();
        }
    }
    outcome
}

impl<R: MessageRouter> Drop for Dispatcher<R> {
    fn drop(&mut self) {
        if !self.lanes.is_empty() {
            self.close_lanes(ShutdownMode::Graceful);
        }
    }
}

impl<R: MessageRouter> fmt::Debug for Dispatcher<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("lanes", &self.lanes.len())
            .field("fallback", &self.fallback.is_some())
            .field("pending_wakes", &self.pending.len())
            .field("held", &self.held.len())
            .finish_non_exhaustive()
    }
}
