//! The transports of HyperSockets: the real one over the network, and an
//! in-memory one for tests.
//!
//! - [`TungsteniteTransport`] connects with tokio-tungstenite: TCP with
//!   `TCP_NODELAY`, TLS with rustls (ring provider) for `wss://`, then the
//!   WebSocket handshake, each phase under the request's timeouts; through
//!   an HTTP CONNECT or SOCKS5 proxy when the request names one. Which
//!   certificates it trusts is a [`TlsConfig`]: by default the roots the
//!   crate features enable, or given roots, or a complete rustls
//!   configuration.
//! - `MemoryTransport` (feature `test-util`) connects to the test itself: a
//!   `MemoryServer` accepts each connection as a `MemoryPeer` that the test
//!   drives, and faults (refused connects, slow connects, abrupt drops, a
//!   peer that stops reading) are injected on demand. Any crate's tests can
//!   use it.
//!
//! Both implement the core [`Transport`] trait. Every conversion between
//! tungstenite's types and ours is in this crate, and no tungstenite type
//! appears in its public API: the one module that names them is hidden, for
//! `hypersockets-testkit` only, with no semver promise. rustls does appear,
//! in [`TlsConfig`]; the version used is re-exported as [`rustls`] so that a
//! custom configuration is built with the same one.
//!
//! # Features
//!
//! | feature | default | what it does |
//! | --- | --- | --- |
//! | `rustls-webpki-roots` | yes | trusts Mozilla's root certificates (compiled in, `webpki-roots`) on `wss://` |
//! | `rustls-native-roots` | no | trusts the operating system's certificate store (`rustls-native-certs`); the default roots when `rustls-webpki-roots` is off |
//! | `test-util` | no | the in-memory transport: `MemoryTransport`, `MemoryServer`, `MemoryPeer` |
//!
//! With neither root feature, a `wss://` connect without a [`TlsConfig`]
//! fails with [`HyperSocketError::InvalidConfiguration`] for the setting
//! `tls`.
//!
//! [`HyperSocketError::InvalidConfiguration`]: hypersockets_core::HyperSocketError::InvalidConfiguration
//! [`Transport`]: hypersockets_core::Transport

#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod close_watch;
mod connection;
#[doc(hidden)]
pub mod convert;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod linger;
#[cfg(feature = "test-util")]
mod memory;
mod proxy;
#[doc(hidden)]
pub mod read_buffer;
mod retry_after;
mod tls;
mod tungstenite_transport;
#[doc(hidden)]
pub mod upgrade;
mod upgrade_stream;

#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub use memory::{MemoryPeer, MemoryServer, MemoryTransport};
pub use rustls;
pub use tls::TlsConfig;
pub use tungstenite_transport::TungsteniteTransport;
