//! The crate's error type.

use hypersockets::BoxError;

/// What went wrong talking to NATS, or with what was asked of it.
///
/// A source error from the NATS client is kept (its message never holds
/// the URL's credentials: the URL is not part of any error).
///
/// ```
/// use hypersockets_nats::NatsError;
///
/// let error = NatsError::InvalidConfig { setting: "feed", reason: "an empty name".into() };
/// assert_eq!(error.to_string(), "invalid feed: an empty name");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsError {
    /// A setting, name or subject cannot be used.
    #[error("invalid {setting}: {reason}")]
    InvalidConfig {
        /// Which setting.
        setting: &'static str,
        /// Why.
        reason: String,
    },
    /// The connection to the NATS server could not be made.
    #[error("nats connect failed")]
    Connect(#[source] BoxError),
    /// The JetStream stream could not be found or created (is JetStream
    /// on?).
    #[error("jetstream stream {stream} unavailable")]
    Stream {
        /// The stream's name.
        stream: String,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// The lease bucket could not be found, created or read.
    #[error("lease bucket {bucket} unavailable")]
    Bucket {
        /// The bucket's name.
        bucket: String,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// A message could not be published, or JetStream did not store it.
    #[error("publish to {subject} failed")]
    Publish {
        /// Where it went.
        subject: String,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// Too many publishes were awaiting JetStream's acks for longer than
    /// the publisher waits: the message was not published.
    #[error("publish to {subject} refused: {in_flight} acks outstanding")]
    Backpressure {
        /// Where it was going.
        subject: String,
        /// The acks outstanding (the publisher's bound).
        in_flight: usize,
    },
    /// A message could not be serialized for publishing.
    #[error("serializing for {subject} failed")]
    Serialize {
        /// Where it was going.
        subject: String,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// A consumer could not be created, or its messages stopped.
    #[error("consumer on {filter} failed")]
    Consume {
        /// The consumer's subject filter.
        filter: String,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// A consumed message could not be decoded into the consumer's type;
    /// it is acknowledged and skipped.
    #[error("decoding a message of {subject} failed")]
    Decode {
        /// Its subject.
        subject: String,
        /// Why.
        #[source]
        source: BoxError,
    },
}

impl NatsError {
    pub(crate) fn invalid(setting: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidConfig {
            setting,
            reason: reason.into(),
        }
    }
}
