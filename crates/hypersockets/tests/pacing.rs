//! Outbound pacing. On the in-memory transport under tokio's paused clock
//! (so every instant is exact, whatever the machine's load): restored
//! subscriptions keep to the request rate and the connection-wide rate,
//! and a keepalive answer is never held behind paced requests. Over TCP
//! against the mock exchange enforcing a venue's limit: a paced restore
//! passes, an unpaced one is closed.

use std::future::Future;
use std::time::Duration;

use hypersockets::{
    JsonPing, MemoryPeer, MemoryTransport, Pacing, PassThrough, Rate, Subscription,
    WebSocketClient, WsMessage,
};
use hypersockets_testkit::{CloseCause, ConnectionStatus, ExchangeConfig, MockExchange};
use tokio::time::Instant;

const URL: &str = "ws://exchange.test/ws";

/// A client over `transport` paced by `pacing`, with `count` subscriptions
/// `sub N`, application pings answered (`JsonPing`), no protocol Pings (they
/// would count against the limits and blur the figures).
fn memory_client(transport: MemoryTransport, pacing: Pacing, count: usize) -> WebSocketClient {
    let mut builder = WebSocketClient::builder()
        .url(URL)
        .transport(transport)
        .router(PassThrough)
        .no_protocol_ping()
        .ping_detector(JsonPing::default())
        .pacing(pacing);
    for n in 0..count {
        builder = builder.subscribe(Subscription::new(format!("s{n}"), format!("sub {n}")));
    }
    builder.build().unwrap()
}

/// Reads `count` text messages from `peer`, each with the (paused) clock's
/// instant it arrived; answers nothing.
async fn texts_with_instants(peer: &MemoryPeer, count: usize) -> Vec<(Instant, String)> {
    let mut seen = Vec::new();
    while seen.len() < count {
        match peer.recv().await {
            Some(WsMessage::Text(text)) => seen.push((Instant::now(), text.to_string())),
            Some(_) => {}
            None => panic!("the client hung up after {} messages", seen.len()),
        }
    }
    seen
}

/// The most instants that fall within any window of `width`.
fn most_within(instants: &[Instant], width: Duration) -> usize {
    (0..instants.len())
        .map(|i| {
            instants[i..]
                .iter()
                .take_while(|at| at.duration_since(instants[i]) < width)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test(start_paused = true)]
async fn restored_subscriptions_keep_to_both_rates() {
    let (transport, server) = MemoryTransport::new();
    // Binance's 5 messages a second, one kept for keepalive; requests at
    // the default 4 a second.
    let pacing = Pacing::default()
        .all(Some(Rate::per_second(5)))
        .keepalive_reserve(1);
    let client = memory_client(transport, pacing, 20);
    let started = Instant::now();
    let (connected, seen) = tokio::join!(client.connect(), async {
        let peer = server.accept().await;
        texts_with_instants(&peer, 20).await
    });
    connected.unwrap();

    let texts: Vec<&str> = seen.iter().map(|(_, text)| text.as_str()).collect();
    let expected: Vec<String> = (0..20).map(|n| format!("sub {n}")).collect();
    assert_eq!(texts, expected, "every subscription, once, in order");
    let instants: Vec<Instant> = seen.iter().map(|(at, _)| *at).collect();
    assert_eq!(
        most_within(&instants, Duration::from_secs(1)),
        4,
        "4 requests a second: the default request rate, under the reserve"
    );
    // 4 at once, then one every 250 ms: the 20th at 4 s.
    let last = instants[19].duration_since(started);
    assert!(
        last >= Duration::from_millis(4000) && last < Duration::from_millis(4100),
        "paced, not slower: the last request went at {last:?}"
    );
    client.close().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_keepalive_answer_passes_paced_requests() {
    let (transport, server) = MemoryTransport::new();
    // Requests one a second; everything 3 a second with 1 for keepalive.
    let pacing = Pacing::default()
        .all(Some(Rate::per_second(3)))
        .requests(Some(Rate::per_second(1)))
        .keepalive_reserve(1);
    let client = memory_client(transport, pacing, 10);
    let started = Instant::now();
    let (connected, (pong_after, requests)) = tokio::join!(client.connect(), async {
        let peer = server.accept().await;
        // The first request arrives at once; then the server pings while
        // nine more wait for their tokens.
        let first = texts_with_instants(&peer, 1).await;
        peer.send(WsMessage::text(r#"{"ping":42}"#)).await.unwrap();
        let pinged = Instant::now();
        let mut requests = first;
        let pong_after = loop {
            let (at, text) = texts_with_instants(&peer, 1).await.remove(0);
            if text.contains("pong") {
                assert_eq!(text, r#"{"pong":42}"#);
                break at.duration_since(pinged);
            }
            requests.push((at, text));
        };
        let rest = 10 - requests.len();
        requests.extend(texts_with_instants(&peer, rest).await);
        (pong_after, requests)
    });
    connected.unwrap();

    assert_eq!(
        pong_after,
        Duration::ZERO,
        "the pong goes at once, ahead of the waiting requests"
    );
    let instants: Vec<Instant> = requests.iter().map(|(at, _)| *at).collect();
    assert_eq!(most_within(&instants, Duration::from_secs(1)), 1);
    assert_eq!(instants[9].duration_since(started), Duration::from_secs(9));
    client.close().await.unwrap();
}

/// Against the mock exchange over TCP, enforcing Binance's 5 messages in
/// any second by closing with 1008: paced with a quarter of a second of
/// margin (network and scheduling can bunch messages up on arrival), a
/// restore of 12 subscriptions passes on the first connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_venue_counting_every_message_is_kept_to() {
    let exchange = counting_exchange().await;
    let control = exchange.control();
    let client = twelve_subscriptions(
        exchange.url(),
        Pacing::default()
            .all(Some(Rate::new(5, Duration::from_millis(1250))))
            .keepalive_reserve(1),
    );
    within("connect", client.connect()).await.unwrap();
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    // Connected means every restored subscription is on the wire; the mock
    // has read them once it has counted twelve.
    let deadline = Instant::now() + WAIT;
    while control.summary(conn).map_or(0, |s| s.messages_received) < 12 {
        assert!(Instant::now() < deadline, "the mock never read all twelve");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(control.connection_count(), 1, "never closed for the rate");
    assert_eq!(control.status(conn), Some(ConnectionStatus::Open));
    client.close().await.unwrap();
    exchange.shutdown().await;
}

/// The same restore unpaced breaks the limit: the mock's enforcement is
/// real, and the test above would catch a pacer that does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpaced_the_same_restore_is_closed_for_the_rate() {
    let exchange = counting_exchange().await;
    let control = exchange.control();
    let client = twelve_subscriptions(exchange.url(), Pacing::unlimited());
    // It may never count as connected: the close can come before the
    // restore is written, and so on with every reconnect.
    let connecting = tokio::spawn({
        let client = client.clone();
        async move { client.connect().await }
    });
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    let cause = control.wait_for_close(conn, WAIT).await.unwrap();
    assert_eq!(cause, CloseCause::TooManyMessages);
    client.close().await.unwrap();
    // Connected or shut down, whichever came first.
    let _ = within("connect's end", connecting).await.unwrap();
    exchange.shutdown().await;
}

const WAIT: Duration = Duration::from_secs(20);

async fn within<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {WAIT:?}"))
}

async fn counting_exchange() -> MockExchange {
    MockExchange::start(ExchangeConfig::new().incoming_limit(5, Duration::from_secs(1)))
        .await
        .unwrap()
}

fn twelve_subscriptions(url: String, pacing: Pacing) -> WebSocketClient {
    let mut builder = WebSocketClient::builder()
        .url(url)
        .router(PassThrough)
        .pacing(pacing);
    for n in 0..12 {
        let stream = format!("s{n}@trade");
        let request = format!(r#"{{"method":"SUBSCRIBE","params":["{stream}"],"id":{n}}}"#);
        builder = builder.subscribe(Subscription::new(stream, request));
    }
    builder.build().unwrap()
}
