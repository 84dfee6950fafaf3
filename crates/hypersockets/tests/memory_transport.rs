//! The client over the in-memory transport, with the test playing the
//! server: a peer that stops reading fails writes by the write timeout
//! while incoming messages keep being handled, refused connects are
//! retried, and protocol Pings are answered with their own payload.

mod event_log;
mod support;

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use hypersockets::{
    ClientEvent, DisconnectReason, FixedInterval, HyperSocketError, MemoryPeer, MemoryServer,
    MemoryTransport, WebSocketClient, WsMessage,
};
use support::{Collected, client_builder, wait_event, within};

const URL: &str = "ws://exchange.test/ws";
/// Long enough that a handful of in-memory messages are handled well
/// within it, even on a loaded machine; only reached by the stuck write.
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// A client over `transport` whose handlers collect every message into
/// `handled` (the test's messages carry no stream, so all go to one lane).
fn client(transport: MemoryTransport, handled: &Collected) -> WebSocketClient {
    client_builder(URL.to_owned(), &[], &Collected::default(), handled)
        .transport(transport)
        .write_timeout(WRITE_TIMEOUT)
        .build()
        .unwrap()
}

async fn accept(server: &MemoryServer) -> MemoryPeer {
    within("accept", server.accept()).await
}

/// Polls `future` once.
async fn poll_once<F: Future>(mut future: Pin<&mut F>) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await
}

fn numbered(n: usize) -> String {
    format!(r#"{{"n":{n}}}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_fails_writes_but_never_reads() {
    // One message fits between client and server: the peer never reads, so
    // the second write cannot complete.
    let (transport, server) = MemoryTransport::with_capacity(1, 64);
    let handled = Collected::default();
    let client = client(transport, &handled);
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    let stalled = accept(&server).await;
    within("first send", client.send("fills the buffer"))
        .await
        .unwrap();

    // Polled once, the send is handed to the session (which takes commands
    // before socket reads), then waits for a write that cannot complete.
    let mut stuck = Box::pin(client.send("never written"));
    assert!(poll_once(stuck.as_mut()).await.is_pending());
    for n in 1..=3 {
        within("peer send", stalled.send(WsMessage::text(numbered(n))))
            .await
            .unwrap();
    }
    // Handled while the write waits: the reader never waits for the writer.
    handled.wait_for(3).await;
    assert!(
        poll_once(stuck.as_mut()).await.is_pending(),
        "the write is still stuck"
    );
    assert_eq!(handled.texts(), (1..=3).map(numbered).collect::<Vec<_>>());
    let result = within("stuck send", stuck).await;
    assert!(
        matches!(result, Err(HyperSocketError::ConnectionClosed)),
        "{result:?}"
    );

    let event = wait_event(&mut events, "disconnect", |e| {
        matches!(e, ClientEvent::Disconnected { .. })
    })
    .await;
    match event {
        ClientEvent::Disconnected {
            reason: DisconnectReason::Error(error),
        } => assert!(
            matches!(
                *error,
                HyperSocketError::Timeout {
                    operation: "write",
                    after: WRITE_TIMEOUT
                }
            ),
            "{error:?}"
        ),
        other => panic!("expected the write timeout, got {other:?}"),
    }
    // A fresh connection works, and the stalled one got only what fitted.
    wait_event(&mut events, "reconnected", event_log::is_reconnected).await;
    let fresh = accept(&server).await;
    within("send", client.send("after")).await.unwrap();
    assert_eq!(
        within("recv", fresh.recv()).await,
        Some(WsMessage::text("after"))
    );
    assert_eq!(
        stalled.try_recv(),
        Some(WsMessage::text("fills the buffer"))
    );
    assert_eq!(client.metrics().connection.messages_sent, 2);
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connects_are_retried_until_one_succeeds() {
    let (transport, server) = MemoryTransport::new();
    server.refuse_next(2);
    let handled = Collected::default();
    let client = client(transport, &handled);
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    let story = event_log::events_so_far(&mut events);

    assert_eq!(server.connect_count(), 3);
    let reasons = event_log::disconnect_reasons(&story);
    assert_eq!(reasons.len(), 2, "{story:?}");
    for reason in &reasons {
        match reason {
            DisconnectReason::Error(error) => assert!(
                matches!(&**error, HyperSocketError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused),
                "{error:?}"
            ),
            other => panic!("expected a refused connect, got {other:?}"),
        }
    }
    assert_eq!(event_log::reconnect_attempts(&story).len(), 2);
    // Not the client's first attempt: a reconnect, though no earlier
    // attempt got as far as connected.
    assert!(matches!(
        story.last(),
        Some(ClientEvent::Connected { reconnect: true })
    ));
    let metrics = client.metrics().connection;
    assert_eq!((metrics.connect_attempts, metrics.reconnects), (3, 1));
    let peer = accept(&server).await;
    within("send", client.send("hello")).await.unwrap();
    assert_eq!(
        within("recv", peer.recv()).await,
        Some(WsMessage::text("hello"))
    );
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_refuses_everything_exhausts_the_strategy() {
    let (transport, server) = MemoryTransport::new();
    server.refuse_all(true);
    let client = client_builder(
        URL.to_owned(),
        &[],
        &Collected::default(),
        &Collected::default(),
    )
    .transport(transport)
    .reconnect(FixedInterval::new(Duration::from_millis(5)).max_attempts(2))
    .build()
    .unwrap();
    event_log::assert_gave_up(within("connect", client.connect()).await, 2);
    assert_eq!(server.connect_count(), 3);
    assert!(server.try_accept().is_none());
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_pings_are_answered_with_their_own_payload() {
    let (transport, server) = MemoryTransport::new();
    let handled = Collected::default();
    let client = client(transport, &handled);
    within("connect", client.connect()).await.unwrap();
    let peer = accept(&server).await;
    let payloads: [&'static [u8]; 3] = [b"", b"ping-1", &[0, 255, 7, 42]];
    for payload in payloads {
        within("ping", peer.send(WsMessage::ping(payload)))
            .await
            .unwrap();
        assert_eq!(
            within("pong", peer.recv()).await,
            Some(WsMessage::pong(payload))
        );
    }
    // Pings are no data: a message sent after them is the first handled
    // (and once it is, the session has counted every ping before it).
    within("send", peer.send(WsMessage::text(numbered(1))))
        .await
        .unwrap();
    handled.wait_for(1).await;
    assert_eq!(handled.texts(), [numbered(1)]);
    assert_eq!(client.metrics().connection.pings_answered, 3);
    client.close().await.unwrap();
}
