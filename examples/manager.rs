//! Many connections under one roof: a [`ClientManager`] holding three
//! clients of two router types on two mock exchanges — two Binance-style
//! trade feeds and an OKX-style ticker feed — under keys of your choosing.
//!
//! It connects them all at once, prints every client's events on one
//! stream tagged with the client's key, hands back a client by its key and
//! router type to subscribe at run time, broadcasts a message to every
//! client, sums their metrics, survives one connection being dropped,
//! removes a client, and shuts the rest down.
//!
//! Every lane is a tokio task (`LaneKind::Task`): these handlers only
//! count and await, the cheapest hand-off (the default, pool lanes, would
//! keep the thread count as flat). The OKX client routes by instrument,
//! and its ticker lanes are bounded and conflating (`OverflowPolicy::KeepLatest`): their handler is
//! slow on purpose, and only the newest ticker of each instrument waits
//! for it. (One conflating lane for several instruments would be a bug:
//! the newest ticker of one would keep replacing the other's.)
//!
//! ```sh
//! cargo run --release --example manager
//! ```

#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hypersockets::prelude::*;
use hypersockets::{LaneMetricsSnapshot, ManagerEvent, ManagerEventStream};
use hypersockets_examples::{
    Envelope, Trade, binance_subscription, describe, ensure, okx_subscription, parse_json,
    wait_until,
};
use hypersockets_testkit::{
    ConnectionId, ExchangeConfig, Fault, MockExchange, Rate, StreamConfig, SubscriptionProtocol,
};
use serde::Deserialize;

const WAIT: Duration = Duration::from_secs(5);

/// The Binance router's route keys: market data, or anything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Data,
    Other,
}

/// Binance trades; everything else (answers, `pong`) as text.
struct BinanceTrades;

#[derive(Debug)]
enum BinanceMsg {
    Trade(Envelope<Trade>),
    Other(String),
}

impl MessageRouter for BinanceTrades {
    type Message = BinanceMsg;
    type RouteKey = Kind;

    fn parse(&self, message: &WsMessage) -> Result<BinanceMsg, ParseError> {
        match message.as_text() {
            Some(text) if text.starts_with(r#"{"stream""#) => {
                parse_json(message).map(BinanceMsg::Trade)
            }
            Some(text) => Ok(BinanceMsg::Other(text.to_owned())),
            None => Err(ParseError::new("binary")),
        }
    }

    fn route_key(&self, message: &BinanceMsg) -> Kind {
        match message {
            BinanceMsg::Trade(_) => Kind::Data,
            BinanceMsg::Other(_) => Kind::Other,
        }
    }
}

/// The OKX instruments; each gets its own lane.
const INSTRUMENTS: [&str; 2] = ["BTC-USDT", "ETH-USDT"];
/// The lane of everything that is not a ticker.
const OTHER: &str = "other";

/// OKX tickers: `{"arg":{…},"data":[{"instId":…,"last":…}]}`, routed by
/// instrument.
struct OkxTickers;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OkxTicker {
    inst_id: String,
    last: String,
}

#[derive(Debug, Deserialize)]
struct TickerPush {
    data: [OkxTicker; 1],
}

#[derive(Debug)]
enum OkxMsg {
    Ticker(OkxTicker),
    Other(String),
}

impl MessageRouter for OkxTickers {
    type Message = OkxMsg;
    type RouteKey = &'static str;

    fn parse(&self, message: &WsMessage) -> Result<OkxMsg, ParseError> {
        match message.as_text() {
            Some(text) if text.starts_with(r#"{"arg""#) => {
                let [ticker] = parse_json::<TickerPush>(message)?.data;
                Ok(OkxMsg::Ticker(ticker))
            }
            Some(text) => Ok(OkxMsg::Other(text.to_owned())),
            None => Err(ParseError::new("binary")),
        }
    }

    fn route_key(&self, message: &OkxMsg) -> &'static str {
        match message {
            OkxMsg::Ticker(ticker) => INSTRUMENTS
                .into_iter()
                .find(|inst| *inst == ticker.inst_id)
                .unwrap_or(OTHER),
            OkxMsg::Other(_) => OTHER,
        }
    }
}

/// Keeps the last price of an instrument somewhere slow (a database, say).
struct LastPrice {
    prices: Arc<Mutex<HashMap<String, String>>>,
}

impl MessageHandler<OkxMsg> for LastPrice {
    async fn handle(&mut self, message: OkxMsg) -> Result<(), BoxError> {
        if let OkxMsg::Ticker(ticker) = message {
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.prices
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(ticker.inst_id, ticker.last);
        }
        Ok(())
    }
}

/// The mock's OKX tickers for `tickers:INST`.
fn okx_ticker(name: &str, _: ConnectionId, seq: u64) -> String {
    let inst = name.split_once(':').map_or(name, |(_, inst)| inst);
    let mid = if inst.starts_with("BTC") {
        5_000_000
    } else {
        300_000
    };
    let cents = mid - 1_000 + seq * 7_919 % 2_001;
    format!(
        r#"{{"arg":{{"channel":"tickers","instId":"{inst}"}},"data":[{{"instType":"SPOT","instId":"{inst}","last":"{}.{:02}","ts":"{}"}}]}}"#,
        cents / 100,
        cents % 100,
        1_700_000_000_000 + seq,
    )
}

/// Counts `pong` answers (to the broadcast `ping`) and prints the rest.
fn other_handler(
    key: &'static str,
    pongs: &Arc<AtomicU64>,
) -> impl FnMut(String) -> Result<(), BoxError> + Send + 'static {
    let pongs = Arc::clone(pongs);
    move |text: String| {
        if text == "pong" {
            pongs.fetch_add(1, Ordering::Relaxed);
        }
        println!("  [{key}] {text}");
        Ok(())
    }
}

/// Prints the manager's tagged events and counts them per key and kind.
async fn print_events(
    mut events: ManagerEventStream<&'static str>,
    seen: Arc<Mutex<HashMap<(&'static str, &'static str), usize>>>,
) {
    while let Ok(ManagerEvent { key, event, .. }) = events.recv().await {
        println!("  [{key}] {}", describe(&event));
        let kind = match event {
            ClientEvent::Connected { reconnect: false } => "connected",
            ClientEvent::Connected { reconnect: true } => "reconnected",
            ClientEvent::ShutDown => "shut down",
            _ => continue,
        };
        *seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((key, kind))
            .or_default() += 1;
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // 1. Two exchanges.
    let binance = MockExchange::start(
        ExchangeConfig::new()
            .stream(StreamConfig::trades("btcusdt@trade").rate(Rate::PerSecond(300)))
            .stream(StreamConfig::trades("ethusdt@trade").rate(Rate::PerSecond(200))),
    )
    .await?;
    let okx = MockExchange::start(
        ExchangeConfig::new()
            .protocol(SubscriptionProtocol::Okx)
            .stream(StreamConfig::custom("tickers:BTC-USDT", okx_ticker).rate(Rate::PerSecond(500)))
            .stream(
                StreamConfig::custom("tickers:ETH-USDT", okx_ticker).rate(Rate::PerSecond(500)),
            ),
    )
    .await?;
    println!(
        "mock Binance on {}, mock OKX on {}",
        binance.url(),
        okx.url()
    );

    // 2. Three clients, two router types, one manager.
    let pongs = Arc::new(AtomicU64::new(0));
    let trades = Arc::new(AtomicU64::new(0));
    let tasks = LaneConfig::default().kind(LaneKind::Task);
    let manager: ClientManager<&'static str> = ClientManager::new();
    for (key, stream) in [
        ("binance-btc", "btcusdt@trade"),
        ("binance-eth", "ethusdt@trade"),
    ] {
        let count = Arc::clone(&trades);
        let mut other = other_handler(key, &pongs);
        let client = WebSocketClient::builder()
            .url(binance.url())
            .router(BinanceTrades)
            .lane_defaults(tasks.clone())
            .handler(
                Kind::Data,
                handler_fn(move |message: BinanceMsg| {
                    if let BinanceMsg::Trade(trade) = message {
                        let _value = trade.data.price.parse::<f64>()?
                            * trade.data.quantity.parse::<f64>()?;
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok::<_, BoxError>(())
                }),
            )
            .handler(
                Kind::Other,
                handler_fn(move |message: BinanceMsg| match message {
                    BinanceMsg::Other(text) => other(text),
                    BinanceMsg::Trade(_) => Ok(()),
                }),
            )
            .subscribe(binance_subscription(1, &[stream]))
            .build()?;
        manager.add(key, client)?;
    }
    let last_prices = Arc::new(Mutex::new(HashMap::<String, String>::new()));
    let mut okx_other = other_handler("okx", &pongs);
    let mut okx_builder = WebSocketClient::builder()
        .url(okx.url())
        .router(OkxTickers)
        .lane_defaults(tasks.clone())
        .handler(
            OTHER,
            handler_fn(move |message: OkxMsg| match message {
                OkxMsg::Other(text) => okx_other(text),
                OkxMsg::Ticker(_) => Ok(()),
            }),
        )
        .subscribe(okx_subscription("tickers", Some(INSTRUMENTS[0])));
    // Conflation, per instrument: a slow consumer of tickers only ever
    // sees the latest of each.
    for inst in INSTRUMENTS {
        okx_builder = okx_builder.handler_with_config(
            inst,
            LastPrice {
                prices: Arc::clone(&last_prices),
            },
            tasks.clone().overflow(OverflowPolicy::KeepLatest),
        );
    }
    let okx_client = okx_builder.build()?;
    manager.add("okx", okx_client)?;

    let seen = Arc::new(Mutex::new(HashMap::new()));
    let printer = tokio::spawn(print_events(manager.events(), Arc::clone(&seen)));
    let count = |key: &'static str, kind: &'static str| {
        seen.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(key, kind))
            .copied()
            .unwrap_or(0)
    };

    // 3. Connect everything at once.
    for (key, outcome) in manager.connect_all().await {
        println!("{key}: {outcome:?}");
        outcome?;
    }

    // 4. The typed client back, by key and router type, to subscribe at
    //    run time; asking with the wrong router type gives nothing.
    let okx_client = manager
        .get(&"okx")
        .ok_or("okx is managed with the OkxTickers router")?;
    okx_client
        .subscribe(okx_subscription("tickers", Some(INSTRUMENTS[1])))
        .await?;
    ensure(
        manager.get(&"binance-btc").is_none(),
        "no OkxTickers client under binance-btc",
    )?;

    // 5. One message to every client: both exchanges answer `ping` with
    //    `pong`.
    for (key, outcome) in manager.broadcast("ping").await {
        println!("broadcast to {key}: {outcome:?}");
        outcome?;
    }
    wait_until("a pong for every client", WAIT, || {
        pongs.load(Ordering::Relaxed) == 3
    })
    .await?;

    // 6. The exchange drops binance-eth's connection; it reconnects alone.
    let binance_control = binance.control();
    let eth_conn = binance_control
        .wait_for_subscription("ethusdt@trade", WAIT)
        .await?;
    binance_control.inject(eth_conn, Fault::DropTcp)?;
    wait_until("binance-eth to reconnect", WAIT, || {
        count("binance-eth", "reconnected") == 1
    })
    .await?;
    wait_until("prices for both OKX instruments", WAIT, || {
        last_prices
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
            == 2
    })
    .await?;
    wait_until("2 000 messages in all", WAIT, || {
        manager.metrics().total.messages_received >= 2_000
    })
    .await?;

    // 7. Everybody's figures, and their sum.
    let metrics = manager.metrics();
    let mut clients = metrics.clients.clone();
    clients.sort_by_key(|(key, _)| *key);
    let lanes = |client: &hypersockets::ClientMetrics, figure: fn(&LaneMetricsSnapshot) -> u64| {
        client.router.lanes.iter().map(figure).sum::<u64>()
    };
    for (key, client) in &clients {
        println!(
            "  {key:<12} {:>6} messages, {} reconnects, lanes: {} handled, {} conflated away",
            client.connection.messages_received,
            client.connection.reconnects,
            lanes(client, |lane| lane.delivered),
            lanes(client, |lane| lane.dropped),
        );
    }
    println!(
        "  {:<12} {:>6} messages, {} reconnects; {} trades handled",
        "total",
        metrics.total.messages_received,
        metrics.total.reconnects,
        trades.load(Ordering::Relaxed),
    );
    let conflated = clients
        .iter()
        .find(|(key, _)| *key == "okx")
        .map_or(0, |(_, client)| lanes(client, |lane| lane.dropped));
    println!(
        "  last OKX prices: {:?}",
        last_prices.lock().unwrap_or_else(PoisonError::into_inner)
    );

    // 8. Remove one client (it closes), then shut the rest down.
    ensure(manager.remove(&"binance-eth").await, "binance-eth removed")?;
    println!("after remove: {:?}", manager.keys());
    let remaining = manager.len();
    manager.shutdown().await;
    binance.shutdown().await;
    okx.shutdown().await;
    // The stream ends once the manager is gone and every event is read.
    drop(manager);
    tokio::time::timeout(WAIT, printer).await??;

    ensure(
        ["binance-btc", "binance-eth", "okx"]
            .iter()
            .all(|key| count(key, "connected") == 1 && count(key, "shut down") == 1),
        "every client connected once and shut down once",
    )?;
    ensure(
        metrics.total.reconnects == 1 && count("binance-eth", "reconnected") == 1,
        "only binance-eth reconnected",
    )?;
    ensure(
        metrics.total.messages_received
            == clients
                .iter()
                .map(|(_, client)| client.connection.messages_received)
                .sum::<u64>(),
        "the total to be the sum of the clients",
    )?;
    ensure(conflated > 0, "the slow ticker lane to conflate")?;
    ensure(remaining == 2, "two clients left after the removal")
}
