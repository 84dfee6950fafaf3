//! Close frames, from a raw server: a valid code (1000 included) ends the
//! connection without an error, reaches the events with its number and
//! reason, and is echoed; a code no endpoint may send, a 1-byte payload or
//! a reason that is not UTF-8 is a typed error answered with 1002 or 1007;
//! every one of them is followed by a new connection. And the client's own
//! close: a Close frame with 1000, frames still arriving while it waits
//! taking the live path, nothing sent after it, done at the server's Close.
//! (The mock exchange's `Close` fault is in `faults.rs`; its record of the
//! client's Close after the recovery drill is checked in `recovery/mod.rs`.)

use hypersockets::{CloseCode, DisconnectReason, HyperSocketError, JsonPing};

use super::plain;
use crate::support::hostile::{
    after_prelude, answered_with, comes_back, comes_back_having_delivered_the_prelude, connected,
    is_protocol_error,
};
use crate::support::raw::{RawServer, close, frame, op};
use crate::support::{Collected, WAIT, client_builder, disconnect_reason, within};

/// The server sends its Close frame with `code` and `reason` after the
/// prelude: the client echoes the code, delivers the prelude, reports the
/// frame as it was sent (no error), and connects again.
async fn server_close_reaches_the_events(code: u16, reason: &str) {
    let server = RawServer::start().await;
    let data = Collected::default();
    let (client, mut events, mut peer) = connected(&server, &data, plain()).await;

    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    let answer = within(
        "the client's close",
        peer.send_and_read_close(&after_prelude(&frame(op::CLOSE, &payload)), &[]),
    )
    .await;
    assert_eq!(answer.and_then(|a| a.close_code()), Some(code), "echoed");
    drop(peer);

    let lost = disconnect_reason(&mut events).await;
    match &lost {
        DisconnectReason::ServerClosed(Some(frame)) => {
            assert_eq!(frame.code.as_u16(), code);
            assert_eq!(frame.reason.as_str(), reason);
        }
        other => panic!("expected the server's Close frame, got {other:?}"),
    }
    comes_back_having_delivered_the_prelude(&server, &client, &mut events, &data).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_code_1000_ends_the_connection_without_an_error() {
    server_close_reaches_the_events(1000, "bye").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_code_1011_reaches_the_events() {
    server_close_reaches_the_events(1011, "internal error").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_code_3000_reaches_the_events() {
    server_close_reaches_the_events(3000, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_code_4000_reaches_the_events() {
    server_close_reaches_the_events(4000, "session expired").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_code_4999_reaches_the_events() {
    server_close_reaches_the_events(4999, "é").await;
}

/// A Close frame without a code (an empty payload) is a close without a
/// frame to report, answered with a Close frame without a code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_without_a_code_ends_the_connection_without_an_error() {
    let server = RawServer::start().await;
    let (client, mut events, mut peer) = connected(&server, &Collected::default(), plain()).await;

    let answer = within(
        "the client's close",
        peer.send_and_read_close(&frame(op::CLOSE, b""), &[]),
    )
    .await
    .expect("the client closed the socket without a Close frame");
    assert_eq!(answer.close_code(), None, "{answer:?}");
    drop(peer);
    let lost = disconnect_reason(&mut events).await;
    assert!(
        matches!(lost, DisconnectReason::ServerClosed(None)),
        "{lost:?}"
    );
    comes_back(&server, &client, &mut events).await;
}

/// A server that sends its Close frame and then never closes the socket
/// does not hold the client: it answers, lets go, and connects again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_frame_without_a_tcp_close_does_not_hang_the_client() {
    let server = RawServer::start().await;
    let (client, mut events, mut peer) = connected(&server, &Collected::default(), plain()).await;

    peer.write(&close(1001)).await;
    let answer = within("the client's close", peer.frames.close_frame()).await;
    assert_eq!(answer.and_then(|a| a.close_code()), Some(1001));
    let reason = disconnect_reason(&mut events).await;
    assert!(
        matches!(&reason, DisconnectReason::ServerClosed(Some(frame)) if frame.code == CloseCode::AWAY),
        "{reason:?}"
    );
    // The first socket is still open on our side, and the client is back.
    comes_back(&server, &client, &mut events).await;
    drop(peer);
}

/// A close code no endpoint may send (RFC 6455 §7.4: below 1000, 1004,
/// 1005, 1006, 1015, 1016 to 2999, 5000 and up) is answered with 1002, and
/// the user learns what the server sent, not the 1002 of the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_close_code_is_answered_with_1002_and_reported_as_sent() {
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        answered_with(
            plain(),
            &close(code),
            &[],
            CloseCode::PROTOCOL,
            |error| matches!(error, HyperSocketError::InvalidCloseCode { code: sent } if *sent == code),
        )
        .await;
    }
}

/// A Close payload of one byte (half a code) is a protocol error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_byte_close_payload_is_a_protocol_error() {
    answered_with(
        plain(),
        &frame(op::CLOSE, &[0x03]),
        &[],
        CloseCode::PROTOCOL,
        is_protocol_error,
    )
    .await;
}

/// A close reason that is not UTF-8 is answered with 1007.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_reason_not_utf8_is_answered_with_1007() {
    let mut payload = 1000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"bad \xFF\xFE");
    answered_with(
        plain(),
        &frame(op::CLOSE, &payload),
        &[],
        CloseCode::INVALID,
        |error| matches!(error, HyperSocketError::InvalidUtf8(_)),
    )
    .await;
}

const MARKER: &str = r#"{"marker":true}"#;

/// The client's close sends a Close frame with 1000 and waits for the
/// server's. While it waits, what still arrives takes the live path: the
/// passive ping detector and the router see it as when live. An
/// application ping is kept from the handlers but not answered: no data
/// frame may follow our Close frame (RFC 6455 §5.5.1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_arriving_during_close_take_the_live_path() {
    let server = RawServer::start().await;
    let (data, control) = (Collected::default(), Collected::default());
    let client = client_builder(server.url(), &[], &data, &control)
        .transport(plain())
        .ping_detector(JsonPing::default())
        // The server's Close ends the wait, not this.
        .close_timeout(WAIT)
        .build()
        .unwrap();
    let (connected, peer) = tokio::join!(client.connect(), within("accept", server.accept()));
    connected.unwrap();
    let mut peer = peer;

    // Live: the ping is answered and never reaches a handler.
    peer.write(&frame(op::TEXT, br#"{"ping":1}"#)).await;
    let pong = within("pong", peer.frames.next_frame()).await.unwrap();
    assert_eq!(
        (pong.opcode, &pong.payload[..]),
        (op::TEXT, &br#"{"pong":1}"#[..])
    );

    let closer = client.clone();
    let closing = tokio::spawn(async move { closer.close().await });
    let ours = within("close frame", peer.frames.next_frame()).await.unwrap();
    assert_eq!(
        (ours.opcode, &ours.payload[..]),
        (op::CLOSE, &1000u16.to_be_bytes()[..])
    );

    // Closing: a ping and a message, then the server's Close.
    peer.write(&frame(op::TEXT, br#"{"ping":2}"#)).await;
    peer.write(&frame(op::TEXT, MARKER.as_bytes())).await;
    peer.write(&close(1000)).await;
    within("close", closing).await.unwrap().unwrap();

    // Same path as live: the ping was taken by the detector (no handler
    // saw it), the message was routed.
    assert_eq!(control.texts(), [MARKER]);
    // Not answered: nothing followed our Close frame, and the socket ended.
    assert_eq!(client.metrics().connection.pings_answered, 1);
    assert_eq!(within("end of stream", peer.frames.next_frame()).await, None);
}
