//! The recovery drill of the conformance suite (`conformance/faults.rs`,
//! `conformance/delivery.rs`), whose parts `chaos.rs` shares too: a
//! client that logs in, subscribes to a public and a private stream from the
//! builder and to a third at run time; a scripted fault in the middle of the
//! streams; then proof that it reconnected, logged in again, restored every
//! subscription, and that its handlers got, per connection and stream,
//! exactly a prefix of what the server wrote.

// Each test crate that includes this module uses only part of it.
#![allow(dead_code)]

use std::time::Duration;

use hypersockets::{
    AuthProvider, AuthVerdict, BoxError, BoxFuture, ClientEvent, DisconnectReason, EventStream,
    HasUrl, HyperSocketError, WebSocketClientBuilder, WithRouter, WsMessage, handler_fn,
};
use hypersockets_testkit::{
    AuthConfig, CloseCause, ConnectionId, Control, ExchangeConfig, MockExchange, Rate, Recording,
    Scenario, StreamConfig,
};

use crate::support::{
    Collected, Feed, FeedRouter, WAIT, client_for, subscription, wait_event, within,
};

/// A public stream the builder subscribes to: a burst, as fast as possible.
pub(crate) const PUBLIC: &str = "btcusdt@trade";
/// A private stream the builder subscribes to: needs the login first.
pub(crate) const PRIVATE: &str = "account@orders";
/// A public stream subscribed to at run time, with `client.subscribe`.
pub(crate) const ADDED: &str = "ethusdt@trade";
/// Every stream the client ends up subscribed to.
pub(crate) const STREAMS: [&str; 3] = [PUBLIC, PRIVATE, ADDED];

/// Messages the burst stream publishes per connection.
const BURST: u64 = 2_000;
/// Data messages written, once every subscription is live, before the
/// scripted fault: it lands mid-stream.
pub(crate) const MID_STREAM: u64 = 100;
/// Data messages of each stream the new connection must write before the
/// client is closed.
const AFTER_RECOVERY: usize = 20;

const API_KEY: &str = "fault-drill-key";
const SIGNATURE: &str = "fault-drill-signature";
const LOGIN_ID: u64 = 42;

/// The client builder the drill starts from.
pub(crate) type Builder = WebSocketClientBuilder<HasUrl, WithRouter<FeedRouter>>;

/// Binance-style `session.logon` with the exchange's credentials, waiting for
/// the answer to its id.
#[derive(Debug)]
pub(crate) struct Login;

impl AuthProvider for Login {
    fn login_messages(&self) -> BoxFuture<'_, Result<Vec<WsMessage>, BoxError>> {
        Box::pin(async {
            Ok(vec![WsMessage::text(format!(
                r#"{{"method":"session.logon","params":{{"apiKey":"{API_KEY}","signature":"{SIGNATURE}","timestamp":1700000000000}},"id":{LOGIN_ID}}}"#
            ))])
        })
    }

    fn awaits_response(&self) -> bool {
        true
    }

    fn verdict(&self, message: &WsMessage) -> AuthVerdict {
        let Some(text) = message.as_text() else {
            return AuthVerdict::Unrelated;
        };
        let Ok(answer) = serde_json::from_str::<serde_json::Value>(text) else {
            return AuthVerdict::Unrelated;
        };
        if answer.get("id").and_then(serde_json::Value::as_u64) != Some(LOGIN_ID) {
            return AuthVerdict::Unrelated;
        }
        match answer.get("status").and_then(serde_json::Value::as_u64) {
            Some(200) => AuthVerdict::Accepted,
            _ => AuthVerdict::Rejected {
                reason: text.to_owned(),
                fatal: true,
            },
        }
    }
}

/// The exchange of the drill: the three streams and the login.
pub(crate) fn exchange_config() -> ExchangeConfig {
    let every_ms = Rate::Every(Duration::from_millis(1));
    ExchangeConfig::new()
        // `check_delivery` reads every message: a burst of 2,000, then
        // unlimited streams (for as long as a chaos soak runs).
        .recording(Recording::All)
        .auth(AuthConfig::new(API_KEY, SIGNATURE))
        .stream(
            StreamConfig::trades(PUBLIC)
                .rate(Rate::AsFastAsPossible)
                .limit(BURST),
        )
        .stream(
            StreamConfig::book_deltas(PRIVATE)
                .private(true)
                .rate(every_ms),
        )
        .stream(StreamConfig::trades(ADDED).rate(every_ms))
}

/// What the faulted connection owes the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Faulted {
    /// Everything written to it before the fault (the fault closes it
    /// cleanly as far as the bytes go: FIN, Close frame, a cut frame that
    /// is not recorded as written, silence).
    DeliversAll,
    /// Only a prefix: the fault can destroy bytes already written (a reset)
    /// or makes the client drop the connection while data still follows (a
    /// bad frame).
    DeliversPrefix,
}

/// How the drill went.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Every `Disconnected` reason from the fault to the reconnection, in
    /// order: the fault's, then one per failed attempt.
    pub(crate) reasons: Vec<DisconnectReason>,
    /// The exchange's records, after it shut down.
    pub(crate) control: Control,
}

/// Runs the drill: connect (login, builder subscriptions, one added at run
/// time), run `scenario` once every stream is live, then check the recovery
/// and the delivery. `customize` adjusts the client (transport, limits,
/// liveness) for the exchange it will talk to.
pub(crate) async fn survive(
    exchange: ExchangeConfig,
    customize: impl FnOnce(Builder, &MockExchange) -> Builder,
    scenario: Scenario,
    faulted: Faulted,
) -> Outcome {
    let exchange = MockExchange::start(exchange).await.unwrap();
    let control = exchange.control();
    let (data, answers) = (Collected::default(), Collected::default());
    let builder = client_for(&exchange, &[PUBLIC, PRIVATE], &data, &answers)
        .handler(ADDED.to_owned(), collect(&data))
        .auth(Login)
        // `close` must let the last connection finish gracefully, however
        // loaded the machine.
        .close_timeout(WAIT / 2);
    let client = customize(builder, &exchange).build().unwrap();
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    wait_event(&mut events, "the first connection", |e| {
        matches!(e, ClientEvent::Connected { reconnect: false })
    })
    .await;
    client.subscribe(subscription(ADDED)).await.unwrap();
    let first = control.wait_for_connections(1, WAIT).await.unwrap();
    wait_subscribed(&control, first).await;

    let script = control.run(scenario);
    let reasons = disconnects_until_reconnected(&mut events).await;
    script.finished(WAIT).await.unwrap();
    let second = control.wait_for_connections(2, WAIT).await.unwrap();
    assert_ne!(first, second, "a new connection");
    wait_subscribed(&control, second).await;
    control
        .wait_until("data of every stream on the new connection", WAIT, |c| {
            STREAMS.iter().all(|stream| {
                c.summary(second)
                    .is_some_and(|s| s.data_messages_written_on(stream) >= AFTER_RECOVERY as u64)
            })
        })
        .await
        .unwrap();
    within("close", client.close()).await.unwrap();
    // A normal close: our Close frame with 1000, answered.
    let cause = control.wait_for_close(second, WAIT).await.unwrap();
    assert!(
        matches!(&cause, CloseCause::ClientClosed(Some(frame)) if frame.code.as_u16() == 1000),
        "{cause:?}"
    );

    assert_eq!(control.connection_count(), 2, "exactly one reconnection");
    for conn in [first, second] {
        assert_logged_in_before_subscribing(&control, conn);
    }
    let subscribes = control
        .received_text(second)
        .unwrap()
        .into_iter()
        .filter(|text| text.contains(r#""method":"SUBSCRIBE""#))
        .count();
    assert_eq!(subscribes, STREAMS.len(), "each subscription restored once");

    let report = control
        .check_delivery(&data.texts())
        .unwrap_or_else(|error| panic!("delivery is not a prefix of what was written: {error}"));
    assert!(report.is_complete_on(second), "{report:#?}");
    for stream in STREAMS {
        assert!(
            report
                .streams
                .iter()
                .any(|delivery| delivery.connection == second
                    && delivery.stream == stream
                    && delivery.delivered >= AFTER_RECOVERY as u64),
            "{stream} restored on {second}: {report:#?}"
        );
    }
    if faulted == Faulted::DeliversAll {
        assert!(report.is_complete(), "{report:#?}");
    }
    let metrics = client.metrics().connection;
    assert_eq!(metrics.reconnects, 1);
    // Nothing broken reached the router or the handlers.
    assert_eq!(client.metrics().router.all_parse_errors(), 0);
    assert_eq!(client.metrics().router.handler_failures(), 0);
    exchange.shutdown().await;
    Outcome { reasons, control }
}

/// A handler pushing the texts it gets into `data`.
fn collect(data: &Collected) -> impl hypersockets::MessageHandler<Feed> + use<> {
    let data = data.clone();
    handler_fn(move |feed: Feed| {
        data.push(feed.text);
        Ok::<_, BoxError>(())
    })
}

/// Waits until `conn` is subscribed to exactly the drill's streams.
async fn wait_subscribed(control: &Control, conn: ConnectionId) {
    let mut expected = STREAMS.map(str::to_owned).to_vec();
    expected.sort();
    control
        .wait_until("every subscription", WAIT, |c| {
            let mut now = c.subscriptions(conn);
            now.sort();
            now == expected
        })
        .await
        .unwrap_or_else(|error| {
            panic!(
                "{conn} has {:?}, not every subscription: {error}",
                control.subscriptions(conn)
            )
        });
}

/// The `Disconnected` reasons until the client is connected again.
async fn disconnects_until_reconnected(events: &mut EventStream) -> Vec<DisconnectReason> {
    let mut reasons = Vec::new();
    loop {
        let event = wait_event(events, "reconnection", |e| {
            matches!(
                e,
                ClientEvent::Connected { .. } | ClientEvent::Disconnected { .. }
            )
        })
        .await;
        match event {
            ClientEvent::Disconnected { reason } => reasons.push(reason),
            ClientEvent::Connected { reconnect } => {
                assert!(reconnect, "a reconnection");
                return reasons;
            }
            _ => unreachable!("filtered above"),
        }
    }
}

fn assert_logged_in_before_subscribing(control: &Control, conn: ConnectionId) {
    assert!(control.is_authenticated(conn), "{conn} logged in");
    let received = control.received_text(conn).unwrap();
    assert!(
        received
            .first()
            .is_some_and(|text| text.contains("session.logon")),
        "{conn} got the login first: {received:?}"
    );
}

/// The error inside `Disconnected { reason: Error(..) }`, if that is it.
pub(crate) fn error_of(reason: &DisconnectReason) -> Option<&HyperSocketError> {
    match reason {
        DisconnectReason::Error(error) => Some(error),
        _ => None,
    }
}

/// Whether the socket ended (a FIN, possibly in the middle of a frame)
/// without a Close frame.
pub(crate) fn is_ended_without_close(reason: &DisconnectReason) -> bool {
    matches!(error_of(reason), Some(HyperSocketError::ConnectionClosed))
}

/// Whether the socket was reset (an RST).
pub(crate) fn is_reset(reason: &DisconnectReason) -> bool {
    matches!(
        error_of(reason),
        Some(HyperSocketError::Io(error)) if error.kind() == std::io::ErrorKind::ConnectionReset
    )
}
