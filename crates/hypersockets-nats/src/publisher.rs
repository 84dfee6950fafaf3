//! Publishing what lanes handle to JetStream: one handler per stream,
//! bounded acks outstanding, failures counted and reported as events.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::Subject;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, context::PublishAckFuture};
use bytes::Bytes;
use futures_util::StreamExt as _;
use hypersockets::{
    BoxError, MessageContext, MessageHandler, SequenceReader, StreamSequence, WsMessage,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, mpsc};

use crate::NatsError;
use crate::headers::{self, UnnumberedIds};
use crate::subject::{FeedSubject, token};

/// How a [`Publisher`] publishes.
///
/// ```
/// use std::time::Duration;
/// use hypersockets_nats::PublisherConfig;
///
/// let config = PublisherConfig::default()
///     .max_in_flight(10_000)
///     .max_wait(Duration::from_millis(250))
///     .ack_timeout(Duration::from_secs(2));
/// # drop(config);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct PublisherConfig {
    pub(crate) max_in_flight: usize,
    pub(crate) max_wait: Duration,
    pub(crate) ack_timeout: Duration,
    pub(crate) unnumbered: UnnumberedIds,
    pub(crate) sequence: Option<Arc<dyn SequenceReader>>,
    pub(crate) catch_up: Duration,
}

impl Default for PublisherConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 4096,
            max_wait: Duration::from_secs(1),
            ack_timeout: Duration::from_secs(5),
            unnumbered: UnnumberedIds::default(),
            sequence: None,
            catch_up: Duration::from_millis(250),
        }
    }
}

impl fmt::Debug for PublisherConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublisherConfig")
            .field("max_in_flight", &self.max_in_flight)
            .field("max_wait", &self.max_wait)
            .field("ack_timeout", &self.ack_timeout)
            .field("unnumbered", &self.unnumbered)
            .field("sequence", &self.sequence.is_some())
            .field("catch_up", &self.catch_up)
            .finish()
    }
}

impl PublisherConfig {
    /// The most publishes awaiting JetStream's ack at once, over all the
    /// publisher's handlers (default 4096). At the bound a lane waits
    /// (backpressure), at most [`max_wait`](Self::max_wait).
    pub fn max_in_flight(mut self, publishes: usize) -> Self {
        self.max_in_flight = publishes.max(1);
        self
    }

    /// The longest a lane waits for room to publish (default 1 s): past
    /// it the message is not published, the handler returns
    /// [`NatsError::Backpressure`] (the lane counts it and goes on), and
    /// an event says so. The lane never waits longer than this (but for
    /// the [catch-up](Self::catch_up) of a stream's first message on a
    /// connection).
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// How long JetStream has to acknowledge a publish (default 5 s);
    /// past it the publish counts as failed (it may still have been
    /// stored: a duplicate window makes a retry safe).
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = timeout;
        self
    }

    /// How messages without a venue number get their dedupe id (default
    /// [`UnnumberedIds::ByContent`]).
    pub fn unnumbered(mut self, ids: UnnumberedIds) -> Self {
        self.unnumbered = ids;
        self
    }

    /// The longest a stream's first numbered message on a new connection
    /// waits for the stream to have what comes before it (default 250 ms;
    /// zero: no wait).
    ///
    /// Two nodes publishing one stream store each message once, first come
    /// first stored, which keeps the venue's order while both publish
    /// every message; but a node that starts (or reconnects) mid-stream
    /// could get its first message in before the other node's copy of the
    /// one before it. So its first message waits, watching the subject,
    /// until the message before it is published (by the other node), or
    /// this long (no other node runs the stream). The lane's messages
    /// queue meanwhile; nothing is dropped.
    pub fn catch_up(mut self, wait: Duration) -> Self {
        self.catch_up = wait;
        self
    }

    /// Where raw messages' numbers come from (default none: every message
    /// is unnumbered). A venue profile's reader:
    /// `.sequence(move |m: &WsMessage| venue.sequence_of(m))`.
    pub fn sequence(mut self, reader: impl SequenceReader) -> Self {
        self.sequence = Some(Arc::new(reader));
        self
    }
}

/// A message ready to publish: its payload and, when it has one, the
/// venue's number for it (the dedupe id and the consumers' gap check come
/// from it).
///
/// ```
/// use hypersockets::{StreamId, StreamSequence};
/// use hypersockets_nats::Serialized;
///
/// let at = StreamSequence::new(StreamId::of(&["btcusdt@trade"]), 42);
/// let message = Serialized::new(&b"{\"price\":1}"[..]).sequence(Some(at));
/// # drop(message);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Serialized {
    pub(crate) payload: Bytes,
    pub(crate) sequence: Option<StreamSequence>,
    pub(crate) binary: bool,
}

impl Serialized {
    /// A payload, with no number.
    pub fn new(payload: impl Into<Bytes>) -> Self {
        Self {
            payload: payload.into(),
            sequence: None,
            binary: false,
        }
    }

    /// The venue's number for it.
    pub fn sequence(mut self, sequence: Option<StreamSequence>) -> Self {
        self.sequence = sequence;
        self
    }

    /// Marks the payload as binary (consumers get it as a binary
    /// message); text by default.
    pub fn binary(mut self, binary: bool) -> Self {
        self.binary = binary;
        self
    }
}

/// What a publisher has done so far ([`Publisher::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PublisherStats {
    /// Messages handed to the NATS client.
    pub published: u64,
    /// Publishes JetStream acknowledged as stored.
    pub stored: u64,
    /// Publishes JetStream acknowledged as duplicates (another node, or a
    /// retry, stored them first).
    pub duplicates: u64,
    /// Publishes that failed, or whose ack did not come in time.
    pub failed: u64,
    /// Messages not published: no room within `max_wait`.
    pub refused: u64,
    /// Messages the serializer failed on.
    pub unserializable: u64,
    /// Publishes awaiting their ack now.
    pub in_flight: u64,
}

/// What a publisher reports as it goes ([`Publisher::events`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum PublisherEvent {
    /// Publishing failed (a publish, an ack, room to publish, a
    /// serializer). Reported at most once a second: `more` failures came
    /// since the last report.
    Failed {
        /// The latest failure.
        error: Arc<NatsError>,
        /// Failures since the last event, besides this one.
        more: u64,
    },
    /// Publishes are acknowledged again after failures.
    Recovered {
        /// Failures since the last event.
        failed: u64,
    },
}

/// Publishes what lanes handle to JetStream, on the subjects
/// `<prefix>.<venue>.<stream>`: [`handler`](Self::handler) gives each
/// stream's lane a handler. Cheap to clone: the clones share the bound on
/// acks outstanding, the counts and the events.
///
/// Each message carries a `Nats-Msg-Id` made from venue, stream and the
/// venue's number (or its payload's hash, see [`UnnumberedIds`]), the same
/// on every node: JetStream stores once what two nodes publish within the
/// stream's duplicate window (hot-hot redundancy).
///
/// A handler waits for room when [`max_in_flight`](PublisherConfig::max_in_flight)
/// publishes await acks, at most [`max_wait`](PublisherConfig::max_wait);
/// it never waits for the ack itself: a task of the publisher's collects
/// acks, in order.
///
/// ```no_run
/// # async fn run() -> Result<(), hypersockets::BoxError> {
/// use hypersockets::prelude::*;
/// use hypersockets_nats::{Bus, BusConfig, PublisherConfig};
///
/// let bus = Bus::connect("nats://127.0.0.1:4222", BusConfig::default()).await?;
/// let venue = Venue::binance_spot();
/// let publisher = bus.venue_publisher(&venue, PublisherConfig::default())?;
/// let client = WebSocketClient::builder()
///     .venue(venue.clone())
///     .router(venue.router())
///     .handler("btcusdt@trade".to_owned(), publisher.handler("btcusdt@trade")?)
///     .subscribe(Subscription::topic("btcusdt@trade"))
///     .build()?;
/// client.connect().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Publisher {
    shared: Arc<Shared>,
}

struct Shared {
    jetstream: jetstream::Context,
    client: async_nats::Client,
    stream: jetstream::stream::Stream,
    prefix: String,
    venue: String,
    config: PublisherConfig,
    room: Arc<Semaphore>,
    pending: mpsc::UnboundedSender<Pending>,
    counters: Arc<Counters>,
}

/// A publish awaiting its ack.
struct Pending {
    ack: PublishAckFuture,
    deadline: tokio::time::Instant,
    subject: Subject,
    _room: OwnedSemaphorePermit,
}

#[derive(Default)]
struct Counters {
    published: AtomicU64,
    stored: AtomicU64,
    duplicates: AtomicU64,
    failed: AtomicU64,
    refused: AtomicU64,
    unserializable: AtomicU64,
    reports: Reports,
}

/// Failure events, at most one a second.
struct Reports {
    events: broadcast::Sender<PublisherEvent>,
    state: Mutex<ReportState>,
}

struct ReportState {
    last: Option<Instant>,
    unreported: u64,
    failing: bool,
}

impl Default for Reports {
    fn default() -> Self {
        Self {
            events: broadcast::channel(256).0,
            state: Mutex::new(ReportState {
                last: None,
                unreported: 0,
                failing: false,
            }),
        }
    }
}

impl Reports {
    /// Counts a failure; reports it unless one was reported within the
    /// last second.
    fn failed(&self, error: NatsError) {
        tracing::debug!(error = %error, "publish failed");
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        state.failing = true;
        let now = Instant::now();
        if state
            .last
            .is_some_and(|last| now.duration_since(last) < Duration::from_secs(1))
        {
            state.unreported += 1;
            return;
        }
        let more = std::mem::take(&mut state.unreported);
        state.last = Some(now);
        drop(state);
        tracing::warn!(error = %error, more, "publishing to jetstream failed");
        let _ = self.events.send(PublisherEvent::Failed {
            error: Arc::new(error),
            more,
        });
    }

    /// A publish was stored: after failures, says so once.
    fn succeeded(&self) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if !state.failing {
            return;
        }
        state.failing = false;
        let failed = std::mem::take(&mut state.unreported);
        state.last = None;
        drop(state);
        tracing::info!(failed, "publishing to jetstream recovered");
        let _ = self.events.send(PublisherEvent::Recovered { failed });
    }
}

impl fmt::Debug for Publisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publisher")
            .field("prefix", &self.shared.prefix)
            .field("venue", &self.shared.venue)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// A publisher for `venue` under `prefix`; its ack collector runs on
    /// the current runtime.
    pub(crate) fn new(
        jetstream: jetstream::Context,
        client: async_nats::Client,
        stream: jetstream::stream::Stream,
        prefix: &str,
        venue: &str,
        config: PublisherConfig,
    ) -> Result<Self, NatsError> {
        // Checks the names once, for every handler.
        FeedSubject::new(prefix, venue, "-")?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| NatsError::invalid("publisher", "made outside a tokio runtime"))?;
        let counters = Arc::new(Counters::default());
        let (pending, queue) = mpsc::unbounded_channel();
        runtime.spawn(collect(queue, Arc::clone(&counters)));
        Ok(Self {
            shared: Arc::new(Shared {
                jetstream,
                client,
                stream,
                prefix: prefix.to_owned(),
                venue: venue.to_owned(),
                room: Arc::new(Semaphore::new(config.max_in_flight)),
                config,
                pending,
                counters,
            }),
        })
    }

    /// A handler publishing the raw messages of `stream` (a topic, as
    /// subscribed), with the numbers the config's
    /// [`sequence`](PublisherConfig::sequence) reader finds.
    ///
    /// # Errors
    ///
    /// An empty stream name.
    pub fn handler(&self, stream: &str) -> Result<PublishHandler<WsMessage>, NatsError> {
        let reader = self.shared.config.sequence.clone();
        self.handler_with(stream, move |message: &WsMessage| {
            let sequence = reader.as_ref().and_then(|reader| reader.sequence(message));
            let payload = match message {
                WsMessage::Text(text) => Serialized::new(text.to_bytes()),
                WsMessage::Binary(data) => Serialized::new(data.clone()).binary(true),
                _ => return Ok(None),
            };
            Ok::<_, BoxError>(Some(payload.sequence(sequence)))
        })
    }

    /// A handler publishing `stream`'s messages of type `M` as `serialize`
    /// writes them (`None`: not published).
    ///
    /// ```no_run
    /// # async fn run(bus: hypersockets_nats::Bus) -> Result<(), hypersockets::BoxError> {
    /// use hypersockets_nats::{PublisherConfig, Serialized};
    ///
    /// struct Trade { id: u64, price: f64 }
    ///
    /// let publisher = bus.publisher("mybroker", PublisherConfig::default())?;
    /// let handler = publisher.handler_with("trades", |trade: &Trade| {
    ///     Ok::<_, hypersockets::BoxError>(Some(Serialized::new(format!("{},{}", trade.id, trade.price))))
    /// })?;
    /// # drop(handler);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// An empty stream name.
    pub fn handler_with<M, E, F>(
        &self,
        stream: &str,
        serialize: F,
    ) -> Result<PublishHandler<M>, NatsError>
    where
        F: Fn(&M) -> Result<Option<Serialized>, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        let subject = FeedSubject::new(&self.shared.prefix, &self.shared.venue, stream)?;
        let id_base = format!("{}.{}", token(&self.shared.venue), token(stream));
        Ok(PublishHandler {
            shared: Arc::clone(&self.shared),
            subject: Subject::from(subject.as_str()),
            id_base,
            connection: None,
            serialize: Box::new(move |message| serialize(message).map_err(Into::into)),
        })
    }

    /// What it has done so far.
    pub fn stats(&self) -> PublisherStats {
        let counters = &self.shared.counters;
        let free = self.shared.room.available_permits();
        PublisherStats {
            published: counters.published.load(Ordering::Relaxed),
            stored: counters.stored.load(Ordering::Relaxed),
            duplicates: counters.duplicates.load(Ordering::Relaxed),
            failed: counters.failed.load(Ordering::Relaxed),
            refused: counters.refused.load(Ordering::Relaxed),
            unserializable: counters.unserializable.load(Ordering::Relaxed),
            in_flight: self.shared.config.max_in_flight.saturating_sub(free) as u64,
        }
    }

    /// Its failure reports, from now on. A receiver that falls 256 events
    /// behind loses the oldest.
    pub fn events(&self) -> broadcast::Receiver<PublisherEvent> {
        self.shared.counters.reports.events.subscribe()
    }

    /// Waits until every publish made so far has its ack (or has failed).
    /// For when publishing has stopped (a shutdown, a test): meanwhile it
    /// holds the room to publish, so that lanes publishing wait behind it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    pub async fn flush(&self) {
        let all = u32::try_from(self.shared.config.max_in_flight).unwrap_or(u32::MAX);
        // Closed never: the semaphore lives as long as `self`.
        let _ = self.shared.room.acquire_many(all).await;
    }
}

/// Publishes one stream's messages (see [`Publisher::handler`]).
pub struct PublishHandler<M> {
    shared: Arc<Shared>,
    subject: Subject,
    id_base: String,
    /// The connection of the last numbered message published.
    connection: Option<u64>,
    #[allow(clippy::type_complexity)]
    serialize: Box<dyn Fn(&M) -> Result<Option<Serialized>, BoxError> + Send + Sync>,
}

impl<M> fmt::Debug for PublishHandler<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishHandler")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl<M: Send + 'static> MessageHandler<M> for PublishHandler<M> {
    async fn handle(&mut self, message: M) -> Result<(), BoxError> {
        self.publish(message, None).await
    }

    async fn handle_in_context(
        &mut self,
        message: M,
        context: MessageContext,
    ) -> Result<(), BoxError> {
        self.publish(message, Some(context.connection)).await
    }
}

impl<M: Send + 'static> PublishHandler<M> {
    /// Publishes one message that came on `connection`.
    async fn publish(&mut self, message: M, connection: Option<u64>) -> Result<(), BoxError> {
        let serialized = match (self.serialize)(&message) {
            Ok(Some(serialized)) => serialized,
            Ok(None) => return Ok(()),
            Err(source) => {
                self.shared
                    .counters
                    .unserializable
                    .fetch_add(1, Ordering::Relaxed);
                return Err(self.failed(NatsError::Serialize {
                    subject: self.subject.to_string(),
                    source,
                }));
            }
        };
        drop(message);
        // A numbered stream's first message on a connection: this node
        // (re)starts mid-stream.
        if let Some(at) = serialized.sequence
            && connection.is_some_and(|connection| self.connection != Some(connection))
        {
            self.connection = connection;
            self.catch_up(&at).await;
        }
        let shared = &self.shared;
        let started = tokio::time::Instant::now();
        let wait_until = started + shared.config.max_wait;
        let room =
            match tokio::time::timeout_at(wait_until, Arc::clone(&shared.room).acquire_owned())
                .await
            {
                Ok(Ok(room)) => room,
                _ => {
                    shared.counters.refused.fetch_add(1, Ordering::Relaxed);
                    return Err(self.failed(NatsError::Backpressure {
                        subject: self.subject.to_string(),
                        in_flight: shared.config.max_in_flight,
                    }));
                }
            };
        let id = headers::message_id(
            &self.id_base,
            serialized.sequence.as_ref(),
            &serialized.payload,
            shared.config.unnumbered,
        );
        let headers = headers::write(
            id.as_deref(),
            serialized.sequence.as_ref(),
            serialized.binary,
        );
        let publish = PublishMessage::build()
            .payload(serialized.payload)
            .headers(headers);
        let sent = tokio::time::timeout_at(
            wait_until,
            shared.jetstream.send_publish(self.subject.clone(), publish),
        )
        .await;
        let ack = match sent {
            Ok(Ok(ack)) => ack,
            Ok(Err(error)) => {
                return Err(self.failed(NatsError::Publish {
                    subject: self.subject.to_string(),
                    source: error.into(),
                }));
            }
            Err(_) => {
                return Err(self.failed(NatsError::Publish {
                    subject: self.subject.to_string(),
                    source: "the nats client took no more messages within max_wait".into(),
                }));
            }
        };
        shared.counters.published.fetch_add(1, Ordering::Relaxed);
        tracing::trace!(subject = %self.subject, "published");
        // The collector lives as long as `shared`: it cannot be gone.
        let _ = shared.pending.send(Pending {
            ack,
            deadline: tokio::time::Instant::now() + shared.config.ack_timeout,
            subject: self.subject.clone(),
            _room: room,
        });
        Ok(())
    }
}

impl<M> PublishHandler<M> {
    /// Waits, up to the config's `catch_up`, until the stream has the
    /// message before `at` (or one after it): then this node's copy of `at`
    /// cannot be stored before another node's copy of an earlier one.
    async fn catch_up(&self, at: &StreamSequence) {
        let wait = self.shared.config.catch_up;
        if wait.is_zero() {
            return;
        }
        let before = at.previous.unwrap_or_else(|| at.number.saturating_sub(1));
        let stored_number = |headers: Option<&async_nats::HeaderMap>| {
            headers
                .and_then(|headers| headers.get(headers::NUMBER))
                .and_then(|number| number.as_str().parse::<u64>().ok())
        };
        let deadline = tokio::time::Instant::now() + wait;
        let caught_up = async {
            // Watch first, then look at what is stored: nothing published
            // in between is missed.
            let mut watch = self
                .shared
                .client
                .subscribe(self.subject.clone())
                .await
                .ok()?;
            if let Ok(last) = self
                .shared
                .stream
                .get_last_raw_message_by_subject(&self.subject)
                .await
                && stored_number(Some(&last.headers)).is_some_and(|number| number >= before)
            {
                return Some(());
            }
            while let Some(message) = watch.next().await {
                if stored_number(message.headers.as_ref()).is_some_and(|number| number >= before) {
                    return Some(());
                }
            }
            None
        };
        let outcome = tokio::time::timeout_at(deadline, caught_up).await;
        tracing::debug!(
            subject = %self.subject,
            caught_up = matches!(outcome, Ok(Some(()))),
            "first message on a connection"
        );
    }

    /// Counts and reports a failure; the error for the lane.
    fn failed(&self, error: NatsError) -> BoxError {
        if matches!(error, NatsError::Publish { .. }) {
            self.shared.counters.failed.fetch_add(1, Ordering::Relaxed);
        }
        let text = error.to_string();
        self.shared.counters.reports.failed(error);
        text.into()
    }
}

/// Collects acks in publish order until every publisher handle is gone
/// and every ack is in.
async fn collect(mut queue: mpsc::UnboundedReceiver<Pending>, counters: Arc<Counters>) {
    while let Some(pending) = queue.recv().await {
        let outcome = tokio::time::timeout_at(pending.deadline, pending.ack).await;
        match outcome {
            Ok(Ok(ack)) => {
                if ack.duplicate {
                    counters.duplicates.fetch_add(1, Ordering::Relaxed);
                } else {
                    counters.stored.fetch_add(1, Ordering::Relaxed);
                }
                counters.reports.succeeded();
            }
            Ok(Err(error)) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                counters.reports.failed(NatsError::Publish {
                    subject: pending.subject.to_string(),
                    source: error.into(),
                });
            }
            Err(_) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                counters.reports.failed(NatsError::Publish {
                    subject: pending.subject.to_string(),
                    source: "no ack from jetstream within ack_timeout".into(),
                });
            }
        }
    }
}
