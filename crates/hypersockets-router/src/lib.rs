//! Routing and the handler-lane runtime of HyperSockets.
//!
//! A [`Dispatcher`] takes each received message from the reader, finds its
//! route key (by [`classify`](hypersockets_core::MessageRouter::classify)
//! on the raw bytes, or by parsing) and puts it in that key's lane. A lane is
//! one handler with its own FIFO queue: per key, the handler sees messages in
//! the order the socket received them; different keys run in parallel.
//!
//! - Lanes run on a pool of threads shared by the process
//!   ([`LaneKind::Pool`], the default: one thread per core however many
//!   lanes and clients), on a dedicated thread ([`LaneKind::Thread`]: a hot
//!   feed, or a handler that blocks), as a tokio task ([`LaneKind::Task`]),
//!   or inline on the reader ([`RouterBuilder::inline_handler`]: lowest
//!   latency, no isolation).
//! - Queues are unbounded by default, or bounded with an
//!   [`OverflowPolicy`]; every dropped message is counted. All lanes
//!   together hold at most a [`MemoryBudget`] of queued bytes (64 MiB by
//!   default): past it the reader waits, and nothing is dropped.
//! - Nothing blocks a tokio worker: lanes never call a blocking `recv()`
//!   inside async code, dispatching never waits (a message for a full
//!   `Block` lane is held by the dispatcher until the reader awaits
//!   [`Dispatcher::ready`]), and a lane is woken only when it is parked.
//! - Handler errors are logged and counted, panics caught, counted and
//!   reported as [`ClientEvent::HandlerPanicked`](hypersockets_core::ClientEvent::HandlerPanicked);
//!   a lane never dies.
//! - [`RouterStats`] reads every lane's figures at any time, lock-free.
//!
//! See [`RouterBuilder`] for an example. Users normally get all this through
//! the `hypersockets` facade.

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod builder;
mod clock;
mod config;
mod dispatcher;
mod events;
mod excerpt;
mod json_peek;
mod lane;
mod latency;
mod metrics;
mod routed;
mod stats;
mod table;

pub use builder::RouterBuilder;
pub use config::{LaneConfig, LaneKind, MemoryBudget, OverflowPolicy, ShutdownMode};
pub use dispatcher::{Dispatch, Dispatcher, Routing};
pub use json_peek::peek_json_str;
pub use latency::{LatencySnapshot, Percentiles, StreamLatencySnapshot};
pub use metrics::{LaneMetricsSnapshot, RouterMetricsSnapshot};
pub use routed::Routed;
pub use stats::RouterStats;
