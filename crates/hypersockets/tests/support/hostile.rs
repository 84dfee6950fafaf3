//! A client of a hostile raw server (`raw.rs`), on any transport: the
//! server writes what no conforming server would (RFC 6455 violations,
//! absurd lengths, floods, broken handshakes), and the checks that follow
//! every such case: a typed error, the right close code answered before
//! the socket closes (even with the server's bytes still unread), the
//! messages before the bad bytes delivered and nothing after them, no
//! panic, and a new connection.

use std::time::Duration;

use hypersockets::{
    BoxError, ClientEvent, CloseCode, DisconnectReason, EventStream, FixedInterval,
    HyperSocketError, PassThrough, Transport, TransportLimits, WebSocketClient, WsMessage,
    handler_fn,
};
use tokio::io::AsyncWriteExt;

use super::raw::{RawPeer, RawServer, close, frame, header, op};
use super::{Collected, disconnect_reason, is_connected, wait_event, within};

/// The client's limits: small, so floods hit them quickly.
pub const LIMIT: usize = 64 << 10;

/// What the server writes before the bad bytes: the client must deliver
/// all of it, in order, and nothing after.
pub const PRELUDE: [&str; 3] = [r#"{"seq":1}"#, r#"{"seq":2}"#, r#"{"seq":3}"#];

/// A client of `server` on `transport`, with `LIMIT` on messages and
/// frames, handing every message's text (lossy) to `data`.
pub fn client(server: &RawServer, data: &Collected, transport: impl Transport) -> WebSocketClient {
    client_with_limits(server, data, transport, client_limits())
}

/// The same with `limits`.
pub fn client_with_limits(
    server: &RawServer,
    data: &Collected,
    transport: impl Transport,
    limits: TransportLimits,
) -> WebSocketClient {
    let data = data.clone();
    WebSocketClient::builder()
        .url(server.url())
        .router(PassThrough)
        .handler(
            (),
            handler_fn(move |message: WsMessage| {
                data.push(String::from_utf8_lossy(message.as_bytes()).into_owned());
                Ok::<_, BoxError>(())
            }),
        )
        .transport(transport)
        .reconnect(FixedInterval::new(Duration::from_millis(20)))
        .limits(limits)
        .close_timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

/// `client`, connected, its events, and the server's side.
pub async fn connected(
    server: &RawServer,
    data: &Collected,
    transport: impl Transport,
) -> (WebSocketClient, EventStream, RawPeer) {
    connect(server, client(server, data, transport)).await
}

/// Connects `client` to `server`: the client, its events, the server's side.
pub async fn connect(
    server: &RawServer,
    client: WebSocketClient,
) -> (WebSocketClient, EventStream, RawPeer) {
    let events = client.events();
    let (peer, connected) = tokio::join!(server.accept(), client.connect());
    connected.unwrap();
    (client, events, peer)
}

/// The client connects again after a loss; then it is closed.
pub async fn comes_back(server: &RawServer, client: &WebSocketClient, events: &mut EventStream) {
    let (mut again, _) = tokio::join!(
        server.accept(),
        wait_event(events, "reconnected", is_connected)
    );
    closes_normally(client, &mut again).await;
}

/// Closes `client`, the server answering its Close frame, which must
/// carry 1000 (a normal close).
pub async fn closes_normally(client: &WebSocketClient, peer: &mut RawPeer) {
    // Both boxed: each is a large future.
    let answer = Box::pin(async {
        let ours = peer.frames.close_frame().await;
        // The close handshake completes: no close timeout to wait out.
        let _ = peer.writer.write_all(&close(1000)).await;
        ours
    });
    let (closed, ours) = within("close", async {
        tokio::join!(Box::pin(client.close()), answer)
    })
    .await;
    closed.unwrap();
    assert_eq!(ours.and_then(|frame| frame.close_code()), Some(1000));
}

/// The client connects again after a loss, then it is closed, having
/// delivered exactly the `PRELUDE`: not a message less, nor anything the
/// server wrote after it.
///
/// Only then: the messages read just before a loss wait in the lanes'
/// open chunk until the next connection's first idle moment (the session
/// does not flush the dispatcher when it ends; see
/// `delivery::messages_read_before_a_loss_reach_the_handlers_before_the_reconnect`).
pub async fn comes_back_having_delivered_the_prelude(
    server: &RawServer,
    client: &WebSocketClient,
    events: &mut EventStream,
    data: &Collected,
) {
    comes_back(server, client, events).await;
    data.wait_for(PRELUDE.len()).await;
    assert_eq!(data.texts(), PRELUDE, "the prelude, and nothing after it");
}

/// Closes `client` (`closes_normally`), which must not have lost its
/// connection before: its events up to the end hold no disconnect but the
/// one the close made.
pub async fn closes_without_a_loss(
    client: &WebSocketClient,
    events: &mut EventStream,
    peer: &mut RawPeer,
) {
    closes_normally(client, peer).await;
    let mut lost = Vec::new();
    loop {
        match within("the end of the events", events.recv()).await {
            Ok(ClientEvent::ShutDown) => break,
            Ok(ClientEvent::Disconnected {
                reason: DisconnectReason::UserClosed,
            }) => {}
            Ok(ClientEvent::Disconnected { reason }) => lost.push(reason),
            Ok(_) => {}
            Err(error) => panic!("events lost or ended before the shutdown: {error}"),
        }
    }
    assert!(lost.is_empty(), "the connection was lost: {lost:?}");
}

/// Valid text frames the client will not get to read: they are still in
/// its socket when it gives up on the connection.
pub fn unread_feed() -> Vec<u8> {
    (0..4_000)
        .flat_map(|i| {
            frame(
                op::TEXT,
                format!(r#"{{"seq":{i},"pad":"................"}}"#).as_bytes(),
            )
        })
        .collect()
}

/// The `PRELUDE` as text frames, followed by `bytes`.
pub fn after_prelude(bytes: &[u8]) -> Vec<u8> {
    let mut all: Vec<u8> = PRELUDE
        .iter()
        .flat_map(|text| frame(op::TEXT, text.as_bytes()))
        .collect();
    all.extend_from_slice(bytes);
    all
}

/// The server writes the `PRELUDE`, `bytes`, then `trailing` on a live
/// connection: the client answers with a Close frame carrying `code`,
/// reports an error that `expected` accepts, has delivered exactly the
/// prelude, and connects again.
pub async fn answered_with(
    transport: impl Transport,
    bytes: &[u8],
    trailing: &[u8],
    code: CloseCode,
    expected: impl Fn(&HyperSocketError) -> bool,
) {
    answered_with_limits(client_limits(), transport, bytes, trailing, code, expected).await;
}

/// `answered_with`, the bad bytes followed by the `unread_feed`.
pub async fn refused(
    transport: impl Transport,
    bad: &[u8],
    code: CloseCode,
    expected: impl Fn(&HyperSocketError) -> bool,
) {
    answered_with(transport, bad, &unread_feed(), code, expected).await;
}

/// `refused` as a protocol error, answered with 1002.
pub async fn refused_as_protocol_error(transport: impl Transport, bad: &[u8]) {
    refused(transport, bad, CloseCode::PROTOCOL, is_protocol_error).await;
}

/// `LIMIT` on messages and frames.
pub fn client_limits() -> TransportLimits {
    TransportLimits::default()
        .max_message_size(LIMIT)
        .max_frame_size(LIMIT)
}

/// `answered_with` on a client with `limits`.
pub async fn answered_with_limits(
    limits: TransportLimits,
    transport: impl Transport,
    bytes: &[u8],
    trailing: &[u8],
    code: CloseCode,
    expected: impl Fn(&HyperSocketError) -> bool,
) {
    let server = RawServer::start().await;
    let data = Collected::default();
    let (client, mut events, mut peer) = connect(
        &server,
        client_with_limits(&server, &data, transport, limits),
    )
    .await;

    let answer = within(
        "the client's close",
        peer.send_and_read_close(&after_prelude(bytes), trailing),
    )
    .await;
    let answer = answer.expect("the client closed the socket without a Close frame");
    assert_eq!(answer.close_code(), Some(code.as_u16()), "{answer:?}");
    // Then a FIN, not a reset, though our bytes are still unread there.
    assert!(
        peer.frames.ends_with_fin().await,
        "the client reset the socket"
    );

    let reason = disconnect_reason(&mut events).await;
    assert!(
        matches!(&reason, DisconnectReason::Error(error) if expected(error)),
        "{reason:?}"
    );
    // And it comes back.
    comes_back_having_delivered_the_prelude(&server, &client, &mut events, &data).await;
}

pub fn is_protocol_error(error: &HyperSocketError) -> bool {
    matches!(error, HyperSocketError::WebSocket(_))
}

pub fn is_over_the_limit(error: &HyperSocketError) -> bool {
    matches!(
        error,
        HyperSocketError::MessageTooLarge { limit: LIMIT, .. }
    )
}

/// A handshake that goes wrong, answered with `answer(key)` to the
/// request's `Sec-WebSocket-Key`: the client reports an error `expected`
/// accepts and tries again.
pub async fn handshake_fails_then_recovers(
    transport: impl Transport,
    answer: impl Fn(&str) -> String,
    expected: impl Fn(&HyperSocketError) -> bool,
) {
    let server = RawServer::start().await;
    let client = client(&server, &Collected::default(), transport);
    let mut events = client.events();
    let serve = async {
        let (mut tcp, request) = server.accept_request().await;
        let key = header(&request, "sec-websocket-key").unwrap();
        let _ = tcp.write_all(answer(key).as_bytes()).await;
        let reason = disconnect_reason(&mut events).await;
        let peer = server.accept().await;
        (tcp, reason, peer)
    };
    let ((_tcp, reason, mut peer), connected) = tokio::join!(serve, client.connect());
    connected.unwrap();
    assert!(
        matches!(&reason, DisconnectReason::Error(error) if expected(error)),
        "{reason:?}"
    );
    closes_normally(&client, &mut peer).await;
}

/// A handshake error without a status: the answer was not a refusal.
pub fn is_failed_handshake(error: &HyperSocketError) -> bool {
    matches!(error, HyperSocketError::Handshake { status: None, .. })
}
