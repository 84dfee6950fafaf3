//! Correct local order books from Binance-style depth diffs, one per
//! symbol, each kept by its own `&mut self` handler in its own lane.
//!
//! The handler only applies what it gets: the client keeps each stream
//! whole (`Integrity`), by the numbers the router reads in its parse
//! (`MessageRouter::sequence`). Binance's books must start from a REST snapshot
//! with the diffs buffered meanwhile and replayed after it, dropping those
//! the snapshot covers; the client does that for each symbol, with a
//! snapshot source you give it (here the mock's REST-shaped snapshot,
//! standing in for `GET /api/v3/depth`). Half-way, the exchange loses
//! three diffs of one symbol: that book alone goes stale and is rebuilt
//! from a new snapshot while the others flow on. Then the connection
//! drops: after the reconnection each stream's first diff is checked
//! against the last one applied, and every book resyncs. At the end each
//! book is compared with the exchange's own.
//!
//! ```sh
//! cargo run --release --example order_book
//! ```

#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hypersockets::prelude::*;
use hypersockets::{
    Integrity, SnapshotSource, StreamId, StreamSequence, StreamSnapshot, Subscription,
};
use hypersockets_examples::{DepthUpdate, Envelope, EventLog, ensure, parse_json, wait_until};
use hypersockets_testkit::{
    Control, ExchangeConfig, Fault, MockExchange, Rate, StreamConfig, StreamFault,
};
use serde::Deserialize;

const SYMBOLS: [&str; 3] = ["btcusdt", "ethusdt", "solusdt"];
/// Diffs per second per symbol.
const RATE: u32 = 500;
/// Diffs each book applies before the faults, and after each.
const STEP: usize = 300;
/// A REST call's round trip, as the mock's snapshot source pretends.
const ROUND_TRIP: Duration = Duration::from_millis(40);

fn topic(symbol: &str) -> String {
    format!("{symbol}@depth")
}

/// The mock's depth stream of `symbol`: numbered by the venue (the same
/// update ids on every connection), a small book with levels coming and
/// going. (Its diffs also carry a checksum, which Binance's do not; it is
/// ignored here.)
fn depth(symbol: &str) -> StreamConfig {
    StreamConfig::book_deltas(topic(symbol))
        .global(true)
        .checksum(true)
        .rate(Rate::PerSecond(RATE))
}

/// A REST depth snapshot: `{"lastUpdateId":…,"bids":[…],"asks":[…]}`.
#[derive(Debug, Deserialize)]
struct RestDepth {
    #[serde(rename = "lastUpdateId")]
    last_update: u64,
    bids: Vec<[String; 2]>,
    asks: Vec<[String; 2]>,
}

/// A REST snapshot with the topic it is for, as the snapshot source
/// hands it to the router.
#[derive(Debug, Deserialize)]
struct Snapshot {
    stream: String,
    snapshot: RestDepth,
}

#[derive(Debug)]
enum Depth {
    Diff(Envelope<DepthUpdate>),
    Snapshot(Snapshot),
    /// Answers to requests.
    Other,
}

/// Parses on the reader and routes by topic: a lane per symbol; numbers
/// each diff from its parse, for the client to track its stream.
struct DepthRouter;

impl MessageRouter for DepthRouter {
    type Message = Depth;
    type RouteKey = String;

    fn parse(&self, message: &WsMessage) -> Result<Depth, ParseError> {
        let text = message.as_text().unwrap_or_default();
        if text.contains(r#""snapshot":{"#) {
            return parse_json(message).map(Depth::Snapshot);
        }
        if text.starts_with(r#"{"stream""#) {
            return parse_json(message).map(Depth::Diff);
        }
        Ok(Depth::Other)
    }

    fn route_key(&self, message: &Depth) -> String {
        match message {
            Depth::Diff(diff) => diff.stream.clone(),
            Depth::Snapshot(snapshot) => snapshot.stream.clone(),
            Depth::Other => "answers".to_owned(),
        }
    }

    // Binance's rule: a diff covers `U..=u`, so the one before it ended at
    // `U - 1`. From the parse above: no second pass over the bytes.
    fn sequence(&self, message: &Depth) -> Option<StreamSequence> {
        let Depth::Diff(diff) = message else {
            return None;
        };
        let stream = StreamId::of(&[&diff.stream]);
        let previous = diff.data.first_update.checked_sub(1)?;
        Some(StreamSequence::new(stream, diff.data.last_update).previous(previous))
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

/// A side of a book: price → quantity, fixed point.
type Side = BTreeMap<u64, u64>;

/// One symbol's order book.
#[derive(Debug, Default)]
struct Book {
    bids: Side,
    asks: Side,
    /// The last update id applied.
    last_update: u64,
    applied: usize,
    snapshots: usize,
}

fn apply(side: &mut Side, levels: &[[String; 2]]) -> Result<(), BoxError> {
    for [price, quantity] in levels {
        match fixed(quantity)? {
            0 => side.remove(&fixed(price)?),
            quantity => side.insert(fixed(price)?, quantity),
        };
    }
    Ok(())
}

/// The handler: it owns its book (`&mut self`, no lock); the client
/// hands it a snapshot, then the diffs that follow on from it, in order.
struct BookHandler(Arc<Mutex<Book>>);

impl MessageHandler<Depth> for BookHandler {
    async fn handle(&mut self, message: Depth) -> Result<(), BoxError> {
        let mut book = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match message {
            Depth::Snapshot(Snapshot { snapshot, .. }) => {
                book.bids.clear();
                book.asks.clear();
                apply(&mut book.bids, &snapshot.bids)?;
                apply(&mut book.asks, &snapshot.asks)?;
                book.last_update = snapshot.last_update;
                book.snapshots += 1;
            }
            Depth::Diff(diff) => {
                let update = diff.data;
                apply(&mut book.bids, &update.bids)?;
                apply(&mut book.asks, &update.asks)?;
                book.last_update = update.last_update;
                book.applied += 1;
            }
            Depth::Other => {}
        }
        Ok(())
    }
}

/// The snapshot source: what a program fetches from Binance's REST API
/// (`GET /api/v3/depth?symbol=BTCUSDT&limit=1000`), here from the mock:
/// the book as it stands when asked, delivered a REST round trip later,
/// while the diffs after it keep coming (the client buffers them, and
/// replays them after the snapshot).
fn snapshots(control: Control) -> impl SnapshotSource {
    move |_, topic: Option<String>| {
        let control = control.clone();
        async move {
            let topic = topic.ok_or("not a subscribed topic")?;
            let rest = control.book_snapshot(&topic, None).ok_or("no such book")?;
            tokio::time::sleep(ROUND_TRIP).await;
            let number = serde_json::from_str::<RestDepth>(&rest)?.last_update;
            let message = format!(r#"{{"stream":"{topic}","snapshot":{rest}}}"#);
            Ok::<_, BoxError>(StreamSnapshot::new(number, WsMessage::text(message)))
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut config = ExchangeConfig::new();
    for symbol in SYMBOLS {
        config = config.stream(depth(symbol));
    }
    let exchange = MockExchange::start(config).await?;
    let control = exchange.control();
    println!("mock exchange on {}", exchange.url());

    let books: Vec<Arc<Mutex<Book>>> = SYMBOLS.iter().map(|_| Arc::default()).collect();
    let mut builder = WebSocketClient::builder()
        .venue(Venue::binance_spot().url(exchange.url()))
        .router(DepthRouter)
        .integrity(Integrity::default().snapshots(snapshots(control.clone())))
        .fallback(handler_fn(|_: Depth| Ok::<_, BoxError>(())));
    for (symbol, book) in SYMBOLS.iter().zip(&books) {
        builder = builder
            .handler(topic(symbol), BookHandler(Arc::clone(book)))
            .subscribe(Subscription::topic(topic(symbol)));
    }
    let client = builder.build()?;
    let mut events = EventLog::spawn("client", client.events());
    let names: BTreeMap<StreamId, String> = SYMBOLS
        .iter()
        .map(|symbol| (StreamId::of(&[&topic(symbol)]), topic(symbol)))
        .collect();

    let applied = |i: usize| {
        books[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .applied
    };
    let all_past = |target: &[usize]| (0..SYMBOLS.len()).all(|i| applied(i) >= target[i]);
    let step = || -> Vec<usize> { (0..SYMBOLS.len()).map(|i| applied(i) + STEP).collect() };

    client.connect().await?;
    println!("connected; each book starts from a snapshot");
    let target = step();
    wait_until("the books to build", Duration::from_secs(10), || {
        all_past(&target)
    })
    .await?;

    // Three diffs of one symbol lost on the way.
    let conn = control.latest_connection().ok_or("no connection")?;
    control.stream_fault(conn, &topic(SYMBOLS[0]), StreamFault::Gap(3))?;
    let target = step();
    wait_until("the stale book to resync", Duration::from_secs(10), || {
        all_past(&target)
    })
    .await?;

    // The connection lost.
    control.inject(conn, Fault::DropTcp)?;
    let target = step();
    wait_until("every book to resync", Duration::from_secs(10), || {
        all_past(&target)
    })
    .await?;
    client.close().await?;
    events.finish().await;

    println!();
    println!("stream events:");
    for name in names.values() {
        let of = |event: &ClientEvent, stale: bool| match event {
            ClientEvent::StreamStale { stream, .. } if stale => names.get(stream) == Some(name),
            ClientEvent::StreamResynced { stream, .. } if !stale => names.get(stream) == Some(name),
            _ => false,
        };
        println!(
            "  {name}: stale {} times, resynced {} times",
            events.count(|e| of(e, true)),
            events.count(|e| of(e, false)),
        );
    }
    println!("top of book, checked against the exchange's own book:");
    let mut all_match = true;
    for (symbol, book) in SYMBOLS.iter().zip(&books) {
        let book = book.lock().unwrap_or_else(PoisonError::into_inner);
        let truth: RestDepth =
            serde_json::from_str(&depth(symbol).book_snapshot(book.last_update))?;
        let (mut bids, mut asks) = (Side::new(), Side::new());
        apply(&mut bids, &truth.bids)?;
        apply(&mut asks, &truth.asks)?;
        let matches = bids == book.bids && asks == book.asks;
        all_match &= matches;
        let best = |side: Option<(&u64, &u64)>| {
            side.map_or("-".to_owned(), |(p, q)| {
                format!("{}.{:02} x {}.{:03}", p / 100, p % 100, q / 1000, q % 1000)
            })
        };
        println!(
            "  {symbol}: bid {} | ask {}  (update {}, {} diffs, {} snapshots, {})",
            best(book.bids.iter().next_back()),
            best(book.asks.iter().next()),
            book.last_update,
            book.applied,
            book.snapshots,
            if matches { "matches" } else { "DIFFERS" },
        );
    }
    let metrics = client.metrics().connection;
    let replayed: u64 = events
        .all()
        .iter()
        .map(|event| match event {
            ClientEvent::StreamResynced { replayed, .. } => *replayed,
            _ => 0,
        })
        .sum();
    println!(
        "gaps {}, resyncs {} ({replayed} buffered diffs replayed after their snapshots), \
         diffs a snapshot covered {}, dropped while stale {}",
        metrics.stream_gaps,
        metrics.stream_resyncs,
        metrics.stream_duplicates,
        metrics.stream_stale_dropped,
    );
    exchange.shutdown().await;

    ensure(all_match, "every book equal to the exchange's")?;
    ensure(
        metrics.stream_gaps == 1 + SYMBOLS.len() as u64,
        "one gap for the lost diffs, one per stream after the reconnection",
    )?;
    ensure(
        replayed > 0,
        "diffs buffered during a fetch replayed after it",
    )?;
    ensure(
        books.iter().all(|b| {
            let snapshots = b.lock().unwrap_or_else(PoisonError::into_inner).snapshots;
            snapshots >= 2
        }),
        "every book started from a snapshot and resynced from another",
    )
}
