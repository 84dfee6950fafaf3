//! `hypersockets serve`: a feed node. It reads a file of feeds (each a
//! venue profile, an endpoint and the streams to subscribe to, run by one
//! or two nodes at once), takes part in sharing them among the nodes on
//! one NATS server through leases, runs the feeds its leases give it with
//! each stream's lane publishing to JetStream, and prints a line a second
//! (its leases, the live nodes, the publishing rates) and a line per
//! change (a lease taken or lost, publishing failing or recovering).
//!
//! ```toml
//! [bus]                         # all optional
//! prefix = "md"                 # subjects: md.<venue>.<stream>
//! stream = "HYPERSOCKETS"       # the JetStream stream, made when absent
//! duplicate_window_secs = 120
//! max_age_secs = 86400
//!
//! [leases]                      # all optional
//! bucket = "hypersockets_leases"
//! ttl_ms = 6000
//!
//! [[feed]]
//! name = "binance-trades"
//! profile = "binance"
//! subscribe = ["btcusdt@trade", "ethusdt@trade"]
//! replicas = 2                  # 1 (default) or 2: hot-hot
//! # url = "wss://…"             # default: the venue's public endpoint
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use hypersockets::prelude::*;
use hypersockets::{Subscription, WebSocketClient};
use hypersockets_nats::{
    Bus, BusConfig, FeedSlot, FeedSpec, LeaseChange, LeaseConfig, LostCause, Publisher,
    PublisherConfig, PublisherEvent, PublisherStats,
};
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::monitor::stopped;
use crate::plain::Plain;
use crate::watch::profile;

/// The feeds file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedsFile {
    #[serde(default)]
    bus: BusSection,
    #[serde(default)]
    leases: LeaseSection,
    #[serde(default)]
    feed: Vec<FeedEntry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BusSection {
    prefix: Option<String>,
    stream: Option<String>,
    duplicate_window_secs: Option<u64>,
    max_age_secs: Option<u64>,
    max_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LeaseSection {
    bucket: Option<String>,
    ttl_ms: Option<u64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedEntry {
    name: String,
    profile: String,
    url: Option<String>,
    subscribe: Vec<String>,
    #[serde(default = "one")]
    replicas: u8,
}

fn one() -> u8 {
    1
}

/// The file's settings, checked.
#[derive(Debug)]
struct Feeds {
    bus: BusConfig,
    leases: LeaseConfig,
    feeds: BTreeMap<String, FeedEntry>,
}

impl Feeds {
    /// Reads and checks `path`: every feed's profile known, its streams
    /// given.
    fn read(path: &Path) -> Result<Self, BoxError> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        let file: FeedsFile =
            toml::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))?;
        let mut bus = BusConfig::default();
        if let Some(prefix) = file.bus.prefix {
            bus = bus.prefix(prefix);
        }
        if let Some(stream) = file.bus.stream {
            bus = bus.stream(stream);
        }
        if let Some(secs) = file.bus.duplicate_window_secs {
            bus = bus.duplicate_window(Duration::from_secs(secs));
        }
        if let Some(secs) = file.bus.max_age_secs {
            bus = bus.max_age(Duration::from_secs(secs));
        }
        if let Some(bytes) = file.bus.max_bytes {
            bus = bus.max_bytes(Some(bytes));
        }
        let mut leases = LeaseConfig::default();
        if let Some(bucket) = file.leases.bucket {
            leases = leases.bucket(bucket);
        }
        if let Some(ms) = file.leases.ttl_ms {
            leases = leases.ttl(Duration::from_millis(ms));
        }
        if file.feed.is_empty() {
            return Err(format!("{}: no [[feed]]", path.display()).into());
        }
        let mut feeds = BTreeMap::new();
        for feed in file.feed {
            profile(&feed.profile, feed.url.as_deref())
                .map_err(|error| format!("{}: feed {}: {error}", path.display(), feed.name))?;
            if feed.subscribe.is_empty() {
                return Err(format!(
                    "{}: feed {}: nothing to subscribe to",
                    path.display(),
                    feed.name
                )
                .into());
            }
            if feeds.insert(feed.name.clone(), feed.clone()).is_some() {
                return Err(format!("{}: feed {} twice", path.display(), feed.name).into());
            }
        }
        Ok(Self { bus, leases, feeds })
    }
}

/// How serving ended.
#[derive(Debug)]
pub(crate) struct Served {
    node: String,
    reason: &'static str,
    elapsed: Duration,
    stats: PublisherStats,
}

impl Served {
    /// The closing line.
    pub(crate) fn summary(&self) -> String {
        let stats = &self.stats;
        format!(
            "hypersockets: served as node {} for {:.1}s ({}): published {}, stored {}, duplicates {}, failed {}, refused {}",
            self.node,
            self.elapsed.as_secs_f64(),
            self.reason,
            stats.published,
            stats.stored,
            stats.duplicates,
            stats.failed,
            stats.refused,
        )
    }
}

/// A feed replica this node runs.
struct Running {
    client: WebSocketClient,
    connecting: JoinHandle<()>,
}

/// This machine's name and the process id: a node name of its own.
fn default_node() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "node".to_owned());
    let host: String = host
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{host}-{}", std::process::id())
}

/// The client running `feed`, its streams' lanes publishing through
/// `publisher`; not connected.
fn feed_client(feed: &FeedEntry, publisher: &Publisher) -> Result<WebSocketClient, BoxError> {
    let venue = profile(&feed.profile, feed.url.as_deref())?;
    let router = venue.router();
    let mut builder = WebSocketClient::builder()
        .venue(venue)
        .router(router)
        .reconnect(ExponentialBackoff::default());
    for topic in &feed.subscribe {
        builder = builder
            .handler(topic.clone(), publisher.handler(topic)?)
            .subscribe(Subscription::topic(topic.clone()));
    }
    // The venue's answers and pongs: not published.
    let builder = builder.fallback(handler_fn(|_: WsMessage| Ok::<_, BoxError>(())));
    Ok(builder.build()?)
}

/// The status line.
fn status(
    at: Duration,
    node: &str,
    live: usize,
    held: &[FeedSlot],
    stats: &PublisherStats,
    rate: f64,
    running: &HashMap<FeedSlot, Running>,
) -> String {
    let mut line = format!(
        "t={}s node={node} live={live} leases={} published={} rate={rate:.0}/s stored={} duplicates={} failed={} refused={} in_flight={}",
        at.as_secs(),
        held.len(),
        stats.published,
        stats.stored,
        stats.duplicates,
        stats.failed,
        stats.refused,
        stats.in_flight,
    );
    if !held.is_empty() {
        line.push_str(" feeds:");
        for slot in held {
            let state = running.get(slot).map_or("stopped", |running| {
                crate::figures::state_name(running.client.state())
            });
            line.push_str(&format!(" {slot}={}", state.replace(' ', "-")));
        }
    }
    line
}

/// The sum of every publisher's counts.
fn total(publishers: &HashMap<String, Publisher>) -> PublisherStats {
    let mut sum = PublisherStats::default();
    for stats in publishers.values().map(Publisher::stats) {
        sum.published += stats.published;
        sum.stored += stats.stored;
        sum.duplicates += stats.duplicates;
        sum.failed += stats.failed;
        sum.refused += stats.refused;
        sum.unserializable += stats.unserializable;
        sum.in_flight += stats.in_flight;
    }
    sum
}

fn cause_text(cause: LostCause) -> &'static str {
    match cause {
        LostCause::Expired => "not renewed in time",
        LostCause::TakenOver => "taken over",
        LostCause::Released => "handed over",
        LostCause::Stopped => "stopping",
        _ => "lost",
    }
}

/// Serves the feeds of `config` as `node` on the NATS server at `nats`
/// until Ctrl-C, SIGTERM or `duration`.
///
/// # Errors
///
/// A feeds file that cannot be read or is wrong, NATS unreachable or
/// without JetStream, an unusable lease bucket.
pub(crate) async fn run(
    config: &Path,
    nats: &str,
    node: Option<String>,
    duration: Option<Duration>,
) -> Result<Served, BoxError> {
    let feeds = Feeds::read(config)?;
    let node = node.unwrap_or_else(default_node);
    let bus = Bus::connect(nats, feeds.bus.clone())
        .await
        .map_err(|error| format!("nats: {}", crate::events::error_chain(&error)))?;
    let mut publishers: HashMap<String, Publisher> = HashMap::new();
    let (event_sender, mut publisher_events) = mpsc::unbounded_channel();
    for feed in feeds.feeds.values() {
        let venue = profile(&feed.profile, feed.url.as_deref())?;
        if !publishers.contains_key(venue.name()) {
            let publisher = bus.venue_publisher(&venue, PublisherConfig::default())?;
            forward_events(publisher.events(), event_sender.clone());
            publishers.insert(venue.name().to_owned(), publisher);
        }
    }
    drop(event_sender);
    let specs = feeds
        .feeds
        .values()
        .map(|feed| FeedSpec::new(feed.name.clone()).replicas(feed.replicas))
        .collect();
    let mut leases = bus.leases(&node, specs, feeds.leases.clone()).await?;

    let (failed, mut output_failed) = mpsc::unbounded_channel();
    let lines = Plain::start(failed)?;
    let start = Instant::now();
    lines.write(format!(
        "t=0.0s serving {} feed(s) as node {node}; leases live {:?}, renewed every {:?}",
        feeds.feeds.len(),
        feeds.leases.ttl_of(),
        feeds.leases.renew_interval(),
    ));
    let mut running: HashMap<FeedSlot, Running> = HashMap::new();
    let mut ticks =
        tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let stop = stopped(duration);
    tokio::pin!(stop);
    let mut last_published = 0;
    let mut last_tick = start;
    let reason = loop {
        tokio::select! {
            change = leases.next() => {
                let Some(change) = change else { break "leases ended" };
                let at = start.elapsed().as_secs_f64();
                match change {
                    LeaseChange::Acquired(slot) => {
                        lines.write(format!("t={at:.1}s acquired {slot}"));
                        let Some(feed) = feeds.feeds.get(slot.feed()) else { continue };
                        let venue = profile(&feed.profile, feed.url.as_deref())?;
                        let Some(publisher) = publishers.get(venue.name()) else { continue };
                        let client = feed_client(feed, publisher)?;
                        let connecting = tokio::spawn({
                            let client = client.clone();
                            // It ends in an error only when the client gives up
                            // (a handshake refused for good): the status line
                            // shows its state.
                            async move { let _ = client.connect().await; }
                        });
                        running.insert(slot, Running { client, connecting });
                    }
                    LeaseChange::Lost { slot, cause } => {
                        lines.write(format!("t={at:.1}s lost {slot} ({})", cause_text(cause)));
                        if let Some(feed) = running.remove(&slot) {
                            stop_feed(feed).await;
                        }
                    }
                    _ => {}
                }
            }
            Some(event) = publisher_events.recv() => {
                let at = start.elapsed().as_secs_f64();
                let text = match event {
                    PublisherEvent::Failed { error, more } => {
                        format!("publishing failed: {}{}", crate::events::error_chain(&*error),
                            if more > 0 { format!(" (and {more} more)") } else { String::new() })
                    }
                    PublisherEvent::Recovered { failed } => format!("publishing recovered after {failed} failures"),
                    _ => continue,
                };
                lines.write(format!("t={at:.1}s {text}"));
            }
            _ = ticks.tick() => {
                let stats = total(&publishers);
                let now = Instant::now();
                let seconds = now.duration_since(last_tick).as_secs_f64().max(1e-3);
                let rate = (stats.published - last_published) as f64 / seconds;
                (last_published, last_tick) = (stats.published, now);
                lines.write(status(start.elapsed(), &node, leases.live_nodes(), &leases.held(), &stats, rate, &running));
            }
            reason = &mut stop => break reason,
            _ = output_failed.recv() => break "output closed",
        }
    };
    let elapsed = start.elapsed();
    // The feeds stop first, so that nothing this node publishes comes
    // after another node has taken its leases.
    for (_, feed) in running.drain() {
        stop_feed(feed).await;
    }
    leases.shutdown().await;
    for publisher in publishers.values() {
        let _ = tokio::time::timeout(Duration::from_secs(5), publisher.flush()).await;
    }
    let stats = total(&publishers);
    tokio::task::spawn_blocking(move || lines.finish()).await?;
    Ok(Served {
        node,
        reason,
        elapsed,
        stats,
    })
}

/// Closes a feed's client: its lanes finish what they hold (within 5 s;
/// past that it is let go, closing by itself).
async fn stop_feed(feed: Running) {
    feed.connecting.abort();
    let _ = tokio::time::timeout(Duration::from_secs(5), feed.client.close()).await;
}

/// Passes a publisher's events on to the status loop.
fn forward_events(
    mut events: broadcast::Receiver<PublisherEvent>,
    to: mpsc::UnboundedSender<PublisherEvent>,
) {
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if to.send(event).is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Feeds, BoxError> {
        let path = std::env::temp_dir().join(format!(
            "hypersockets-serve-{}-{}.toml",
            std::process::id(),
            text.len()
        ));
        std::fs::write(&path, text).unwrap();
        let feeds = Feeds::read(&path);
        let _ = std::fs::remove_file(&path);
        feeds
    }

    #[test]
    fn a_feeds_file_is_read_with_its_defaults() {
        let feeds = read(
            r#"
            [leases]
            ttl_ms = 3000
            [[feed]]
            name = "a"
            profile = "binance"
            subscribe = ["btcusdt@trade"]
            replicas = 2
            [[feed]]
            name = "b"
            profile = "okx"
            url = "ws://127.0.0.1:9/ws"
            subscribe = ["trades:BTC-USDT"]
            "#,
        )
        .unwrap();
        assert_eq!(feeds.feeds.len(), 2);
        assert_eq!(feeds.feeds["a"].replicas, 2);
        assert_eq!(feeds.feeds["b"].replicas, 1);
        assert_eq!(feeds.leases.ttl_of(), Duration::from_secs(3));
        assert_eq!(feeds.bus.prefix_of(), "md");
    }

    #[test]
    fn a_wrong_feeds_file_says_what_is_wrong() {
        let error = |text: &str| read(text).unwrap_err().to_string();
        assert!(
            error("[[feed]]\nname = \"a\"\nprofile = \"nope\"\nsubscribe = [\"x\"]")
                .contains("unknown profile")
        );
        assert!(
            error("[[feed]]\nname = \"a\"\nprofile = \"okx\"\nsubscribe = []")
                .contains("nothing to subscribe")
        );
        assert!(error("[bus]\nprefx = \"md\"").contains("prefx"));
        assert!(error("").contains("no [[feed]]"));
        let twice = "[[feed]]\nname = \"a\"\nprofile = \"okx\"\nsubscribe = [\"x\"]\n";
        assert!(error(&format!("{twice}{twice}")).contains("twice"));
    }
}
