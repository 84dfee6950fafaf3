//! Inline handlers run on the reader itself: on the dispatching thread,
//! before `dispatch` returns ([`Dispatch::HandledInline`]), in order;
//! with `classify`, the parse runs on the reader too.

mod support;

use std::sync::{Arc, Mutex};

use hypersockets_core::BoxError;
use hypersockets_router::{Dispatch, LaneKind, RouterBuilder, ShutdownMode};
use support::{
    Msg, Recorder, TestRouter, dispatch, inline_recorder, lane, lane_figures, seen_channel, seqs,
    text, until_closed, within,
};

#[tokio::test(flavor = "current_thread")]
async fn inline_handlers_run_on_the_reader_in_order() {
    let reader = std::thread::current().id();
    let handled = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&handled);
    let router = TestRouter::parsing();
    let calls = router.calls();
    let mut dispatcher = RouterBuilder::new(router)
        .inline_handler(1, move |msg: Msg| {
            log.lock()
                .unwrap()
                .push((msg.seq, std::thread::current().id()));
            Ok::<_, BoxError>(())
        })
        .build()
        .expect("build");
    let stats = dispatcher.stats();
    for seq in 0..100u64 {
        let outcome = dispatch(&mut dispatcher, text(1, seq)).await;
        assert!(matches!(outcome, Dispatch::HandledInline), "{outcome:?}");
        // Handled before dispatch returned.
        assert_eq!(handled.lock().unwrap().len() as u64, seq + 1);
    }
    let handled = handled.lock().unwrap().clone();
    assert_eq!(
        handled.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(),
        (0..100).collect::<Vec<u64>>()
    );
    assert!(
        handled.iter().all(|(_, thread)| *thread == reader),
        "an inline handler ran off the reader's thread"
    );
    assert_eq!(calls.parses(), 100, "parsed on the reader");

    let figures = lane_figures(&stats, "1");
    assert!(figures.inline);
    assert_eq!(figures.enqueued, 100);
    assert_eq!(figures.delivered, 100);
    assert_eq!(figures.depth, 0);
    assert_eq!(figures.dropped, 0);
    within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
}

#[tokio::test(flavor = "current_thread")]
async fn inline_with_classify_parses_on_the_reader() {
    let reader = std::thread::current().id();
    let router = TestRouter::classifying();
    let calls = router.calls();
    let (tx, mut seen) = seen_channel();
    let mut dispatcher = RouterBuilder::new(router)
        .inline_handler(1, inline_recorder(1, &tx))
        .inline_handler(2, inline_recorder(2, &tx))
        .build()
        .expect("build");
    drop(tx);
    for seq in 0..50u64 {
        let outcome = dispatch(&mut dispatcher, text(1 + (seq % 2) as u32, seq)).await;
        assert!(matches!(outcome, Dispatch::HandledInline), "{outcome:?}");
    }
    within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
    let seen = until_closed(&mut seen).await;
    assert_eq!(
        seqs(&seen),
        (0..50).collect::<Vec<u64>>(),
        "in dispatch order"
    );
    for one in &seen {
        assert_eq!(one.thread, reader);
        assert_eq!(one.lane, Some(one.msg.key));
        assert_eq!(
            one.msg.classified,
            Some(one.msg.key),
            "parsed by parse_classified with its key"
        );
    }
    assert_eq!(calls.parses(), 0, "parse() was never needed");
    assert_eq!(calls.classified_parses(), 50);
    assert!(
        calls
            .classified_parse_threads()
            .iter()
            .all(|(thread, _)| *thread == reader),
        "parse_classified ran off the reader"
    );
}

/// Inline lanes next to queued lanes: only the inline key runs on the
/// reader; the queued keys run on their lanes.
#[tokio::test(flavor = "current_thread")]
async fn inline_next_to_queued_lanes() {
    let reader = std::thread::current().id();
    let (tx, mut seen) = seen_channel();
    let mut dispatcher = RouterBuilder::new(TestRouter::classifying())
        .inline_handler(1, inline_recorder(1, &tx))
        .handler_with_config(2, Recorder::new(Some(2), &tx), lane(LaneKind::Thread))
        .handler_with_config(3, Recorder::new(Some(3), &tx), lane(LaneKind::Task))
        .build()
        .expect("build");
    drop(tx);
    let stats = dispatcher.stats();
    for seq in 0..30u64 {
        let key = 1 + (seq % 3) as u32;
        let outcome = dispatch(&mut dispatcher, text(key, seq)).await;
        match key {
            1 => assert!(matches!(outcome, Dispatch::HandledInline)),
            _ => assert!(matches!(outcome, Dispatch::Queued)),
        }
    }
    within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
    let seen = until_closed(&mut seen).await;
    for key in 1..=3u32 {
        let mine: Vec<_> = seen.iter().filter(|one| one.lane == Some(key)).collect();
        let got: Vec<u64> = mine.iter().map(|one| one.msg.seq).collect();
        let want: Vec<u64> = (0..30u64)
            .filter(|seq| 1 + (seq % 3) as u32 == key)
            .collect();
        assert_eq!(got, want, "lane {key}");
        match key {
            1 => assert!(mine.iter().all(|one| one.thread == reader)),
            2 => assert!(
                mine.iter()
                    .all(|one| one.thread_name.as_deref() == Some("hs-lane-2")),
                "a thread lane's handler runs on its own thread"
            ),
            // A task lane on a current-thread runtime shares the reader's thread.
            _ => {}
        }
    }
    let snapshot = stats.snapshot();
    let inline: Vec<bool> = snapshot.lanes.iter().map(|lane| lane.inline).collect();
    assert_eq!(inline, [true, false, false]);
}

/// An inline handler keeps its state across calls (it is `FnMut`) and sees
/// every message once.
#[tokio::test]
async fn inline_handlers_keep_their_state() {
    let total = Arc::new(Mutex::new(0u64));
    let out = Arc::clone(&total);
    let mut sum = 0u64;
    let mut dispatcher = RouterBuilder::new(TestRouter::parsing())
        .inline_handler(1, move |msg: Msg| {
            sum += msg.seq;
            *out.lock().unwrap() = sum;
            Ok::<_, BoxError>(())
        })
        .build()
        .expect("build");
    for seq in 1..=100u64 {
        dispatch(&mut dispatcher, text(1, seq)).await;
    }
    assert_eq!(*total.lock().unwrap(), 5050);
    within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
}
