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
//! It also notes when the socket reached its end, which tells a codec's
//! "bytes left over" error (a frame cut short) for the lost connection it
//! is.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};

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
}

impl FrameWalker {
    pub(crate) fn new(sent: SentCloseCode) -> Self {
        Self {
            walk: Walk::Header {
                header: [0; 14],
                have: 0,
            },
            sent,
        }
    }

    /// Takes in the next bytes read.
    pub(crate) fn observe(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match &mut self.walk {
                Walk::Done => return,
                Walk::Header { header, have } => {
                    let needed = header_len(&header[..*have]);
                    let take = (needed - *have).min(bytes.len());
                    header[*have..*have + take].copy_from_slice(&bytes[..take]);
                    *have += take;
                    bytes = &bytes[take..];
                    // The first two bytes tell the full header's length.
                    if *have == header_len(&header[..*have]) {
                        let payload = start_payload(&header[..*have]);
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
                            return;
                        }
                    }
                    *left -= take as u64;
                    bytes = &bytes[take..];
                    self.finish_empty_frame();
                }
            }
        }
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

/// The payload walk that follows a complete `header`.
fn start_payload(header: &[u8]) -> Walk {
    let masked = header[1] & 0x80 != 0;
    let (left, at) = match header[1] & 0x7F {
        126 => (u64::from(u16::from_be_bytes([header[2], header[3]])), 4),
        127 => {
            let mut length = [0; 8];
            length.copy_from_slice(&header[2..10]);
            (u64::from_be_bytes(length), 10)
        }
        length => (u64::from(length), 2),
    };
    let mut mask = [0; 4];
    if masked {
        mask.copy_from_slice(&header[at..at + 4]);
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

/// `S`, its bytes read followed by a [`FrameWalker`].
#[derive(Debug)]
pub struct CloseWatch<S> {
    inner: S,
    walker: FrameWalker,
}

impl<S> CloseWatch<S> {
    /// Watches `inner`, whose first bytes are `read_ahead` (already read).
    pub fn new(inner: S, read_ahead: &[u8], sent: SentCloseCode) -> Self {
        let mut walker = FrameWalker::new(sent);
        walker.observe(read_ahead);
        Self { inner, walker }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for CloseWatch<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let room = buf.remaining() > 0;
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            let Self { walker, .. } = &mut *self;
            let read = &buf.filled()[before..];
            if read.is_empty() && room {
                walker.sent.set_ended();
            }
            walker.observe(read);
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

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
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
