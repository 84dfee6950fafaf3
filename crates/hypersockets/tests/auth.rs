//! Login and handshake headers against the mock exchange: a login accepted
//! before private streams are subscribed, a fatal rejection that stops the
//! client, a retryable one that follows the reconnection strategy, and
//! credentials asked afresh on every connect.

mod event_log;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hypersockets::{
    AuthProvider, AuthVerdict, BoxError, BoxFuture, ClientEvent, ConnectionState, FixedInterval,
    HeaderProvider, HyperSocketError, WsMessage,
};
use hypersockets_testkit::{
    AuthConfig, ExchangeConfig, Fault, MockExchange, Rate, Recording, StreamConfig,
};
use support::{Collected, WAIT, client_for, wait_event, within};

const KEY: &str = "test-key";
const SIGNATURE: &str = "test-signature";
/// A private stream: refused to connections that have not logged in.
const PRIVATE: &str = "account@orders";
/// The id the login request carries, to recognise its answer.
const LOGIN_ID: &str = "login";
const TOKEN_HEADER: &str = "x-session-token";

/// Binance-style `session.logon` with a fresh timestamp on every connect,
/// recognising the exchange's answer to it.
#[derive(Clone, Debug)]
struct Logon {
    signature: &'static str,
    /// Logins sent with a wrong signature before the right one.
    wrong_first: u64,
    /// Whether a rejection means retrying is pointless.
    fatal: bool,
    /// How many times the login was asked for (the timestamp).
    asked: Arc<AtomicU64>,
}

impl Logon {
    fn new(signature: &'static str, fatal: bool) -> Self {
        Self {
            signature,
            wrong_first: 0,
            fatal,
            asked: Arc::default(),
        }
    }

    /// Rejected (retryably) on the first `n` connections, then accepted.
    fn wrong_first(mut self, n: u64) -> Self {
        self.wrong_first = n;
        self
    }

    fn asked(&self) -> u64 {
        self.asked.load(Ordering::SeqCst)
    }
}

impl AuthProvider for Logon {
    fn login_messages(&self) -> BoxFuture<'_, Result<Vec<WsMessage>, BoxError>> {
        let timestamp = self.asked.fetch_add(1, Ordering::SeqCst) + 1;
        let login = serde_json::json!({
            "method": "session.logon",
            "params": {
                "apiKey": KEY,
                "signature": if timestamp <= self.wrong_first { "wrong" } else { self.signature },
                "timestamp": timestamp,
            },
            "id": LOGIN_ID,
        });
        Box::pin(async move { Ok(vec![WsMessage::text(login.to_string())]) })
    }

    fn awaits_response(&self) -> bool {
        true
    }

    fn verdict(&self, message: &WsMessage) -> AuthVerdict {
        let Some(answer) = message
            .as_text()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
            .filter(|answer| answer["id"] == LOGIN_ID)
        else {
            return AuthVerdict::Unrelated;
        };
        if answer["status"] == 200 {
            AuthVerdict::Accepted
        } else {
            AuthVerdict::Rejected {
                reason: answer["error"]["msg"].as_str().unwrap_or("?").to_owned(),
                fatal: self.fatal,
            }
        }
    }
}

/// A header whose value changes on every handshake.
#[derive(Clone, Debug, Default)]
struct CountingToken(Arc<AtomicU64>);

impl HeaderProvider for CountingToken {
    fn headers(&self) -> BoxFuture<'_, Result<Vec<(String, String)>, BoxError>> {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        Box::pin(async move { Ok(vec![(TOKEN_HEADER.to_owned(), format!("token-{n}"))]) })
    }
}

/// An exchange accepting `KEY`/`SIGNATURE`, with a private stream.
async fn exchange() -> MockExchange {
    MockExchange::start(
        ExchangeConfig::new()
            // `check_delivery` reads every message of an unlimited stream.
            .recording(Recording::All)
            .auth(AuthConfig::new(KEY, SIGNATURE))
            .stream(
                StreamConfig::trades(PRIVATE)
                    .private(true)
                    .rate(Rate::Every(Duration::from_millis(5))),
            ),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_is_accepted_before_the_private_stream_is_subscribed() {
    let exchange = exchange().await;
    let control = exchange.control();
    let (data, answers) = (Collected::default(), Collected::default());
    let logon = Logon::new(SIGNATURE, true);
    let client = client_for(&exchange, &[PRIVATE], &data, &answers)
        .auth(logon.clone())
        .build()
        .unwrap();
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    let story = event_log::events_so_far(&mut events);
    let authenticated = story
        .iter()
        .position(|e| matches!(e, ClientEvent::Authenticated));
    let connected = story.iter().position(support::is_connected);
    assert!(
        authenticated.is_some() && authenticated < connected,
        "{story:?}"
    );

    data.wait_for(5).await;
    let conn = control.wait_for_subscription(PRIVATE, WAIT).await.unwrap();
    assert!(control.is_authenticated(conn));
    let report = control.check_delivery(&data.texts()).unwrap();
    assert!(report.delivered() >= 5, "{report:?}");
    let requests = control.received_text(conn).unwrap();
    assert!(requests[0].contains("session.logon"), "{requests:?}");
    assert!(requests[1].contains("SUBSCRIBE"), "{requests:?}");
    assert_eq!(logon.asked(), 1);
    // The login's answer was the auth provider's, not a handler's.
    assert!(
        answers.texts().iter().all(|t| !t.contains(LOGIN_ID)),
        "{:?}",
        answers.texts()
    );
    client.close().await.unwrap();
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fatal_rejection_fails_connect_and_never_retries() {
    let exchange = exchange().await;
    let control = exchange.control();
    let (data, answers) = (Collected::default(), Collected::default());
    let logon = Logon::new("wrong-signature", true);
    // The builder's strategy retries forever: only the rejection stops it.
    let client = client_for(&exchange, &[PRIVATE], &data, &answers)
        .auth(logon.clone())
        .build()
        .unwrap();
    let mut events = client.events();
    match within("connect", client.connect()).await {
        Err(HyperSocketError::Auth {
            fatal: true,
            reason,
        }) => {
            assert!(reason.contains("Signature"), "{reason}");
        }
        other => panic!("expected a fatal auth error, got {other:?}"),
    }
    let story = event_log::events_until(&mut events, "shut down", event_log::is_shut_down).await;
    assert_eq!(
        event_log::count(&story, |e| matches!(
            e,
            ClientEvent::AuthFailed { fatal: true, .. }
        )),
        1,
        "{story:?}"
    );
    assert!(
        event_log::reconnect_attempts(&story).is_empty(),
        "{story:?}"
    );
    assert_eq!(client.state(), ConnectionState::ShuttingDown);
    assert_eq!(control.attempts(), 1, "one TCP connection in all");
    assert_eq!(control.connection_count(), 1);
    assert_eq!(client.metrics().connection.connect_attempts, 1);
    assert_eq!(logon.asked(), 1);
    assert!(data.texts().is_empty());
    client.close().await.unwrap();
    exchange.shutdown().await;
}

/// A retryable rejection on every login, with at most `MAX` reconnection
/// attempts `DELAY` apart, and `stable_after` if given.
async fn retryable_rejection_is_bounded(stable_after: Option<Duration>) {
    const MAX: u32 = 3;
    const DELAY: Duration = Duration::from_millis(50);
    let exchange = exchange().await;
    let control = exchange.control();
    let (data, answers) = (Collected::default(), Collected::default());
    let logon = Logon::new("stale-signature", false);
    let mut builder = client_for(&exchange, &[PRIVATE], &data, &answers)
        .auth(logon.clone())
        .reconnect(FixedInterval::new(DELAY).max_attempts(MAX));
    if let Some(period) = stable_after {
        builder = builder.stable_after(period);
    }
    let client = builder.build().unwrap();
    let mut events = client.events();
    event_log::assert_gave_up(within("connect", client.connect()).await, MAX);
    let story = event_log::events_until(&mut events, "shut down", event_log::is_shut_down).await;
    let rejections = event_log::count(&story, |e| {
        matches!(e, ClientEvent::AuthFailed { fatal: false, .. })
    });
    assert_eq!(rejections, 1 + MAX as usize, "{story:?}");
    assert_eq!(
        event_log::reconnect_attempts(&story),
        (1..=MAX).map(|n| (n, DELAY)).collect::<Vec<_>>(),
        "waited as the strategy says before every attempt"
    );
    assert_eq!(client.state(), ConnectionState::ShuttingDown);
    let connections = 1 + u64::from(MAX);
    assert_eq!(control.attempts(), connections);
    assert_eq!(client.metrics().connection.connect_attempts, connections);
    assert_eq!(logon.asked(), connections);
    assert!(
        control
            .connections()
            .iter()
            .all(|&c| !control.is_authenticated(c)),
        "no login succeeded"
    );
    client.close().await.unwrap();
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retryable_rejection_reconnects_by_the_strategy_then_gives_up() {
    retryable_rejection_is_bounded(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_login_never_counts_as_a_stable_connection() {
    // Every connection lasts longer than this; none that failed its login
    // may reset the attempt count, or the client would retry forever.
    retryable_rejection_is_bounded(Some(Duration::from_nanos(1))).await;
}

/// A connection after a rejected login is a reconnect, though the first
/// never got as far as connected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_accepted_after_a_rejection_is_a_reconnect() {
    let exchange = exchange().await;
    let (data, answers) = (Collected::default(), Collected::default());
    let logon = Logon::new(SIGNATURE, false).wrong_first(1);
    let client = client_for(&exchange, &[PRIVATE], &data, &answers)
        .auth(logon.clone())
        .reconnect(FixedInterval::new(Duration::from_millis(10)))
        .build()
        .unwrap();
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    let story = event_log::events_so_far(&mut events);
    assert!(
        story
            .iter()
            .any(|e| matches!(e, ClientEvent::AuthFailed { fatal: false, .. })),
        "{story:?}"
    );
    assert!(
        matches!(
            story.last(),
            Some(ClientEvent::Connected { reconnect: true })
        ),
        "{story:?}"
    );
    let metrics = client.metrics().connection;
    assert_eq!((metrics.connect_attempts, metrics.reconnects), (2, 1));
    assert_eq!(logon.asked(), 2);
    client.close().await.unwrap();
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_and_login_are_asked_afresh_on_every_connect() {
    let exchange = exchange().await;
    let control = exchange.control();
    let (data, answers) = (Collected::default(), Collected::default());
    let logon = Logon::new(SIGNATURE, true);
    let token = CountingToken::default();
    let client = client_for(&exchange, &[PRIVATE], &data, &answers)
        .auth(logon.clone())
        .headers(token.clone())
        .build()
        .unwrap();
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    for n in 1..=2 {
        let conn = control.wait_for_connections(n, WAIT).await.unwrap();
        control
            .wait_until("subscribed", WAIT, |c| c.subscriptions(conn) == [PRIVATE])
            .await
            .unwrap();
        control.inject(conn, Fault::DropTcp).unwrap();
        wait_event(&mut events, "reconnected", event_log::is_reconnected).await;
    }
    control.wait_for_connections(3, WAIT).await.unwrap();
    let conns = control.connections();
    assert_eq!(conns.len(), 3);
    let tokens: Vec<Option<String>> = control
        .handshakes()
        .iter()
        .map(|h| h.header(TOKEN_HEADER).map(str::to_owned))
        .collect();
    assert_eq!(
        tokens,
        ["token-1", "token-2", "token-3"].map(|t| Some(t.to_owned())),
        "one fresh header value per handshake"
    );
    // Each connection logged in with its own request, then subscribed.
    control.wait_for_subscription(PRIVATE, WAIT).await.unwrap();
    for (n, &conn) in (1..).zip(&conns) {
        let requests = control.received_text(conn).unwrap();
        assert!(
            requests[0].contains(&format!(r#""timestamp":{n}"#)),
            "{requests:?}"
        );
        assert!(requests[1].contains("SUBSCRIBE"), "{requests:?}");
        assert!(control.is_authenticated(conn));
    }
    assert_eq!(logon.asked(), 3);
    assert_eq!(token.0.load(Ordering::SeqCst), 3);
    client.close().await.unwrap();
    exchange.shutdown().await;
}
