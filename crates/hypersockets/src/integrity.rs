//! Keeping each numbered stream whole: what the client does about gaps,
//! duplicates and checksum mismatches.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hypersockets_core::{SnapshotSource, StaleCause, StreamId};
use tokio::sync::Notify;

/// How the client keeps each numbered stream whole: per stream, by the
/// venue's own numbers, taken from your router's parse
/// ([`MessageRouter::sequence`](crate::MessageRouter::sequence): no
/// second pass over the bytes) or else read from the raw message (a
/// [`SequenceReader`](crate::SequenceReader); every venue profile has one).
///
/// A message that says which number comes before it (Binance's `U`/`pu`,
/// OKX's `prevSeqId`, HTX's `prevSeqNum`, KuCoin's `sequenceStart`) is
/// checked against the last one delivered on its stream, across
/// reconnections too:
/// - a duplicate, or a delta older than the last delivered, is dropped and
///   counted ([`stream_duplicates`](crate::MetricsSnapshot::stream_duplicates));
/// - a gap makes the stream *stale*
///   ([`ClientEvent::StreamStale`](crate::ClientEvent::StreamStale),
///   [`stream_gaps`](crate::MetricsSnapshot::stream_gaps)): its messages are
///   no longer delivered as if valid, and that stream alone is
///   resynchronised while every other stream flows on;
/// - a venue's snapshot or restart marker (OKX's snapshot action, Bybit's
///   `u` of 1) starts the stream afresh, never a gap.
///
/// A stale stream is resynchronised by **resubscribing** it (the default:
/// venues that send a snapshot on subscribe, such as OKX, Bybit and
/// Kraken; its messages are dropped until that snapshot), or, with
/// [`snapshots`](Self::snapshots), by a **snapshot you fetch** (Binance's
/// and KuCoin's books: a REST call): its messages are buffered meanwhile,
/// then the snapshot is delivered, and the buffered deltas after it,
/// Binance's way (those the snapshot covers dropped, the first kept
/// following on from it). Either way
/// [`ClientEvent::StreamResynced`](crate::ClientEvent::StreamResynced)
/// says when the stream is valid again.
///
/// A checksum lives in the handler's state (Kraken's CRC32 of the top of
/// the book): a handler that finds a mismatch tells the client through a
/// [`ResyncHandle`], and the same targeted resync follows.
///
/// Messages with a bare number (a trade id) are not tracked: such ids may
/// skip or run unordered on some venues, so they prove no gap.
///
/// On by default; it acts only on messages the router or a sequence reader
/// numbers.
///
/// ```
/// use std::time::Duration;
/// use hypersockets::Integrity;
///
/// let integrity = Integrity::default()
///     .max_buffered(50_000)
///     .snapshot_timeout(Duration::from_secs(5));
/// let resync = integrity.resync_handle();
/// # drop(resync);
/// assert!(integrity.is_enabled());
/// assert!(!Integrity::off().is_enabled());
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Integrity {
    pub(crate) enabled: bool,
    pub(crate) snapshots: Option<Arc<dyn SnapshotSource>>,
    pub(crate) max_buffered: usize,
    pub(crate) snapshot_timeout: Duration,
    pub(crate) requests: ResyncHandle,
}

impl Default for Integrity {
    fn default() -> Self {
        Self {
            enabled: true,
            snapshots: None,
            max_buffered: 10_000,
            snapshot_timeout: Duration::from_secs(10),
            requests: ResyncHandle::default(),
        }
    }
}

impl Integrity {
    /// No tracking: every message is delivered as it comes.
    ///
    /// ```
    /// assert!(!hypersockets::Integrity::off().is_enabled());
    /// ```
    pub fn off() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// Whether streams are tracked.
    ///
    /// ```
    /// assert!(hypersockets::Integrity::default().is_enabled());
    /// ```
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Resynchronises stale streams with snapshots from `source` (say, the
    /// venue's REST depth endpoint) instead of resubscribing them. With
    /// it, a stream's first message waits for its first snapshot too, as
    /// a book must start from one. None by default.
    ///
    /// ```
    /// use hypersockets::{BoxError, Integrity, StreamId, StreamSnapshot, WsMessage};
    ///
    /// let integrity = Integrity::default().snapshots(|_: StreamId, topic: Option<String>| async move {
    ///     // Fetch https://api.binance.com/api/v3/depth?symbol=… for `topic` here.
    ///     let _ = topic;
    ///     Ok::<_, BoxError>(StreamSnapshot::new(1, WsMessage::text(r#"{"lastUpdateId":1}"#)))
    /// });
    /// # drop(integrity);
    /// ```
    pub fn snapshots(mut self, source: impl SnapshotSource) -> Self {
        self.snapshots = Some(Arc::new(source));
        self
    }

    /// How many messages a stale stream buffers while its snapshot is
    /// fetched; past it the oldest go (counted). 10,000 by default.
    ///
    /// ```
    /// let integrity = hypersockets::Integrity::default().max_buffered(100);
    /// # drop(integrity);
    /// ```
    pub fn max_buffered(mut self, messages: usize) -> Self {
        self.max_buffered = messages;
        self
    }

    /// How long one snapshot fetch may take before it is tried again. 10 s
    /// by default.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let integrity = hypersockets::Integrity::default().snapshot_timeout(Duration::from_secs(3));
    /// # drop(integrity);
    /// ```
    pub fn snapshot_timeout(mut self, timeout: Duration) -> Self {
        self.snapshot_timeout = timeout;
        self
    }

    /// A handle to ask for a stream's resynchronisation from a handler (a
    /// checksum mismatch); it works once this configuration is the
    /// client's. Clones of an `Integrity` share it: give each client its
    /// own `Integrity::default()` (a request reaches one client only).
    /// With tracking off, a request resubscribes the stream.
    ///
    /// ```
    /// let integrity = hypersockets::Integrity::default();
    /// let resync = integrity.resync_handle();
    /// # drop(resync);
    /// ```
    pub fn resync_handle(&self) -> ResyncHandle {
        self.requests.clone()
    }
}

impl fmt::Debug for Integrity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Integrity")
            .field("enabled", &self.enabled)
            .field("snapshots", &self.snapshots.is_some())
            .field("max_buffered", &self.max_buffered)
            .field("snapshot_timeout", &self.snapshot_timeout)
            .finish_non_exhaustive()
    }
}

/// Asks the client to resynchronise one stream, from any thread, without
/// waiting: for a handler whose checksum does not match (Kraken's book),
/// or that knows its state is wrong for another reason. The stream goes
/// stale ([`ClientEvent::StreamStale`](crate::ClientEvent::StreamStale))
/// and is resynchronised as a gap would be, while the others flow on.
///
/// Get one from [`Integrity::resync_handle`] before building the client,
/// and move it into the handler.
///
/// ```
/// use hypersockets::{Integrity, StreamId};
///
/// let integrity = Integrity::default();
/// let resync = integrity.resync_handle();
/// // In the handler, when the book's checksum does not match:
/// resync.checksum_mismatch(StreamId::of(&["book:BTC/USD"]));
/// ```
#[derive(Clone, Default)]
pub struct ResyncHandle {
    inner: Arc<ResyncRequests>,
}

#[derive(Default)]
struct ResyncRequests {
    queue: std::sync::Mutex<Vec<(StreamId, StaleCause)>>,
    notify: Notify,
}

impl ResyncHandle {
    /// The stream's checksum did not match: resynchronise it.
    ///
    /// ```
    /// # let resync = hypersockets::Integrity::default().resync_handle();
    /// resync.checksum_mismatch(hypersockets::StreamId::of(&["book:BTC/USD"]));
    /// ```
    pub fn checksum_mismatch(&self, stream: StreamId) {
        self.push(stream, StaleCause::Checksum);
    }

    /// Resynchronise the stream.
    ///
    /// ```
    /// # let resync = hypersockets::Integrity::default().resync_handle();
    /// resync.resync(hypersockets::StreamId::of(&["books:BTC-USDT"]));
    /// ```
    pub fn resync(&self, stream: StreamId) {
        self.push(stream, StaleCause::Requested);
    }

    fn push(&self, stream: StreamId, cause: StaleCause) {
        // Held for a push: never long enough to block anyone.
        self.inner
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((stream, cause));
        self.inner.notify.notify_one();
    }

    /// Waits for requests and takes them.
    ///
    /// Cancel safe: nothing is taken until a request is there.
    pub(crate) async fn requested(&self) -> Vec<(StreamId, StaleCause)> {
        loop {
            let notified = self.inner.notify.notified();
            let taken = std::mem::take(
                &mut *self
                    .inner
                    .queue
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            if !taken.is_empty() {
                return taken;
            }
            notified.await;
        }
    }
}

impl fmt::Debug for ResyncHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResyncHandle").finish_non_exhaustive()
    }
}
