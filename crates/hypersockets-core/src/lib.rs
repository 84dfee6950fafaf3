//! Core types of [HyperSockets]: the message, error, state, metrics and event
//! types, and the traits every other crate builds on.
//!
//! Users depend on the `hypersockets` facade, which re-exports all of this;
//! this crate changes rarely.
//!
//! [HyperSockets]: https://docs.rs/hypersockets

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod acks;
mod auth;
mod context;
mod error;
mod event;
mod handler;
mod headers;
mod message;

mod ping;
mod proxy;
mod reconnect;
mod router;
mod sequence;
mod state;
mod stream_tracker;
mod tcp_keepalive;
mod topics;
mod transport;

pub use acks::{SubscriptionAcks, SubscriptionAnswer};
pub use auth::{AuthProvider, AuthVerdict, BoxFuture};
pub use context::MessageContext;
pub use error::{BoxError, ErrorSource, HyperSocketError, ParseError, Result};
pub use event::{ClientEvent, DisconnectReason, RotationCause, StaleCause};
pub use handler::{AsyncFnHandler, FnHandler, MessageHandler, async_handler_fn, handler_fn};
pub use headers::{HeaderProvider, StaticHeaders};
pub use message::{CloseCode, CloseFrame, Utf8Bytes, WsMessage};

pub use ping::{JsonPing, PassivePingDetector, TextPing};
pub use proxy::{Proxy, ProxyKind};
pub use reconnect::{
    ExponentialBackoff, FixedInterval, MAX_RETRY_AFTER, NeverReconnect, ReconnectionStrategy,
};
pub use router::{MessageRouter, PassThrough};
pub use sequence::{
    SequenceReader, ShutdownNotice, SnapshotSource, StreamId, StreamSequence, StreamSnapshot,
};
pub use state::ConnectionState;
pub use stream_tracker::{Admitted, Resolved, StreamTracker};
pub use tcp_keepalive::TcpKeepalive;
pub use topics::TopicRequests;
pub use transport::{
    ConnectRequest, Connection, MessageSink, MessageStream, Transport, TransportLimits,
};
