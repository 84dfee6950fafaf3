//! Dispatching in two steps, as the client does to track streams: `route`
//! parses (or classifies) and finds the lane, `queue` queues. A routed
//! message held back and queued later keeps its lane and context, and the
//! outcomes of messages that go no further come from `route`.

mod support;

use hypersockets_core::{MessageContext, WsMessage};
use hypersockets_router::{Dispatch, LaneKind, RouterBuilder, ShutdownMode};
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
            .map(|seq| {
                let context = MessageContext::now(seq + 10);
                dispatcher.route(text(1, seq), context).expect("routed")
            })
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

#[tokio::test]
async fn route_reports_what_goes_no_further() {
    let (tx, _seen) = seen_channel();
    let mut dispatcher = RouterBuilder::new(TestRouter::parsing())
        .handler_with_config(1, Recorder::new(Some(1), &tx), lane(LaneKind::Task))
        .build()
        .expect("build");
    let stats = dispatcher.stats();
    let context = MessageContext::now(1);
    let outcome = dispatcher.route(WsMessage::text("not a message"), context);
    assert_eq!(outcome.err(), Some(Dispatch::ParseFailed));
    let outcome = dispatcher.route(text(2, 0), context);
    assert_eq!(
        outcome.err(),
        Some(Dispatch::Unrouted),
        "no lane, no fallback"
    );
    let figures = stats.snapshot();
    assert_eq!((figures.parse_errors, figures.unrouted), (1, 1));
    within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
}
