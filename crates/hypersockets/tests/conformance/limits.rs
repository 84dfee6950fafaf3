//! Size limits, from a raw server: a message or a frame over the client's
//! limit is a typed error (`MessageTooLarge` with the limit it broke),
//! answered with 1009 before the socket closes, without reading (or
//! allocating) what the server declared; what came before it is delivered;
//! the client connects again. A message of exactly the limit is no error.
//! (The mock exchange's `Oversized` fault is in `faults.rs`.)

use hypersockets::{CloseCode, HyperSocketError, TransportLimits};

use super::plain;
use crate::support::hostile::{
    LIMIT, answered_with, answered_with_limits, client_with_limits, closes_without_a_loss, connect,
    is_over_the_limit, refused, unread_feed,
};
use crate::support::Collected;
use crate::support::raw::{RawServer, frame, frame_with, op};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_limit_is_answered_with_1009() {
    let big = frame(op::BINARY, &vec![7u8; LIMIT + 1]);
    refused(plain(), &big, CloseCode::SIZE, is_over_the_limit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_declaring_2_pow_63_bytes_is_refused_before_allocating() {
    let mut header = vec![0x82, 127];
    header.extend_from_slice(&(i64::MAX as u64).to_be_bytes());
    refused(plain(), &header, CloseCode::SIZE, |error| {
            matches!(
                error,
                HyperSocketError::MessageTooLarge { size, limit: LIMIT } if *size as u64 == i64::MAX as u64
            )
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_continuation_frames_stop_at_the_message_limit() {
    let first = frame_with(false, 0, op::TEXT, None, b"[");
    // 16 times the limit in 1 KiB fragments, none of them final.
    let flood: Vec<u8> = (0..16 * LIMIT / 1024)
        .flat_map(|_| frame_with(false, 0, op::CONTINUATION, None, &[b'1'; 1024]))
        .collect();
    answered_with(plain(), &first, &flood, CloseCode::SIZE, is_over_the_limit).await;
}

/// One frame over the frame limit is refused though the message limit
/// would take it: the error names the frame limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_the_frame_limit_is_answered_with_1009() {
    const FRAME_LIMIT: usize = 4 << 10;
    let limits = TransportLimits::default()
        .max_message_size(LIMIT)
        .max_frame_size(FRAME_LIMIT);
    let big = frame(op::TEXT, &[b'x'; FRAME_LIMIT + 1]);
    answered_with_limits(
        limits,
        plain(),
        &big,
        &unread_feed(),
        CloseCode::SIZE,
        |error| {
            matches!(
                error,
                HyperSocketError::MessageTooLarge { size, limit: FRAME_LIMIT } if *size > FRAME_LIMIT
            )
        },
    )
    .await;
}

/// The server writes `bytes` to a client with `limits`: `expected` is
/// delivered, and the connection stays up until the client closes it.
async fn delivered_within(limits: TransportLimits, bytes: &[u8], expected: String) {
    delivered_all_within(limits, bytes, vec![expected]).await;
}

/// The same for several messages, delivered in order.
async fn delivered_all_within(limits: TransportLimits, bytes: &[u8], expected: Vec<String>) {
    let server = RawServer::start().await;
    let data = Collected::default();
    let client = client_with_limits(&server, &data, plain(), limits);
    let (client, mut events, mut peer) = connect(&server, client).await;
    peer.write(bytes).await;
    data.wait_for(expected.len()).await;
    assert!(data.texts() == expected, "not the messages sent, in order");
    closes_without_a_loss(&client, &mut events, &mut peer).await;
}

/// A read buffer of 1 KiB, the least there is: frames of 60 times that
/// arrive whole, between small ones, in one write and so in the reads
/// the socket gives; the buffer goes on working after each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_far_larger_than_the_read_buffer_arrive_whole() {
    let limits = TransportLimits::default()
        .max_message_size(LIMIT)
        .max_frame_size(LIMIT)
        .read_buffer_size(1 << 10)
        .max_read_buffer_size(1 << 10);
    let big = |fill: char| fill.to_string().repeat(60 << 10);
    let expected = vec![
        r#"{"seq":1}"#.to_owned(),
        big('a'),
        r#"{"seq":2}"#.to_owned(),
        big('b'),
        big('c'),
        r#"{"seq":3}"#.to_owned(),
    ];
    let bytes: Vec<u8> = expected
        .iter()
        .flat_map(|text| frame(op::TEXT, text.as_bytes()))
        .collect();
    delivered_all_within(limits, &bytes, expected).await;
}

/// A message of exactly the limit, whole or in frames of exactly the frame
/// limit, is delivered: the limits are inclusive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_of_exactly_the_limit_is_delivered() {
    let whole = "w".repeat(LIMIT);
    delivered_within(
        TransportLimits::default()
            .max_message_size(LIMIT)
            .max_frame_size(LIMIT),
        &frame(op::TEXT, whole.as_bytes()),
        whole,
    )
    .await;

    const FRAME_LIMIT: usize = LIMIT / 4;
    let part = [b'p'; FRAME_LIMIT];
    let mut bytes = frame_with(false, 0, op::TEXT, None, &part);
    for last in [false, false, true] {
        bytes.extend(frame_with(last, 0, op::CONTINUATION, None, &part));
    }
    delivered_within(
        TransportLimits::default()
            .max_message_size(LIMIT)
            .max_frame_size(FRAME_LIMIT),
        &bytes,
        "p".repeat(LIMIT),
    )
    .await;
}
