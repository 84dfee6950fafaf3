//! A client's life: connect, receive in order, send, subscribe at run time,
//! a server Close, and a user close that leaves nothing behind.

mod support;

use std::time::Duration;

use hypersockets::{
    ClientEvent, CloseCode, ConnectionState, DisconnectReason, HyperSocketError, LaneConfig,
    LaneKind, WsMessage,
};
use hypersockets_testkit::{
    CloseCause, ExchangeConfig, Fault, MockExchange, Rate, Recording, StreamConfig,
};
use support::{Collected, WAIT, client_for, subscription, wait_event, within};

fn burst(name: &str, limit: u64) -> StreamConfig {
    StreamConfig::trades(name)
        .rate(Rate::AsFastAsPossible)
        .limit(limit)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_every_message_in_order_then_closes_politely() {
    let exchange = MockExchange::start(
        ExchangeConfig::new()
            // 1,000 messages checked one by one: close to the default ring.
            .recording(Recording::All)
            .stream(burst("btcusdt@trade", 500))
            .stream(burst("ethusdt@trade", 500)),
    )
    .await
    .unwrap();
    let (data, control) = (Collected::default(), Collected::default());
    let client = client_for(
        &exchange,
        &["btcusdt@trade", "ethusdt@trade"],
        &data,
        &control,
    )
    .build()
    .unwrap();
    within("connect", client.connect()).await.unwrap();
    assert_eq!(client.state(), ConnectionState::Connected);
    data.wait_for(1000).await;

    let report = exchange.control().check_delivery(&data.texts()).unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.delivered(), 1000);

    let conn = exchange
        .control()
        .wait_for_connections(1, WAIT)
        .await
        .unwrap();
    client.close().await.unwrap();
    assert_eq!(client.state(), ConnectionState::ShuttingDown);
    let cause = exchange.control().wait_for_close(conn, WAIT).await.unwrap();
    match cause {
        CloseCause::ClientClosed(Some(frame)) => assert_eq!(frame.code, CloseCode::NORMAL),
        other => panic!("expected a client Close frame, got {other:?}"),
    }
    assert_eq!(exchange.control().connection_count(), 1, "no reconnect");
    let metrics = client.metrics();
    assert_eq!(metrics.connection.reconnects, 0);
    assert!(metrics.connection.messages_received >= 1000);
    let delivered: u64 = metrics.router.lanes.iter().map(|lane| lane.delivered).sum();
    assert!(delivered >= 1000);
    exchange.shutdown().await;
}

#[test]
fn close_never_reconnects_and_leaves_no_task_running() {
    // The exchange runs on its own runtime so that the client's runtime
    // holds nothing but the client.
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let exchange = server
        .block_on(MockExchange::start(
            ExchangeConfig::new().stream(burst("btcusdt@trade", 100)),
        ))
        .unwrap();
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (data, control) = (Collected::default(), Collected::default());
    client_runtime.block_on(async {
        let client = client_for(&exchange, &["btcusdt@trade"], &data, &control)
            .lane_defaults(LaneConfig::default().kind(LaneKind::Task))
            .build()
            .unwrap();
        let mut events = client.events();
        within("connect", client.connect()).await.unwrap();
        data.wait_for(100).await;
        client.close().await.unwrap();
        wait_event(&mut events, "shut down", |e| {
            matches!(e, ClientEvent::ShutDown)
        })
        .await;
        // Closing again is fine, and nothing works after it.
        client.close().await.unwrap();
        assert!(matches!(
            client.send(WsMessage::text("late")).await,
            Err(HyperSocketError::ShutDown)
        ));
        assert!(matches!(
            client.subscribe(subscription("ethusdt@trade")).await,
            Err(HyperSocketError::ShutDown)
        ));
        assert!(matches!(
            client.connect().await,
            Err(HyperSocketError::ShutDown)
        ));
    });
    // tokio wakes a task's joiner a moment before it stops counting the
    // task as alive: poll the count, within a bound.
    let deadline = std::time::Instant::now() + WAIT;
    while client_runtime.metrics().num_alive_tasks() > 0 && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    let alive = client_runtime.metrics().num_alive_tasks();
    assert_eq!(alive, 0, "tasks left running after close");
    server.block_on(async {
        let control = exchange.control();
        assert_eq!(control.connection_count(), 1);
        exchange.shutdown().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_only_while_connected() {
    let exchange = MockExchange::start(ExchangeConfig::new()).await.unwrap();
    let (data, control) = (Collected::default(), Collected::default());
    let client = client_for(&exchange, &[], &data, &control).build().unwrap();
    assert!(matches!(
        client.send(WsMessage::text("early")).await,
        Err(HyperSocketError::NotConnected)
    ));
    within("connect", client.connect()).await.unwrap();
    client
        .send(WsMessage::text(r#"{"hello":1}"#))
        .await
        .unwrap();
    // Registered by the exchange once its handshake ends, which may be
    // after the client's `connect` returned.
    let conn = exchange
        .control()
        .wait_for_connections(1, WAIT)
        .await
        .unwrap();
    exchange
        .control()
        .wait_for_received(conn, 1, WAIT)
        .await
        .unwrap();
    assert_eq!(
        exchange.control().received_text(conn).unwrap(),
        [r#"{"hello":1}"#]
    );
    assert_eq!(client.metrics().connection.messages_sent, 1);
    client.close().await.unwrap();
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_time_subscriptions_are_sent_and_restored() {
    let exchange = MockExchange::start(
        ExchangeConfig::new()
            .stream(
                StreamConfig::trades("btcusdt@trade").rate(Rate::Every(Duration::from_millis(5))),
            )
            .stream(
                StreamConfig::trades("ethusdt@trade").rate(Rate::Every(Duration::from_millis(5))),
            )
            .stream(
                StreamConfig::trades("solusdt@trade").rate(Rate::Every(Duration::from_millis(5))),
            ),
    )
    .await
    .unwrap();
    let control = exchange.control();
    let (data, answers) = (Collected::default(), Collected::default());
    let client = client_for(
        &exchange,
        &["btcusdt@trade", "ethusdt@trade", "solusdt@trade"],
        &data,
        &answers,
    )
    .build()
    .unwrap();
    // Subscriptions given to the builder; take two of them back before
    // connecting, then add one at run time.
    assert!(client.unsubscribe("ethusdt@trade").await.unwrap());
    assert!(client.unsubscribe("solusdt@trade").await.unwrap());
    assert!(!client.unsubscribe("nothing").await.unwrap());
    within("connect", client.connect()).await.unwrap();
    let first = control
        .wait_for_subscription("btcusdt@trade", WAIT)
        .await
        .unwrap();
    assert_eq!(control.subscriptions(first), ["btcusdt@trade"]);

    client
        .subscribe(subscription("ethusdt@trade"))
        .await
        .unwrap();
    control
        .wait_for_subscription("ethusdt@trade", WAIT)
        .await
        .unwrap();
    assert!(client.unsubscribe("btcusdt@trade").await.unwrap());
    control
        .wait_until("unsubscribed", WAIT, |c: &hypersockets_testkit::Control| {
            c.subscriptions(first) == ["ethusdt@trade"]
        })
        .await
        .unwrap();
    assert_eq!(
        client
            .subscriptions()
            .iter()
            .map(|s| s.id().to_owned())
            .collect::<Vec<_>>(),
        ["ethusdt@trade"]
    );

    // After a reconnect only the active one is restored.
    let mut events = client.events();
    control.inject(first, Fault::DropTcp).unwrap();
    wait_event(&mut events, "reconnected", |e| {
        matches!(e, ClientEvent::Connected { reconnect: true })
    })
    .await;
    let second = control.wait_for_connections(2, WAIT).await.unwrap();
    assert_ne!(first, second);
    control
        .wait_until("restored", WAIT, |c: &hypersockets_testkit::Control| {
            !c.subscriptions(second).is_empty()
        })
        .await
        .unwrap();
    assert_eq!(control.subscriptions(second), ["ethusdt@trade"]);
    let subscribes: Vec<String> = control
        .received_text(second)
        .unwrap()
        .into_iter()
        .filter(|text| text.contains("SUBSCRIBE"))
        .collect();
    assert_eq!(subscribes.len(), 1, "{subscribes:?}");
    client.close().await.unwrap();
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_close_is_reported_with_its_code_and_reconnects() {
    let exchange =
        MockExchange::start(ExchangeConfig::new().stream(StreamConfig::trades("btcusdt@trade")))
            .await
            .unwrap();
    let (data, control) = (Collected::default(), Collected::default());
    let client = client_for(&exchange, &["btcusdt@trade"], &data, &control)
        .build()
        .unwrap();
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    // Registered by the exchange once its handshake ends, which may be
    // after the client's `connect` returned.
    let conn = exchange
        .control()
        .wait_for_connections(1, WAIT)
        .await
        .unwrap();
    exchange
        .control()
        .inject(conn, Fault::close(1012u16, "restarting"))
        .unwrap();
    let event = wait_event(&mut events, "disconnect", |e| {
        matches!(e, ClientEvent::Disconnected { .. })
    })
    .await;
    match event {
        ClientEvent::Disconnected {
            reason: DisconnectReason::ServerClosed(Some(frame)),
        } => {
            assert_eq!(u16::from(frame.code), 1012);
            assert_eq!(frame.reason.as_str(), "restarting");
        }
        other => panic!("expected a server close, got {other:?}"),
    }
    wait_event(&mut events, "reconnecting", |e| {
        matches!(e, ClientEvent::Reconnecting { attempt: 1, .. })
    })
    .await;
    wait_event(&mut events, "reconnected", |e| {
        matches!(e, ClientEvent::Connected { reconnect: true })
    })
    .await;
    assert_eq!(client.metrics().connection.reconnects, 1);
    client.close().await.unwrap();
    exchange.shutdown().await;
}
