//! How the client takes a refused handshake, through a real socket: a
//! status that the same request would get again (401, 403, 404) ends it at
//! once with the status; 429 and 503 make it wait at least the server's
//! `Retry-After`; other 5xx back off per the strategy; and the first
//! reconnect after a drop is spread out across clients.
//!
//! Gaps between attempts are read from the server's handshake records and
//! checked as lower bounds only (the client must not come back earlier);
//! no upper bound on time is asserted.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use hypersockets::{
    ClientEvent, ClientManager, ExponentialBackoff, FixedInterval, HyperSocketError, PassThrough,
    WebSocketClient,
};
use hypersockets_testkit::{ExchangeConfig, Fault, HandshakeResponse, MockExchange, Target};
use support::{WAIT, wait_event, within};

async fn exchange() -> MockExchange {
    MockExchange::start(ExchangeConfig::new()).await.unwrap()
}

fn client(
    exchange: &MockExchange,
    reconnect: impl hypersockets::ReconnectionStrategy,
) -> WebSocketClient {
    WebSocketClient::builder()
        .url(exchange.url())
        .router(PassThrough)
        .reconnect(reconnect)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_for_good_end_the_client_at_once_with_the_status() {
    for status in [401, 403, 404] {
        let exchange = exchange().await;
        let control = exchange.control();
        control.set_handshake_response(HandshakeResponse::reject(status));
        // A strategy that would retry forever, quickly: the status alone stops it.
        let client = client(&exchange, FixedInterval::new(Duration::from_millis(1)));
        let mut events = client.events();
        let error = within("connect", client.connect()).await.unwrap_err();
        assert!(
            matches!(
                error,
                HyperSocketError::Handshake {
                    status: Some(s),
                    retry_after: None,
                    ..
                } if s == status
            ),
            "{status}: {error:?}"
        );
        assert!(!error.is_retryable());
        wait_event(&mut events, "shut down", |e| {
            matches!(e, ClientEvent::ShutDown)
        })
        .await;
        assert_eq!(control.handshakes().len(), 1, "{status}: one attempt only");
        assert_eq!(client.metrics().connection.connect_attempts, 1);
        exchange.shutdown().await;
    }
}

/// The first handshake is refused with `refusal` (which carries
/// `Retry-After: 1`), the next accepted: the client comes back no sooner
/// than a second later, though its strategy says 1 ms.
async fn waits_for_retry_after(refusal: HandshakeResponse, status: u16) {
    let exchange = exchange().await;
    let control = exchange.control();
    control.respond_next(1, refusal);
    let client = client(&exchange, FixedInterval::new(Duration::from_millis(1)));
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    // The exchange links a handshake to its connection once its side of
    // the handshake ends, which may be after `connect` returned.
    control.wait_for_connections(1, WAIT).await.unwrap();

    let handshakes = control.handshakes();
    assert_eq!(handshakes.len(), 2, "{handshakes:?}");
    assert_eq!(handshakes[0].connection, None);
    assert!(handshakes[1].connection.is_some());
    let gap = handshakes[1].at - handshakes[0].at;
    assert!(gap >= Duration::from_secs(1), "came back after {gap:?}");

    let lost = wait_event(&mut events, "the refusal", |e| {
        matches!(e, ClientEvent::Disconnected { .. })
    })
    .await;
    let ClientEvent::Disconnected {
        reason: hypersockets::DisconnectReason::Error(error),
    } = lost
    else {
        panic!("{lost:?}");
    };
    assert!(
        matches!(
            *error,
            HyperSocketError::Handshake {
                status: Some(s),
                retry_after: Some(after),
                ..
            } if s == status && after == Duration::from_secs(1)
        ),
        "{error:?}"
    );
    let announced = wait_event(&mut events, "reconnecting", |e| {
        matches!(e, ClientEvent::Reconnecting { .. })
    })
    .await;
    assert!(
        matches!(announced, ClientEvent::Reconnecting { attempt: 1, delay } if delay == Duration::from_secs(1)),
        "{announced:?}"
    );
    client.close().await.unwrap();
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_waits_for_retry_after() {
    waits_for_retry_after(HandshakeResponse::too_many_requests(), 429).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_unavailable_waits_for_retry_after() {
    waits_for_retry_after(HandshakeResponse::service_unavailable(), 503).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_back_off_per_the_strategy() {
    let exchange = exchange().await;
    let control = exchange.control();
    control.respond_next(2, HandshakeResponse::reject(500));
    let backoff = ExponentialBackoff::default()
        .immediate_first(false)
        .initial(Duration::from_millis(50))
        .jitter(0.0);
    let client = client(&exchange, backoff);
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    // The exchange links a handshake to its connection once its side of
    // the handshake ends, which may be after `connect` returned.
    control.wait_for_connections(1, WAIT).await.unwrap();

    let handshakes = control.handshakes();
    assert_eq!(handshakes.len(), 3, "{handshakes:?}");
    for (i, wait) in [(1, 50), (2, 100)] {
        let gap = handshakes[i].at - handshakes[i - 1].at;
        assert!(
            gap >= Duration::from_millis(wait),
            "attempt {i} after {gap:?}"
        );
    }
    for (attempt, wait) in [(1, 50), (2, 100)] {
        let announced = wait_event(&mut events, "reconnecting", |e| {
            matches!(e, ClientEvent::Reconnecting { .. })
        })
        .await;
        assert!(
            matches!(announced, ClientEvent::Reconnecting { attempt: a, delay }
                if a == attempt && delay == Duration::from_millis(wait)),
            "{announced:?}"
        );
    }
    client.close().await.unwrap();
    exchange.shutdown().await;
}

/// A hundred clients dropped together do not come back together: each
/// one's first reconnect waits its own random part of `first_retry_jitter`
/// (500 ms), and the server sees the reconnects spread over time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_reconnects_of_managed_clients_are_spread() {
    const CLIENTS: usize = 100;
    let exchange = exchange().await;
    let control = exchange.control();
    let manager: ClientManager<usize> = ClientManager::new();
    let mut events = manager.events();
    for key in 0..CLIENTS {
        manager
            .add(key, client(&exchange, ExponentialBackoff::default()))
            .unwrap();
    }
    let outcomes = within("connect all", manager.connect_all()).await;
    assert!(outcomes.iter().all(|(_, o)| o.is_ok()), "{outcomes:?}");
    control.wait_for_connections(CLIENTS, WAIT).await.unwrap();
    control.inject(Target::All, Fault::DropTcp).unwrap();

    let mut first_delays = Vec::new();
    within("every first reconnect", async {
        while first_delays.len() < CLIENTS {
            let event = events.recv().await.unwrap();
            if let ClientEvent::Reconnecting { attempt: 1, delay } = event.event {
                first_delays.push(delay);
            }
        }
    })
    .await;
    assert!(
        first_delays
            .iter()
            .all(|d| *d <= Duration::from_millis(500)),
        "{first_delays:?}"
    );
    let distinct: HashSet<_> = first_delays.iter().collect();
    assert!(
        distinct.len() > CLIENTS / 2,
        "in lockstep: {first_delays:?}"
    );
    control
        .wait_for_connections(2 * CLIENTS, WAIT)
        .await
        .unwrap();
    // When the server read the reconnects' requests: uniform over 500 ms,
    // a hundred of them span nearly all of it (under 100 ms only with odds
    // of about 0.2^99); a busy machine spreads them further, never less.
    let handshakes = control.handshakes();
    let reconnects: Vec<_> = handshakes[CLIENTS..].iter().map(|h| h.at).collect();
    let first = reconnects.iter().min().unwrap();
    let last = reconnects.iter().max().unwrap();
    assert!(
        *last - *first >= Duration::from_millis(100),
        "reconnects within {:?}",
        *last - *first
    );
    manager.shutdown().await;
    exchange.shutdown().await;
}
