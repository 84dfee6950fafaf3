//! Shutting down: graceful drains every queue first, abort drops what is
//! queued (counted as dropped), and afterwards no lane of ours is left — a
//! lane owns its handler, so the handler being dropped proves the lane's
//! thread or task has ended. Dropping the dispatcher lets the lanes finish
//! on their own.

mod support;

use std::pin::pin;
use std::sync::Arc;

use hypersockets_router::{Dispatch, LaneKind, RouterBuilder, ShutdownMode};
use support::{
    Gate, GateWait, KINDS, Recorder, TestRouter, dispatch, inline_recorder, lane, lane_figures,
    next_seen, seen_channel, seqs, still_pending, text, text_with, until_closed, within,
};

async fn graceful_drains_the_queue_then_returns(kind: LaneKind) {
    let gate = Gate::new();
    let probe = Arc::new(());
    let router = TestRouter::parsing();
    let calls = router.calls();
    let (tx, mut seen) = seen_channel();
    let handler = Recorder::new(Some(1), &tx)
        .gated(&gate, GateWait::for_kind(kind))
        .probe(&probe);
    drop(tx);
    let mut dispatcher = RouterBuilder::new(router)
        .handler_with_config(1, handler, lane(kind))
        .build()
        .expect("build");
    let stats = dispatcher.stats();
    dispatch(&mut dispatcher, text_with(1, 0, "do=hold")).await;
    dispatcher.flush();
    assert_eq!(next_seen(&mut seen).await.msg.seq, 0);
    for seq in 1..=20 {
        dispatch(&mut dispatcher, text(1, seq)).await;
    }
    assert_eq!(lane_figures(&stats, "1").depth, 20);

    // The shutdown waits for the held handler and then for the queue.
    let mut shutdown = pin!(dispatcher.shutdown(ShutdownMode::Graceful));
    assert!(
        still_pending(shutdown.as_mut()).await,
        "a graceful shutdown returned while a handler was busy"
    );
    gate.open();
    within("graceful shutdown", shutdown).await;

    // Returned only once everything was handled and the lane was gone.
    assert_eq!(
        Arc::strong_count(&probe),
        1,
        "the lane still owns its handler"
    );
    assert_eq!(
        Arc::strong_count(&calls),
        1,
        "a copy of the router is alive"
    );
    let rest = until_closed(&mut seen).await;
    assert_eq!(seqs(&rest), (1..=20).collect::<Vec<_>>());
    let figures = lane_figures(&stats, "1");
    assert_eq!(figures.delivered, 21, "{figures:?}");
    assert_eq!(figures.dropped, 0, "{figures:?}");
    assert_eq!(figures.depth, 0, "{figures:?}");
}

#[tokio::test]
async fn graceful_drains_a_thread_lane() {
    graceful_drains_the_queue_then_returns(LaneKind::Thread).await;
}

#[tokio::test]
async fn graceful_drains_a_pool_lane() {
    graceful_drains_the_queue_then_returns(LaneKind::Pool).await;
}

#[tokio::test]
async fn graceful_drains_a_task_lane() {
    graceful_drains_the_queue_then_returns(LaneKind::Task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_drains_a_task_lane_multi_thread() {
    graceful_drains_the_queue_then_returns(LaneKind::Task).await;
}

async fn abort_drops_what_is_queued(kind: LaneKind) {
    let gate = Gate::new();
    let probe = Arc::new(());
    let (tx, mut seen) = seen_channel();
    let handler = Recorder::new(Some(1), &tx)
        .gated(&gate, GateWait::for_kind(kind))
        .probe(&probe);
    drop(tx);
    let mut dispatcher = RouterBuilder::new(TestRouter::parsing())
        .handler_with_config(1, handler, lane(kind))
        .build()
        .expect("build");
    let stats = dispatcher.stats();
    dispatch(&mut dispatcher, text_with(1, 0, "do=hold")).await;
    dispatcher.flush();
    assert_eq!(next_seen(&mut seen).await.msg.seq, 0);
    for seq in 1..=10 {
        dispatch(&mut dispatcher, text(1, seq)).await;
    }

    // The abort is decided on the shutdown's first poll; the held handler
    // then finishes message 0 and the lane drops the rest.
    let mut shutdown = pin!(dispatcher.shutdown(ShutdownMode::Abort));
    assert!(
        still_pending(shutdown.as_mut()).await,
        "shutdown returned while a handler was busy"
    );
    gate.open();
    within("abort", shutdown).await;

    assert_eq!(
        Arc::strong_count(&probe),
        1,
        "the lane still owns its handler"
    );
    assert!(
        until_closed(&mut seen).await.is_empty(),
        "a queued message reached the handler after the abort"
    );
    let figures = lane_figures(&stats, "1");
    assert_eq!(figures.delivered, 1, "only message 0: {figures:?}");
    assert_eq!(figures.dropped, 10, "{figures:?}");
    assert_eq!(figures.depth, 0, "{figures:?}");
    assert_eq!(figures.enqueued, 11, "{figures:?}");
}

#[tokio::test]
async fn abort_drops_the_queue_of_a_thread_lane() {
    abort_drops_what_is_queued(LaneKind::Thread).await;
}

#[tokio::test]
async fn abort_drops_the_queue_of_a_pool_lane() {
    abort_drops_what_is_queued(LaneKind::Pool).await;
}

#[tokio::test]
async fn abort_drops_the_queue_of_a_task_lane() {
    abort_drops_what_is_queued(LaneKind::Task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_drops_the_queue_of_a_task_lane_multi_thread() {
    abort_drops_what_is_queued(LaneKind::Task).await;
}

/// Messages queued to parked lanes without a flush are still handled: the
/// shutdown wakes every lane.
#[tokio::test]
async fn graceful_handles_messages_that_were_never_flushed() {
    for kind in KINDS {
        let (tx, mut seen) = seen_channel();
        let mut dispatcher = RouterBuilder::new(TestRouter::parsing())
            .lane_defaults(lane(kind))
            .handler(1, Recorder::new(Some(1), &tx))
            .handler(2, Recorder::new(Some(2), &tx))
            .build()
            .expect("build");
        drop(tx);
        let stats = dispatcher.stats();
        // Fewer than the automatic flush interval.
        for seq in 0..40u64 {
            dispatch(&mut dispatcher, text(1 + (seq % 2) as u32, seq)).await;
        }
        within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
        let seen = until_closed(&mut seen).await;
        assert_eq!(seen.len(), 40, "{kind:?}");
        let figures = stats.snapshot();
        assert_eq!(figures.lanes[0].delivered + figures.lanes[1].delivered, 40);
    }
}

/// Every kind of lane, plus a fallback, ends at shutdown: all handlers
/// (inline ones included) and every copy of the router are dropped by the
/// time it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_shutdown_no_lane_is_left() {
    for mode in [ShutdownMode::Graceful, ShutdownMode::Abort] {
        let probe = Arc::new(());
        let router = TestRouter::classifying();
        let calls = router.calls();
        let (tx, mut seen) = seen_channel();
        let inline_probe = Arc::clone(&probe);
        let mut inline = inline_recorder(3, &tx);
        let mut dispatcher = RouterBuilder::new(router)
            .handler_with_config(
                1,
                Recorder::new(Some(1), &tx).probe(&probe),
                lane(LaneKind::Thread),
            )
            .handler_with_config(
                2,
                Recorder::new(Some(2), &tx).probe(&probe),
                lane(LaneKind::Task),
            )
            .inline_handler(3, move |msg| {
                let _keep = &inline_probe;
                inline(msg)
            })
            .fallback_with_config(
                Recorder::new(None, &tx).probe(&probe),
                lane(LaneKind::Task).capacity(4),
            )
            .build()
            .expect("build");
        drop(tx);
        assert_eq!(Arc::strong_count(&probe), 5);
        for seq in 0..40u64 {
            let outcome = dispatch(&mut dispatcher, text(1 + (seq % 4) as u32, seq)).await;
            assert!(
                matches!(outcome, Dispatch::Queued | Dispatch::HandledInline),
                "{outcome:?}"
            );
        }
        dispatcher.flush();
        within("shutdown", dispatcher.shutdown(mode)).await;
        assert_eq!(Arc::strong_count(&probe), 1, "{mode:?}: a handler is alive");
        assert_eq!(Arc::strong_count(&calls), 1, "{mode:?}: a router is alive");
        // Every sender is gone with its handler.
        let seen = until_closed(&mut seen).await;
        if mode == ShutdownMode::Graceful {
            assert_eq!(seen.len(), 40);
        }
    }
}

async fn dropping_the_dispatcher_lets_the_lanes_finish(kind: LaneKind) {
    let probe = Arc::new(());
    let (tx, mut seen) = seen_channel();
    let mut dispatcher = RouterBuilder::new(TestRouter::parsing())
        .lane_defaults(lane(kind))
        .handler(1, Recorder::new(Some(1), &tx).probe(&probe))
        .handler(2, Recorder::new(Some(2), &tx).probe(&probe))
        .build()
        .expect("build");
    drop(tx);
    let stats = dispatcher.stats();
    for seq in 0..30u64 {
        dispatch(
            &mut dispatcher,
            text_with(1 + (seq % 2) as u32, seq, "yield=2"),
        )
        .await;
    }
    // No flush, no shutdown: the lanes finish what is queued and stop on
    // their own; the channel closes when their handlers are dropped.
    drop(dispatcher);
    let seen = until_closed(&mut seen).await;
    assert_eq!(seen.len(), 30, "{kind:?}: queued messages are handled");
    for key in [1, 2] {
        let got: Vec<u64> = seen
            .iter()
            .filter(|one| one.lane == Some(key))
            .map(|one| one.msg.seq)
            .collect();
        let want: Vec<u64> = (0..30).filter(|seq| 1 + (seq % 2) as u32 == key).collect();
        assert_eq!(got, want, "{kind:?}: lane {key}");
    }
    // The handler releases its probe before its sender (`Recorder`'s `Drop`),
    // so the probe is gone once the channel has closed.
    assert_eq!(Arc::strong_count(&probe), 1, "{kind:?}");
    let figures = stats.snapshot();
    assert_eq!(
        figures.lanes.iter().map(|lane| lane.dropped).sum::<u64>(),
        0
    );
}

#[tokio::test]
async fn dropping_the_dispatcher_ends_thread_lanes() {
    dropping_the_dispatcher_lets_the_lanes_finish(LaneKind::Thread).await;
}

#[tokio::test]
async fn dropping_the_dispatcher_ends_pool_lanes() {
    dropping_the_dispatcher_lets_the_lanes_finish(LaneKind::Pool).await;
}

#[tokio::test]
async fn dropping_the_dispatcher_ends_task_lanes() {
    dropping_the_dispatcher_lets_the_lanes_finish(LaneKind::Task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_dispatcher_ends_task_lanes_multi_thread() {
    dropping_the_dispatcher_lets_the_lanes_finish(LaneKind::Task).await;
}

/// A shutdown with nothing queued and lanes that never received anything
/// (parked from the start) returns promptly.
#[tokio::test]
async fn shutting_down_idle_lanes() {
    for mode in [ShutdownMode::Graceful, ShutdownMode::Abort] {
        for kind in KINDS {
            let probe = Arc::new(());
            let (tx, _seen) = seen_channel();
            let dispatcher = RouterBuilder::new(TestRouter::parsing())
                .lane_defaults(lane(kind))
                .handler(1, Recorder::new(Some(1), &tx).probe(&probe))
                .fallback(Recorder::new(None, &tx).probe(&probe))
                .build()
                .expect("build");
            within("shutdown", dispatcher.shutdown(mode)).await;
            assert_eq!(Arc::strong_count(&probe), 1, "{mode:?} {kind:?}");
        }
    }
}
