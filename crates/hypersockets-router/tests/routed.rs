//! Dispatching in two steps, as the client does to track streams:
//! `dispatch_unless` parses (or classifies), finds the lane and keeps back
//! what its caller wants, `queue` queues it. A kept message queued later
//! keeps its lane and context; messages that go no further are never
//! shown; what is not kept is dispatched at once.

mod support;

use hypersockets_core::{MessageContext, WsMessage};
use hypersockets_router::{
    Dispatch, Dispatcher, LaneKind, Routed, RouterBuilder, Routing, ShutdownMode,
};
use support::{Recorder, TestRouter, lane, seen_channel, seqs, text, until_closed, within};

#[tokio::test]
async fn routed_messages_queue_later_in_the_order_queued() {
    for classify in [false, true] {
        let (tx, mut seen) = seen_channel();
        let mut dispatcher = RouterBuilder::new(TestRouter::new(classify))
            .handler_with_config(1, Recorder::new(Some(1), &tx), lane(LaneKind::Task))
            .build()
            .expect("build");
        drop(tx);
        let stats = dispatcher.stats();
        let routed: Vec<_> = (0..4)
            .map(|seq| kept(&mut dispatcher, text(1, seq), MessageContext::now(seq + 10)))
            .collect();
        for one in &routed {
            assert_eq!(
                one.parsed().is_some(),
                !classify,
                "parsed on the reader unless classified"
            );
            assert!(one.raw().as_text().is_some_and(|t| t.starts_with("k=1;")));
        }
        // Held back, then queued last first but one: the lane sees the
        // order of `queue`, each with the context of its receipt.
        let mut routed = routed.into_iter();
        let first = routed.next().expect("four");
        for one in routed {
            assert_eq!(dispatcher.queue(one), Dispatch::Queued);
        }
        assert_eq!(first.context().connection, 10);
        assert_eq!(dispatcher.queue(first), Dispatch::Queued);
        dispatcher.flush();
        within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
        let seen = until_closed(&mut seen).await;
        assert_eq!(seqs(&seen), [1, 2, 3, 0], "classify: {classify}");
        let figures = stats.snapshot();
        assert_eq!(figures.dispatched, 4, "counted when routed");
    }
}

/// Keeps `message` back; panics if it was dispatched.
fn kept(
    dispatcher: &mut Dispatcher<TestRouter>,
    message: WsMessage,
    context: MessageContext,
) -> Routed<TestRouter> {
    match dispatcher.dispatch_unless(message, context, |_, _, _| true) {
        Routing::Kept(routed) => routed,
        Routing::Dispatched(outcome) => panic!("dispatched: {outcome:?}"),
    }
}

#[tokio::test]
async fn what_is_not_kept_is_dispatched_and_failures_are_never_shown() {
    let (tx, mut seen) = seen_channel();
    let mut dispatcher = RouterBuilder::new(TestRouter::parsing())
        .handler_with_config(1, Recorder::new(Some(1), &tx), lane(LaneKind::Task))
        .build()
        .expect("build");
    drop(tx);
    let stats = dispatcher.stats();
    let context = MessageContext::now(1);
    let mut shown = 0;
    let mut show = |_: &TestRouter, _: Option<&support::Msg>, _: &WsMessage| {
        shown += 1;
        true
    };
    for (message, expected) in [
        (WsMessage::text("not a message"), Dispatch::ParseFailed),
        (text(2, 0), Dispatch::Unrouted),
    ] {
        match dispatcher.dispatch_unless(message, context, &mut show) {
            Routing::Dispatched(outcome) => assert_eq!(outcome, expected),
            Routing::Kept(routed) => panic!("kept: {routed:?}"),
        }
    }
    assert_eq!(shown, 0);
    let figures = stats.snapshot();
    assert_eq!((figures.parse_errors, figures.unrouted), (1, 1));
    // Not kept: queued at once.
    let outcome = dispatcher.dispatch_unless(text(1, 0), context, |_, _, _| false);
    assert!(
        matches!(outcome, Routing::Dispatched(Dispatch::Queued)),
        "{outcome:?}"
    );
    dispatcher.flush();
    within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
    let seen = until_closed(&mut seen).await;
    assert_eq!(seqs(&seen), [0]);
}
