//! The connection to NATS, and the JetStream stream every feed publishes
//! into.

use std::fmt;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use hypersockets::Venue;

use crate::leases::{FeedSpec, LeaseConfig, Leases};
use crate::subject::check_prefix;
use crate::{ConsumerConfig, FeedConsumer, NatsError, Publisher, PublisherConfig};

/// Where feeds go: the subject prefix and the JetStream stream that keeps
/// them.
///
/// ```
/// use std::time::Duration;
/// use hypersockets_nats::BusConfig;
///
/// let config = BusConfig::default()
///     .prefix("md")
///     .stream("MARKET_DATA")
///     .duplicate_window(Duration::from_secs(120))
///     .max_age(Duration::from_secs(3600));
/// # drop(config);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BusConfig {
    pub(crate) prefix: String,
    pub(crate) stream: String,
    pub(crate) duplicate_window: Duration,
    pub(crate) max_age: Duration,
    pub(crate) max_bytes: Option<u64>,
    pub(crate) memory: bool,
    pub(crate) timeout: Duration,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            prefix: "md".to_owned(),
            stream: "HYPERSOCKETS".to_owned(),
            duplicate_window: Duration::from_secs(120),
            max_age: Duration::from_secs(24 * 3600),
            max_bytes: Some(10 << 30),
            memory: false,
            timeout: Duration::from_secs(5),
        }
    }
}

impl BusConfig {
    /// The subjects' prefix (default `md`): feeds publish to
    /// `<prefix>.<venue>.<stream>`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The subjects' prefix.
    ///
    /// ```
    /// assert_eq!(hypersockets_nats::BusConfig::default().prefix_of(), "md");
    /// ```
    pub fn prefix_of(&self) -> &str {
        &self.prefix
    }

    /// The JetStream stream keeping `<prefix>.>` (default `HYPERSOCKETS`),
    /// created with this config's settings when absent; an existing one
    /// is used as it is.
    pub fn stream(mut self, name: impl Into<String>) -> Self {
        self.stream = name.into();
        self
    }

    /// How long JetStream remembers message ids, storing one copy of what
    /// several nodes publish (default 2 minutes): the longest two nodes'
    /// copies of a message may be apart.
    pub fn duplicate_window(mut self, window: Duration) -> Self {
        self.duplicate_window = window;
        self
    }

    /// How long the stream keeps messages (default 24 hours).
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// The most the stream keeps, oldest dropped first (default 10 GiB;
    /// `None`: no bound but the server's).
    pub fn max_bytes(mut self, bytes: Option<u64>) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// Keeps the stream in memory rather than on disk (default false).
    pub fn memory(mut self, memory: bool) -> Self {
        self.memory = memory;
        self
    }

    /// How long a connect or a JetStream request may take (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// A connection to NATS with the feeds' JetStream stream: what makes
/// [publishers](Self::publisher), [leases](Self::leases) and
/// [consumers](Self::consumer). Cheap to clone (one connection).
///
/// ```no_run
/// # async fn run() -> Result<(), hypersockets_nats::NatsError> {
/// use hypersockets_nats::{Bus, BusConfig};
///
/// let bus = Bus::connect("nats://127.0.0.1:4222", BusConfig::default()).await?;
/// # drop(bus);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Bus {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    stream: stream::Stream,
    config: BusConfig,
}

impl fmt::Debug for Bus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the URL: it may hold a user and password.
        f.debug_struct("Bus")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Bus {
    /// Connects to the NATS server at `url` (`nats://host:port`; several,
    /// comma-separated, for a cluster) and finds or creates the stream.
    /// The connection reconnects by itself; publishes fail meanwhile.
    ///
    /// # Errors
    ///
    /// An invalid prefix, a server that cannot be reached within the
    /// config's timeout, or no JetStream.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a cancelled connect leaves nothing behind (a stream it
    /// created stays, and is found next time).
    pub async fn connect(url: &str, config: BusConfig) -> Result<Self, NatsError> {
        check_prefix(&config.prefix)?;
        if config.stream.is_empty() || config.stream.contains(['.', '*', '>', ' ']) {
            return Err(NatsError::invalid(
                "stream",
                format!("{:?} is not a stream name", config.stream),
            ));
        }
        let client = async_nats::ConnectOptions::new()
            .name("hypersockets")
            .connection_timeout(config.timeout)
            .request_timeout(Some(config.timeout))
            .connect(url)
            .await
            .map_err(|error| NatsError::Connect(error.into()))?;
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(config.timeout)
            .build(client.clone());
        let stream = jetstream
            .get_or_create_stream(stream::Config {
                name: config.stream.clone(),
                subjects: vec![format!("{}.>", config.prefix)],
                duplicate_window: config.duplicate_window,
                max_age: config.max_age,
                max_bytes: config
                    .max_bytes
                    .map_or(-1, |bytes| i64::try_from(bytes).unwrap_or(i64::MAX)),
                storage: if config.memory {
                    stream::StorageType::Memory
                } else {
                    stream::StorageType::File
                },
                discard: stream::DiscardPolicy::Old,
                ..Default::default()
            })
            .await
            .map_err(|error| NatsError::Stream {
                stream: config.stream.clone(),
                source: error.into(),
            })?;
        tracing::info!(stream = %config.stream, prefix = %config.prefix, "connected to nats");
        Ok(Self {
            client,
            jetstream,
            stream,
            config,
        })
    }

    /// Its settings.
    pub fn config(&self) -> &BusConfig {
        &self.config
    }

    /// A publisher for the feeds of `venue` (its name, one subject token:
    /// `binance-spot`).
    ///
    /// # Errors
    ///
    /// An empty venue name, or no tokio runtime.
    pub fn publisher(&self, venue: &str, config: PublisherConfig) -> Result<Publisher, NatsError> {
        Publisher::new(
            self.jetstream_for(&config),
            self.client.clone(),
            self.stream.clone(),
            &self.config.prefix,
            venue,
            config,
        )
    }

    /// A publisher for a venue profile's feeds: its name, and its numbers
    /// for dedupe ids and gap checks (unless `config` has a reader).
    ///
    /// # Errors
    ///
    /// No tokio runtime.
    pub fn venue_publisher(
        &self,
        venue: &Venue,
        config: PublisherConfig,
    ) -> Result<Publisher, NatsError> {
        let config = if config.sequence.is_some() {
            config
        } else {
            let reader = venue.clone();
            config.sequence(move |message: &hypersockets::WsMessage| reader.sequence_of(message))
        };
        self.publisher(venue.name(), config)
    }

    /// Takes part in sharing `feeds` among the nodes using the same
    /// bucket, as `node` (see [`Leases`]).
    ///
    /// # Errors
    ///
    /// Invalid feed or node names, or a bucket that cannot be made.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is held until it returns.
    pub async fn leases(
        &self,
        node: &str,
        feeds: Vec<FeedSpec>,
        config: LeaseConfig,
    ) -> Result<Leases, NatsError> {
        Leases::start(&self.jetstream, node, feeds, config).await
    }

    /// A consumer of the stream's feeds (see [`FeedConsumer`]).
    ///
    /// # Errors
    ///
    /// A filter outside the prefix, or a consumer JetStream refuses.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe; a durable consumer created stays on the server.
    pub async fn consumer(&self, config: ConsumerConfig) -> Result<FeedConsumer, NatsError> {
        FeedConsumer::start(&self.stream, &self.config.prefix, config).await
    }

    /// Waits until everything published on this connection has reached
    /// the server.
    ///
    /// # Errors
    ///
    /// The connection is gone.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn flush(&self) -> Result<(), NatsError> {
        self.client
            .flush()
            .await
            .map_err(|error| NatsError::Connect(error.into()))
    }

    /// A JetStream context whose own bound on acks outstanding never binds
    /// before the publisher's.
    fn jetstream_for(&self, config: &PublisherConfig) -> jetstream::Context {
        jetstream::ContextBuilder::new()
            .timeout(config.ack_timeout)
            .max_ack_inflight(config.max_in_flight.saturating_mul(2).max(1))
            .backpressure_on_inflight(true)
            .build(self.client.clone())
    }
}
