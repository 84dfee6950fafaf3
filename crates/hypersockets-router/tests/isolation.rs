//! Lanes are isolated: a handler of key A that is stuck (held on a gate)
//! does not hold back key B, whose handler gets all of its messages while A
//! is still stuck. Synchronised with channels and gates only.

mod support;

use hypersockets_router::{Dispatch, LaneKind, RouterBuilder, ShutdownMode};
use support::{
    Gate, GateWait, Recorder, TestRouter, dispatch, lane, lane_figures, next_seen, seen_channel,
    seqs, take_seen, text, text_with, until_closed, within,
};

const A: u32 = 1;
const B: u32 = 2;

async fn a_stuck_lane_does_not_hold_back_another(kind_a: LaneKind, kind_b: LaneKind) {
    let gate = Gate::new();
    let (tx, mut seen) = seen_channel();
    let mut dispatcher = RouterBuilder::new(TestRouter::parsing())
        .handler_with_config(
            A,
            Recorder::new(Some(A), &tx).gated(&gate, GateWait::for_kind(kind_a)),
            lane(kind_a),
        )
        .handler_with_config(B, Recorder::new(Some(B), &tx), lane(kind_b))
        .build()
        .expect("build");
    drop(tx);
    let stats = dispatcher.stats();

    dispatch(&mut dispatcher, text_with(A, 0, "do=hold")).await;
    dispatcher.flush();
    let first = next_seen(&mut seen).await;
    assert_eq!((first.lane, first.msg.seq), (Some(A), 0), "A is stuck on 0");

    // Interleave more for A (queued behind the stuck one) with B's.
    let mut want_b = Vec::new();
    for seq in 1..=40u64 {
        let key = if seq % 4 == 0 { A } else { B };
        if key == B {
            want_b.push(seq);
        }
        let outcome = dispatch(&mut dispatcher, text_with(key, seq, "yield=1")).await;
        assert!(matches!(outcome, Dispatch::Queued), "{outcome:?}");
        if seq % 7 == 0 {
            dispatcher.flush();
        }
    }
    dispatcher.flush();

    // All of B arrives while A is still stuck: nothing from A in between.
    let got = take_seen(&mut seen, want_b.len()).await;
    assert!(
        got.iter().all(|one| one.lane == Some(B)),
        "only B can make progress: {:?}",
        got.iter()
            .map(|one| (one.lane, one.msg.seq))
            .collect::<Vec<_>>()
    );
    assert_eq!(seqs(&got), want_b);
    assert!(!gate.is_open());
    let a = lane_figures(&stats, &A.to_string());
    assert_eq!(a.delivered, 0, "A has not finished anything: {a:?}");
    assert_eq!(a.depth, 10, "A's queue waits: {a:?}");

    gate.open();
    within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
    let rest = until_closed(&mut seen).await;
    assert_eq!(seqs(&rest), (1..=10).map(|n| n * 4).collect::<Vec<u64>>());
    assert!(rest.iter().all(|one| one.lane == Some(A)));
    assert_eq!(lane_figures(&stats, &A.to_string()).delivered, 11);
    assert_eq!(lane_figures(&stats, &B.to_string()).delivered, 30);
}

#[tokio::test]
async fn thread_lanes_are_isolated() {
    a_stuck_lane_does_not_hold_back_another(LaneKind::Thread, LaneKind::Thread).await;
}

#[tokio::test]
async fn pool_lanes_are_isolated() {
    a_stuck_lane_does_not_hold_back_another(LaneKind::Pool, LaneKind::Pool).await;
}

/// One runtime worker, shared by the reader and both lanes: the stuck task
/// awaits, so it does not take the worker.
#[tokio::test(flavor = "current_thread")]
async fn task_lanes_are_isolated_on_one_worker() {
    a_stuck_lane_does_not_hold_back_another(LaneKind::Task, LaneKind::Task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_lanes_are_isolated_on_two_workers() {
    a_stuck_lane_does_not_hold_back_another(LaneKind::Task, LaneKind::Task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_thread_lane_does_not_hold_back_a_task_lane() {
    a_stuck_lane_does_not_hold_back_another(LaneKind::Thread, LaneKind::Task).await;
}

#[tokio::test]
async fn a_stuck_task_lane_does_not_hold_back_a_thread_lane() {
    a_stuck_lane_does_not_hold_back_another(LaneKind::Task, LaneKind::Thread).await;
}

/// A stuck lane does not hold back the fallback or an inline lane either.
#[tokio::test]
async fn a_stuck_lane_does_not_hold_back_the_fallback_or_inline_lanes() {
    for kind in support::KINDS {
        let gate = Gate::new();
        let (tx, mut seen) = seen_channel();
        let mut dispatcher = RouterBuilder::new(TestRouter::parsing())
            .lane_defaults(lane(kind))
            .handler(
                A,
                Recorder::new(Some(A), &tx).gated(&gate, GateWait::for_kind(kind)),
            )
            .inline_handler(B, support::inline_recorder(B, &tx))
            .fallback(Recorder::new(None, &tx))
            .build()
            .expect("build");
        drop(tx);
        dispatch(&mut dispatcher, text_with(A, 0, "do=hold")).await;
        dispatcher.flush();
        assert_eq!(next_seen(&mut seen).await.msg.seq, 0);
        for seq in 1..=10u64 {
            dispatch(&mut dispatcher, text(A, seq)).await;
            assert!(matches!(
                dispatch(&mut dispatcher, text(B, 100 + seq)).await,
                Dispatch::HandledInline
            ));
            dispatch(&mut dispatcher, text(9, 200 + seq)).await;
        }
        dispatcher.flush();
        let got = take_seen(&mut seen, 20).await;
        let inline: Vec<u64> = got
            .iter()
            .filter(|one| one.lane == Some(B))
            .map(|one| one.msg.seq)
            .collect();
        let fallback: Vec<u64> = got
            .iter()
            .filter(|one| one.lane.is_none())
            .map(|one| one.msg.seq)
            .collect();
        assert_eq!(inline, (101..=110).collect::<Vec<u64>>(), "{kind:?}");
        assert_eq!(fallback, (201..=210).collect::<Vec<u64>>(), "{kind:?}");
        gate.open();
        within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
        assert_eq!(
            seqs(&until_closed(&mut seen).await),
            (1..=10).collect::<Vec<u64>>(),
            "{kind:?}"
        );
    }
}
