//! Make-before-break rotation, per venue profile, against the mock
//! exchange's emulation of the venue: connections that the venue ends at a
//! fixed age (with its notice first where the venue sends one), streams
//! numbered by the venue (trade ids shared by every connection), and the
//! handlers' view checked against that ground truth: every number once,
//! in order, across the switch. On tokio's paused clock: the mock runs in
//! the test's runtime, so minutes of virtual time cost nothing.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hypersockets::{
    ClientEvent, MessageRouter, Rotation, RotationCause, Subscription, TopicRouter,
    WebSocketClient, WsMessage, handler_fn,
};
use hypersockets_testkit::{
    ChaosProxy, CloseCause, ConnectionId, ConnectionStatus, Control, ExchangeConfig, MockExchange,
    Rate, StreamConfig, Toxics,
};
use support::venue_cases::{Case, cases, until};

/// How long the emulated venue keeps a connection.
const LIFETIME: Duration = Duration::from_secs(300);

/// The proxy's random choices (plus the case's index): any seed must pass.
const SEED: u64 = 14;

/// Per topic, what the handlers saw: (trade id, connection) in order.
type Delivered = Arc<Mutex<BTreeMap<String, Vec<(u64, u64)>>>>;

/// The ground truth the emulation adds to each data message: its number
/// in the stream and the connection that carried it.
fn truth(message: &WsMessage) -> Option<(u64, u64)> {
    let value: serde_json::Value = serde_json::from_str(message.as_text()?).ok()?;
    Some((value.get("seq")?.as_u64()?, value.get("conn")?.as_u64()?))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The emulated venue of `case`, with three global trade streams, behind
/// a proxy that holds each connection's bytes back a random while (in
/// order): the two connections of a rotation run ahead of each other by
/// turns, and a message can be in flight on the old one when the new one
/// is live.
struct Feed {
    exchange: MockExchange,
    control: Control,
    _proxy: ChaosProxy,
    url: String,
    topics: Vec<String>,
}

async fn feed(case: &Case, seed: u64) -> Feed {
    let topics: Vec<String> = (0..3).map(case.topic).collect();
    let mut config = ExchangeConfig::new()
        .emulate(case.emulation)
        .connection_lifetime(Some(LIFETIME));
    for topic in &topics {
        config = config.stream(
            StreamConfig::trades(topic.as_str())
                .rate(Rate::PerSecond(20))
                .global(true),
        );
    }
    let exchange = MockExchange::start(config).await.unwrap();
    let control = exchange.control();
    let proxy = ChaosProxy::start(exchange.local_addr(), seed)
        .await
        .unwrap();
    proxy.set_toxics(
        Toxics::new()
            .latency(Duration::from_millis(20))
            .jitter(Duration::from_millis(400)),
    );
    let url = exchange.url();
    let path = url.splitn(4, '/').nth(3).unwrap_or_default();
    let url = proxy.url(&format!("/{path}"));
    Feed {
        exchange,
        control,
        _proxy: proxy,
        url,
        topics,
    }
}

/// A client of `case`'s profile on `feed`, subscribed to its topics,
/// recording what its handlers see into `delivered`; rotating by age a
/// minute before the venue's lifetime unless the venue sends a notice.
fn client(case: &Case, feed: &Feed, delivered: &Delivered) -> WebSocketClient {
    let router = case.venue.router();
    let sink = Arc::clone(delivered);
    let mut builder = WebSocketClient::builder()
        .venue(case.venue.clone().url(feed.url.clone()))
        .router(router)
        .fallback(handler_fn(move |message: WsMessage| {
            if let Some(topic) = router
                .classify(&message)
                .filter(|key| key != TopicRouter::CONTROL)
                && let Some(at) = truth(&message)
            {
                lock(&sink).entry(topic).or_default().push(at);
            }
            Ok::<_, std::convert::Infallible>(())
        }));
    if !has_notice(case) {
        builder = builder.rotation(
            Rotation::default()
                .max_age(Some(LIFETIME))
                .margin(Duration::from_secs(60)),
        );
    }
    for topic in &feed.topics {
        builder = builder.subscribe(Subscription::topic(topic.as_str()));
    }
    builder.build().unwrap()
}

/// Whether the profile rotates on its venue's notice (with the profile's
/// own settings).
fn has_notice(case: &Case) -> bool {
    case.venue.is_notice(&notice_of(case.venue.name()))
}

/// Waits for the rotation, then until every topic has 100 messages from
/// the new connection, and checks every topic's numbers run on without a
/// gap or a repeat, the old connection's first. Returns both connections.
async fn rotated_without_a_gap(
    name: &str,
    client: &WebSocketClient,
    feed: &Feed,
    delivered: &Delivered,
) -> (ConnectionId, ConnectionId) {
    let first = feed.control.connections()[0];
    until(&format!("{name}: a rotation"), || {
        client.metrics().connection.rotations >= 1
    })
    .await;
    let second = feed.control.latest_connection().unwrap();
    assert_ne!(first, second, "{name}: a second connection");
    let target = second.get();
    until(
        &format!("{name}: 100 messages per topic on the new connection"),
        || {
            let seen = lock(delivered);
            feed.topics.iter().all(|topic| {
                seen.get(topic).is_some_and(|list| {
                    list.iter().filter(|(_, conn)| *conn == target).count() >= 100
                })
            })
        },
    )
    .await;
    let seen = lock(delivered).clone();
    for topic in &feed.topics {
        let list = &seen[topic];
        for pair in list.windows(2) {
            assert_eq!(
                pair[1].0,
                pair[0].0 + 1,
                "{name} {topic}: {:?} then {:?} (number, connection)",
                pair[0],
                pair[1]
            );
        }
        assert!(
            list.iter().any(|(_, conn)| *conn == first.get()),
            "{name} {topic}: the old connection delivered"
        );
    }
    (first, second)
}

#[tokio::test(start_paused = true)]
async fn each_profile_rotates_without_losing_or_repeating_a_message() {
    for (index, case) in cases().into_iter().enumerate() {
        let name = case.venue.name();
        let feed = feed(&case, SEED + index as u64).await;
        let delivered = Delivered::default();
        let client = client(&case, &feed, &delivered);
        let mut events = client.events();
        client.connect().await.unwrap();
        let (first, _) = rotated_without_a_gap(name, &client, &feed, &delivered).await;

        // Closed by the client, before the venue's lifetime ended it.
        let control = &feed.control;
        until(&format!("{name}: the old connection closed"), || {
            control.status(first).is_some_and(|s| s.is_closed())
        })
        .await;
        assert!(
            matches!(
                control.status(first),
                Some(ConnectionStatus::Closed(CloseCause::ClientClosed(_)))
            ),
            "{name}: {:?}",
            control.status(first)
        );
        assert_eq!(control.connection_count(), 2, "{name}");
        let metrics = client.metrics().connection;
        assert_eq!(metrics.rotations, 1, "{name}");
        assert_eq!(metrics.reconnects, 0, "{name}: no reconnect");
        assert!(metrics.rotation_duplicates > 0, "{name}: overlap seen");

        let mut rotating = None;
        let mut rotated = false;
        while let Some(Ok(event)) = events.try_recv() {
            match event {
                ClientEvent::Rotating { cause } => rotating = Some(cause),
                ClientEvent::Rotated { .. } => rotated = true,
                ClientEvent::Disconnected { reason } => {
                    panic!("{name}: disconnected ({reason})")
                }
                _ => {}
            }
        }
        let expected = if has_notice(&case) {
            RotationCause::Notice
        } else {
            RotationCause::Age
        };
        assert_eq!(rotating, Some(expected), "{name}");
        assert!(rotated, "{name}: rotated event");
        client.close().await.unwrap();
        feed.exchange.shutdown().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_refused_replacement_is_tried_again_while_the_old_connection_delivers() {
    let case = cases()
        .into_iter()
        .find(|case| case.venue.name() == "kraken")
        .unwrap();
    let feed = feed(&case, SEED).await;
    let delivered = Delivered::default();
    let client = client(&case, &feed, &delivered);
    let mut events = client.events();
    client.connect().await.unwrap();
    // The next two attempts, the replacement's first two, are refused.
    feed.control.refuse_connections(2);
    rotated_without_a_gap("kraken", &client, &feed, &delivered).await;
    assert_eq!(feed.control.refused(), 2);
    let metrics = client.metrics().connection;
    assert_eq!((metrics.rotations, metrics.reconnects), (1, 0));
    while let Some(Ok(event)) = events.try_recv() {
        assert!(
            !matches!(event, ClientEvent::Disconnected { .. }),
            "{event:?}: the old connection served meanwhile"
        );
    }
    client.close().await.unwrap();
    feed.exchange.shutdown().await;
}

/// The notice of the venue named `name`, if it has one (else a message no
/// profile takes for a notice).
fn notice_of(name: &str) -> WsMessage {
    match name {
        "okx" => WsMessage::text(
            r#"{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":"a"}"#,
        ),
        n if n.starts_with("binance") => {
            WsMessage::text(r#"{"event":{"e":"serverShutdown","E":1700000000000}}"#)
        }
        _ => WsMessage::text("{}"),
    }
}
