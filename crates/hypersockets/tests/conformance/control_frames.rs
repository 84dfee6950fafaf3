//! Control frames: the server's protocol pings are answered by the
//! transport with pongs carrying the same payload (checked on the server's
//! side: the mock exchange's records, and a raw server reading the client's
//! frames), even in the middle of a fragmented message; unsolicited pongs
//! are taken quietly; none of them reaches a handler. A control frame over
//! 125 bytes or fragmented is a protocol error, answered with 1002.

use hypersockets::TextPing;
use hypersockets_testkit::PingStyle;

use super::plain;
use crate::support::hostile::{closes_without_a_loss, connected, refused_as_protocol_error};
use crate::support::raw::{RawPeer, RawServer, frame, frame_with, op};
use crate::support::server_pings::server_pings_are_answered;
use crate::support::{Collected, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_pings_get_the_exact_pong_from_the_transport() {
    server_pings_are_answered(PingStyle::Protocol, None::<TextPing>, plain()).await;
}

/// Writes a Ping with `payload` and reads the client's answer: a Pong with
/// the same payload.
async fn ping_is_ponged(peer: &mut RawPeer, payload: &[u8]) {
    peer.write(&frame(op::PING, payload)).await;
    let pong = within("the pong", peer.frames.next_frame())
        .await
        .expect("the client closed instead of answering");
    assert_eq!(pong.opcode, op::PONG, "{pong:?}");
    assert_eq!(pong.payload, payload, "the ping's payload, unchanged");
}

/// On a live connection, `script` plays the server's side: the handlers
/// get exactly `expected`, and the connection stays up until closed.
async fn stays_up(script: impl AsyncFnOnce(&mut RawPeer), expected: &[&str]) {
    let server = RawServer::start().await;
    let data = Collected::default();
    let (client, mut events, mut peer) = connected(&server, &data, plain()).await;
    script(&mut peer).await;
    data.wait_for(expected.len()).await;
    assert_eq!(data.texts(), expected);
    closes_without_a_loss(&client, &mut events, &mut peer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pongs_echo_every_payload_up_to_125_bytes() {
    let script = async |peer: &mut RawPeer| {
        let payloads: [&[u8]; 4] = [b"", b"1", b"\x00\xFF\xFE not utf-8", &[0xAB; 125]];
        for payload in payloads {
            ping_is_ponged(peer, payload).await;
        }
        // Nothing reached a handler; the text after the pings does.
        peer.write(&frame(op::TEXT, b"after")).await;
    };
    stays_up(script, &["after"]).await;
}

/// A Ping between the fragments of a message (RFC 6455 §5.4: control
/// frames may be injected there) is answered at once, and the message
/// arrives whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_inside_a_fragmented_message_is_answered_and_the_message_delivered() {
    let script = async |peer: &mut RawPeer| {
        peer.write(&frame_with(false, 0, op::TEXT, None, b"frag"))
            .await;
        ping_is_ponged(peer, b"between").await;
        peer.write(&frame_with(true, 0, op::CONTINUATION, None, b"mented"))
            .await;
    };
    stays_up(script, &["fragmented"]).await;
}

/// Pongs nobody asked for (RFC 6455 §5.5.3: a unidirectional heartbeat)
/// are taken quietly: no answer, no handler, no error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsolicited_pongs_are_accepted() {
    let script = async |peer: &mut RawPeer| {
        peer.write(&frame(op::PONG, b"")).await;
        peer.write(&frame(op::PONG, &[b'p'; 125])).await;
        // Not answered: the next frame from the client is the answer to
        // this ping.
        ping_is_ponged(peer, b"still there").await;
        peer.write(&frame(op::TEXT, b"after")).await;
    };
    stays_up(script, &["after"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_frames_over_125_bytes_are_a_protocol_error() {
    for opcode in [op::PING, op::PONG, op::CLOSE] {
        let mut payload = vec![b'p'; 126];
        // A valid close code, so only the length is wrong.
        payload[..2].copy_from_slice(&1000u16.to_be_bytes());
        refused_as_protocol_error(plain(), &frame(opcode, &payload)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fragmented_control_frame_is_a_protocol_error() {
    for opcode in [op::PING, op::PONG, op::CLOSE] {
        let bad = frame_with(false, 0, opcode, None, &1000u16.to_be_bytes());
        refused_as_protocol_error(plain(), &bad).await;
    }
}
