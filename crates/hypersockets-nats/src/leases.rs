//! Sharing feeds among nodes: a lease per feed replica in a JetStream
//! key-value bucket, taken with compare-and-set, renewed well within its
//! time to live, and lost when it cannot be renewed; a node that dies
//! stops renewing, its leases expire, and the others take them.
//!
//! The bucket holds, with every entry expiring `ttl` after it was last
//! written (the bucket's max age, so that it works on NATS 2.9):
//! - `lease.<feed>.<slot>`: the node running that replica of the feed
//!   (slots `0..replicas`);
//! - `node.<node>`: a live node and how many leases it holds, which every
//!   node reads to take its fair share and hand over its excess.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures_util::TryStreamExt as _;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::NatsError;

/// A feed the nodes share: its name (letters, digits, `-` and `_`) and
/// how many nodes run it at once (1, or 2 for hot-hot redundancy, whose
/// copies JetStream's duplicate window stores once).
///
/// ```
/// use hypersockets_nats::FeedSpec;
///
/// let feed = FeedSpec::new("binance-trades").replicas(2);
/// assert_eq!(feed.name(), "binance-trades");
/// assert_eq!(feed.replica_count(), 2);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FeedSpec {
    pub(crate) name: String,
    pub(crate) replicas: u8,
}

impl FeedSpec {
    /// A feed run by one node (default).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            replicas: 1,
        }
    }

    /// How many nodes run it at once: 1 (default) or 2.
    pub fn replicas(mut self, replicas: u8) -> Self {
        self.replicas = replicas;
        self
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many nodes run it at once.
    pub fn replica_count(&self) -> u8 {
        self.replicas
    }
}

/// One replica of a feed: what a lease is for.
///
/// ```
/// use hypersockets_nats::FeedSlot;
///
/// let slot = FeedSlot::new("binance-trades", 1);
/// assert_eq!(slot.to_string(), "binance-trades#1");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FeedSlot {
    feed: String,
    slot: u8,
}

impl FeedSlot {
    /// Replica `slot` of `feed`.
    pub fn new(feed: impl Into<String>, slot: u8) -> Self {
        Self {
            feed: feed.into(),
            slot,
        }
    }

    /// The feed's name.
    pub fn feed(&self) -> &str {
        &self.feed
    }

    /// Which replica.
    pub fn slot(&self) -> u8 {
        self.slot
    }

    fn key(&self) -> String {
        format!("lease.{}.{}", self.feed, self.slot)
    }
}

impl fmt::Display for FeedSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.feed, self.slot)
    }
}

/// A change in what this node runs ([`Leases::next`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseChange {
    /// The node holds this replica now: start running the feed.
    Acquired(FeedSlot),
    /// The node no longer holds it: stop running the feed now.
    Lost {
        /// Which replica.
        slot: FeedSlot,
        /// Why.
        cause: LostCause,
    },
}

/// Why a lease was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LostCause {
    /// Renewing it failed for so long that it may have expired: the node
    /// stops the feed before another can have taken it over (cut off
    /// from NATS, its publishes fail anyway).
    Expired,
    /// Another node holds it (it expired, and was taken).
    TakenOver,
    /// Handed over for balance: another node held fewer.
    Released,
    /// The node is shutting down.
    Stopped,
}

/// How leases are kept.
///
/// ```
/// use std::time::Duration;
/// use hypersockets_nats::LeaseConfig;
///
/// let config = LeaseConfig::default().bucket("feed_leases").ttl(Duration::from_secs(3));
/// assert_eq!(config.takeover_bound(), Duration::from_secs(3) + 3 * Duration::from_secs(1));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LeaseConfig {
    pub(crate) bucket: String,
    pub(crate) ttl: Duration,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        Self {
            bucket: "hypersockets_leases".to_owned(),
            ttl: Duration::from_secs(6),
        }
    }
}

impl LeaseConfig {
    /// The key-value bucket (default `hypersockets_leases`), created when
    /// absent; every node sharing feeds uses the same one, with the same
    /// TTL.
    pub fn bucket(mut self, bucket: impl Into<String>) -> Self {
        self.bucket = bucket.into();
        self
    }

    /// How long a lease lives unrenewed (default 6 s). Leases are renewed
    /// every third of it; a dead node's feeds move within
    /// [`takeover_bound`](Self::takeover_bound).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long a lease lives unrenewed.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let config = hypersockets_nats::LeaseConfig::default();
    /// assert_eq!(config.ttl_of(), Duration::from_secs(6));
    /// ```
    pub fn ttl_of(&self) -> Duration {
        self.ttl
    }

    /// How often leases are renewed and the bucket is read: a third of
    /// the TTL.
    pub fn renew_interval(&self) -> Duration {
        self.ttl / 3
    }

    /// The longest from a node's death until its feeds run elsewhere (but
    /// for the time to connect): its last renewal lives `ttl`; NATS
    /// removes the expired entry within about a second (counted as one
    /// renewal interval, at least a second); the others see it at their
    /// next read (one interval) and, when the dead node's own entry
    /// outlives its leases, their fair share grows one read later.
    pub fn takeover_bound(&self) -> Duration {
        self.ttl + 3 * self.renew_interval().max(Duration::from_secs(1))
    }
}

/// This node's part in sharing feeds: it holds leases on feed replicas,
/// and says through [`next`](Self::next) which to start and stop.
///
/// Every feed replica is held by one node at a time: a lease is taken
/// with compare-and-set, renewed every [renewal
/// interval](LeaseConfig::renew_interval) with compare-and-set on its
/// revision, and given up (the feed stopped) when renewing has failed for
/// two intervals, before it can have expired. A node takes free replicas
/// up to its fair share (all replicas over the live nodes, rounded up),
/// never two of one feed, and hands one over each interval while another
/// live node holds two fewer. A node that is cut off from NATS, or
/// paused, may run a feed a moment after another took it: both publish
/// with the same message ids, and the stream's duplicate window stores
/// the messages once.
///
/// ```no_run
/// # async fn run(bus: hypersockets_nats::Bus) -> Result<(), hypersockets_nats::NatsError> {
/// use hypersockets_nats::{FeedSpec, LeaseChange, LeaseConfig};
///
/// let feeds = vec![FeedSpec::new("binance-trades").replicas(2), FeedSpec::new("okx-books")];
/// let mut leases = bus.leases("node-a", feeds, LeaseConfig::default()).await?;
/// while let Some(change) = leases.next().await {
///     match change {
///         LeaseChange::Acquired(slot) => println!("start {slot}"),
///         LeaseChange::Lost { slot, cause } => println!("stop {slot}: {cause:?}"),
///         _ => {}
///     }
/// }
/// # Ok(())
/// # }
/// ```
pub struct Leases {
    node: String,
    changes: mpsc::UnboundedReceiver<LeaseChange>,
    view: Arc<View>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// What the task shows of its state.
#[derive(Default)]
struct View {
    held: Mutex<BTreeSet<FeedSlot>>,
    live_nodes: AtomicUsize,
}

impl fmt::Debug for Leases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leases")
            .field("node", &self.node)
            .field("held", &self.held())
            .field("live_nodes", &self.live_nodes())
            .finish_non_exhaustive()
    }
}

/// Whether `name` may be part of a key: letters, digits, `-`, `_`.
fn check_name(setting: &'static str, name: &str) -> Result<(), NatsError> {
    if !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    {
        Ok(())
    } else {
        Err(NatsError::invalid(
            setting,
            format!("{name:?}: only letters, digits, - and _"),
        ))
    }
}

impl Leases {
    pub(crate) async fn start(
        jetstream: &jetstream::Context,
        node: &str,
        feeds: Vec<FeedSpec>,
        config: LeaseConfig,
    ) -> Result<Self, NatsError> {
        check_name("node", node)?;
        let mut names = BTreeSet::new();
        for feed in &feeds {
            check_name("feed", &feed.name)?;
            if !(1..=2).contains(&feed.replicas) {
                return Err(NatsError::invalid(
                    "replicas",
                    format!("{}: {} (1 or 2)", feed.name, feed.replicas),
                ));
            }
            if !names.insert(feed.name.clone()) {
                return Err(NatsError::invalid("feed", format!("{} twice", feed.name)));
            }
        }
        if config.ttl < Duration::from_millis(300) {
            return Err(NatsError::invalid("ttl", "under 300 ms"));
        }
        let store = bucket(jetstream, &config).await?;
        let (sender, changes) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel();
        let view = Arc::new(View::default());
        let keeper = Keeper {
            store,
            node: node.to_owned(),
            slots: feeds
                .iter()
                .flat_map(|feed| {
                    (0..feed.replicas).map(|slot| FeedSlot::new(feed.name.clone(), slot))
                })
                .collect(),
            config,
            held: BTreeMap::new(),
            changes: sender,
            view: Arc::clone(&view),
            started: Instant::now(),
            seen: BTreeMap::new(),
            handed: BTreeMap::new(),
            taken_before: BTreeSet::new(),
        };
        let task = tokio::spawn(keeper.run(stopped));
        Ok(Self {
            node: node.to_owned(),
            changes,
            view,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The next change in what this node runs; `None` once it has shut
    /// down.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a change not taken is kept for the next call.
    pub async fn next(&mut self) -> Option<LeaseChange> {
        self.changes.recv().await
    }

    /// The replicas this node holds now.
    pub fn held(&self) -> Vec<FeedSlot> {
        self.view
            .held
            .lock()
            .map(|held| held.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The live nodes it saw at its last read of the bucket, itself
    /// included.
    pub fn live_nodes(&self) -> usize {
        self.view.live_nodes.load(Ordering::Relaxed)
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Gives up every lease at once, so that other nodes take the feeds
    /// at their next read rather than after the TTL; the changes it makes
    /// ([`LostCause::Stopped`]) can still be read from
    /// [`next`](Self::next).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: cancelled, the leases may be left to expire.
    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Leases {
    fn drop(&mut self) {
        // Not shut down: the leases expire by themselves.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Finds or creates the bucket, checking that its TTL is this node's.
///
/// The bucket's stream is made here, as the client library's own
/// key-value stream config would be, because its bucket creation first
/// reads account info in a shape NATS 2.9 does not send.
async fn bucket(
    jetstream: &jetstream::Context,
    config: &LeaseConfig,
) -> Result<kv::Store, NatsError> {
    let failed = |source: async_nats::Error| NatsError::Bucket {
        bucket: config.bucket.clone(),
        source,
    };
    check_name("bucket", &config.bucket)?;
    jetstream
        .get_or_create_stream(jetstream::stream::Config {
            name: format!("KV_{}", config.bucket),
            subjects: vec![format!("$KV.{}.>", config.bucket)],
            max_messages_per_subject: 1,
            max_age: config.ttl,
            duplicate_window: config.ttl.min(Duration::from_secs(120)),
            storage: jetstream::stream::StorageType::File,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: jetstream::stream::DiscardPolicy::New,
            num_replicas: 1,
            ..Default::default()
        })
        .await
        .map_err(|error| failed(error.into()))?;
    let store = jetstream
        .get_key_value(config.bucket.clone())
        .await
        .map_err(|error| failed(error.into()))?;
    let status = store.status().await.map_err(|error| failed(error.into()))?;
    if status.max_age() != config.ttl {
        return Err(NatsError::invalid(
            "ttl",
            format!(
                "{:?}, but bucket {} expires entries after {:?}: every node must use the same",
                config.ttl,
                config.bucket,
                status.max_age()
            ),
        ));
    }
    Ok(store)
}

/// A lease this node holds.
struct Held {
    revision: u64,
    /// When the last successful write of it was sent: it lives at least
    /// `ttl` from then.
    renewed: Instant,
}

/// The task keeping this node's leases.
struct Keeper {
    store: kv::Store,
    node: String,
    slots: Vec<FeedSlot>,
    config: LeaseConfig,
    held: BTreeMap<FeedSlot, Held>,
    changes: mpsc::UnboundedSender<LeaseChange>,
    view: Arc<View>,
    started: Instant,
    /// The revisions of other nodes' leases on replicas of feeds this node
    /// holds, at the last look: one that moved on was renewed since, so
    /// its node lives.
    seen: BTreeMap<String, u64>,
    /// Replicas this node handed over, and when: not taken back while
    /// another node may be taking them.
    handed: BTreeMap<FeedSlot, Instant>,
    /// The leases held at the previous read of the bucket.
    taken_before: BTreeSet<String>,
}

impl Keeper {
    async fn run(mut self, mut stopped: oneshot::Receiver<()>) {
        let mut ticks = tokio::time::interval(self.config.renew_interval());
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                _ = ticks.tick() => {
                    // A round that NATS slows down is cut short when a
                    // lease reaches its fence, so that the feed stops
                    // before the lease can expire.
                    let fence = self.next_fence();
                    let _ = tokio::time::timeout_at(fence, self.tick()).await;
                    self.fence();
                    self.show();
                }
            }
        }
        self.release_all().await;
    }

    /// How long after its last renewal a lease is given up unrenewed: one
    /// renewal interval before it can expire.
    fn fence_after(&self) -> Duration {
        self.config.ttl.saturating_sub(self.config.renew_interval())
    }

    /// When the first held lease reaches its fence.
    fn next_fence(&self) -> Instant {
        let after = self.fence_after();
        self.held
            .values()
            .map(|held| held.renewed + after)
            .min()
            .unwrap_or_else(|| Instant::now() + self.config.ttl)
    }

    /// Gives up the leases not renewed within [`fence_after`](Self::fence_after).
    fn fence(&mut self) {
        let after = self.fence_after();
        let expired: Vec<FeedSlot> = self
            .held
            .iter()
            .filter(|(_, held)| held.renewed.elapsed() >= after)
            .map(|(slot, _)| slot.clone())
            .collect();
        for slot in expired {
            self.held.remove(&slot);
            self.lost(slot, LostCause::Expired);
        }
    }

    /// `operation`, given at most one renewal interval.
    async fn bounded<T, E: fmt::Display>(
        &self,
        what: &str,
        operation: impl Future<Output = Result<T, E>>,
    ) -> Option<Result<T, E>> {
        match tokio::time::timeout(self.config.renew_interval(), operation).await {
            Ok(result) => Some(result),
            Err(_) => {
                tracing::debug!(what, "lease bucket: no answer within the renewal interval");
                None
            }
        }
    }

    /// One round: say this node lives, renew, read the bucket, take a fair
    /// share, hand over an excess.
    async fn tick(&mut self) {
        let node_key = format!("node.{}", self.node);
        let load = Bytes::from(self.held.len().to_string());
        if let Some(Err(error)) = self
            .bounded("node entry", self.store.put(&node_key, load))
            .await
        {
            tracing::debug!(error = %error, "lease bucket: node entry not written");
        }
        self.renew().await;
        let Ok(Some(bucket)) =
            tokio::time::timeout(self.config.renew_interval(), self.read()).await
        else {
            return;
        };
        self.view
            .live_nodes
            .store(bucket.loads.len(), Ordering::Relaxed);
        // Starting nodes see each other before taking anything.
        if self.started.elapsed() >= self.config.renew_interval() {
            self.acquire(&bucket).await;
            self.rebalance(&bucket).await;
        }
        self.taken_before = bucket.taken;
    }

    /// Renews every held lease; one another node holds is lost at once
    /// (one not renewed in time is given up by the fence).
    async fn renew(&mut self) {
        let mut taken = Vec::new();
        let slots: Vec<(FeedSlot, u64)> = self
            .held
            .iter()
            .map(|(slot, held)| (slot.clone(), held.revision))
            .collect();
        for (slot, revision) in slots {
            let sent = Instant::now();
            let update = self
                .store
                .update(slot.key(), Bytes::from(self.node.clone()), revision);
            match self.bounded("renewal", update).await {
                Some(Ok(revision)) => {
                    if let Some(held) = self.held.get_mut(&slot) {
                        held.revision = revision;
                        held.renewed = sent;
                    }
                }
                Some(Err(error)) if error.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                    taken.push(slot);
                }
                Some(Err(error)) => tracing::debug!(%slot, error = %error, "lease not renewed"),
                None => {}
            }
        }
        for slot in taken {
            self.held.remove(&slot);
            self.lost(slot, LostCause::TakenOver);
        }
    }

    /// The bucket's live nodes with their loads, and the replicas held.
    async fn read(&self) -> Option<Bucket> {
        let keys: Vec<String> = match self.store.keys().await {
            Ok(keys) => match keys.try_collect().await {
                Ok(keys) => keys,
                Err(error) => {
                    tracing::debug!(error = %error, "lease bucket not read");
                    return None;
                }
            },
            Err(error) => {
                tracing::debug!(error = %error, "lease bucket not read");
                return None;
            }
        };
        let mut bucket = Bucket::default();
        for key in keys {
            if let Some(node) = key.strip_prefix("node.") {
                let load = if node == self.node {
                    self.held.len()
                } else {
                    match self.store.get(key.clone()).await {
                        Ok(Some(value)) => std::str::from_utf8(&value)
                            .ok()
                            .and_then(|load| load.parse().ok())
                            .unwrap_or(0),
                        // Expired or deleted meanwhile.
                        Ok(None) => continue,
                        Err(error) => {
                            tracing::debug!(error = %error, "lease bucket not read");
                            return None;
                        }
                    }
                };
                bucket.loads.insert(node.to_owned(), load);
            } else {
                bucket.taken.insert(key);
            }
        }
        bucket.loads.insert(self.node.clone(), self.held.len());
        Some(bucket)
    }

    fn fair_share(&self, bucket: &Bucket) -> usize {
        self.slots.len().div_ceil(bucket.loads.len().max(1))
    }

    async fn acquire(&mut self, bucket: &Bucket) {
        let fair = self.fair_share(bucket);
        // First replicas first (a feed running at all comes before its
        // second copy); among them, an order of this node's own, so that
        // nodes starting together try different feeds.
        let mut free: Vec<&FeedSlot> = self
            .slots
            .iter()
            .filter(|slot| !bucket.taken.contains(&slot.key()))
            .collect();
        free.sort_by_key(|slot| (slot.slot, spread(&self.node, &slot.feed)));
        for slot in free {
            if self.held.len() >= fair {
                break;
            }
            if self.held.keys().any(|held| held.feed == slot.feed) {
                continue;
            }
            // A further replica starts only once the ones before it have
            // run for a round: two copies of a stream that start together
            // could each get a message in before the other's copy of an
            // earlier one (see `PublisherConfig::catch_up`).
            let earlier_running = (0..slot.slot).all(|earlier| {
                let key = FeedSlot::new(slot.feed.clone(), earlier).key();
                bucket.taken.contains(&key) && self.taken_before.contains(&key)
            });
            if !earlier_running {
                continue;
            }
            // Handed over lately: left to the node it was handed to.
            if self
                .handed
                .get(slot)
                .is_some_and(|at| at.elapsed() < 2 * self.config.renew_interval())
            {
                continue;
            }
            let sent = Instant::now();
            let create = self
                .store
                .create(slot.key(), Bytes::from(self.node.clone()));
            match self.bounded("take", create).await {
                None => break,
                Some(Ok(revision)) => {
                    tracing::info!(%slot, node = %self.node, "lease acquired");
                    self.held.insert(
                        slot.clone(),
                        Held {
                            revision,
                            renewed: sent,
                        },
                    );
                    self.show();
                    let _ = self.changes.send(LeaseChange::Acquired(slot.clone()));
                }
                Some(Err(error)) if error.kind() == kv::CreateErrorKind::AlreadyExists => {}
                Some(Err(error)) => {
                    tracing::debug!(%slot, error = %error, "lease not taken");
                    break;
                }
            }
        }
    }

    /// Hands one replica over when every replica is held and another live
    /// node holds two fewer (while some are free, the others take those
    /// instead). A replica whose feed another node runs goes first, and
    /// only once that node is seen renewing (a dead node's leases live on
    /// until they expire): the feed goes on meanwhile. A feed of one
    /// replica pauses while it moves.
    async fn rebalance(&mut self, bucket: &Bucket) {
        if self
            .slots
            .iter()
            .any(|slot| !bucket.taken.contains(&slot.key()))
        {
            return;
        }
        let mine = self.held.len();
        let least = bucket
            .loads
            .iter()
            .filter(|(node, _)| **node != self.node)
            .map(|(_, load)| *load)
            .min();
        // One node hands over at a time: the most loaded, the first by
        // name among equals; the others wait for the next round.
        let first_of_most = bucket
            .loads
            .iter()
            .filter(|(_, load)| **load >= mine)
            .all(|(node, load)| *load == mine && *node >= self.node);
        if least.is_none_or(|least| least + 2 > mine) || !first_of_most {
            self.seen.clear();
            return;
        }
        let held: Vec<FeedSlot> = self.held.keys().cloned().collect();
        let mut chosen: Option<(bool, FeedSlot)> = None;
        for slot in held {
            let siblings: Vec<FeedSlot> = self
                .slots
                .iter()
                .filter(|other| other.feed == slot.feed && other.slot != slot.slot)
                .cloned()
                .collect();
            let covered = if siblings.is_empty() {
                false
            } else {
                let mut alive = false;
                for sibling in siblings {
                    alive |= self.renewing(sibling.key()).await;
                }
                if !alive {
                    continue;
                }
                true
            };
            if chosen.as_ref().is_none_or(|(best, _)| covered && !best) {
                chosen = Some((covered, slot));
            }
        }
        let Some((_, slot)) = chosen else {
            return;
        };
        let Some(held) = self.held.remove(&slot) else {
            return;
        };
        let delete = self
            .store
            .delete_expect_revision(slot.key(), Some(held.revision));
        if let Some(Err(error)) = self.bounded("hand over", delete).await {
            tracing::debug!(%slot, error = %error, "lease not released; it expires");
        }
        tracing::info!(%slot, node = %self.node, "lease handed over");
        self.handed.insert(slot.clone(), Instant::now());
        self.lost(slot, LostCause::Released);
    }

    /// Whether the lease `key` was renewed since the last look.
    async fn renewing(&mut self, key: String) -> bool {
        let revision = match self.bounded("look", self.store.entry(key.clone())).await {
            Some(Ok(Some(entry))) if entry.operation == kv::Operation::Put => entry.revision,
            _ => {
                self.seen.remove(&key);
                return false;
            }
        };
        self.seen
            .insert(key, revision)
            .is_some_and(|before| before < revision)
    }

    async fn release_all(&mut self) {
        for (slot, held) in std::mem::take(&mut self.held) {
            let delete = self
                .store
                .delete_expect_revision(slot.key(), Some(held.revision));
            let _ = self.bounded("release", delete).await;
            self.lost(slot, LostCause::Stopped);
        }
        let _ = self
            .bounded(
                "node entry",
                self.store.delete(format!("node.{}", self.node)),
            )
            .await;
        self.show();
    }

    /// Says a lease was lost (after [`held`](Leases::held) shows it).
    fn lost(&self, slot: FeedSlot, cause: LostCause) {
        tracing::info!(%slot, node = %self.node, ?cause, "lease lost");
        self.show();
        let _ = self.changes.send(LeaseChange::Lost { slot, cause });
    }

    fn show(&self) {
        if let Ok(mut held) = self.view.held.lock() {
            *held = self.held.keys().cloned().collect();
        }
    }
}

/// What one read of the bucket found.
#[derive(Default)]
struct Bucket {
    /// Live nodes and the leases each holds.
    loads: BTreeMap<String, usize>,
    /// Lease keys present.
    taken: BTreeSet<String>,
}

/// A number of `node` and `feed` of its own, to spread first tries.
fn spread(node: &str, feed: &str) -> u64 {
    node.bytes()
        .chain([0])
        .chain(feed.bytes())
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}
