//! A ready venue profile against the mock exchange's emulation of that
//! venue: one builder call (`.venue(Venue::okx())`) sets the URL, the
//! keepalive, the request and answer formats, the pacing and the
//! decompression; subscriptions are topics in the venue's own syntax, and
//! `Venue::router` routes each message by its topic.
//!
//! For each venue the demo subscribes to three real-looking topics and one
//! the venue does not know, then shows what it got: messages per topic,
//! the venue's refusal, the requests it sent. The mock enforces the
//! venue's limits by closing the connection as the venue would, so a
//! profile that broke them would show here.
//!
//! ```sh
//! cargo run --release --example venue -- binance   # or okx, bybit, kraken, coinbase,
//! cargo run --release --example venue -- all       # hyperliquid, htx, kucoin, binance-usdm, bybit-linear
//! ```

#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hypersockets::prelude::*;
use hypersockets::{ClientEvent, Subscription, Venue};
use hypersockets_examples::{ensure, wait_until};
use hypersockets_testkit::{Emulation, ExchangeConfig, MockExchange, Rate, StreamConfig};

/// Messages each topic must deliver.
const MESSAGES: usize = 20;
const WAIT: Duration = Duration::from_secs(30);

/// A profile, the emulation of its venue, three topics and an unknown one.
fn venue(name: &str) -> Option<(Venue, Emulation, [&'static str; 4])> {
    Some(match name {
        "binance" => (
            Venue::binance_spot(),
            Emulation::BinanceSpot,
            [
                "btcusdt@trade",
                "ethusdt@trade",
                "btcusdt@depth@100ms",
                "nosuchusdt@trade",
            ],
        ),
        "binance-usdm" => (
            Venue::binance_usdm(),
            Emulation::BinanceUsdm,
            [
                "btcusdt@aggTrade",
                "ethusdt@aggTrade",
                "btcusdt@markPrice@1s",
                "nosuchusdt@aggTrade",
            ],
        ),
        "okx" => (
            Venue::okx(),
            Emulation::Okx,
            [
                "trades:BTC-USDT",
                "trades:ETH-USDT",
                "books5:BTC-USDT",
                "trades:NOPE-USDT",
            ],
        ),
        "bybit" => (
            Venue::bybit_spot(),
            Emulation::BybitSpot,
            [
                "publicTrade.BTCUSDT",
                "publicTrade.ETHUSDT",
                "orderbook.50.BTCUSDT",
                "publicTrade.NOPEUSDT",
            ],
        ),
        "bybit-linear" => (
            Venue::bybit_linear(),
            Emulation::BybitLinear,
            [
                "publicTrade.BTCUSDT",
                "tickers.ETHUSDT",
                "orderbook.50.BTCUSDT",
                "publicTrade.NOPEUSDT",
            ],
        ),
        "kraken" => (
            Venue::kraken(),
            Emulation::Kraken,
            [
                "trade:BTC/USD",
                "trade:ETH/USD",
                "ticker:BTC/USD",
                "trade:NOPE/USD",
            ],
        ),
        "coinbase" => (
            Venue::coinbase(),
            Emulation::Coinbase,
            [
                "market_trades:BTC-USD",
                "market_trades:ETH-USD",
                "level2:BTC-USD",
                "market_trades:NOPE-USD",
            ],
        ),
        "hyperliquid" => (
            Venue::hyperliquid(),
            Emulation::Hyperliquid,
            ["trades:BTC", "trades:ETH", "l2Book:BTC", "trades:NOPE"],
        ),
        "htx" => (
            Venue::htx(),
            Emulation::Htx,
            [
                "market.btcusdt.trade.detail",
                "market.ethusdt.trade.detail",
                "market.btcusdt.depth.step0",
                "market.nopeusdt.trade.detail",
            ],
        ),
        // KuCoin hands out its URL, with a token, from a REST call.
        "kucoin" => (
            Venue::kucoin("wss://ws-api-spot.kucoin.com/?token=demo-token"),
            Emulation::Kucoin,
            [
                "/market/match:BTC-USDT",
                "/market/match:ETH-USDT",
                "/market/ticker:BTC-USDT",
                "/market/match:NOPE-USDT",
            ],
        ),
        _ => return None,
    })
}

const NAMES: [&str; 10] = [
    "binance",
    "binance-usdm",
    "okx",
    "bybit",
    "bybit-linear",
    "kraken",
    "coinbase",
    "hyperliquid",
    "htx",
    "kucoin",
];

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let wanted = std::env::args().nth(1).unwrap_or_else(|| "all".to_owned());
    let names: Vec<&str> = match wanted.as_str() {
        "all" => NAMES.to_vec(),
        name if NAMES.contains(&name) => vec![name],
        other => return Err(format!("unknown venue {other}; one of {NAMES:?} or all").into()),
    };
    for name in names {
        run(name).await?;
    }
    Ok(())
}

async fn run(name: &str) -> Result<(), BoxError> {
    let (profile, emulation, [a, b, c, unknown]) = venue(name).ok_or("unknown venue")?;
    let mut config = ExchangeConfig::new().emulate(emulation);
    for topic in [a, b, c] {
        config = config.stream(StreamConfig::trades(topic).rate(Rate::PerSecond(50)));
    }
    let exchange = MockExchange::start(config).await?;
    // The profile, pointed at the mock (KuCoin's URL carries its token).
    let url = match name {
        "kucoin" => format!("{}?token=demo-token", exchange.url()),
        _ => exchange.url(),
    };
    let profile = profile.url(url);
    println!("== {} ({:?})", profile.name(), profile.pacing_of());

    // One lane per topic, counted; the venue's answers, pongs and statuses
    // come under `TopicRouter::CONTROL`, to the fallback.
    let counts: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let mut builder = WebSocketClient::builder()
        .venue(profile.clone())
        .router(profile.router());
    for topic in [a, b, c] {
        let counts = Arc::clone(&counts);
        builder = builder
            .handler(
                topic.to_owned(),
                handler_fn(move |_message: WsMessage| {
                    *counts
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .entry(topic.to_owned())
                        .or_default() += 1;
                    Ok::<_, BoxError>(())
                }),
            )
            .subscribe(Subscription::topic(topic));
    }
    let client = builder
        .fallback(handler_fn(|_message: WsMessage| Ok::<_, BoxError>(())))
        .subscribe(Subscription::topic(unknown))
        // Shorter than the default 10 s, so that the demo of a venue whose
        // errors name no request ends soon.
        .subscribe_timeout(Duration::from_secs(2))
        .build()?;
    let mut events = client.events();
    client.connect().await?;

    let delivered = || {
        let counts = counts.lock().unwrap_or_else(PoisonError::into_inner);
        [a, b, c]
            .iter()
            .all(|t| counts.get(*t).copied().unwrap_or(0) >= MESSAGES)
    };
    wait_until("every topic's messages", WAIT, delivered).await?;
    // The unknown topic: refused with the venue's words, or (where the
    // venue's error names no request) unanswered after three tries.
    let verdict = tokio::time::timeout(WAIT * 2, async {
        loop {
            match events.recv().await {
                Ok(ClientEvent::SubscriptionRejected { id, reason }) if id == unknown => {
                    return format!("rejected: {reason}");
                }
                Ok(ClientEvent::SubscriptionTimedOut {
                    id,
                    attempt,
                    retrying: false,
                }) if id == unknown => return format!("unanswered after {attempt} tries"),
                Ok(_) => {}
                Err(error) => return format!("no verdict: {error}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| "no verdict in time".to_owned());

    let control = exchange.control();
    let connection = control.latest_connection().ok_or("no connection")?;
    let requests = control.received_text(connection)?.len();
    for (topic, count) in counts.lock().unwrap_or_else(PoisonError::into_inner).iter() {
        println!("  {topic:<28} {count} messages");
    }
    println!("  {unknown:<28} {verdict}");
    let metrics = client.metrics().connection;
    println!(
        "  {} accepted, {} rejected, {} timed out; {requests} texts sent, {} connection(s)",
        metrics.subscriptions_accepted,
        metrics.subscriptions_rejected,
        metrics.subscription_timeouts,
        control.connection_count(),
    );
    ensure(
        control.connection_count() == 1,
        "one connection: the venue never closed it for its limits",
    )?;
    ensure(
        verdict.starts_with("rejected") || verdict.starts_with("unanswered"),
        "a verdict on the unknown topic",
    )?;
    client.close().await?;
    exchange.shutdown().await;
    Ok(())
}
