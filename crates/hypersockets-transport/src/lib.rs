//! The tokio-tungstenite transport of HyperSockets.
//!
//! [`TungsteniteTransport`] implements the core [`Transport`] trait. Every
//! conversion between tungstenite's types and ours stays inside this crate:
//! no tungstenite type appears in its public API.
//!
//! [`Transport`]: hypersockets_core::Transport

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod connection;
mod convert;
mod error;
mod tungstenite_transport;

pub use tungstenite_transport::TungsteniteTransport;
