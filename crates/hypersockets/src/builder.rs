//! The type-state builder: `url` and `router` are required, and `build`
//! exists only once both are given.

use std::sync::Arc;
use std::time::Duration;

use hypersockets_core::{
    AuthProvider, ClientEvent, HeaderProvider, MessageHandler, MessageRouter, PassivePingDetector,
    Proxy, ReconnectionStrategy, Result, SubscriptionAcks, TcpKeepalive, TopicRequests, Transport,
    TransportLimits,
};
use hypersockets_router::{LaneConfig, MemoryBudget, RouterBuilder};
use tokio::sync::{mpsc, watch};

use crate::client::WebSocketClient;
use crate::config::ClientConfig;
use crate::runtime::{ConnectionCounters, Lifecycle, Outbox, Runtime, Shared};
use crate::subscription::{Subscription, SubscriptionRegistry};
use crate::{Decompression, Heartbeat, Pacing, ProtocolPing};

/// Builder state: no URL given yet. See [`WebSocketClientBuilder`].
///
/// ```compile_fail,E0599
/// # use hypersockets::prelude::*;
/// // error[E0599]: no method named `build` found for
/// // `WebSocketClientBuilder<NoUrl, WithRouter<PassThrough>>`: the URL is missing.
/// let client = WebSocketClient::builder().router(PassThrough).build();
/// ```
#[derive(Debug, Default)]
pub struct NoUrl;

/// Builder state: the URL is given. See [`WebSocketClientBuilder`].
///
/// ```
/// use hypersockets::{HasUrl, NoRouter, WebSocketClient, WebSocketClientBuilder};
///
/// let builder: WebSocketClientBuilder<HasUrl, NoRouter> =
///     WebSocketClient::builder().url("wss://stream.binance.com:9443/ws");
/// ```
#[derive(Debug)]
pub struct HasUrl(String);

/// Builder state: no router given yet. See [`WebSocketClientBuilder`].
///
/// ```
/// use hypersockets::{NoRouter, NoUrl, WebSocketClient, WebSocketClientBuilder};
///
/// // Where every builder starts: neither URL nor router yet.
/// let builder: WebSocketClientBuilder<NoUrl, NoRouter> = WebSocketClient::builder();
/// ```
#[derive(Debug, Default)]
pub struct NoRouter;

/// Builder state: the router is given, and with it the handler lanes. See
/// [`WebSocketClientBuilder`].
///
/// ```
/// # use hypersockets::prelude::*;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// use hypersockets::{HasUrl, WebSocketClientBuilder, WithRouter};
///
/// let builder: WebSocketClientBuilder<HasUrl, WithRouter<PassThrough>> = WebSocketClient::builder()
///     .url("wss://stream.binance.com:9443/ws")
///     .router(PassThrough);
/// let client = builder.build()?; // both given: `build` exists
/// # client.close().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct WithRouter<R: MessageRouter>(RouterBuilder<R>);

/// Configures a [`WebSocketClient`].
///
/// The two required pieces are tracked in the type: `url` moves `U` from
/// [`NoUrl`] to [`HasUrl`], `router` moves `Ro` from [`NoRouter`] to
/// [`WithRouter`], and `build` exists only for
/// `WebSocketClientBuilder<HasUrl, WithRouter<R>>`. Handlers can be added
/// once the router is known (their key type comes from it). Everything else
/// is optional, with defaults suited to exchange feeds.
///
/// Forgetting a required piece, adding a handler before the router, or a
/// handler or key of the wrong type is a compile error, not a run-time one:
///
/// ```compile_fail
/// use hypersockets::WebSocketClient;
///
/// // error[E0599]: no method named `build` found for struct
/// // `WebSocketClientBuilder<HasUrl>`: the router is missing.
/// let client = WebSocketClient::builder().url("wss://example.com/ws").build();
/// ```
///
/// ```
/// use std::time::Duration;
/// use hypersockets::prelude::*;
/// use hypersockets::{Heartbeat, Subscription};
///
/// struct Lines;
///
/// impl MessageRouter for Lines {
///     type Message = String;
///     type RouteKey = ();
///
///     fn parse(&self, message: &WsMessage) -> Result<String, ParseError> {
///         message.as_text().map(str::to_owned).ok_or_else(|| ParseError::new("not text"))
///     }
///
///     fn route_key(&self, _: &String) {}
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), HyperSocketError> {
/// let client = WebSocketClient::builder()
///     .url("wss://ws.okx.com:8443/ws/v5/public")
///     .router(Lines)
///     .handler((), handler_fn(|line: String| {
///         println!("{line}");
///         Ok::<_, BoxError>(())
///     }))
///     .subscribe(Subscription::new(
///         "tickers",
///         WsMessage::text(r#"{"op":"subscribe","args":[{"channel":"tickers","instId":"BTC-USDT"}]}"#),
///     ))
///     .heartbeat(Heartbeat::new(Duration::from_secs(20), WsMessage::text("ping")).reply(WsMessage::text("pong")))
///     .liveness_timeout(Duration::from_secs(30))
///     .build()?;
/// # client.close().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct WebSocketClientBuilder<U = NoUrl, Ro = NoRouter> {
    url: U,
    router: Ro,
    config: ClientConfig,
}

impl WebSocketClientBuilder<NoUrl, NoRouter> {
    pub(crate) fn new() -> Self {
        Self {
            url: NoUrl,
            router: NoRouter,
            config: ClientConfig::default(),
        }
    }
}

impl<Ro> WebSocketClientBuilder<NoUrl, Ro> {
    /// The `ws://` or `wss://` URL to connect to. Required; checked by
    /// [`build`](WebSocketClientBuilder::build).
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let symbol = "btcusdt";
    /// let client = WebSocketClient::builder()
    ///     .url(format!("wss://stream.binance.com:9443/ws/{symbol}@trade"))
    ///     .router(PassThrough)
    ///     .build()?;
    /// # client.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn url(self, url: impl Into<String>) -> WebSocketClientBuilder<HasUrl, Ro> {
        WebSocketClientBuilder {
            url: HasUrl(url.into()),
            router: self.router,
            config: self.config,
        }
    }
}

impl<Ro> WebSocketClientBuilder<NoUrl, Ro> {
    /// Sets everything a venue needs from its profile: the URL (the
    /// venue's public endpoint, or the one given to
    /// [`Venue::url`](crate::Venue::url)), the request format for topics
    /// ([`topic_requests`](Self::topic_requests)), the answers'
    /// format ([`subscription_acks`](Self::subscription_acks)), the
    /// keepalive ([`heartbeat`](Self::heartbeat),
    /// [`ping_detector`](Self::ping_detector),
    /// [`liveness_timeout`](Self::liveness_timeout)), the
    /// [`pacing`](Self::pacing), the [`decompression`](Self::decompression)
    /// and the topics the venue always needs. Call it first: later builder
    /// calls override any part of it, earlier ones are replaced.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hypersockets::prelude::*;
    /// use hypersockets::{Subscription, Venue};
    ///
    /// let client = WebSocketClient::builder()
    ///     .venue(Venue::okx())
    ///     .router(PassThrough)
    ///     .subscribe(Subscription::topic("trades:BTC-USDT"))
    ///     .subscribe_timeout(Duration::from_secs(5)) // overrides the default
    ///     .build()?;
    /// # Ok::<(), HyperSocketError>(())
    /// ```
    pub fn venue(mut self, venue: crate::Venue) -> WebSocketClientBuilder<HasUrl, Ro> {
        let url = venue.apply(&mut self.config);
        WebSocketClientBuilder {
            url: HasUrl(url),
            router: self.router,
            config: self.config,
        }
    }
}

impl<U> WebSocketClientBuilder<U, NoRouter> {
    /// The router that parses messages and picks their lane. Required; the
    /// message and route key types follow from it.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let client: WebSocketClient = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough) // from here on, handlers take `WsMessage`s keyed by `()`
    ///     .handler((), handler_fn(|_message: WsMessage| Ok::<_, BoxError>(())))
    ///     .build()?;
    /// # client.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn router<R: MessageRouter>(self, router: R) -> WebSocketClientBuilder<U, WithRouter<R>> {
        WebSocketClientBuilder {
            url: self.url,
            router: WithRouter(RouterBuilder::new(router)),
            config: self.config,
        }
    }
}

impl<U, R: MessageRouter> WebSocketClientBuilder<U, WithRouter<R>> {
    fn lanes(mut self, f: impl FnOnce(RouterBuilder<R>) -> RouterBuilder<R>) -> Self {
        self.router = WithRouter(f(self.router.0));
        self
    }

    /// Handles the messages of `key` in their own lane (a thread or task
    /// with its own queue), in order. The handler is a closure through
    /// [`handler_fn`](crate::handler_fn) or
    /// [`async_handler_fn`](crate::async_handler_fn), or any
    /// [`MessageHandler`] (a struct with `&mut self` state).
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # struct Lines;
    /// # impl MessageRouter for Lines {
    /// #     type Message = String;
    /// #     type RouteKey = &'static str;
    /// #     fn parse(&self, m: &WsMessage) -> Result<String, ParseError> {
    /// #         m.as_text().map(str::to_owned).ok_or_else(|| ParseError::new("not text"))
    /// #     }
    /// #     fn route_key(&self, line: &String) -> &'static str {
    /// #         if line.starts_with("trade") { "trades" } else { "other" }
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), HyperSocketError> {
    /// /// A handler with state of its own: the lane owns it, no lock needed.
    /// #[derive(Default)]
    /// struct Counter(u64);
    ///
    /// impl MessageHandler<String> for Counter {
    ///     async fn handle(&mut self, _trade: String) -> Result<(), BoxError> {
    ///         self.0 += 1;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(Lines)
    ///     .handler("trades", Counter::default())
    ///     .handler("other", handler_fn(|line: String| {
    ///         println!("{line}");
    ///         Ok::<_, BoxError>(())
    ///     }))
    ///     .build()?;
    /// # client.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn handler<H: MessageHandler<R::Message>>(self, key: R::RouteKey, handler: H) -> Self {
        self.lanes(|lanes| lanes.handler(key, handler))
    }

    /// Like [`handler`](Self::handler), with this lane's own settings
    /// (kind, bound, overflow policy).
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # struct Lines;
    /// # impl MessageRouter for Lines {
    /// #     type Message = String;
    /// #     type RouteKey = &'static str;
    /// #     fn parse(&self, m: &WsMessage) -> Result<String, ParseError> {
    /// #         m.as_text().map(str::to_owned).ok_or_else(|| ParseError::new("not text"))
    /// #     }
    /// #     fn route_key(&self, line: &String) -> &'static str {
    /// #         if line.starts_with("trade") { "trades" } else { "other" }
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), HyperSocketError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://ws.okx.com:8443/ws/v5/public")
    ///     .router(Lines)
    ///     // A slow consumer of tickers only ever gets the newest one.
    ///     .handler_with_config(
    ///         "other",
    ///         handler_fn(|_ticker: String| Ok::<_, BoxError>(())),
    ///         LaneConfig::default().overflow(OverflowPolicy::KeepLatest),
    ///     )
    ///     // At most 10 000 trades wait; beyond that the reader waits too.
    ///     .handler_with_config(
    ///         "trades",
    ///         handler_fn(|_trade: String| Ok::<_, BoxError>(())),
    ///         LaneConfig::default().capacity(10_000).overflow(OverflowPolicy::Block),
    ///     )
    ///     .build()?;
    /// # client.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn handler_with_config<H: MessageHandler<R::Message>>(
        self,
        key: R::RouteKey,
        handler: H,
        config: LaneConfig,
    ) -> Self {
        self.lanes(|lanes| lanes.handler_with_config(key, handler, config))
    }

    /// Handles `key` on the reader itself: no hand-off, the lowest latency,
    /// but nothing else is read while it runs. Keep it short.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # struct Lines;
    /// # impl MessageRouter for Lines {
    /// #     type Message = String;
    /// #     type RouteKey = &'static str;
    /// #     fn parse(&self, m: &WsMessage) -> Result<String, ParseError> {
    /// #         m.as_text().map(str::to_owned).ok_or_else(|| ParseError::new("not text"))
    /// #     }
    /// #     fn route_key(&self, line: &String) -> &'static str {
    /// #         if line.starts_with("trade") { "trades" } else { "other" }
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), HyperSocketError> {
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// let seen = Arc::new(AtomicU64::new(0));
    /// let counter = Arc::clone(&seen);
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(Lines)
    ///     .inline_handler("trades", move |_trade: String| {
    ///         counter.fetch_add(1, Ordering::Relaxed);
    ///         Ok::<_, BoxError>(())
    ///     })
    ///     .build()?;
    /// # client.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn inline_handler<F, E>(self, key: R::RouteKey, handler: F) -> Self
    where
        F: FnMut(R::Message) -> std::result::Result<(), E> + Send + 'static,
        E: Into<hypersockets_core::BoxError>,
    {
        self.lanes(|lanes| lanes.inline_handler(key, handler))
    }

    /// Handles messages whose key has no handler (default: they are
    /// counted as unrouted and dropped). The fallback has a lane of its
    /// own; its messages are counted as unrouted too.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # struct Lines;
    /// # impl MessageRouter for Lines {
    /// #     type Message = String;
    /// #     type RouteKey = &'static str;
    /// #     fn parse(&self, m: &WsMessage) -> Result<String, ParseError> {
    /// #         m.as_text().map(str::to_owned).ok_or_else(|| ParseError::new("not text"))
    /// #     }
    /// #     fn route_key(&self, line: &String) -> &'static str {
    /// #         if line.starts_with("trade") { "trades" } else { "other" }
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), HyperSocketError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(Lines)
    ///     .handler("trades", handler_fn(|_trade: String| Ok::<_, BoxError>(())))
    ///     .fallback(handler_fn(|other: String| {
    ///         eprintln!("unexpected: {other}");
    ///         Ok::<_, BoxError>(())
    ///     }))
    ///     .build()?;
    /// # client.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn fallback<H: MessageHandler<R::Message>>(self, handler: H) -> Self {
        self.lanes(|lanes| lanes.fallback(handler))
    }

    /// Settings for lanes added without their own (default: the process's
    /// shared lane pool, unbounded queue; see [`LaneKind`](crate::LaneKind)
    /// for when a thread or a task per lane is the better choice).
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # struct Lines;
    /// # impl MessageRouter for Lines {
    /// #     type Message = String;
    /// #     type RouteKey = &'static str;
    /// #     fn parse(&self, m: &WsMessage) -> Result<String, ParseError> {
    /// #         m.as_text().map(str::to_owned).ok_or_else(|| ParseError::new("not text"))
    /// #     }
    /// #     fn route_key(&self, line: &String) -> &'static str {
    /// #         if line.starts_with("trade") { "trades" } else { "other" }
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), HyperSocketError> {
    /// // Task lanes need a tokio runtime when the client is built.
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(Lines)
    ///     .lane_defaults(LaneConfig::default().kind(LaneKind::Task))
    ///     .handler("trades", handler_fn(|_trade: String| Ok::<_, BoxError>(())))
    ///     .build()?;
    /// # client.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn lane_defaults(self, config: LaneConfig) -> Self {
        self.lanes(|lanes| lanes.lane_defaults(config))
    }

    /// The most bytes all lanes together may hold queued (each message
    /// counts its payload plus
    /// [`MemoryBudget::MESSAGE_OVERHEAD`](crate::MemoryBudget::MESSAGE_OVERHEAD));
    /// past it
    /// the client stops reading until the handlers have worked the queues
    /// down to half of it (TCP backpressure reaches the server; nothing is
    /// dropped), and reports it
    /// ([`ClientEvent::MemoryBudgetReached`](crate::ClientEvent::MemoryBudgetReached),
    /// [`RouterMetricsSnapshot::backpressure_waits`](crate::RouterMetricsSnapshot::backpressure_waits)).
    /// Default: [`MemoryBudget::Bytes`]`(64 MiB)`. [`MemoryBudget::Unbounded`]
    /// lets queues grow as long as the handlers fall behind.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// use hypersockets::MemoryBudget;
    ///
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .handler((), handler_fn(|_message: WsMessage| Ok::<_, BoxError>(())))
    ///     .memory_budget(MemoryBudget::Bytes(16 << 20)) // 16 MiB
    ///     .build()?;
    /// assert_eq!(client.metrics().router.memory_budget, Some(16 << 20));
    /// # client.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn memory_budget(self, budget: MemoryBudget) -> Self {
        self.lanes(|lanes| lanes.memory_budget(budget))
    }
}

impl<U, Ro> WebSocketClientBuilder<U, Ro> {
    /// Subscribes on every connection (more can be added at run time with
    /// [`WebSocketClient::subscribe`]). Default: none.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .subscribe(Subscription::new(
    ///         "btcusdt@trade",
    ///         r#"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}"#,
    ///     ))
    ///     .build()?;
    /// assert_eq!(client.subscriptions()[0].id(), "btcusdt@trade");
    /// # client.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn subscribe(mut self, subscription: Subscription) -> Self {
        self.config.subscriptions.push(subscription);
        self
    }

    /// Logs in after every connect, before the subscriptions are restored.
    /// Default: none. See [`AuthProvider`] for an example.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # struct Login;
    /// # impl AuthProvider for Login {
    /// #     fn login_messages(&self) -> BoxFuture<'_, Result<Vec<WsMessage>, BoxError>> {
    /// #         Box::pin(async { Ok(vec![WsMessage::text("login")]) })
    /// #     }
    /// # }
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// use hypersockets::MemoryTransport;
    ///
    /// let (transport, server) = MemoryTransport::new();
    /// let client = WebSocketClient::builder()
    ///     .url("wss://exchange.test/ws")
    ///     .transport(transport)
    ///     .router(PassThrough)
    ///     .auth(Login) // sends "login" after every connect
    ///     .build()?;
    /// client.connect().await?;
    /// assert_eq!(server.accept().await.recv().await, Some(WsMessage::text("login")));
    /// # client.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn auth(mut self, provider: impl AuthProvider) -> Self {
        self.config.auth = Some(Arc::new(provider));
        self
    }

    /// Supplies handshake headers, asked afresh on every connect (tokens
    /// expire). Default: none. See [`HeaderProvider`], and
    /// [`StaticHeaders`](crate::StaticHeaders) for fixed ones.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// use hypersockets::{MemoryTransport, StaticHeaders};
    ///
    /// let (transport, server) = MemoryTransport::new();
    /// let client = WebSocketClient::builder()
    ///     .url("wss://exchange.test/ws")
    ///     .transport(transport)
    ///     .router(PassThrough)
    ///     .headers(StaticHeaders::new([("X-Api-Key", "abc")]))
    ///     .build()?;
    /// client.connect().await?;
    /// assert_eq!(server.accept().await.header("x-api-key"), Some("abc"));
    /// # client.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn headers(mut self, provider: impl HeaderProvider) -> Self {
        self.config.headers = Some(Arc::new(provider));
        self
    }

    /// Answers the server's application pings before parsing; a ping is
    /// answered at once, counted in `pings_answered`, and never reaches the
    /// router. Default: none. Protocol Ping frames need no detector: the
    /// transport answers them.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # struct Lines;
    /// # impl MessageRouter for Lines {
    /// #     type Message = String;
    /// #     type RouteKey = &'static str;
    /// #     fn parse(&self, m: &WsMessage) -> Result<String, ParseError> {
    /// #         m.as_text().map(str::to_owned).ok_or_else(|| ParseError::new("not text"))
    /// #     }
    /// #     fn route_key(&self, line: &String) -> &'static str {
    /// #         if line.starts_with("trade") { "trades" } else { "other" }
    /// #     }
    /// # }
    /// # fn main() -> Result<(), HyperSocketError> {
    /// // HTX: {"ping":1492420473027} → {"pong":1492420473027}
    /// let builder = WebSocketClient::builder()
    ///     .url("wss://api.huobi.pro/ws")
    ///     .router(Lines)
    ///     .ping_detector(JsonPing::default());
    /// # Ok(())
    /// # }
    /// ```
    pub fn ping_detector(mut self, detector: impl PassivePingDetector) -> Self {
        self.config.keepalive.ping_detector = Some(Arc::new(detector));
        self
    }

    /// Sends an application ping every interval, and consumes its reply.
    /// Default: none. See [`Heartbeat`]; pair it with a
    /// [`liveness_timeout`](Self::liveness_timeout).
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # fn main() -> Result<(), BoxError> {
    /// use std::time::Duration;
    ///
    /// // Bybit: {"op":"ping"} every 20 s; the connection is dead after 30 s of silence.
    /// let builder = WebSocketClient::builder()
    ///     .url("wss://stream.bybit.com/v5/public/spot")
    ///     .router(PassThrough)
    ///     .heartbeat(Heartbeat::new(Duration::from_secs(20), r#"{"op":"ping"}"#))
    ///     .liveness_timeout(Duration::from_secs(30));
    /// # Ok(())
    /// # }
    /// ```
    pub fn heartbeat(mut self, heartbeat: Heartbeat) -> Self {
        self.config.keepalive.heartbeat = Some(heartbeat);
        self
    }

    /// Declares the connection dead when nothing arrives for this long
    /// (checked every quarter of it), and reconnects. Must be longer than
    /// the heartbeat interval. Default: off (the
    /// [`protocol_ping`](Self::protocol_ping), on by default, already finds
    /// a dead connection after 40 s of silence; whichever fires first wins).
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # fn main() -> Result<(), BoxError> {
    /// use std::time::Duration;
    ///
    /// let error = WebSocketClient::builder()
    ///     .url("wss://ws.okx.com:8443/ws/v5/public")
    ///     .router(PassThrough)
    ///     .heartbeat(Heartbeat::new(Duration::from_secs(20), "ping"))
    ///     .liveness_timeout(Duration::from_secs(10)) // not longer than the interval
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(error, HyperSocketError::InvalidConfiguration { .. }));
    /// # Ok(())
    /// # }
    /// ```
    pub fn liveness_timeout(mut self, timeout: Duration) -> Self {
        self.config.keepalive.liveness_timeout = Some(timeout);
        self
    }

    /// Sends a protocol Ping after `interval` of silence and declares the
    /// connection dead after `timeout` more without any frame (see
    /// [`ProtocolPing`]). Default: on, [`ProtocolPing::default`] (20 s and
    /// 20 s). Each must be at least 4 ms (`build` checks).
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # fn main() -> Result<(), BoxError> {
    /// use std::time::Duration;
    /// use hypersockets::ProtocolPing;
    ///
    /// // A quiet private feed: find a dead peer within about 15 s.
    /// let builder = WebSocketClient::builder()
    ///     .url("wss://ws.okx.com:8443/ws/v5/private")
    ///     .router(PassThrough)
    ///     .protocol_ping(ProtocolPing::default().interval(Duration::from_secs(10)).timeout(Duration::from_secs(5)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn protocol_ping(mut self, ping: ProtocolPing) -> Self {
        self.config.keepalive.protocol_ping = Some(ping);
        self
    }

    /// Turns the [`protocol_ping`](Self::protocol_ping) off (it is on by
    /// default): for a server that mishandles Pings, or when a
    /// [`heartbeat`](Self::heartbeat) and a
    /// [`liveness_timeout`](Self::liveness_timeout) do the job.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # fn main() -> Result<(), BoxError> {
    /// use std::time::Duration;
    ///
    /// let builder = WebSocketClient::builder()
    ///     .url("wss://stream.bybit.com/v5/public/spot")
    ///     .router(PassThrough)
    ///     .no_protocol_ping()
    ///     .heartbeat(Heartbeat::new(Duration::from_secs(20), r#"{"op":"ping"}"#))
    ///     .liveness_timeout(Duration::from_secs(30));
    /// # Ok(())
    /// # }
    /// ```
    pub fn no_protocol_ping(mut self) -> Self {
        self.config.keepalive.protocol_ping = None;
        self
    }

    /// Sets the OS TCP keepalive of the connection's socket (see
    /// [`TcpKeepalive`]). Default: on, [`TcpKeepalive::default`] (first
    /// probe after 30 s idle, then every 10 s, 3 probes). Applied by the
    /// built-in transport; a custom [`Transport`] gets it in its
    /// [`ConnectRequest`](crate::ConnectRequest).
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # fn main() -> Result<(), BoxError> {
    /// use std::time::Duration;
    /// use hypersockets::TcpKeepalive;
    ///
    /// let builder = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .tcp_keepalive(TcpKeepalive::default().idle(Duration::from_secs(15)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn tcp_keepalive(mut self, keepalive: TcpKeepalive) -> Self {
        self.config.tcp_keepalive = Some(keepalive);
        self
    }

    /// Leaves OS TCP keepalive off (it is on by default; see
    /// [`tcp_keepalive`](Self::tcp_keepalive)).
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # fn main() -> Result<(), BoxError> {
    /// let builder = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .no_tcp_keepalive();
    /// # Ok(())
    /// # }
    /// ```
    pub fn no_tcp_keepalive(mut self) -> Self {
        self.config.tcp_keepalive = None;
        self
    }

    /// Connects (and reconnects) through a proxy: HTTP CONNECT or SOCKS5,
    /// with or without credentials (see [`Proxy`]). Default: none, a
    /// direct connection; the environment is read only with
    /// [`proxy_from_env`](Self::proxy_from_env). The later of the two
    /// calls wins.
    ///
    /// The connect timeout covers TCP to the proxy and its negotiation
    /// (and TLS); `wss://` is TLS end to end, checked against the
    /// exchange's host name. A proxy that cannot be reached or fails
    /// is a [`HyperSocketError::Proxy`](crate::HyperSocketError::Proxy)
    /// the client retries with its usual backoff; refused credentials
    /// are fatal. The credentials appear in no log line, error, event
    /// or `Debug` output. Applied by the built-in transport; a custom
    /// [`Transport`] gets it in its
    /// [`ConnectRequest`](crate::ConnectRequest). A proxy without a host
    /// or with port 0 makes [`build`](Self::build) fail with
    /// [`InvalidConfiguration`](crate::HyperSocketError::InvalidConfiguration)
    /// for the setting `proxy`.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # fn main() -> Result<(), BoxError> {
    /// use hypersockets::Proxy;
    ///
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .proxy(Proxy::from_url("socks5h://trader:secret@10.0.0.2:1080")?)
    ///     .build()?;
    /// assert!(!format!("{client:?}").contains("secret"));
    ///
    /// let nowhere = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .proxy(Proxy::http("", 3128))
    ///     .build();
    /// assert!(matches!(
    ///     nowhere,
    ///     Err(HyperSocketError::InvalidConfiguration { setting: "proxy", .. })
    /// ));
    /// # Ok(())
    /// # }
    /// ```
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.config.proxy = Some(proxy);
        self.config.proxy_from_env = false;
        self
    }

    /// Takes the proxy from the environment when the client is built,
    /// as curl does: `https_proxy` / `HTTPS_PROXY` for `wss://`,
    /// `http_proxy` / `HTTP_PROXY` for `ws://`, else `all_proxy` /
    /// `ALL_PROXY`, and none when `no_proxy` / `NO_PROXY` names the
    /// URL's host (see [`Proxy::from_lookup`]). Off by default: nothing
    /// reads the environment unless asked. The later of this and
    /// [`proxy`](Self::proxy) wins.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # fn main() -> Result<(), BoxError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .proxy_from_env()
    ///     .build()?; // fails if the variable that applies is no proxy URL
    /// # Ok(())
    /// # }
    /// ```
    pub fn proxy_from_env(mut self) -> Self {
        self.config.proxy = None;
        self.config.proxy_from_env = true;
        self
    }

    /// How long to wait before each reconnection attempt. Default:
    /// [`ExponentialBackoff::default`](crate::ExponentialBackoff::default) (first retry within a random
    /// 0–0.5 s, then 0.5 s doubling to 30 s, with jitter, forever). A
    /// server's `Retry-After` is waited for on top (see
    /// [`ReconnectionStrategy::delay_after`](crate::ReconnectionStrategy::delay_after)).
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # struct Lines;
    /// # impl MessageRouter for Lines {
    /// #     type Message = String;
    /// #     type RouteKey = &'static str;
    /// #     fn parse(&self, m: &WsMessage) -> Result<String, ParseError> {
    /// #         m.as_text().map(str::to_owned).ok_or_else(|| ParseError::new("not text"))
    /// #     }
    /// #     fn route_key(&self, line: &String) -> &'static str {
    /// #         if line.starts_with("trade") { "trades" } else { "other" }
    /// #     }
    /// # }
    /// # fn main() -> Result<(), HyperSocketError> {
    /// use std::time::Duration;
    ///
    /// let builder = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(Lines)
    ///     .reconnect(
    ///         ExponentialBackoff::default()
    ///             .initial(Duration::from_millis(250))
    ///             .max(Duration::from_secs(10))
    ///             .max_attempts(20),
    ///     );
    /// # Ok(())
    /// # }
    /// ```
    pub fn reconnect(mut self, strategy: impl ReconnectionStrategy) -> Self {
        self.config.reconnect = Arc::new(strategy);
        self
    }

    /// Resets the attempt count once a connection has stayed up this long
    /// (counted from the connect; one that never got through login and
    /// subscribing never resets it). Default: 30 s.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # fn main() -> Result<(), BoxError> {
    /// use std::time::Duration;
    ///
    /// // Back off afresh only after a connection has lasted a minute.
    /// let builder = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .reconnect(ExponentialBackoff::default())
    ///     .stable_after(Duration::from_secs(60));
    /// # Ok(())
    /// # }
    /// ```
    pub fn stable_after(mut self, period: Duration) -> Self {
        self.config.stable_after = period;
        self
    }

    /// The transport (swap in a test transport). Default:
    /// [`TungsteniteTransport`](crate::TungsteniteTransport). See [`WebSocketClient`] for a client
    /// driven over a [`MemoryTransport`](crate::MemoryTransport).
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// use hypersockets::MemoryTransport;
    ///
    /// let (transport, server) = MemoryTransport::new();
    /// let client = WebSocketClient::builder()
    ///     .url("wss://exchange.test/ws")
    ///     .transport(transport) // in memory: no network
    ///     .router(PassThrough)
    /// #     .close_timeout(std::time::Duration::from_millis(10))
    ///     .build()?;
    /// client.connect().await?;
    /// assert_eq!(server.connect_count(), 1);
    /// # client.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.config.transport = Arc::new(transport);
        self
    }

    /// Message, frame, read-buffer and write-buffer limits. Default:
    /// [`TransportLimits::default`].
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// use hypersockets::{MemoryTransport, TransportLimits};
    ///
    /// let (transport, server) = MemoryTransport::new();
    /// let limits = TransportLimits::default()
    ///     .max_message_size(64 << 20) // huge snapshots
    ///     .read_buffer_size(4 << 10) // one of thousands of quiet streams
    ///     .max_read_buffer_size(64 << 10);
    /// let client = WebSocketClient::builder()
    ///     .url("wss://exchange.test/ws").transport(transport)
    ///     .router(PassThrough)
    ///     .limits(limits)
    ///     .build()?;
    /// client.connect().await?;
    /// let peer = server.accept().await;
    /// assert_eq!(peer.request().limits.max_message_size, 64 << 20);
    /// assert_eq!(peer.request().limits.read_buffer_size, 4 << 10);
    /// # client.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn limits(mut self, limits: TransportLimits) -> Self {
        self.config.limits = limits;
        self
    }

    /// Inflates compressed binary frames (gzip, zlib, raw deflate, or
    /// gzip and zlib recognised by their headers) before the ping
    /// detector, the auth provider and the router see them, each held to
    /// the maximum message size. Default: [`Decompression::Off`]. See
    /// [`Decompression`].
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// use std::io::Write;
    ///
    /// use hypersockets::{Decompression, JsonPing, MemoryTransport};
    ///
    /// let gzip = |text: &str| -> std::io::Result<Vec<u8>> {
    ///     let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    ///     encoder.write_all(text.as_bytes())?;
    ///     encoder.finish()
    /// };
    /// let (transport, server) = MemoryTransport::new();
    /// let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    /// let client = WebSocketClient::builder()
    ///     .url("wss://api.huobi.pro/ws").transport(transport)
    ///     .router(PassThrough)
    ///     .handler((), handler_fn(move |message: WsMessage| {
    ///         tx.send(message)?;
    ///         Ok::<_, BoxError>(())
    ///     }))
    ///     .decompression(Decompression::Gzip)
    ///     .ping_detector(JsonPing::new("ping", "pong"))
    ///     .build()?;
    /// client.connect().await?;
    /// let peer = server.accept().await;
    /// peer.send(WsMessage::binary(gzip(r#"{"ping":1492420473027}"#)?)).await?;
    /// peer.send(WsMessage::binary(gzip(r#"{"ch":"market.btcusdt.trade.detail"}"#)?)).await?;
    /// // The ping is answered in plain text; the handler sees the text.
    /// assert_eq!(peer.recv().await, Some(WsMessage::text(r#"{"pong":1492420473027}"#)));
    /// assert_eq!(
    ///     rx.recv().await.unwrap().as_text(),
    ///     Some(r#"{"ch":"market.btcusdt.trade.detail"}"#)
    /// );
    /// # client.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn decompression(mut self, decompression: Decompression) -> Self {
        self.config.decompression = decompression;
        self
    }

    /// How fast each connection is written to: a limit on every message
    /// and one on the client's own requests (login, subscribe,
    /// unsubscribe), with writes kept for keepalive. Default:
    /// [`Pacing::default`], requests at 4 a second, nothing else limited.
    /// Set it to the venue's limits (closing the connection is what most
    /// venues do to a client that writes too fast).
    ///
    /// ```
    /// use hypersockets::prelude::*;
    /// use hypersockets::{Pacing, Rate};
    ///
    /// // Binance: 5 messages a second per connection, Pings and Pongs included.
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .pacing(Pacing::default().all(Some(Rate::per_second(5))).keepalive_reserve(1))
    ///     .build()?;
    /// # Ok::<(), HyperSocketError>(())
    /// ```
    pub fn pacing(mut self, pacing: Pacing) -> Self {
        self.config.pacing = pacing;
        self
    }

    /// Reads the venue's answers to subscription requests, so each
    /// subscription is pending until answered, then active
    /// ([`ClientEvent::SubscriptionActive`]) or refused
    /// ([`ClientEvent::SubscriptionRejected`]: removed, not restored
    /// again); a request unanswered within the
    /// [`subscribe_timeout`](Self::subscribe_timeout) is sent again, up to
    /// [`subscribe_attempts`](Self::subscribe_attempts) times. The answers
    /// are not passed to the router. Default: none (a subscription counts
    /// as done once written). Ready ones: [`BinanceAcks`](crate::BinanceAcks),
    /// [`OkxAcks`](crate::OkxAcks).
    ///
    /// ```
    /// use hypersockets::prelude::*;
    /// use hypersockets::BinanceAcks;
    ///
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .subscription_acks(BinanceAcks)
    ///     .build()?;
    /// # Ok::<(), HyperSocketError>(())
    /// ```
    pub fn subscription_acks(mut self, acks: impl SubscriptionAcks) -> Self {
        self.config.acks = Some(Arc::new(acks));
        self
    }

    /// The venue's request format for topic subscriptions
    /// ([`Subscription::topic`]): the client writes their requests, and a
    /// reconnect restores them in batches as large as the format allows.
    /// Default: none (topic subscriptions are refused). A
    /// [`Venue`](crate::Venue) sets it.
    ///
    /// ```
    /// use hypersockets::prelude::*;
    /// use hypersockets::{TopicRequests, Subscription};
    ///
    /// struct Lines;
    ///
    /// impl TopicRequests for Lines {
    ///     fn max_topics(&self) -> usize {
    ///         100
    ///     }
    ///     fn subscribe(&self, topics: &[&str], _: u64) -> WsMessage {
    ///         WsMessage::text(format!("sub {}", topics.join(",")))
    ///     }
    ///     fn unsubscribe(&self, topics: &[&str], _: u64) -> Option<WsMessage> {
    ///         Some(WsMessage::text(format!("unsub {}", topics.join(","))))
    ///     }
    /// }
    ///
    /// let client = WebSocketClient::builder()
    ///     .url("wss://exchange.test/ws")
    ///     .router(PassThrough)
    ///     .topic_requests(Lines)
    ///     .subscribe(Subscription::topic("trades"))
    ///     .subscribe(Subscription::topic("book"))
    ///     .build()?;
    /// # Ok::<(), HyperSocketError>(())
    /// ```
    pub fn topic_requests(mut self, topics: impl TopicRequests) -> Self {
        self.config.topics = Some(Arc::new(topics));
        self
    }

    /// When the connection is replaced before the venue ends it: on the
    /// venue's shutdown notice, or a margin before its maximum connection
    /// age (see [`Rotation`](crate::Rotation)). Default: off; a
    /// [`venue`](WebSocketClientBuilder::venue) profile sets the venue's.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hypersockets::prelude::*;
    /// use hypersockets::Rotation;
    ///
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/stream")
    ///     .router(PassThrough)
    ///     .rotation(Rotation::default().max_age(Some(Duration::from_secs(24 * 60 * 60))))
    ///     .build()?;
    /// # Ok::<(), HyperSocketError>(())
    /// ```
    pub fn rotation(mut self, rotation: crate::Rotation) -> Self {
        self.config.rotation = rotation;
        self
    }

    /// Reads each message's stream and number, so that a rotation
    /// delivers each numbered message once, in order, though both
    /// connections carry it for a while, and each stream's gaps and
    /// duplicates are caught ([`integrity`](Self::integrity)). Default: none; a
    /// [`venue`](WebSocketClientBuilder::venue) profile sets the venue's.
    ///
    /// For tracking, a router that numbers its parsed messages
    /// ([`MessageRouter::sequence`](crate::MessageRouter::sequence)) is
    /// asked first, and is cheaper: the reader peeks at the bytes again.
    /// The reader numbers what the router does not, and messages
    /// [`classify`](crate::MessageRouter::classify) sends to their lanes
    /// unparsed; rotations use the reader alone.
    ///
    /// ```
    /// use hypersockets::prelude::*;
    /// use hypersockets::{StreamId, StreamSequence};
    ///
    /// let client = WebSocketClient::builder()
    ///     .url("wss://exchange.test/ws")
    ///     .router(PassThrough)
    ///     // "<stream> <number> ..."
    ///     .sequence(|message: &WsMessage| {
    ///         let mut words = message.as_text()?.split(' ');
    ///         let stream = StreamId::of(&[words.next()?]);
    ///         Some(StreamSequence::new(stream, words.next()?.parse().ok()?))
    ///     })
    ///     .build()?;
    /// # Ok::<(), HyperSocketError>(())
    /// ```
    pub fn sequence(mut self, reader: impl hypersockets_core::SequenceReader) -> Self {
        self.config.sequence = Some(Arc::new(reader));
        self
    }

    /// Records every frame the client receives, and its connections'
    /// openings, failures and ends, to `recorder`'s file, for
    /// [`Replay`](crate::Replay) (see [`Recorder`](crate::Recorder)).
    /// Default: not recorded.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hypersockets::prelude::*;
    /// use hypersockets::Recorder;
    ///
    /// let path = std::env::temp_dir().join(format!("doc-record-{}.hsr", std::process::id()));
    /// let recorder = Recorder::create(&path)?;
    /// let builder = || {
    ///     WebSocketClient::builder()
    ///         .url("wss://ws.okx.com:8443/ws/v5/public")
    ///         .router(PassThrough)
    ///         .record(&recorder)
    /// };
    /// let client = builder().build()?;
    /// // One recorder, one client.
    /// let error = builder().build().unwrap_err();
    /// assert!(matches!(error, HyperSocketError::InvalidConfiguration { setting: "record", .. }));
    /// # drop(client);
    /// # std::fs::remove_file(&path)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn record(mut self, recorder: &crate::Recorder) -> Self {
        self.config.recorder = Some(recorder.clone());
        self
    }

    /// The client a replay runs: the replay's transport, reconnecting at
    /// once (the recording says when the venue let it), no proxy, and
    /// lanes that finish what is queued however long it takes.
    pub(crate) fn replayed(mut self, transport: impl Transport) -> Self {
        self.config.transport = Arc::new(transport);
        self.config.reconnect = Arc::new(hypersockets_core::FixedInterval::new(Duration::ZERO));
        self.config.proxy = None;
        self.config.proxy_from_env = false;
        self.config.headers = None;
        self.config.timeouts.close = crate::config::MAX_DURATION;
        self
    }

    /// What the client does about gaps, duplicates and checksum
    /// mismatches in numbered streams (those the router's
    /// [`sequence`](crate::MessageRouter::sequence) or the
    /// [`sequence`](Self::sequence) reader numbers): see [`Integrity`](crate::Integrity).
    /// Default: on, resynchronising a stale stream by resubscribing it.
    ///
    /// ```
    /// use hypersockets::prelude::*;
    /// use hypersockets::{Integrity, StreamId, StreamSnapshot};
    ///
    /// let client = WebSocketClient::builder()
    ///     .venue(Venue::binance_spot())
    ///     .router(PassThrough)
    ///     .integrity(Integrity::default().snapshots(
    ///         |_: StreamId, topic: Option<String>| async move {
    ///             // GET /api/v3/depth?symbol=… for `topic` here.
    ///             let _ = topic;
    ///             Ok::<_, BoxError>(StreamSnapshot::new(1, WsMessage::text("{}")))
    ///         },
    ///     ))
    ///     .build()?;
    /// # Ok::<(), HyperSocketError>(())
    /// ```
    pub fn integrity(mut self, integrity: crate::Integrity) -> Self {
        self.config.integrity = integrity;
        self
    }

    /// How long a subscription request waits for the venue's answer once
    /// it is written (with [`subscription_acks`](Self::subscription_acks)).
    /// Default: 10 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hypersockets::prelude::*;
    ///
    /// let client = WebSocketClient::builder()
    ///     .url("wss://ws.okx.com:8443/ws/v5/public")
    ///     .router(PassThrough)
    ///     .subscribe_timeout(Duration::from_secs(5))
    ///     .build()?;
    /// # Ok::<(), HyperSocketError>(())
    /// ```
    pub fn subscribe_timeout(mut self, timeout: Duration) -> Self {
        self.config.subscribe_timeout = timeout;
        self
    }

    /// How many times one connection sends a subscription request that gets
    /// no answer (with [`subscription_acks`](Self::subscription_acks)); after
    /// the last, the subscription waits for the next connection. Default: 3.
    ///
    /// ```
    /// use hypersockets::prelude::*;
    ///
    /// let client = WebSocketClient::builder()
    ///     .url("wss://ws.okx.com:8443/ws/v5/public")
    ///     .router(PassThrough)
    ///     .subscribe_attempts(5)
    ///     .build()?;
    /// # Ok::<(), HyperSocketError>(())
    /// ```
    pub fn subscribe_attempts(mut self, attempts: u32) -> Self {
        self.config.subscribe_attempts = attempts;
        self
    }

    /// TCP (and TLS) connect timeout. Default: 10 s.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// use std::time::Duration;
    /// use hypersockets::MemoryTransport;
    ///
    /// let (transport, server) = MemoryTransport::new();
    /// let client = WebSocketClient::builder()
    ///     .url("wss://exchange.test/ws").transport(transport)
    ///     .router(PassThrough)
    ///     .connect_timeout(Duration::from_secs(3))
    ///     .build()?;
    /// client.connect().await?;
    /// assert_eq!(server.accept().await.request().connect_timeout, Duration::from_secs(3));
    /// # client.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.timeouts.connect = timeout;
        self
    }

    /// WebSocket handshake timeout. Default: 10 s.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// use std::time::Duration;
    /// use hypersockets::MemoryTransport;
    ///
    /// let (transport, server) = MemoryTransport::new();
    /// let client = WebSocketClient::builder()
    ///     .url("wss://exchange.test/ws").transport(transport)
    ///     .router(PassThrough)
    ///     .handshake_timeout(Duration::from_secs(5))
    ///     .build()?;
    /// client.connect().await?;
    /// assert_eq!(server.accept().await.request().handshake_timeout, Duration::from_secs(5));
    /// # client.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.config.timeouts.handshake = timeout;
        self
    }

    /// How long to wait for the server to accept the login. Default: 10 s.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # struct Login;
    /// # impl AuthProvider for Login {
    /// #     fn login_messages(&self) -> BoxFuture<'_, Result<Vec<WsMessage>, BoxError>> {
    /// #         Box::pin(async { Ok(vec![WsMessage::text("login")]) })
    /// #     }
    /// # }
    /// # use hypersockets::prelude::*;
    /// # fn main() -> Result<(), BoxError> {
    /// use std::time::Duration;
    ///
    /// let builder = WebSocketClient::builder()
    ///     .url("wss://ws.okx.com:8443/ws/v5/private")
    ///     .router(PassThrough)
    ///     .auth(Login)
    ///     .auth_timeout(Duration::from_secs(5)); // a login unanswered by then fails
    /// # Ok(())
    /// # }
    /// ```
    pub fn auth_timeout(mut self, timeout: Duration) -> Self {
        self.config.timeouts.auth = timeout;
        self
    }

    /// Limit on each write; a write that takes longer drops the connection
    /// (a half-open peer). Default: 5 s.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # fn main() -> Result<(), BoxError> {
    /// use std::time::Duration;
    ///
    /// // A peer that stops reading is dropped after 1 s, and the client reconnects.
    /// let builder = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .write_timeout(Duration::from_secs(1));
    /// # Ok(())
    /// # }
    /// ```
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.config.timeouts.write = timeout;
        self
    }

    /// How long `close` waits for the server's Close frame, and then for
    /// the lanes to finish what is queued (a lane still busy after that is
    /// abandoned and reported as
    /// [`ClientEvent::LaneAbandoned`](crate::ClientEvent::LaneAbandoned)).
    /// Default: 2 s.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// use std::time::Duration;
    ///
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .close_timeout(Duration::from_millis(500))
    ///     .build()?;
    /// client.close().await?; // waits at most 0.5 s for the server's Close
    /// # Ok(())
    /// # }
    /// ```
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.config.timeouts.close = timeout;
        self
    }

    /// Events kept for a slow event reader before it lags. Default: 1024;
    /// at most 1 048 576. Memory is taken only for events a reader has not
    /// read yet: a client whose readers keep up holds none.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .event_capacity(16) // a reader more than 16 events behind lags
    ///     .build()?;
    /// # client.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.config.event_capacity = capacity;
        self
    }

    /// User sends that may wait for the writer, per connection: when they
    /// fill it, [`send`](WebSocketClient::send) waits for room and
    /// [`try_send`](WebSocketClient::try_send) fails with
    /// [`WriteQueueFull`](crate::HyperSocketError::WriteQueueFull). The
    /// client's own messages (pongs, heartbeats, Pings, subscriptions,
    /// Close) have a queue of their own, this size but at least 64.
    /// Default: 1024; at least 1, at most 1 048 576.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # fn main() -> Result<(), BoxError> {
    /// let error = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .writer_queue(0) // at least 1
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(
    ///     error,
    ///     HyperSocketError::InvalidConfiguration { setting: "writer_queue", .. }
    /// ));
    /// # Ok(())
    /// # }
    /// ```
    pub fn writer_queue(mut self, capacity: usize) -> Self {
        self.config.writer_queue = capacity;
        self
    }
}

impl<R: MessageRouter> WebSocketClientBuilder<HasUrl, WithRouter<R>> {
    /// Checks the settings and starts the handler lanes. The client
    /// connects when [`WebSocketClient::connect`] is called.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # struct Lines;
    /// # impl MessageRouter for Lines {
    /// #     type Message = String;
    /// #     type RouteKey = &'static str;
    /// #     fn parse(&self, m: &WsMessage) -> Result<String, ParseError> {
    /// #         m.as_text().map(str::to_owned).ok_or_else(|| ParseError::new("not text"))
    /// #     }
    /// #     fn route_key(&self, line: &String) -> &'static str {
    /// #         if line.starts_with("trade") { "trades" } else { "other" }
    /// #     }
    /// # }
    /// # fn main() {
    /// let error = WebSocketClient::builder()
    ///     .url("https://example.com")
    ///     .router(Lines)
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(
    ///     error,
    ///     HyperSocketError::InvalidConfiguration { setting: "url", .. }
    /// ));
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::InvalidConfiguration`](crate::HyperSocketError::InvalidConfiguration) naming the setting: a URL
    /// that is not `ws://` or `wss://`, a handler key given twice, a zero
    /// timeout or capacity, a duration over a year, a proxy without a host
    /// or with port 0, a proxy variable that is no proxy URL (with
    /// [`proxy_from_env`](Self::proxy_from_env)), a writer queue or event
    /// capacity over 1 048 576, a lane capacity over
    /// [`LaneConfig::capacity`](crate::LaneConfig::capacity)'s bound, a liveness timeout not
    /// longer than the heartbeat interval, a protocol ping interval or
    /// timeout under 4 ms, task lanes outside a tokio runtime, a topic
    /// subscription without a request format.
    pub fn build(self) -> Result<WebSocketClient> {
        let WebSocketClientBuilder {
            url: HasUrl(url),
            router: WithRouter(lanes),
            mut config,
        } = self;
        config.url = url;
        config.validate()?;
        if let Some(recorder) = config.recorder.take() {
            config.recording = Some(recorder.attach()?);
        }
        if config.proxy_from_env {
            config.proxy = Proxy::from_env(&config.url)?;
        }
        let events = crate::event_channel::channel(config.event_capacity);
        let lane_events = events.clone();
        let counters = Arc::new(ConnectionCounters::default());
        let lane_counters = Arc::clone(&counters);
        let span =
            tracing::info_span!("client", host = %config.host(), key = tracing::field::Empty);
        // Lanes start now, in the client's span.
        let dispatcher = span.in_scope(|| {
            lanes
                .on_event(move |event| {
                    // The router's panics on the reader come this way.
                    if let ClientEvent::CallbackPanicked { .. } = event {
                        lane_counters.inc_callback_panics();
                    }
                    lane_events.send(event);
                })
                .build()
        })?;
        let subscriptions = SubscriptionRegistry::default();
        for subscription in std::mem::take(&mut config.subscriptions) {
            subscriptions.insert(subscription);
        }
        let shared = Arc::new(Shared {
            lifecycle: watch::Sender::new(Lifecycle::default()),
            counters,
            subscriptions,
            events,
            router_stats: dispatcher.stats(),
            outbox: Outbox::default(),
        });
        let (commands_tx, commands_rx) = mpsc::channel(256);
        let topics = config.topics.is_some();
        let runtime = Runtime {
            streams: crate::runtime::Streams::new(&config.integrity),
            config,
            shared: Arc::clone(&shared),
            dispatcher,
            commands: commands_rx,
        };
        Ok(WebSocketClient::from_parts(
            shared,
            commands_tx,
            span,
            Box::new(runtime),
            topics,
        ))
    }
}
