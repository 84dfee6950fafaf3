//! HyperSockets: a WebSocket client runtime for high-volume exchange feeds.
//!
//! Point it at an exchange, give it a [`MessageRouter`] that turns raw
//! messages into your types, and a handler per route key: messages reach
//! each handler in the order the socket received them, different keys are
//! handled in parallel, and the connection heals itself — reconnection with
//! backoff, re-authentication and every subscription restored, while the
//! handlers carry on.
//!
//! This crate is the only one users depend on; everything is re-exported
//! here, and [`prelude`] brings the common names in with one line. See
//! [`WebSocketClientBuilder`] for a complete example.
//!
//! ```
//! use hypersockets::prelude::*;
//!
//! #[derive(Debug)]
//! struct Tick(String);
//!
//! struct Ticks;
//!
//! impl MessageRouter for Ticks {
//!     type Message = Tick;
//!     type RouteKey = ();
//!
//!     fn parse(&self, message: &WsMessage) -> Result<Tick, ParseError> {
//!         message
//!             .as_text()
//!             .map(|text| Tick(text.to_owned()))
//!             .ok_or_else(|| ParseError::new("expected text"))
//!     }
//!
//!     fn route_key(&self, _: &Tick) {}
//! }
//!
//! let tick = Ticks.parse(&WsMessage::text("BTC 43000")).unwrap();
//! assert_eq!(tick.0, "BTC 43000");
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod acks;
mod builder;
mod client;
mod config;
mod decompression;
mod event_channel;
mod events;
#[doc(hidden)]
pub mod fuzzing;
mod heartbeat;
mod integrity;
mod login;
mod manager;
mod metrics;
#[cfg(feature = "metrics")]
mod metrics_export;
mod pacing;
mod protocol_ping;
mod recording;
mod rotation;
mod runtime;
mod shards;
mod subscription;
mod venue;
mod weak;

pub use acks::{
    BinanceAcks, BybitAcks, CoinbaseAcks, HtxAcks, HyperliquidAcks, KrakenAcks, KucoinAcks, OkxAcks,
};
pub use builder::{HasUrl, NoRouter, NoUrl, WebSocketClientBuilder, WithRouter};
pub use client::WebSocketClient;
pub use decompression::Decompression;
pub use events::{EventStream, EventStreamError};
pub use heartbeat::Heartbeat;
pub use integrity::{Integrity, ResyncHandle};
pub use login::{BinanceLogon, BybitLogin, CoinbaseJwt, HtxLogin, OkxLogin};
pub use manager::{ClientManager, ManagerEvent, ManagerEventStream, ManagerMetrics};
pub use metrics::ClientMetrics;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub use metrics_export::MetricsExport;
pub use pacing::{Pacing, Rate};
pub use protocol_ping::ProtocolPing;
pub use recording::{
    Record, RecordEvent, Recorder, Recording, RecordingError, RecordingStats, Replay, ReplayPace,
    ReplayRun, ReplaySummary,
};
pub use rotation::Rotation;
pub use runtime::counters::MetricsSnapshot;
pub use shards::VenueShards;
pub use subscription::Subscription;
pub use venue::{TopicRouter, Venue, VenueLimits};
pub use weak::WeakClient;

#[doc(inline)]
pub use hypersockets_core::{
    Admitted, AsyncFnHandler, AuthProvider, AuthVerdict, BoxError, BoxFuture, ClientEvent,
    CloseCode, CloseFrame, ConnectRequest, Connection, ConnectionState, DisconnectReason,
    ErrorSource, ExponentialBackoff, FixedInterval, FnHandler, HeaderProvider, HyperSocketError,
    JsonPing, MAX_RETRY_AFTER, MessageContext, MessageHandler, MessageRouter, MessageSink,
    MessageStream, NeverReconnect, ParseError, PassThrough, PassivePingDetector, Proxy, ProxyKind,
    ReconnectionStrategy, Resolved, Result, RotationCause, SequenceReader, ShutdownNotice,
    SnapshotSource, StaleCause, StaticHeaders, StreamId, StreamSequence, StreamSnapshot,
    StreamTracker, SubscriptionAcks, SubscriptionAnswer, TcpKeepalive, TextPing, TopicRequests,
    Transport, TransportLimits, Utf8Bytes, WsMessage, async_handler_fn, handler_fn,
};
#[doc(inline)]
pub use hypersockets_router::{
    LaneConfig, LaneKind, LaneMetricsSnapshot, LatencySnapshot, MemoryBudget, OverflowPolicy,
    Percentiles, RouterMetricsSnapshot, ShutdownMode, StreamLatencySnapshot, peek_json_str,
};
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
#[doc(inline)]
pub use hypersockets_transport::{MemoryPeer, MemoryServer, MemoryTransport};
#[doc(inline)]
pub use hypersockets_transport::{TlsConfig, TungsteniteTransport, rustls};
/// The second transport, on soketto's frame codec, which negotiates
/// permessage-deflate (RFC 7692) when asked (feature `soketto`, off by
/// default); and its offer.
///
/// ```
/// use hypersockets::{PerMessageDeflate, SokettoTransport};
///
/// let transport = SokettoTransport::new().permessage_deflate(Some(PerMessageDeflate::new()));
/// assert!(transport.permessage_deflate_config().is_some());
/// ```
#[cfg(feature = "soketto")]
#[cfg_attr(docsrs, doc(cfg(feature = "soketto")))]
#[doc(inline)]
pub use hypersockets_transport_soketto::{PerMessageDeflate, SokettoTransport};
/// The transport on tokio-websockets' frame codec (feature
/// `tokio-websockets`, off by default): the default transport's connect
/// path, another codec.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), hypersockets::BoxError> {
/// use hypersockets::prelude::*;
/// use hypersockets::TokioWebsocketsTransport;
///
/// let client = WebSocketClient::builder()
///     .url("wss://stream.binance.com:9443/ws")
///     .router(PassThrough)
///     .handler((), handler_fn(|_: WsMessage| Ok::<_, std::convert::Infallible>(())))
///     .transport(TokioWebsocketsTransport::new())
///     .build()?;
/// # drop(client);
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "tokio-websockets")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-websockets")))]
#[doc(inline)]
pub use hypersockets_transport_tokio_websockets::TokioWebsocketsTransport;

/// The names most programs need: `use hypersockets::prelude::*;`.
pub mod prelude {
    #[doc(no_inline)]
    pub use crate::{
        AuthProvider, AuthVerdict, BoxError, BoxFuture, ClientEvent, ClientManager,
        ConnectionState, ExponentialBackoff, HeaderProvider, Heartbeat, HyperSocketError, JsonPing,
        LaneConfig, LaneKind, MessageHandler, MessageRouter, OverflowPolicy, ParseError,
        PassThrough, PassivePingDetector, ReconnectionStrategy, Subscription, TextPing, Venue,
        WeakClient, WebSocketClient, WsMessage, async_handler_fn, handler_fn, peek_json_str,
    };
}
