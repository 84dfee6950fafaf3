//! Latency histograms: every timed message is recorded in each stage it
//! went through, the percentiles are ordered and bounded below by what
//! the test knows (each message was read a set time before it was
//! dispatched), and the router's figures merge its lanes'. Each venue
//! stream a router names has its own histograms in its lane, up to the
//! lane's bound on streams.

mod support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hypersockets_core::{MessageContext, MessageRouter, StreamId};
use hypersockets_router::{
    Dispatch, Dispatcher, LaneKind, LaneMetricsSnapshot, LatencySnapshot, Percentiles,
    RouterBuilder, RouterStats, ShutdownMode,
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

/// The streams of the per-stream tests, and how many of every three
/// messages of a lane each gets: btc two, eth one.
const BTC: &str = "btc";
const ETH: &str = "eth";

fn stream(name: &str) -> StreamId {
    StreamId::of(&[name])
}

/// Dispatches `count` messages to each of `keys`: on each key, two of
/// every three on btc, the third on eth, then one without a stream.
/// Returns how many each key got.
async fn dispatch_streams<R: MessageRouter>(
    dispatcher: &mut Dispatcher<R>,
    keys: &[u32],
    count: u64,
) -> u64 {
    for seq in 0..count {
        let name = if seq % 3 == 2 { ETH } else { BTC };
        for &key in keys {
            let message = text_with(key, seq, &format!("stream={name}"));
            dispatch_one(dispatcher, message).await;
        }
    }
    for &key in keys {
        dispatch_one(dispatcher, text(key, count)).await;
    }
    count + 1
}

async fn dispatch_one<R: MessageRouter>(
    dispatcher: &mut Dispatcher<R>,
    message: hypersockets_core::WsMessage,
) {
    match dispatcher.dispatch(message, MessageContext::now(1)) {
        Dispatch::Blocked => {
            within("room", dispatcher.ready()).await;
        }
        outcome => assert!(
            matches!(outcome, Dispatch::Queued | Dispatch::HandledInline),
            "{outcome:?}"
        ),
    }
}

/// Sums the `handle` bucket counts the exporter's reading gives for each
/// (lane, stream).
fn exported_handles(stats: &RouterStats) -> Vec<(String, StreamId, u64)> {
    let mut all: Vec<(String, StreamId, u64)> = Vec::new();
    stats.for_each_stream_latency_histogram(|lane, stream, stage, buckets| {
        if stage == "handle" {
            let count = buckets.map(|(_, count)| count).sum();
            all.push((lane.to_owned(), stream, count));
        }
    });
    all
}

/// Checks one lane's per-stream figures after `sent` messages (two thirds
/// of the numbered ones on btc, a third on eth, the last unnumbered).
fn assert_streams(what: &str, lane: &LaneMetricsSnapshot, sent: u64, queued: bool) {
    let numbered = sent - 1;
    let eth = numbered / 3;
    let btc = numbered - eth;
    // In the order the lane first timed them.
    let order: Vec<StreamId> = lane.streams.iter().map(|known| known.stream).collect();
    assert_eq!(order, [stream(BTC), stream(ETH)], "{what}");
    for (name, expected) in [(BTC, btc), (ETH, eth)] {
        let latency = &lane.stream(stream(name)).expect("tracked").latency;
        for (stage, figures) in [
            ("read_to_parsed", &latency.read_to_parsed),
            ("handle", &latency.handle),
            ("read_to_done", &latency.read_to_done),
        ] {
            assert_eq!(
                figures.samples, expected,
                "{what} {name} {stage}: {latency:?}"
            );
            assert_ordered(what, figures);
        }
        let waited = if queued { expected } else { 0 };
        assert_eq!(latency.parsed_to_start.samples, waited, "{what} {name}");
        // No event times from these messages.
        assert_eq!(latency.exchange_to_read.samples, 0, "{what} {name}");
    }
    // The lane counts every timed message, numbered or not.
    assert_eq!(lane.latency.handle.samples, sent, "{what}");
    assert_eq!(lane.untracked_stream_samples, 0, "{what}");
    assert!(lane.stream(stream("sol")).is_none(), "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_stream_of_a_lane_has_its_own_histograms() {
    for kind in [LaneKind::Thread, LaneKind::Task, LaneKind::Pool] {
        for classify in [false, true] {
            let what = format!("{kind:?}, classify {classify}");
            let (tx, mut seen) = seen_channel();
            let config = lane(kind).timing_sample_every(1);
            let mut dispatcher = RouterBuilder::new(TestRouter::new(classify))
                .handler_with_config(1, Recorder::new(Some(1), &tx), config.clone())
                .handler_with_config(2, Recorder::new(Some(2), &tx), config)
                .build()
                .expect("build");
            drop(tx);
            let stats = dispatcher.stats();
            let sent = dispatch_streams(&mut dispatcher, &[1, 2], 30).await;
            within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
            assert_eq!(until_closed(&mut seen).await.len() as u64, sent * 2);

            let figures = stats.snapshot();
            // The same streams in two lanes: each lane keeps its own.
            for key in ["1", "2"] {
                let lane = figures.lane(key).expect("lane");
                assert_streams(&format!("{what}, lane {key}"), lane, sent, !classify);
            }
            let mut exported = exported_handles(&stats);
            exported.sort();
            let mut expected = Vec::new();
            for key in ["1", "2"] {
                expected.push((key.to_owned(), stream(BTC), 20));
                expected.push((key.to_owned(), stream(ETH), 10));
            }
            expected.sort();
            assert_eq!(exported, expected, "{what}");
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn inline_handlers_keep_streams_apart_too() {
    for classify in [false, true] {
        let what = format!("inline, classify {classify}");
        let (tx, _seen) = seen_channel();
        let mut dispatcher = RouterBuilder::new(TestRouter::new(classify))
            .lane_defaults(lane(LaneKind::Task).timing_sample_every(1))
            .inline_handler(1, inline_recorder(1, &tx))
            .build()
            .expect("build");
        let stats = dispatcher.stats();
        let sent = dispatch_streams(&mut dispatcher, &[1], 30).await;
        let figures = stats.snapshot();
        assert_streams(&what, figures.lane("1").expect("lane 1"), sent, false);
        within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
    }
}

/// Only timed messages ask the router for their stream: one in four here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_timed_messages_look_up_their_stream() {
    for inline in [false, true] {
        let router = TestRouter::parsing();
        let calls = router.calls();
        let (tx, mut seen) = seen_channel();
        let builder =
            RouterBuilder::new(router).lane_defaults(lane(LaneKind::Task).timing_sample_every(4));
        let builder = match inline {
            true => builder.inline_handler(1, inline_recorder(1, &tx)),
            false => builder.handler(1, Recorder::new(Some(1), &tx)),
        };
        let mut dispatcher = builder.build().expect("build");
        drop(tx);
        let stats = dispatcher.stats();
        for seq in 0..40 {
            dispatch_one(&mut dispatcher, text_with(1, seq, "stream=btc")).await;
        }
        within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
        assert_eq!(until_closed(&mut seen).await.len(), 40);
        assert_eq!(calls.sequences(), 10, "inline {inline}");
        let lane = stats.snapshot().lane("1").expect("lane 1").clone();
        let btc = lane.stream(stream(BTC)).expect("btc").latency.clone();
        assert_eq!(btc.handle.samples, 10, "inline {inline}");
        assert_eq!(lane.latency.handle.samples, 10, "inline {inline}");
    }
}

/// A lane keeps at most `MAX_STREAMS` streams apart, the first it timed;
/// later streams count in the lane's figures only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lane_keeps_a_bounded_number_of_streams() {
    const MAX: usize = LaneMetricsSnapshot::MAX_STREAMS;
    const EXTRA: u64 = 5;
    for kind in [None, Some(LaneKind::Thread)] {
        let what = format!("{kind:?}");
        let (tx, mut seen) = seen_channel();
        let builder = RouterBuilder::new(TestRouter::parsing())
            .lane_defaults(lane(LaneKind::Task).timing_sample_every(1));
        let builder = match kind {
            None => builder.inline_handler(1, inline_recorder(1, &tx)),
            Some(kind) => builder.handler_with_config(
                1,
                Recorder::new(Some(1), &tx),
                lane(kind).timing_sample_every(1),
            ),
        };
        let mut dispatcher = builder.build().expect("build");
        drop(tx);
        let stats = dispatcher.stats();
        let streams = MAX as u64 + EXTRA;
        for seq in 0..streams {
            dispatch_one(
                &mut dispatcher,
                text_with(1, seq, &format!("stream=s{seq}")),
            )
            .await;
        }
        // Again on the first stream (tracked) and the last (not).
        let last = streams - 1;
        for name in ["s0".to_owned(), format!("s{last}")] {
            dispatch_one(
                &mut dispatcher,
                text_with(1, streams, &format!("stream={name}")),
            )
            .await;
        }
        within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
        let sent = streams + 2;
        assert_eq!(until_closed(&mut seen).await.len() as u64, sent, "{what}");

        let lane = stats.snapshot().lane("1").expect("lane 1").clone();
        assert_eq!(lane.streams.len(), MAX, "{what}");
        let tracked: Vec<StreamId> = (0..MAX).map(|n| stream(&format!("s{n}"))).collect();
        let order: Vec<StreamId> = lane.streams.iter().map(|known| known.stream).collect();
        assert_eq!(order, tracked, "{what}: the first ones, in order");
        let samples = |name: &str| {
            lane.stream(stream(name))
                .map(|known| known.latency.handle.samples)
        };
        assert_eq!(samples("s0"), Some(2), "{what}");
        assert_eq!(samples("s1"), Some(1), "{what}");
        assert_eq!(samples(&format!("s{last}")), None, "{what}");
        assert_eq!(lane.untracked_stream_samples, EXTRA + 1, "{what}");
        // Every message counts in the lane.
        assert_eq!(lane.latency.handle.samples, sent, "{what}");
        assert_eq!(exported_handles(&stats).len(), MAX, "{what}");
    }
}

/// A panic in the router's `sequence` leaves the message timed for its
/// lane only; the lane goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_sequence_times_the_message_for_its_lane_only() {
    for inline in [false, true] {
        let what = format!("inline {inline}");
        let (tx, mut seen) = seen_channel();
        let builder = RouterBuilder::new(TestRouter::parsing())
            .lane_defaults(lane(LaneKind::Thread).timing_sample_every(1));
        let builder = match inline {
            true => builder.inline_handler(1, inline_recorder(1, &tx)),
            false => builder.handler(1, Recorder::new(Some(1), &tx)),
        };
        let mut dispatcher = builder.build().expect("build");
        drop(tx);
        let stats = dispatcher.stats();
        dispatch_one(&mut dispatcher, text_with(1, 0, "stream=btc")).await;
        dispatch_one(
            &mut dispatcher,
            text_with(1, 1, "stream=btc;sequence=panic"),
        )
        .await;
        dispatch_one(&mut dispatcher, text_with(1, 2, "stream=btc")).await;
        within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
        assert_eq!(until_closed(&mut seen).await.len(), 3, "{what}");
        let lane = stats.snapshot().lane("1").expect("lane 1").clone();
        assert_eq!(lane.delivered, 3, "{what}");
        assert_eq!(lane.latency.handle.samples, 3, "{what}");
        let btc = lane.stream(stream(BTC)).expect("btc");
        assert_eq!(btc.latency.handle.samples, 2, "{what}");
        assert_eq!(lane.handler_panics, 0, "{what}");
    }
}
