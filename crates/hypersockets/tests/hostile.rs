//! Hostile servers, through a real socket: a hand-rolled server on
//! 127.0.0.1 writes what no conforming server would (RFC 6455 violations,
//! absurd lengths, floods, broken handshakes, dribbled bytes). For each,
//! the client reports a typed error, answers with the right close code
//! (1002 protocol error, 1007 invalid UTF-8, 1009 too large) before its
//! socket closes, even with the server's bytes still unread, does not
//! panic, and connects again.

mod support;

use std::time::Duration;

use hypersockets::{
    BoxError, ClientEvent, CloseCode, DisconnectReason, EventStream, FixedInterval,
    HyperSocketError, PassThrough, TransportLimits, WebSocketClient, WsMessage, handler_fn,
};
use support::raw::{RawPeer, RawServer, close, frame, frame_with, op};
use support::{Collected, is_connected, wait_event, within};

/// The client's limits: small, so floods hit them quickly.
const LIMIT: usize = 64 << 10;

fn client(server: &RawServer, data: &Collected) -> WebSocketClient {
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
        .reconnect(FixedInterval::new(Duration::from_millis(20)))
        .limits(
            TransportLimits::default()
                .max_message_size(LIMIT)
                .max_frame_size(LIMIT),
        )
        .close_timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

/// A client of `server`, connected, its events, and the server's side.
async fn connected(
    server: &RawServer,
    data: &Collected,
) -> (WebSocketClient, EventStream, RawPeer) {
    let client = client(server, data);
    let events = client.events();
    let (peer, connected) = tokio::join!(server.accept(), client.connect());
    connected.unwrap();
    (client, events, peer)
}

/// The client connects again after a loss; then it is closed.
async fn comes_back(server: &RawServer, client: &WebSocketClient, events: &mut EventStream) {
    let (_again, _) = tokio::join!(
        server.accept(),
        wait_event(events, "reconnected", is_connected)
    );
    within("close", client.close()).await.unwrap();
}

/// Valid text frames the client will not get to read: they are still in
/// its socket when it gives up on the connection.
fn unread_feed() -> Vec<u8> {
    (0..4_000)
        .flat_map(|i| {
            frame(
                op::TEXT,
                format!(r#"{{"seq":{i},"pad":"................"}}"#).as_bytes(),
            )
        })
        .collect()
}

/// The reason of the next `Disconnected` event.
async fn next_loss(events: &mut EventStream) -> DisconnectReason {
    match wait_event(events, "a disconnect", |e| {
        matches!(e, ClientEvent::Disconnected { .. })
    })
    .await
    {
        ClientEvent::Disconnected { reason } => reason,
        _ => unreachable!(),
    }
}

/// The server writes `bytes` then `trailing` on a live connection: the
/// client answers with a Close frame carrying `code`, reports an error
/// that `expected` accepts, and connects again.
async fn answered_with(
    bytes: &[u8],
    trailing: &[u8],
    code: CloseCode,
    expected: impl Fn(&HyperSocketError) -> bool,
) {
    let server = RawServer::start().await;
    let (client, mut events, mut peer) = connected(&server, &Collected::default()).await;

    let answer = within(
        "the client's close",
        peer.send_and_read_close(bytes, trailing),
    )
    .await;
    let answer = answer.expect("the client closed the socket without a Close frame");
    assert_eq!(answer.close_code(), Some(code.as_u16()), "{answer:?}");
    // Then a FIN, not a reset, though our bytes are still unread there.
    assert!(
        peer.frames.ends_with_fin().await,
        "the client reset the socket"
    );

    let reason = next_loss(&mut events).await;
    assert!(
        matches!(&reason, DisconnectReason::Error(error) if expected(error)),
        "{reason:?}"
    );
    // And it comes back.
    comes_back(&server, &client, &mut events).await;
}

fn is_protocol_error(error: &HyperSocketError) -> bool {
    matches!(error, HyperSocketError::WebSocket(_))
}

fn is_over_the_limit(error: &HyperSocketError) -> bool {
    matches!(
        error,
        HyperSocketError::MessageTooLarge { limit: LIMIT, .. }
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_declaring_2_pow_63_bytes_is_refused_before_allocating() {
    let mut header = vec![0x82, 127];
    header.extend_from_slice(&(i64::MAX as u64).to_be_bytes());
    answered_with(&header, &unread_feed(), CloseCode::SIZE, |error| {
        matches!(
            error,
            HyperSocketError::MessageTooLarge { size, limit: LIMIT } if *size as u64 == i64::MAX as u64
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_continuation_frames_stop_at_the_message_limit() {
    let first = frame_with(false, 0, op::TEXT, None, b"[");
    // 16 times the limit in 1 KiB fragments, none of them final.
    let flood: Vec<u8> = (0..16 * LIMIT / 1024)
        .flat_map(|_| frame_with(false, 0, op::CONTINUATION, None, &[b'1'; 1024]))
        .collect();
    answered_with(&first, &flood, CloseCode::SIZE, is_over_the_limit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_limit_is_answered_with_1009() {
    let big = frame(op::BINARY, &vec![7u8; LIMIT + 1]);
    answered_with(&big, &unread_feed(), CloseCode::SIZE, is_over_the_limit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_is_answered_with_1007() {
    let bad = frame(op::TEXT, b"{\"price\":\"\xFF\xFE\"}");
    answered_with(&bad, &unread_feed(), CloseCode::INVALID, |error| {
        matches!(error, HyperSocketError::InvalidUtf8(_))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_bits_without_an_extension_are_a_protocol_error() {
    for rsv in [0b100, 0b010, 0b001] {
        let bad = frame_with(true, rsv, op::TEXT, None, b"{}");
        answered_with(&bad, &unread_feed(), CloseCode::PROTOCOL, is_protocol_error).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_masked_server_frame_is_a_protocol_error() {
    let bad = frame_with(true, 0, op::TEXT, Some([1, 2, 3, 4]), b"{}");
    answered_with(&bad, &unread_feed(), CloseCode::PROTOCOL, is_protocol_error).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fragmented_control_frame_is_a_protocol_error() {
    let bad = frame_with(false, 0, op::PING, None, b"half");
    answered_with(&bad, &unread_feed(), CloseCode::PROTOCOL, is_protocol_error).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_126_byte_ping_is_a_protocol_error() {
    let bad = frame(op::PING, &[b'p'; 126]);
    answered_with(&bad, &unread_feed(), CloseCode::PROTOCOL, is_protocol_error).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orphan_continuation_is_a_protocol_error() {
    let bad = frame(op::CONTINUATION, b"tail");
    answered_with(&bad, &unread_feed(), CloseCode::PROTOCOL, is_protocol_error).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reserved_opcode_is_a_protocol_error() {
    for opcode in [0x3, 0xB] {
        let bad = frame(opcode, b"?");
        answered_with(&bad, &unread_feed(), CloseCode::PROTOCOL, is_protocol_error).await;
    }
}

/// A close code no endpoint may send (999) is answered with 1002, and the
/// user learns both: what the server sent, and why we answered 1002.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_close_code_is_answered_with_1002_and_reported_as_sent() {
    let server = RawServer::start().await;
    let (client, mut events, mut peer) = connected(&server, &Collected::default()).await;

    let answer = within(
        "the client's close",
        peer.send_and_read_close(&close(999), &[]),
    )
    .await;
    assert_eq!(answer.and_then(|a| a.close_code()), Some(1002));
    let reason = next_loss(&mut events).await;
    let shown = reason.to_string();
    assert!(shown.contains("999"), "{shown}");
    assert!(!shown.contains("server closed: 1002"), "{shown}");
    comes_back(&server, &client, &mut events).await;
}

/// A server that sends its Close frame and then never closes the socket
/// does not hold the client: it answers, lets go, and connects again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_frame_without_a_tcp_close_does_not_hang_the_client() {
    let server = RawServer::start().await;
    let (client, mut events, mut peer) = connected(&server, &Collected::default()).await;

    peer.write(&close(1001)).await;
    let answer = within("the client's close", peer.frames.close_frame()).await;
    assert_eq!(answer.and_then(|a| a.close_code()), Some(1001));
    let reason = next_loss(&mut events).await;
    assert!(
        matches!(&reason, DisconnectReason::ServerClosed(Some(frame)) if frame.code == CloseCode::AWAY),
        "{reason:?}"
    );
    // The first socket is still open on our side, and the client is back.
    comes_back(&server, &client, &mut events).await;
    drop(peer);
}

/// A handshake that goes wrong: the client reports a typed handshake error
/// (no status: the answer was not a refusal) and tries again.
async fn handshake_fails_then_recovers(answer: impl Fn(&str) -> String) {
    let server = RawServer::start().await;
    let client = client(&server, &Collected::default());
    let mut events = client.events();
    let serve = async {
        let (mut tcp, request) = server.accept_request().await;
        use tokio::io::AsyncWriteExt;
        let key = support::raw::header(&request, "sec-websocket-key").unwrap();
        let _ = tcp.write_all(answer(key).as_bytes()).await;
        let reason = next_loss(&mut events).await;
        let peer = server.accept().await;
        (tcp, reason, peer)
    };
    let ((_tcp, reason, _peer), connected) = tokio::join!(serve, client.connect());
    connected.unwrap();
    assert!(
        matches!(
            &reason,
            DisconnectReason::Error(error)
                if matches!(**error, HyperSocketError::Handshake { status: None, .. })
        ),
        "{reason:?}"
    );
    within("close", client.close()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_response_headers_fail_the_handshake() {
    handshake_fails_then_recovers(|key| {
        let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
        let mut response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\
             Upgrade: websocket\r\nSec-WebSocket-Accept: {accept}\r\n"
        );
        for i in 0..500 {
            response.push_str(&format!("X-Filler-{i}: {i}\r\n"));
        }
        response + "\r\n"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_accept_key_fails_the_handshake() {
    handshake_fails_then_recovers(|_key| {
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Accept: d3JvbmcgYWNjZXB0IGtleSE=\r\n\r\n"
            .to_owned()
    })
    .await;
}

/// A normal feed written one byte per TCP segment arrives whole and in
/// order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_written_one_byte_at_a_time_arrives_in_order() {
    const MESSAGES: usize = 100;
    let server = RawServer::start().await;
    let data = Collected::default();
    let (client, _events, mut peer) = connected(&server, &data).await;

    let expected: Vec<String> = (0..MESSAGES).map(|i| format!(r#"{{"seq":{i}}}"#)).collect();
    // A long one too, with a 16-bit length, and a fragmented one.
    let long = "x".repeat(300);
    let mut bytes: Vec<u8> = expected
        .iter()
        .flat_map(|text| frame(op::TEXT, text.as_bytes()))
        .collect();
    bytes.extend(frame(op::TEXT, long.as_bytes()));
    bytes.extend(frame_with(false, 0, op::TEXT, None, b"frag"));
    bytes.extend(frame_with(true, 0, op::CONTINUATION, None, b"mented"));
    for byte in &bytes {
        // TCP_NODELAY is set: each write is its own segment.
        peer.write(std::slice::from_ref(byte)).await;
    }
    data.wait_for(MESSAGES + 2).await;
    let mut all = expected;
    all.push(long);
    all.push("fragmented".to_owned());
    assert_eq!(data.texts(), all);
    within("close", client.close()).await.unwrap();
    // Our close was a normal one.
    let answer = within("the client's close", peer.frames.close_frame()).await;
    assert_eq!(answer.and_then(|a| a.close_code()), Some(1000));
}
