//! Clients' figures published through the `metrics` facade, for whatever
//! exporter the program installs (Prometheus, StatsD, …): a task reads
//! the lock-free figures every interval and sets the facade's counters,
//! gauges and histograms from them, so that the hot path pays nothing.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use hypersockets_router::RouterStats;
use tokio::task::JoinHandle;

use crate::{ClientManager, ConnectionState, HyperSocketError, Result, StreamId, WebSocketClient};

/// Publishes figures through the [`metrics`](https://docs.rs/metrics)
/// facade until it is dropped (or what it publishes is gone); from
/// [`WebSocketClient::export_metrics`] or [`ClientManager::export_metrics`].
/// Needs the `metrics` feature.
///
/// Every name starts with `hypersockets_`, and every figure is labelled
/// `client` (the name given, or the manager's key); lane figures also
/// `lane` (the route key, `Debug`-formatted, a string's without its
/// quotes), latency histograms also `stage`, and a stream's latency
/// histograms also `stream`:
///
/// | name | kind | from |
/// | --- | --- | --- |
/// | `hypersockets_<counter>_total` | counter | each [`MetricsSnapshot`](crate::MetricsSnapshot) field: `messages_received`, `reconnects`, `stream_gaps`, … |
/// | `hypersockets_connected` | gauge | 1 while connected, else 0 |
/// | `hypersockets_queued_bytes` | gauge | bytes waiting in the lanes' queues |
/// | `hypersockets_dispatched_total`, `hypersockets_unrouted_total`, `hypersockets_reader_parse_errors_total`, `hypersockets_backpressure_waits_total` | counter | the router's figures |
/// | `hypersockets_lane_depth`, `hypersockets_lane_high_water` | gauge | per lane |
/// | `hypersockets_lane_enqueued_total`, `hypersockets_lane_delivered_total`, `hypersockets_lane_dropped_total`, `hypersockets_lane_handler_errors_total`, `hypersockets_lane_handler_panics_total`, `hypersockets_lane_parse_errors_total` | counter | per lane |
/// | `hypersockets_latency_seconds` | histogram | per lane and `stage` (`exchange_to_read`, `read_to_parsed`, `parsed_to_start`, `handle`, `read_to_done`), without a `stream` label: the timed messages since the last publication, each at its bucket's upper bound (within 3.2 %) |
/// | `hypersockets_latency_seconds` | histogram | the same per lane, `stream` and `stage`, for routers that name their messages' streams ([`MessageRouter::sequence`](crate::MessageRouter::sequence)): `stream` is the [`StreamId`](crate::StreamId)'s number in decimal ([`StreamId::get`](crate::StreamId::get), as in the client's logs), up to [`LaneMetricsSnapshot::MAX_STREAMS`](crate::LaneMetricsSnapshot::MAX_STREAMS) streams per lane |
///
/// A lane's series counts all its timed messages, its streams' series
/// the same messages again by stream: select the lanes' with
/// `stream=""` (a missing label matches the empty string), the streams'
/// with `stream!=""`, rather than summing both.
///
/// ```
/// use std::time::Duration;
///
/// use hypersockets::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// let client = WebSocketClient::builder()
///     .url("wss://stream.binance.com:9443/ws")
///     .router(PassThrough)
///     .handler((), handler_fn(|_: WsMessage| Ok::<_, BoxError>(())))
///     .build()?;
/// // With an exporter installed (say `metrics-exporter-prometheus`), its
/// // figures appear there, labelled client="binance", once a second.
/// let export = client.export_metrics("binance", Duration::from_secs(1))?;
/// # drop(export);
/// # client.close().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[must_use = "dropping it stops the publishing"]
pub struct MetricsExport {
    task: Option<JoinHandle<()>>,
}

impl MetricsExport {
    /// Stops publishing and waits until the last round (if one was
    /// running) is over: nothing is published after this returns.
    /// Dropping the export stops it too, without the wait.
    ///
    /// Cancel safety: cancelling the wait still stops the publishing.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// # let client = WebSocketClient::builder()
    /// #     .url("wss://stream.binance.com:9443/ws")
    /// #     .router(PassThrough)
    /// #     .build()?;
    /// let export = client.export_metrics("binance", Duration::from_secs(1))?;
    /// export.stop().await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            // Cancelled, or finished: either way it publishes no more.
            let _ = task.await;
        }
    }
}

impl Drop for MetricsExport {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl WebSocketClient {
    /// Publishes this client's figures through the `metrics` facade every
    /// `interval`, labelled `client = name`, until the returned
    /// [`MetricsExport`] is dropped or the client is (the export does not
    /// keep it alive). Needs the `metrics` feature. See [`MetricsExport`]
    /// for the names.
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::InvalidConfiguration`] outside a tokio runtime
    /// or for a zero `interval`.
    pub fn export_metrics(
        &self,
        name: impl Into<String>,
        interval: Duration,
    ) -> Result<MetricsExport> {
        let (client, name) = (self.downgrade(), name.into());
        spawn(interval, move |publisher| {
            let client = client.upgrade()?;
            publisher.publish(&name, &client);
            Some(())
        })
    }
}

impl<K> ClientManager<K>
where
    K: Eq + std::hash::Hash + Clone + fmt::Debug + fmt::Display + Send + Sync + 'static,
{
    /// Publishes every client's figures through the `metrics` facade every
    /// `interval`, each labelled `client = key` (`Display`-formatted),
    /// clients added later too, until the returned [`MetricsExport`] is
    /// dropped or the manager is. Needs the `metrics` feature. See
    /// [`MetricsExport`] for the names.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// use hypersockets::ClientManager;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), hypersockets::BoxError> {
    /// let manager: Arc<ClientManager<String>> = Arc::new(ClientManager::new());
    /// let export = manager.export_metrics(Duration::from_secs(1))?;
    /// # drop(export);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::InvalidConfiguration`] outside a tokio runtime
    /// or for a zero `interval`.
    pub fn export_metrics(self: &Arc<Self>, interval: Duration) -> Result<MetricsExport> {
        let manager: Weak<Self> = Arc::downgrade(self);
        let mut names = HashMap::<K, String>::new();
        spawn(interval, move |publisher| {
            let manager = manager.upgrade()?;
            for key in manager.keys() {
                if let Some(client) = manager.get(&key) {
                    let name = names.entry(key.clone()).or_insert_with(|| key.to_string());
                    publisher.publish(name, &client);
                }
            }
            Some(())
        })
    }
}

/// Runs `round` every `interval` on the current runtime until it gives
/// `None` (what it publishes is gone).
fn spawn<F>(interval: Duration, mut round: F) -> Result<MetricsExport>
where
    F: FnMut(&mut Publisher) -> Option<()> + Send + 'static,
{
    if interval.is_zero() {
        return Err(HyperSocketError::invalid_config(
            "interval",
            "the metrics export interval must not be zero",
        ));
    }
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
        HyperSocketError::invalid_config(
            "runtime",
            "export_metrics must be called inside a tokio runtime",
        )
    })?;
    let task = runtime.spawn(async move {
        let mut publisher = Publisher::default();
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            publisher.round += 1;
            if round(&mut publisher).is_none() {
                return;
            }
            publisher.forget_unseen();
        }
    });
    Ok(MetricsExport { task: Some(task) })
}

/// Sets the facade's figures from clients' snapshots; remembers each
/// latency histogram's counts so that it records only what is new.
#[derive(Default)]
struct Publisher {
    /// Counts the rounds.
    round: u64,
    /// By client, lane, stream (`None` for the lane's own series) and
    /// stage: the round it was last seen in and the bucket counts
    /// published.
    published: HashMap<HistogramKey, (u64, Vec<u64>)>,
}

/// A published latency histogram: client, lane, stream (`None` for the
/// lane's own), stage.
type HistogramKey = (String, String, Option<StreamId>, &'static str);

impl Publisher {
    /// Forgets the histograms of clients that are gone.
    fn forget_unseen(&mut self) {
        let round = self.round;
        self.published.retain(|_, (seen, _)| *seen == round);
    }

    fn publish(&mut self, name: &str, client: &WebSocketClient) {
        let metrics = client.metrics();
        let label = || [("client", name.to_owned())];
        metrics.connection.each(|counter, value| {
            ::metrics::counter!(format!("hypersockets_{counter}_total"), &label()).absolute(value);
        });
        let connected = matches!(client.state(), ConnectionState::Connected);
        ::metrics::gauge!("hypersockets_connected", &label()).set(f64::from(u8::from(connected)));
        let router = &metrics.router;
        ::metrics::gauge!("hypersockets_queued_bytes", &label()).set(router.queued_bytes as f64);
        set_counters(
            &label(),
            [
                ("hypersockets_dispatched_total", router.dispatched),
                ("hypersockets_unrouted_total", router.unrouted),
                (
                    "hypersockets_reader_parse_errors_total",
                    router.parse_errors,
                ),
                (
                    "hypersockets_backpressure_waits_total",
                    router.backpressure_waits,
                ),
            ],
        );
        for lane in &router.lanes {
            let labels = [("client", name.to_owned()), ("lane", lane_label(&lane.key))];
            ::metrics::gauge!("hypersockets_lane_depth", &labels).set(lane.depth as f64);
            ::metrics::gauge!("hypersockets_lane_high_water", &labels).set(lane.high_water as f64);
            set_counters(
                &labels,
                [
                    ("hypersockets_lane_enqueued_total", lane.enqueued),
                    ("hypersockets_lane_delivered_total", lane.delivered),
                    ("hypersockets_lane_dropped_total", lane.dropped),
                    (
                        "hypersockets_lane_handler_errors_total",
                        lane.handler_errors,
                    ),
                    (
                        "hypersockets_lane_handler_panics_total",
                        lane.handler_panics,
                    ),
                    ("hypersockets_lane_parse_errors_total", lane.parse_errors),
                ],
            );
        }
        self.publish_latency(name, client.router_stats());
    }

    /// Records each histogram bucket's new counts since the last round,
    /// at the bucket's upper bound, in seconds: the lanes' histograms, then
    /// their streams'.
    fn publish_latency(&mut self, name: &str, stats: &RouterStats) {
        stats.for_each_latency_histogram(|lane, stage, buckets| {
            self.publish_histogram(name, lane, None, stage, buckets);
        });
        stats.for_each_stream_latency_histogram(|lane, stream, stage, buckets| {
            self.publish_histogram(name, lane, Some(stream), stage, buckets);
        });
    }

    /// Records one histogram's new counts since the last round: a lane's
    /// (`stream` is `None`) or one of its streams'.
    fn publish_histogram(
        &mut self,
        name: &str,
        lane: &str,
        stream: Option<StreamId>,
        stage: &'static str,
        buckets: &mut dyn Iterator<Item = (u64, u64)>,
    ) {
        let key = (name.to_owned(), lane.to_owned(), stream, stage);
        let (seen, published) = self.published.entry(key).or_default();
        *seen = self.round;
        // Registered at its first value: a stage nothing went through
        // (no venue event time, say) is not exported at all.
        let mut histogram = None;
        for (index, (upper_ns, count)) in buckets.enumerate() {
            if published.len() <= index {
                published.resize(index + 1, 0);
            }
            let new = count.saturating_sub(published[index]);
            if new > 0 {
                let seconds = Duration::from_nanos(upper_ns).as_secs_f64();
                histogram
                    .get_or_insert_with(|| {
                        let mut labels = vec![
                            ("client", name.to_owned()),
                            ("lane", lane_label(lane)),
                            ("stage", stage.to_owned()),
                        ];
                        if let Some(stream) = stream {
                            labels.push(("stream", stream.get().to_string()));
                        }
                        ::metrics::histogram!("hypersockets_latency_seconds", &labels)
                    })
                    .record_many(seconds, usize::try_from(new).unwrap_or(usize::MAX));
                published[index] = count;
            }
        }
    }
}

/// Sets each counter, with these labels, to its value.
fn set_counters<const N: usize>(
    labels: &[(&'static str, String)],
    counters: [(&'static str, u64); N],
) {
    for (counter, value) in counters {
        ::metrics::counter!(counter, labels).absolute(value);
    }
}

/// A lane's label: its `Debug`-formatted key, a string's without quotes.
fn lane_label(key: &str) -> String {
    key.strip_prefix('"')
        .and_then(|key| key.strip_suffix('"'))
        .unwrap_or(key)
        .to_owned()
}
