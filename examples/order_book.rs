//! Local order books from Binance-style depth deltas, one per symbol, each
//! kept by its own handler in its own lane: symbols are handled in
//! parallel, and each symbol's deltas in the order the socket received
//! them — which a book needs, since a delta applied out of turn corrupts it.
//!
//! Each `Book` is a struct the lane owns (`impl MessageHandler for Book`,
//! `&mut self`, no lock around the book). It checks that every delta's
//! first update id follows the last one it applied; a gap means lost
//! deltas and a resync. Half-way the exchange cuts a frame in half and
//! drops the connection: the client reconnects, the subscriptions are
//! restored, the streams start over on the new connection, and every book
//! resyncs. A send tried while the client is reconnecting is refused, not
//! queued for later.
//!
//! ```sh
//! cargo run --release --example order_book
//! ```

#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hypersockets::prelude::*;
use hypersockets_examples::{
    DepthUpdate, Envelope, EventLog, binance_subscription, ensure, parse_json, wait_until,
};
use hypersockets_testkit::{
    ConnectionId, ExchangeConfig, Fault, MockExchange, Rate, Scenario, StreamConfig,
};

/// The symbols, and their mid prices in cents.
const SYMBOLS: [(&str, u64); 3] = [
    ("BTCUSDT", 5_000_000),
    ("ETHUSDT", 300_000),
    ("SOLUSDT", 15_000),
];
/// Deltas per second per symbol.
const RATE: u32 = 500;
/// Deltas (all symbols) written before the exchange cuts the connection.
const FAULT_AFTER: u64 = 1_200;
/// Deltas each book applies on the new connection before the demo ends.
const AFTER_RESYNC: u64 = 300;

/// What the router makes of a message.
#[derive(Debug)]
enum BookFeed {
    Delta(Envelope<DepthUpdate>),
    /// Answers to requests, e.g. `{"result":null,"id":1}`.
    Answer(String),
}

/// Parses on the reader and routes by symbol: one lane per symbol.
struct DepthRouter;

impl MessageRouter for DepthRouter {
    type Message = BookFeed;
    /// The symbol: `&'static str` keys are cheap to hash and never allocate.
    type RouteKey = &'static str;

    fn parse(&self, message: &WsMessage) -> Result<BookFeed, ParseError> {
        if message.as_bytes().starts_with(br#"{"stream""#) {
            return parse_json(message).map(BookFeed::Delta);
        }
        let text = message.as_text().ok_or_else(|| ParseError::new("binary"))?;
        Ok(BookFeed::Answer(text.to_owned()))
    }

    fn route_key(&self, message: &BookFeed) -> &'static str {
        match message {
            BookFeed::Delta(delta) => SYMBOLS
                .iter()
                .map(|(symbol, _)| *symbol)
                .find(|symbol| *symbol == delta.data.symbol)
                .unwrap_or("unknown symbol"),
            BookFeed::Answer(_) => "answer",
        }
    }
}

/// A price or quantity in hundredths or thousandths, parsed exactly.
fn fixed(decimal: &str) -> Result<u64, BoxError> {
    let (units, fraction) = decimal.split_once('.').unwrap_or((decimal, ""));
    let scale = 10u64.pow(u32::try_from(fraction.len())?);
    let fraction = if fraction.is_empty() {
        0
    } else {
        fraction.parse()?
    };
    Ok(units.parse::<u64>()? * scale + fraction)
}

/// What a book shows the outside world; written by its lane only, read at
/// the end (so the lock is never contended).
#[derive(Debug, Default)]
struct BookReport {
    best_bid: Option<(u64, u64)>,
    best_ask: Option<(u64, u64)>,
    levels: usize,
    applied: u64,
    applied_since_resync: u64,
    gaps: u64,
    resyncs: u64,
}

/// One symbol's order book: price (cents) → quantity (thousandths).
struct Book {
    bids: BTreeMap<u64, u64>,
    asks: BTreeMap<u64, u64>,
    /// The connection whose stream the book follows, and the last update
    /// id applied; `None` when the book must resync.
    synced: Option<(u64, u64)>,
    report: Arc<Mutex<BookReport>>,
}

impl Book {
    fn new(report: Arc<Mutex<BookReport>>) -> Self {
        Self {
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            synced: None,
            report,
        }
    }

    fn apply(side: &mut BTreeMap<u64, u64>, levels: &[[String; 2]]) -> Result<(), BoxError> {
        for [price, quantity] in levels {
            match fixed(quantity)? {
                0 => side.remove(&fixed(price)?),
                quantity => side.insert(fixed(price)?, quantity),
            };
        }
        Ok(())
    }
}

impl MessageHandler<BookFeed> for Book {
    async fn handle(&mut self, message: BookFeed) -> Result<(), BoxError> {
        let BookFeed::Delta(delta) = message else {
            return Ok(());
        };
        let update = &delta.data;
        let mut report = self.report.lock().unwrap_or_else(PoisonError::into_inner);
        match self.synced {
            Some((conn, last)) if conn == delta.conn => {
                if update.first_update != last + 1 {
                    // Deltas were lost: the book is wrong from here on.
                    report.gaps += 1;
                    self.synced = None;
                    self.bids.clear();
                    self.asks.clear();
                    return Ok(());
                }
            }
            // A new connection (or a gap): the stream starts over. A real
            // client fetches a REST snapshot here and drops the deltas it
            // already covers; the mock's streams start from an empty book.
            _ => {
                self.bids.clear();
                self.asks.clear();
                report.resyncs += 1;
                report.applied_since_resync = 0;
                println!(
                    "  [{}] resync on connection #{} from update {}",
                    update.symbol, delta.conn, update.first_update
                );
            }
        }
        Self::apply(&mut self.bids, &update.bids)?;
        Self::apply(&mut self.asks, &update.asks)?;
        self.synced = Some((delta.conn, update.last_update));
        report.best_bid = self.bids.iter().next_back().map(|(p, q)| (*p, *q));
        report.best_ask = self.asks.iter().next().map(|(p, q)| (*p, *q));
        report.levels = self.bids.len() + self.asks.len();
        report.applied += 1;
        report.applied_since_resync += 1;
        Ok(())
    }
}

/// The mock's depth stream for `name` (`btcusdt@depth`): Binance
/// `depthUpdate`s in the combined-stream envelope, one level changed per
/// delta, within ten ticks of the symbol's mid, every fifth one removed.
fn depth_delta(name: &str, conn: ConnectionId, seq: u64) -> String {
    let symbol = name.split('@').next().unwrap_or(name).to_ascii_uppercase();
    let mid = SYMBOLS
        .iter()
        .find(|(s, _)| *s == symbol)
        .map_or(10_000, |(_, mid)| *mid);
    let offset = seq * 7 % 10 + 1;
    let quantity = if seq.is_multiple_of(5) {
        0
    } else {
        seq * 13 % 997 + 1
    };
    let level = |cents: u64| {
        format!(
            r#"[["{}.{:02}","{}.{:03}"]]"#,
            cents / 100,
            cents % 100,
            quantity / 1000,
            quantity % 1000
        )
    };
    let (bids, asks) = if seq.is_multiple_of(2) {
        (level(mid - offset), "[]".to_owned())
    } else {
        ("[]".to_owned(), level(mid + offset))
    };
    format!(
        r#"{{"stream":"{name}","conn":{},"seq":{seq},"data":{{"e":"depthUpdate","E":{},"s":"{symbol}","U":{seq},"u":{seq},"b":{bids},"a":{asks}}}}}"#,
        conn.get(),
        1_700_000_000_000 + seq,
    )
}

fn price(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let streams: Vec<String> = SYMBOLS
        .iter()
        .map(|(symbol, _)| format!("{}@depth", symbol.to_ascii_lowercase()))
        .collect();
    let mut config = ExchangeConfig::new();
    for stream in &streams {
        config = config
            .stream(StreamConfig::custom(stream.as_str(), depth_delta).rate(Rate::PerSecond(RATE)));
    }
    let exchange = MockExchange::start(config).await?;
    let control = exchange.control();
    println!("mock exchange on {}", exchange.url());

    // A book per symbol, each in its own lane.
    let reports: Vec<(&str, Arc<Mutex<BookReport>>)> = SYMBOLS
        .iter()
        .map(|(symbol, _)| (*symbol, Arc::default()))
        .collect();
    let mut builder = WebSocketClient::builder()
        .url(exchange.url())
        .router(DepthRouter)
        .fallback(handler_fn(|message: BookFeed| {
            if let BookFeed::Answer(text) = message {
                println!("  [answer] {text}");
            }
            Ok::<_, BoxError>(())
        }))
        .subscribe(binance_subscription(
            1,
            &streams.iter().map(String::as_str).collect::<Vec<_>>(),
        ))
        // Wait a little before reconnecting, so the refused send below
        // surely finds the client between connections.
        .reconnect(
            ExponentialBackoff::default()
                .immediate_first(false)
                .initial(Duration::from_millis(300)),
        );
    for (symbol, report) in &reports {
        builder = builder.handler(*symbol, Book::new(Arc::clone(report)));
    }
    let client = builder.build()?;
    let mut events = EventLog::spawn("client", client.events());

    // Half-way, a frame cut in half, then the connection dropped.
    control.run(Scenario::new().after_messages(FAULT_AFTER, Fault::CutMidFrame));
    client.connect().await?;
    println!("connected; books building");

    wait_until("the connection to drop", Duration::from_secs(5), || {
        client.state() != ConnectionState::Connected
    })
    .await?;
    let refused = client
        .send(r#"{"method":"LIST_SUBSCRIPTIONS","id":7}"#)
        .await;
    println!("  a send while {:?}: {refused:?}", client.state());

    let resynced = |report: &Arc<Mutex<BookReport>>| {
        let report = report.lock().unwrap_or_else(PoisonError::into_inner);
        report.resyncs >= 2 && report.applied_since_resync >= AFTER_RESYNC
    };
    wait_until("every book to resync", Duration::from_secs(6), || {
        reports.iter().all(|(_, report)| resynced(report))
    })
    .await?;
    client.close().await?;
    events.finish().await;

    println!();
    println!("top of book:");
    let mut gaps = 0;
    let mut resyncs = 0;
    let mut crossed = false;
    for (symbol, report) in &reports {
        let report = report.lock().unwrap_or_else(PoisonError::into_inner);
        let (bid, ask) = (
            report.best_bid.unwrap_or_default(),
            report.best_ask.unwrap_or_default(),
        );
        println!(
            "  {symbol}: bid {} x {:.3} | ask {} x {:.3}  ({} levels, {} deltas applied, {} resyncs, {} gaps)",
            price(bid.0),
            bid.1 as f64 / 1000.0,
            price(ask.0),
            ask.1 as f64 / 1000.0,
            report.levels,
            report.applied,
            report.resyncs,
            report.gaps,
        );
        gaps += report.gaps;
        resyncs += report.resyncs;
        crossed |= report.best_bid.is_none() || report.best_ask.is_none() || bid.0 >= ask.0;
    }
    let metrics = client.metrics();
    for lane in &metrics.router.lanes {
        println!(
            "  lane {:<10} delivered {:>5}  high water {:>3}  mean wait {:?}",
            lane.key, lane.delivered, lane.high_water, lane.mean_wait,
        );
    }
    println!(
        "received {} messages, {} reconnects, {} connections seen by the exchange",
        metrics.connection.messages_received,
        metrics.connection.reconnects,
        control.connection_count(),
    );
    exchange.shutdown().await;

    ensure(gaps == 0, "no sequence gap: each symbol's deltas in order")?;
    ensure(
        resyncs == 2 * SYMBOLS.len() as u64,
        "every book synced on the first connection and resynced on the second",
    )?;
    ensure(!crossed, "every book to have both sides, uncrossed")?;
    ensure(
        matches!(refused, Err(HyperSocketError::NotConnected)),
        "the send between connections refused",
    )?;
    ensure(
        metrics.connection.reconnects == 1
            && events.count(|e| matches!(e, ClientEvent::SubscriptionsRestored { .. })) == 2,
        "one reconnect, with the subscriptions restored",
    )
}
