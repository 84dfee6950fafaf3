//! Every venue profile against the mock exchange's emulation of its venue
//! (its request, answer and data shapes, keepalive and enforced limits):
//! a restore of many topics in batches within the venue's limits, a
//! refused topic, and a request never answered. On tokio's paused clock, so
//! that pacing spread over minutes costs nothing: the mock runs in the
//! test's runtime, and the clock only moves when every task waits.

mod support;

use support::venue_cases::{VIRTUAL_WAIT, cases, until};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hypersockets::{
    ClientEvent, EventStream, HyperSocketError, MemoryTransport, Subscription, TopicRouter, Venue,
    VenueLimits, VenueShards, WebSocketClient, WsMessage, handler_fn,
};
use hypersockets_testkit::{
    ConnectionStatus, Emulation, ExchangeConfig, MockExchange, Rate, Recording, StreamConfig,
};
use tokio::sync::Notify;

/// The topics the handler saw, with a way to wait for them.
#[derive(Clone, Default)]
struct Seen {
    topics: Arc<Mutex<BTreeSet<String>>>,
    changed: Arc<Notify>,
}

impl Seen {
    fn add(&self, topic: String) {
        self.topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(topic);
        self.changed.notify_waiters();
    }

    fn count(&self) -> usize {
        self.topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    async fn wait_for(&self, count: usize, what: &str) {
        let wait = async {
            loop {
                let changed = self.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if self.count() >= count {
                    return;
                }
                changed.await;
            }
        };
        if tokio::time::timeout(VIRTUAL_WAIT, wait).await.is_err() {
            panic!("{what}: saw {} of {count} topics", self.count());
        }
    }
}

/// A client of `venue` at `url`, routing by topic into `seen`.
fn client(
    venue: &Venue,
    url: String,
    seen: &Seen,
) -> hypersockets::WebSocketClientBuilder<hypersockets::HasUrl, hypersockets::WithRouter<TopicRouter>>
{
    let seen = seen.clone();
    let router = venue.router();
    WebSocketClient::builder()
        .venue(venue.clone().url(url))
        .router(router)
        .fallback(handler_fn(move |message: WsMessage| {
            if let Some(topic) = router_topic(&router, &message) {
                seen.add(topic);
            }
            Ok::<_, std::convert::Infallible>(())
        }))
}

/// The streams of `topics`, one message each at once, the next an hour
/// later.
fn with_streams(mut config: ExchangeConfig, topics: &[String]) -> ExchangeConfig {
    for topic in topics {
        config = config.stream(
            StreamConfig::trades(topic.as_str()).rate(Rate::Every(Duration::from_secs(3600))),
        );
    }
    config
}

/// Connections of `venue` at `url`, each routing by topic into `seen`.
fn shards(venue: Venue, url: String, seen: &Seen) -> VenueShards {
    let seen = seen.clone();
    VenueShards::new(venue, move |venue: Venue| {
        client(&venue, url.clone(), &seen).build()
    })
}

fn topic_subscriptions(topics: &[String]) -> impl Iterator<Item = Subscription> + '_ {
    topics.iter().map(|t| Subscription::topic(t.as_str()))
}

fn router_topic(router: &TopicRouter, message: &WsMessage) -> Option<String> {
    use hypersockets::MessageRouter;
    router
        .classify(message)
        .filter(|key| key != TopicRouter::CONTROL)
}

#[tokio::test(start_paused = true)]
async fn each_profile_restores_its_topics_in_batches_within_the_venues_limits() {
    for case in cases() {
        let name = case.venue.name();
        let count = case
            .venue
            .limits()
            .streams_per_connection_limit()
            .unwrap_or(1000)
            .min(1000);
        let topics: Vec<String> = (0..count).map(case.topic).collect();
        let config = ExchangeConfig::new()
            .emulate(case.emulation)
            .recording(Recording::All);
        let exchange = MockExchange::start(with_streams(config, &topics))
            .await
            .unwrap();
        let seen = Seen::default();
        let mut builder = client(&case.venue, exchange.url(), &seen);
        for topic in &topics {
            builder = builder.subscribe(Subscription::topic(topic.as_str()));
        }
        let client = builder.build().unwrap();
        // Coinbase's profile adds its `heartbeats`.
        let subscribed = client.subscriptions().len();
        client.connect().await.unwrap();
        let control = exchange.control();
        until(&format!("{name}: every subscription accepted"), || {
            // A venue closing the connection for its limits fails at once.
            assert_eq!(control.connection_count(), 1, "{name}: closed by the venue");
            client.metrics().connection.subscriptions_accepted == subscribed as u64
        })
        .await;
        seen.wait_for(subscribed, name).await;

        assert_eq!(control.connection_count(), 1, "{name}: never closed");
        let connection = control.latest_connection().unwrap();
        assert!(
            matches!(control.status(connection), Some(ConnectionStatus::Open)),
            "{name}: still open"
        );
        assert_eq!(
            control.subscriptions(connection).len(),
            subscribed,
            "{name}"
        );
        let requests = control
            .received_text(connection)
            .unwrap()
            .iter()
            .filter(|text| {
                text.contains("SUBSCRIBE")
                    || text.contains("subscribe")
                    || text.contains(r#""sub""#)
            })
            .count();
        let per_request = case.venue.max_topics_per_request();
        let batches = count.div_ceil(per_request) + subscribed - count;
        assert_eq!(
            requests, batches,
            "{name}: {per_request} topics per request"
        );
        let metrics = client.metrics().connection;
        assert_eq!(metrics.subscription_timeouts, 0, "{name}");
        assert_eq!(metrics.subscriptions_rejected, 0, "{name}");
        client.close().await.unwrap();
        exchange.shutdown().await;
    }
}

/// The verdicts about `ids`, in their order: accepted, refused (with the
/// reason), or `"unanswered"` after the last unanswered attempt.
async fn verdicts(events: &mut EventStream, ids: &[&str]) -> Vec<Result<(), String>> {
    let mut found: BTreeMap<String, Result<(), String>> = BTreeMap::new();
    let wait = async {
        while found.len() < ids.len() {
            let (id, verdict) = match events.recv().await {
                Ok(ClientEvent::SubscriptionActive { id }) => (id, Ok(())),
                Ok(ClientEvent::SubscriptionRejected { id, reason }) => (id, Err(reason)),
                Ok(ClientEvent::SubscriptionTimedOut {
                    id,
                    retrying: false,
                    ..
                }) => (id, Err("unanswered".to_owned())),
                Ok(_) => continue,
                Err(error) => panic!("event stream: {error}"),
            };
            if ids.contains(&id.as_str()) {
                found.entry(id).or_insert(verdict);
            }
        }
    };
    if tokio::time::timeout(VIRTUAL_WAIT, wait).await.is_err() {
        panic!("verdicts on {ids:?}: only {found:?}");
    }
    ids.iter().map(|id| found[*id].clone()).collect()
}

#[tokio::test(start_paused = true)]
async fn each_profile_learns_which_topic_of_a_batch_the_venue_refuses() {
    for case in cases() {
        let name = case.venue.name();
        let known = (case.topic)(1);
        let unknown = (case.topic)(999);
        let exchange = MockExchange::start(
            ExchangeConfig::new()
                .emulate(case.emulation)
                .stream(StreamConfig::trades(known.as_str())),
        )
        .await
        .unwrap();
        let seen = Seen::default();
        let client = client(&case.venue, exchange.url(), &seen)
            .subscribe(Subscription::topic(known.as_str()))
            .subscribe(Subscription::topic(unknown.as_str()))
            .build()
            .unwrap();
        let mut events = client.events();
        client.connect().await.unwrap();
        let mut both = verdicts(&mut events, &[&known, &unknown]).await;
        let refused = both.pop().unwrap();
        assert_eq!(both.pop().unwrap(), Ok(()), "{name}: {known} accepted");
        match (case.refusals_matched, refused) {
            (true, Err(reason)) => assert_ne!(reason, "unanswered", "{name}: the venue's reason"),
            (false, Err(reason)) => assert_eq!(reason, "unanswered", "{name}"),
            (_, Ok(())) => panic!("{name}: {unknown} accepted"),
        }
        let kept: Vec<String> = client
            .subscriptions()
            .iter()
            .map(|s| s.id().to_owned())
            .collect();
        assert_eq!(
            kept.contains(&unknown),
            !case.refusals_matched,
            "{name}: a refused topic is removed, an unanswered one kept"
        );
        seen.wait_for(1, name).await;
        client.close().await.unwrap();
        exchange.shutdown().await;
    }
}

#[tokio::test(start_paused = true)]
async fn each_profile_asks_again_when_the_venue_never_answers() {
    const TIMEOUT: Duration = Duration::from_secs(5);
    for case in cases() {
        let name = case.venue.name();
        let topic = (case.topic)(1);
        let expected = case.venue.subscribe_request(&[topic.as_str()], 1);
        let (transport, server) = MemoryTransport::new();
        let client = WebSocketClient::builder()
            .venue(case.venue.clone().url("wss://venue.test/ws"))
            .router(case.venue.router())
            .transport(transport)
            .subscribe(Subscription::topic(topic.as_str()))
            .subscribe_timeout(TIMEOUT)
            // The silent peer sends nothing: no liveness judgement here.
            .liveness_timeout(Duration::from_secs(3600))
            .no_protocol_ping()
            .build()
            .unwrap();
        let mut events = client.events();
        let (connected, peer) = tokio::join!(client.connect(), server.accept());
        connected.unwrap();
        // Heartbeats and standing topics may come too; the topic's request
        // is sent once per attempt.
        let mut sent = 0;
        while sent < 3 {
            let message = tokio::time::timeout(VIRTUAL_WAIT, peer.recv())
                .await
                .unwrap_or_else(|_| panic!("{name}: request {} never sent", sent + 1))
                .unwrap();
            if request_for(&message, &expected) {
                sent += 1;
            }
        }
        assert_eq!(
            verdicts(&mut events, &[&topic]).await,
            [Err("unanswered".to_owned())],
            "{name}"
        );
        assert!(
            client.subscriptions().iter().any(|s| s.id() == topic),
            "{name}: kept for the next connection"
        );
        client.close().await.unwrap();
    }
}

/// Whether `message` is the request `expected` (ids aside: a retry may be
/// numbered anew).
fn request_for(message: &WsMessage, expected: &WsMessage) -> bool {
    let strip = |m: &WsMessage| -> Option<serde_json::Value> {
        let mut value: serde_json::Value = serde_json::from_str(m.as_text()?).ok()?;
        let object = value.as_object_mut()?;
        for id in ["id", "req_id"] {
            object.remove(id);
        }
        Some(value)
    };
    strip(message).is_some() && strip(message) == strip(expected)
}

#[tokio::test(start_paused = true)]
async fn each_capped_profile_spreads_its_topics_over_as_many_connections_as_the_cap_needs() {
    for case in cases() {
        let Some(cap) = case.venue.limits().streams_per_connection_limit() else {
            continue;
        };
        let name = case.venue.name();
        let topics: Vec<String> = (0..=cap).map(case.topic).collect();
        let config = ExchangeConfig::new()
            .emulate(case.emulation)
            .recording(Recording::All);
        let exchange = MockExchange::start(with_streams(config, &topics))
            .await
            .unwrap();
        let control = exchange.control();

        // One connection: the venue refuses the stream over its cap.
        let seen = Seen::default();
        let mut builder = client(&case.venue, exchange.url(), &seen);
        for topic in &topics {
            builder = builder.subscribe(Subscription::topic(topic.as_str()));
        }
        let single = builder.build().unwrap();
        single.connect().await.unwrap();
        until(&format!("{name}: the venue's verdicts"), || {
            let metrics = single.metrics().connection;
            metrics.subscriptions_accepted as usize == cap
                && metrics.subscriptions_rejected + metrics.subscription_timeouts > 0
        })
        .await;
        single.close().await.unwrap();

        // Spread: every topic placed, on two connections.
        let seen = Seen::default();
        let shards = shards(case.venue.clone(), exchange.url(), &seen);
        let placed = shards
            .subscribe_all(topic_subscriptions(&topics))
            .await
            .unwrap();
        assert!(
            placed[..cap].iter().all(|&n| n == 1),
            "{name}: the first {cap} on one"
        );
        assert_eq!(placed[cap], 2, "{name}: the one over the cap on another");
        seen.wait_for(topics.len(), name).await;
        let total = shards.manager().metrics().total;
        assert_eq!(
            total.subscriptions_accepted as usize,
            topics.len(),
            "{name}"
        );
        assert_eq!(total.subscriptions_rejected, 0, "{name}");
        assert_eq!(shards.connections(), 2, "{name}");
        let connections = control.connections();
        let sharded = &connections[connections.len() - 2..];
        for &connection in sharded {
            assert!(control.subscriptions(connection).len() <= cap, "{name}");
        }

        // The one over the cap removed: its connection is closed.
        assert!(shards.unsubscribe(&topics[cap]).await.unwrap());
        assert_eq!(shards.connections(), 1, "{name}");
        control
            .wait_for_close(sharded[1], VIRTUAL_WAIT)
            .await
            .unwrap();
        shards.close().await;
        exchange.shutdown().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_subscription_with_no_room_left_fails_with_no_room() {
    let topics: Vec<String> = (0..3).map(|i| format!("trades:SYM{i}-USDT")).collect();
    let exchange = MockExchange::start(with_streams(
        ExchangeConfig::new().emulate(Emulation::Okx),
        &topics,
    ))
    .await
    .unwrap();
    let venue = Venue::okx().url(exchange.url()).with_limits(
        VenueLimits::default()
            .streams_per_connection(Some(2))
            .connections_per_address(Some(1)),
    );
    let shards = shards(venue, exchange.url(), &Seen::default());
    let error = shards
        .subscribe_all(topic_subscriptions(&topics))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            HyperSocketError::NoRoom {
                connections: 1,
                streams_per_connection: 2
            }
        ),
        "{error}"
    );
    assert_eq!(
        shards.connection_of(&topics[1]).await,
        Some(1),
        "placed before the error"
    );
    assert_eq!(shards.connection_of(&topics[2]).await, None);
    shards.close().await;
    exchange.shutdown().await;
}
