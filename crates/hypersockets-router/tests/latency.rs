//! Latency histograms: every timed message is recorded in each stage it
//! went through, the percentiles are ordered and bounded below by what
//! the test knows (each message was read a set time before it was
//! dispatched), and the router's figures merge its lanes'.

mod support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hypersockets_core::{MessageContext, MessageRouter};
use hypersockets_router::{
    Dispatch, Dispatcher, LaneKind, LatencySnapshot, Percentiles, RouterBuilder, ShutdownMode,
};
use support::{
    Recorder, TestRouter, inline_recorder, lane, seen_channel, text, text_with, until_closed,
    within,
};

/// How long before its dispatch each message was "read": a floor every
/// read-to-something figure must be above, whatever the machine's speed.
const AGE: Duration = Duration::from_millis(20);
const MESSAGES: u64 = 25;

/// Dispatches `MESSAGES` messages for key 1, each read `AGE` ago.
async fn dispatch_aged<R: MessageRouter>(dispatcher: &mut Dispatcher<R>) {
    for seq in 0..MESSAGES {
        let read = Instant::now().checked_sub(AGE).expect("the clock runs");
        match dispatcher.dispatch(text(1, seq), MessageContext::new(1, read)) {
            Dispatch::Blocked => {
                within("room", dispatcher.ready()).await;
            }
            outcome => assert!(
                matches!(outcome, Dispatch::Queued | Dispatch::HandledInline),
                "{outcome:?}"
            ),
        }
    }
}

fn assert_ordered(what: &str, stage: &Percentiles) {
    assert!(
        stage.p50 <= stage.p90
            && stage.p90 <= stage.p99
            && stage.p99 <= stage.p999
            && stage.p999 <= stage.max,
        "{what}: {stage:?}"
    );
}

/// The figures every timed message must show, whoever ran it: `queued`
/// says whether it waited in a queue after a parse on the reader.
fn assert_recorded(what: &str, latency: &LatencySnapshot, queued: bool) {
    for (stage, figures) in [
        ("read_to_parsed", &latency.read_to_parsed),
        ("handle", &latency.handle),
        ("read_to_done", &latency.read_to_done),
    ] {
        assert_eq!(figures.samples, MESSAGES, "{what} {stage}: {latency:?}");
        assert_ordered(what, figures);
    }
    let waited = if queued { MESSAGES } else { 0 };
    assert_eq!(
        latency.parsed_to_start.samples, waited,
        "{what}: {latency:?}"
    );
    assert_ordered(what, &latency.parsed_to_start);
    // Read AGE before the dispatch: no message was parsed or done sooner.
    assert!(latency.read_to_parsed.p50 >= AGE, "{what}: {latency:?}");
    assert!(latency.read_to_done.p50 >= AGE, "{what}: {latency:?}");
    // Done after it was read and handled.
    assert!(
        latency.read_to_done.max >= latency.handle.max,
        "{what}: {latency:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_timed_message_is_recorded_in_its_stages() {
    for kind in [LaneKind::Thread, LaneKind::Task, LaneKind::Pool] {
        for classify in [false, true] {
            let what = format!("{kind:?}, classify {classify}");
            let (tx, mut seen) = seen_channel();
            let mut dispatcher = RouterBuilder::new(TestRouter::new(classify))
                .handler_with_config(
                    1,
                    Recorder::new(Some(1), &tx),
                    lane(kind).timing_sample_every(1),
                )
                .build()
                .expect("build");
            drop(tx);
            let stats = dispatcher.stats();
            dispatch_aged(&mut dispatcher).await;
            within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
            assert_eq!(until_closed(&mut seen).await.len() as u64, MESSAGES);

            let figures = stats.snapshot();
            let lane = figures.lane("1").expect("lane 1");
            // A classified message is parsed in the lane, just before its
            // handler: it waits before its parse, not after.
            assert_recorded(&what, &lane.latency, !classify);
            assert_eq!(figures.latency, lane.latency, "{what}: one lane, one total");
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn inline_handlers_record_no_queue() {
    for classify in [false, true] {
        let (tx, _seen) = seen_channel();
        let mut dispatcher = RouterBuilder::new(TestRouter::new(classify))
            .lane_defaults(lane(LaneKind::Task).timing_sample_every(1))
            .inline_handler(1, inline_recorder(1, &tx))
            .build()
            .expect("build");
        let stats = dispatcher.stats();
        dispatch_aged(&mut dispatcher).await;
        let lane = stats.snapshot().lane("1").expect("lane 1").clone();
        assert_recorded(
            &format!("inline, classify {classify}"),
            &lane.latency,
            false,
        );
        within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_merges_its_lanes_and_untimed_lanes_record_nothing() {
    let (tx, mut seen) = seen_channel();
    // Lanes 1 and 2 time every message, lane 3 none.
    let lanes = [
        (1, LaneKind::Thread, 1),
        (2, LaneKind::Task, 1),
        (3, LaneKind::Task, 0),
    ];
    let mut builder = RouterBuilder::new(TestRouter::parsing());
    for (key, kind, every) in lanes {
        let config = lane(kind).timing_sample_every(every);
        builder = builder.handler_with_config(key, Recorder::new(Some(key), &tx), config);
    }
    let mut dispatcher = builder.build().expect("build");
    drop(tx);
    let stats = dispatcher.stats();
    for (seq, key) in (0..30u64).zip([1, 2, 3].into_iter().cycle()) {
        let outcome = dispatcher.dispatch(text(key, seq), MessageContext::now(1));
        assert!(matches!(outcome, Dispatch::Queued), "{outcome:?}");
    }
    within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
    assert_eq!(until_closed(&mut seen).await.len(), 30);

    let figures = stats.snapshot();
    let samples = |key: &str| figures.lane(key).expect("lane").latency.handle.samples;
    assert_eq!((samples("1"), samples("2"), samples("3")), (10, 10, 0));
    assert_eq!(
        figures.lane("3").expect("lane 3").latency,
        LatencySnapshot::default(),
        "an untimed lane records nothing"
    );
    assert_eq!(figures.latency.handle.samples, 20);
    assert_eq!(figures.latency.read_to_done.samples, 20);
    let slowest = |pick: fn(&Percentiles) -> Duration| {
        ["1", "2"]
            .map(|key| pick(&figures.lane(key).expect("lane").latency.read_to_done))
            .into_iter()
            .max()
            .expect("two lanes")
    };
    // The merged maximum is the larger of the lanes' (same buckets).
    assert_eq!(figures.latency.read_to_done.max, slowest(|p| p.max));
    assert_ordered("merged", &figures.latency.read_to_done);
}

/// Milliseconds since the Unix epoch, `offset` from now.
fn wall_ms(offset: i64) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    u64::try_from(i128::try_from(now).expect("ms fit") + i128::from(offset)).expect("after 1970")
}

/// With the venue's event time, the lanes record exchange → read: at
/// least how long before the read it was stamped; a venue clock ahead of
/// ours reads as no delay, not as a huge one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_venues_event_time_gives_exchange_to_read() {
    for inline in [false, true] {
        for (offset, floor) in [
            (-1_500, Duration::from_millis(1_500)),
            (3_600_000, Duration::ZERO),
        ] {
            let what = format!("inline {inline}, venue clock {offset} ms");
            let (tx, _seen) = seen_channel();
            let builder = RouterBuilder::new(TestRouter::parsing())
                .lane_defaults(lane(LaneKind::Task).timing_sample_every(1));
            let builder = match inline {
                true => builder.inline_handler(1, inline_recorder(1, &tx)),
                false => builder.handler(1, Recorder::new(Some(1), &tx)),
            };
            let mut dispatcher = builder.build().expect("build");
            let stats = dispatcher.stats();
            for seq in 0..MESSAGES {
                let message = text_with(1, seq, &format!("sent={}", wall_ms(offset)));
                let _ = dispatcher.dispatch(message, MessageContext::now(1));
            }
            // A message without an event time records nothing there.
            let _ = dispatcher.dispatch(text(1, MESSAGES), MessageContext::now(1));
            within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
            let latency = stats.snapshot().lane("1").expect("lane 1").latency.clone();
            let exchange = latency.exchange_to_read;
            assert_eq!(exchange.samples, MESSAGES, "{what}: {latency:?}");
            assert_eq!(latency.handle.samples, MESSAGES + 1, "{what}: {latency:?}");
            assert_ordered(&what, &exchange);
            assert!(exchange.p50 >= floor, "{what}: {exchange:?}");
            if floor.is_zero() {
                assert_eq!(exchange.max, Duration::ZERO, "{what}: {exchange:?}");
            }
        }
    }
}
