//! Subscriptions with the venue's answers read (`SubscriptionAcks`):
//! accepted ones are announced, refused ones removed with the venue's
//! reason, unanswered ones sent again and given up after the last attempt,
//! against the mock exchange's Binance and OKX protocols and, for the
//! timeouts, a silent server on tokio's paused clock.

mod support;

use std::time::Duration;

use hypersockets::{
    BinanceAcks, ClientEvent, EventStream, MemoryTransport, OkxAcks, Pacing, PassThrough,
    Subscription, WebSocketClient, WsMessage,
};
use hypersockets_testkit::{ExchangeConfig, MockExchange, StreamConfig, SubscriptionProtocol};
use support::{wait_event, within};

fn binance(stream: &str, id: u32) -> Subscription {
    Subscription::new(
        stream,
        format!(r#"{{"method":"SUBSCRIBE","params":["{stream}"],"id":{id}}}"#),
    )
}

fn okx(channel: &str, inst: &str, id: u32) -> Subscription {
    Subscription::new(
        format!("{channel}:{inst}"),
        format!(
            r#"{{"id":"{id}","op":"subscribe","args":[{{"channel":"{channel}","instId":"{inst}"}}]}}"#
        ),
    )
}

/// The next subscription verdict: `Ok(id)` accepted, `Err((id, reason))`
/// refused.
async fn verdict(events: &mut EventStream) -> Result<String, (String, String)> {
    let event = wait_event(events, "a subscription verdict", |e| {
        matches!(
            e,
            ClientEvent::SubscriptionActive { .. } | ClientEvent::SubscriptionRejected { .. }
        )
    })
    .await;
    match event {
        ClientEvent::SubscriptionActive { id } => Ok(id),
        ClientEvent::SubscriptionRejected { id, reason } => Err((id, reason)),
        other => unreachable!("{other:?}"),
    }
}

/// Connects `client` and waits for its two verdicts: `accepted` active,
/// `refused` rejected (the reason is returned).
async fn one_accepted_one_refused(
    client: &WebSocketClient,
    accepted: &str,
    refused: &str,
) -> String {
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    let mut verdicts = vec![verdict(&mut events).await, verdict(&mut events).await];
    verdicts.sort();
    assert_eq!(verdicts[0], Ok(accepted.to_owned()));
    match verdicts.remove(1) {
        Err((id, reason)) if id == refused => reason,
        other => panic!("expected {refused} refused, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_accepts_a_known_stream_and_refuses_an_unknown_one() {
    let exchange =
        MockExchange::start(ExchangeConfig::new().stream(StreamConfig::trades("btcusdt@trade")))
            .await
            .unwrap();
    let client = WebSocketClient::builder()
        .url(exchange.url())
        .router(PassThrough)
        .subscription_acks(BinanceAcks)
        .subscribe(binance("btcusdt@trade", 1))
        .subscribe(binance("nosuch@trade", 2))
        .build()
        .unwrap();
    let reason = one_accepted_one_refused(&client, "btcusdt@trade", "nosuch@trade").await;
    assert!(
        reason.starts_with("code 2: "),
        "the venue's words: {reason}"
    );
    let ids: Vec<String> = client
        .subscriptions()
        .iter()
        .map(|s| s.id().to_owned())
        .collect();
    assert_eq!(ids, ["btcusdt@trade"], "the refused one is not kept");
    let metrics = client.metrics().connection;
    assert_eq!(
        (
            metrics.subscriptions_accepted,
            metrics.subscriptions_rejected
        ),
        (1, 1)
    );
    client.close().await.unwrap();
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_answers_are_matched_by_the_request_id() {
    let exchange = MockExchange::start(
        ExchangeConfig::new()
            .protocol(SubscriptionProtocol::Okx)
            .stream(StreamConfig::trades("trades:BTC-USDT")),
    )
    .await
    .unwrap();
    let client = WebSocketClient::builder()
        .url(exchange.url())
        .router(PassThrough)
        .subscription_acks(OkxAcks)
        .subscribe(okx("trades", "BTC-USDT", 1))
        .subscribe(okx("trades", "NOPE-USDT", 2))
        .build()
        .unwrap();
    let reason = one_accepted_one_refused(&client, "trades:BTC-USDT", "trades:NOPE-USDT").await;
    assert!(reason.starts_with("code 60018: "), "{reason}");
    client.close().await.unwrap();
    exchange.shutdown().await;
}

const TIMEOUT: Duration = Duration::from_secs(5);

/// A client of a server on the in-memory transport, one subscription
/// whose answers are `{"result":null,"id":1}`.
fn silent_server_client(transport: MemoryTransport, attempts: u32) -> WebSocketClient {
    WebSocketClient::builder()
        .url("ws://exchange.test/ws")
        .transport(transport)
        .router(PassThrough)
        .no_protocol_ping()
        .pacing(Pacing::unlimited())
        .subscription_acks(BinanceAcks)
        .subscribe_timeout(TIMEOUT)
        .subscribe_attempts(attempts)
        .subscribe(binance("btcusdt@trade", 1))
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_request_is_sent_again_after_the_timeout() {
    let (transport, server) = MemoryTransport::new();
    let client = silent_server_client(transport, 3);
    let mut events = client.events();
    let (connected, peer) = tokio::join!(client.connect(), server.accept());
    connected.unwrap();
    let first = peer.recv().await.unwrap();
    let sent = tokio::time::Instant::now();
    // Ignored: the same request comes again once the timeout has passed.
    let again = peer.recv().await.unwrap();
    assert_eq!(again, first);
    assert_eq!(tokio::time::Instant::now() - sent, TIMEOUT);
    let event = wait_event(&mut events, "the timeout", |e| {
        matches!(e, ClientEvent::SubscriptionTimedOut { .. })
    })
    .await;
    assert!(matches!(
        event,
        ClientEvent::SubscriptionTimedOut {
            attempt: 1,
            retrying: true,
            ..
        }
    ));
    peer.send(WsMessage::text(r#"{"result":null,"id":1}"#))
        .await
        .unwrap();
    assert_eq!(verdict(&mut events).await, Ok("btcusdt@trade".to_owned()));
    assert_eq!(client.metrics().connection.subscription_timeouts, 1);
    client.close().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn after_the_last_attempt_it_waits_for_the_next_connection() {
    let (transport, server) = MemoryTransport::new();
    let client = silent_server_client(transport, 2);
    let mut events = client.events();
    let (connected, peer) = tokio::join!(client.connect(), server.accept());
    connected.unwrap();
    for _ in 0..2 {
        peer.recv().await.unwrap();
    }
    let event = wait_event(&mut events, "giving up", |e| {
        matches!(
            e,
            ClientEvent::SubscriptionTimedOut {
                retrying: false,
                ..
            }
        )
    })
    .await;
    assert!(matches!(
        event,
        ClientEvent::SubscriptionTimedOut { attempt: 2, .. }
    ));
    // Kept: a new connection asks once more, and this time it is answered.
    assert_eq!(client.subscriptions().len(), 1);
    drop(peer);
    let peer = server.accept().await;
    let request = peer.recv().await.unwrap();
    assert_eq!(Some(&request), binance("btcusdt@trade", 1).subscribe());
    peer.send(WsMessage::text(r#"{"result":null,"id":1}"#))
        .await
        .unwrap();
    assert_eq!(verdict(&mut events).await, Ok("btcusdt@trade".to_owned()));
    client.close().await.unwrap();
}
