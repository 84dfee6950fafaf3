//! A second transport for HyperSockets, with permessage-deflate
//! (RFC 7692): [`SokettoTransport`], configured with
//! [`PerMessageDeflate`]. Use it through the facade's `soketto` feature:
//! `hypersockets::SokettoTransport`.
//!
//! Everything before the first frame (TCP, proxies, TLS, timeouts, the
//! HTTP upgrade and its typed errors) is the same code as
//! `TungsteniteTransport`'s. After it, frames are read and written with
//! [soketto]'s frame codec, which accepts the RSV1 bit that marks a
//! compressed message; messages, control frames and compression are this
//! crate's.
//!
//! # Why soketto, and why only its frame codec
//!
//! tungstenite rejects RSV1: its permessage-deflate pull requests have
//! been open since 2020 (tungstenite-rs #144, #235, #328 merged then
//! reverted, #426 open; tokio-tungstenite #120, #139, #251).
//! tokio-websockets 0.13 and fastwebsockets 0.10 reject RSV1 as well
//! (fastwebsockets' issue #14, its draft PR #43). Two maintained crates
//! under licences compatible with ours implement RFC 7692 on the client:
//!
//! - soketto 0.8.1 (Parity, `Apache-2.0 OR MIT`, the WebSocket layer of
//!   jsonrpsee; released December 2024): its `deflate` feature.
//! - ratchet_rs 1.2 / ratchet_deflate (Swim, `Apache-2.0`, September 2024).
//!
//! Neither bounds what a message inflates to. soketto's `Deflate` inflates
//! the whole message into a growing buffer (its `max_message_size` bounds
//! the compressed size only, "extensions may increase the total message
//! size further"); ratchet_deflate grows its buffer by half again until
//! the message is done. A 16 KiB frame can inflate to 16 MiB. soketto's
//! extension also has no context takeover: it always asks for
//! `server_no_context_takeover` and quietly turns itself off when the
//! server does not agree (its PR #107, open since September 2024, adds
//! takeover and the size cap others asked for); it panics on window bits
//! outside 9 to 15, and ignores unknown parameters instead of failing.
//! Its connection layer answers Pings without handing them on (our
//! liveness counts them), can close only with 1000 (the client answers
//! protocol errors with 1002, 1007, 1009), and on a message over its
//! limit reads the rest of that message before failing. ratchet pulls in
//! `url` (and with it the ICU crates), `tracing-subscriber` with
//! `env-filter` (ratchet_rs), and its deflate codec writes into
//! uninitialised memory through `unsafe`; its reader closes with 1002
//! whatever the error.
//!
//! So this crate takes soketto (the leaner tree, a dual licence) for what
//! it does well: the frame codec (`soketto::base`, without the `deflate`
//! feature, so without C zlib), and does the rest itself: the offer and
//! the strict check of the answer, inflating with flate2 (zlib-rs, as the
//! facade's decompression stage) under the message limit, context
//! takeover both ways, window bits, Pings, close codes. No soketto type
//! appears in its API.
//!
//! # What is supported
//!
//! | parameter | offered | in the answer |
//! | --- | --- | --- |
//! | `server_no_context_takeover` | when asked ([`PerMessageDeflate::server_no_context_takeover`]) | honoured; required when offered |
//! | `client_no_context_takeover` | by default | honoured |
//! | `server_max_window_bits` | when asked, 8 to 15 | 8 to 15, at most the offer; required when offered |
//! | `client_max_window_bits` | always (bare, or the value asked) | 8 to 15, at most the offer; 8 means we send uncompressed |
//!
//! Received messages are inflated with a 32 KiB window whatever the
//! server's, and with its window kept from message to message unless it
//! says `server_no_context_takeover`. Ours are compressed with zlib-rs at
//! level 1, the window the server allows, and reset after each message
//! when `client_no_context_takeover` is in force.
//!
//! ```
//! use hypersockets::{PassThrough, PerMessageDeflate, SokettoTransport, WebSocketClient};
//!
//! # fn main() -> hypersockets::Result<()> {
//! let client = WebSocketClient::builder()
//!     .url("wss://ws.example.com/feed")
//!     .router(PassThrough)
//!     .transport(SokettoTransport::new().permessage_deflate(Some(PerMessageDeflate::new())))
//!     .build()?;
//! # drop(client);
//! # Ok(())
//! # }
//! ```
//!
//! [soketto]: https://docs.rs/soketto

#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod connection;
mod deflate;
mod error;
mod negotiate;
mod transport;

pub use config::PerMessageDeflate;
pub use transport::SokettoTransport;
