//! An in-memory transport for tests: no socket, a scriptable server side and
//! injectable faults.

mod client;
mod peer;

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hypersockets_core::{
    BoxFuture, ConnectRequest, Connection, HyperSocketError, Result, Transport,
};
use tokio::sync::mpsc;

pub use peer::MemoryPeer;

/// Messages each direction of a connection buffers by default.
const DEFAULT_CAPACITY: usize = 1024;

/// A [`Transport`] that connects to the test itself, in memory.
///
/// [`MemoryTransport::new`] returns the transport, to hand to the code under
/// test, and a [`MemoryServer`] handle, which the test keeps: every connect
/// the transport makes appears there as a [`MemoryPeer`], the server side of
/// that connection, which sends, receives, closes or drops it. Nothing is
/// answered automatically on the server side: the test plays the server.
///
/// The client side behaves like [`TungsteniteTransport`](crate::TungsteniteTransport)'s:
///
/// - a `Ping` from the peer is yielded *and* answered with a `Pong` carrying
///   the same payload, and a `Close` from the peer is yielded, echoed back
///   (unless the client already sent one) and ends the stream;
/// - after the client sent a `Close`, sending anything else fails with
///   [`HyperSocketError::ConnectionClosed`]; closing the sink sends
///   `Close(None)` if no `Close` was sent;
/// - an abrupt end ([`MemoryPeer::drop_connection`], or dropping the peer)
///   is an I/O error of kind [`ConnectionReset`](io::ErrorKind::ConnectionReset):
///   the stream first yields whatever the peer had already sent, then that
///   error, then ends; sending fails with the same error.
///
/// Automatic answers are best-effort: when the client-to-server buffer is
/// full they are dropped (a real socket would queue them).
///
/// Each direction is a bounded channel ([`with_capacity`](Self::with_capacity);
/// 1024 messages by default): when the peer stops reading, the client's
/// sends wait once the buffer is full, which is how a half-open or stalled
/// server looks to a client; likewise [`MemoryPeer::send`] waits while the
/// client is not reading.
///
/// Faults, set through the [`MemoryServer`] at any time, apply to the
/// connects that follow: [`refuse_next`](MemoryServer::refuse_next),
/// [`refuse_all`](MemoryServer::refuse_all) and
/// [`delay_connect`](MemoryServer::delay_connect), which honours the
/// request's `connect_timeout`. [`connect_count`](MemoryServer::connect_count)
/// counts every attempt.
///
/// ```
/// use futures_util::{SinkExt, StreamExt};
/// use hypersockets_core::{ConnectRequest, Transport, WsMessage};
/// use hypersockets_transport::MemoryTransport;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (transport, server) = MemoryTransport::new();
///
/// // The code under test connects…
/// let request = ConnectRequest::new("wss://exchange.test/ws").header("X-Api-Key", "k");
/// let mut connection = transport.connect(request).await.unwrap();
///
/// // …and the test plays the server.
/// let peer = server.accept().await;
/// assert_eq!(peer.header("x-api-key"), Some("k"));
/// connection.sink.send(WsMessage::text("subscribe")).await.unwrap();
/// assert_eq!(peer.recv().await, Some(WsMessage::text("subscribe")));
/// peer.send(WsMessage::text("trade")).await.unwrap();
/// assert_eq!(connection.stream.next().await.unwrap().unwrap(), WsMessage::text("trade"));
///
/// // Faults: the next connect is refused.
/// server.refuse_next(1);
/// assert!(transport.connect(ConnectRequest::new("ws://exchange.test/ws")).await.is_err());
/// assert_eq!(server.connect_count(), 2);
/// # }
/// ```
pub struct MemoryTransport {
    shared: Arc<Shared>,
}

/// The test's side of a [`MemoryTransport`]: accepts its connections and
/// injects faults. Clones share the same transport.
#[derive(Clone)]
pub struct MemoryServer {
    shared: Arc<Shared>,
}

/// What the transport and its server handles share.
struct Shared {
    client_to_server: usize,
    server_to_client: usize,
    connects: AtomicU64,
    refuse_next: AtomicUsize,
    refuse_all: AtomicBool,
    delay: Mutex<Duration>,
    incoming: mpsc::UnboundedSender<MemoryPeer>,
    accepting: tokio::sync::Mutex<mpsc::UnboundedReceiver<MemoryPeer>>,
}

impl MemoryTransport {
    /// A transport and the server handle for its connections, buffering 1024
    /// messages in each direction.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> (Self, MemoryServer) {
        Self::with_capacity(DEFAULT_CAPACITY, DEFAULT_CAPACITY)
    }

    /// Like [`new`](Self::new), with the number of messages buffered from the
    /// client to the server and from the server to the client (each at least
    /// 1; 0 counts as 1).
    ///
    /// A small `client_to_server` makes the client's sends wait as soon as
    /// the peer stops reading: a stalled, half-open server.
    pub fn with_capacity(client_to_server: usize, server_to_client: usize) -> (Self, MemoryServer) {
        let (incoming, accepting) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            client_to_server: client_to_server.max(1),
            server_to_client: server_to_client.max(1),
            connects: AtomicU64::new(0),
            refuse_next: AtomicUsize::new(0),
            refuse_all: AtomicBool::new(false),
            delay: Mutex::new(Duration::ZERO),
            incoming,
            accepting: tokio::sync::Mutex::new(accepting),
        });
        (
            Self {
                shared: Arc::clone(&shared),
            },
            MemoryServer { shared },
        )
    }

    /// Another handle on this transport's server side.
    pub fn server(&self) -> MemoryServer {
        MemoryServer {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Connect attempts so far, refused and timed-out ones included.
    pub fn connect_count(&self) -> u64 {
        self.shared.connects.load(Ordering::Relaxed)
    }
}

impl MemoryServer {
    /// Waits for the next connection and returns its server side.
    ///
    /// Connections wait in order until accepted; a connect does not wait for
    /// `accept` (the handshake is always accepted). Never returns if nothing
    /// connects: bound it with a timeout. Cancel-safe: a timed-out `accept`
    /// loses no connection.
    pub async fn accept(&self) -> MemoryPeer {
        let mut accepting = self.shared.accepting.lock().await;
        accepting
            .recv()
            .await
            // `Shared` holds the sending half itself, so the channel stays open.
            .expect("the memory transport's accept queue never closes")
    }

    /// The next connection if one is waiting, without waiting.
    pub fn try_accept(&self) -> Option<MemoryPeer> {
        self.shared.accepting.try_lock().ok()?.try_recv().ok()
    }

    /// Refuses the next `n` connects (replacing any count still pending) with
    /// an I/O error of kind [`ConnectionRefused`](io::ErrorKind::ConnectionRefused).
    pub fn refuse_next(&self, n: usize) {
        self.shared.refuse_next.store(n, Ordering::SeqCst);
    }

    /// Refuses every connect while `refuse` is true, like a server that is
    /// down. Takes precedence over [`refuse_next`](Self::refuse_next), whose
    /// count is not used up meanwhile.
    pub fn refuse_all(&self, refuse: bool) {
        self.shared.refuse_all.store(refuse, Ordering::SeqCst);
    }

    /// Makes every following connect take `delay` before it completes (or is
    /// refused); [`Duration::ZERO`] (the default) removes the delay.
    ///
    /// A delay longer than the request's `connect_timeout` fails the connect
    /// with [`HyperSocketError::Timeout`] (operation `"connect"`) once the
    /// timeout passes; such a connect uses up no refusal. Uses tokio's clock,
    /// so it works with paused time.
    pub fn delay_connect(&self, delay: Duration) {
        *self.shared.delay.lock().unwrap_or_else(|e| e.into_inner()) = delay;
    }

    /// Connect attempts so far, refused and timed-out ones included.
    pub fn connect_count(&self) -> u64 {
        self.shared.connects.load(Ordering::Relaxed)
    }
}

impl Shared {
    fn delay(&self) -> Duration {
        *self.delay.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether this connect is refused; uses up one `refuse_next`.
    fn take_refusal(&self) -> bool {
        self.refuse_all.load(Ordering::SeqCst)
            || self
                .refuse_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
    }
}

impl Transport for MemoryTransport {
    fn connect(&self, request: ConnectRequest) -> BoxFuture<'static, Result<Connection>> {
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            shared.connects.fetch_add(1, Ordering::Relaxed);
            if !(request.url.starts_with("ws://") || request.url.starts_with("wss://")) {
                return Err(HyperSocketError::invalid_config(
                    "url",
                    "scheme must be ws:// or wss://",
                ));
            }
            let delay = shared.delay();
            if !delay.is_zero() {
                let limit = request.connect_timeout;
                tokio::time::timeout(limit, tokio::time::sleep(delay))
                    .await
                    .map_err(|_| HyperSocketError::timeout("connect", limit))?;
            }
            if shared.take_refusal() {
                return Err(HyperSocketError::from(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    "connection refused (memory transport fault)",
                )));
            }
            let (connection, peer) =
                client::link(request, shared.client_to_server, shared.server_to_client);
            // `Shared` holds the receiving half itself, so this cannot fail.
            let _ = shared.incoming.send(peer);
            Ok(connection)
        })
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTransport")
            .field("client_to_server", &self.client_to_server)
            .field("server_to_client", &self.server_to_client)
            .field("connects", &self.connects.load(Ordering::Relaxed))
            .field("refuse_next", &self.refuse_next.load(Ordering::Relaxed))
            .field("refuse_all", &self.refuse_all.load(Ordering::Relaxed))
            .field("delay", &self.delay())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for MemoryTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.shared, f)
    }
}

impl fmt::Debug for MemoryServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MemoryServer").field(&self.shared).finish()
    }
}

/// The error an abrupt end shows on either half.
fn reset() -> HyperSocketError {
    HyperSocketError::from(io::Error::new(
        io::ErrorKind::ConnectionReset,
        "connection reset (memory transport)",
    ))
}
