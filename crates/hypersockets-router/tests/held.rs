//! Messages the dispatcher holds. A full `Block` lane makes `dispatch`
//! return `Blocked`; that message and every later one for a queued lane
//! (any key) wait in the dispatcher, in dispatch order, until `ready()`
//! queues them. Cancelling `ready()` loses nothing; a graceful shutdown
//! handles held messages, an abort drops and counts them.
//!
//! Key 1's lane is bounded (capacity 1, `Block`) and its handler is held on
//! message 0 with message 1 queued behind it, so the lane is full until the
//! test opens the gate. Key 2's lane is unbounded.

mod support;

use std::pin::pin;

use hypersockets_core::MessageContext;
use hypersockets_router::{
    Dispatch, Dispatcher, LaneConfig, LaneKind, OverflowPolicy, RouterBuilder, RouterStats,
    ShutdownMode,
};
use support::{
    Gate, GateWait, Recorder, Seen, TestRouter, lane_figures, next_seen, seen_channel,
    still_pending, take_seen, text, text_with, until_closed, within,
};
use tokio::sync::mpsc::UnboundedReceiver;

struct FullLane {
    dispatcher: Dispatcher<TestRouter>,
    stats: RouterStats,
    gate: Gate,
    seen: UnboundedReceiver<Seen>,
}

impl FullLane {
    async fn new(kind: LaneKind) -> Self {
        let gate = Gate::new();
        let (tx, mut seen) = seen_channel();
        let mut dispatcher = RouterBuilder::new(TestRouter::parsing())
            .handler_with_config(
                1,
                Recorder::new(Some(1), &tx).gated(&gate, GateWait::for_kind(kind)),
                LaneConfig::default()
                    .kind(kind)
                    .capacity(1)
                    .overflow(OverflowPolicy::Block),
            )
            .handler_with_config(
                2,
                Recorder::new(Some(2), &tx),
                LaneConfig::default().kind(kind),
            )
            .build()
            .expect("build");
        drop(tx);
        let stats = dispatcher.stats();
        assert_eq!(
            dispatcher.dispatch(text_with(1, 0, "do=hold"), MessageContext::now(1)),
            Dispatch::Queued
        );
        dispatcher.flush();
        let first = next_seen(&mut seen).await;
        assert_eq!((first.lane, first.msg.seq), (Some(1), 0), "held on 0");
        assert_eq!(
            dispatcher.dispatch(text(1, 1), MessageContext::now(1)),
            Dispatch::Queued
        );
        Self {
            dispatcher,
            stats,
            gate,
            seen,
        }
    }

    /// Dispatches `(key, seq)` pairs; each must be held.
    fn dispatch_held(&mut self, messages: &[(u32, u64)]) {
        for &(key, seq) in messages {
            assert_eq!(
                self.dispatcher
                    .dispatch(text(key, seq), MessageContext::now(1)),
                Dispatch::Blocked,
                "({key}, {seq})"
            );
        }
    }

    /// How many messages lane `key` has had queued.
    fn enqueued(&self, key: u32) -> u64 {
        lane_figures(&self.stats, &key.to_string()).enqueued
    }
}

/// The sequence numbers each lane saw, in order.
fn per_lane(seen: &[Seen]) -> (Vec<u64>, Vec<u64>) {
    let of = |key| {
        seen.iter()
            .filter(|one| one.lane == Some(key))
            .map(|one| one.msg.seq)
            .collect()
    };
    (of(1), of(2))
}

async fn held_messages_are_queued_in_order_by_ready(kind: LaneKind) {
    let mut lanes = FullLane::new(kind).await;
    lanes.dispatch_held(&[(1, 2), (2, 3), (1, 4), (2, 5)]);
    assert_eq!(lanes.enqueued(1), 2, "only 0 and 1 are queued");
    assert_eq!(lanes.enqueued(2), 0, "key 2 waits behind the held message");

    {
        let mut ready = pin!(lanes.dispatcher.ready());
        assert!(
            still_pending(ready.as_mut()).await,
            "ready() returned while the full lane's handler was held"
        );
        lanes.gate.open();
        assert_eq!(within("ready", ready).await, Dispatch::Queued);
    }
    assert_eq!(lanes.enqueued(1), 4);
    assert_eq!(lanes.enqueued(2), 2);
    // Nothing is held any more: a dispatch goes straight to its lane.
    assert_eq!(
        lanes
            .dispatcher
            .dispatch(text(2, 6), MessageContext::now(1)),
        Dispatch::Queued
    );
    lanes.dispatcher.flush();
    let (one, two) = per_lane(&take_seen(&mut lanes.seen, 6).await);
    assert_eq!(one, [1, 2, 4]);
    assert_eq!(two, [3, 5, 6]);

    within(
        "shutdown",
        lanes.dispatcher.shutdown(ShutdownMode::Graceful),
    )
    .await;
    assert!(until_closed(&mut lanes.seen).await.is_empty());
    for (key, delivered) in [("1", 4), ("2", 3)] {
        let figures = lane_figures(&lanes.stats, key);
        assert_eq!(figures.delivered, delivered, "{figures:?}");
        assert_eq!(figures.dropped, 0, "{figures:?}");
    }
}

#[tokio::test]
async fn held_messages_are_queued_in_order_thread_lanes() {
    held_messages_are_queued_in_order_by_ready(LaneKind::Thread).await;
}

#[tokio::test]
async fn held_messages_are_queued_in_order_pool_lanes() {
    held_messages_are_queued_in_order_by_ready(LaneKind::Pool).await;
}

#[tokio::test]
async fn held_messages_are_queued_in_order_task_lanes() {
    held_messages_are_queued_in_order_by_ready(LaneKind::Task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_messages_are_queued_in_order_task_lanes_multi_thread() {
    held_messages_are_queued_in_order_by_ready(LaneKind::Task).await;
}

async fn a_cancelled_ready_loses_nothing(kind: LaneKind) {
    let mut lanes = FullLane::new(kind).await;
    lanes.dispatch_held(&[(1, 2), (2, 3)]);

    // `biased`: `ready()` is polled first, so it has started waiting for
    // room (the gate is closed) when the fired oneshot ends the select and
    // drops it.
    let (fire, fired) = tokio::sync::oneshot::channel::<()>();
    fire.send(()).expect("fire");
    tokio::select! {
        biased;
        outcome = lanes.dispatcher.ready() => {
            panic!("ready() returned while the full lane's handler was held: {outcome:?}")
        }
        _ = fired => {}
    }
    assert_eq!(lanes.enqueued(1), 2, "2 is still held");
    assert_eq!(lanes.enqueued(2), 0, "3 is still held");
    lanes.dispatch_held(&[(2, 4)]);

    lanes.gate.open();
    assert_eq!(
        within("ready", lanes.dispatcher.ready()).await,
        Dispatch::Queued
    );
    lanes.dispatcher.flush();
    let (one, two) = per_lane(&take_seen(&mut lanes.seen, 4).await);
    assert_eq!(one, [1, 2]);
    assert_eq!(two, [3, 4]);
    within(
        "shutdown",
        lanes.dispatcher.shutdown(ShutdownMode::Graceful),
    )
    .await;
    let figures = lanes.stats.snapshot();
    assert!(
        figures.lanes.iter().all(|lane| lane.dropped == 0),
        "{figures:?}"
    );
}

#[tokio::test]
async fn a_cancelled_ready_loses_nothing_thread_lanes() {
    a_cancelled_ready_loses_nothing(LaneKind::Thread).await;
}

#[tokio::test]
async fn a_cancelled_ready_loses_nothing_pool_lanes() {
    a_cancelled_ready_loses_nothing(LaneKind::Pool).await;
}

#[tokio::test]
async fn a_cancelled_ready_loses_nothing_task_lanes() {
    a_cancelled_ready_loses_nothing(LaneKind::Task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_ready_loses_nothing_task_lanes_multi_thread() {
    a_cancelled_ready_loses_nothing(LaneKind::Task).await;
}

async fn a_graceful_shutdown_handles_held_messages(kind: LaneKind) {
    let mut lanes = FullLane::new(kind).await;
    lanes.dispatch_held(&[(1, 2), (2, 3), (1, 4)]);
    let mut shutdown = pin!(lanes.dispatcher.shutdown(ShutdownMode::Graceful));
    assert!(
        still_pending(shutdown.as_mut()).await,
        "a graceful shutdown returned while a handler was held"
    );
    lanes.gate.open();
    within("graceful shutdown", shutdown).await;
    let (one, two) = per_lane(&until_closed(&mut lanes.seen).await);
    assert_eq!(one, [1, 2, 4]);
    assert_eq!(two, [3]);
    for (key, delivered) in [("1", 4), ("2", 1)] {
        let figures = lane_figures(&lanes.stats, key);
        assert_eq!(figures.delivered, delivered, "{figures:?}");
        assert_eq!(figures.dropped, 0, "{figures:?}");
    }
}

#[tokio::test]
async fn a_graceful_shutdown_handles_held_messages_thread_lanes() {
    a_graceful_shutdown_handles_held_messages(LaneKind::Thread).await;
}

#[tokio::test]
async fn a_graceful_shutdown_handles_held_messages_pool_lanes() {
    a_graceful_shutdown_handles_held_messages(LaneKind::Pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_shutdown_handles_held_messages_task_lanes() {
    a_graceful_shutdown_handles_held_messages(LaneKind::Task).await;
}

async fn an_abort_drops_and_counts_held_messages(kind: LaneKind) {
    let mut lanes = FullLane::new(kind).await;
    lanes.dispatch_held(&[(1, 2), (2, 3), (1, 4)]);
    let mut shutdown = pin!(lanes.dispatcher.shutdown(ShutdownMode::Abort));
    assert!(
        still_pending(shutdown.as_mut()).await,
        "the abort returned while a handler was held"
    );
    lanes.gate.open();
    within("abort", shutdown).await;
    assert!(
        until_closed(&mut lanes.seen).await.is_empty(),
        "a message reached a handler after the abort"
    );
    let one = lane_figures(&lanes.stats, "1");
    assert_eq!(one.delivered, 1, "only 0: {one:?}");
    assert_eq!(one.dropped, 3, "1 (queued), 2 and 4 (held): {one:?}");
    assert_eq!(one.enqueued, 2, "{one:?}");
    let two = lane_figures(&lanes.stats, "2");
    assert_eq!(two.delivered, 0, "{two:?}");
    assert_eq!(two.dropped, 1, "3 (held): {two:?}");
    assert_eq!(two.enqueued, 0, "{two:?}");
}

#[tokio::test]
async fn an_abort_drops_and_counts_held_messages_thread_lanes() {
    an_abort_drops_and_counts_held_messages(LaneKind::Thread).await;
}

#[tokio::test]
async fn an_abort_drops_and_counts_held_messages_pool_lanes() {
    an_abort_drops_and_counts_held_messages(LaneKind::Pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_drops_and_counts_held_messages_task_lanes() {
    an_abort_drops_and_counts_held_messages(LaneKind::Task).await;
}

/// A dispatch made once the full lane has room first queues what is held
/// (the reader need not have awaited `ready()`), then goes straight through.
async fn a_dispatch_queues_held_messages_that_fit_first(kind: LaneKind) {
    let mut lanes = FullLane::new(kind).await;
    lanes.dispatch_held(&[(1, 2), (2, 3)]);
    lanes.gate.open();
    // The lane reports 1 once it has taken it off its queue: there is room.
    let next = next_seen(&mut lanes.seen).await;
    assert_eq!((next.lane, next.msg.seq), (Some(1), 1));
    assert_eq!(
        lanes
            .dispatcher
            .dispatch(text(2, 4), MessageContext::now(1)),
        Dispatch::Queued
    );
    assert_eq!(lanes.enqueued(1), 3);
    assert_eq!(lanes.enqueued(2), 2);
    assert_eq!(
        lanes.dispatcher.ready().await,
        Dispatch::Queued,
        "none held"
    );
    lanes.dispatcher.flush();
    let (one, two) = per_lane(&take_seen(&mut lanes.seen, 3).await);
    assert_eq!(one, [2]);
    assert_eq!(two, [3, 4]);
    within(
        "shutdown",
        lanes.dispatcher.shutdown(ShutdownMode::Graceful),
    )
    .await;
}

#[tokio::test]
async fn a_dispatch_queues_held_messages_that_fit_first_thread_lanes() {
    a_dispatch_queues_held_messages_that_fit_first(LaneKind::Thread).await;
}

#[tokio::test]
async fn a_dispatch_queues_held_messages_that_fit_first_pool_lanes() {
    a_dispatch_queues_held_messages_that_fit_first(LaneKind::Pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatch_queues_held_messages_that_fit_first_task_lanes() {
    a_dispatch_queues_held_messages_that_fit_first(LaneKind::Task).await;
}

/// Dropping the dispatcher cannot wait: held messages that do not fit are
/// counted as dropped, and the lanes finish what is queued.
async fn dropping_the_dispatcher_drops_and_counts_held_messages(kind: LaneKind) {
    let mut lanes = FullLane::new(kind).await;
    lanes.dispatch_held(&[(1, 2), (2, 3)]);
    drop(lanes.dispatcher);
    lanes.gate.open();
    let (one, two) = per_lane(&until_closed(&mut lanes.seen).await);
    assert_eq!(one, [1], "0 was being handled, 1 was queued");
    assert!(two.is_empty(), "3 was held behind 2: {two:?}");
    for key in ["1", "2"] {
        let figures = lane_figures(&lanes.stats, key);
        assert_eq!(figures.dropped, 1, "{figures:?}");
    }
}

#[tokio::test]
async fn dropping_the_dispatcher_drops_and_counts_held_messages_thread_lanes() {
    dropping_the_dispatcher_drops_and_counts_held_messages(LaneKind::Thread).await;
}

#[tokio::test]
async fn dropping_the_dispatcher_drops_and_counts_held_messages_pool_lanes() {
    dropping_the_dispatcher_drops_and_counts_held_messages(LaneKind::Pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_dispatcher_drops_and_counts_held_messages_task_lanes() {
    dropping_the_dispatcher_drops_and_counts_held_messages(LaneKind::Task).await;
}
