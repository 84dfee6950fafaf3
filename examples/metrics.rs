//! The client's figures for Prometheus: counters, gauges and latency
//! histograms published through the `metrics` facade
//! (`WebSocketClient::export_metrics`, the `metrics` feature), rendered by
//! `metrics-exporter-prometheus` and served at
//! `http://127.0.0.1:PORT/metrics` while the client reads two trade
//! streams from an embedded mock exchange (no internet), through a dropped
//! connection.
//!
//! ```sh
//! cargo run --release --example metrics                 # any free port, 8 s
//! cargo run --release --example metrics -- --port 9184 --secs 60
//! curl -s http://127.0.0.1:9184/metrics | grep hypersockets_
//! ```

#![allow(clippy::print_stdout)]

use std::time::Duration;

use hypersockets::BoxError;
use hypersockets_examples::{ensure, http_get, metric_value, serve_metrics, trade_streams_client};
use hypersockets_testkit::{ExchangeConfig, Fault, MockExchange, Rate, StreamConfig};
use metrics_exporter_prometheus::PrometheusBuilder;
use tokio::net::TcpListener;

const STREAMS: [&str; 2] = ["btcusdt@trade", "ethusdt@trade"];

/// `--port P` (0, the default: any free port) and `--secs S` (default 8).
fn options() -> Result<(u16, u64), BoxError> {
    let (mut port, mut secs) = (0, 8);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--port" => port = value.parse()?,
            "--secs" => secs = value.parse()?,
            other => return Err(format!("unknown option {other:?}").into()),
        }
    }
    Ok((port, secs))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let (port, secs) = options()?;
    // 1. The exporter: the `metrics` facade's recorder for this process.
    let prometheus = PrometheusBuilder::new().install_recorder()?;

    // 2. A mock exchange with two trade streams, and a client of both.
    let mut config = ExchangeConfig::new();
    for stream in STREAMS {
        config = config.stream(StreamConfig::trades(stream).rate(Rate::PerSecond(500)));
    }
    let exchange = MockExchange::start(config).await?;
    let client = trade_streams_client(&exchange.url(), &STREAMS)?;
    client.connect().await?;

    // 3. The client's figures published once a second, labelled
    //    client="mock-binance", and served for scrapers.
    let _export = client.export_metrics("mock-binance", Duration::from_secs(1))?;
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(serve_metrics(listener, move || prometheus.render()));
    println!("serving http://{address}/metrics for {secs} s");

    // 4. Half-way, the exchange drops the connection: the reconnect shows
    //    in the figures.
    tokio::time::sleep(Duration::from_secs(secs / 2)).await;
    if let Some(connection) = exchange.control().latest_connection() {
        exchange.control().inject(connection, Fault::DropTcp)?;
    }
    tokio::time::sleep(Duration::from_secs(secs - secs / 2)).await;

    // 5. Scrape it as Prometheus would, and show a few series.
    let client_label = [("client", "mock-binance")];
    let received =
        |body: &str| metric_value(body, "hypersockets_messages_received_total", &client_label);
    let reconnects =
        |body: &str| metric_value(body, "hypersockets_reconnects_total", &client_label);
    // The export runs once a second: a few scrapes until it has caught up.
    let mut body = String::new();
    for _ in 0..20 {
        let (status, scraped) = http_get(address, "/metrics").await?;
        ensure(status == 200, "200 from /metrics")?;
        body = scraped;
        if reconnects(&body).is_some_and(|n| n >= 1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!();
    for line in body.lines().filter(|line| {
        line.starts_with("hypersockets_messages_received_total")
            || line.starts_with("hypersockets_reconnects_total")
            || line.starts_with("hypersockets_connected")
            || line.starts_with("hypersockets_lane_delivered_total")
            || (line.starts_with("hypersockets_latency_seconds{")
                && line.contains(r#"stage="read_to_done""#))
    }) {
        println!("{line}");
    }
    ensure(
        received(&body).is_some_and(|n| n > 0.0),
        "messages received in the exported figures",
    )?;
    ensure(
        reconnects(&body).is_some_and(|n| n >= 1.0),
        "the reconnect in the exported figures",
    )?;
    client.close().await?;
    server.abort();
    exchange.shutdown().await;
    Ok(())
}
