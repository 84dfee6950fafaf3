//! `MemoryTransport`: messages both ways, the request seen by the server
//! side, closes, abrupt drops, backpressure, and every injected fault.

use std::future::Future;
use std::io::ErrorKind;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hypersockets_core::{
    CloseCode, CloseFrame, ConnectRequest, Connection, HyperSocketError, Transport, WsMessage,
};
use hypersockets_transport::{MemoryPeer, MemoryServer, MemoryTransport};
use tokio::time::{Instant, timeout};

/// The bound on every wait: generous, but a hung test fails.
const WAIT: Duration = Duration::from_secs(5);

/// Awaits `future`, failing the test if it takes longer than [`WAIT`].
async fn bounded<F: Future>(future: F) -> F::Output {
    timeout(WAIT, future).await.expect("timed out")
}

/// Polls `future` once: whether it is still waiting. No clock involved: a
/// full channel is pending at once, deterministically.
fn is_pending<F: Future>(future: Pin<&mut F>) -> bool {
    future
        .poll(&mut Context::from_waker(Waker::noop()))
        .is_pending()
}

const URL: &str = "wss://exchange.test/ws";

/// A connection and its accepted server side.
async fn open(transport: &MemoryTransport, server: &MemoryServer) -> (Connection, MemoryPeer) {
    let conn = bounded(transport.connect(ConnectRequest::new(URL)))
        .await
        .expect("connect failed");
    let peer = bounded(server.accept()).await;
    (conn, peer)
}

async fn connect_err(transport: &MemoryTransport, request: ConnectRequest) -> HyperSocketError {
    match bounded(transport.connect(request)).await {
        Ok(_) => panic!("connect succeeded where it should fail"),
        Err(err) => err,
    }
}

async fn next(conn: &mut Connection) -> Option<Result<WsMessage, HyperSocketError>> {
    bounded(conn.stream.next()).await
}

async fn next_ok(conn: &mut Connection) -> WsMessage {
    next(conn)
        .await
        .expect("the stream ended")
        .expect("the stream failed")
}

async fn send(conn: &mut Connection, message: WsMessage) {
    bounded(conn.sink.send(message)).await.expect("send failed");
}

fn assert_io(err: &HyperSocketError, kind: ErrorKind) {
    match err {
        HyperSocketError::Io(io) => assert_eq!(io.kind(), kind, "{err:?}"),
        other => panic!("expected an i/o error of kind {kind:?}, got {other:?}"),
    }
}

// ------------------------------------------------------------------ basics

#[tokio::test]
async fn messages_of_every_kind_are_echoed() {
    let (transport, server) = MemoryTransport::new();
    let (mut conn, peer) = open(&transport, &server).await;
    let echo = tokio::spawn(async move {
        while let Some(message) = bounded(peer.recv()).await {
            if message.is_data() && peer.send(message).await.is_err() {
                break;
            }
        }
    });
    for message in [
        WsMessage::text("héllo"),
        WsMessage::text(""),
        WsMessage::binary(vec![0u8, 255]),
        WsMessage::binary(vec![7u8; 1 << 20]),
    ] {
        send(&mut conn, message.clone()).await;
        assert_eq!(next_ok(&mut conn).await, message);
    }
    drop(conn);
    // The client is gone: the server's recv ends and so does the task.
    bounded(echo).await.unwrap();
}

#[tokio::test]
async fn the_server_sees_the_request_url_and_headers() {
    let (transport, server) = MemoryTransport::new();
    let request = ConnectRequest::new("wss://exchange.test/ws?streams=btcusdt@trade")
        .header("X-Api-Key", "abc")
        .header("X-Repeated", "one")
        .header("X-Repeated", "two")
        .connect_timeout(Duration::from_secs(3));
    let _conn = bounded(transport.connect(request.clone())).await.unwrap();
    let peer = bounded(server.accept()).await;
    assert_eq!(peer.request(), &request);
    assert_eq!(
        peer.request().url,
        "wss://exchange.test/ws?streams=btcusdt@trade"
    );
    assert_eq!(peer.header("x-api-key"), Some("abc"));
    assert_eq!(peer.header("X-API-KEY"), Some("abc"));
    assert_eq!(peer.header("x-repeated"), Some("one"), "the first value");
    assert_eq!(peer.header("authorization"), None);
}

#[tokio::test]
async fn connections_are_accepted_in_connect_order() {
    let (transport, server) = MemoryTransport::new();
    let mut conns = Vec::new();
    for n in 0..3 {
        let request = ConnectRequest::new(URL).header("X-N", n.to_string());
        conns.push(bounded(transport.connect(request)).await.unwrap());
    }
    for n in 0..3 {
        let peer = bounded(server.accept()).await;
        assert_eq!(peer.header("x-n"), Some(n.to_string().as_str()));
    }
    assert!(server.try_accept().is_none());
    assert_eq!(server.connect_count(), 3);
    assert_eq!(transport.connect_count(), 3);
}

#[tokio::test]
async fn server_messages_arrive_in_order_and_pings_are_answered() {
    let (transport, server) = MemoryTransport::new();
    let (mut conn, peer) = open(&transport, &server).await;
    for i in 0..100 {
        bounded(peer.send(WsMessage::text(i.to_string())))
            .await
            .unwrap();
    }
    bounded(peer.send(WsMessage::ping(&b"hb"[..])))
        .await
        .unwrap();
    for i in 0..100 {
        assert_eq!(next_ok(&mut conn).await, WsMessage::text(i.to_string()));
    }
    assert_eq!(next_ok(&mut conn).await, WsMessage::ping(&b"hb"[..]));
    // Like tungstenite, the client answered the ping by itself.
    assert_eq!(
        bounded(peer.recv()).await,
        Some(WsMessage::pong(&b"hb"[..]))
    );
    assert_eq!(peer.try_recv(), None);
}

#[tokio::test]
async fn bad_schemes_are_invalid_configuration() {
    let (transport, server) = MemoryTransport::new();
    for url in ["http://exchange.test/", "exchange.test", ""] {
        let err = connect_err(&transport, ConnectRequest::new(url)).await;
        assert!(
            matches!(
                err,
                HyperSocketError::InvalidConfiguration { setting: "url", .. }
            ),
            "{url:?}: {err:?}"
        );
    }
    assert!(server.try_accept().is_none());
}

// ------------------------------------------------------------------ closes

#[tokio::test]
async fn server_close_is_yielded_echoed_and_ends_the_stream() {
    let (transport, server) = MemoryTransport::new();
    let (mut conn, peer) = open(&transport, &server).await;
    let frame = CloseFrame::new(4001, "kicked");
    bounded(peer.close(Some(frame.clone()))).await.unwrap();

    assert_eq!(
        next_ok(&mut conn).await,
        WsMessage::Close(Some(frame.clone()))
    );
    assert!(
        next(&mut conn).await.is_none(),
        "the stream goes on after a close"
    );
    assert!(next(&mut conn).await.is_none());
    // The client's answering close reaches the server.
    assert_eq!(
        bounded(peer.recv()).await,
        Some(WsMessage::Close(Some(frame)))
    );

    // Nothing more goes either way.
    let err = bounded(conn.sink.send(WsMessage::text("late")))
        .await
        .unwrap_err();
    assert!(matches!(err, HyperSocketError::ConnectionClosed), "{err:?}");
    let err = bounded(peer.send(WsMessage::text("late")))
        .await
        .unwrap_err();
    assert!(matches!(err, HyperSocketError::ConnectionClosed), "{err:?}");
    assert!(bounded(peer.close(None)).await.is_err(), "closed twice");
    // Closing the sink after the close handshake is not an error.
    bounded(conn.sink.close()).await.unwrap();
    drop(conn);
    assert_eq!(bounded(peer.recv()).await, None);
}

#[tokio::test]
async fn client_close_reaches_the_server_and_its_answer_ends_the_stream() {
    let (transport, server) = MemoryTransport::new();
    let (mut conn, peer) = open(&transport, &server).await;
    send(&mut conn, WsMessage::text("bye soon")).await;
    bounded(conn.sink.close()).await.unwrap();
    assert_eq!(
        bounded(peer.recv()).await,
        Some(WsMessage::text("bye soon"))
    );
    assert_eq!(bounded(peer.recv()).await, Some(WsMessage::Close(None)));

    bounded(peer.close(Some(CloseFrame::new(CloseCode::NORMAL, ""))))
        .await
        .unwrap();
    match next_ok(&mut conn).await {
        WsMessage::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::NORMAL),
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert!(next(&mut conn).await.is_none());
    // No second close was echoed: the client had sent one already, and
    // both of its halves are now finished.
    assert_eq!(bounded(peer.recv()).await, None);
}

#[tokio::test]
async fn an_explicit_close_frame_from_the_client_blocks_later_sends() {
    let (transport, server) = MemoryTransport::new();
    let (mut conn, peer) = open(&transport, &server).await;
    send(&mut conn, WsMessage::close(CloseCode::AWAY, "leaving")).await;
    let err = bounded(conn.sink.send(WsMessage::text("after")))
        .await
        .unwrap_err();
    assert!(matches!(err, HyperSocketError::ConnectionClosed), "{err:?}");
    assert_eq!(
        bounded(peer.recv()).await,
        Some(WsMessage::close(CloseCode::AWAY, "leaving"))
    );
    assert_eq!(peer.try_recv(), None, "the late message was not sent");
}

// ---------------------------------------------------------- abrupt drops

#[tokio::test]
async fn drop_connection_yields_what_was_sent_then_a_reset() {
    let (transport, server) = MemoryTransport::new();
    let (mut conn, peer) = open(&transport, &server).await;
    bounded(peer.send(WsMessage::text("one"))).await.unwrap();
    bounded(peer.send(WsMessage::text("two"))).await.unwrap();
    peer.drop_connection();

    assert_eq!(next_ok(&mut conn).await, WsMessage::text("one"));
    assert_eq!(next_ok(&mut conn).await, WsMessage::text("two"));
    let err = next(&mut conn)
        .await
        .expect("an error, not the end")
        .unwrap_err();
    assert_io(&err, ErrorKind::ConnectionReset);
    assert!(err.is_retryable());
    assert!(next(&mut conn).await.is_none(), "an error ends the stream");

    let err = bounded(conn.sink.send(WsMessage::text("anyone?")))
        .await
        .unwrap_err();
    assert_io(&err, ErrorKind::ConnectionReset);
}

#[tokio::test]
async fn dropping_the_peer_is_an_abrupt_drop_too() {
    let (transport, server) = MemoryTransport::new();
    let (mut conn, peer) = open(&transport, &server).await;
    drop(peer);
    assert_io(
        &next(&mut conn).await.unwrap().unwrap_err(),
        ErrorKind::ConnectionReset,
    );
}

#[tokio::test]
async fn the_server_sees_a_dropped_client() {
    let (transport, server) = MemoryTransport::new();
    let (conn, peer) = open(&transport, &server).await;
    drop(conn);
    assert_eq!(bounded(peer.recv()).await, None);
    let err = bounded(peer.send(WsMessage::text("hello?")))
        .await
        .unwrap_err();
    assert!(matches!(err, HyperSocketError::ConnectionClosed), "{err:?}");
}

// ------------------------------------------------------------ backpressure

#[tokio::test]
async fn a_peer_that_stops_reading_blocks_the_clients_sends() {
    let (transport, server) = MemoryTransport::with_capacity(2, 16);
    let (mut conn, peer) = open(&transport, &server).await;
    send(&mut conn, WsMessage::text("1")).await;
    send(&mut conn, WsMessage::text("2")).await;

    // The buffer is full and the peer reads nothing: a half-open server.
    let mut third = conn.sink.send(WsMessage::text("3"));
    assert!(is_pending(Pin::new(&mut third)));
    assert!(is_pending(Pin::new(&mut third)), "still waiting");

    // One read makes room, and the waiting send goes through.
    assert_eq!(bounded(peer.recv()).await, Some(WsMessage::text("1")));
    bounded(third).await.unwrap();
    assert_eq!(bounded(peer.recv()).await, Some(WsMessage::text("2")));
    assert_eq!(bounded(peer.recv()).await, Some(WsMessage::text("3")));
}

#[tokio::test]
async fn a_send_blocked_on_a_stalled_peer_fails_when_the_peer_drops() {
    let (transport, server) = MemoryTransport::with_capacity(1, 16);
    let (mut conn, peer) = open(&transport, &server).await;
    send(&mut conn, WsMessage::text("fills the buffer")).await;
    let mut blocked = conn.sink.send(WsMessage::text("waits"));
    assert!(is_pending(Pin::new(&mut blocked)));
    peer.drop_connection();
    assert_io(
        &bounded(blocked).await.unwrap_err(),
        ErrorKind::ConnectionReset,
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_blocks_the_servers_sends() {
    let (transport, server) = MemoryTransport::with_capacity(16, 1);
    let (mut conn, peer) = open(&transport, &server).await;
    bounded(peer.send(WsMessage::text("a"))).await.unwrap();
    {
        let mut second = pin!(peer.send(WsMessage::text("b")));
        assert!(is_pending(second.as_mut()));
        assert_eq!(next_ok(&mut conn).await, WsMessage::text("a"));
        bounded(second).await.unwrap();
    }
    assert_eq!(next_ok(&mut conn).await, WsMessage::text("b"));
}

#[tokio::test]
async fn zero_capacity_counts_as_one() {
    let (transport, server) = MemoryTransport::with_capacity(0, 0);
    let (mut conn, peer) = open(&transport, &server).await;
    send(&mut conn, WsMessage::text("x")).await;
    assert!(is_pending(Pin::new(
        &mut conn.sink.send(WsMessage::text("y"))
    )));
    bounded(peer.send(WsMessage::text("z"))).await.unwrap();
    assert_eq!(next_ok(&mut conn).await, WsMessage::text("z"));
}

// ------------------------------------------------------------------ faults

#[tokio::test]
async fn refuse_next_refuses_that_many_connects() {
    let (transport, server) = MemoryTransport::new();
    server.refuse_next(2);
    for _ in 0..2 {
        let err = connect_err(&transport, ConnectRequest::new(URL)).await;
        assert_io(&err, ErrorKind::ConnectionRefused);
        assert!(err.is_retryable());
    }
    let (_conn, _peer) = open(&transport, &server).await;
    assert_eq!(server.connect_count(), 3);
    assert!(
        server.try_accept().is_none(),
        "refused connects are never accepted"
    );
}

#[tokio::test]
async fn refuse_all_refuses_until_lifted() {
    let (transport, server) = MemoryTransport::new();
    server.refuse_next(1);
    server.refuse_all(true);
    for _ in 0..3 {
        let err = connect_err(&transport, ConnectRequest::new(URL)).await;
        assert_io(&err, ErrorKind::ConnectionRefused);
    }
    server.refuse_all(false);
    // The pending `refuse_next` was not used up meanwhile.
    let err = connect_err(&transport, ConnectRequest::new(URL)).await;
    assert_io(&err, ErrorKind::ConnectionRefused);
    let (_conn, _peer) = open(&transport, &server).await;
    assert_eq!(transport.connect_count(), 5);
}

#[tokio::test(start_paused = true)]
async fn delay_connect_beyond_the_timeout_is_a_connect_timeout() {
    let (transport, server) = MemoryTransport::new();
    server.delay_connect(Duration::from_secs(60));
    server.refuse_next(1);
    let limit = Duration::from_secs(2);
    let err = connect_err(&transport, ConnectRequest::new(URL).connect_timeout(limit)).await;
    match err {
        HyperSocketError::Timeout { operation, after } => {
            assert_eq!(operation, "connect");
            assert_eq!(after, limit);
        }
        other => panic!("expected a connect timeout, got {other:?}"),
    }
    assert_eq!(server.connect_count(), 1);
    assert!(server.try_accept().is_none());

    // A timed-out connect used up no refusal.
    server.delay_connect(Duration::ZERO);
    let err = connect_err(&transport, ConnectRequest::new(URL)).await;
    assert_io(&err, ErrorKind::ConnectionRefused);
}

#[tokio::test(start_paused = true)]
async fn delay_connect_within_the_timeout_only_slows_the_connect() {
    let (transport, server) = MemoryTransport::new();
    let delay = Duration::from_secs(3);
    server.delay_connect(delay);
    let start = Instant::now();
    let request = ConnectRequest::new(URL).connect_timeout(Duration::from_secs(10));
    let conn = bounded(transport.connect(request)).await;
    assert!(conn.is_ok(), "{conn:?}");
    // Paused clock: tokio jumped exactly over the delay.
    assert!(start.elapsed() >= delay);
    bounded(server.accept()).await;
}

// ------------------------------------------------------------------- types

#[test]
fn handles_are_send_sync_debug_and_usable_as_dyn_transport() {
    fn send_sync<T: Send + Sync + std::fmt::Debug>() {}
    send_sync::<MemoryTransport>();
    send_sync::<MemoryServer>();
    send_sync::<MemoryPeer>();

    let (transport, server) = MemoryTransport::with_capacity(8, 4);
    server.refuse_next(3);
    let text = format!("{transport:?}");
    assert!(
        text.contains("refuse_next: 3") && text.contains("client_to_server: 8"),
        "{text}"
    );
    assert!(format!("{server:?}").starts_with("MemoryServer"));
    let _shared: Arc<dyn Transport> = Arc::new(transport);
}

#[tokio::test]
async fn a_shared_peer_reads_and_writes_from_two_tasks() {
    let (transport, server) = MemoryTransport::new();
    let (mut conn, peer) = open(&transport, &server).await;
    let peer = Arc::new(peer);
    let reader = tokio::spawn({
        let peer = Arc::clone(&peer);
        async move { bounded(peer.recv()).await }
    });
    bounded(peer.send(WsMessage::text("from server")))
        .await
        .unwrap();
    send(&mut conn, WsMessage::text("from client")).await;
    assert_eq!(
        bounded(reader).await.unwrap(),
        Some(WsMessage::text("from client"))
    );
    assert_eq!(next_ok(&mut conn).await, WsMessage::text("from server"));
    assert!(format!("{peer:?}").contains("exchange.test"));
}
