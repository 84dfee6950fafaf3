//! HyperSockets feeds over NATS JetStream, for when one machine is not
//! enough: feed nodes publish what their lanes handle to subjects
//! `<prefix>.<venue>.<stream>`, share the feeds among themselves through
//! leases (a dead node's feeds move to the others), and consumers read
//! them back in order, checked for gaps.
//!
//! - [`Bus`]: the connection, and the JetStream stream keeping the feeds.
//! - [`Publisher`]: a [`MessageHandler`](hypersockets::MessageHandler)
//!   per stream, publishing with a message id made from venue, stream and
//!   the venue's number, so that two nodes publishing one stream
//!   (hot-hot) store each message once.
//! - [`Leases`]: which node runs which feed replica, in a key-value
//!   bucket, with compare-and-set and a time to live.
//! - [`FeedConsumer`]: a durable or ephemeral consumer with decoded
//!   messages and the per-stream gap check.
//!
//! The `hypersockets serve` command runs a feed node from a file of
//! feeds; `docs/scale-out.md` has the topology and what each failure
//! costs.

mod bus;
mod consumer;
mod error;
mod headers;
mod leases;
mod publisher;
mod subject;

pub use bus::{Bus, BusConfig};
pub use consumer::{ConsumerConfig, ConsumerStats, Delivery, FeedConsumer, StartAt};
pub use error::NatsError;
pub use headers::UnnumberedIds;
pub use leases::{FeedSlot, FeedSpec, LeaseChange, LeaseConfig, Leases, LostCause};
pub use publisher::{
    PublishHandler, Publisher, PublisherConfig, PublisherEvent, PublisherStats, Serialized,
};
pub use subject::FeedSubject;
