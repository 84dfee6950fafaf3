//! The server side of one in-memory connection, driven by the test.

use std::fmt;
use std::sync::Mutex;

use hypersockets_core::{CloseFrame, ConnectRequest, HyperSocketError, Result, WsMessage};
use tokio::sync::mpsc;

/// The server side of one [`MemoryTransport`](super::MemoryTransport)
/// connection, from [`MemoryServer::accept`](super::MemoryServer::accept).
///
/// Every method takes `&self`, so one peer can be shared (in an `Arc`) by a
/// task that reads and one that writes.
///
/// Dropping the peer ends the connection abruptly, like
/// [`drop_connection`](Self::drop_connection).
pub struct MemoryPeer {
    request: ConnectRequest,
    /// `None` after [`close`](Self::close).
    to_client: Mutex<Option<mpsc::Sender<WsMessage>>>,
    from_client: tokio::sync::Mutex<mpsc::Receiver<WsMessage>>,
}

impl MemoryPeer {
    pub(super) fn new(
        request: ConnectRequest,
        to_client: mpsc::Sender<WsMessage>,
        from_client: mpsc::Receiver<WsMessage>,
    ) -> Self {
        Self {
            request,
            to_client: Mutex::new(Some(to_client)),
            from_client: tokio::sync::Mutex::new(from_client),
        }
    }

    /// The request the client connected with: URL, headers, limits and
    /// timeouts.
    pub fn request(&self) -> &ConnectRequest {
        &self.request
    }

    /// The value of the first handshake header called `name` (compared
    /// without regard to ASCII case), if the client sent one.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Sends a message to the client, waiting while the server-to-client
    /// buffer is full (the client is not reading).
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::ConnectionClosed`] after [`close`](Self::close),
    /// or once the client's stream has ended or been dropped.
    pub async fn send(&self, message: WsMessage) -> Result<()> {
        let tx = self.sender().ok_or(HyperSocketError::ConnectionClosed)?;
        tx.send(message)
            .await
            .map_err(|_| HyperSocketError::ConnectionClosed)
    }

    /// The next message the client sent, waiting for it; automatic Pongs and
    /// the echo of a Close included. `None` once the client has dropped or
    /// closed both halves of its connection and everything sent was read.
    /// Cancel-safe: a timed-out `recv` loses no message.
    pub async fn recv(&self) -> Option<WsMessage> {
        self.from_client.lock().await.recv().await
    }

    /// The next message the client sent, if one is waiting (and no other
    /// task is in [`recv`](Self::recv)), without waiting.
    pub fn try_recv(&self) -> Option<WsMessage> {
        self.from_client.try_lock().ok()?.try_recv().ok()
    }

    /// Sends a Close frame, the server's side of a closing handshake: the
    /// client yields it, echoes it (see [`recv`](Self::recv)) and its stream
    /// ends. Nothing can be sent after it.
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::ConnectionClosed`] if already closed, or once the
    /// client's stream has ended or been dropped.
    pub async fn close(&self, frame: Option<CloseFrame>) -> Result<()> {
        let tx = self
            .to_client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or(HyperSocketError::ConnectionClosed)?;
        tx.send(WsMessage::Close(frame))
            .await
            .map_err(|_| HyperSocketError::ConnectionClosed)
    }

    /// Ends the connection abruptly, with no Close frame, as a reset socket
    /// or a crashed server would: the client's stream yields what was
    /// already sent to it, then an I/O error of kind
    /// [`ConnectionReset`](std::io::ErrorKind::ConnectionReset), then ends;
    /// the client's sends fail with the same error. Same as dropping the peer.
    pub fn drop_connection(self) {
        drop(self);
    }

    fn sender(&self) -> Option<mpsc::Sender<WsMessage>> {
        self.to_client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl fmt::Debug for MemoryPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryPeer")
            .field("url", &self.request.url)
            .field("closed", &self.sender().is_none())
            .finish_non_exhaustive()
    }
}
