//! The testkit's error type.

use std::time::Duration;

use crate::ConnectionId;

/// `Result` with [`TestkitError`] as the error.
pub type Result<T, E = TestkitError> = std::result::Result<T, E>;

/// Everything that can go wrong when starting or driving a
/// [`MockExchange`](crate::MockExchange).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestkitError {
    /// The listener could not be bound to `127.0.0.1:0`.
    #[error("failed to bind the listener")]
    Bind(#[source] std::io::Error),

    /// The TLS certificate or server configuration could not be built.
    #[error("failed to set up tls")]
    Tls(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),

    /// The configuration is not usable.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),

    /// A helper program (a `nats-server`) could not be run or read.
    #[error("helper process failed")]
    Process(#[source] std::io::Error),

    /// A wait did not see its condition in time.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// What was waited for.
        what: String,
        /// How long it waited.
        after: Duration,
    },

    /// No connection has this id.
    #[error("unknown connection {0}")]
    UnknownConnection(ConnectionId),

    /// The connection has already closed.
    #[error("connection {0} is closed")]
    ConnectionClosed(ConnectionId),

    /// The target cannot be used with this command (e.g. sending a message
    /// to [`Target::Next`](crate::Target::Next)).
    #[error("invalid target: {0}")]
    InvalidTarget(&'static str),

    /// A list was asked for whole, but the connection's ring of recent
    /// messages has dropped older ones (see [`Recording`](crate::Recording)):
    /// [`Recording::All`](crate::Recording::All) keeps everything, and the
    /// `Control::recent_*` accessors return what is left.
    #[error(
        "the record of {what} on connection {connection} is incomplete: the oldest {dropped} \
         were dropped and {kept} kept (Recording::All keeps everything)"
    )]
    Truncated {
        /// The connection.
        connection: ConnectionId,
        /// Which list (e.g. `messages received`).
        what: String,
        /// How many of the oldest were dropped.
        dropped: u64,
        /// How many of the most recent are kept.
        kept: usize,
    },

    /// No stream of the exchange's configuration has this name.
    #[error("unknown stream {0}")]
    UnknownStream(String),

    /// The fault cannot apply to this stream (e.g.
    /// [`StreamFault::WrongChecksum`](crate::StreamFault::WrongChecksum) on
    /// a stream without checksums).
    #[error("invalid fault: {0}")]
    InvalidFault(String),

    /// The scenario was replaced by another one before it finished.
    #[error("scenario was replaced before it finished")]
    ScenarioReplaced,
}
