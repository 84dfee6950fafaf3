//! Frames that break RFC 6455, from a raw server, after a few good
//! messages: for each, the client reports a typed error, answers with the
//! right close code (1002 protocol error, 1007 invalid UTF-8) before its
//! socket closes, even with the server's bytes still unread, has delivered
//! the messages before and nothing after, does not panic, and connects
//! again. (Size limits are in `limits.rs`, control frames in
//! `control_frames.rs`, close frames in `close_codes.rs`.)

use hypersockets::{CloseCode, DisconnectReason, HyperSocketError};
use tokio::io::AsyncWriteExt;

use super::plain;
use crate::support::hostile::{
    after_prelude, comes_back_having_delivered_the_prelude, connected, refused,
    refused_as_protocol_error,
};
use crate::support::raw::{RawServer, frame, frame_with, op};
use crate::support::{Collected, disconnect_reason};

fn is_invalid_utf8(error: &HyperSocketError) -> bool {
    matches!(error, HyperSocketError::InvalidUtf8(_))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_is_answered_with_1007() {
    let bad = frame(op::TEXT, b"{\"price\":\"\xFF\xFE\"}");
    refused(plain(), &bad, CloseCode::INVALID, is_invalid_utf8).await;
}

/// Fragments each fine alone whose message is not UTF-8: a character cut
/// at the end of the message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fragmented_text_ending_inside_a_character_is_answered_with_1007() {
    let euro = "€".as_bytes();
    let mut bad = frame_with(false, 0, op::TEXT, None, b"price ");
    bad.extend(frame_with(true, 0, op::CONTINUATION, None, &euro[..2]));
    refused(plain(), &bad, CloseCode::INVALID, is_invalid_utf8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_bits_without_an_extension_are_a_protocol_error() {
    for rsv in [0b100, 0b010, 0b001] {
        refused_as_protocol_error(plain(), &frame_with(true, rsv, op::TEXT, None, b"{}")).await;
    }
}

/// Server frames must not be masked (RFC 6455 §5.1); that client frames
/// are is checked on every frame the raw server reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_masked_server_frame_is_a_protocol_error() {
    refused_as_protocol_error(plain(), &frame_with(true, 0, op::TEXT, Some([1, 2, 3, 4]), b"{}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orphan_continuation_is_a_protocol_error() {
    refused_as_protocol_error(plain(), &frame(op::CONTINUATION, b"tail")).await;
}

/// A new text or binary frame where the fragmented message's continuation
/// should be.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_frame_inside_a_fragmented_message_is_a_protocol_error() {
    for opcode in [op::TEXT, op::BINARY] {
        let mut bad = frame_with(false, 0, op::TEXT, None, b"{\"half\":");
        bad.extend(frame(opcode, b"{}"));
        refused_as_protocol_error(plain(), &bad).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reserved_opcode_is_a_protocol_error() {
    // Data (0x3 to 0x7) and control (0xB to 0xF).
    for opcode in [0x3, 0x7, 0xB, 0xF] {
        refused_as_protocol_error(plain(), &frame(opcode, b"?")).await;
    }
}

/// Bytes that are no frame at all: an HTTP answer where frames should be.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_a_protocol_error() {
    refused_as_protocol_error(plain(), b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
}

/// The socket ends in the middle of a frame: a lost connection, not a
/// message; the messages before it are delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_cut_short_by_the_end_of_the_stream_is_a_closed_connection() {
    let server = RawServer::start().await;
    let data = Collected::default();
    let (client, mut events, mut peer) = connected(&server, &data, plain()).await;
    let whole = frame(op::TEXT, br#"{"seq":4,"cut":"here"}"#);
    peer.write(&after_prelude(&whole[..whole.len() / 2])).await;
    peer.writer.shutdown().await.unwrap();

    let reason = disconnect_reason(&mut events).await;
    assert!(
        matches!(
            &reason,
            DisconnectReason::Error(error)
                if matches!(**error, HyperSocketError::ConnectionClosed)
        ),
        "{reason:?}"
    );
    comes_back_having_delivered_the_prelude(&server, &client, &mut events, &data).await;
}
