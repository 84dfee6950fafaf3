//! Subscriptions changed while connected reach the exchange at once.

mod support;

use hypersockets::{Subscription, WsMessage};
use hypersockets_testkit::{ExchangeConfig, MockExchange, Rate, StreamConfig};
use support::{Collected, WAIT, client_for, within};

fn binance_subscribe(stream: &str) -> WsMessage {
    WsMessage::text(format!(
        r#"{{"method":"SUBSCRIBE","params":["{stream}"],"id":1}}"#
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_subscription_while_connected_sends_the_new_request_now() {
    let exchange = MockExchange::start(
        ExchangeConfig::new()
            .stream(StreamConfig::trades("btcusdt@trade").rate(Rate::PerSecond(10)))
            .stream(StreamConfig::trades("ethusdt@trade").rate(Rate::PerSecond(10))),
    )
    .await
    .unwrap();
    let control = exchange.control();
    let client = client_for(&exchange, &[], &Collected::default(), &Collected::default())
        .subscribe(Subscription::new(
            "feed",
            binance_subscribe("btcusdt@trade"),
        ))
        .build()
        .unwrap();
    within("connect", client.connect()).await.unwrap();
    let conn = control
        .wait_for_subscription("btcusdt@trade", WAIT)
        .await
        .unwrap();

    // Same id, new request: sent on this connection, not deferred.
    client
        .subscribe(Subscription::new(
            "feed",
            binance_subscribe("ethusdt@trade"),
        ))
        .await
        .unwrap();
    let now = control
        .wait_for_subscription("ethusdt@trade", WAIT)
        .await
        .unwrap();
    assert_eq!(now, conn, "on the same connection");
    assert_eq!(control.connection_count(), 1, "no reconnect needed");
    let requests: Vec<String> = control
        .received_text(conn)
        .unwrap()
        .into_iter()
        .filter(|text| text.contains("SUBSCRIBE"))
        .collect();
    assert_eq!(
        requests,
        [
            binance_subscribe("btcusdt@trade").as_text().unwrap(),
            binance_subscribe("ethusdt@trade").as_text().unwrap(),
        ]
    );
    let registered = client.subscriptions();
    assert_eq!(registered.len(), 1, "replaced, not added");
    assert_eq!(
        registered[0].subscribe(),
        Some(&binance_subscribe("ethusdt@trade"))
    );
    client.close().await.unwrap();
    exchange.shutdown().await;
}

/// A burst of subscriptions faster than the writer can write them (the
/// peer reads nothing until the burst is over) is queued, never taken for
/// a stuck writer: every request arrives, in order, on the one connection.
/// (Unpaced: this is about the queue, not the rate; see `pacing.rs`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_subscriptions_waits_for_the_writer_and_loses_nothing() {
    use hypersockets::{ClientEvent, MemoryTransport, Pacing, PassThrough, WebSocketClient};

    const BURST: usize = 200;
    // Room for one message toward the peer until it reads.
    let (transport, server) = MemoryTransport::with_capacity(1, 16);
    let client = WebSocketClient::builder()
        .url("wss://exchange.test/ws")
        .transport(transport)
        .router(PassThrough)
        .writer_queue(1)
        .pacing(Pacing::unlimited())
        .build()
        .unwrap();
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    let peer = within("accept", server.accept()).await;
    for n in 0..BURST {
        let stream = format!("s{n}@trade");
        within(
            "subscribe",
            client.subscribe(Subscription::new(&stream, binance_subscribe(&stream))),
        )
        .await
        .unwrap();
    }
    for n in 0..BURST {
        let got = within("a request", peer.recv()).await;
        assert_eq!(got, Some(binance_subscribe(&format!("s{n}@trade"))));
    }
    while let Some(Ok(event)) = events.try_recv() {
        assert!(
            !matches!(event, ClientEvent::Disconnected { .. }),
            "{event:?}"
        );
    }
    assert_eq!(client.metrics().connection.reconnects, 0);
    client.close().await.unwrap();
}
