//! A read buffer sized to the traffic, for transports that read the socket
//! themselves (the soketto one): not part of the API, no semver promise.
//!
//! It starts at [`TransportLimits::read_buffer_size`]. While reads keep
//! filling it (the socket had more than it could take), the next buffer
//! doubles, up to [`TransportLimits::max_read_buffer_size`]. A frame larger
//! than that gets room of its own ([`reserve`](ReadBuffer::reserve)). Once
//! the socket has nothing more to give (a read is pending), reads go back
//! to the starting size, and a larger buffer, emptied, is let go: an idle
//! connection keeps at most the starting size, whatever came before.
//!
//! Reads go into the buffer's spare room without zeroing it first, so a
//! buffer only becomes resident as far as data was actually read into it.
//!
//! Frames are split off the buffer (`split_to`) and handed on without a
//! copy; a buffer let go here is freed once the last of them is dropped.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use hypersockets_core::TransportLimits;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The smallest starting size used, whatever the limits say.
pub const MIN_READ_BUFFER: usize = 1 << 10;
/// The largest size used for either limit, whatever the limits say.
pub const MAX_READ_BUFFER: usize = 64 << 20;

/// Below this much spare room the buffer makes more before reading (or a
/// quarter of the read size, when smaller).
const MIN_SPARE: usize = 4 << 10;

/// The starting and the largest read size the limits ask for, each within
/// [`MIN_READ_BUFFER`]`..=`[`MAX_READ_BUFFER`], the largest at least the
/// starting one.
pub fn read_sizes(limits: &TransportLimits) -> (usize, usize) {
    let start = limits
        .read_buffer_size
        .clamp(MIN_READ_BUFFER, MAX_READ_BUFFER);
    let max = limits.max_read_buffer_size.clamp(start, MAX_READ_BUFFER);
    (start, max)
}

/// Bytes read from a socket and not parsed yet; see the module docs.
#[derive(Debug)]
pub struct ReadBuffer {
    buf: BytesMut,
    /// The size of the allocation `buf` reads into, as asked for (0: none).
    allocated: usize,
    /// The size of the next allocation and of the room a read is given.
    chunk: usize,
    start: usize,
    max: usize,
}

impl ReadBuffer {
    /// An empty buffer sized by `limits`; nothing is allocated before the
    /// first read.
    pub fn new(limits: &TransportLimits) -> Self {
        let (start, max) = read_sizes(limits);
        Self {
            buf: BytesMut::new(),
            allocated: 0,
            chunk: start,
            start,
            max,
        }
    }

    /// The bytes read and not taken yet: parse them, `advance` past
    /// headers, `split_to` frames.
    pub fn bytes(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Makes room for `additional` bytes more than the buffer holds (a
    /// frame's payload whose size is known and within the limits).
    pub fn reserve(&mut self, additional: usize) {
        if self.buf.capacity() - self.buf.len() < additional {
            self.buf.reserve(additional);
            self.allocated = self.buf.capacity();
        }
    }

    /// The size of the allocation reads go into now (0: none).
    pub fn allocated(&self) -> usize {
        self.allocated
    }

    /// The room the next allocation will have.
    pub fn chunk(&self) -> usize {
        self.chunk
    }

    /// Reads what the socket has into the buffer: the number of bytes read
    /// (0 at the end of the stream).
    pub fn poll_fill<R>(&mut self, io: &mut R, cx: &mut Context<'_>) -> Poll<io::Result<usize>>
    where
        R: AsyncRead + Unpin,
    {
        let min_spare = MIN_SPARE.min(self.chunk / 4);
        let spare = self.buf.capacity() - self.buf.len();
        if self.buf.is_empty() && (spare < min_spare || self.allocated > self.chunk) {
            // Nothing to keep: a fresh buffer of the size the traffic asks
            // for (the old one is freed with the last frame cut from it).
            self.buf = BytesMut::with_capacity(self.chunk);
            self.allocated = self.chunk;
        } else if spare < min_spare {
            // Part of a frame is here: room for the rest of this read.
            self.buf.reserve(self.chunk);
            self.allocated = self.buf.capacity();
        }
        let room = self.buf.capacity() - self.buf.len();
        match pin!(io.read_buf(&mut self.buf)).poll(cx) {
            Poll::Pending => {
                // Drained: quiet from here on until proven otherwise.
                self.chunk = self.start;
                if self.buf.is_empty() && self.allocated > self.start {
                    self.buf = BytesMut::new();
                    self.allocated = 0;
                }
                Poll::Pending
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Ready(Ok(read)) => {
                if read == room {
                    // The socket had more than there was room for.
                    self.chunk = (self.chunk * 2).min(self.max);
                }
                Poll::Ready(Ok(read))
            }
        }
    }
}
