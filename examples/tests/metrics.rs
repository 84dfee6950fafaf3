//! The metrics example's endpoint, scraped as Prometheus does: a client's
//! counters, gauges and latency histograms published through the
//! `metrics` facade (`export_metrics`) and rendered by the Prometheus
//! exporter, agreeing with the client's own figures, through a reconnect.
//!
//! The exporter is the process's global recorder: this file holds one test.

use std::net::SocketAddr;
use std::time::Duration;

use hypersockets::{BoxError, ClientManager, WebSocketClient};
use hypersockets_examples::{http_get, metric_value, serve_metrics, trade_streams_client};
use hypersockets_testkit::{ExchangeConfig, Fault, MockExchange, Rate, StreamConfig};
use metrics_exporter_prometheus::PrometheusBuilder;
use tokio::net::TcpListener;

const STREAMS: [&str; 2] = ["btcusdt@trade", "ethusdt@trade"];
/// The bound on every wait.
const WAIT: Duration = Duration::from_secs(15);

/// Scrapes `/metrics` until `done` holds for the body (every 25 ms, up to
/// [`WAIT`]); the body that satisfied it.
async fn scrape_until(
    address: SocketAddr,
    what: &str,
    done: impl Fn(&str) -> bool,
) -> Result<String, BoxError> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = http_get(address, "/metrics").await?;
        assert_eq!(status, 200);
        if done(&body) {
            return Ok(body);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("timed out waiting for {what}; last scrape:\n{body}").into());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_shows_the_clients_figures() -> Result<(), BoxError> {
    let prometheus = PrometheusBuilder::new().install_recorder()?;
    let mut config = ExchangeConfig::new();
    for stream in STREAMS {
        config = config.stream(StreamConfig::trades(stream).rate(Rate::PerSecond(400)));
    }
    let exchange = MockExchange::start(config).await?;
    let client = trade_streams_client(&exchange.url(), &STREAMS)?;
    client.connect().await?;
    let connection = exchange.control().latest_connection().expect("connected");
    let export = client.export_metrics("mock", Duration::from_millis(20))?;
    // A manager's clients are labelled by their keys.
    let manager = std::sync::Arc::new(ClientManager::<String>::new());
    let managed = trade_streams_client(&exchange.url(), &STREAMS[..1])?;
    manager.add("managed", managed.clone())?;
    managed.connect().await?;
    let _manager_export = manager.export_metrics(Duration::from_millis(20))?;

    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(serve_metrics(listener, move || prometheus.render()));

    let mock = [("client", "mock")];
    let btc = [
        ("client", "mock"),
        ("lane", STREAMS[0]),
        ("stage", "read_to_done"),
    ];
    let body = scrape_until(address, "100 messages and their latency", |body| {
        metric_value(body, "hypersockets_messages_received_total", &mock)
            .is_some_and(|n| n >= 100.0)
            && metric_value(body, "hypersockets_latency_seconds_count", &btc)
                .is_some_and(|n| n >= 1.0)
    })
    .await?;
    // Published from the client's figures: never ahead of them.
    let live = client.metrics();
    let exported = |name: &str, labels: &[(&str, &str)]| {
        metric_value(&body, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?}"))
    };
    let received = exported("hypersockets_messages_received_total", &mock);
    assert!(received <= live.connection.messages_received as f64);
    assert_eq!(exported("hypersockets_connected", &mock), 1.0);
    let lane = [("client", "mock"), ("lane", STREAMS[0])];
    let delivered = exported("hypersockets_lane_delivered_total", &lane);
    let btc_lane = live
        .router
        .lane(&format!("{:?}", STREAMS[0]))
        .expect("lane");
    assert!(delivered >= 1.0 && delivered <= btc_lane.delivered as f64);
    // Every handled message of the lane is timed (timing every message),
    // once per stage it went through.
    let timed = exported("hypersockets_latency_seconds_count", &btc);
    assert!(timed <= btc_lane.latency.read_to_done.samples as f64);
    for stage in ["read_to_parsed", "parsed_to_start", "handle"] {
        let labels = [("client", "mock"), ("lane", STREAMS[0]), ("stage", stage)];
        assert!(exported("hypersockets_latency_seconds_count", &labels) >= 1.0);
        let median = [
            ("client", "mock"),
            ("lane", STREAMS[0]),
            ("stage", stage),
            ("quantile", "0.5"),
        ];
        assert!(exported("hypersockets_latency_seconds", &median) >= 0.0);
    }
    // No venue event time from this router: no exchange stage.
    let exchange_stage = [("client", "mock"), ("stage", "exchange_to_read")];
    assert!(metric_value(&body, "hypersockets_latency_seconds_count", &exchange_stage).is_none());

    // The managed client, by its key.
    scrape_until(address, "the managed client", |body| {
        metric_value(
            body,
            "hypersockets_messages_received_total",
            &[("client", "managed")],
        )
        .is_some_and(|n| n >= 1.0)
    })
    .await?;

    // A dropped connection: the reconnect shows.
    exchange.control().inject(connection, Fault::DropTcp)?;
    scrape_until(address, "the reconnect", |body| {
        metric_value(body, "hypersockets_reconnects_total", &mock).is_some_and(|n| n >= 1.0)
    })
    .await?;

    // Only /metrics is served.
    assert_eq!(http_get(address, "/other").await?.0, 404);

    // A stopped export publishes no more: the client's figures move on,
    // the exported ones do not.
    export.stop().await;
    let stopped = scrape_until(address, "a scrape", |_| true).await?;
    let frozen = metric_value(&stopped, "hypersockets_messages_received_total", &mock);
    let moved_on = client.metrics().connection.messages_received + 200;
    wait_for_messages(&client, moved_on).await?;
    let later = scrape_until(address, "a later scrape", |_| true).await?;
    assert_eq!(
        metric_value(&later, "hypersockets_messages_received_total", &mock),
        frozen
    );

    client.close().await?;
    managed.close().await?;
    server.abort();
    exchange.shutdown().await;
    Ok(())
}

/// Waits until `client` has received `count` messages (bounded by [`WAIT`]).
async fn wait_for_messages(client: &WebSocketClient, count: u64) -> Result<(), BoxError> {
    let deadline = tokio::time::Instant::now() + WAIT;
    while client.metrics().connection.messages_received < count {
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("timed out waiting for {count} messages").into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}
