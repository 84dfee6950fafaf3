//! A client's event streams: every stream gets every event in order; one
//! more than the event capacity behind is told exactly how many it missed,
//! then reads the newest; a stream dropped unread holds nobody back; once
//! the client is gone every stream ends with `Closed`. Events are produced
//! by real reconnects over the in-memory transport.

mod support;

use std::time::Duration;

use hypersockets::{
    ClientEvent, EventStream, EventStreamError, FixedInterval, MemoryServer, MemoryTransport,
    PassThrough, WebSocketClient,
};
use support::{is_connected, wait_event, within};

const URL: &str = "ws://exchange.test/ws";
/// Connections dropped by the server, each answered by a reconnect.
const DROPS: usize = 3;

fn client(transport: MemoryTransport, capacity: usize) -> WebSocketClient {
    WebSocketClient::builder()
        .url(URL)
        .router(PassThrough)
        .transport(transport)
        .reconnect(FixedInterval::new(Duration::from_millis(1)))
        .close_timeout(Duration::from_millis(50))
        .event_capacity(capacity)
        .build()
        .unwrap()
}

/// Connects, has the server drop the connection `DROPS` times, then
/// closes and drops the client; each drop only once `watcher` has read
/// every event so far, so it never falls behind (a reconnect is three
/// events). Every event `watcher` read, as text.
async fn reconnect_then_close(
    client: WebSocketClient,
    server: &MemoryServer,
    watcher: &mut EventStream,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut read_until = async |seen: &mut Vec<String>, last: fn(&ClientEvent) -> bool| loop {
        match within("the next event", watcher.recv()).await {
            Ok(event) => {
                seen.push(format!("{event:?}"));
                if last(&event) {
                    return;
                }
            }
            Err(error) => panic!("{error} after {seen:?}"),
        }
    };
    within("connect", client.connect()).await.unwrap();
    let mut peer = within("accept", server.accept()).await;
    read_until(&mut seen, is_connected).await;
    for _ in 0..DROPS {
        peer.drop_connection();
        peer = within("accept again", server.accept()).await;
        read_until(&mut seen, is_connected).await;
    }
    within("close", client.close()).await.unwrap();
    drop(client);
    read_until(&mut seen, |event| matches!(event, ClientEvent::ShutDown)).await;
    seen
}

/// Every event of `stream` until it ends, as text; the lag reports as
/// `lagged N`.
async fn drain(stream: &mut EventStream) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        match within("the next event", stream.recv()).await {
            Ok(event) => seen.push(format!("{event:?}")),
            Err(EventStreamError::Lagged(n)) => seen.push(format!("lagged {n}")),
            Err(EventStreamError::Closed) => return seen,
            Err(error) => panic!("{error}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_stream_is_told_how_many_it_missed_then_reads_the_newest() {
    const CAPACITY: usize = 4;
    let (transport, server) = MemoryTransport::new();
    let client = client(transport, CAPACITY);
    let mut watcher = client.events();
    let mut slow = client.events();
    let mut polled = client.events();
    let mut full = reconnect_then_close(client, &server, &mut watcher).await;
    assert!(full.len() > CAPACITY + 2, "{full:?}");
    assert!(full[0].starts_with("Connected"), "{full:?}");
    assert_eq!(
        within("the end", watcher.recv()).await.unwrap_err(),
        EventStreamError::Closed
    );

    // The slow ones read nothing: they missed all but the newest CAPACITY,
    // with `recv` and with `try_recv` alike.
    let missed = full.len() - CAPACITY;
    let newest = full.split_off(missed);
    let mut expected = vec![format!("lagged {missed}")];
    expected.extend(newest);
    assert_eq!(drain(&mut slow).await, expected);
    assert_eq!(try_drain(&mut polled), expected);
}

/// Every event `stream` holds, read with `try_recv` (the client is gone, so
/// nothing more comes), lag reports included, until `Closed`.
fn try_drain(stream: &mut EventStream) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        match stream.try_recv() {
            Some(Ok(event)) => seen.push(format!("{event:?}")),
            Some(Err(EventStreamError::Lagged(n))) => seen.push(format!("lagged {n}")),
            Some(Err(EventStreamError::Closed)) => return seen,
            Some(Err(error)) => panic!("{error}"),
            None => panic!("waiting with the client gone: {seen:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stream_gets_every_event_and_an_abandoned_one_holds_nobody_back() {
    let (transport, server) = MemoryTransport::new();
    let client = client(transport, 1024);
    let mut watcher = client.events();
    let mut first = client.events();
    let abandoned = client.events();
    within("connect", client.connect()).await.unwrap();
    let peer = within("accept", server.accept()).await;
    // Read by one stream, not by the other: dropping the other unread
    // leaves the first reading on as before.
    let connected = within("connected", first.recv()).await.unwrap();
    assert!(is_connected(&connected), "{connected:?}");
    drop(abandoned);
    // Subscribed now: only what follows.
    let mut late = client.events();
    assert!(late.try_recv().is_none());
    peer.drop_connection();
    wait_event(&mut watcher, "the reconnect", |event| {
        matches!(event, ClientEvent::Connected { reconnect: true })
    })
    .await;
    within("close", client.close()).await.unwrap();
    drop(client);

    let first = drain(&mut first).await;
    let late = drain(&mut late).await;
    assert_eq!(first, late, "both saw everything after the first connect");
    assert!(
        first.first().is_some_and(|e| e.starts_with("Disconnected")),
        "{first:?}"
    );
    assert_eq!(first.last().map(String::as_str), Some("ShutDown"));
}
