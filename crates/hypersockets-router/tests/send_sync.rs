//! Compile-time checks that the router's types can cross threads: the
//! dispatcher (and its futures) can move into a reader task, the stats can
//! be shared, the settings are plain data.

mod support;

use hypersockets_core::MessageContext;
use hypersockets_router::{
    Dispatch, Dispatcher, LaneConfig, LaneKind, LaneMetricsSnapshot, OverflowPolicy, RouterBuilder,
    RouterMetricsSnapshot, RouterStats, ShutdownMode, StreamLatencySnapshot,
};
use support::{Recorder, TestRouter};

fn assert_send<T: Send>() {}
fn assert_send_sync<T: Send + Sync>() {}
fn assert_clone<T: Clone>() {}
fn assert_static<T: 'static>() {}
fn assert_send_value<T: Send>(_: &T) {}

#[test]
fn the_dispatcher_is_send() {
    assert_send::<Dispatcher<TestRouter>>();
    assert_static::<Dispatcher<TestRouter>>();
    assert_send::<RouterBuilder<TestRouter>>();
    assert_send_sync::<Dispatch>();
}

#[test]
fn the_stats_are_send_sync_and_clone() {
    assert_send_sync::<RouterStats>();
    assert_clone::<RouterStats>();
    assert_static::<RouterStats>();
    assert_send_sync::<RouterMetricsSnapshot>();
    assert_clone::<RouterMetricsSnapshot>();
    assert_send_sync::<LaneMetricsSnapshot>();
    assert_clone::<LaneMetricsSnapshot>();
    assert_send_sync::<StreamLatencySnapshot>();
    assert_clone::<StreamLatencySnapshot>();
}

#[test]
fn the_settings_are_send_and_sync() {
    assert_send_sync::<LaneConfig>();
    assert_send_sync::<LaneKind>();
    assert_send_sync::<OverflowPolicy>();
    assert_send_sync::<ShutdownMode>();
}

/// The futures of `ready` and `shutdown` are `Send`, so the reader can be
/// a spawned task.
#[tokio::test]
async fn the_dispatcher_futures_are_send() {
    let (tx, _seen) = support::seen_channel();
    let mut dispatcher = RouterBuilder::new(TestRouter::parsing())
        .handler(1, Recorder::new(Some(1), &tx))
        .build()
        .expect("build");
    assert_eq!(
        dispatcher.dispatch(support::text(1, 0), MessageContext::now(1)),
        Dispatch::Queued
    );
    {
        let ready = dispatcher.ready();
        assert_send_value(&ready);
        assert_eq!(ready.await, Dispatch::Queued);
    }
    let shutdown = dispatcher.shutdown(ShutdownMode::Graceful);
    assert_send_value(&shutdown);
    // And it really runs as a task.
    tokio::spawn(shutdown).await.expect("shutdown task");
}
