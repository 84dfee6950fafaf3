//! The quick-start demo: a Binance-style feed of trades, order book deltas
//! and tickers from an embedded mock exchange (no internet), parsed into
//! typed messages and handled in one lane per stream — in order within a
//! stream, in parallel across streams — through a dropped connection and a
//! refused reconnect.
//!
//! ```sh
//! cargo run --release --example quickstart
//! ```

#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hypersockets::prelude::*;
use hypersockets::{DisconnectReason, EventStream};
use hypersockets_testkit::{ExchangeConfig, Fault, MockExchange, Rate, Scenario, StreamConfig};
use serde::Deserialize;

const TRADES: &str = "btcusdt@trade";
const DEPTH: &str = "btcusdt@depth";
const TICKER: &str = "btcusdt@ticker";
/// How long the demo listens.
const RUN_FOR: Duration = Duration::from_secs(6);

/// The lanes: one per kind of message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Channel {
    Trades,
    Book,
    Ticker,
    Control,
}

/// What the router turns each message into.
#[derive(Debug)]
enum Feed {
    Trade(Trade),
    Depth(DepthUpdate),
    Ticker(Ticker),
    /// Subscription answers and anything else that is not market data.
    Control(String),
}

#[derive(Debug, Deserialize)]
struct Trade {
    #[serde(rename = "p")]
    price: String,
    #[serde(rename = "q")]
    quantity: String,
}

#[derive(Debug, Deserialize)]
struct DepthUpdate {
    #[serde(rename = "U")]
    first_update: u64,
    #[serde(rename = "u")]
    last_update: u64,
    #[serde(rename = "b")]
    bids: Vec<[String; 2]>,
    #[serde(rename = "a")]
    asks: Vec<[String; 2]>,
}

#[derive(Debug, Deserialize)]
struct Ticker {
    #[serde(rename = "c")]
    last: String,
}

#[derive(Deserialize)]
#[serde(tag = "e")]
enum Data {
    #[serde(rename = "trade")]
    Trade(Trade),
    #[serde(rename = "depthUpdate")]
    Depth(DepthUpdate),
    #[serde(rename = "24hrTicker")]
    Ticker(Ticker),
}

#[derive(Deserialize)]
struct Envelope {
    data: Data,
}

/// Parses Binance's combined-stream messages.
struct BinanceRouter;

impl MessageRouter for BinanceRouter {
    type Message = Feed;
    type RouteKey = Channel;

    fn parse(&self, message: &WsMessage) -> Result<Feed, ParseError> {
        let text = message
            .as_text()
            .ok_or_else(|| ParseError::new("expected a text message"))?;
        if !text.starts_with(r#"{"stream""#) {
            return Ok(Feed::Control(text.to_owned()));
        }
        let envelope: Envelope = serde_json::from_str(text)
            .map_err(|error| ParseError::from_source("invalid market data", error))?;
        Ok(match envelope.data {
            Data::Trade(trade) => Feed::Trade(trade),
            Data::Depth(update) => Feed::Depth(update),
            Data::Ticker(ticker) => Feed::Ticker(ticker),
        })
    }

    fn route_key(&self, message: &Feed) -> Channel {
        match message {
            Feed::Trade(_) => Channel::Trades,
            Feed::Depth(_) => Channel::Book,
            Feed::Ticker(_) => Channel::Ticker,
            Feed::Control(_) => Channel::Control,
        }
    }
}

/// What the handlers report at the end.
#[derive(Debug, Default)]
struct Report {
    trades: AtomicU64,
    book_updates: AtomicU64,
    book_gaps: AtomicU64,
    book_resyncs: AtomicU64,
    last_price: Mutex<String>,
    book_levels: AtomicU64,
}

/// A local order book kept from deltas. Deltas must arrive in order with
/// no gap — which the lane guarantees — or the book is wrong.
struct OrderBook {
    bids: BTreeMap<String, String>,
    asks: BTreeMap<String, String>,
    last_update: Option<u64>,
    report: Arc<Report>,
}

impl OrderBook {
    fn apply(side: &mut BTreeMap<String, String>, levels: Vec<[String; 2]>) {
        for [price, quantity] in levels {
            if quantity.parse::<f64>().is_ok_and(|q| q == 0.0) {
                side.remove(&price);
            } else {
                side.insert(price, quantity);
            }
        }
    }
}

impl MessageHandler<Feed> for OrderBook {
    async fn handle(&mut self, message: Feed) -> Result<(), BoxError> {
        let Feed::Depth(update) = message else {
            return Ok(());
        };
        match self.last_update {
            // A new connection starts a new sequence: a real client would
            // fetch a snapshot here.
            _ if update.first_update == 1 => {
                self.bids.clear();
                self.asks.clear();
                self.report.book_resyncs.fetch_add(1, Ordering::Relaxed);
            }
            Some(last) if update.first_update != last + 1 => {
                self.report.book_gaps.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        self.last_update = Some(update.last_update);
        Self::apply(&mut self.bids, update.bids);
        Self::apply(&mut self.asks, update.asks);
        let levels = self.bids.len() + self.asks.len();
        self.report
            .book_levels
            .store(levels as u64, Ordering::Relaxed);
        self.report.book_updates.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn subscribe(id: u32, stream: &str) -> Subscription {
    Subscription::new(
        stream,
        WsMessage::text(format!(
            r#"{{"method":"SUBSCRIBE","params":["{stream}"],"id":{id}}}"#
        )),
    )
}

/// Prints the connection's life as it happens.
async fn print_events(mut events: EventStream) {
    while let Ok(event) = events.recv().await {
        match event {
            ClientEvent::Connected { reconnect } => {
                println!("  [event] connected (reconnect: {reconnect})");
            }
            ClientEvent::Disconnected { reason } => {
                let reason = match reason {
                    DisconnectReason::Error(error) => hypersockets_examples::error_chain(&*error),
                    other => other.to_string(),
                };
                println!("  [event] disconnected: {reason}");
            }
            ClientEvent::Reconnecting { attempt, delay } => {
                println!("  [event] reconnecting: attempt {attempt} in {delay:?}");
            }
            ClientEvent::SubscriptionsRestored { count } => {
                println!("  [event] {count} subscriptions restored");
            }
            ClientEvent::ShutDown => {
                println!("  [event] shut down");
                return;
            }
            _ => {}
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // 1. A local exchange: three Binance-style streams.
    let exchange = MockExchange::start(
        ExchangeConfig::new()
            .stream(StreamConfig::trades(TRADES).rate(Rate::PerSecond(2_000)))
            .stream(StreamConfig::book_deltas(DEPTH).rate(Rate::PerSecond(1_000)))
            .stream(StreamConfig::tickers(TICKER).rate(Rate::PerSecond(20))),
    )
    .await?;
    println!("mock exchange listening on {}", exchange.url());

    // 2. The client: a router, a lane per channel, the subscriptions.
    let report = Arc::new(Report::default());
    let trades = Arc::clone(&report);
    let ticker = Arc::clone(&report);
    let client = WebSocketClient::builder()
        .url(exchange.url())
        .router(BinanceRouter)
        .handler(
            Channel::Trades,
            handler_fn(move |message: Feed| {
                if let Feed::Trade(trade) = message {
                    let _notional: f64 =
                        trade.price.parse::<f64>()? * trade.quantity.parse::<f64>()?;
                    trades.trades.fetch_add(1, Ordering::Relaxed);
                }
                Ok::<_, BoxError>(())
            }),
        )
        .handler(
            Channel::Book,
            OrderBook {
                bids: BTreeMap::new(),
                asks: BTreeMap::new(),
                last_update: None,
                report: Arc::clone(&report),
            },
        )
        .handler(
            Channel::Ticker,
            handler_fn(move |message: Feed| {
                if let Feed::Ticker(tick) = message {
                    *ticker
                        .last_price
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = tick.last;
                }
                Ok::<_, BoxError>(())
            }),
        )
        .handler(
            Channel::Control,
            handler_fn(|message: Feed| {
                if let Feed::Control(text) = message {
                    println!("  [control] {text}");
                }
                Ok::<_, BoxError>(())
            }),
        )
        .subscribe(subscribe(1, TRADES))
        .subscribe(subscribe(2, DEPTH))
        .subscribe(subscribe(3, TICKER))
        .reconnect(ExponentialBackoff::default().initial(Duration::from_millis(200)))
        .build()?;
    let printer = tokio::spawn(print_events(client.events()));

    // 3. Misbehave half-way: after 9 000 messages (about 3 s) drop the TCP
    //    connection, then refuse the first reconnect.
    let control = exchange.control();
    control.run(
        Scenario::new()
            .after_messages(9_000, Fault::DropTcp)
            .refuse_next(1),
    );

    client.connect().await?;
    println!("connected; listening for {RUN_FOR:?}");
    // Live figures once a second while the feed runs.
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    for second in 1..=RUN_FOR.as_secs() {
        ticker.tick().await;
        let live = client.metrics();
        let queued: u64 = live.router.lanes.iter().map(|lane| lane.depth).sum();
        println!(
            "  [{second}s] {:?}: {} messages received, {} reconnects, {} queued in lanes",
            client.state(),
            live.connection.messages_received,
            live.connection.reconnects,
            queued,
        );
    }
    client.close().await?;
    printer.await?;

    // 4. What happened.
    let metrics = client.metrics();
    println!();
    println!(
        "trades {}, book updates {}, book gaps {}, book resyncs {}",
        report.trades.load(Ordering::Relaxed),
        report.book_updates.load(Ordering::Relaxed),
        report.book_gaps.load(Ordering::Relaxed),
        report.book_resyncs.load(Ordering::Relaxed),
    );
    println!(
        "last price {}, order book levels {}",
        report
            .last_price
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
        report.book_levels.load(Ordering::Relaxed),
    );
    let connection = metrics.connection;
    println!(
        "received {} messages ({} bytes), sent {}, reconnects {}, connect attempts {}, parse errors {}",
        connection.messages_received,
        connection.bytes_received,
        connection.messages_sent,
        connection.reconnects,
        connection.connect_attempts,
        metrics.router.all_parse_errors(),
    );
    for lane in &metrics.router.lanes {
        println!(
            "  lane {:<8} delivered {:>6}  high water {:>4}  mean wait {:?}  mean handler {:?}",
            lane.key, lane.delivered, lane.high_water, lane.mean_wait, lane.mean_handle,
        );
    }
    exchange.shutdown().await;

    // The demo doubles as a smoke test: fail loudly if the promise broke.
    if report.book_gaps.load(Ordering::Relaxed) > 0 {
        return Err("the order book saw a gap: per-stream order was broken".into());
    }
    if report.trades.load(Ordering::Relaxed) == 0 || connection.reconnects == 0 {
        return Err("expected trades on both connections".into());
    }
    Ok(())
}
