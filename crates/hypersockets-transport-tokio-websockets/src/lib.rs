//! The tokio-websockets transport of HyperSockets: the same connect path as
//! the default transport (TCP, proxies, TLS, the handshake and its typed
//! answers), then [tokio-websockets]' frame codec instead of tungstenite's.
//!
//! The codec is strict (it passes the Autobahn suite), masks and validates
//! UTF-8 with SIMD, and hands payloads over as shared `Bytes` with no copy.
//! Pick it with the facade's feature `tokio-websockets` and
//! `.transport(TokioWebsocketsTransport::new())`; docs/performance.md,
//! "Choosing a transport", has the measured difference.
//!
//! No tokio-websockets type appears in this crate's API.
//!
//! [tokio-websockets]: https://docs.rs/tokio-websockets

#![cfg_attr(docsrs, feature(doc_cfg))]

mod connection;
mod convert;
mod error;
mod transport;

pub use transport::TokioWebsocketsTransport;
