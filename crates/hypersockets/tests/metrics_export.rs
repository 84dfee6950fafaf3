//! The `metrics` export's latency histograms per stream: a router that
//! names its messages' streams (`MessageRouter::sequence`) gets a
//! `hypersockets_latency_seconds` series per lane, stream and stage,
//! `stream` being the `StreamId`'s number, next to the lane's own series
//! (no `stream` label). Read through a recorder of this test's own,
//! installed as the process's global one: this file holds one test.
#![cfg(feature = "metrics")]

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hypersockets::{LaneConfig, MessageRouter, ParseError, StreamId, StreamSequence, WsMessage};
use hypersockets_testkit::{ExchangeConfig, MockExchange, Rate, StreamConfig};
use metrics::{
    Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use support::{CONTROL, Collected, FeedRouter, WAIT};
use tokio::sync::Notify;

const STREAMS: [&str; 2] = ["btcusdt@trade", "ethusdt@trade"];
const NAME: &str = "hypersockets_latency_seconds";

/// A series: its name and its labels, sorted.
type Series = (String, Vec<(String, String)>);

/// Counts the values recorded into each histogram series.
#[derive(Clone, Default)]
struct Histograms {
    counts: Arc<Mutex<BTreeMap<Series, u64>>>,
    changed: Arc<Notify>,
}

impl Histograms {
    /// The values recorded so far into the latency series with these
    /// labels (exactly these, in any order).
    fn count(&self, labels: &[(&str, &str)]) -> Option<u64> {
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        labels.sort();
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.get(&(NAME.to_owned(), labels)).copied()
    }

    /// Every latency series' labels.
    fn series(&self) -> Vec<Vec<(String, String)>> {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts
            .keys()
            .filter(|(name, _)| name == NAME)
            .map(|(_, labels)| labels.clone())
            .collect()
    }

    /// Waits until `done` holds (re-checked at each value recorded), or
    /// panics after `WAIT`.
    async fn wait_until(&self, what: &str, done: impl Fn(&Self) -> bool) {
        let wait = async {
            loop {
                let changed = self.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if done(self) {
                    return;
                }
                changed.await;
            }
        };
        if tokio::time::timeout(WAIT, wait).await.is_err() {
            panic!("timed out waiting for {what}; series: {:?}", self.series());
        }
    }
}

/// One series' handle.
struct Recorded {
    series: Series,
    histograms: Histograms,
}

impl HistogramFn for Recorded {
    fn record(&self, value: f64) {
        self.record_many(value, 1);
    }

    fn record_many(&self, _value: f64, count: usize) {
        let mut counts = self
            .histograms
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *counts.entry(self.series.clone()).or_default() += count as u64;
        drop(counts);
        self.histograms.changed.notify_waiters();
    }
}

impl Recorder for Histograms {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        Counter::noop()
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let mut labels: Vec<(String, String)> = key
            .labels()
            .map(|label| (label.key().to_owned(), label.value().to_owned()))
            .collect();
        labels.sort();
        Histogram::from_arc(Arc::new(Recorded {
            series: (key.name().to_owned(), labels),
            histograms: self.clone(),
        }))
    }
}

/// The testkit's messages, each trade numbered in its stream by its
/// `seq`, as a user's router does in its parse.
struct NumberedTrades;

impl MessageRouter for NumberedTrades {
    type Message = support::Feed;
    type RouteKey = String;

    fn parse(&self, message: &WsMessage) -> Result<support::Feed, ParseError> {
        let mut feed = FeedRouter.parse(message)?;
        let number = serde_json::from_str::<serde_json::Value>(&feed.text)
            .ok()
            .and_then(|value| value.get("seq")?.as_u64());
        feed.at = feed
            .stream
            .as_deref()
            .zip(number)
            .map(|(stream, number)| StreamSequence::new(StreamId::of(&[stream]), number));
        Ok(feed)
    }

    fn route_key(&self, feed: &support::Feed) -> String {
        FeedRouter.route_key(feed)
    }

    fn sequence(&self, feed: &support::Feed) -> Option<StreamSequence> {
        feed.at
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_stream_gets_its_own_latency_series() {
    let histograms = Histograms::default();
    metrics::set_global_recorder(histograms.clone()).expect("the only recorder");
    let mut config = ExchangeConfig::new();
    for stream in STREAMS {
        config = config.stream(StreamConfig::trades(stream).rate(Rate::PerSecond(400)));
    }
    let exchange = MockExchange::start(config).await.expect("exchange");
    let (data, control) = (Collected::default(), Collected::default());
    let client =
        support::client_builder_with(NumberedTrades, exchange.url(), &STREAMS, &data, &control)
            .lane_defaults(LaneConfig::default().timing_sample_every(1))
            .build()
            .expect("client");
    client.connect().await.expect("connect");
    let export = client
        .export_metrics("mock", Duration::from_millis(20))
        .expect("export");

    let ids = STREAMS.map(|stream| StreamId::of(&[stream]).get().to_string());
    histograms
        .wait_until("both streams' series", |histograms| {
            STREAMS.iter().zip(&ids).all(|(lane, id)| {
                let labels = [
                    ("client", "mock"),
                    ("lane", *lane),
                    ("stage", "read_to_done"),
                    ("stream", id.as_str()),
                ];
                histograms.count(&labels).is_some_and(|count| count >= 5)
            })
        })
        .await;
    export.stop().await;

    let figures = client.metrics();
    for (lane, id) in STREAMS.iter().zip(&ids) {
        // The lane's own series, without a stream label, is still there.
        let lane_series = [("client", "mock"), ("lane", *lane), ("stage", "handle")];
        let lane_count = histograms.count(&lane_series).expect("the lane's series");
        let stream_series = [
            ("client", "mock"),
            ("lane", *lane),
            ("stage", "handle"),
            ("stream", id.as_str()),
        ];
        let stream_count = histograms
            .count(&stream_series)
            .expect("the stream's series");
        // Published from the figures: never ahead of them.
        let snapshot = figures.router.lane(&format!("{lane:?}")).expect("the lane");
        let stream = snapshot
            .stream(StreamId::of(&[lane]))
            .expect("the stream's figures");
        assert!(stream_count >= 1 && stream_count <= stream.latency.handle.samples);
        assert!(lane_count <= snapshot.latency.handle.samples);
        assert_eq!(snapshot.streams.len(), 1, "one stream per lane here");
    }
    // Subscription answers name no stream: their lane has no stream series.
    let control_streams = histograms
        .series()
        .into_iter()
        .filter(|labels| {
            labels
                .iter()
                .any(|(key, value)| key == "lane" && value == CONTROL)
        })
        .filter(|labels| labels.iter().any(|(key, _)| key == "stream"))
        .count();
    assert_eq!(control_streams, 0);

    client.close().await.expect("close");
    exchange.shutdown().await;
}
