//! A client whose last handle is dropped without `close()` stops: its
//! connection task, reconnect loop, writer, task lanes and lane threads all
//! end, even while its handlers hold `WeakClient`s to it. Counted, not
//! timed: tokio's count of live tasks and the lane threads in
//! `/proc/self/task`, each reaching zero within a bound.
//!
//! One test in this file: the lane-thread count is per process.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use hypersockets::{
    BoxError, ConnectionState, LaneConfig, LaneKind, WeakClient, WebSocketClient, async_handler_fn,
};
use hypersockets_testkit::{ExchangeConfig, Fault, MockExchange, Rate, StreamConfig};
use support::{Collected, Feed, FeedRouter, WAIT, subscription, within};
use tokio::runtime::Runtime;

const THREAD_STREAM: &str = "btcusdt@trade";
const TASK_STREAM: &str = "ethusdt@trade";

/// Lane threads alive in this process (they are named `hs-lane-…`).
fn lane_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|name| name.starts_with("hs-lane-"))
        })
        .count()
}

/// Waits until `count` is `target`, within [`WAIT`]; returns what it is then.
fn settles_to(target: usize, count: impl Fn() -> usize) -> usize {
    let deadline = std::time::Instant::now() + WAIT;
    while count() != target && std::time::Instant::now() < deadline {
        // A bounded poll (threads ending give no other signal); the pause
        // leaves the two cores to the threads it waits for.
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    count()
}

/// [`settles_to`] 0.
fn settles_to_zero(count: impl Fn() -> usize) -> usize {
    settles_to(0, count)
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// A client with a thread lane and a task lane whose handlers hold a
/// `WeakClient` to it and use it on every message.
fn client(url: String, data: &Collected, upgrades: &Arc<AtomicUsize>) -> WebSocketClient {
    let me: Arc<OnceLock<WeakClient>> = Arc::default();
    let mut builder = WebSocketClient::builder()
        .url(url)
        .router(FeedRouter)
        .reconnect(hypersockets::FixedInterval::new(
            std::time::Duration::from_millis(20),
        ));
    for (stream, kind) in [
        (THREAD_STREAM, LaneKind::Thread),
        (TASK_STREAM, LaneKind::Task),
    ] {
        let (me, data, upgrades) = (Arc::clone(&me), data.clone(), Arc::clone(upgrades));
        builder = builder
            .handler_with_config(
                stream.to_owned(),
                async_handler_fn(move |feed: Feed| {
                    // A full handle only for the length of the call.
                    if let Some(client) = me.get().and_then(WeakClient::upgrade) {
                        assert_ne!(client.state(), ConnectionState::ShuttingDown);
                        upgrades.fetch_add(1, Ordering::Relaxed);
                    }
                    data.push(feed.text);
                    async { Ok::<_, BoxError>(()) }
                }),
                LaneConfig::default().kind(kind),
            )
            .subscribe(subscription(stream));
    }
    let client = builder.build().unwrap();
    me.set(client.downgrade()).unwrap();
    client
}

#[test]
fn dropping_the_last_handle_ends_every_task_and_thread() {
    let server = runtime();
    let exchange = server
        .block_on(MockExchange::start(
            ExchangeConfig::new()
                .stream(
                    StreamConfig::trades(THREAD_STREAM)
                        .rate(Rate::AsFastAsPossible)
                        .limit(200),
                )
                .stream(
                    StreamConfig::trades(TASK_STREAM)
                        .rate(Rate::AsFastAsPossible)
                        .limit(200),
                ),
        ))
        .unwrap();
    let control = exchange.control();

    // Never connected: dropping it stops the lanes.
    let client_runtime = runtime();
    let (data, upgrades) = (Collected::default(), Arc::new(AtomicUsize::new(0)));
    let weak = client_runtime.block_on(async {
        let client = client(exchange.url(), &data, &upgrades);
        // A thread names itself once it runs.
        assert_eq!(settles_to(1, lane_threads), 1);
        client.downgrade()
    });
    assert!(weak.upgrade().is_none());
    assert_eq!(settles_to_zero(lane_threads), 0, "lane thread left running");
    assert_eq!(
        settles_to_zero(|| client_runtime.metrics().num_alive_tasks()),
        0,
        "task left running"
    );

    // Live, with handlers holding weak handles: dropping it ends everything.
    let weak = client_runtime.block_on(async {
        let client = client(exchange.url(), &data, &upgrades);
        within("connect", client.connect()).await.unwrap();
        data.wait_for(400).await;
        client.downgrade()
    });
    assert_eq!(
        upgrades.load(Ordering::Relaxed),
        400,
        "handlers used their weak handle"
    );
    let first = control.latest_connection().unwrap();
    assert_eq!(settles_to_zero(lane_threads), 0, "lane thread left running");
    assert_eq!(
        settles_to_zero(|| client_runtime.metrics().num_alive_tasks()),
        0,
        "task left running"
    );
    assert!(weak.upgrade().is_none());
    server.block_on(async {
        control.wait_for_close(first, WAIT).await.unwrap();
    });

    // Reconnecting (the exchange refuses): dropping it ends the loop.
    let weak = client_runtime.block_on(async {
        let client = client(exchange.url(), &data, &upgrades);
        within("connect", client.connect()).await.unwrap();
        // The exchange may record it a moment after the client connects.
        let id = control.wait_for_connections(2, WAIT).await.unwrap();
        control.refuse_connections(u64::MAX);
        control.inject(id, Fault::DropTcp).unwrap();
        let attempts = control.attempts();
        // Refused at least once more: it is in its reconnect loop.
        control
            .wait_until("a refused attempt", WAIT, |control| {
                control.attempts() > attempts + 1
            })
            .await
            .unwrap();
        client.downgrade()
    });
    assert_eq!(settles_to_zero(lane_threads), 0, "lane thread left running");
    assert_eq!(
        settles_to_zero(|| client_runtime.metrics().num_alive_tasks()),
        0,
        "task left running"
    );
    assert!(weak.upgrade().is_none());
    server.block_on(exchange.shutdown());
}
