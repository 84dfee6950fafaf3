//! A scriptable mock exchange for testing WebSocket clients, without the
//! internet.
//!
//! [`MockExchange`] is a real WebSocket server on `127.0.0.1` with a random
//! free port (optionally `wss://` with a certificate made at start) that
//! behaves like a crypto exchange and misbehaves on command:
//!
//! - **Market data**: named streams ([`StreamConfig`]) of Binance-like JSON,
//!   each message carrying its stream's name and sequence number, at a set
//!   [`Rate`] or as fast as possible, sent to a connection only once it has
//!   subscribed.
//! - **Subscriptions** in Binance or OKX style ([`SubscriptionProtocol`]),
//!   with error answers for unknown streams; **login** checked against a key
//!   and signature ([`AuthConfig`]), private streams refused before it.
//! - **Rotation**: [global](StreamConfig::global) streams numbered by the
//!   venue, as trade ids are, the same on every connection; connection
//!   lifetimes ([`ExchangeConfig::connection_lifetime`]) ending in a 1001
//!   close after the venue's shutdown notice: what a client that opens its
//!   next connection before the old one goes is tested against.
//! - **Keepalive** ([`KeepaliveConfig`]): protocol or application pings with
//!   deadlines and a disconnect after N misses, answers to client pings, an
//!   idle cutoff.
//! - **Handshakes** recorded, and answered with an HTTP error or a stall on
//!   command ([`HandshakeResponse`]).
//! - **Faults** ([`Fault`]) per connection or for the next one: close codes,
//!   dropped or reset TCP, frames cut in half, half-open silence, invalid
//!   UTF-8, oversized frames, garbage bytes; refused connections; and
//!   [`Scenario`]s that script them deterministically ("after 500 messages
//!   drop the connection, then refuse the next 2 connects").
//! - **Chaos** ([`ChaosProxy`]): a TCP proxy in front of the exchange (or
//!   any server) that adds latency and jitter, limits bandwidth, slices
//!   writes into tiny segments, black-holes one direction or both, and
//!   resets connections, all changeable at run time and seeded for replay.
//! - **Sequence integrity** ([`StreamFault`]): gaps, duplicates, swapped
//!   messages and wrong checksums on one stream, at a known number; book
//!   streams with Kraken [checksums](StreamConfig::checksum) of the book
//!   after each delta, [snapshots](StreamConfig::snapshot_on_subscribe) on
//!   subscription, and REST-style snapshots
//!   ([`Control::book_snapshot`]) for a client to sync from.
//! - **Records** ([`Control`]) for assertions: the messages each connection
//!   received, and the exact sequence of market data messages the server
//!   fully wrote to it ([`SentRecord`]), so a test can check exactly-once,
//!   in-order delivery. Bounded by default ([`Recording`]): counts and
//!   order-sensitive [`Checksum`]s always ([`RecordSummary`]), and a ring
//!   of the most recent messages, so the exchange can serve a run of hours;
//!   [`Recording::All`] keeps every message for tests that read whole lists.
//!
//! Sequence numbers are per connection and per stream: a connection gets
//! messages 1, 2, 3, … of each stream it subscribes to, unless the stream
//! is [global](StreamConfig::global) (numbered by the venue, as trade ids
//! are, the same on every connection). What a client
//! received on a connection must be, per stream, a prefix of what the
//! server recorded as written to it (all of it when the connection closed
//! gracefully), with no gap and no duplicate.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//!
//! use futures_util::{SinkExt, StreamExt};
//! use hypersockets_testkit::{ExchangeConfig, MockExchange, Rate, StreamConfig};
//! use tokio_tungstenite::tungstenite::Message;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! const WAIT: Duration = Duration::from_secs(5);
//!
//! let exchange = MockExchange::start(
//!     ExchangeConfig::new().stream(
//!         StreamConfig::trades("btcusdt@trade")
//!             .rate(Rate::AsFastAsPossible)
//!             .limit(3),
//!     ),
//! )
//! .await?;
//!
//! // Any WebSocket client will do; here, plain tokio-tungstenite.
//! let (mut client, _) = tokio_tungstenite::connect_async(exchange.url()).await?;
//! client
//!     .send(Message::text(
//!         r#"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}"#,
//!     ))
//!     .await?;
//!
//! let mut texts = Vec::new();
//! while texts.len() < 4 {
//!     match tokio::time::timeout(WAIT, client.next()).await? {
//!         Some(Ok(Message::Text(text))) => texts.push(text.to_string()),
//!         Some(Ok(_)) => {}
//!         other => panic!("unexpected {other:?}"),
//!     }
//! }
//! assert_eq!(texts[0], r#"{"result":null,"id":1}"#);
//!
//! // The server's record of what it wrote, to check delivery against.
//! let control = exchange.control();
//! let conn = control.wait_for_subscription("btcusdt@trade", WAIT).await?;
//! control.wait_for_sent(conn, 3, WAIT).await?;
//! let sent = control.sent(conn)?;
//! assert_eq!(sent.iter().map(|r| r.seq()).collect::<Vec<_>>(), [1, 2, 3]);
//! assert!(sent.iter().map(|r| r.text()).eq(texts[1..].iter().map(String::as_str)));
//! assert_eq!(control.received_text(conn)?.len(), 1);
//!
//! drop(client);
//! exchange.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Waiting
//!
//! The `wait_for_*` methods of [`Control`] and [`ScenarioHandle::finished`]
//! wake on every change the exchange records, and fail with
//! [`TestkitError::Timeout`] after the given time: tests never need to sleep
//! to synchronise with the server.

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod auth;
mod book;
mod compression;
mod config;
mod connection;
mod control;
mod emulation;
mod error;
mod fault;
mod handshake;
mod io;
mod keepalive;
mod nats;
mod protocol;
mod proxy;
mod record;
mod recording;
mod scenario;
mod server;
mod state;
mod stream;
mod subscribe;
mod tls;

pub use auth::{AuthConfig, LoginRequest};
pub use book::book_checksum;
pub use compression::Compression;
pub use config::ExchangeConfig;
pub use control::Control;
pub use emulation::Emulation;
pub use error::{Result, TestkitError};
pub use fault::{Fault, StreamFault, Target};
pub use handshake::HandshakeResponse;
pub use keepalive::{ClientPings, KeepaliveConfig, KeepaliveStats, PingStyle, ServerPing};
pub use nats::NatsServer;
pub use protocol::SubscriptionProtocol;
pub use proxy::{ChaosProxy, Direction, ProxyConnectionId, Toxics};
pub use record::{
    CloseCause, ConnectionId, ConnectionInfo, ConnectionStatus, DeliveryError, DeliveryReport,
    HandshakeRecord, SentRecord, StreamDelivery,
};
pub use recording::{Checksum, RecordSummary, Recorded, Recording, StreamSummary};
pub use scenario::{Scenario, ScenarioHandle};
pub use server::MockExchange;
pub use stream::{MessageFn, Rate, StreamConfig, StreamKind};

/// Re-exported so users can build messages for [`Control::send`] and read
/// [`Control::received`] without adding the core crate.
pub use hypersockets_core::{CloseCode, CloseFrame, Utf8Bytes, WsMessage};

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn public_types_cross_threads() {
        send_sync::<MockExchange>();
        send_sync::<Control>();
        send_sync::<ScenarioHandle>();
        send_sync::<StreamFault>();
        send_sync::<TestkitError>();
        send_sync::<DeliveryError>();
        send_sync::<ExchangeConfig>();
        send_sync::<Scenario>();
        send_sync::<ChaosProxy>();
        send_sync::<Recording>();
        send_sync::<RecordSummary>();
        send_sync::<Recorded<WsMessage>>();
        send_sync::<Recorded<SentRecord>>();
    }
}
