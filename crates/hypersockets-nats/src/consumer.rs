//! Reading feeds back from JetStream: a pull consumer (durable or
//! ephemeral) whose messages come with their venue and stream, decoded,
//! and checked per stream for duplicates and gaps.

use std::fmt;
use std::sync::Arc;

use async_nats::jetstream::{self, consumer};
use futures_util::StreamExt as _;
use hypersockets::{
    Admitted, BoxError, StaleCause, StreamId, StreamSequence, StreamTracker, Utf8Bytes, WsMessage,
};

use crate::NatsError;
use crate::headers;
use crate::subject::FeedSubject;

/// Where a new consumer starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartAt {
    /// At the oldest message the stream keeps (default: nothing kept is
    /// missed).
    #[default]
    Oldest,
    /// At the messages published from now on.
    New,
    /// At the stream's message with this position.
    Position(u64),
}

/// What a [`FeedConsumer`] reads.
///
/// ```
/// use hypersockets_nats::{ConsumerConfig, StartAt};
///
/// let config = ConsumerConfig::default()
///     .filter("md.binance-spot.>")
///     .durable(Some("strategy-a".into()))
///     .start_at(StartAt::New);
/// # drop(config);
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ConsumerConfig {
    pub(crate) filter: Option<String>,
    pub(crate) durable: Option<String>,
    pub(crate) start_at: StartAt,
}

impl ConsumerConfig {
    /// The subjects to read, wildcards allowed (default: every feed,
    /// `<prefix>.>`); within the bus's prefix.
    pub fn filter(mut self, subjects: impl Into<String>) -> Self {
        self.filter = Some(subjects.into());
        self
    }

    /// A durable consumer's name (default none: an ephemeral consumer,
    /// gone soon after its reader). The server remembers how far a durable
    /// one got: started again, it goes on from there.
    pub fn durable(mut self, name: Option<String>) -> Self {
        self.durable = name;
        self
    }

    /// Where a new consumer starts (default [`StartAt::Oldest`]); a
    /// durable one that exists goes on from where it was.
    pub fn start_at(mut self, start: StartAt) -> Self {
        self.start_at = start;
        self
    }
}

/// One message read from a feed.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Delivery<M> {
    /// The message, decoded.
    pub message: M,
    /// Its subject: venue and stream.
    pub subject: FeedSubject,
    /// The venue's number for it, when it has one.
    pub sequence: Option<StreamSequence>,
    /// Messages of its stream are missing before it (numbers `last + 1`
    /// up to `next - 1`, when the venue's numbers go up by one): no node
    /// published them, and no snapshot since covers them.
    pub gap: Option<StaleCause>,
    /// Its position in the JetStream stream.
    pub position: u64,
}

/// What a consumer has read so far ([`FeedConsumer::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerStats {
    /// Messages handed out.
    pub delivered: u64,
    /// Messages dropped as repeats of ones handed out (a redelivery).
    pub duplicates: u64,
    /// Gaps reported.
    pub gaps: u64,
    /// Messages that could not be decoded, or were not on a feed subject.
    pub undecodable: u64,
}

type Decode<M> = Arc<dyn Fn(WsMessage) -> Result<M, BoxError> + Send + Sync>;

/// Reads feeds from the stream in order, each message with its venue and
/// stream ([`Delivery`]), decoded by the consumer's decoder (raw
/// [`WsMessage`]s by default, as the venue sent them), and checked per
/// stream by the venue's numbers the publisher carried in its headers:
/// a repeat is dropped, a gap reported on the message after it
/// ([`Delivery::gap`]), as the client's own integrity check does on a
/// connection.
///
/// A message is acknowledged when the next is asked for, or by
/// [`close`](Self::close). A durable consumer started again goes on after
/// the last message acknowledged; messages handed out or fetched ahead but
/// not acknowledged when a reader died come again once the server's ack
/// wait (30 s) is over, after newer ones: the repeat check drops those
/// older than what their stream has delivered since.
///
/// ```no_run
/// # async fn run(bus: hypersockets_nats::Bus) -> Result<(), hypersockets::BoxError> {
/// use hypersockets_nats::ConsumerConfig;
///
/// let mut trades = bus
///     .consumer(ConsumerConfig::default().filter("md.binance-spot.>"))
///     .await?
///     .decode(|message| Ok::<_, hypersockets::BoxError>(message.as_text().unwrap_or_default().len()));
/// while let Some(delivery) = trades.next().await {
///     let delivery = delivery?;
///     if let Some(gap) = delivery.gap {
///         eprintln!("{}: missing before this one: {gap:?}", delivery.subject.stream());
///     }
///     println!("{} bytes", delivery.message);
/// }
/// # Ok(())
/// # }
/// ```
pub struct FeedConsumer<M = WsMessage> {
    messages: consumer::pull::Stream,
    prefix: String,
    filter: String,
    tracker: StreamTracker<()>,
    unacked: Option<jetstream::Message>,
    decode: Decode<M>,
    stats: ConsumerStats,
}

impl<M> fmt::Debug for FeedConsumer<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FeedConsumer")
            .field("filter", &self.filter)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl FeedConsumer {
    pub(crate) async fn start(
        stream: &jetstream::stream::Stream,
        prefix: &str,
        config: ConsumerConfig,
    ) -> Result<Self, NatsError> {
        let filter = config.filter.unwrap_or_else(|| format!("{prefix}.>"));
        if !filter.starts_with(&format!("{prefix}.")) {
            return Err(NatsError::invalid(
                "filter",
                format!("{filter:?} is not under the prefix {prefix}"),
            ));
        }
        let failed = |source: BoxError| NatsError::Consume {
            filter: filter.clone(),
            source,
        };
        let settings = consumer::pull::Config {
            durable_name: config.durable.clone(),
            filter_subject: filter.clone(),
            ack_policy: consumer::AckPolicy::Explicit,
            deliver_policy: match config.start_at {
                StartAt::Oldest => consumer::DeliverPolicy::All,
                StartAt::New => consumer::DeliverPolicy::New,
                StartAt::Position(start_sequence) => {
                    consumer::DeliverPolicy::ByStartSequence { start_sequence }
                }
            },
            ..Default::default()
        };
        let consumer = match &config.durable {
            Some(name) => stream.get_or_create_consumer(name, settings).await,
            None => stream.create_consumer(settings).await,
        }
        .map_err(|error| failed(error.into()))?;
        let messages = consumer
            .messages()
            .await
            .map_err(|error| failed(error.into()))?;
        Ok(Self {
            messages,
            prefix: prefix.to_owned(),
            filter,
            tracker: StreamTracker::new(),
            unacked: None,
            decode: Arc::new(Ok),
            stats: ConsumerStats::default(),
        })
    }

    /// The same consumer, decoding each message with `decode`; a message
    /// it fails on is reported ([`NatsError::Decode`]) and skipped.
    pub fn decode<T, E, F>(self, decode: F) -> FeedConsumer<T>
    where
        F: Fn(WsMessage) -> Result<T, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        FeedConsumer {
            messages: self.messages,
            prefix: self.prefix,
            filter: self.filter,
            tracker: self.tracker,
            unacked: self.unacked,
            decode: Arc::new(move |message| decode(message).map_err(Into::into)),
            stats: self.stats,
        }
    }
}

impl<M> FeedConsumer<M> {
    /// The next message, in stream order; `None` when the consumer is
    /// gone (deleted on the server). An error is for one message (it is
    /// skipped) or for the connection (the next call tries again).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a message not yet handed out comes on the next call
    /// (from the server, again).
    pub async fn next(&mut self) -> Option<Result<Delivery<M>, NatsError>> {
        loop {
            if let Some(done) = self.unacked.take()
                && let Err(error) = done.ack().await
            {
                tracing::debug!(error = %error, "ack not sent; the message comes again");
            }
            let message = match self.messages.next().await? {
                Ok(message) => message,
                // A heartbeat the server's idle stream missed (a busy
                // machine): the stream asks again by itself.
                Err(error)
                    if error.kind() == consumer::pull::MessagesErrorKind::MissingHeartbeat =>
                {
                    tracing::debug!("consumer: a missed heartbeat");
                    continue;
                }
                Err(error) => {
                    return Some(Err(NatsError::Consume {
                        filter: self.filter.clone(),
                        source: error.into(),
                    }));
                }
            };
            let position = message.info().map_or(0, |info| info.stream_sequence);
            let subject = match FeedSubject::parse(&self.prefix, &message.subject) {
                Ok(subject) => subject,
                Err(error) => {
                    self.stats.undecodable += 1;
                    self.unacked = Some(message);
                    return Some(Err(error));
                }
            };
            let stream = StreamId::of(&[subject.as_str()]);
            let sequence = headers::sequence(message.headers.as_ref(), stream);
            let mut gap = None;
            if let Some(at) = sequence {
                match self.check(at) {
                    Some(found) => gap = found,
                    None => {
                        self.stats.duplicates += 1;
                        self.unacked = Some(message);
                        continue;
                    }
                }
            }
            let raw = if headers::is_binary(message.headers.as_ref()) {
                Ok(WsMessage::Binary(message.payload.clone()))
            } else {
                Utf8Bytes::try_from(message.payload.clone())
                    .map(WsMessage::Text)
                    .map_err(BoxError::from)
            };
            let decoded = raw.and_then(|raw| (self.decode)(raw));
            self.unacked = Some(message);
            return Some(match decoded {
                Ok(decoded) => {
                    self.stats.delivered += 1;
                    if gap.is_some() {
                        self.stats.gaps += 1;
                    }
                    Ok(Delivery {
                        message: decoded,
                        subject,
                        sequence,
                        gap,
                        position,
                    })
                }
                Err(source) => {
                    self.stats.undecodable += 1;
                    Err(NatsError::Decode {
                        subject: subject.as_str().to_owned(),
                        source,
                    })
                }
            });
        }
    }

    /// Acknowledges the message in hand (the last handed out), waiting
    /// for the server to confirm it, and ends the consumer: a durable one
    /// started again goes on after it.
    ///
    /// # Errors
    ///
    /// The acknowledgement was not confirmed: the message may come again.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the acknowledgement may or may not have been taken,
    /// and the message may come again.
    pub async fn close(mut self) -> Result<(), NatsError> {
        match self.unacked.take() {
            Some(done) => done
                .double_ack()
                .await
                .map_err(|source| NatsError::Consume {
                    filter: self.filter.clone(),
                    source,
                }),
            None => Ok(()),
        }
    }

    /// What it has read so far.
    pub fn stats(&self) -> ConsumerStats {
        self.stats
    }

    /// Checks `at` against its stream: `None`, a repeat to drop; else
    /// the gap before it, if any. The stream goes on from it either way.
    fn check(&mut self, at: StreamSequence) -> Option<Option<StaleCause>> {
        if !StreamTracker::<()>::tracks(&at) {
            // A bare number (a trade id) may skip on some venues: only a
            // repeat is told.
            if self
                .tracker
                .last(at.stream)
                .is_some_and(|last| at.number <= last)
            {
                return None;
            }
            self.tracker.admit(at.reset(), ());
            return Some(None);
        }
        match self.tracker.admit(at, ()) {
            Admitted::Duplicate => None,
            Admitted::Stale { cause, .. } => {
                // No snapshot comes over the bus: the stream goes on from
                // here, the gap said.
                self.tracker.admit(at.reset(), ());
                Some(Some(cause))
            }
            _ => Some(None),
        }
    }
}
