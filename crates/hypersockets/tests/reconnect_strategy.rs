//! Reconnection follows the strategy: the delays announced are exactly the
//! strategy's, the attempt count starts over after a stable connection, and
//! the client stops when the strategy says so. Values and counts only: no
//! timing is asserted.

mod event_log;
mod support;

use std::time::Duration;

use hypersockets::{
    ClientEvent, ConnectionState, DisconnectReason, ExponentialBackoff, FixedInterval,
    HyperSocketError, NeverReconnect, ReconnectionStrategy, WsMessage,
};
use hypersockets_testkit::{ExchangeConfig, Fault, MockExchange, Rate, StreamConfig};
use support::{Collected, WAIT, client_for, wait_event, within};

const STREAM: &str = "btcusdt@trade";

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// An exchange with one stream, a message every `every`.
async fn exchange(every: Duration) -> MockExchange {
    MockExchange::start(
        ExchangeConfig::new().stream(StreamConfig::trades(STREAM).rate(Rate::Every(every))),
    )
    .await
    .unwrap()
}

/// Connects with `strategy`, drops the connection with the next `refused`
/// connects refused, and returns every event up to the reconnection.
async fn delays_after_refused_connects(
    strategy: impl ReconnectionStrategy,
    refused: u64,
) -> Vec<ClientEvent> {
    let exchange = exchange(ms(10)).await;
    let control = exchange.control();
    let (data, answers) = (Collected::default(), Collected::default());
    let client = client_for(&exchange, &[STREAM], &data, &answers)
        .reconnect(strategy)
        .build()
        .unwrap();
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    let first = control.wait_for_connections(1, WAIT).await.unwrap();
    control.refuse_connections(refused);
    control.inject(first, Fault::DropTcp).unwrap();
    let story =
        event_log::events_until(&mut events, "reconnected", event_log::is_reconnected).await;

    assert_eq!(control.refused(), refused);
    control.wait_for_connections(2, WAIT).await.unwrap();
    assert_eq!(control.connection_count(), 2);
    let metrics = client.metrics().connection;
    assert_eq!(metrics.connect_attempts, 2 + refused);
    assert_eq!(metrics.reconnects, 1);
    // The first loss, then one per refused connect.
    let losses = event_log::disconnect_reasons(&story);
    assert_eq!(losses.len() as u64, 1 + refused, "{story:?}");
    assert!(
        losses[1..]
            .iter()
            .all(|reason| matches!(reason, DisconnectReason::Error(_))),
        "{losses:?}"
    );
    client.close().await.unwrap();
    exchange.shutdown().await;
    story
}

/// With 3 connects refused, attempts 1 to 4 wait exactly `expected`.
async fn announced_delays_are(strategy: impl ReconnectionStrategy, expected: [u64; 4]) {
    let story = delays_after_refused_connects(strategy, 3).await;
    assert_eq!(
        event_log::reconnect_attempts(&story),
        (1..).zip(expected.map(ms)).collect::<Vec<_>>(),
        "{story:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_interval_delays_are_announced_exactly() {
    announced_delays_are(FixedInterval::new(ms(20)), [20, 20, 20, 20]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exponential_backoff_delays_are_announced_exactly() {
    let backoff = ExponentialBackoff::default()
        .initial(ms(10))
        .factor(2.0)
        .max(ms(30))
        .jitter(0.0)
        .first_retry_jitter(Duration::ZERO);
    // Immediate first retry, then doubling up to the cap.
    announced_delays_are(backoff, [0, 10, 20, 30]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exponential_backoff_without_an_immediate_retry_starts_at_initial() {
    let backoff = ExponentialBackoff::default()
        .initial(ms(5))
        .factor(3.0)
        .jitter(0.0)
        .immediate_first(false);
    announced_delays_are(backoff, [5, 15, 45, 135]).await;
}

/// Two losses of a connection that lived long enough to deliver several
/// messages: the attempt numbers announced after each.
async fn attempts_after_two_losses(stable_after: Duration) -> Vec<u32> {
    // Messages every 5 ms: four of them take at least 15 ms to arrive.
    let exchange = exchange(ms(5)).await;
    let control = exchange.control();
    let (data, answers) = (Collected::default(), Collected::default());
    let client = client_for(&exchange, &[STREAM], &data, &answers)
        .reconnect(FixedInterval::new(ms(10)))
        .stable_after(stable_after)
        .build()
        .unwrap();
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    let mut story = Vec::new();
    for n in 1..=2 {
        let conn = control.wait_for_subscription(STREAM, WAIT).await.unwrap();
        assert_eq!(conn.get(), n - 1);
        control.wait_for_sent(conn, 4, WAIT).await.unwrap();
        control.inject(conn, Fault::DropTcp).unwrap();
        story.extend(
            event_log::events_until(&mut events, "reconnected", event_log::is_reconnected).await,
        );
    }
    client.close().await.unwrap();
    exchange.shutdown().await;
    event_log::reconnect_attempts(&story)
        .into_iter()
        .map(|(attempt, _)| attempt)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attempt_count_starts_over_after_a_stable_connection() {
    assert_eq!(attempts_after_two_losses(ms(10)).await, [1, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attempt_count_goes_on_after_a_short_lived_connection() {
    assert_eq!(
        attempts_after_two_losses(Duration::from_secs(600)).await,
        [1, 2]
    );
}

/// Connects, then loses the connection with every connect from then on
/// refused; returns every event up to the client's end.
async fn give_up_after_loss(strategy: impl ReconnectionStrategy) -> Vec<ClientEvent> {
    let exchange = exchange(ms(10)).await;
    let control = exchange.control();
    let (data, answers) = (Collected::default(), Collected::default());
    let client = client_for(&exchange, &[STREAM], &data, &answers)
        .reconnect(strategy)
        .build()
        .unwrap();
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    let first = control.wait_for_connections(1, WAIT).await.unwrap();
    control.refuse_connections_for(WAIT * 2);
    control.inject(first, Fault::DropTcp).unwrap();
    let story = event_log::events_until(&mut events, "shut down", event_log::is_shut_down).await;

    assert_eq!(client.state(), ConnectionState::ShuttingDown);
    assert!(matches!(
        client.send(WsMessage::text("late")).await,
        Err(HyperSocketError::ShutDown)
    ));
    assert!(matches!(
        client.connect().await,
        Err(HyperSocketError::ShutDown)
    ));
    let attempts = event_log::reconnect_attempts(&story).len() as u64;
    assert_eq!(
        control.attempts(),
        1 + attempts,
        "no attempt after giving up"
    );
    assert_eq!(control.refused(), attempts);
    assert_eq!(control.connection_count(), 1);
    assert_eq!(client.metrics().connection.connect_attempts, 1 + attempts);
    client.close().await.unwrap();
    exchange.shutdown().await;
    story
}

/// The client's last events: it gave up after `attempts`, then shut down.
fn gave_up_after(story: &[ClientEvent], attempts: u32) {
    match &story[story.len() - 2..] {
        [ClientEvent::Error(error), ClientEvent::ShutDown] => assert!(
            matches!(**error, HyperSocketError::ReconnectExhausted { attempts: a } if a == attempts),
            "{error:?}"
        ),
        other => panic!("expected giving up, then the end; got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_attempts_exhausted_shuts_the_client_down() {
    let story = give_up_after_loss(FixedInterval::new(ms(10)).max_attempts(3)).await;
    assert_eq!(
        event_log::reconnect_attempts(&story),
        [(1, ms(10)), (2, ms(10)), (3, ms(10))]
    );
    gave_up_after(&story, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_reconnect_stops_after_the_first_loss() {
    let story = give_up_after_loss(NeverReconnect).await;
    assert!(
        event_log::reconnect_attempts(&story).is_empty(),
        "{story:?}"
    );
    assert_eq!(event_log::disconnect_reasons(&story).len(), 1, "{story:?}");
    gave_up_after(&story, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_reports_exhaustion_when_no_connect_ever_succeeds() {
    let exchange = exchange(ms(10)).await;
    let control = exchange.control();
    control.refuse_connections_for(WAIT * 2);
    let (data, answers) = (Collected::default(), Collected::default());
    let client = client_for(&exchange, &[STREAM], &data, &answers)
        .reconnect(FixedInterval::new(ms(10)).max_attempts(2))
        .build()
        .unwrap();
    let mut events = client.events();
    event_log::assert_gave_up(within("connect", client.connect()).await, 2);
    wait_event(&mut events, "shut down", event_log::is_shut_down).await;
    assert_eq!(control.attempts(), 3);
    assert_eq!(control.connection_count(), 0);
    client.close().await.unwrap();
    exchange.shutdown().await;
}
