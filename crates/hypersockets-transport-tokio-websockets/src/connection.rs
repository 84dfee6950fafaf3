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
                    // The peer shut the socket between frames: the stream
                    // ends (the client tells a missing Close apart).
                    None => self.state = ReadState::Done,
                    Some(Err(error)) => {
                        // The codec ends the connection after any error.
                        self.state = ReadState::Done;
                        return Poll::Ready(Some(Err(map_error(error, &self.sent_close))));
                    }
                    Some(Ok(message)) => {
                        let message = from_codec(message);
                        self.state = match &message {
                            Ok(WsMessage::Close(_)) => ReadState::Closing,
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
    /// A Close frame went out (ours, or the codec's answer to the peer's).
    closed: bool,
}

impl SendHalf {
    pub(crate) fn new(inner: SplitSink<Socket, Message>) -> Self {
        Self {
            inner,
            closed: false,
        }
    }
}

impl Sink<WsMessage> for SendHalf {
    type Error = HyperSocketError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner)
            .poll_ready(cx)
            .map_err(|e| map_error(e, &SentCloseCode::default()))
    }

    fn start_send(mut self: Pin<&mut Self>, item: WsMessage) -> Result<(), Self::Error> {
        let close = item.is_close();
        Pin::new(&mut self.inner)
            .start_send(to_codec(item)?)
            .map_err(|e| map_error(e, &SentCloseCode::default()))?;
        self.closed |= close;
        Ok(())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner)
            .poll_flush(cx)
            .map_err(|e| map_error(e, &SentCloseCode::default()))
    }

    /// Sends a Close frame (1000) unless one went out, and flushes. It does
    /// not wait for the peer's answer, and does not read: what arrives
    /// meanwhile is the receiving half's (the codec's own close would read
    /// and drop it).
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if !self.closed {
            match ready!(Pin::new(&mut self.inner).poll_ready(cx)) {
                Ok(()) => {}
                Err(tokio_websockets::Error::AlreadyClosed) => return Poll::Ready(Ok(())),
                Err(e) => return Poll::Ready(Err(map_error(e, &SentCloseCode::default()))),
            }
            match Pin::new(&mut self.inner).start_send(Message::close(
                Some(tokio_websockets::CloseCode::NORMAL_CLOSURE),
                "",
            )) {
                Ok(()) => self.closed = true,
                // The peer's Close was answered already: the close is done.
                Err(tokio_websockets::Error::AlreadyClosed) => return Poll::Ready(Ok(())),
                Err(e) => return Poll::Ready(Err(map_error(e, &SentCloseCode::default()))),
            }
        }
        match ready!(Pin::new(&mut self.inner).poll_flush(cx)) {
            Ok(()) | Err(tokio_websockets::Error::AlreadyClosed) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(map_error(e, &SentCloseCode::default()))),
        }
    }
}
