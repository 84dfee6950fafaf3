//! Failures never stop a lane or the dispatcher: handler errors are counted,
//! handler panics are caught, counted and reported as
//! `ClientEvent::HandlerPanicked`, and parse failures (on the reader or in a
//! lane, returned or panicking) are counted where they happened.

mod support;

use hypersockets_core::{ClientEvent, WsMessage};
use hypersockets_router::{Dispatch, LaneKind, RouterBuilder, ShutdownMode};
use support::{
    Recorder, TestRouter, dispatch, event_channel, inline_recorder, lane, lane_figures, next_event,
    seen_channel, seqs, text, text_with, until_closed, within,
};

/// Where the handler of key 1 runs.
#[derive(Clone, Copy, Debug)]
enum Site {
    Lane(LaneKind),
    Inline,
}

const SITES: [Site; 4] = [
    Site::Lane(LaneKind::Thread),
    Site::Lane(LaneKind::Task),
    Site::Lane(LaneKind::Pool),
    Site::Inline,
];

fn builder(
    router: TestRouter,
    site: Site,
    tx: &tokio::sync::mpsc::UnboundedSender<support::Seen>,
) -> RouterBuilder<TestRouter> {
    let builder = RouterBuilder::new(router);
    match site {
        Site::Lane(kind) => builder.handler_with_config(1, Recorder::new(Some(1), tx), lane(kind)),
        Site::Inline => builder.inline_handler(1, inline_recorder(1, tx)),
    }
}

fn accepted(outcome: &Dispatch) -> bool {
    matches!(outcome, Dispatch::Queued | Dispatch::HandledInline)
}

async fn handler_errors_are_counted_and_the_lane_goes_on(site: Site) {
    let (tx, mut seen) = seen_channel();
    let (sink, mut events) = event_channel();
    let mut dispatcher = builder(TestRouter::parsing(), site, &tx)
        .on_event(sink)
        .build()
        .expect("build");
    drop(tx);
    let stats = dispatcher.stats();
    for message in [
        text(1, 0),
        text_with(1, 1, "do=err"),
        text(1, 2),
        text_with(1, 3, "do=err"),
        text(1, 4),
    ] {
        let outcome = dispatch(&mut dispatcher, message).await;
        assert!(accepted(&outcome), "{site:?}: {outcome:?}");
    }
    within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
    assert_eq!(seqs(&until_closed(&mut seen).await), [0, 1, 2, 3, 4]);
    let figures = lane_figures(&stats, "1");
    assert_eq!(figures.handler_errors, 2, "{site:?}: {figures:?}");
    assert_eq!(figures.handler_panics, 0, "{site:?}: {figures:?}");
    assert_eq!(figures.delivered, 5, "{site:?}: {figures:?}");
    assert!(events.try_recv().is_err(), "an error is not an event");
}

#[tokio::test]
async fn handler_errors_thread_lane() {
    handler_errors_are_counted_and_the_lane_goes_on(Site::Lane(LaneKind::Thread)).await;
}

#[tokio::test]
async fn handler_errors_pool_lane() {
    handler_errors_are_counted_and_the_lane_goes_on(Site::Lane(LaneKind::Pool)).await;
}

#[tokio::test]
async fn handler_errors_task_lane() {
    handler_errors_are_counted_and_the_lane_goes_on(Site::Lane(LaneKind::Task)).await;
}

#[tokio::test]
async fn handler_errors_inline_lane() {
    handler_errors_are_counted_and_the_lane_goes_on(Site::Inline).await;
}

async fn handler_panics_are_caught_reported_and_the_lane_goes_on(site: Site) {
    let (tx, mut seen) = seen_channel();
    let (sink, mut events) = event_channel();
    let mut dispatcher = builder(TestRouter::parsing(), site, &tx)
        .on_event(sink)
        .build()
        .expect("build");
    drop(tx);
    let stats = dispatcher.stats();
    let mut messages = vec![text(1, 0), text_with(1, 1, "do=panic"), text(1, 2)];
    if let Site::Lane(_) = site {
        // A panic after the handler has awaited (a later poll).
        messages.push(text_with(1, 3, "yield=3;do=panic"));
        messages.push(text(1, 4));
    }
    let count = messages.len();
    for message in messages {
        let outcome = dispatch(&mut dispatcher, message).await;
        assert!(accepted(&outcome), "{site:?}: {outcome:?}");
    }
    dispatcher.flush();

    let event = next_event(&mut events).await;
    let ClientEvent::HandlerPanicked { lane, message } = event else {
        panic!("{site:?}: unexpected event {event:?}");
    };
    assert_eq!(lane, "1");
    assert!(
        message.contains("handler boom on 1"),
        "{site:?}: the panic message is passed on: {message:?}"
    );
    if count == 5 {
        let event = next_event(&mut events).await;
        assert!(
            matches!(&event, ClientEvent::HandlerPanicked { message, .. } if message.contains("handler boom on 3")),
            "{site:?}: {event:?}"
        );
    }

    within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
    let expected: Vec<u64> = (0..count as u64).collect();
    assert_eq!(seqs(&until_closed(&mut seen).await), expected, "{site:?}");
    let figures = lane_figures(&stats, "1");
    assert_eq!(
        figures.handler_panics,
        if count == 5 { 2 } else { 1 },
        "{site:?}: {figures:?}"
    );
    assert_eq!(figures.handler_errors, 0, "{site:?}: {figures:?}");
    assert_eq!(figures.delivered, count as u64, "{site:?}: {figures:?}");
    assert!(events.try_recv().is_err(), "one event per panic");
}

#[tokio::test]
async fn handler_panics_thread_lane() {
    handler_panics_are_caught_reported_and_the_lane_goes_on(Site::Lane(LaneKind::Thread)).await;
}

#[tokio::test]
async fn handler_panics_pool_lane() {
    handler_panics_are_caught_reported_and_the_lane_goes_on(Site::Lane(LaneKind::Pool)).await;
}

#[tokio::test]
async fn handler_panics_task_lane() {
    handler_panics_are_caught_reported_and_the_lane_goes_on(Site::Lane(LaneKind::Task)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_panics_task_lane_multi_thread() {
    handler_panics_are_caught_reported_and_the_lane_goes_on(Site::Lane(LaneKind::Task)).await;
}

#[tokio::test]
async fn handler_panics_inline_lane() {
    handler_panics_are_caught_reported_and_the_lane_goes_on(Site::Inline).await;
}

#[tokio::test]
async fn parse_errors_on_the_reader_are_counted_and_reported() {
    for site in SITES {
        let (tx, mut seen) = seen_channel();
        let mut dispatcher = builder(TestRouter::parsing(), site, &tx)
            .build()
            .expect("build");
        drop(tx);
        let stats = dispatcher.stats();
        assert!(accepted(&dispatch(&mut dispatcher, text(1, 0)).await));
        for bad in [
            WsMessage::text("garbage"),
            WsMessage::text("k=1;seq=oops"),
            WsMessage::binary(vec![0xff, 0x00]),
        ] {
            let outcome = dispatch(&mut dispatcher, bad).await;
            assert!(
                matches!(outcome, Dispatch::ParseFailed),
                "{site:?}: {outcome:?}"
            );
        }
        assert!(accepted(&dispatch(&mut dispatcher, text(1, 1)).await));
        within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
        assert_eq!(seqs(&until_closed(&mut seen).await), [0, 1], "{site:?}");
        let figures = stats.snapshot();
        assert_eq!(figures.dispatched, 5);
        assert_eq!(figures.parse_errors, 3, "{site:?}");
        assert_eq!(figures.unrouted, 0);
        assert_eq!(figures.lanes[0].parse_errors, 0, "not the lane's");
        assert_eq!(figures.lanes[0].delivered, 2);
    }
}

#[tokio::test]
async fn parse_errors_in_a_lane_are_counted_by_the_lane() {
    for site in SITES {
        let (tx, mut seen) = seen_channel();
        let (sink, mut events) = event_channel();
        let mut dispatcher = builder(TestRouter::classifying(), site, &tx)
            .on_event(sink)
            .build()
            .expect("build");
        drop(tx);
        let stats = dispatcher.stats();
        for message in [
            text(1, 0),
            // Classified to key 1 by its prefix; the full parse fails.
            WsMessage::text("k=1;seq=oops"),
            text(1, 1),
            WsMessage::text("k=1;do=nothing-known"),
            text(1, 2),
        ] {
            let outcome = dispatch(&mut dispatcher, message).await;
            assert!(accepted(&outcome), "{site:?}: {outcome:?}");
        }
        within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
        assert_eq!(seqs(&until_closed(&mut seen).await), [0, 1, 2], "{site:?}");
        let figures = stats.snapshot();
        assert_eq!(figures.parse_errors, 0, "{site:?}: not the reader's");
        let lane = lane_figures(&stats, "1");
        assert_eq!(lane.parse_errors, 2, "{site:?}: {lane:?}");
        assert_eq!(lane.delivered, 3, "{site:?}: {lane:?}");
        assert_eq!(lane.handler_errors + lane.handler_panics, 0);
        assert!(events.try_recv().is_err(), "a parse error is not an event");
    }
}

#[tokio::test]
async fn a_panicking_parse_on_the_reader_does_not_take_the_dispatcher_down() {
    for site in SITES {
        let (tx, mut seen) = seen_channel();
        let mut dispatcher = builder(TestRouter::parsing(), site, &tx)
            .build()
            .expect("build");
        drop(tx);
        let stats = dispatcher.stats();
        assert!(accepted(&dispatch(&mut dispatcher, text(1, 0)).await));
        for _ in 0..3 {
            let outcome = dispatch(&mut dispatcher, text_with(1, 99, "parse=panic")).await;
            // The panic message is logged; the outcome only says what became of it.
            assert_eq!(outcome, Dispatch::ParseFailed, "{site:?}");
        }
        assert!(accepted(&dispatch(&mut dispatcher, text(1, 1)).await));
        within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
        assert_eq!(seqs(&until_closed(&mut seen).await), [0, 1], "{site:?}");
        let figures = stats.snapshot();
        assert_eq!(figures.parse_errors, 3, "{site:?}");
        assert_eq!(figures.dispatched, 5, "{site:?}");
        assert_eq!(figures.lanes[0].delivered, 2, "{site:?}");
    }
}

#[tokio::test]
async fn a_panicking_classify_does_not_take_the_dispatcher_down() {
    let (tx, mut seen) = seen_channel();
    let mut dispatcher = RouterBuilder::new(TestRouter::classifying())
        .handler(1, Recorder::new(Some(1), &tx))
        .build()
        .expect("build");
    drop(tx);
    let stats = dispatcher.stats();
    assert!(accepted(&dispatch(&mut dispatcher, text(1, 0)).await));
    let outcome = dispatch(&mut dispatcher, text_with(1, 99, "classify=panic")).await;
    assert!(matches!(outcome, Dispatch::ParseFailed), "{outcome:?}");
    assert!(accepted(&dispatch(&mut dispatcher, text(1, 1)).await));
    within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
    assert_eq!(seqs(&until_closed(&mut seen).await), [0, 1]);
    assert_eq!(stats.snapshot().parse_errors, 1);
}

#[tokio::test]
async fn a_panicking_parse_in_a_lane_is_caught_counted_and_reported() {
    for site in SITES {
        let (tx, mut seen) = seen_channel();
        let (sink, mut events) = event_channel();
        let mut dispatcher = builder(TestRouter::classifying(), site, &tx)
            .on_event(sink)
            .build()
            .expect("build");
        drop(tx);
        let stats = dispatcher.stats();
        for message in [text(1, 0), text_with(1, 1, "parse=panic"), text(1, 2)] {
            let outcome = dispatch(&mut dispatcher, message).await;
            assert!(accepted(&outcome), "{site:?}: {outcome:?}");
        }
        dispatcher.flush();
        let event = next_event(&mut events).await;
        let ClientEvent::HandlerPanicked { lane, message } = event else {
            panic!("{site:?}: unexpected event {event:?}");
        };
        assert_eq!(lane, "1");
        // What panicked, not its text: a parse's panic can quote the payload.
        assert_eq!(message, "parse panicked", "{site:?}");
        within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
        assert_eq!(seqs(&until_closed(&mut seen).await), [0, 2], "{site:?}");
        let figures = lane_figures(&stats, "1");
        assert_eq!(figures.parse_errors, 1, "{site:?}: {figures:?}");
        assert_eq!(figures.handler_panics, 0, "{site:?}: {figures:?}");
        assert_eq!(figures.delivered, 2, "{site:?}: {figures:?}");
        assert_eq!(stats.snapshot().parse_errors, 0, "{site:?}");
    }
}

/// Errors and panics on one lane leave the other lanes alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_stay_in_their_lane() {
    let (tx, mut seen) = seen_channel();
    let mut dispatcher = RouterBuilder::new(TestRouter::parsing())
        .handler_with_config(1, Recorder::new(Some(1), &tx), lane(LaneKind::Thread))
        .handler_with_config(2, Recorder::new(Some(2), &tx), lane(LaneKind::Task))
        .inline_handler(3, inline_recorder(3, &tx))
        .build()
        .expect("build");
    drop(tx);
    let stats = dispatcher.stats();
    for seq in 0..30u64 {
        let key = (seq % 3) as u32 + 1;
        let extra = match seq % 5 {
            0 => "do=panic",
            1 => "do=err",
            _ => "spin=10",
        };
        let outcome = dispatch(&mut dispatcher, text_with(key, seq, extra)).await;
        assert!(accepted(&outcome), "{outcome:?}");
    }
    within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
    let seen = until_closed(&mut seen).await;
    for key in 1..=3u32 {
        let got: Vec<u64> = seen
            .iter()
            .filter(|one| one.lane == Some(key))
            .map(|one| one.msg.seq)
            .collect();
        let want: Vec<u64> = (0..30u64)
            .filter(|seq| (seq % 3) as u32 + 1 == key)
            .collect();
        assert_eq!(got, want, "lane {key}");
        let figures = lane_figures(&stats, &key.to_string());
        let panics = want.iter().filter(|seq| *seq % 5 == 0).count() as u64;
        let errors = want.iter().filter(|seq| *seq % 5 == 1).count() as u64;
        assert_eq!(figures.handler_panics, panics, "lane {key}");
        assert_eq!(figures.handler_errors, errors, "lane {key}");
        assert_eq!(figures.delivered, 10, "lane {key}");
    }
}
