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
        &binance_subscribe("ethusdt@trade")
    );
    client.close().await.unwrap();
    exchange.shutdown().await;
}
