//! The frames of an upgraded socket, read and written with soketto's frame
//! codec, as our stream and sink.
//!
//! soketto's own connection layer is not used: it answers Pings without
//! handing them on, can only close with 1000, and on a message over its
//! limit reads the rest of the message before failing (see the crate
//! docs). Here the codec parses and checks frame headers (opcodes,
//! reserved bits, control frame rules, the frame limit) and encodes ours;
//! messages, control frames and compression are ours.
//!
//! The two halves share the socket's writing side: the receiving half
//! writes the Pongs and the Close answer itself, at once, as tungstenite
//! does, so that nothing waits on the user's next send. Both halves may
//! then wait on the socket's write readiness, which wakes only one waiter:
//! writes go through a waker that wakes both.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker, ready};

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Sink, Stream};
use hypersockets_core::{
    CloseCode, CloseFrame, Connection, HyperSocketError, Result, TransportLimits, Utf8Bytes,
    WsMessage,
};
use hypersockets_transport::read_buffer::ReadBuffer;
use hypersockets_transport::upgrade::{Upgraded, io_error};
use soketto::Parsing;
use soketto::base::{Codec, Header, OpCode};
use tokio::io::{AsyncWrite, ReadHalf, WriteHalf};

use crate::deflate::{Deflater, Inflater};
use crate::error::{FrameError, codec_error};
use crate::negotiate::Negotiated;

/// The largest payload of a control frame (RFC 6455 §5.5).
const MAX_CONTROL: usize = 125;

/// Our two halves over an upgraded socket; `negotiated`: permessage-deflate
/// is on, with these parameters.
pub(crate) fn connection(
    upgraded: Upgraded,
    limits: TransportLimits,
    negotiated: Option<Negotiated>,
) -> Connection {
    let (read, write) = tokio::io::split(upgraded);
    let mut codec = Codec::new();
    codec.set_max_data_size(limits.max_frame_size);
    if negotiated.is_some() {
        // RSV1 marks a compressed message (RFC 7692 §6).
        codec.add_reserved_bits((true, false, false));
    }
    let wakers = Arc::new(Wakers::default());
    let writer = Arc::new(Mutex::new(WriteSide {
        io: write,
        codec: codec.clone(),
        out: Vec::new(),
        written: 0,
        close_sent: false,
        kept: limits.write_buffer_size,
        waker: Waker::from(Arc::clone(&wakers)),
        wakers,
    }));
    let receive = ReceiveHalf {
        io: read,
        read: ReadBuffer::new(&limits),
        codec,
        header: None,
        partial: None,
        inflater: negotiated.as_ref().map(Inflater::new),
        max_message_size: limits.max_message_size,
        max_write_buffer_size: limits.max_write_buffer_size,
        writer: Arc::clone(&writer),
        answers_pending: false,
        state: ReadState::Open,
    };
    let send = SendHalf {
        writer,
        deflater: negotiated.as_ref().map(Deflater::new),
        write_buffer_size: limits.write_buffer_size,
        max_write_buffer_size: limits.max_write_buffer_size,
    };
    Connection::new(Box::pin(send), Box::pin(receive))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing here panics while holding a lock; if it did, the state is
    // still whole (each change is one step).
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Which half waits on the socket's write readiness.
#[derive(Clone, Copy, Debug)]
enum Side {
    Receive,
    Send,
}

/// Both halves' wakers, woken together (see the module docs).
#[derive(Debug, Default)]
struct Wakers {
    receive: Mutex<Option<Waker>>,
    send: Mutex<Option<Waker>>,
}

impl Wakers {
    fn register(&self, side: Side, waker: &Waker) {
        let slot = match side {
            Side::Receive => &self.receive,
            Side::Send => &self.send,
        };
        let mut slot = lock(slot);
        if !slot.as_ref().is_some_and(|kept| kept.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }
}

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        for slot in [&self.receive, &self.send] {
            if let Some(waker) = lock(slot).take() {
                waker.wake();
            }
        }
    }
}

/// The socket's writing side and the frames waiting for it.
struct WriteSide {
    io: WriteHalf<Upgraded>,
    codec: Codec,
    /// Encoded frames; `out[written..]` is still to be written.
    out: Vec<u8>,
    written: usize,
    /// Our Close frame is queued: nothing may follow it (RFC 6455 §5.5.1).
    close_sent: bool,
    /// The buffer's capacity kept once written out.
    kept: usize,
    /// Wakes both halves (see the module docs).
    waker: Waker,
    wakers: Arc<Wakers>,
}

impl WriteSide {
    fn pending(&self) -> usize {
        self.out.len() - self.written
    }

    /// Queues one frame, masked with a fresh key (RFC 6455 §5.3).
    fn push(&mut self, opcode: OpCode, rsv1: bool, payload: &[u8]) {
        let mut header = Header::new(opcode);
        header
            .set_rsv1(rsv1)
            .set_masked(true)
            .set_mask(rand::random())
            .set_payload_len(payload.len());
        self.out
            .extend_from_slice(self.codec.encode_header(&header));
        let start = self.out.len();
        self.out.extend_from_slice(payload);
        Codec::apply_mask(&header, &mut self.out[start..]);
    }

    /// Writes out what is queued.
    fn poll_drain(&mut self, side: Side, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.wakers.register(side, cx.waker());
        let mut both = Context::from_waker(&self.waker);
        while self.written < self.out.len() {
            let rest = &self.out[self.written..];
            match ready!(Pin::new(&mut self.io).poll_write(&mut both, rest)) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.written += n,
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
        self.out.clear();
        self.written = 0;
        // A rare large message does not keep its room.
        if self.out.capacity() > self.kept {
            self.out = Vec::new();
        }
        Poll::Ready(Ok(()))
    }

    /// Writes out what is queued and flushes the socket.
    fn poll_flush(&mut self, side: Side, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(side, cx))?;
        let mut both = Context::from_waker(&self.waker);
        Pin::new(&mut self.io).poll_flush(&mut both)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadState {
    Open,
    /// The server's Close was handed on. Polling on writes our answer and
    /// reads until the server shuts the socket; whatever happens then ends
    /// the stream without an error (many servers shut a TLS socket without
    /// `close_notify`).
    Closing,
    Done,
}

/// A message whose first frames have come.
#[derive(Debug)]
struct Partial {
    text: bool,
    compressed: bool,
    data: BytesMut,
}

/// Receiving half: yields every message and control frame; the server's
/// Close frame is yielded, then the stream ends.
struct ReceiveHalf {
    io: ReadHalf<Upgraded>,
    /// Read, not yet parsed; sized to the traffic (see `ReadBuffer`).
    read: ReadBuffer,
    codec: Codec,
    /// A frame's header, parsed, while its payload is read.
    header: Option<Header>,
    partial: Option<Partial>,
    /// `Some` when permessage-deflate is on.
    inflater: Option<Inflater>,
    max_message_size: usize,
    max_write_buffer_size: usize,
    writer: Arc<Mutex<WriteSide>>,
    /// A Pong or our Close answer is queued, not yet written.
    answers_pending: bool,
    state: ReadState,
}

impl Stream for ReceiveHalf {
    type Item = Result<WsMessage>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.state == ReadState::Done {
                return Poll::Ready(None);
            }
            if let Err(error) = this.flush_answers(cx) {
                return Poll::Ready(this.fail(error));
            }
            match this.next_frame() {
                Err(error) => return Poll::Ready(this.fail(error)),
                // Frames after a Close are ignored, as the protocol says.
                Ok(Some(_)) if this.state == ReadState::Closing => continue,
                Ok(Some((header, payload))) => match this.on_frame(&header, payload) {
                    Ok(Some(message)) => {
                        // Pongs and Close answers leave at once; a failure
                        // shows on the next poll.
                        let _ = this.flush_answers(cx);
                        return Poll::Ready(Some(Ok(message)));
                    }
                    Ok(None) => continue,
                    Err(error) => return Poll::Ready(this.fail(error)),
                },
                Ok(None) => {}
            }
            match ready!(this.read.poll_fill(&mut this.io, cx)) {
                Ok(0) => {
                    // The server went without a Close frame.
                    return Poll::Ready(this.fail(HyperSocketError::ConnectionClosed));
                }
                Ok(_) => {}
                Err(error) => return Poll::Ready(this.fail(io_error(error))),
            }
        }
    }
}

impl ReceiveHalf {
    /// Ends the stream: with `error` while open, quietly once closing.
    fn fail(&mut self, error: HyperSocketError) -> Option<Result<WsMessage>> {
        let open = self.state == ReadState::Open;
        self.state = ReadState::Done;
        open.then_some(Err(error))
    }

    /// Writes out the queued answers, if any; waiting is not an error (the
    /// socket wakes this half when it takes more).
    fn flush_answers(&mut self, cx: &mut Context<'_>) -> Result<()> {
        if !self.answers_pending {
            return Ok(());
        }
        match lock(&self.writer).poll_flush(Side::Receive, cx) {
            Poll::Ready(Ok(())) => {
                self.answers_pending = false;
                Ok(())
            }
            Poll::Ready(Err(error)) => Err(io_error(error)),
            Poll::Pending => Ok(()),
        }
    }

    /// Queues a control frame answering the server's.
    fn answer(&mut self, opcode: OpCode, payload: &[u8]) {
        let mut writer = lock(&self.writer);
        // Nothing after our Close; and a server that pings while not
        // reading gets no more Pongs than the write buffer holds (an
        // answer to the latest Ping is enough, RFC 6455 §5.5.3).
        if writer.close_sent
            || (opcode == OpCode::Pong && writer.pending() > self.max_write_buffer_size)
        {
            return;
        }
        writer.close_sent = opcode == OpCode::Close;
        writer.push(opcode, false, payload);
        self.answers_pending = true;
    }

    /// The next whole frame in the buffer, if there is one.
    fn next_frame(&mut self) -> Result<Option<(Header, BytesMut)>> {
        let header = match &self.header {
            Some(header) => header,
            None => match self
                .codec
                .decode_header(self.read.bytes())
                .map_err(codec_error)?
            {
                Parsing::Done { value, offset } => {
                    self.read.bytes().advance(offset);
                    self.check(&value)?;
                    self.header.insert(value)
                }
                Parsing::NeedMore(_) => return Ok(None),
            },
        };
        let len = header.payload_len();
        let buffered = self.read.bytes().len();
        if buffered < len {
            // Room for the whole payload (within the limits just checked).
            self.read.reserve(len - buffered);
            return Ok(None);
        }
        let payload = self.read.bytes().split_to(len);
        Ok(self.header.take().map(|header| (header, payload)))
    }

    /// What soketto's codec leaves to us, checked before the payload is
    /// read: so a message over the limit is refused at once.
    fn check(&self, header: &Header) -> Result<()> {
        if header.is_masked() {
            return Err(FrameError::MaskedFrame.into());
        }
        let opcode = header.opcode();
        if header.is_rsv1() && (opcode.is_control() || opcode == OpCode::Continue) {
            // RFC 7692 §6.1: only a message's first frame says it is
            // compressed.
            return Err(FrameError::MisplacedRsv1.into());
        }
        let so_far = match (opcode, &self.partial) {
            (OpCode::Continue, Some(partial)) => partial.data.len(),
            (OpCode::Continue, None) => return Err(FrameError::UnexpectedContinuation.into()),
            (OpCode::Text | OpCode::Binary, Some(_)) => {
                return Err(FrameError::InterleavedMessage.into());
            }
            _ => 0,
        };
        let size = so_far.saturating_add(header.payload_len());
        if !opcode.is_control() && size > self.max_message_size {
            return Err(HyperSocketError::MessageTooLarge {
                size,
                limit: self.max_message_size,
            });
        }
        Ok(())
    }

    /// One frame in; a message out when one is whole.
    fn on_frame(&mut self, header: &Header, payload: BytesMut) -> Result<Option<WsMessage>> {
        match header.opcode() {
            OpCode::Ping => {
                let payload = payload.freeze();
                self.answer(OpCode::Pong, &payload);
                Ok(Some(WsMessage::Ping(payload)))
            }
            OpCode::Pong => Ok(Some(WsMessage::Pong(payload.freeze()))),
            OpCode::Close => self.on_close(payload).map(Some),
            opcode @ (OpCode::Text | OpCode::Binary) => {
                let text = opcode == OpCode::Text;
                if header.is_fin() {
                    return self
                        .message(text, header.is_rsv1(), payload.freeze())
                        .map(Some);
                }
                self.partial = Some(Partial {
                    text,
                    compressed: header.is_rsv1(),
                    data: payload,
                });
                Ok(None)
            }
            OpCode::Continue => {
                let Some(partial) = self.partial.as_mut() else {
                    return Err(FrameError::UnexpectedContinuation.into());
                };
                partial.data.extend_from_slice(&payload);
                if !header.is_fin() {
                    return Ok(None);
                }
                let Some(Partial {
                    text,
                    compressed,
                    data,
                }) = self.partial.take()
                else {
                    return Err(FrameError::UnexpectedContinuation.into());
                };
                self.message(text, compressed, data.freeze()).map(Some)
            }
            // The codec refuses reserved opcodes.
            _ => Err(codec_error(soketto::base::Error::ReservedOpCode)),
        }
    }

    /// A whole message: inflated when compressed, text checked for UTF-8.
    fn message(&mut self, text: bool, compressed: bool, data: Bytes) -> Result<WsMessage> {
        let data = match (&mut self.inflater, compressed) {
            (Some(inflater), true) => Bytes::from(inflater.inflate(&data, self.max_message_size)?),
            // The codec refuses RSV1 unless the extension is on.
            (None, true) => return Err(FrameError::MisplacedRsv1.into()),
            (_, false) => data,
        };
        if !text {
            return Ok(WsMessage::Binary(data));
        }
        Utf8Bytes::try_from(data)
            .map(WsMessage::Text)
            .map_err(|error| HyperSocketError::InvalidUtf8(Arc::new(error)))
    }

    /// The server's Close: answered (its code echoed, or 1002 for a code no
    /// endpoint may send), then handed on.
    fn on_close(&mut self, payload: BytesMut) -> Result<WsMessage> {
        // Errors leave the state open, so that `fail` reports them; the
        // answer (1002, 1007) is queued all the same.
        if payload.is_empty() {
            self.answer(OpCode::Close, &[]);
            self.state = ReadState::Closing;
            return Ok(WsMessage::Close(None));
        }
        if payload.len() < 2 {
            self.answer(OpCode::Close, &CloseCode::PROTOCOL.as_u16().to_be_bytes());
            return Err(FrameError::ShortClose.into());
        }
        let code = u16::from_be_bytes([payload[0], payload[1]]);
        if !sendable(code) {
            self.answer(OpCode::Close, &CloseCode::PROTOCOL.as_u16().to_be_bytes());
            return Err(HyperSocketError::InvalidCloseCode { code });
        }
        let payload = payload.freeze();
        let reason = match Utf8Bytes::try_from(payload.slice(2..)) {
            Ok(reason) => reason,
            Err(error) => {
                self.answer(OpCode::Close, &CloseCode::INVALID.as_u16().to_be_bytes());
                return Err(HyperSocketError::InvalidUtf8(Arc::new(error)));
            }
        };
        self.answer(OpCode::Close, &payload[..2]);
        self.state = ReadState::Closing;
        Ok(WsMessage::Close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason,
        })))
    }
}

/// Whether an endpoint may send `code` in a Close frame (RFC 6455 §7.4;
/// 1012 to 1014 registered since).
fn sendable(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Sending half: takes our messages, compressing data messages when
/// permessage-deflate is on.
struct SendHalf {
    writer: Arc<Mutex<WriteSide>>,
    deflater: Option<Deflater>,
    write_buffer_size: usize,
    max_write_buffer_size: usize,
}

impl Sink<WsMessage> for SendHalf {
    type Error = HyperSocketError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut writer = lock(&self.writer);
        if writer.pending() >= self.write_buffer_size {
            ready!(writer.poll_drain(Side::Send, cx)).map_err(io_error)?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, message: WsMessage) -> Result<()> {
        let this = self.get_mut();
        let close;
        let (opcode, payload): (OpCode, &[u8]) = match &message {
            WsMessage::Text(text) => (OpCode::Text, text.as_bytes()),
            WsMessage::Binary(data) => (OpCode::Binary, data),
            WsMessage::Ping(data) => (OpCode::Ping, data),
            WsMessage::Pong(data) => (OpCode::Pong, data),
            WsMessage::Close(frame) => {
                close = frame.as_ref().map(|frame| {
                    let mut payload = frame.code.as_u16().to_be_bytes().to_vec();
                    payload.extend_from_slice(frame.reason.as_bytes());
                    payload
                });
                (OpCode::Close, close.as_deref().unwrap_or_default())
            }
        };
        if opcode.is_control() && payload.len() > MAX_CONTROL {
            return Err(FrameError::ControlTooLarge.into());
        }
        // Compressed before the lock is taken: the receiving half may need
        // it to answer a Ping meanwhile.
        let compressed = match (&mut this.deflater, opcode.is_control()) {
            (Some(deflater), false) => deflater.deflate(payload),
            _ => None,
        };
        let mut writer = lock(&this.writer);
        if writer.close_sent {
            // A second Close changes nothing (ours, or our answer to the
            // server's, is out); anything else may not follow one.
            return match opcode {
                OpCode::Close => Ok(()),
                _ => Err(FrameError::SendAfterClose.into()),
            };
        }
        let (rsv1, payload) = match compressed {
            Some(compressed) => (true, compressed),
            None => (false, payload),
        };
        // The largest header is 14 bytes.
        if writer.pending() + payload.len() + 14 > this.max_write_buffer_size {
            return Err(FrameError::WriteBufferFull.into());
        }
        writer.close_sent = opcode == OpCode::Close;
        writer.push(opcode, rsv1, payload);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        lock(&self.writer)
            .poll_flush(Side::Send, cx)
            .map_err(io_error)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut writer = lock(&self.writer);
        if !writer.close_sent {
            writer.close_sent = true;
            writer.push(OpCode::Close, false, &[]);
        }
        match ready!(writer.poll_flush(Side::Send, cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            // The server is gone: there is nothing left to close.
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::BrokenPipe
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::NotConnected
                        | io::ErrorKind::UnexpectedEof
                ) =>
            {
                Poll::Ready(Ok(()))
            }
            Err(error) => Poll::Ready(Err(io_error(error))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_an_endpoint_may_send() {
        for code in [1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999] {
            assert!(sendable(code), "{code}");
        }
        for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, u16::MAX] {
            assert!(!sendable(code), "{code}");
        }
    }
}
