//! Thousands of task lanes: 4000 of them build, each gets its message, and
//! they all shut down cleanly (one router with 4000 keys, and 1000 routers
//! with 4 keys each, as a client manager would have).

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use hypersockets_router::{Dispatcher, LaneKind, RouterBuilder, ShutdownMode};
use support::{Recorder, Seen, TestRouter, dispatch, lane, seen_channel, text};
use tokio::sync::mpsc::UnboundedReceiver;

const LANES: u32 = 4000;
const LONG_WAIT: Duration = Duration::from_secs(30);

/// Collects `count` reports within [`LONG_WAIT`] overall.
async fn collect(seen: &mut UnboundedReceiver<Seen>, count: usize) -> Vec<Seen> {
    let all = async {
        let mut all = Vec::with_capacity(count);
        while all.len() < count {
            all.push(seen.recv().await.expect("a handler is gone"));
        }
        all
    };
    tokio::time::timeout(LONG_WAIT, all)
        .await
        .expect("timed out waiting for the lanes")
}

fn check_each_key_once(seen: &[Seen], routers: u32, keys: u32) {
    let mut got = BTreeSet::new();
    for one in seen {
        assert_eq!(
            one.lane,
            Some(one.msg.key),
            "a message reached the wrong lane"
        );
        assert!(
            got.insert((one.msg.seq, one.msg.key)),
            "a message was handled twice"
        );
    }
    assert_eq!(got.len() as u32, routers * keys);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_router_with_4000_task_lanes() {
    let probe = Arc::new(());
    let (tx, mut seen) = seen_channel();
    let mut builder = RouterBuilder::new(TestRouter::parsing()).lane_defaults(lane(LaneKind::Task));
    for key in 0..LANES {
        builder = builder.handler(key, Recorder::new(Some(key), &tx).probe(&probe));
    }
    drop(tx);
    let mut dispatcher = builder.build().expect("4000 task lanes");
    let stats = dispatcher.stats();
    for key in 0..LANES {
        dispatch(&mut dispatcher, text(key, 0)).await;
    }
    dispatcher.flush();
    let got = collect(&mut seen, LANES as usize).await;
    check_each_key_once(&got, 1, LANES);

    tokio::time::timeout(LONG_WAIT, dispatcher.shutdown(ShutdownMode::Graceful))
        .await
        .expect("shutdown");
    assert_eq!(Arc::strong_count(&probe), 1, "a lane outlived the shutdown");
    assert!(
        seen.recv().await.is_none(),
        "nothing more, and every handler gone"
    );
    let figures = stats.snapshot();
    assert_eq!(figures.lanes.len(), LANES as usize);
    assert!(
        figures
            .lanes
            .iter()
            .all(|lane| lane.delivered == 1 && lane.depth == 0)
    );
    assert_eq!(figures.dispatched, u64::from(LANES));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_routers_with_four_task_lanes_each() {
    const ROUTERS: u32 = 1000;
    const KEYS: u32 = 4;
    let probe = Arc::new(());
    let (tx, mut seen) = seen_channel();
    let mut dispatchers: Vec<Dispatcher<TestRouter>> = Vec::new();
    for _ in 0..ROUTERS {
        let mut builder =
            RouterBuilder::new(TestRouter::classifying()).lane_defaults(lane(LaneKind::Task));
        for key in 0..KEYS {
            builder = builder.handler(key, Recorder::new(Some(key), &tx).probe(&probe));
        }
        dispatchers.push(builder.build().expect("build"));
    }
    drop(tx);
    for (index, dispatcher) in dispatchers.iter_mut().enumerate() {
        for key in 0..KEYS {
            dispatch(dispatcher, text(key, index as u64)).await;
        }
        dispatcher.flush();
    }
    let got = collect(&mut seen, (ROUTERS * KEYS) as usize).await;
    check_each_key_once(&got, ROUTERS, KEYS);

    let shutdowns = async {
        for dispatcher in dispatchers {
            dispatcher.shutdown(ShutdownMode::Graceful).await;
        }
    };
    tokio::time::timeout(LONG_WAIT, shutdowns)
        .await
        .expect("shutdown");
    assert_eq!(Arc::strong_count(&probe), 1, "a lane outlived the shutdown");
    assert!(seen.recv().await.is_none());
}
