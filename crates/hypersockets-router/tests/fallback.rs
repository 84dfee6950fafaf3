//! Messages whose key has no lane: counted as unrouted, and handed to the
//! fallback when there is one (parsed there with their key when they were
//! classified), or reported as [`Dispatch::Unrouted`] otherwise.

mod support;

use hypersockets_router::{Dispatch, LaneKind, RouterBuilder, ShutdownMode};
use support::{
    KINDS, Recorder, TestRouter, dispatch, lane, lane_figures, seen_channel, text, until_closed,
    within,
};

async fn unrouted_parsed_messages_reach_the_fallback(kind: LaneKind) {
    let (tx, mut seen) = seen_channel();
    let mut dispatcher = RouterBuilder::new(TestRouter::parsing())
        .lane_defaults(lane(kind))
        .handler(1, Recorder::new(Some(1), &tx))
        .fallback(Recorder::new(None, &tx))
        .build()
        .expect("build");
    drop(tx);
    let stats = dispatcher.stats();
    for (seq, key) in [1, 2, 3, 1, 2, 7].into_iter().enumerate() {
        let outcome = dispatch(&mut dispatcher, text(key, seq as u64)).await;
        assert!(matches!(outcome, Dispatch::Queued), "{outcome:?}");
    }
    dispatcher.flush();
    within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
    let seen = until_closed(&mut seen).await;

    let fallback: Vec<(u32, u64)> = seen
        .iter()
        .filter(|one| one.lane.is_none())
        .map(|one| (one.msg.key, one.msg.seq))
        .collect();
    assert_eq!(
        fallback,
        [(2, 1), (3, 2), (2, 4), (7, 5)],
        "in dispatch order"
    );
    let keyed: Vec<u64> = seen
        .iter()
        .filter(|one| one.lane == Some(1))
        .map(|one| one.msg.seq)
        .collect();
    assert_eq!(keyed, [0, 3]);
    assert!(
        seen.iter().all(|one| one.msg.classified.is_none()),
        "parsed on the reader"
    );

    let figures = stats.snapshot();
    assert_eq!(figures.dispatched, 6);
    assert_eq!(figures.unrouted, 4);
    assert_eq!(figures.parse_errors, 0);
    let keys: Vec<&str> = figures.lanes.iter().map(|lane| lane.key.as_str()).collect();
    assert_eq!(keys, ["1", "fallback"], "the fallback comes last");
    let fallback = lane_figures(&stats, "fallback");
    assert_eq!(fallback.enqueued, 4);
    assert_eq!(fallback.delivered, 4);
    assert_eq!(lane_figures(&stats, "1").delivered, 2);
}

#[tokio::test]
async fn unrouted_parsed_messages_reach_a_thread_fallback() {
    unrouted_parsed_messages_reach_the_fallback(LaneKind::Thread).await;
}

#[tokio::test]
async fn unrouted_parsed_messages_reach_a_pool_fallback() {
    unrouted_parsed_messages_reach_the_fallback(LaneKind::Pool).await;
}

#[tokio::test]
async fn unrouted_parsed_messages_reach_a_task_fallback() {
    unrouted_parsed_messages_reach_the_fallback(LaneKind::Task).await;
}

#[tokio::test]
async fn without_a_fallback_unrouted_messages_are_counted_and_reported() {
    for classify in [false, true] {
        let router = TestRouter::new(classify);
        let calls = router.calls();
        let (tx, mut seen) = seen_channel();
        let mut dispatcher = RouterBuilder::new(router)
            .handler(1, Recorder::new(Some(1), &tx))
            .build()
            .expect("build");
        drop(tx);
        let stats = dispatcher.stats();
        let mut outcomes = Vec::new();
        for (seq, key) in [2, 1, 3, 2].into_iter().enumerate() {
            outcomes.push(dispatch(&mut dispatcher, text(key, seq as u64)).await);
        }
        assert!(matches!(outcomes[0], Dispatch::Unrouted));
        assert!(matches!(outcomes[1], Dispatch::Queued));
        assert!(matches!(outcomes[2], Dispatch::Unrouted));
        assert!(matches!(outcomes[3], Dispatch::Unrouted));
        within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
        let seen = until_closed(&mut seen).await;
        assert_eq!(seen.len(), 1);
        assert_eq!((seen[0].msg.key, seen[0].msg.seq), (1, 1));

        let figures = stats.snapshot();
        assert_eq!(figures.dispatched, 4);
        assert_eq!(figures.unrouted, 3, "classify: {classify}");
        assert_eq!(figures.lanes.len(), 1, "no fallback lane");
        if classify {
            // Classified to a key without a lane: never parsed at all.
            assert_eq!(calls.parses(), 0);
            assert_eq!(calls.classified_parses(), 1, "only the routed one");
        } else {
            assert_eq!(calls.parses(), 4);
        }
    }
}

async fn classified_unrouted_messages_are_parsed_by_the_fallback_with_their_key(kind: LaneKind) {
    let router = TestRouter::classifying();
    let calls = router.calls();
    let (tx, mut seen) = seen_channel();
    let mut dispatcher = RouterBuilder::new(router)
        .handler_with_config(1, Recorder::new(Some(1), &tx), lane(kind))
        .fallback_with_config(Recorder::new(None, &tx), lane(kind))
        .build()
        .expect("build");
    drop(tx);
    let stats = dispatcher.stats();
    for (seq, key) in [4, 1, 5, 4].into_iter().enumerate() {
        let outcome = dispatch(&mut dispatcher, text(key, seq as u64)).await;
        assert!(matches!(outcome, Dispatch::Queued), "{outcome:?}");
    }
    // Classified but not parseable: the fallback's parse fails.
    let outcome = dispatch(
        &mut dispatcher,
        hypersockets_core::WsMessage::text("k=9;seq=oops"),
    )
    .await;
    assert!(matches!(outcome, Dispatch::Queued), "{outcome:?}");
    dispatcher.flush();
    within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
    let seen = until_closed(&mut seen).await;

    let fallback: Vec<(u32, u64, Option<u32>)> = seen
        .iter()
        .filter(|one| one.lane.is_none())
        .map(|one| (one.msg.key, one.msg.seq, one.msg.classified))
        .collect();
    assert_eq!(
        fallback,
        [(4, 0, Some(4)), (5, 2, Some(5)), (4, 3, Some(4))],
        "parse_classified ran with the key classify gave"
    );
    assert_eq!(calls.parses(), 0, "nothing was parsed on the reader");
    assert_eq!(calls.classified_parses(), 5);
    if kind == LaneKind::Thread {
        let names: Vec<Option<String>> = calls
            .classified_parse_threads()
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        assert!(
            names
                .iter()
                .all(|name| matches!(name.as_deref(), Some("hs-lane-fallback" | "hs-lane-1"))),
            "parsed on the lane threads: {names:?}"
        );
    }
    let test_thread = std::thread::current().id();
    assert!(
        calls
            .classified_parse_threads()
            .iter()
            .all(|(thread, _)| *thread != test_thread),
        "parsed off the reader"
    );

    let figures = stats.snapshot();
    assert_eq!(figures.unrouted, 4);
    assert_eq!(figures.parse_errors, 0, "the reader did not parse");
    let fallback = lane_figures(&stats, "fallback");
    assert_eq!(fallback.enqueued, 4);
    assert_eq!(fallback.delivered, 3);
    assert_eq!(fallback.parse_errors, 1);
}

#[tokio::test]
async fn classified_unrouted_messages_reach_a_thread_fallback_with_their_key() {
    classified_unrouted_messages_are_parsed_by_the_fallback_with_their_key(LaneKind::Thread).await;
}

#[tokio::test]
async fn classified_unrouted_messages_reach_a_pool_fallback_with_their_key() {
    classified_unrouted_messages_are_parsed_by_the_fallback_with_their_key(LaneKind::Pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classified_unrouted_messages_reach_a_task_fallback_with_their_key() {
    classified_unrouted_messages_are_parsed_by_the_fallback_with_their_key(LaneKind::Task).await;
}

/// Inline lanes and a queued fallback together: routed messages run on the
/// reader, the rest go to the fallback.
#[tokio::test]
async fn inline_lanes_and_a_fallback() {
    for kind in KINDS {
        let (tx, mut seen) = seen_channel();
        let mut dispatcher = RouterBuilder::new(TestRouter::classifying())
            .inline_handler(1, support::inline_recorder(1, &tx))
            .fallback_with_config(Recorder::new(None, &tx), lane(kind))
            .build()
            .expect("build");
        drop(tx);
        let stats = dispatcher.stats();
        assert!(matches!(
            dispatch(&mut dispatcher, text(1, 0)).await,
            Dispatch::HandledInline
        ));
        assert!(matches!(
            dispatch(&mut dispatcher, text(2, 1)).await,
            Dispatch::Queued
        ));
        within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
        let seen = until_closed(&mut seen).await;
        let lanes: Vec<(Option<u32>, u64)> =
            seen.iter().map(|one| (one.lane, one.msg.seq)).collect();
        assert_eq!(lanes, [(Some(1), 0), (None, 1)]);
        assert_eq!(stats.snapshot().unrouted, 1);
    }
}
