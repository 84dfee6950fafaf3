//! The client handle users hold.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};

use hypersockets_core::{
    ClientEvent, ConnectionState, HyperSocketError, MessageRouter, Result, WsMessage,
};
use hypersockets_router::ShutdownMode;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::builder::{NoRouter, NoUrl, WebSocketClientBuilder};
use crate::events::EventStream;
use crate::metrics::ClientMetrics;
use crate::runtime::{Command, PendingRuntime, Runtime, Shared};
use crate::subscription::Subscription;

/// A self-healing WebSocket client for one feed.
///
/// Built with [`WebSocketClient::builder`]. [`connect`](Self::connect)
/// starts it; from then on it reconnects by itself, re-authenticates and
/// restores every subscription, while the handler lanes carry on. Cloning
/// the client gives another handle to the same connection.
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
/// # struct Lines;
/// # impl MessageRouter for Lines {
/// #     type Message = String;
/// #     type RouteKey = ();
/// #     fn parse(&self, m: &WsMessage) -> Result<String, ParseError> {
/// #         m.as_text().map(str::to_owned).ok_or_else(|| ParseError::new("not text"))
/// #     }
/// #     fn route_key(&self, _: &String) {}
/// # }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// let (transport, server) = MemoryTransport::new();
/// let (handled, mut lines) = tokio::sync::mpsc::unbounded_channel();
/// let client = WebSocketClient::builder()
///     .url("wss://exchange.test/ws")
///     .transport(transport)
///     .router(Lines)
///     .handler((), handler_fn(move |line: String| handled.send(line)))
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
/// assert_eq!(lines.recv().await.as_deref(), Some("trade 1"));
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
pub struct WebSocketClient<R> {
    inner: Arc<Inner>,
    _router: PhantomData<fn() -> R>,
}

struct Inner {
    shared: Arc<Shared>,
    commands: mpsc::Sender<Command>,
    /// The runtime until `connect` moves it into its task.
    runtime: Mutex<Option<Box<dyn PendingRuntime>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl WebSocketClient<NoRouter> {
    /// Starts configuring a client: give it a [`url`](WebSocketClientBuilder::url)
    /// and a [`router`](WebSocketClientBuilder::router), then `build()`.
    /// See [`WebSocketClientBuilder`] for every setting.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # struct Lines;
    /// # impl MessageRouter for Lines {
    /// #     type Message = String;
    /// #     type RouteKey = ();
    /// #     fn parse(&self, m: &WsMessage) -> Result<String, ParseError> {
    /// #         m.as_text().map(str::to_owned).ok_or_else(|| ParseError::new("not text"))
    /// #     }
    /// #     fn route_key(&self, _: &String) {}
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(Lines)
    ///     .build()?;
    /// assert_eq!(client.state(), ConnectionState::Disconnected); // until `connect`
    /// # client.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder() -> WebSocketClientBuilder<NoUrl, NoRouter> {
        WebSocketClientBuilder::new()
    }
}

impl<R: MessageRouter> WebSocketClient<R> {
    pub(crate) fn from_parts(
        shared: Arc<Shared>,
        commands: mpsc::Sender<Command>,
        runtime: Runtime<R>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                shared,
                commands,
                runtime: Mutex::new(Some(Box::new(runtime))),
                task: Mutex::new(None),
            }),
            _router: PhantomData,
        }
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
    /// # struct Lines;
    /// # impl MessageRouter for Lines {
    /// #     type Message = String;
    /// #     type RouteKey = ();
    /// #     fn parse(&self, m: &WsMessage) -> Result<String, ParseError> {
    /// #         m.as_text().map(str::to_owned).ok_or_else(|| ParseError::new("not text"))
    /// #     }
    /// #     fn route_key(&self, _: &String) {}
    /// # }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), HyperSocketError> {
    /// let (transport, server) = MemoryTransport::new();
    /// server.refuse_all(true);
    /// let client = WebSocketClient::builder()
    ///     .url("wss://exchange.test/ws")
    ///     .transport(transport)
    ///     .router(Lines)
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
    /// configuration error, or [`HyperSocketError::ReconnectExhausted`].
    ///
    /// # Cancel safety
    ///
    /// Cancelling stops the waiting, not the client: it keeps connecting
    /// in the background.
    pub async fn connect(&self) -> Result<()> {
        let mut events = self.events();
        self.start()?;
        loop {
            match self.state() {
                ConnectionState::Connected => return Ok(()),
                ConnectionState::ShuttingDown => return Err(gave_up_with(&mut events)),
                _ => {}
            }
            match events.recv().await {
                Ok(ClientEvent::Connected { .. }) => return Ok(()),
                Ok(ClientEvent::Error(error)) if !error.is_retryable() => {
                    return Err(clone_error(&error));
                }
                Ok(ClientEvent::ShutDown) => return Err(HyperSocketError::ShutDown),
                Ok(_) | Err(crate::EventStreamError::Lagged(_)) => {}
                Err(crate::EventStreamError::Closed) => return Err(HyperSocketError::ShutDown),
            }
        }
    }

    /// Spawns the connection task, once.
    fn start(&self) -> Result<()> {
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
            let task = handle.spawn(runtime.start());
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
    /// ```
    /// # use hypersockets::prelude::*;
    /// # struct Lines;
    /// # impl MessageRouter for Lines {
    /// #     type Message = String;
    /// #     type RouteKey = ();
    /// #     fn parse(&self, m: &WsMessage) -> Result<String, ParseError> {
    /// #         m.as_text().map(str::to_owned).ok_or_else(|| ParseError::new("not text"))
    /// #     }
    /// #     fn route_key(&self, _: &String) {}
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), HyperSocketError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://ws.okx.com:8443/ws/v5/private")
    ///     .router(Lines)
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
    /// failed before the message was written, [`HyperSocketError::ShutDown`]
    /// after `close`.
    ///
    /// # Cancel safety
    ///
    /// Cancelling after the message was handed over does not recall it: it
    /// may still be written.
    pub async fn send(&self, message: impl Into<WsMessage>) -> Result<()> {
        if self.state() != ConnectionState::Connected {
            return Err(match self.state() {
                ConnectionState::ShuttingDown => HyperSocketError::ShutDown,
                _ => HyperSocketError::NotConnected,
            });
        }
        let (done, written) = oneshot::channel();
        self.inner
            .commands
            .send(Command::Send {
                message: message.into(),
                done,
            })
            .await
            .map_err(|_| HyperSocketError::ShutDown)?;
        written
            .await
            .map_err(|_| HyperSocketError::ConnectionClosed)?
    }

    /// Adds a subscription (or replaces the one with the same id). It is
    /// sent now if connected, and on every later connection.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # struct Lines;
    /// # impl MessageRouter for Lines {
    /// #     type Message = String;
    /// #     type RouteKey = ();
    /// #     fn parse(&self, m: &WsMessage) -> Result<String, ParseError> {
    /// #         m.as_text().map(str::to_owned).ok_or_else(|| ParseError::new("not text"))
    /// #     }
    /// #     fn route_key(&self, _: &String) {}
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), HyperSocketError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(Lines)
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
    /// [`HyperSocketError::ShutDown`] after `close`.
    ///
    /// # Cancel safety
    ///
    /// The subscription is registered before the first await: it stays
    /// registered even if the call is cancelled.
    pub async fn subscribe(&self, subscription: Subscription) -> Result<()> {
        if self.state().is_terminal() {
            return Err(HyperSocketError::ShutDown);
        }
        self.inner.shared.subscriptions.insert(subscription.clone());
        self.notify(Command::Subscribe(subscription)).await
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
    /// # struct Lines;
    /// # impl MessageRouter for Lines {
    /// #     type Message = String;
    /// #     type RouteKey = ();
    /// #     fn parse(&self, m: &WsMessage) -> Result<String, ParseError> {
    /// #         m.as_text().map(str::to_owned).ok_or_else(|| ParseError::new("not text"))
    /// #     }
    /// #     fn route_key(&self, _: &String) {}
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// use hypersockets::MemoryTransport;
    ///
    /// let (transport, server) = MemoryTransport::new();
    /// let trades = Subscription::new("trades", "sub trades").unsubscribe_message("unsub trades");
    /// let client = WebSocketClient::builder()
    ///     .url("wss://exchange.test/ws").transport(transport).router(Lines).subscribe(trades)
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
        self.notify(Command::Unsubscribe(subscription)).await?;
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
    /// # struct Lines;
    /// # impl MessageRouter for Lines {
    /// #     type Message = String;
    /// #     type RouteKey = ();
    /// #     fn parse(&self, m: &WsMessage) -> Result<String, ParseError> {
    /// #         m.as_text().map(str::to_owned).ok_or_else(|| ParseError::new("not text"))
    /// #     }
    /// #     fn route_key(&self, _: &String) {}
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(Lines)
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
    /// timeout), never reconnects, and returns once every task and lane of
    /// the client has ended. Closing twice is fine.
    ///
    /// # Cancel safety
    ///
    /// Cancelling stops the waiting; the client still closes.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # struct Lines;
    /// # impl MessageRouter for Lines {
    /// #     type Message = String;
    /// #     type RouteKey = ();
    /// #     fn parse(&self, m: &WsMessage) -> Result<String, ParseError> {
    /// #         m.as_text().map(str::to_owned).ok_or_else(|| ParseError::new("not text"))
    /// #     }
    /// #     fn route_key(&self, _: &String) {}
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(Lines)
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
    /// # struct Lines;
    /// # impl MessageRouter for Lines {
    /// #     type Message = String;
    /// #     type RouteKey = ();
    /// #     fn parse(&self, m: &WsMessage) -> Result<String, ParseError> {
    /// #         m.as_text().map(str::to_owned).ok_or_else(|| ParseError::new("not text"))
    /// #     }
    /// #     fn route_key(&self, _: &String) {}
    /// # }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), HyperSocketError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(Lines)
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
            self.inner.shared.set_state(ConnectionState::ShuttingDown);
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
    /// # struct Lines;
    /// # impl MessageRouter for Lines {
    /// #     type Message = String;
    /// #     type RouteKey = ();
    /// #     fn parse(&self, m: &WsMessage) -> Result<String, ParseError> {
    /// #         m.as_text().map(str::to_owned).ok_or_else(|| ParseError::new("not text"))
    /// #     }
    /// #     fn route_key(&self, _: &String) {}
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let (transport, _server) = hypersockets::MemoryTransport::new();
    /// let client = WebSocketClient::builder()
    ///     .url("wss://exchange.test/ws").transport(transport)
    ///     .router(Lines)
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
        self.inner.shared.state.get()
    }

    /// Connection counters and every lane's figures, read without locks.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # struct Lines;
    /// # impl MessageRouter for Lines {
    /// #     type Message = String;
    /// #     type RouteKey = ();
    /// #     fn parse(&self, m: &WsMessage) -> Result<String, ParseError> {
    /// #         m.as_text().map(str::to_owned).ok_or_else(|| ParseError::new("not text"))
    /// #     }
    /// #     fn route_key(&self, _: &String) {}
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), HyperSocketError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(Lines)
    ///     .handler((), handler_fn(|_line: String| Ok::<_, BoxError>(())))
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
        let router = self.inner.shared.router_stats.snapshot();
        let mut connection = self.inner.shared.metrics.snapshot();
        connection.parse_errors = router.parse_errors
            + router
                .lanes
                .iter()
                .map(|lane| lane.parse_errors)
                .sum::<u64>();
        connection.handler_errors = router
            .lanes
            .iter()
            .map(|lane| lane.handler_errors + lane.handler_panics)
            .sum();
        connection.unrouted_messages = router.unrouted;
        ClientMetrics { connection, router }
    }

    /// A stream of this client's events from now on; see [`EventStream`].
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # struct Lines;
    /// # impl MessageRouter for Lines {
    /// #     type Message = String;
    /// #     type RouteKey = ();
    /// #     fn parse(&self, m: &WsMessage) -> Result<String, ParseError> {
    /// #         m.as_text().map(str::to_owned).ok_or_else(|| ParseError::new("not text"))
    /// #     }
    /// #     fn route_key(&self, _: &String) {}
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(Lines)
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

/// Why a client that is already shutting down gave up: the final error among
/// the events already received (the connection task emits it before it
/// moves to `ShuttingDown`, so a task that fails fast has done both before
/// `connect` first looks), else [`HyperSocketError::ShutDown`].
fn gave_up_with(events: &mut EventStream) -> HyperSocketError {
    while let Some(event) = events.try_recv() {
        match event {
            Ok(ClientEvent::Error(error)) if !error.is_retryable() => return clone_error(&error),
            Ok(_) | Err(crate::EventStreamError::Lagged(_)) => {}
            Err(crate::EventStreamError::Closed) => break,
        }
    }
    HyperSocketError::ShutDown
}

/// Events share errors behind an `Arc`; `connect` returns an owned one
/// that keeps the message and kind.
fn clone_error(error: &HyperSocketError) -> HyperSocketError {
    match error {
        HyperSocketError::Auth { reason, fatal } => HyperSocketError::Auth {
            reason: reason.clone(),
            fatal: *fatal,
        },
        HyperSocketError::InvalidConfiguration { setting, reason } => {
            HyperSocketError::invalid_config(setting, reason.clone())
        }
        HyperSocketError::ReconnectExhausted { attempts } => HyperSocketError::ReconnectExhausted {
            attempts: *attempts,
        },
        // Only the kinds above are final; anything else means the client
        // stopped.
        _ => HyperSocketError::ShutDown,
    }
}

impl<R: MessageRouter> Clone for WebSocketClient<R> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            _router: PhantomData,
        }
    }
}

impl<R: MessageRouter> fmt::Debug for WebSocketClient<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketClient")
            .field("state", &self.state())
            .field("subscriptions", &self.inner.shared.subscriptions.len())
            .finish_non_exhaustive()
    }
}
