//! The transports of HyperSockets: the real one over the network, and an
//! in-memory one for tests.
//!
//! - [`TungsteniteTransport`] connects with tokio-tungstenite: TCP with
//!   `TCP_NODELAY`, TLS with rustls (ring provider) for `wss://`, then the
//!   WebSocket handshake, each phase under the request's timeouts. Which
//!   certificates it trusts is a [`TlsConfig`]: Mozilla's roots by default,
//!   the operating system's store, given roots, or a complete rustls
//!   configuration.
//! - [`MemoryTransport`] connects to the test itself: a [`MemoryServer`]
//!   accepts each connection as a [`MemoryPeer`] that the test drives, and
//!   faults (refused connects, slow connects, abrupt drops, a peer that stops
//!   reading) are injected on demand. Any crate's tests can use it.
//!
//! Both implement the core [`Transport`] trait. Every conversion between
//! tungstenite's types and ours is in this crate, and no tungstenite type
//! appears in its public API: the one module that names them is hidden, for
//! `hypersockets-testkit` only, with no semver promise. rustls does, in [`TlsConfig`]; the version
//! used is re-exported as [`rustls`] so that a custom configuration is built
//! with the same one.
//!
//! [`Transport`]: hypersockets_core::Transport

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod connection;
#[doc(hidden)]
pub mod convert;
mod error;
mod memory;
mod tls;
mod tungstenite_transport;
mod upgrade_stream;

pub use memory::{MemoryPeer, MemoryServer, MemoryTransport};
pub use rustls;
pub use tls::TlsConfig;
pub use tungstenite_transport::TungsteniteTransport;
