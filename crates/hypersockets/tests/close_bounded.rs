//! `close()` returns within its bound in every state — before connecting,
//! while connecting, waiting to reconnect, authenticating, live, closed —
//! even with a handler stuck in a long call: the lanes get the close
//! timeout to finish, then a stuck thread lane is detached and a stuck task
//! lane aborted, each reported (`LaneAbandoned`, `abandoned_lanes`).
//!
//! Every stuck thing here would stay stuck far longer than the test's bound
//! (`WAIT`): a handshake that never comes, an hour's reconnect delay, a
//! login nobody answers, a handler blocked on a `Barrier` until the test
//! releases it at the end.

mod support;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use hypersockets::{
    AuthProvider, BoxError, BoxFuture, ClientEvent, FixedInterval, HasUrl, HyperSocketError,
    LaneConfig, LaneKind, MemoryBudget, MemoryTransport, MessageHandler, PassThrough,
    WebSocketClient, WebSocketClientBuilder, WithRouter, WsMessage, async_handler_fn, handler_fn,
};
use hypersockets_testkit::{ExchangeConfig, Fault, MockExchange, Rate, StreamConfig};
use support::{WAIT, subscription, wait_event, within};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Short, so that the lanes' share of the close runs out quickly.
const CLOSE: Duration = Duration::from_millis(200);
/// Far longer than any bound of the test.
const FOREVER: Duration = Duration::from_secs(3600);
const STREAM: &str = "btcusdt@trade";

fn flood() -> ExchangeConfig {
    ExchangeConfig::new().stream(
        StreamConfig::trades(STREAM)
            .rate(Rate::AsFastAsPossible)
            .limit(5_000),
    )
}

/// A client of the flooding exchange whose one lane, of `kind`, runs `handler`.
fn flooded(
    exchange: &MockExchange,
    kind: LaneKind,
    handler: impl MessageHandler<WsMessage>,
) -> WebSocketClientBuilder<HasUrl, WithRouter<PassThrough>> {
    WebSocketClient::builder()
        .url(exchange.url())
        .router(PassThrough)
        .lane_defaults(LaneConfig::default().kind(kind))
        .handler((), handler)
        .subscribe(subscription(STREAM))
        .close_timeout(CLOSE)
}

/// `connect`, left waiting in a task of its own.
fn connect_in_background(client: &WebSocketClient) -> JoinHandle<Result<(), HyperSocketError>> {
    let client = client.clone();
    tokio::spawn(async move { client.connect().await })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_connect_and_after_close() {
    let client = WebSocketClient::builder()
        .url("ws://127.0.0.1:1/ws")
        .router(PassThrough)
        .handler((), handler_fn(|_: WsMessage| Ok::<_, BoxError>(())))
        .close_timeout(CLOSE)
        .build()
        .unwrap();
    within("close before connect", client.close())
        .await
        .unwrap();
    within("close again", client.close()).await.unwrap();
}

/// The server accepts TCP and never answers the handshake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_connecting() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    let (accepted_tx, mut accepted) = tokio::sync::mpsc::unbounded_channel();
    let server = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket); // kept open, never answered
            let _ = accepted_tx.send(());
        }
    });
    let client = WebSocketClient::builder()
        .url(url)
        .router(PassThrough)
        .handshake_timeout(FOREVER)
        .close_timeout(CLOSE)
        .build()
        .unwrap();
    let connecting = connect_in_background(&client);
    within("the connection", accepted.recv()).await.unwrap();
    within("close while connecting", client.close())
        .await
        .unwrap();
    let connected = within("connect's answer", connecting).await.unwrap();
    assert!(
        matches!(connected, Err(HyperSocketError::ShutDown)),
        "{connected:?}"
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_waiting_to_reconnect() {
    let exchange = MockExchange::start(ExchangeConfig::new()).await.unwrap();
    let client = WebSocketClient::builder()
        .url(exchange.url())
        .router(PassThrough)
        .reconnect(FixedInterval::new(FOREVER))
        .close_timeout(CLOSE)
        .build()
        .unwrap();
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    let control = exchange.control();
    let id = control.wait_for_connections(1, WAIT).await.unwrap();
    control.inject(id, Fault::DropTcp).unwrap();
    wait_event(&mut events, "reconnecting", |event| {
        matches!(event, ClientEvent::Reconnecting { .. })
    })
    .await;
    within("close while waiting", client.close()).await.unwrap();
}

/// A login the exchange never answers.
#[derive(Debug)]
struct Unanswered;

impl AuthProvider for Unanswered {
    fn login_messages(&self) -> BoxFuture<'_, Result<Vec<WsMessage>, BoxError>> {
        Box::pin(async { Ok(vec![WsMessage::text(r#"{"op":"login","args":[]}"#)]) })
    }

    fn awaits_response(&self) -> bool {
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_authenticating() {
    let exchange = MockExchange::start(ExchangeConfig::new()).await.unwrap();
    let client = WebSocketClient::builder()
        .url(exchange.url())
        .router(PassThrough)
        .auth(Unanswered)
        .auth_timeout(FOREVER)
        .close_timeout(CLOSE)
        .build()
        .unwrap();
    let connecting = connect_in_background(&client);
    let control = exchange.control();
    let id = control.wait_for_connections(1, WAIT).await.unwrap();
    control.wait_for_received(id, 1, WAIT).await.unwrap();
    within("close while authenticating", client.close())
        .await
        .unwrap();
    let connected = within("connect's answer", connecting).await.unwrap();
    assert!(connected.is_err(), "{connected:?}");
}

/// A thread lane's handler blocked on a `Barrier` for longer than the close
/// timeout: `close` detaches it and returns; the barrier is released at
/// the end, and the thread ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_with_a_thread_lane_stuck_in_a_blocking_call() {
    let exchange = MockExchange::start(flood()).await.unwrap();
    let barrier = Arc::new(Barrier::new(2));
    let stuck = Arc::clone(&barrier);
    let (entered_tx, mut entered) = tokio::sync::mpsc::unbounded_channel();
    let handler = handler_fn(move |_: WsMessage| {
        if entered_tx.send(()).is_ok() {
            stuck.wait(); // blocks this lane's thread until released
        }
        Ok::<_, BoxError>(())
    });
    let client = flooded(&exchange, LaneKind::Thread, handler)
        .build()
        .unwrap();
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    within("the handler", entered.recv()).await.unwrap();
    drop(entered); // later calls do not block

    within("close with a stuck thread lane", client.close())
        .await
        .unwrap();
    let event = wait_event(&mut events, "the abandoned lane", |event| {
        matches!(event, ClientEvent::LaneAbandoned { .. })
    })
    .await;
    assert!(matches!(event, ClientEvent::LaneAbandoned { ref lane } if lane == "()"));
    assert_eq!(client.metrics().router.abandoned_lanes, 1);

    // Released: the detached thread finishes and ends.
    let release = Arc::clone(&barrier);
    within(
        "release",
        tokio::task::spawn_blocking(move || release.wait()),
    )
    .await
    .unwrap();
}

/// A lane's handler that never finishes, with the reader waiting at the
/// memory budget: `close` is still heard, and the lane is aborted (a task
/// lane) or cancelled (a pool lane): the stuck handler's future is dropped.
async fn live_with_a_lane_stuck_and_the_reader_at_the_budget(kind: LaneKind) {
    let exchange = MockExchange::start(flood()).await.unwrap();
    let never = Arc::new(tokio::sync::Notify::new());
    let (dropped_tx, mut dropped) = tokio::sync::mpsc::unbounded_channel();
    let handler = async_handler_fn(move |_: WsMessage| {
        let never = Arc::clone(&never);
        let on_drop = DropSignal(dropped_tx.clone());
        async move {
            let _on_drop = on_drop;
            never.notified().await;
            Ok::<_, BoxError>(())
        }
    });
    let client = flooded(&exchange, kind, handler)
        .memory_budget(MemoryBudget::Bytes(16 << 10))
        .build()
        .unwrap();
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    wait_event(&mut events, "the budget", |event| {
        matches!(event, ClientEvent::MemoryBudgetReached { .. })
    })
    .await;
    within("close at the budget", client.close()).await.unwrap();
    wait_event(&mut events, "the abandoned lane", |event| {
        matches!(event, ClientEvent::LaneAbandoned { .. })
    })
    .await;
    assert_eq!(client.metrics().router.abandoned_lanes, 1);
    within("the stuck handler's future dropped", dropped.recv())
        .await
        .unwrap();
}

/// Sends on its channel when dropped.
struct DropSignal(tokio::sync::mpsc::UnboundedSender<()>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_with_a_task_lane_stuck_and_the_reader_at_the_budget() {
    live_with_a_lane_stuck_and_the_reader_at_the_budget(LaneKind::Task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_with_a_pool_lane_stuck_and_the_reader_at_the_budget() {
    live_with_a_lane_stuck_and_the_reader_at_the_budget(LaneKind::Pool).await;
}

/// A login that never comes (say, a REST call for a token that hangs).
#[derive(Debug)]
struct Hanging;

impl AuthProvider for Hanging {
    fn login_messages(&self) -> BoxFuture<'_, Result<Vec<WsMessage>, BoxError>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_auth_provider_hangs() {
    let exchange = MockExchange::start(ExchangeConfig::new()).await.unwrap();
    let client = WebSocketClient::builder()
        .url(exchange.url())
        .router(PassThrough)
        .auth(Hanging)
        .close_timeout(CLOSE)
        .build()
        .unwrap();
    let connecting = connect_in_background(&client);
    exchange
        .control()
        .wait_for_connections(1, WAIT)
        .await
        .unwrap();
    within("close while logging in", client.close())
        .await
        .unwrap();
    let connected = within("connect's answer", connecting).await.unwrap();
    assert!(connected.is_err(), "{connected:?}");
}

/// A peer that never reads: the writer is stuck sending a user message
/// (with an hour's write timeout) when `close` comes, and `close` still
/// returns once its own timeout is over, not the write timeout's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_with_the_writer_stuck_on_a_peer_that_never_reads() {
    // Room for one message toward the server, which never takes it.
    let (transport, server) = MemoryTransport::with_capacity(1, 16);
    let client = WebSocketClient::builder()
        .url("wss://exchange.test/ws")
        .transport(transport)
        .router(PassThrough)
        .writer_queue(1)
        .write_timeout(FOREVER)
        .close_timeout(CLOSE)
        .build()
        .unwrap();
    within("connect", client.connect()).await.unwrap();
    let _peer = within("accept", server.accept()).await;
    // One message in the channel, one in the writer's hands, then the
    // queue fills: the writer is stuck for as long as the peer is.
    let mut refused = false;
    for _ in 0..16 {
        match client.try_send(WsMessage::text("order")) {
            Ok(()) => {}
            Err(HyperSocketError::WriteQueueFull) => {
                refused = true;
                break;
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    assert!(refused, "the queue never filled");
    within("close with the writer stuck", client.close())
        .await
        .unwrap();
}
