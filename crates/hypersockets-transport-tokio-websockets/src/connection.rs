//! The two halves of a tokio-websockets connection, as our sink and stream.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{Sink, Stream};
use hypersockets_core::{HyperSocketError, WsMessage};
use hypersockets_transport::upgrade::{CloseWatch, SentCloseCode, Upgraded};
use tokio_websockets::{Message, WebSocketStream};

use crate::convert::{from_codec, to_codec};
use crate::error::map_error;

type Socket = WebSocketStream<CloseWatch<Upgraded>>;

/// Receiving half: yields our messages; the peer's Close frame is yielded,
/// then the stream ends.
pub(crate) struct ReceiveHalf {
    inner: SplitStream<Socket>,
    state: ReadState,
    /// The code of the server's Close frame as it sent it.
    sent_close: SentCloseCode,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ReadState {
    Open,
    /// A Close frame was yielded. Polling on still drives the codec, which
    /// flushes its answering Close; whatever happens then ends the stream
    /// without an error (a server may shut the socket at once).
    Closing,
    Done,
}

impl ReceiveHalf {
    pub(crate) fn new(inner: SplitStream<Socket>, sent_close: SentCloseCode) -> Self {
        Self {
            inner,
            state: ReadState::Open,
            sent_close,
        }
    }
}

impl Stream for ReceiveHalf {
    type Item = Result<WsMessage, HyperSocketError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match self.state {
                ReadState::Done => return Poll::Ready(None),
                ReadState::Closing => match ready!(Pin::new(&mut self.inner).poll_next(cx)) {
                    Some(Ok(_)) => {}
                    None | Some(Err(_)) => self.state = ReadState::Done,
                },
                ReadState::Open => match ready!(Pin::new(&mut self.inner).poll_next(cx)) {
                    // The peer shut the socket without a Close frame: a
                    // lost connection, not the end of the conversation.
                    None => {
                        self.state = ReadState::Done;
                        return Poll::Ready(Some(Err(HyperSocketError::ConnectionClosed)));
                    }
                    Some(Err(error)) => {
                        // The codec ends the connection after any error.
                        self.state = ReadState::Done;
                        return Poll::Ready(Some(Err(map_error(error, &self.sent_close))));
                    }
                    Some(Ok(message)) => {
                        let message = from_codec(message);
                        self.state = match &message {
                            Ok(WsMessage::Close(_)) => {
                                // The codec has queued its answering Close:
                                // sent now, while the caller may stop
                                // reading once it has the peer's.
                                match Pin::new(&mut self.inner).poll_next(cx) {
                                    Poll::Pending => ReadState::Closing,
                                    Poll::Ready(_) => ReadState::Done,
                                }
                            }
                            Ok(_) => ReadState::Open,
                            Err(_) => ReadState::Done,
                        };
                        return Poll::Ready(Some(message));
                    }
                },
            }
        }
    }
}

/// Sending half: takes our messages.
pub(crate) struct SendHalf {
    inner: SplitSink<Socket, Message>,
    /// A Close frame went out (ours, or the codec's own).
    closed: bool,
    /// A Close frame waits in the split sink's slot: it reaches the codec
    /// on the next flush.
    close_pending: bool,
}

impl SendHalf {
    pub(crate) fn new(inner: SplitSink<Socket, Message>) -> Self {
        Self {
            inner,
            closed: false,
            close_pending: false,
        }
    }
}

fn map_send_error(error: tokio_websockets::Error) -> HyperSocketError {
    map_error(error, &SentCloseCode::default())
}

impl Sink<WsMessage> for SendHalf {
    type Error = HyperSocketError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.close_pending {
            // The slot is emptied by a flush, which knows about Closes.
            ready!(self.as_mut().poll_flush(cx))?;
        }
        Pin::new(&mut self.inner)
            .poll_ready(cx)
            .map_err(map_send_error)
    }

    fn start_send(mut self: Pin<&mut Self>, item: WsMessage) -> Result<(), Self::Error> {
        let close = item.is_close();
        Pin::new(&mut self.inner)
            .start_send(to_codec(item)?)
            .map_err(map_send_error)?;
        self.close_pending = close;
        self.closed |= close;
        Ok(())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        loop {
            let flushed = ready!(Pin::new(&mut self.inner).poll_flush(cx));
            let close_pending = std::mem::replace(&mut self.close_pending, false);
            match flushed {
                // After a protocol error or the peer's Close, the codec
                // refuses our Close: it has queued one of its own (1002,
                // 1007, 1009, or the answer to the peer's), which the next
                // flush sends.
                Err(tokio_websockets::Error::AlreadyClosed) if close_pending => {}
                flushed => return Poll::Ready(flushed.map_err(map_send_error)),
            }
        }
    }

    /// Sends a Close frame (1000) unless one went out (ours, or the
    /// codec's own), and flushes. It does not wait for the peer's answer,
    /// and does not read: what arrives meanwhile is the receiving half's
    /// (the codec's own close would read and drop it).
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if !self.closed {
            ready!(self.as_mut().poll_ready(cx))?;
            self.as_mut().start_send(WsMessage::close(1000, ""))?;
        }
        match ready!(self.poll_flush(cx)) {
            // Closed already: nothing more to send.
            Ok(()) | Err(HyperSocketError::ConnectionClosed) => Poll::Ready(Ok(())),
            Err(error) => Poll::Ready(Err(error)),
        }
    }
}
