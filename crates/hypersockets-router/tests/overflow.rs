//! Overflow policies of bounded lanes: which messages each keeps, which it
//! drops, and the figures it reports. The lane's handler is held on message
//! 0 (it reports that it started, then waits on a gate), so the queue fills
//! deterministically.

mod support;

use std::pin::pin;

use hypersockets_core::MessageContext;
use hypersockets_router::{
    Dispatch, Dispatcher, LaneConfig, LaneKind, OverflowPolicy, RouterBuilder, RouterStats,
    ShutdownMode,
};
use support::{
    Gate, GateWait, Recorder, Seen, TestRouter, dispatch, lane_figures, next_seen, seen_channel,
    seqs, still_pending, text, text_with, until_closed, within,
};
use tokio::sync::mpsc::UnboundedReceiver;

/// A one-lane router (key 1) whose handler is busy with message 0 until
/// `gate` opens.
struct Held {
    dispatcher: Dispatcher<TestRouter>,
    stats: RouterStats,
    gate: Gate,
    seen: UnboundedReceiver<Seen>,
}

impl Held {
    async fn new(kind: LaneKind, config: LaneConfig) -> Self {
        let gate = Gate::new();
        let (tx, mut seen) = seen_channel();
        let handler = Recorder::new(Some(1), &tx).gated(&gate, GateWait::for_kind(kind));
        drop(tx);
        let mut dispatcher = RouterBuilder::new(TestRouter::parsing())
            .handler_with_config(1, handler, config.kind(kind))
            .build()
            .expect("build");
        let stats = dispatcher.stats();
        let outcome = dispatch(&mut dispatcher, text_with(1, 0, "do=hold")).await;
        assert!(matches!(outcome, Dispatch::Queued), "{outcome:?}");
        dispatcher.flush();
        let first = next_seen(&mut seen).await;
        assert_eq!(first.msg.seq, 0, "the handler is on message 0");
        Self {
            dispatcher,
            stats,
            gate,
            seen,
        }
    }

    async fn dispatch_all(&mut self, seqs: std::ops::RangeInclusive<u64>) -> Vec<Dispatch> {
        let mut outcomes = Vec::new();
        for seq in seqs {
            outcomes.push(dispatch(&mut self.dispatcher, text(1, seq)).await);
        }
        outcomes
    }

    /// Opens the gate, shuts down gracefully and returns what the handler
    /// saw after message 0.
    async fn release_and_finish(mut self) -> (Vec<u64>, RouterStats) {
        self.gate.open();
        within(
            "graceful shutdown",
            self.dispatcher.shutdown(ShutdownMode::Graceful),
        )
        .await;
        let rest = until_closed(&mut self.seen).await;
        (seqs(&rest), self.stats)
    }
}

fn names(outcomes: &[Dispatch]) -> Vec<&'static str> {
    outcomes
        .iter()
        .map(|outcome| match outcome {
            Dispatch::Queued => "queued",
            Dispatch::Dropped => "dropped",
            other => panic!("unexpected outcome {other:?}"),
        })
        .collect()
}

async fn drop_newest(kind: LaneKind) {
    let config = LaneConfig::default()
        .capacity(2)
        .overflow(OverflowPolicy::DropNewest);
    let mut held = Held::new(kind, config).await;
    let outcomes = held.dispatch_all(1..=5).await;
    assert_eq!(
        names(&outcomes),
        ["queued", "queued", "dropped", "dropped", "dropped"]
    );
    let figures = lane_figures(&held.stats, "1");
    assert_eq!(figures.enqueued, 3, "{figures:?}");
    assert_eq!(figures.dropped, 3, "{figures:?}");
    assert_eq!(figures.depth, 2, "{figures:?}");
    assert_eq!(figures.high_water, 2, "{figures:?}");
    assert_eq!(figures.delivered, 0, "{figures:?}");

    // Once the lane has taken 1 and 2, there is room again.
    held.gate.open();
    let next = [
        next_seen(&mut held.seen).await,
        next_seen(&mut held.seen).await,
    ];
    assert_eq!(seqs(&next), [1, 2]);
    let outcomes = held.dispatch_all(6..=7).await;
    assert_eq!(names(&outcomes), ["queued", "queued"]);
    held.dispatcher.flush();

    let (rest, stats) = held.release_and_finish().await;
    assert_eq!(rest, [6, 7], "the handler saw 0, 1, 2, then 6, 7");
    let figures = lane_figures(&stats, "1");
    assert_eq!(figures.enqueued, 5, "{figures:?}");
    assert_eq!(figures.delivered, 5, "{figures:?}");
    assert_eq!(figures.dropped, 3, "{figures:?}");
    assert_eq!(figures.depth, 0, "{figures:?}");
    assert_eq!(figures.high_water, 2, "{figures:?}");
}

async fn drop_oldest(kind: LaneKind) {
    let config = LaneConfig::default()
        .capacity(2)
        .overflow(OverflowPolicy::DropOldest);
    let mut held = Held::new(kind, config).await;
    let outcomes = held.dispatch_all(1..=5).await;
    assert_eq!(
        names(&outcomes),
        ["queued"; 5],
        "the new message always gets in"
    );
    let figures = lane_figures(&held.stats, "1");
    assert_eq!(figures.enqueued, 6, "{figures:?}");
    assert_eq!(figures.dropped, 3, "1, 2 and 3 were evicted: {figures:?}");
    assert_eq!(figures.depth, 2, "{figures:?}");
    assert_eq!(figures.high_water, 2, "{figures:?}");
    assert_eq!(figures.delivered, 0, "{figures:?}");

    let (rest, stats) = held.release_and_finish().await;
    assert_eq!(rest, [4, 5], "the handler saw 0, then only the newest two");
    let figures = lane_figures(&stats, "1");
    assert_eq!(figures.delivered, 3, "{figures:?}");
    assert_eq!(figures.dropped, 3, "{figures:?}");
    assert_eq!(figures.depth, 0, "{figures:?}");
    assert_eq!(figures.high_water, 2, "{figures:?}");
}

async fn keep_latest(kind: LaneKind) {
    // The capacity is ignored: KeepLatest keeps one.
    let config = LaneConfig::default()
        .capacity(8)
        .overflow(OverflowPolicy::KeepLatest);
    let mut held = Held::new(kind, config).await;
    let outcomes = held.dispatch_all(1..=5).await;
    assert_eq!(names(&outcomes), ["queued"; 5]);
    let figures = lane_figures(&held.stats, "1");
    assert_eq!(figures.enqueued, 6, "{figures:?}");
    assert_eq!(figures.dropped, 4, "1 to 4 were replaced: {figures:?}");
    assert_eq!(figures.depth, 1, "{figures:?}");
    assert_eq!(figures.high_water, 1, "{figures:?}");
    assert_eq!(figures.delivered, 0, "{figures:?}");

    let (rest, stats) = held.release_and_finish().await;
    assert_eq!(rest, [5], "the handler saw 0, then only the latest");
    let figures = lane_figures(&stats, "1");
    assert_eq!(figures.delivered, 2, "{figures:?}");
    assert_eq!(figures.dropped, 4, "{figures:?}");
    assert_eq!(figures.depth, 0, "{figures:?}");
}

async fn block(kind: LaneKind) {
    let config = LaneConfig::default()
        .capacity(1)
        .overflow(OverflowPolicy::Block);
    let mut held = Held::new(kind, config).await;
    assert_eq!(names(&held.dispatch_all(1..=1).await), ["queued"]);

    // The lane is full and its handler held: 2 is held by the dispatcher,
    // and `ready()` waits for room.
    assert_eq!(
        held.dispatcher.dispatch(text(1, 2), MessageContext::now(1)),
        Dispatch::Blocked
    );
    {
        let mut ready = pin!(held.dispatcher.ready());
        assert!(
            still_pending(ready.as_mut()).await,
            "ready() returned while the full Block lane's handler was held"
        );
        let figures = lane_figures(&held.stats, "1");
        assert_eq!(figures.enqueued, 2, "{figures:?}");
        assert_eq!(figures.depth, 1, "{figures:?}");
        assert_eq!(figures.high_water, 1, "{figures:?}");
        assert_eq!(figures.dropped, 0, "{figures:?}");
        assert_eq!(figures.delivered, 0, "{figures:?}");

        held.gate.open();
        let outcome = within("ready", ready).await;
        assert_eq!(outcome, Dispatch::Queued);
    }
    // The reader goes on; the lane still gets everything (woken by flush).
    let outcomes = held.dispatch_all(3..=6).await;
    assert_eq!(names(&outcomes), ["queued"; 4]);
    held.dispatcher.flush();
    let next: Vec<u64> = [
        next_seen(&mut held.seen).await,
        next_seen(&mut held.seen).await,
        next_seen(&mut held.seen).await,
        next_seen(&mut held.seen).await,
        next_seen(&mut held.seen).await,
    ]
    .iter()
    .map(|one| one.msg.seq)
    .collect();
    assert_eq!(next, [1, 2, 3, 4, 5]);

    let (rest, stats) = held.release_and_finish().await;
    assert_eq!(rest, [6]);
    let figures = lane_figures(&stats, "1");
    assert_eq!(figures.enqueued, 7, "{figures:?}");
    assert_eq!(figures.delivered, 7, "{figures:?}");
    assert_eq!(figures.dropped, 0, "Block never drops: {figures:?}");
    assert_eq!(figures.depth, 0, "{figures:?}");
}

#[tokio::test]
async fn drop_newest_thread_lane() {
    drop_newest(LaneKind::Thread).await;
}

#[tokio::test]
async fn drop_newest_pool_lane() {
    drop_newest(LaneKind::Pool).await;
}

#[tokio::test]
async fn drop_newest_task_lane() {
    drop_newest(LaneKind::Task).await;
}

#[tokio::test]
async fn drop_oldest_thread_lane() {
    drop_oldest(LaneKind::Thread).await;
}

#[tokio::test]
async fn drop_oldest_pool_lane() {
    drop_oldest(LaneKind::Pool).await;
}

#[tokio::test]
async fn drop_oldest_task_lane() {
    drop_oldest(LaneKind::Task).await;
}

#[tokio::test]
async fn keep_latest_thread_lane() {
    keep_latest(LaneKind::Thread).await;
}

#[tokio::test]
async fn keep_latest_pool_lane() {
    keep_latest(LaneKind::Pool).await;
}

#[tokio::test]
async fn keep_latest_task_lane() {
    keep_latest(LaneKind::Task).await;
}

#[tokio::test]
async fn block_thread_lane() {
    block(LaneKind::Thread).await;
}

#[tokio::test]
async fn block_pool_lane() {
    block(LaneKind::Pool).await;
}

#[tokio::test]
async fn block_task_lane() {
    block(LaneKind::Task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_task_lane_multi_thread() {
    block(LaneKind::Task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_oldest_task_lane_multi_thread() {
    drop_oldest(LaneKind::Task).await;
}

/// A bounded lane that keeps up never drops, whatever its policy.
#[tokio::test]
async fn a_lane_that_keeps_up_drops_nothing() {
    for policy in [
        OverflowPolicy::DropNewest,
        OverflowPolicy::DropOldest,
        OverflowPolicy::Block,
    ] {
        for kind in support::KINDS {
            let (tx, mut seen) = seen_channel();
            let mut dispatcher = RouterBuilder::new(TestRouter::parsing())
                .handler_with_config(
                    1,
                    Recorder::new(Some(1), &tx),
                    LaneConfig::default()
                        .kind(kind)
                        .capacity(1)
                        .overflow(policy),
                )
                .build()
                .expect("build");
            drop(tx);
            let stats = dispatcher.stats();
            for seq in 0..20 {
                assert!(matches!(
                    dispatch(&mut dispatcher, text(1, seq)).await,
                    Dispatch::Queued
                ));
                dispatcher.flush();
                // Wait for the handler to take it before sending the next.
                assert_eq!(next_seen(&mut seen).await.msg.seq, seq);
            }
            within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
            assert!(until_closed(&mut seen).await.is_empty());
            let figures = lane_figures(&stats, "1");
            assert_eq!(figures.dropped, 0, "{policy:?} {kind:?}: {figures:?}");
            assert_eq!(figures.delivered, 20, "{policy:?} {kind:?}: {figures:?}");
        }
    }
}
