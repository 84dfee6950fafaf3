//! The read buffer sized to the traffic (`read_buffer`, used by the soketto
//! transport): it starts small, grows while reads keep filling it, makes
//! room for a frame much larger than itself, and goes back to its starting
//! size once the socket has nothing more to give. Driven over an in-memory
//! pipe, polled by hand: a drained pipe is pending at once, no clock.

use std::task::{Context, Poll, Waker};

use bytes::Buf;
use hypersockets_core::TransportLimits;
use hypersockets_transport::read_buffer::{MIN_READ_BUFFER, ReadBuffer, read_sizes};
use tokio::io::{AsyncWriteExt, DuplexStream, duplex};

const START: usize = 4 << 10;
const MAX: usize = 64 << 10;

fn limits() -> TransportLimits {
    TransportLimits::default()
        .read_buffer_size(START)
        .max_read_buffer_size(MAX)
}

/// A pipe holding `bytes`, and its reading end.
async fn pipe_with(bytes: &[u8]) -> (DuplexStream, DuplexStream) {
    let (mut writer, reader) = duplex(bytes.len() + 1);
    writer.write_all(bytes).await.unwrap();
    (writer, reader)
}

/// One read: `Some(n)` when bytes came, `None` when the pipe is drained.
fn fill(buffer: &mut ReadBuffer, reader: &mut DuplexStream) -> Option<usize> {
    match buffer.poll_fill(reader, &mut Context::from_waker(Waker::noop())) {
        Poll::Ready(read) => Some(read.unwrap()),
        Poll::Pending => None,
    }
}

#[tokio::test]
async fn grows_while_reads_fill_it_then_returns_to_its_start_when_drained() {
    const BURST: usize = 1 << 20;
    let (_writer, mut reader) = pipe_with(&vec![7; BURST]).await;
    let mut buffer = ReadBuffer::new(&limits());
    assert_eq!(buffer.allocated(), 0, "nothing before the first read");

    let (mut read, mut largest, mut reads) = (0, 0, 0);
    while let Some(n) = fill(&mut buffer, &mut reader) {
        largest = largest.max(buffer.allocated());
        read += n;
        reads += 1;
        // Consumed at once, as frames would be.
        let held = buffer.bytes().len();
        buffer.bytes().advance(held);
    }
    assert_eq!(read, BURST);
    assert_eq!(largest, MAX, "grew to the most it may");
    // Doubling from 4 KiB: a handful of small reads, then 64 KiB ones.
    assert!(reads < 2 * BURST / MAX, "{reads} reads");

    // Drained: back to the start, the large buffer let go.
    assert_eq!(buffer.chunk(), START);
    assert_eq!(buffer.allocated(), 0);
}

#[tokio::test]
async fn a_quiet_feed_reads_into_its_starting_buffer_and_keeps_it() {
    let (mut writer, mut reader) = duplex(1 << 10);
    let mut buffer = ReadBuffer::new(&limits());
    for message in 0..100u32 {
        writer.write_all(&message.to_be_bytes()).await.unwrap();
        assert_eq!(fill(&mut buffer, &mut reader), Some(4));
        assert_eq!(fill(&mut buffer, &mut reader), None);
        assert_eq!(buffer.allocated(), START, "after message {message}");
        assert_eq!(buffer.chunk(), START);
    }
    assert_eq!(buffer.bytes().len(), 400);
}

#[tokio::test]
async fn room_for_a_frame_far_larger_than_the_buffer_is_given_back_after_it() {
    const FRAME: usize = 3 << 20;
    let (_writer, mut reader) = pipe_with(&vec![1; FRAME]).await;
    let mut buffer = ReadBuffer::new(&limits());
    let mut frame = None;
    while frame.is_none() {
        let held = buffer.bytes().len();
        if held >= FRAME {
            frame = Some(buffer.bytes().split_to(FRAME).freeze());
        } else {
            // What a transport does once it knows the payload's length.
            buffer.reserve(FRAME - held);
            assert!(fill(&mut buffer, &mut reader).is_some_and(|n| n > 0));
        }
    }
    assert!(buffer.allocated() >= FRAME);
    assert_eq!(frame.map(|f| f.len()), Some(FRAME));
    // The socket has nothing more: the frame's room is let go.
    assert_eq!(fill(&mut buffer, &mut reader), None);
    assert_eq!(buffer.allocated(), 0);
    assert_eq!(buffer.chunk(), START);
}

#[test]
fn the_limits_are_kept_within_bounds() {
    let tiny = TransportLimits::default()
        .read_buffer_size(0)
        .max_read_buffer_size(0);
    assert_eq!(read_sizes(&tiny), (MIN_READ_BUFFER, MIN_READ_BUFFER));
    let inverted = TransportLimits::default()
        .read_buffer_size(64 << 10)
        .max_read_buffer_size(8 << 10);
    assert_eq!(read_sizes(&inverted), (64 << 10, 64 << 10));
    let huge = TransportLimits::default()
        .read_buffer_size(usize::MAX)
        .max_read_buffer_size(usize::MAX);
    let (start, max) = read_sizes(&huge);
    assert_eq!(start, max);
    assert!(start <= 64 << 20);
    assert_eq!(
        read_sizes(&TransportLimits::default()),
        (16 << 10, 128 << 10)
    );
}
