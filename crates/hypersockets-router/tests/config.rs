//! Building a router: invalid configurations are refused with
//! `InvalidConfiguration` (and leave nothing running behind), thread lanes
//! and inline lanes work without a tokio runtime, and lane settings are
//! honoured.

mod support;

use std::sync::mpsc;

use hypersockets_core::{BoxError, HyperSocketError, MessageContext, handler_fn};
use hypersockets_router::{
    Dispatch, Dispatcher, LaneConfig, LaneKind, OverflowPolicy, RouterBuilder, ShutdownMode,
};
use support::{
    KINDS, Msg, Recorder, TestRouter, WAIT, dispatch, lane, lane_figures, poll_once, seen_channel,
    text, until_closed, within,
};

/// A handler that sends each message's `(key, seq)` and the name of the
/// thread it ran on to a std channel; the channel disconnects when the
/// handler is dropped.
fn std_handler(
    tx: &mpsc::Sender<(u32, u64, Option<String>)>,
) -> impl hypersockets_core::MessageHandler<Msg> {
    let tx = tx.clone();
    handler_fn(move |msg: Msg| -> Result<(), BoxError> {
        let name = std::thread::current().name().map(str::to_owned);
        tx.send((msg.key, msg.seq, name))?;
        Ok(())
    })
}

/// Receives until the channel disconnects (every handler dropped).
fn std_until_closed<T>(rx: &mpsc::Receiver<T>) -> Vec<T> {
    let mut all = Vec::new();
    loop {
        match rx.recv_timeout(WAIT) {
            Ok(one) => all.push(one),
            Err(mpsc::RecvTimeoutError::Disconnected) => return all,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("timed out: a handler was never dropped (its lane is still running)")
            }
        }
    }
}

fn invalid_setting(result: Result<Dispatcher<TestRouter>, HyperSocketError>) -> &'static str {
    match result {
        Err(HyperSocketError::InvalidConfiguration { setting, .. }) => setting,
        other => panic!("expected InvalidConfiguration, got {other:?}"),
    }
}

#[tokio::test]
async fn a_key_given_twice_is_refused() {
    let (tx, _seen) = seen_channel();
    let twice = RouterBuilder::new(TestRouter::parsing())
        .handler(1, Recorder::new(Some(1), &tx))
        .handler(2, Recorder::new(Some(2), &tx))
        .handler(1, Recorder::new(Some(1), &tx))
        .build();
    assert_eq!(invalid_setting(twice), "handler");

    let inline_and_queued = RouterBuilder::new(TestRouter::parsing())
        .inline_handler(1, support::inline_recorder(1, &tx))
        .handler(1, Recorder::new(Some(1), &tx))
        .build();
    assert_eq!(invalid_setting(inline_and_queued), "handler");

    let inline_twice = RouterBuilder::new(TestRouter::parsing())
        .inline_handler(1, support::inline_recorder(1, &tx))
        .inline_handler(1, support::inline_recorder(1, &tx))
        .build();
    assert_eq!(invalid_setting(inline_twice), "handler");
}

#[tokio::test]
async fn a_capacity_of_zero_is_refused() {
    for kind in KINDS {
        for policy in [
            OverflowPolicy::Block,
            OverflowPolicy::DropOldest,
            OverflowPolicy::DropNewest,
        ] {
            let zero = LaneConfig::default()
                .kind(kind)
                .capacity(0)
                .overflow(policy);
            let (tx, _seen) = seen_channel();
            let as_default = RouterBuilder::new(TestRouter::parsing())
                .lane_defaults(zero.clone())
                .handler(1, Recorder::new(Some(1), &tx))
                .build();
            assert_eq!(invalid_setting(as_default), "lane.capacity");
            let own = RouterBuilder::new(TestRouter::parsing())
                .handler_with_config(1, Recorder::new(Some(1), &tx), zero.clone())
                .build();
            assert_eq!(invalid_setting(own), "lane.capacity");
            let fallback = RouterBuilder::new(TestRouter::parsing())
                .fallback_with_config(Recorder::new(None, &tx), zero)
                .build();
            assert_eq!(invalid_setting(fallback), "lane.capacity");
        }
    }
}

/// `KeepLatest` ignores the capacity (it keeps one), so 0 is accepted.
#[tokio::test]
async fn keep_latest_ignores_the_capacity() {
    let (tx, mut seen) = seen_channel();
    let mut dispatcher = RouterBuilder::new(TestRouter::parsing())
        .handler_with_config(
            1,
            Recorder::new(Some(1), &tx),
            LaneConfig::default()
                .capacity(0)
                .overflow(OverflowPolicy::KeepLatest),
        )
        .build()
        .expect("KeepLatest with capacity 0");
    drop(tx);
    assert!(matches!(
        dispatch(&mut dispatcher, text(1, 0)).await,
        Dispatch::Queued
    ));
    within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
    assert_eq!(until_closed(&mut seen).await.len(), 1);
}

#[test]
fn task_lanes_outside_a_runtime_are_refused() {
    let (tx, _seen) = seen_channel();
    let defaults = RouterBuilder::new(TestRouter::parsing())
        .lane_defaults(lane(LaneKind::Task))
        .handler(1, Recorder::new(Some(1), &tx))
        .build();
    assert_eq!(invalid_setting(defaults), "lane.kind");
    let own = RouterBuilder::new(TestRouter::parsing())
        .handler(1, Recorder::new(Some(1), &tx))
        .handler_with_config(2, Recorder::new(Some(2), &tx), lane(LaneKind::Task))
        .build();
    assert_eq!(invalid_setting(own), "lane.kind");
    let fallback = RouterBuilder::new(TestRouter::parsing())
        .fallback_with_config(Recorder::new(None, &tx), lane(LaneKind::Task))
        .build();
    assert_eq!(invalid_setting(fallback), "lane.kind");
}

/// A build that fails on a later lane must not leave the lanes it already
/// started running (parked forever, owning their handlers).
#[test]
fn a_refused_build_leaves_no_thread_lane_behind() {
    let (tx, rx) = mpsc::channel();
    // Several good lanes first: each thread spawn gives the earlier lanes
    // time to park, which is when a leaked lane would never wake again.
    let mut bad_capacity =
        RouterBuilder::new(TestRouter::parsing()).lane_defaults(lane(LaneKind::Thread));
    let mut task_without_runtime =
        RouterBuilder::new(TestRouter::parsing()).lane_defaults(lane(LaneKind::Thread));
    for key in 1..=6 {
        bad_capacity = bad_capacity.handler(key, std_handler(&tx));
        task_without_runtime = task_without_runtime.handler(key, std_handler(&tx));
    }
    let bad_capacity = bad_capacity
        .handler_with_config(7, std_handler(&tx), lane(LaneKind::Thread).capacity(0))
        .build();
    assert_eq!(invalid_setting(bad_capacity), "lane.capacity");
    let task_without_runtime = task_without_runtime
        .fallback_with_config(std_handler(&tx), lane(LaneKind::Task))
        .build();
    assert_eq!(invalid_setting(task_without_runtime), "lane.kind");
    drop(tx);
    assert!(std_until_closed(&rx).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_build_leaves_no_task_lane_behind() {
    let (tx, mut seen) = seen_channel();
    let mut bad_capacity =
        RouterBuilder::new(TestRouter::parsing()).lane_defaults(lane(LaneKind::Task));
    for key in 1..=50 {
        bad_capacity = bad_capacity.handler(key, Recorder::new(Some(key), &tx));
    }
    let bad_capacity = bad_capacity
        .fallback_with_config(Recorder::new(None, &tx), LaneConfig::default().capacity(0))
        .build();
    assert_eq!(invalid_setting(bad_capacity), "lane.capacity");
    drop(tx);
    assert!(until_closed(&mut seen).await.is_empty());
}

/// A lane thread that cannot be spawned fails the build with an I/O error;
/// the lanes started before it end.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
#[test]
fn a_lane_thread_that_cannot_start_fails_the_build_and_stops_the_others() {
    let (tx, rx) = mpsc::channel();
    let result = RouterBuilder::new(TestRouter::parsing())
        .lane_defaults(lane(LaneKind::Thread))
        .handler(1, std_handler(&tx))
        .handler_with_config(
            2,
            std_handler(&tx),
            // Far more than the address space: the thread cannot be created.
            lane(LaneKind::Thread).thread_stack_size(1 << 50),
        )
        .handler(3, std_handler(&tx))
        .build();
    match result {
        Err(HyperSocketError::Io(_)) => {}
        other => panic!("expected an I/O error, got {other:?}"),
    }
    drop(tx);
    assert!(std_until_closed(&rx).is_empty());
}

/// Thread lanes need no tokio runtime: dispatching is synchronous, and the
/// lanes run on their own threads.
#[test]
fn thread_lanes_work_without_a_runtime() {
    let (tx, rx) = mpsc::channel();
    let mut dispatcher = RouterBuilder::new(TestRouter::classifying())
        .lane_defaults(lane(LaneKind::Thread))
        .handler(1, std_handler(&tx))
        .handler(2, std_handler(&tx))
        .fallback(std_handler(&tx))
        .build()
        .expect("thread lanes build without a runtime");
    drop(tx);
    let stats = dispatcher.stats();
    for seq in 0..30u64 {
        let key = (seq % 3) as u32 + 1;
        let outcome = dispatcher.dispatch(text(key, seq), MessageContext::now(1));
        assert!(matches!(outcome, Dispatch::Queued), "{outcome:?}");
    }
    dispatcher.flush();
    drop(dispatcher);

    let seen = std_until_closed(&rx);
    assert_eq!(seen.len(), 30);
    for key in 1..=3u32 {
        let got: Vec<u64> = seen
            .iter()
            .filter(|(k, _, _)| *k == key)
            .map(|(_, seq, _)| *seq)
            .collect();
        let want: Vec<u64> = (0..30u64)
            .filter(|seq| (seq % 3) as u32 + 1 == key)
            .collect();
        assert_eq!(got, want, "key {key}");
    }
    for (key, _, thread) in &seen {
        let lane = if *key == 3 {
            "hs-lane-fallback".to_owned()
        } else {
            format!("hs-lane-{key}")
        };
        assert_eq!(thread.as_deref(), Some(lane.as_str()), "key {key}");
    }
    assert_eq!(stats.snapshot().unrouted, 10);
}

/// Outside a runtime, shutting down thread lanes joins them on the spot.
#[test]
fn thread_lanes_shut_down_without_a_runtime() {
    for mode in [ShutdownMode::Graceful, ShutdownMode::Abort] {
        let (tx, rx) = mpsc::channel();
        let mut dispatcher = RouterBuilder::new(TestRouter::parsing())
            .lane_defaults(lane(LaneKind::Thread))
            .handler(1, std_handler(&tx))
            .inline_handler(2, |_msg: Msg| Ok::<_, BoxError>(()))
            .build()
            .expect("build");
        drop(tx);
        let stats = dispatcher.stats();
        for seq in 0..10u64 {
            let outcome = dispatcher.dispatch(text(1, seq), MessageContext::now(1));
            assert!(matches!(outcome, Dispatch::Queued));
        }
        let outcome = dispatcher.dispatch(text(2, 10), MessageContext::now(1));
        assert!(matches!(outcome, Dispatch::HandledInline));
        assert!(
            poll_once(dispatcher.shutdown(mode)).is_ready(),
            "{mode:?}: the shutdown joins the lane threads without waiting on a runtime"
        );
        // Joined: the handler is gone already.
        let mut seen = Vec::new();
        loop {
            match rx.try_recv() {
                Ok(one) => seen.push(one),
                Err(mpsc::TryRecvError::Disconnected) => break,
                Err(mpsc::TryRecvError::Empty) => panic!("{mode:?}: the lane is still running"),
            }
        }
        let figures = lane_figures(&stats, "1");
        assert_eq!(
            figures.delivered + figures.dropped,
            10,
            "{mode:?}: {figures:?}"
        );
        assert_eq!(figures.delivered, seen.len() as u64);
        if mode == ShutdownMode::Graceful {
            assert_eq!(seen.len(), 10);
        }
    }
}

#[test]
fn lane_config_defaults_and_setters() {
    let config = LaneConfig::default();
    assert_eq!(config.kind, LaneKind::Pool);
    assert_eq!(config.capacity, None);
    assert_eq!(config.overflow, OverflowPolicy::Block);
    assert_eq!(config.timing_sample_every, 64);
    assert_eq!(config.thread_stack_size, 2 << 20);

    let config = LaneConfig::default()
        .kind(LaneKind::Task)
        .capacity(16)
        .overflow(OverflowPolicy::DropNewest)
        .timing_sample_every(1)
        .thread_stack_size(1 << 20);
    assert_eq!(config.kind, LaneKind::Task);
    assert_eq!(config.capacity, Some(16));
    assert_eq!(config.overflow, OverflowPolicy::DropNewest);
    assert_eq!(config.timing_sample_every, 1);
    assert_eq!(config.thread_stack_size, 1 << 20);
    assert_eq!(config.unbounded().capacity, None);
    assert_eq!(ShutdownMode::default(), ShutdownMode::Graceful);
}

/// `timing_sample_every(1)` times every handled message, 0 none.
#[tokio::test]
async fn timing_samples_follow_the_setting() {
    for kind in KINDS {
        for (every, timed) in [(1, 12), (0, 0), (4, 3)] {
            let (tx, mut seen) = seen_channel();
            let mut dispatcher = RouterBuilder::new(TestRouter::classifying())
                .handler_with_config(
                    1,
                    Recorder::new(Some(1), &tx),
                    lane(kind).timing_sample_every(every),
                )
                .build()
                .expect("build");
            drop(tx);
            let stats = dispatcher.stats();
            for seq in 0..12 {
                dispatch(&mut dispatcher, text(1, seq)).await;
            }
            within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
            assert_eq!(until_closed(&mut seen).await.len(), 12);
            let figures = lane_figures(&stats, "1");
            assert_eq!(figures.delivered, 12);
            assert_eq!(
                figures.timed_samples, timed,
                "{kind:?}, every {every}: {figures:?}"
            );
        }
    }
}

/// A smaller stack for a thread lane works.
#[tokio::test]
async fn a_thread_lane_with_a_small_stack() {
    let (tx, mut seen) = seen_channel();
    let mut dispatcher = RouterBuilder::new(TestRouter::parsing())
        .handler_with_config(
            1,
            Recorder::new(Some(1), &tx),
            lane(LaneKind::Thread).thread_stack_size(256 << 10),
        )
        .build()
        .expect("build");
    drop(tx);
    dispatch(&mut dispatcher, text(1, 0)).await;
    within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
    let seen = until_closed(&mut seen).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].thread_name.as_deref(), Some("hs-lane-1"));
}
