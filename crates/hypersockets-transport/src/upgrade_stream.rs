//! The stream the WebSocket handshake runs on.
//!
//! It hands tungstenite the server's HTTP response up to the blank line that
//! ends it, and not a byte more; what it read past that line it keeps. After
//! the handshake the transport takes the socket and those bytes back and
//! builds the WebSocket stream afresh, with a read buffer allocated at full
//! size.
//!
//! Why: tungstenite builds the frame codec of a handshake's stream from the
//! bytes that followed the response, in a buffer sized to them, and `bytes`
//! remembers that size. Frames are slices of that buffer; once a frame is
//! kept past the next read (a lane's queue holds raw frames), the buffer is
//! shared and each refill allocates a buffer of the remembered size: ~4 KiB
//! instead of 64 KiB, so ~11 messages per `recv` instead of ~260 (measured:
//! 88 000 against 3 900 `recv` calls for a million messages).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Where the end of the response's headers is, byte by byte: a line feed,
/// an optional carriage return, and another line feed (what `httparse`
/// accepts as the blank line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scan {
    /// In a line.
    Line,
    /// Just after a line feed.
    LineFeed,
    /// After a line feed and a carriage return.
    LineFeedReturn,
    /// The blank line has been handed over.
    Done,
}

impl Scan {
    fn next(self, byte: u8) -> Self {
        match (self, byte) {
            (Self::Done, _) => Self::Done,
            (Self::LineFeed | Self::LineFeedReturn, b'\n') => Self::Done,
            (Self::LineFeed, b'\r') => Self::LineFeedReturn,
            (_, b'\n') => Self::LineFeed,
            _ => Self::Line,
        }
    }
}

/// A stream that stops short of the bytes after an HTTP response's headers
/// until the handshake is over; see the module docs.
#[derive(Debug)]
pub struct UpgradeStream<S> {
    /// `None` once taken back.
    inner: Option<S>,
    /// Read from `inner`, not handed over yet.
    pending: Vec<u8>,
    scan: Scan,
    /// Bytes handed over after the blank line (tungstenite should never ask
    /// for them; if it did, they are in its buffer and the stream cannot be
    /// rebuilt).
    handed_after_headers: usize,
}

impl<S> UpgradeStream<S> {
    /// Wraps `inner` for the handshake.
    pub fn new(inner: S) -> Self {
        Self {
            inner: Some(inner),
            pending: Vec::new(),
            scan: Scan::Line,
            handed_after_headers: 0,
        }
    }

    /// The socket and the bytes read past the response, if nothing past the
    /// response was handed to tungstenite; `None` otherwise (or if already
    /// taken).
    pub fn take_back(&mut self) -> Option<(S, Vec<u8>)> {
        if self.scan != Scan::Done || self.handed_after_headers > 0 {
            return None;
        }
        let inner = self.inner.take()?;
        Some((inner, std::mem::take(&mut self.pending)))
    }

    /// How many of `bytes` to hand over: up to and including the blank line
    /// while the headers last, all of them after.
    fn allowance(&mut self, bytes: &[u8]) -> usize {
        if self.scan == Scan::Done {
            self.handed_after_headers += bytes.len();
            return bytes.len();
        }
        for (index, &byte) in bytes.iter().enumerate() {
            self.scan = self.scan.next(byte);
            if self.scan == Scan::Done {
                return index + 1;
            }
        }
        bytes.len()
    }
}

fn taken() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "stream taken after the handshake",
    )
}

impl<S: AsyncRead + Unpin> AsyncRead for UpgradeStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pending.is_empty() {
            let Some(inner) = this.inner.as_mut() else {
                return Poll::Ready(Err(taken()));
            };
            if this.scan == Scan::Done {
                // Past the headers (tungstenite should not get here): plain
                // reads, counted so that the stream is not rebuilt.
                let before = buf.filled().len();
                let read = Pin::new(inner).poll_read(cx, buf);
                this.handed_after_headers += buf.filled().len() - before;
                return read;
            }
            // Read into our own buffer, then hand over only what is allowed.
            let mut chunk = [0u8; 4096];
            let mut chunk_buf = ReadBuf::new(&mut chunk);
            match Pin::new(inner).poll_read(cx, &mut chunk_buf) {
                Poll::Ready(Ok(())) => this.pending.extend_from_slice(chunk_buf.filled()),
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            }
            if this.pending.is_empty() {
                // End of stream.
                return Poll::Ready(Ok(()));
            }
        }
        let mut pending = std::mem::take(&mut this.pending);
        let room = buf.remaining().min(pending.len());
        let allowed = this.allowance(&pending[..room]);
        buf.put_slice(&pending[..allowed]);
        pending.drain(..allowed);
        this.pending = pending;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for UpgradeStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.inner.as_mut() {
            Some(inner) => Pin::new(inner).poll_write(cx, data),
            None => Poll::Ready(Err(taken())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.inner.as_mut() {
            Some(inner) => Pin::new(inner).poll_flush(cx),
            None => Poll::Ready(Err(taken())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.inner.as_mut() {
            Some(inner) => Pin::new(inner).poll_shutdown(cx),
            None => Poll::Ready(Err(taken())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(text: &[u8]) -> Option<usize> {
        let mut scan = Scan::Line;
        for (index, &byte) in text.iter().enumerate() {
            scan = scan.next(byte);
            if scan == Scan::Done {
                return Some(index + 1);
            }
        }
        None
    }

    /// Reads through an `UpgradeStream` in small pieces, as tungstenite
    /// does, until the blank line; returns what was handed over and what
    /// `take_back` gives back.
    async fn handshake_over(wire: &[u8], piece: usize) -> (Vec<u8>, Option<Vec<u8>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut server, client) = tokio::io::duplex(1 << 20);
        server.write_all(wire).await.unwrap();
        let mut stream = UpgradeStream::new(client);
        let mut handed = Vec::new();
        let mut buf = vec![0u8; piece];
        while !(handed.ends_with(b"\n\n") || handed.ends_with(b"\n\r\n")) {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "ended before the blank line");
            handed.extend_from_slice(&buf[..n]);
        }
        (handed, stream.take_back().map(|(_, after)| after))
    }

    #[tokio::test]
    async fn hands_over_the_response_and_keeps_the_rest() {
        for line_end in ["\r\n", "\n"] {
            let response = format!(
                "HTTP/1.1 101 Switching Protocols{line_end}Upgrade: websocket{line_end}{line_end}"
            );
            let frames = b"\x81\x05hello\x81\x05world";
            let mut wire = response.clone().into_bytes();
            wire.extend_from_slice(frames);
            for piece in [1, 7, 4096] {
                let (handed, after) = handshake_over(&wire, piece).await;
                assert_eq!(handed, response.as_bytes(), "piece {piece}");
                assert_eq!(after.as_deref(), Some(&frames[..]), "piece {piece}");
            }
        }
    }

    #[test]
    fn finds_the_blank_line() {
        let crlf = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi";
        assert_eq!(scan_all(crlf), Some(crlf.len() - 4));
        let lf = b"HTTP/1.1 101 OK\nUpgrade: websocket\n\n\x81\x02hi";
        assert_eq!(scan_all(lf), Some(lf.len() - 4));
        let mixed = b"HTTP/1.1 101 OK\r\nA: b\n\r\nrest";
        assert_eq!(scan_all(mixed), Some(mixed.len() - 4));
        assert_eq!(scan_all(b"HTTP/1.1 101 OK\r\nA: b\r\n"), None);
        assert_eq!(scan_all(b"HTTP/1.1 101 OK\r\nA: \rb\r\n"), None);
    }
}
