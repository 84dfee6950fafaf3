//! The reader's side of the router: classify or parse, pick the lane, queue.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use hypersockets_core::{MessageRouter, ParseError, WsMessage};

use crate::config::ShutdownMode;
use crate::events::EventSink;
use crate::excerpt::{excerpt, panic_message};
use crate::lane::envelope::{Envelope, Payload};
use crate::lane::queue::PushOutcome;
use crate::lane::shared::LaneShared;
use crate::lane::worker::{parse_in_lane, record_result};
use crate::lane::{LaneJoin, LaneSlot};
use crate::metrics::{ReaderCounters, bump};
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

/// What [`Dispatcher::dispatch`] did with a message.
#[derive(Debug)]
#[non_exhaustive]
pub enum DispatchOutcome {
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
    ParseFailed(ParseError),
    /// The lane is shut down.
    Closed,
}

/// The synchronous part of a dispatch: done, or waiting for room.
enum Dispatched<M, K> {
    Done(DispatchOutcome),
    /// Boxed: this value comes back from every dispatch, and a parsed
    /// message inside it would make it as big as the biggest one.
    Blocked(usize, Box<Envelope<M, K>>),
}

/// A message waiting for room in its full
/// [`Block`](crate::OverflowPolicy::Block) lane; see
/// [`Dispatcher::try_dispatch`].
pub struct BlockedDispatch<R: MessageRouter> {
    index: usize,
    envelope: Box<Envelope<R::Message, R::RouteKey>>,
}

impl<R: MessageRouter> BlockedDispatch<R> {
    /// Waits for room in the lane and queues the message.
    ///
    /// # Cancel safety
    ///
    /// Cancelling drops the message.
    pub async fn wait(self, dispatcher: &mut Dispatcher<R>) -> DispatchOutcome {
        let Some(LaneSlot::Queued(queue)) = dispatcher.lanes.get_mut(self.index) else {
            return DispatchOutcome::Closed;
        };
        let pushed = queue.push_blocking(*self.envelope).await;
        queued(
            &mut dispatcher.lanes,
            &mut dispatcher.pending,
            self.index,
            pushed,
        )
    }
}

impl<R: MessageRouter> fmt::Debug for BlockedDispatch<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockedDispatch")
            .field("lane", &self.index)
            .finish_non_exhaustive()
    }
}

/// Takes messages from the reader and puts each in its route key's lane.
///
/// Owned by the reader (`&mut self`, no locks). Per key, messages reach the
/// handler in the order they were dispatched.
///
/// Lanes are woken lazily: a lane that is already running is never woken
/// again, and parked lanes with new messages are woken by
/// [`flush`](Self::flush), which the reader calls when it has nothing more
/// at hand (the socket has no buffered message), when 64 messages wait for
/// one lane, and at the latest every 1024 dispatches. Dropping the dispatcher closes the lanes; they finish
/// what is queued and stop.
pub struct Dispatcher<R: MessageRouter> {
    pub(crate) router: Arc<R>,
    pub(crate) table: RouteTable<R::RouteKey>,
    pub(crate) lanes: Vec<LaneSlot<R::Message, R::RouteKey>>,
    pub(crate) fallback: Option<usize>,
    pub(crate) pending: Vec<usize>,
    pub(crate) since_flush: u32,
    pub(crate) reader: Arc<ReaderCounters>,
    pub(crate) stats: RouterStats,
    pub(crate) joins: Vec<LaneJoin>,
    pub(crate) events: EventSink,
}

impl<R: MessageRouter> Dispatcher<R> {
    /// Routes one received message.
    ///
    /// A message the router can [`classify`](MessageRouter::classify) goes
    /// to its lane raw and is parsed there; any other is parsed here and
    /// routed by its [`route_key`](MessageRouter::route_key). Panics in the
    /// router's code are caught and counted as parse errors.
    ///
    /// Awaits only when the lane is bounded with
    /// [`OverflowPolicy::Block`](crate::OverflowPolicy::Block) and full.
    ///
    /// # Cancel safety
    ///
    /// Cancelling while it waits for room in a full `Block` lane drops the
    /// message; every other path completes without awaiting.
    pub async fn dispatch(&mut self, message: WsMessage) -> DispatchOutcome {
        match self.try_dispatch(message) {
            Ok(outcome) => outcome,
            // The slow path is boxed so that this future stays a few words.
            Err(blocked) => Box::pin(blocked.wait(self)).await,
        }
    }

    /// Routes one received message without waiting: what
    /// [`dispatch`](Self::dispatch) does, for a read loop that handles
    /// messages the socket has already buffered without creating a future
    /// per message.
    ///
    /// Returns `Err` only when the message's lane is bounded with
    /// [`OverflowPolicy::Block`](crate::OverflowPolicy::Block) and full; the
    /// message is then inside the [`BlockedDispatch`], which
    /// [`wait`](BlockedDispatch::wait)s for room.
    #[inline]
    pub fn try_dispatch(
        &mut self,
        message: WsMessage,
    ) -> Result<DispatchOutcome, BlockedDispatch<R>> {
        match self.dispatch_now(message) {
            Dispatched::Done(outcome) => Ok(outcome),
            Dispatched::Blocked(index, envelope) => Err(BlockedDispatch { index, envelope }),
        }
    }

    #[inline]
    fn dispatch_now(&mut self, message: WsMessage) -> Dispatched<R::Message, R::RouteKey> {
        bump(&self.reader.dispatched, 1);
        let dispatched = self.route(message);
        self.since_flush += 1;
        if self.since_flush >= FLUSH_EVERY {
            self.flush();
        }
        dispatched
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

    /// Classifies or parses `message` and delivers it to its lane.
    ///
    /// Everything happens inside one `catch_unwind` (panics in the router's
    /// code are caught and counted as parse errors), and the payload is
    /// delivered where it is made: a parsed message can be hundreds of bytes,
    /// and returning it through a value would copy it each time.
    #[inline]
    fn route(&mut self, message: WsMessage) -> Dispatched<R::Message, R::RouteKey> {
        let Self {
            router,
            table,
            lanes,
            pending,
            fallback,
            reader,
            events,
            ..
        } = self;
        let router = &**router;
        let to = Target {
            router,
            lanes,
            pending,
            events,
        };
        let routed = catch_unwind(AssertUnwindSafe(move || {
            if let Some(key) = router.classify(&message) {
                return match table.get(&key) {
                    Some(index) => to.deliver(index, Payload::Raw(message)),
                    None => to.unrouted(reader, *fallback, Payload::RawKeyed(message, key)),
                };
            }
            match router.parse(&message) {
                Ok(parsed) => match table.get(&router.route_key(&parsed)) {
                    Some(index) => to.deliver(index, Payload::Parsed(parsed)),
                    None => to.unrouted(reader, *fallback, Payload::Parsed(parsed)),
                },
                Err(error) => {
                    bump(&reader.parse_errors, 1);
                    tracing::warn!(%error, payload = %excerpt(&message), "parse failed");
                    Dispatched::Done(DispatchOutcome::ParseFailed(error))
                }
            }
        }));
        routed.unwrap_or_else(|panic| {
            let message = panic_message(panic.as_ref());
            bump(&self.reader.parse_errors, 1);
            tracing::error!(%message, "router panicked; message skipped");
            Dispatched::Done(DispatchOutcome::ParseFailed(ParseError::new(format!(
                "router panicked: {message}"
            ))))
        })
    }

    /// Stops the lanes and waits until every thread and task of theirs has
    /// ended.
    ///
    /// [`Graceful`](ShutdownMode::Graceful) lets each lane handle what is
    /// queued first; [`Abort`](ShutdownMode::Abort) drops it (counted as
    /// dropped). A handler that never returns keeps a graceful shutdown
    /// waiting: wrap the call in a timeout if that can happen.
    ///
    /// # Cancel safety
    ///
    /// Cancelling stops the waiting only: the lanes are already told to
    /// stop and end on their own.
    pub async fn shutdown(mut self, mode: ShutdownMode) {
        let lanes = self.close_lanes(mode);
        let joins = std::mem::take(&mut self.joins);
        drop(self);
        drop(lanes);
        for join in joins {
            match join {
                LaneJoin::Task(handle) => {
                    if let Err(error) = handle.await {
                        tracing::error!(%error, "lane task failed");
                    }
                }
                LaneJoin::Thread(handle) => {
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
            }
        }
    }

    /// Closes every queue and wakes every lane so it notices.
    fn close_lanes(&mut self, mode: ShutdownMode) -> Arc<[Arc<LaneShared>]> {
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
}

/// Where [`Dispatcher::route`] delivers: the dispatcher's lanes, borrowed
/// apart from its route table.
struct Target<'a, R: MessageRouter> {
    router: &'a R,
    lanes: &'a mut Vec<LaneSlot<R::Message, R::RouteKey>>,
    pending: &'a mut Vec<usize>,
    events: &'a EventSink,
}

impl<R: MessageRouter> Target<'_, R> {
    /// Queues `payload` in lane `index`, or hands it to an inline handler.
    #[inline]
    fn deliver(
        self,
        index: usize,
        payload: Payload<R::Message, R::RouteKey>,
    ) -> Dispatched<R::Message, R::RouteKey> {
        let Some(slot) = self.lanes.get_mut(index) else {
            return Dispatched::Done(DispatchOutcome::Closed);
        };
        match slot {
            LaneSlot::Queued(queue) => match queue.try_push(payload) {
                Ok(pushed) => Dispatched::Done(queued(self.lanes, self.pending, index, pushed)),
                Err(envelope) => Dispatched::Blocked(index, Box::new(envelope)),
            },
            LaneSlot::Inline { lane, key } => {
                // The handler's panics are caught in `call`.
                let result = match payload {
                    // Straight to the handler, no `Option` in between.
                    Payload::Parsed(message) => Some(lane.call(message)),
                    Payload::Raw(raw) => key
                        .as_ref()
                        .and_then(|key| {
                            parse_in_lane(self.router, key, &raw, &lane.shared, self.events)
                        })
                        .map(|message| lane.call(message)),
                    Payload::RawKeyed(raw, key) => {
                        parse_in_lane(self.router, &key, &raw, &lane.shared, self.events)
                            .map(|message| lane.call(message))
                    }
                };
                if let Some(result) = result {
                    record_result(&lane.shared, self.events, result);
                }
                Dispatched::Done(DispatchOutcome::HandledInline)
            }
        }
    }

    /// A message whose key has no lane: to the fallback lane, if any.
    #[inline]
    fn unrouted(
        self,
        reader: &ReaderCounters,
        fallback: Option<usize>,
        payload: Payload<R::Message, R::RouteKey>,
    ) -> Dispatched<R::Message, R::RouteKey> {
        bump(&reader.unrouted, 1);
        match fallback {
            Some(index) => self.deliver(index, payload),
            None => {
                tracing::debug!("message has no lane and there is no fallback");
                Dispatched::Done(DispatchOutcome::Unrouted)
            }
        }
    }
}

/// Books a push into lane `index`: counts it towards the lane's release.
#[inline]
fn queued<M, K>(
    lanes: &mut [LaneSlot<M, K>],
    pending: &mut Vec<usize>,
    index: usize,
    pushed: PushOutcome,
) -> DispatchOutcome {
    match pushed {
        PushOutcome::Queued => {
            if let Some(LaneSlot::Queued(queue)) = lanes.get_mut(index) {
                queue.unwoken += 1;
                if queue.unwoken == 1 {
                    pending.push(index);
                } else if queue.unwoken >= WAKE_BATCH {
                    // Enough for this lane alone: release it now; the next
                    // flush skips it unless more arrive.
                    queue.release();
                }
            }
            DispatchOutcome::Queued
        }
        PushOutcome::Dropped => DispatchOutcome::Dropped,
        PushOutcome::Closed => DispatchOutcome::Closed,
    }
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
            .finish_non_exhaustive()
    }
}
