//! The close code the server really sent.
//!
//! tungstenite answers a Close frame whose code no endpoint may send (999,
//! 1005, 1006, 5000, …) with 1002, and hands on 1002 ("Protocol
//! violation") in place of the code it got, so the user would read "server
//! closed: 1002". To report what the server sent, the bytes read from the
//! socket are followed frame by frame (headers only: payloads are skipped
//! without being looked at) and the code of the first Close frame is kept.
//! The cost is a few branches per frame header.
//!
//! The same walk enforces a frame size limit for codecs that have none of
//! their own (tokio-websockets limits whole messages only): the bytes up to
//! an oversized frame's header are handed on, then the read fails with a
//! [`FrameTooLarge`] before its payload is buffered, and the next flush
//! writes the Close frame (1009) the codec, which only saw an I/O error,
//! will not.
//!
//! It also notes when the socket reached its end, which tells a codec's
//! "bytes left over" error (a frame cut short) for the lost connection it
//! is.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What the socket's reads showed, shared with the receiving half: the
/// first Close frame's code (`SEEN | code`), and whether the socket ended
/// (`ENDED`).
#[derive(Clone, Debug, Default)]
pub struct SentCloseCode(Arc<AtomicU32>);

const SEEN: u32 = 1 << 16;
const ENDED: u32 = 1 << 17;

impl SentCloseCode {
    /// The code of the server's first Close frame, once read.
    pub fn get(&self) -> Option<u16> {
        let value = self.0.load(Ordering::Acquire);
        (value & SEEN != 0).then_some(value as u16)
    }

    /// Whether a read found the end of the socket (the peer shut it).
    pub fn ended(&self) -> bool {
        self.0.load(Ordering::Acquire) & ENDED != 0
    }

    fn set(&self, code: u16) {
        self.0.fetch_or(SEEN | u32::from(code), Ordering::AcqRel);
    }

    fn set_ended(&self) {
        self.0.fetch_or(ENDED, Ordering::AcqRel);
    }
}

/// Where the frame walker is.
#[derive(Debug)]
enum Walk {
    /// Collecting a header: what is in `header[..have]`.
    Header { header: [u8; 14], have: usize },
    /// Skipping `left` payload bytes; for a Close frame, `code` collects
    /// its first two (unmasked with `mask`).
    Payload {
        left: u64,
        close: Option<PendingCode>,
    },
    /// A Close frame was seen (nothing after it counts), or the bytes no
    /// longer make sense as frames.
    Done,
}

#[derive(Debug)]
struct PendingCode {
    mask: [u8; 4],
    bytes: [u8; 2],
    have: usize,
}

/// Follows the frames in the bytes a connection reads (see the module docs).
#[derive(Debug)]
pub(crate) struct FrameWalker {
    walk: Walk,
    sent: SentCloseCode,
    /// Largest frame payload allowed.
    max_frame: u64,
}

/// A frame longer than the connection's limit, as the source of the
/// `io::Error` a [`CloseWatch`] read fails with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("frame of {size} bytes over the {limit}-byte limit")]
pub struct FrameTooLarge {
    /// The frame's payload length, as its header says.
    pub size: u64,
    /// The limit.
    pub limit: u64,
}

impl FrameWalker {
    pub(crate) fn new(sent: SentCloseCode) -> Self {
        Self {
            walk: Walk::Header {
                header: [0; 14],
                have: 0,
            },
            sent,
            max_frame: u64::MAX,
        }
    }

    /// Takes in the next bytes read. When a frame's header says it is
    /// longer than the limit: the offset in `bytes` where that header
    /// started (0 when it started in earlier bytes), and the frame.
    pub(crate) fn observe(&mut self, mut bytes: &[u8]) -> Option<(usize, FrameTooLarge)> {
        let total = bytes.len();
        let mut header_start = 0;
        while !bytes.is_empty() {
            bytes = self.skip_whole_frames(bytes);
            if bytes.is_empty() {
                break;
            }
            match &mut self.walk {
                Walk::Done => return None,
                Walk::Header { header, have } => {
                    if *have == 0 {
                        header_start = total - bytes.len();
                    }
                    let needed = header_len(&header[..*have]);
                    let take = (needed - *have).min(bytes.len());
                    header[*have..*have + take].copy_from_slice(&bytes[..take]);
                    *have += take;
                    bytes = &bytes[take..];
                    // The first two bytes tell the full header's length.
                    if *have == header_len(&header[..*have]) {
                        let payload = start_payload(&header[..*have]);
                        if let Walk::Payload { left, .. } = payload
                            && left > self.max_frame
                        {
                            self.walk = Walk::Done;
                            let frame = FrameTooLarge {
                                size: left,
                                limit: self.max_frame,
                            };
                            return Some((header_start, frame));
                        }
                        self.walk = payload;
                        self.finish_empty_frame();
                    }
                }
                Walk::Payload { left, close } => {
                    let take = usize::try_from(*left).map_or(bytes.len(), |l| l.min(bytes.len()));
                    if let Some(code) = close {
                        for &byte in &bytes[..take] {
                            if code.have == 2 {
                                break;
                            }
                            code.bytes[code.have] = byte ^ code.mask[code.have];
                            code.have += 1;
                        }
                        if code.have == 2 {
                            self.sent.set(u16::from_be_bytes(code.bytes));
                            self.walk = Walk::Done;
                            return None;
                        }
                    }
                    *left -= take as u64;
                    bytes = &bytes[take..];
                    self.finish_empty_frame();
                }
            }
        }
        None
    }

    /// The common case, at a frame boundary: whole headers of data and
    /// Ping/Pong frames read in place, their payloads skipped, without
    /// going through the walk's states. Stops before a Close frame, a frame
    /// over the limit, or a header cut short (the walk takes those), and
    /// returns what is left; a payload cut short becomes the walk's.
    #[inline]
    fn skip_whole_frames<'b>(&mut self, mut bytes: &'b [u8]) -> &'b [u8] {
        if !matches!(self.walk, Walk::Header { have: 0, .. }) {
            return bytes;
        }
        while let [first, second, ..] = *bytes {
            let needed = header_len(&[first, second]);
            let Some(header) = bytes.get(..needed) else {
                break;
            };
            let left = payload_len(header);
            if first & 0x0F == 0x8 || left > self.max_frame {
                break;
            }
            let rest = &bytes[needed..];
            match usize::try_from(left) {
                Ok(left) if left <= rest.len() => bytes = &rest[left..],
                _ => {
                    self.walk = Walk::Payload {
                        left: left - rest.len() as u64,
                        close: None,
                    };
                    return &[];
                }
            }
        }
        bytes
    }

    /// After a payload ends: a Close frame ends the walk, anything else
    /// makes way for the next header.
    fn finish_empty_frame(&mut self) {
        if let Walk::Payload { left: 0, close } = &self.walk {
            self.walk = if close.is_some() {
                // A Close frame without a (complete) code: nothing to keep.
                Walk::Done
            } else {
                Walk::Header {
                    header: [0; 14],
                    have: 0,
                }
            };
        }
    }
}

/// The length of the header that starts with `start` (2 until its second
/// byte is known).
fn header_len(start: &[u8]) -> usize {
    let Some(&second) = start.get(1) else {
        return 2;
    };
    let length = match second & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if second & 0x80 != 0 { 4 } else { 0 };
    2 + length + mask
}

/// The payload length a complete `header` gives.
#[inline]
fn payload_len(header: &[u8]) -> u64 {
    match header[1] & 0x7F {
        126 => u64::from(u16::from_be_bytes([header[2], header[3]])),
        127 => {
            let mut length = [0; 8];
            length.copy_from_slice(&header[2..10]);
            u64::from_be_bytes(length)
        }
        length => u64::from(length),
    }
}

/// The payload walk that follows a complete `header`.
fn start_payload(header: &[u8]) -> Walk {
    let left = payload_len(header);
    let mut mask = [0; 4];
    if header[1] & 0x80 != 0 {
        // The mask is the header's last four bytes.
        mask.copy_from_slice(&header[header.len() - 4..]);
    }
    let is_close = header[0] & 0x0F == 0x8;
    Walk::Payload {
        left,
        close: is_close.then_some(PendingCode {
            mask,
            bytes: [0; 2],
            have: 0,
        }),
    }
}

/// `S`, its bytes read followed frame by frame (see the module docs).
#[derive(Debug)]
pub struct CloseWatch<S> {
    inner: S,
    walker: FrameWalker,
    /// An oversized frame was met: every read fails with it.
    oversized: Option<FrameTooLarge>,
    /// The Close frame (1009) owed for it, and how much of it is written.
    close_owed: Option<([u8; 8], usize)>,
}

/// A client's Close frame with `code`: masked, as every client frame is.
fn masked_close(code: u16) -> [u8; 8] {
    let mask = fastrand::u32(..).to_be_bytes();
    let code = code.to_be_bytes();
    [
        0x88,
        0x80 | 2,
        mask[0],
        mask[1],
        mask[2],
        mask[3],
        code[0] ^ mask[0],
        code[1] ^ mask[1],
    ]
}

impl<S> CloseWatch<S> {
    /// Watches `inner`, whose first bytes are `read_ahead` (already read).
    pub fn new(inner: S, read_ahead: &[u8], sent: SentCloseCode) -> Self {
        let mut walker = FrameWalker::new(sent);
        // No limit yet: nothing to refuse.
        walker.observe(read_ahead);
        Self {
            inner,
            walker,
            oversized: None,
            close_owed: None,
        }
    }

    /// Fails reads at the first frame longer than `limit` bytes (default:
    /// no limit), with a [`FrameTooLarge`] as the `io::Error`'s source.
    /// Only for bytes not yet read: give it before any.
    pub fn max_frame_size(mut self, limit: usize) -> Self {
        self.walker.max_frame = u64::try_from(limit).unwrap_or(u64::MAX);
        self
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for CloseWatch<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(frame) = self.oversized {
            return Poll::Ready(Err(io::Error::other(frame)));
        }
        let before = buf.filled().len();
        let room = buf.remaining() > 0;
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            let this = &mut *self;
            let read = &buf.filled()[before..];
            if read.is_empty() && room {
                this.walker.sent.set_ended();
            }
            if let Some((at, frame)) = this.walker.observe(read) {
                this.oversized = Some(frame);
                this.close_owed = Some((masked_close(1009), 0));
                // The frames before it are handed on; the read after them fails.
                buf.set_filled(before + at);
                if at == 0 {
                    return Poll::Ready(Err(io::Error::other(frame)));
                }
            }
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CloseWatch<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    /// Writes the Close frame owed for an oversized frame first: the codec
    /// flushes its socket only with its own frames all written, so the
    /// Close starts on a frame boundary.
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some((close, written)) = &mut this.close_owed {
            while *written < close.len() {
                let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &close[*written..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                *written += n;
            }
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tungstenite::protocol::frame::coding::OpCode;
    use tungstenite::protocol::frame::{Frame, FrameHeader};

    /// A frame as tungstenite writes it (an encoder independent of ours).
    fn frame(opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
        let header = FrameHeader {
            opcode: OpCode::from(opcode),
            mask,
            ..FrameHeader::default()
        };
        let frame = Frame::from_payload(header, payload.to_vec().into());
        let mut out = Vec::new();
        frame.format(&mut out).unwrap();
        out
    }

    /// The code the walker keeps for `bytes` fed in pieces of `piece`.
    fn seen(bytes: &[u8], piece: usize) -> Option<u16> {
        let sent = SentCloseCode::default();
        let mut walker = FrameWalker::new(sent.clone());
        for chunk in bytes.chunks(piece) {
            walker.observe(chunk);
        }
        sent.get()
    }

    /// What a reader of `bytes` through a `CloseWatch` limited to `limit`
    /// gets, in reads of at most `piece` bytes: the bytes before the error,
    /// and the error's frame.
    async fn read_limited(
        bytes: &[u8],
        piece: usize,
        limit: usize,
    ) -> (Vec<u8>, Option<FrameTooLarge>) {
        use tokio::io::AsyncReadExt;
        let watch = CloseWatch::new(bytes, &[], SentCloseCode::default()).max_frame_size(limit);
        let mut watch = Box::pin(watch);
        let (mut got, mut chunk) = (Vec::new(), vec![0; piece]);
        loop {
            match watch.read(&mut chunk).await {
                Ok(0) => return (got, None),
                Ok(n) => got.extend_from_slice(&chunk[..n]),
                Err(error) => {
                    let frame = error
                        .get_ref()
                        .and_then(|e| e.downcast_ref::<FrameTooLarge>());
                    return (got, frame.copied());
                }
            }
        }
    }

    #[tokio::test]
    async fn stops_at_the_header_of_a_frame_over_the_limit() {
        let mut before = frame(0x1, None, b"hello");
        before.extend(frame(0x2, None, &[7; 100]));
        let mut bytes = before.clone();
        bytes.extend(frame(0x2, None, &[0; 70_000]));
        for piece in [1, 3, 64, 4096, bytes.len()] {
            let (got, frame) = read_limited(&bytes, piece, 100).await;
            // Header bytes read before the header was whole were handed on:
            // the codec waits for the rest and gets the error.
            assert!(
                got.starts_with(&before) && got.len() < before.len() + 10,
                "pieces of {piece}: {} bytes",
                got.len()
            );
            assert_eq!(
                frame,
                Some(FrameTooLarge {
                    size: 70_000,
                    limit: 100
                }),
                "pieces of {piece}"
            );
        }
        // At the limit is allowed.
        let (got, frame) = read_limited(&before, 7, 100).await;
        assert_eq!((got, frame), (before, None));
    }

    #[tokio::test]
    async fn owes_a_1009_close_for_an_oversized_frame_written_at_the_next_flush() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (client, mut server) = tokio::io::duplex(1 << 20);
        server
            .write_all(&frame(0x2, None, &[0; 300]))
            .await
            .unwrap();
        let watch = CloseWatch::new(client, &[], SentCloseCode::default()).max_frame_size(100);
        let mut watch = Box::pin(watch);
        let mut chunk = [0u8; 64];
        let error = watch.read(&mut chunk).await.unwrap_err();
        assert!(error.get_ref().is_some_and(|e| e.is::<FrameTooLarge>()));
        // Nothing is written until the codec flushes; then the Close, once.
        watch.flush().await.unwrap();
        watch.flush().await.unwrap();
        drop(watch);
        let mut written = Vec::new();
        server.read_to_end(&mut written).await.unwrap();
        assert_eq!(written.len(), 8, "{written:?}");
        assert_eq!(&written[..2], &[0x88, 0x82]);
        let mask = &written[2..6];
        let code = [written[6] ^ mask[0], written[7] ^ mask[1]];
        assert_eq!(u16::from_be_bytes(code), 1009);
    }

    #[tokio::test]
    async fn notes_the_end_of_the_socket_only_once_reached() {
        use tokio::io::AsyncReadExt;
        let bytes = frame(0x1, None, b"hello");
        let sent = SentCloseCode::default();
        let mut watch = CloseWatch::new(&bytes[..], &[], sent.clone());
        let mut chunk = [0u8; 4];
        assert_eq!(watch.read(&mut chunk).await.unwrap(), 4);
        assert!(!sent.ended());
        let mut rest = Vec::new();
        watch.read_to_end(&mut rest).await.unwrap();
        assert!(sent.ended());
        // An empty buffer asks for nothing: no end seen.
        let quiet = SentCloseCode::default();
        let mut watch = CloseWatch::new(&bytes[..0], &[], quiet.clone());
        assert_eq!(watch.read(&mut []).await.unwrap(), 0);
        assert!(!quiet.ended());
    }

    #[test]
    fn finds_the_close_code_after_frames_of_every_length() {
        let mut bytes = Vec::new();
        bytes.extend(frame(0x1, None, b"hello"));
        bytes.extend(frame(0x9, None, b""));
        bytes.extend(frame(0x2, None, &[0; 300]));
        bytes.extend(frame(0x2, None, &[0; 70_000]));
        bytes.extend(frame(0x8, None, &[0x03, 0xE7, b'b', b'y', b'e']));
        bytes.extend(frame(0x8, None, &[0x03, 0xE8]));
        for piece in [1, 2, 3, 7, 64, 4096, bytes.len()] {
            assert_eq!(seen(&bytes, piece), Some(999), "pieces of {piece}");
        }
    }

    /// What the walker should find in `frames` with `limit`.
    #[derive(Debug, PartialEq)]
    enum Finding {
        /// The first frame over the limit, its header at this offset.
        Oversized(usize, FrameTooLarge),
        /// The first Close frame, with its code if it has one.
        Close(Option<u16>),
        Nothing,
    }

    proptest::proptest! {
        /// However the bytes are cut into reads, the walker finds what the
        /// frames hold: the first frame over the limit (where its header
        /// starts), or else the first Close frame's code.
        #[test]
        fn finds_the_same_in_reads_of_any_size(
            frames in proptest::collection::vec(
                (
                    proptest::sample::select(vec![0x0u8, 0x1, 0x2, 0x8, 0x9, 0xA]),
                    proptest::prop_oneof![0usize..=125, 126usize..=300, 65_530usize..=65_540],
                    proptest::option::of(proptest::array::uniform4(0u8..)),
                ),
                1..12,
            ),
            limit in proptest::prop_oneof![proptest::strategy::Just(u64::MAX), 0u64..70_000],
            pieces in proptest::collection::vec(1usize..20_000, 1..40),
        ) {
            let mut bytes = Vec::new();
            let mut expected = Finding::Nothing;
            for (opcode, len, mask) in frames {
                let start = bytes.len();
                let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
                bytes.extend(frame(opcode, mask, &payload));
                if expected != Finding::Nothing {
                    continue;
                }
                if len as u64 > limit {
                    expected = Finding::Oversized(start, FrameTooLarge { size: len as u64, limit });
                } else if opcode == 0x8 {
                    let code = (len >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
                    expected = Finding::Close(code);
                }
            }
            let sent = SentCloseCode::default();
            let mut walker = FrameWalker::new(sent.clone());
            walker.max_frame = limit;
            let (mut at, mut pieces) = (0, pieces.into_iter().cycle());
            let mut found = Finding::Nothing;
            while at < bytes.len() {
                let end = (at + pieces.next().unwrap_or(1)).min(bytes.len());
                if let Some((offset, frame)) = walker.observe(&bytes[at..end]) {
                    // A header that began in an earlier read is reported at
                    // this read's start: compare what the reads can tell.
                    let start = match expected {
                        Finding::Oversized(start, _) => start.max(at),
                        _ => usize::MAX,
                    };
                    proptest::prop_assert_eq!(at + offset, start);
                    found = Finding::Oversized(at + offset, frame);
                    break;
                }
                at = end;
            }
            if let Finding::Close(code) = expected {
                found = Finding::Close(sent.get());
                proptest::prop_assert_eq!(found, Finding::Close(code));
            } else if let Finding::Oversized(start, frame) = expected {
                proptest::prop_assert_eq!(found, Finding::Oversized(start.max(at), frame));
            } else {
                proptest::prop_assert_eq!((found, sent.get()), (Finding::Nothing, None));
            }
        }
    }

    #[test]
    fn unmasks_a_masked_close() {
        let bytes = frame(0x8, Some([9, 8, 7, 6]), &[0x13, 0x88]);
        assert_eq!(seen(&bytes, 1), Some(5000));
    }

    #[test]
    fn no_code_without_a_close_or_with_an_empty_one() {
        assert_eq!(seen(&frame(0x1, None, b"x"), 1), None);
        assert_eq!(seen(&frame(0x8, None, b""), 1), None);
        assert_eq!(seen(&frame(0x8, None, &[0x03]), 1), None);
        // A declared length beyond anything never finishes, harmlessly.
        let mut huge = vec![0x82, 127];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        huge.extend(frame(0x8, None, &[0x03, 0xE7]));
        assert_eq!(seen(&huge, 3), None);
    }
}
