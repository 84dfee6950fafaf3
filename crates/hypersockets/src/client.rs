//! The client handle users hold.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use hypersockets_core::{ClientEvent, ConnectionState, HyperSocketError, Result, WsMessage};
use hypersockets_router::ShutdownMode;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::builder::{NoRouter, NoUrl, WebSocketClientBuilder};
use crate::events::EventStream;
use crate::metrics::ClientMetrics;
use crate::runtime::{Command, Outgoing, PendingRuntime, Shared, Transition};
use crate::subscription::Subscription;

/// A self-healing WebSocket client for one feed.
///
/// Built with [`WebSocketClient::builder`]. [`connect`](Self::connect)
/// starts it; from then on it reconnects by itself, re-authenticates and
/// restores every subscription, while the handler lanes carry on. Cloning
/// the client gives another handle to the same connection.
///
/// The client lives as long as a handle does: when the last one is dropped
/// without [`close`](Self::close), it closes by itself (the lanes finish
/// what is queued, up to the close timeout) and every task and thread of it
/// ends. Handlers that need the client should hold a
/// [`WeakClient`](crate::WeakClient) ([`downgrade`](Self::downgrade)): a
/// clone would keep their own client alive for ever.
///
/// Sending while not connected is refused with
/// [`HyperSocketError::NotConnected`] rather than queued: a trading
/// message sent late, after a reconnect, is worse than one not sent.
/// Subscriptions are different: they are kept and sent on every connection.
///
/// Here the test plays the exchange over a
/// [`MemoryTransport`](crate::MemoryTransport), so no network is needed:
///
/// ```
/// use hypersockets::MemoryTransport;
/// # use hypersockets::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// let (transport, server) = MemoryTransport::new();
/// let (handled, mut messages) = tokio::sync::mpsc::unbounded_channel();
/// let client = WebSocketClient::builder()
///     .url("wss://exchange.test/ws")
///     .transport(transport)
///     .router(PassThrough)
///     .handler((), handler_fn(move |message: WsMessage| handled.send(message)))
///     .subscribe(Subscription::new("trades", "subscribe trades"))
/// #   .close_timeout(std::time::Duration::from_millis(10))
///     .build()?;
///
/// // Connected and subscribed when `connect` returns.
/// client.connect().await?;
/// let exchange = server.accept().await;
/// assert_eq!(exchange.recv().await, Some(WsMessage::text("subscribe trades")));
///
/// // Messages reach the handler of their route key…
/// exchange.send(WsMessage::text("trade 1")).await?;
/// assert_eq!(messages.recv().await, Some(WsMessage::text("trade 1")));
///
/// // …and sends reach the exchange.
/// client.send("hello").await?;
/// assert_eq!(exchange.recv().await, Some(WsMessage::text("hello")));
///
/// client.close().await?;
/// assert_eq!(client.state(), ConnectionState::ShuttingDown);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct WebSocketClient {
    inner: Arc<Inner>,
}

/// What every handle shares; dropping the last one drops `commands`, which
/// tells the connection task to close.
pub(crate) struct Inner {
    shared: Arc<Shared>,
    commands: mpsc::Sender<Command>,
    /// The span every task and lane of the client runs in: `host` (never
    /// the URL: its query may carry a listen key) and, under a
    /// `ClientManager`, `key`.
    span: tracing::Span,
    /// The runtime until `connect` moves it into its task.
    runtime: Mutex<Option<Box<dyn PendingRuntime>>>,
    task: Mutex<Option<JoinHandle<()>>>,
    /// Whether topic subscriptions can be written (a request format is set).
    topics: bool,
}

impl WebSocketClient {
    /// Starts configuring a client: give it a [`url`](WebSocketClientBuilder::url)
    /// and a [`router`](WebSocketClientBuilder::router), then `build()`.
    /// See [`WebSocketClientBuilder`] for every setting.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .build()?;
    /// assert_eq!(client.state(), ConnectionState::Disconnected); // until `connect`
    /// # client.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder() -> WebSocketClientBuilder<NoUrl, NoRouter> {
        WebSocketClientBuilder::new()
    }

    pub(crate) fn from_parts(
        shared: Arc<Shared>,
        commands: mpsc::Sender<Command>,
        span: tracing::Span,
        runtime: Box<dyn PendingRuntime>,
        topics: bool,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                shared,
                commands,
                span,
                runtime: Mutex::new(Some(runtime)),
                task: Mutex::new(None),
                topics,
            }),
        }
    }

    pub(crate) fn from_inner(inner: Arc<Inner>) -> Self {
        Self { inner }
    }

    /// The router's live figures (the lanes' latency histograms among
    /// them), for the metrics export.
    #[cfg(feature = "metrics")]
    pub(crate) fn router_stats(&self) -> &hypersockets_router::RouterStats {
        &self.inner.shared.router_stats
    }

    /// A handle that does not keep the client alive; see
    /// [`WeakClient`](crate::WeakClient).
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # fn main() -> Result<(), BoxError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .build()?;
    /// let weak = client.downgrade();
    /// assert!(weak.upgrade().is_some());
    /// drop(client);
    /// assert!(weak.upgrade().is_none()); // the client has stopped
    /// # Ok(())
    /// # }
    /// ```
    pub fn downgrade(&self) -> crate::WeakClient {
        crate::WeakClient {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// Names the client in its tracing span by its `ClientManager` key.
    pub(crate) fn set_manager_key(&self, key: &str) {
        self.inner.span.record("key", key);
    }

    /// Starts the client and waits until it is connected, authenticated
    /// and subscribed, or has given up.
    ///
    /// Calling it again after it started just waits the same way. A failed
    /// attempt is retried as the reconnection strategy says; `connect`
    /// returns an error only once the client gives up:
    ///
    /// ```
    /// use hypersockets::{MemoryTransport, NeverReconnect};
    /// # use hypersockets::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), HyperSocketError> {
    /// let (transport, server) = MemoryTransport::new();
    /// server.refuse_all(true);
    /// let client = WebSocketClient::builder()
    ///     .url("wss://exchange.test/ws")
    ///     .transport(transport)
    ///     .router(PassThrough)
    ///     .reconnect(NeverReconnect)
    ///     .build()?;
    /// let error = client.connect().await.unwrap_err();
    /// assert!(matches!(error, HyperSocketError::ReconnectExhausted { .. }));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The error that made the client give up: a fatal auth rejection, a
    /// configuration error, a handshake refused for good (e.g. 401, 403,
    /// 404: [`HyperSocketError::is_retryable`]), a proxy that refused the
    /// credentials ([`HyperSocketError::Proxy`] with `fatal`), or
    /// [`HyperSocketError::ReconnectExhausted`].
    ///
    /// # Cancel safety
    ///
    /// Cancelling stops the waiting, not the client: it keeps connecting
    /// in the background.
    pub async fn connect(&self) -> Result<()> {
        let mut lifecycle = self.inner.shared.lifecycle.subscribe();
        let connections_before = {
            let now = lifecycle.borrow_and_update();
            if now.state == ConnectionState::ShuttingDown {
                // Closed or gave up before this call: the reason went to
                // the callers waiting then, and to the event stream.
                return Err(HyperSocketError::ShutDown);
            }
            now.connections
        };
        self.start()?;
        let Ok(now) = lifecycle
            .wait_for(|now| {
                now.connections > connections_before
                    || matches!(
                        now.state,
                        ConnectionState::Connected | ConnectionState::ShuttingDown
                    )
            })
            .await
        else {
            return Err(HyperSocketError::ShutDown);
        };
        if now.state == ConnectionState::ShuttingDown && now.connections == connections_before {
            return Err(now.stopped_by.clone().unwrap_or(HyperSocketError::ShutDown));
        }
        Ok(())
    }

    /// Waits until the client shuts down: closed, or given up.
    pub(crate) async fn shut_down(&self) {
        let mut lifecycle = self.inner.shared.lifecycle.subscribe();
        // The sender lives as long as `self`: waiting cannot fail.
        let _ = lifecycle
            .wait_for(|now| now.state == ConnectionState::ShuttingDown)
            .await;
    }

    /// Spawns the connection task, once, inside the client's span.
    pub(crate) fn start(&self) -> Result<()> {
        let runtime = self
            .inner
            .runtime
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(runtime) = runtime {
            let handle = tokio::runtime::Handle::try_current().map_err(|_| {
                HyperSocketError::invalid_config(
                    "runtime",
                    "connect must be called inside a tokio runtime",
                )
            })?;
            let task = handle.spawn(runtime.start().instrument(self.inner.span.clone()));
            *self
                .inner
                .task
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(task);
        }
        Ok(())
    }

    /// Sends a message and waits until it is written to the socket.
    ///
    /// When the connection's queue of user sends
    /// ([`writer_queue`](WebSocketClientBuilder::writer_queue)) is full,
    /// this call waits for room: the reader never does, so reads, pings
    /// and liveness checks go on meanwhile. Keepalive answers, heartbeats,
    /// subscriptions and Close have a queue of their own, drained first,
    /// so sends never make them fail. [`try_send`](Self::try_send) does
    /// not wait.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), HyperSocketError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://ws.okx.com:8443/ws/v5/private")
    ///     .router(PassThrough)
    ///     .build()?;
    /// // Not connected: refused, never queued to go out after a reconnect.
    /// let refused = client.send(r#"{"op":"order","args":[]}"#).await;
    /// assert!(matches!(refused, Err(HyperSocketError::NotConnected)));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::NotConnected`] when not connected (nothing is
    /// queued), [`HyperSocketError::ConnectionClosed`] if the connection
    /// ended before the message was written (it is not carried over to the
    /// next connection), [`HyperSocketError::ShutDown`] after `close`.
    ///
    /// # Cancel safety
    ///
    /// Cancelling while waiting for room sends nothing. Cancelling after
    /// the message was queued does not recall it: it may still be written.
    pub async fn send(&self, message: impl Into<WsMessage>) -> Result<()> {
        let queue = self.live_queue()?;
        let (done, written) = oneshot::channel();
        queue
            .send(Outgoing::with_done(message.into(), done))
            .await
            .map_err(|_| HyperSocketError::ConnectionClosed)?;
        drop(queue);
        written
            .await
            .map_err(|_| HyperSocketError::ConnectionClosed)?
    }

    /// Queues a message for the writer without waiting, neither for room
    /// nor for the write. `Ok` means queued: a connection lost before the
    /// message is written drops it unreported (use [`send`](Self::send) to
    /// learn that).
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), HyperSocketError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://ws.okx.com:8443/ws/v5/private")
    ///     .router(PassThrough)
    ///     .build()?;
    /// match client.try_send(r#"{"op":"order","args":[]}"#) {
    ///     Ok(()) => {}                                      // queued
    ///     Err(HyperSocketError::WriteQueueFull) => {}       // backpressure: try later
    ///     Err(HyperSocketError::NotConnected) => {}         // here: not connected yet
    ///     Err(other) => return Err(other),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::WriteQueueFull`] when the connection's queue of
    /// user sends ([`writer_queue`](WebSocketClientBuilder::writer_queue))
    /// is full: the peer or the network is slower than the sends;
    /// [`HyperSocketError::NotConnected`] when not connected;
    /// [`HyperSocketError::ShutDown`] after `close`.
    pub fn try_send(&self, message: impl Into<WsMessage>) -> Result<()> {
        let queue = self.live_queue()?;
        queue
            .try_send(Outgoing::new(message.into()))
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => HyperSocketError::WriteQueueFull,
                mpsc::error::TrySendError::Closed(_) => HyperSocketError::NotConnected,
            })
    }

    /// The live connection's queue for user sends, or why there is none.
    fn live_queue(&self) -> Result<mpsc::Sender<Outgoing>> {
        if self.state() == ConnectionState::ShuttingDown {
            return Err(HyperSocketError::ShutDown);
        }
        self.inner
            .shared
            .outbox
            .queue()
            .ok_or(HyperSocketError::NotConnected)
    }

    /// Adds a subscription (or replaces the one with the same id). It is
    /// sent now if connected, and on every later connection.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), HyperSocketError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .build()?;
    /// let trades = Subscription::new(
    ///     "btcusdt@trade",
    ///     r#"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}"#,
    /// )
    /// .unsubscribe_message(r#"{"method":"UNSUBSCRIBE","params":["btcusdt@trade"],"id":2}"#);
    /// client.subscribe(trades).await?;
    /// assert_eq!(client.subscriptions()[0].id(), "btcusdt@trade");
    ///
    /// assert!(client.unsubscribe("btcusdt@trade").await?);
    /// assert!(client.subscriptions().is_empty());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::ShutDown`] after `close`;
    /// [`HyperSocketError::InvalidConfiguration`] for a
    /// [topic](Subscription::topic) when the client has no request format.
    ///
    /// # Cancel safety
    ///
    /// The subscription is registered before the first await: it stays
    /// registered even if the call is cancelled.
    pub async fn subscribe(&self, subscription: Subscription) -> Result<()> {
        if self.state().is_terminal() {
            return Err(HyperSocketError::ShutDown);
        }
        if subscription.is_topic() && !self.inner.topics {
            return Err(HyperSocketError::invalid_config(
                "subscribe",
                "a topic subscription needs the venue's request format (venue or topic_requests)",
            ));
        }
        self.inner.shared.subscriptions.insert(subscription.clone());
        self.notify(Command::Subscribe(Box::new(subscription)))
            .await
    }

    /// Removes the subscription `id`; its unsubscribe message (if it has
    /// one) is sent if connected. Returns whether it existed.
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::ShutDown`] after `close`.
    ///
    /// # Cancel safety
    ///
    /// The subscription is removed before the first await.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// use hypersockets::MemoryTransport;
    ///
    /// let (transport, server) = MemoryTransport::new();
    /// let trades = Subscription::new("trades", "sub trades").unsubscribe_message("unsub trades");
    /// let client = WebSocketClient::builder()
    ///     .url("wss://exchange.test/ws").transport(transport).router(PassThrough).subscribe(trades)
    /// #     .close_timeout(std::time::Duration::from_millis(10))
    ///     .build()?;
    /// client.connect().await?;
    /// let exchange = server.accept().await; // it is sent "sub trades" first
    /// # assert_eq!(exchange.recv().await, Some(WsMessage::text("sub trades")));
    /// assert!(client.unsubscribe("trades").await?); // it existed
    /// assert_eq!(exchange.recv().await, Some(WsMessage::text("unsub trades")));
    /// # client.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn unsubscribe(&self, id: &str) -> Result<bool> {
        if self.state().is_terminal() {
            return Err(HyperSocketError::ShutDown);
        }
        let Some(subscription) = self.inner.shared.subscriptions.remove(id) else {
            return Ok(false);
        };
        self.notify(Command::Unsubscribe(Box::new(subscription)))
            .await?;
        Ok(true)
    }

    /// Tells a running connection task; before `connect` the registry is enough.
    async fn notify(&self, command: Command) -> Result<()> {
        if self
            .inner
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
        {
            return Ok(());
        }
        self.inner
            .commands
            .send(command)
            .await
            .map_err(|_| HyperSocketError::ShutDown)
    }

    /// The active subscriptions, in the order they were added.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .subscribe(Subscription::new("btcusdt@trade", "subscribe btcusdt@trade"))
    ///     .subscribe(Subscription::new("ethusdt@trade", "subscribe ethusdt@trade"))
    ///     .build()?;
    /// let ids: Vec<String> = client.subscriptions().iter().map(|s| s.id().to_owned()).collect();
    /// assert_eq!(ids, ["btcusdt@trade", "ethusdt@trade"]);
    /// # client.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.inner.shared.subscriptions.snapshot()
    }

    /// Closes the client for good, letting every lane finish what is queued.
    ///
    /// Sends a Close frame, waits for the server's (up to the close
    /// timeout), never reconnects, lets the lanes finish what is queued (up
    /// to the close timeout again), and returns once every task and lane of
    /// the client has ended or been abandoned. Bounded in every state, even
    /// with a handler stuck in a long call: a lane still busy after its
    /// share of the close timeout is abandoned (its thread detached, its
    /// task aborted) and reported as
    /// [`ClientEvent::LaneAbandoned`](crate::ClientEvent::LaneAbandoned).
    /// Closing twice is fine. (One thing may outlive it, by design: the
    /// closed socket is read and discarded for at most 2 s more in a task
    /// of its own, so that unread bytes from the server do not make the
    /// kernel reset the connection and destroy our Close frame.)
    ///
    /// # Cancel safety
    ///
    /// Cancelling stops the waiting; the client still closes.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .build()?;
    /// client.close().await?;
    /// client.close().await?; // closing twice is fine
    /// assert!(matches!(client.send("late").await, Err(HyperSocketError::ShutDown)));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn close(&self) -> Result<()> {
        self.close_with(ShutdownMode::Graceful).await
    }

    /// Like [`close`](Self::close), choosing whether queued messages are
    /// handled ([`ShutdownMode::Graceful`]) or dropped and counted
    /// ([`ShutdownMode::Abort`]).
    ///
    /// ```
    /// use hypersockets::ShutdownMode;
    /// # use hypersockets::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), HyperSocketError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .build()?;
    /// client.close_with(ShutdownMode::Abort).await?;
    /// assert!(client.state().is_terminal());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancelling stops the waiting; the client still closes.
    pub async fn close_with(&self, mode: ShutdownMode) -> Result<()> {
        let never_started = self
            .inner
            .runtime
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(runtime) = never_started {
            self.inner
                .shared
                .enter(Transition::ShuttingDown { gave_up: None });
            runtime.discard(mode).await;
            self.inner.shared.emit(ClientEvent::ShutDown);
            return Ok(());
        }
        // The task may already be gone (gave up, or closed before).
        let _ = self.inner.commands.send(Command::Close(mode)).await;
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task
            && let Err(error) = task.await
        {
            tracing::error!(%error, "connection task failed");
        }
        Ok(())
    }

    /// The connection state now.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let (transport, _server) = hypersockets::MemoryTransport::new();
    /// let client = WebSocketClient::builder()
    ///     .url("wss://exchange.test/ws").transport(transport)
    ///     .router(PassThrough)
    /// #     .close_timeout(std::time::Duration::from_millis(10))
    ///     .build()?;
    /// assert_eq!(client.state(), ConnectionState::Disconnected);
    /// client.connect().await?;
    /// assert_eq!(client.state(), ConnectionState::Connected);
    /// client.close().await?;
    /// assert_eq!(client.state(), ConnectionState::ShuttingDown);
    /// # Ok(())
    /// # }
    /// ```
    pub fn state(&self) -> ConnectionState {
        self.inner.shared.state()
    }

    /// Connection counters and every lane's figures, read without locks.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), HyperSocketError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .handler((), handler_fn(|_message: WsMessage| Ok::<_, BoxError>(())))
    ///     .build()?;
    /// let metrics = client.metrics();
    /// assert_eq!(metrics.connection.messages_received, 0);
    /// assert_eq!(metrics.router.lanes.len(), 1);
    /// assert_eq!(metrics.router.lanes[0].key, "()"); // the key, `Debug`-formatted
    /// # client.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn metrics(&self) -> ClientMetrics {
        ClientMetrics {
            connection: self.inner.shared.counters.snapshot(),
            router: self.inner.shared.router_stats.snapshot(),
        }
    }

    /// A stream of this client's events from now on; see [`EventStream`].
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .build()?;
    /// let mut events = client.events();
    /// let printer = tokio::spawn(async move {
    ///     while let Ok(event) = events.recv().await {
    ///         match event {
    ///             ClientEvent::Disconnected { reason } => eprintln!("lost: {reason}"),
    ///             ClientEvent::ShutDown => return,
    ///             other => eprintln!("{other:?}"),
    ///         }
    ///     }
    /// });
    /// client.close().await?;
    /// printer.await?; // it saw `ShutDown`
    /// # Ok(())
    /// # }
    /// ```
    pub fn events(&self) -> EventStream {
        EventStream::new(self.inner.shared.events.subscribe())
    }
}

impl fmt::Debug for WebSocketClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketClient")
            .field("span", &self.inner.span)
            .field("state", &self.state())
            .field("subscriptions", &self.inner.shared.subscriptions.len())
            .finish_non_exhaustive()
    }
}
