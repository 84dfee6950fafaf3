//! The client side of an in-memory connection: our sink and stream over two
//! bounded tokio channels.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use futures_util::{Sink, Stream};
use hypersockets_core::{ConnectRequest, Connection, HyperSocketError, Result, WsMessage};
use tokio::sync::mpsc::error::{SendError, TrySendError};
use tokio::sync::mpsc::{self, OwnedPermit};

use super::{MemoryPeer, reset};

/// A connection's client halves and its server side, linked by a channel in
/// each direction.
pub(super) fn link(
    request: ConnectRequest,
    client_to_server: usize,
    server_to_client: usize,
) -> (Connection, MemoryPeer) {
    let (to_server, from_client) = mpsc::channel(client_to_server);
    let (to_client, from_server) = mpsc::channel(server_to_client);
    let close_sent = Arc::new(AtomicBool::new(false));
    let sink = MemorySink {
        tx: Some(to_server.clone()),
        permit: None,
        reserving: None,
        close_sent: Arc::clone(&close_sent),
    };
    let stream = MemoryStream {
        rx: Some(from_server),
        reply: Some(to_server),
        close_sent,
    };
    (
        Connection::new(Box::pin(sink), Box::pin(stream)),
        MemoryPeer::new(request, to_client, from_client),
    )
}

/// A wait for room in the client-to-server channel.
type Reserve = Pin<Box<dyn Future<Output = Result<OwnedPermit<WsMessage>, SendError<()>>> + Send>>;

/// Sending half: each message takes a slot of the bounded channel, so sends
/// wait while the peer is not reading and the channel is full.
struct MemorySink {
    /// `None` once the sink is closed.
    tx: Option<mpsc::Sender<WsMessage>>,
    /// A slot reserved by `poll_ready`, used by `start_send`.
    permit: Option<OwnedPermit<WsMessage>>,
    /// A reservation in progress while the channel is full.
    reserving: Option<Reserve>,
    /// Whether this side sent a Close frame (shared with the stream, which
    /// echoes the peer's Close).
    close_sent: Arc<AtomicBool>,
}

impl MemorySink {
    /// Reserves a slot for the next message.
    fn poll_permit(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.permit.is_some() {
            return Poll::Ready(Ok(()));
        }
        let Some(tx) = &self.tx else {
            return Poll::Ready(Err(HyperSocketError::ConnectionClosed));
        };
        let reserving = match &mut self.reserving {
            Some(reserving) => reserving,
            None => match tx.clone().try_reserve_owned() {
                Ok(permit) => {
                    self.permit = Some(permit);
                    return Poll::Ready(Ok(()));
                }
                Err(TrySendError::Full(tx)) => self.reserving.insert(Box::pin(tx.reserve_owned())),
                Err(TrySendError::Closed(_)) => return Poll::Ready(Err(reset())),
            },
        };
        let reserved = ready!(reserving.as_mut().poll(cx));
        self.reserving = None;
        match reserved {
            Ok(permit) => {
                self.permit = Some(permit);
                Poll::Ready(Ok(()))
            }
            // The peer dropped the connection.
            Err(_) => Poll::Ready(Err(reset())),
        }
    }
}

impl Sink<WsMessage> for MemorySink {
    type Error = HyperSocketError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        if this.close_sent.load(Ordering::SeqCst) {
            return Poll::Ready(Err(HyperSocketError::ConnectionClosed));
        }
        this.poll_permit(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: WsMessage) -> Result<()> {
        let this = self.get_mut();
        // Nothing goes out after a Close, ours or the echo of the peer's.
        let closed = if item.is_close() {
            this.close_sent.swap(true, Ordering::SeqCst)
        } else {
            this.close_sent.load(Ordering::SeqCst)
        };
        if closed {
            this.permit = None;
            return Err(HyperSocketError::ConnectionClosed);
        }
        match this.permit.take() {
            Some(permit) => {
                permit.send(item);
                Ok(())
            }
            // `start_send` without a successful `poll_ready` first.
            None => match &this.tx {
                None => Err(HyperSocketError::ConnectionClosed),
                Some(tx) => tx.try_send(item).map_err(|error| match error {
                    TrySendError::Full(_) => HyperSocketError::from(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        "start_send without poll_ready on a full memory connection",
                    )),
                    TrySendError::Closed(_) => reset(),
                }),
            },
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        // A sent message is in the channel already: nothing is buffered here.
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        if this.tx.is_some() && !this.close_sent.load(Ordering::SeqCst) {
            if let Err(error) = ready!(this.poll_permit(cx)) {
                this.tx = None;
                return Poll::Ready(Err(error));
            }
            if !this.close_sent.swap(true, Ordering::SeqCst)
                && let Some(permit) = this.permit.take()
            {
                permit.send(WsMessage::Close(None));
            }
        }
        this.tx = None;
        this.permit = None;
        this.reserving = None;
        Poll::Ready(Ok(()))
    }
}

/// Receiving half: yields what the peer sent, answering Pings and echoing a
/// Close like tungstenite does; a Close ends it, and so does the peer
/// vanishing (after an I/O error).
struct MemoryStream {
    /// `None` once the stream has ended.
    rx: Option<mpsc::Receiver<WsMessage>>,
    /// For the automatic Pong and Close answers; `None` once ended.
    reply: Option<mpsc::Sender<WsMessage>>,
    close_sent: Arc<AtomicBool>,
}

impl MemoryStream {
    /// Sends an automatic answer if there is room; drops it otherwise.
    fn answer(&self, message: WsMessage) {
        if let Some(reply) = &self.reply
            && let Err(error) = reply.try_send(message)
        {
            tracing::debug!(%error, "memory transport: automatic answer dropped");
        }
    }

    /// Ends the stream, releasing both channels.
    fn finish(&mut self) {
        self.rx = None;
        self.reply = None;
    }
}

impl Stream for MemoryStream {
    type Item = Result<WsMessage>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(rx) = &mut this.rx else {
            return Poll::Ready(None);
        };
        let message = match ready!(rx.poll_recv(cx)) {
            Some(message) => message,
            None => {
                // The peer vanished without a Close frame.
                this.finish();
                return Poll::Ready(Some(Err(reset())));
            }
        };
        match &message {
            // No Pong once a Close went out.
            WsMessage::Ping(payload) if !this.close_sent.load(Ordering::SeqCst) => {
                this.answer(WsMessage::Pong(payload.clone()));
            }
            WsMessage::Close(frame) => {
                if !this.close_sent.swap(true, Ordering::SeqCst) {
                    this.answer(WsMessage::Close(frame.clone()));
                }
                this.finish();
            }
            _ => {}
        }
        Poll::Ready(Some(Ok(message)))
    }
}
