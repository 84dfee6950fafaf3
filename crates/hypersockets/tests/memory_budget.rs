//! The memory budget through a real socket: the mock exchange floods, a
//! handler waits on a gate, and the client stops reading once its queues
//! hold the budget (the event fires, the figures say so); when the gate
//! opens, everything arrives, in order, nothing lost.

mod support;

use hypersockets::{
    BoxError, ClientEvent, LaneConfig, LaneKind, MemoryBudget, WebSocketClient, async_handler_fn,
};
use hypersockets_testkit::{
    Checksum, ConnectionId, ExchangeConfig, MockExchange, Rate, StreamConfig,
};
use support::{Collected, Feed, FeedRouter, subscription, wait_event, within};
use tokio::sync::watch;

const STREAM: &str = "btcusdt@trade";
const MESSAGES: u64 = 5_000;
const BUDGET: usize = 64 << 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_handler_stops_the_reader_and_then_gets_everything_in_order() {
    for kind in [LaneKind::Thread, LaneKind::Task] {
        let exchange = MockExchange::start(
            ExchangeConfig::new().stream(
                StreamConfig::trades(STREAM)
                    .rate(Rate::AsFastAsPossible)
                    .limit(MESSAGES),
            ),
        )
        .await
        .unwrap();
        let data = Collected::default();
        let (open, gate) = watch::channel(false);
        let handled = data.clone();
        let client = WebSocketClient::builder()
            .url(exchange.url())
            .router(FeedRouter)
            .lane_defaults(LaneConfig::default().kind(kind))
            .memory_budget(MemoryBudget::Bytes(BUDGET))
            .handler(
                STREAM.to_owned(),
                async_handler_fn(move |feed: Feed| {
                    let (mut gate, handled) = (gate.clone(), handled.clone());
                    async move {
                        gate.wait_for(|open| *open).await?;
                        handled.push(feed.text);
                        Ok::<_, BoxError>(())
                    }
                }),
            )
            .subscribe(subscription(STREAM))
            .build()
            .unwrap();
        let mut events = client.events();
        within("connect", client.connect()).await.unwrap();

        let event = wait_event(&mut events, "the budget", |event| {
            matches!(event, ClientEvent::MemoryBudgetReached { .. })
        })
        .await;
        let ClientEvent::MemoryBudgetReached {
            queued_bytes,
            limit,
        } = event
        else {
            unreachable!()
        };
        assert_eq!(limit, BUDGET);
        assert!(queued_bytes > BUDGET, "{kind:?}: {queued_bytes}");

        // The reader waits, and the handler is stuck: nothing more is read.
        let metrics = client.metrics();
        assert_eq!(metrics.router.backpressure_waits, 1, "{kind:?}");
        assert_eq!(metrics.router.memory_budget, Some(BUDGET as u64));
        let received = metrics.connection.messages_received;
        // The budget's worth of messages, plus at most what was read before
        // the queues were counted (a chunk per lane, 1024 dispatches).
        let per_message = metrics.connection.bytes_received / received.max(1);
        let at_most = BUDGET as u64 / per_message + 1024 + 64;
        assert!(
            received < at_most,
            "{kind:?}: read {received} of {MESSAGES}"
        );
        assert!(received < MESSAGES, "{kind:?}: the client read everything");
        assert!(
            metrics.router.queued_bytes <= (BUDGET as u64) * 2,
            "{kind:?}: {metrics:?}"
        );
        assert!(data.texts().is_empty());

        open.send(true).unwrap();
        data.wait_for(MESSAGES as usize).await;
        // Counts and checksum: every message written, in order, checked
        // without the exchange keeping 5,000 (past its default ring).
        let control = exchange.control();
        assert_eq!(control.connection_count(), 1, "{kind:?}: reconnected");
        let summary = control.summary(ConnectionId::new(0)).unwrap();
        let texts = data.texts();
        assert_eq!(texts.len() as u64, MESSAGES, "{kind:?}");
        assert_eq!(summary.data_messages_written, MESSAGES, "{kind:?}");
        assert_eq!(
            summary.data_checksum,
            Checksum::of(&texts),
            "{kind:?}: not what was written, in order"
        );
        let metrics = client.metrics();
        assert!(metrics.router.backpressure_waits >= 1);
        assert_eq!(
            metrics.router.lanes.iter().map(|l| l.dropped).sum::<u64>(),
            0
        );
        within("close", client.close()).await.unwrap();
    }
}

/// The extremes of the budget: none at all (every chunk waits for the
/// lanes to take it) and the largest, both deliver everything in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_extreme_budgets_deliver_everything() {
    for budget in [
        MemoryBudget::Bytes(0),
        MemoryBudget::Bytes(usize::MAX),
        MemoryBudget::Unbounded,
    ] {
        let exchange = MockExchange::start(
            ExchangeConfig::new().stream(
                StreamConfig::trades(STREAM)
                    .rate(Rate::AsFastAsPossible)
                    .limit(500),
            ),
        )
        .await
        .unwrap();
        let (data, control) = (Collected::default(), Collected::default());
        let client = support::client_for(&exchange, &[STREAM], &data, &control)
            .memory_budget(budget)
            .build()
            .unwrap();
        within("connect", client.connect()).await.unwrap();
        data.wait_for(500).await;
        let report = exchange.control().check_delivery(&data.texts()).unwrap();
        assert!(report.is_complete(), "{budget:?}: {report:?}");
        within("close", client.close()).await.unwrap();
    }
}
