//! The two halves of a tokio-tungstenite connection, as our sink and stream.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{Sink, Stream};
use hypersockets_core::{CloseCode, HyperSocketError, WsMessage};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tungstenite::{Error, Message};

use crate::close_watch::SentCloseCode;
use crate::convert::{from_tungstenite, to_tungstenite};
use crate::error::map_error;

/// Receiving half: yields our messages; the peer's Close frame is yielded,
/// then the stream ends.
pub(crate) struct ReceiveHalf<S> {
    inner: SplitStream<WebSocketStream<S>>,
    state: ReadState,
    /// The code of the server's Close frame as it sent it, when followed.
    sent_close: SentCloseCode,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ReadState {
    Open,
    /// A Close frame was yielded. Polling on still drives tungstenite, which
    /// flushes its answering Close and waits for the peer to shut the
    /// socket; whatever happens then ends the stream without an error (over
    /// TLS many servers shut the socket without a `close_notify`, which
    /// would otherwise surface as an unexpected-EOF error).
    Closing,
    Done,
}

impl<S> ReceiveHalf<S> {
    pub(crate) fn new(inner: SplitStream<WebSocketStream<S>>, sent_close: SentCloseCode) -> Self {
        Self {
            inner,
            state: ReadState::Open,
            sent_close,
        }
    }

    /// tungstenite puts 1002 in place of a close code no endpoint may send
    /// (and answers 1002): the server's own code, as an error that says so.
    fn invalid_close_code(&self, message: &WsMessage) -> Option<HyperSocketError> {
        let WsMessage::Close(Some(frame)) = message else {
            return None;
        };
        let sent = self.sent_close.get()?;
        (frame.code != CloseCode::from(sent))
            .then_some(HyperSocketError::InvalidCloseCode { code: sent })
    }
}

impl<S> Stream for ReceiveHalf<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Item = Result<WsMessage, HyperSocketError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match self.state {
                ReadState::Done => return Poll::Ready(None),
                ReadState::Closing => match ready!(Pin::new(&mut self.inner).poll_next(cx)) {
                    // Frames after a Close are ignored, as the protocol says.
                    Some(Ok(_)) => {}
                    None | Some(Err(_)) => self.state = ReadState::Done,
                },
                ReadState::Open => match ready!(Pin::new(&mut self.inner).poll_next(cx)) {
                    None | Some(Err(Error::ConnectionClosed | Error::AlreadyClosed)) => {
                        self.state = ReadState::Done;
                    }
                    Some(Err(err)) => {
                        // tungstenite ends the connection after any error.
                        self.state = ReadState::Done;
                        return Poll::Ready(Some(Err(map_error(err))));
                    }
                    Some(Ok(message)) => match from_tungstenite(message) {
                        Ok(Some(message)) => {
                            if message.is_close() {
                                self.state = ReadState::Closing;
                                if let Some(error) = self.invalid_close_code(&message) {
                                    return Poll::Ready(Some(Err(error)));
                                }
                            }
                            return Poll::Ready(Some(Ok(message)));
                        }
                        Ok(None) => {}
                        Err(err) => {
                            self.state = ReadState::Done;
                            return Poll::Ready(Some(Err(err)));
                        }
                    },
                },
            }
        }
    }
}

/// Sending half: takes our messages.
pub(crate) struct SendHalf<S> {
    inner: SplitSink<WebSocketStream<S>, Message>,
}

impl<S> SendHalf<S> {
    pub(crate) fn new(inner: SplitSink<WebSocketStream<S>, Message>) -> Self {
        Self { inner }
    }
}

impl<S> Sink<WsMessage> for SendHalf<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Error = HyperSocketError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner).poll_ready(cx).map_err(map_error)
    }

    fn start_send(mut self: Pin<&mut Self>, item: WsMessage) -> Result<(), Self::Error> {
        Pin::new(&mut self.inner)
            .start_send(to_tungstenite(item))
            .map_err(map_error)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner).poll_flush(cx).map_err(map_error)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match ready!(Pin::new(&mut self.inner).poll_close(cx)) {
            // Already closed by the peer: the close is done.
            Ok(()) | Err(Error::ConnectionClosed | Error::AlreadyClosed) => Poll::Ready(Ok(())),
            Err(err) => Poll::Ready(Err(map_error(err))),
        }
    }
}
