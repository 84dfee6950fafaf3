//! How the client paces its attempts after a refused handshake, through a
//! real socket: 5xx without `Retry-After` back off per the strategy, and
//! the first reconnect after a drop is spread out across clients. (What the
//! transport reports of a refusal, its status and `Retry-After`, and that
//! fatal statuses end the client, is in the conformance suite's
//! `handshake.rs`.)
//!
//! Gaps between attempts are read from the server's handshake records and
//! checked as lower bounds only (the client must not come back earlier);
//! no upper bound on time is asserted.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use hypersockets::{ClientEvent, ClientManager, ExponentialBackoff, PassThrough, WebSocketClient};
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
