//! Per-stream integrity through the client, against the mock exchange's
//! ground truth: gaps, duplicates, reorders and wrong checksums injected
//! into one stream. Its handler never sees a delta across an unannounced
//! gap, it is resynchronised alone (by resubscribing, or by a snapshot
//! fetched Binance-style), and the other streams' delivery is untouched.
//! The streams are numbered by the router's parse, or by a raw reader.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use hypersockets::{
    BoxError, ClientEvent, EventStream, Integrity, MessageHandler, MessageRouter, ParseError,
    ResyncHandle, StaleCause, StreamId, StreamSequence, StreamSnapshot, WebSocketClient, WsMessage,
    handler_fn,
};
use hypersockets_testkit::{
    ConnectionId, Control, ExchangeConfig, Fault, MockExchange, Rate, StreamConfig, StreamFault,
    book_checksum,
};
use serde_json::Value;
use support::{
    CONTROL, Collected, Feed, FeedRouter, book_sequence as reader, subscription, wait_event,
};

const A: &str = "btcusdt@depth";
const B: &str = "ethusdt@depth";
const C: &str = "solusdt@depth";
const STREAMS: [&str; 3] = [A, B, C];
const RATE: Rate = Rate::PerSecond(200);

fn id(stream: &str) -> StreamId {
    StreamId::of(&[stream])
}

/// The testkit's messages, each book message numbered in its parse, as
/// a user's router does (`MessageRouter::sequence`): no raw reader needed.
struct NumberedFeeds;

impl MessageRouter for NumberedFeeds {
    type Message = Feed;
    type RouteKey = String;

    fn parse(&self, message: &WsMessage) -> Result<Feed, ParseError> {
        let mut feed = FeedRouter.parse(message)?;
        feed.at = reader(message);
        Ok(feed)
    }

    fn route_key(&self, feed: &Feed) -> String {
        FeedRouter.route_key(feed)
    }

    fn sequence(&self, feed: &Feed) -> Option<StreamSequence> {
        feed.at
    }
}

/// Where the client gets the streams' numbers.
#[derive(Clone, Copy, Debug)]
enum Numbers {
    /// The router's parse (`NumberedFeeds`).
    Router,
    /// A raw reader (`reader`), the router numbering nothing.
    Reader,
}

/// Price and quantity pairs, borrowed.
fn pairs(levels: &[(String, String)]) -> Vec<(&str, &str)> {
    levels
        .iter()
        .map(|(p, q)| (p.as_str(), q.as_str()))
        .collect()
}

/// A delivered message of a book stream.
#[derive(Debug)]
struct Seen {
    text: String,
    /// A snapshot (the venue's, or one fetched): its last update id.
    snapshot: Option<u64>,
    /// A delta's first and last update ids.
    first: u64,
    last: u64,
}

fn seen(text: &str) -> Seen {
    let value: Value = serde_json::from_str(text).unwrap();
    if let Some(rest) = value.get("snapshot") {
        let last = rest["lastUpdateId"].as_u64().unwrap();
        return Seen {
            text: text.to_owned(),
            snapshot: Some(last),
            first: last,
            last,
        };
    }
    let data = &value["data"];
    let (first, last) = (data["U"].as_u64().unwrap(), data["u"].as_u64().unwrap());
    Seen {
        text: text.to_owned(),
        snapshot: (data["type"] == "snapshot").then_some(last),
        first,
        last,
    }
}

/// Every delta a handler saw follows on from the message before it: never
/// across a gap. A snapshot starts afresh; a delta may straddle it
/// (Binance: the first delta after a snapshot at `S` has `U <= S + 1 <= u`).
fn assert_continuous(stream: &str, delivered: &[Seen]) {
    let mut last: Option<u64> = None;
    for (i, message) in delivered.iter().enumerate() {
        if let Some(snapshot) = message.snapshot {
            last = Some(snapshot);
            continue;
        }
        let Some(before) = last else {
            panic!("{stream}: delta {i} before any snapshot: {}", message.text);
        };
        assert!(
            message.first <= before + 1 && before < message.last,
            "{stream}: delta {i} ({}..={}) does not follow {before}",
            message.first,
            message.last
        );
        last = Some(message.last);
    }
}

/// `delivered` is `sent` with messages left out, in the same order.
fn assert_subsequence(stream: &str, delivered: &[Seen], sent: &[String]) {
    let mut sent = sent.iter();
    for message in delivered
        .iter()
        .filter(|m| !m.text.contains("\"snapshot\":{"))
    {
        assert!(
            sent.any(|text| *text == message.text),
            "{stream}: delivered out of the exchange's order: {}",
            message.text
        );
    }
}

/// Texts written on `connection` for `stream`, in order.
fn sent(control: &Control, connection: ConnectionId, stream: &str) -> Vec<String> {
    control
        .sent_on(connection, stream)
        .unwrap()
        .iter()
        .map(|record| record.text().to_owned())
        .collect()
}

/// A running exchange with a book stream per name of `STREAMS`, and a
/// connected client of it with a lane per stream, all collected into
/// `data` (in each stream's handling order).
struct Run {
    exchange: MockExchange,
    control: Control,
    client: WebSocketClient,
    events: EventStream,
    data: Collected,
}

impl Run {
    /// Starts both; returns once every stream delivered `warm` messages.
    async fn start(
        numbers: Numbers,
        stream: impl Fn(&str) -> StreamConfig,
        integrity: Integrity,
        warm: usize,
    ) -> Self {
        Self::start_with(numbers, stream, integrity, warm, |_| {}).await
    }

    /// [`start`](Self::start), handing the exchange's control to
    /// `started` before the client connects.
    async fn start_with(
        numbers: Numbers,
        stream: impl Fn(&str) -> StreamConfig,
        integrity: Integrity,
        warm: usize,
        started: impl FnOnce(&Control),
    ) -> Self {
        let mut config = ExchangeConfig::new();
        for name in STREAMS {
            config = config.stream(stream(name).rate(RATE));
        }
        let exchange = MockExchange::start(config).await.unwrap();
        let control = exchange.control();
        started(&control);
        let data = Collected::default();
        let (url, control_texts) = (exchange.url(), Collected::default());
        let client = match numbers {
            Numbers::Router => {
                support::client_builder_with(NumberedFeeds, url, &STREAMS, &data, &control_texts)
                    .integrity(integrity)
                    .build()
            }
            Numbers::Reader => support::client_for(&exchange, &STREAMS, &data, &control_texts)
                .sequence(reader)
                .integrity(integrity)
                .build(),
        }
        .unwrap();
        let events = client.events();
        client.connect().await.unwrap();
        let run = Self {
            exchange,
            control,
            client,
            events,
            data,
        };
        for name in STREAMS {
            run.wait_for(name, warm).await;
        }
        run
    }

    /// What `stream`'s handler got, in order.
    fn delivered(&self, stream: &str) -> Vec<Seen> {
        delivered(&self.data.texts(), stream)
    }

    /// Waits until `stream`'s handler got `count` messages.
    async fn wait_for(&self, stream: &str, count: usize) {
        let what = format!("{count} messages of {stream}");
        self.data
            .wait_until(&what, |texts| of(texts, stream).count() >= count)
            .await;
    }

    /// Waits until `stream`'s handler got `more` messages more.
    async fn wait_for_more(&self, stream: &str, more: usize) {
        let count = of(&self.data.texts(), stream).count();
        self.wait_for(stream, count + more).await;
    }
}

/// The texts of `stream`'s messages among `texts`.
fn of<'a>(texts: &'a [String], stream: &str) -> impl Iterator<Item = &'a String> {
    let tag = format!(r#""stream":"{stream}""#);
    texts.iter().filter(move |text| text.contains(&tag))
}

fn delivered(texts: &[String], stream: &str) -> Vec<Seen> {
    of(texts, stream).map(|text| seen(text)).collect()
}

/// The next `StreamStale` of `stream`.
async fn stale(events: &mut EventStream, stream: &str) -> StaleCause {
    let event = wait_event(
        events,
        &format!("{stream} stale"),
        |event| matches!(event, ClientEvent::StreamStale { stream: s, .. } if *s == id(stream)),
    )
    .await;
    match event {
        ClientEvent::StreamStale { cause, .. } => cause,
        _ => unreachable!(),
    }
}

/// The next `StreamResynced` of `stream`: its replayed count.
async fn resynced(events: &mut EventStream, stream: &str) -> u64 {
    let event = wait_event(
        events,
        &format!("{stream} resynced"),
        |event| matches!(event, ClientEvent::StreamResynced { stream: s, .. } if *s == id(stream)),
    )
    .await;
    match event {
        ClientEvent::StreamResynced { replayed, .. } => replayed,
        _ => unreachable!(),
    }
}

/// Faults on one stream, resynchronised by resubscribing (the venue sends
/// its snapshot on subscribe): a gap and a reorder each make it stale and
/// resynced; a duplicate is dropped and counted; the other streams get
/// exactly what was sent, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_in_one_stream_resubscribe_it_alone() {
    faults_in_one_stream(Numbers::Router).await;
}

/// The same, numbered by a raw reader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_numbered_by_a_raw_reader_resubscribe_it_alone() {
    faults_in_one_stream(Numbers::Reader).await;
}

async fn faults_in_one_stream(numbers: Numbers) {
    let book = |name: &str| StreamConfig::book_deltas(name).snapshot_on_subscribe(true);
    let mut run = Run::start(numbers, book, Integrity::default(), 20).await;
    let conn = run.control.latest_connection().unwrap();

    run.control
        .stream_fault(conn, A, StreamFault::Gap(3))
        .unwrap();
    match stale(&mut run.events, A).await {
        StaleCause::Gap { last, next } => assert_eq!(next - last - 1, 3, "the gap's size"),
        other => panic!("{other:?}"),
    }
    resynced(&mut run.events, A).await;

    run.control
        .stream_fault(conn, A, StreamFault::Duplicate)
        .unwrap();
    run.wait_for_more(A, 10).await;
    assert_eq!(run.client.metrics().connection.stream_duplicates, 1);

    run.control
        .stream_fault(conn, A, StreamFault::Reorder)
        .unwrap();
    match stale(&mut run.events, A).await {
        StaleCause::Gap { last, next } => assert_eq!(next, last + 2, "one message overtaken"),
        other => panic!("{other:?}"),
    }
    resynced(&mut run.events, A).await;
    run.wait_for_more(A, 10).await;
    run.client.close().await.unwrap();

    let metrics = run.client.metrics().connection;
    assert_eq!(metrics.stream_gaps, 2);
    assert_eq!(metrics.stream_resyncs, 2);
    assert_eq!(metrics.stream_duplicates, 1);
    for stream in STREAMS {
        let delivered = run.delivered(stream);
        let written = sent(&run.control, conn, stream);
        assert_continuous(stream, &delivered);
        assert_subsequence(stream, &delivered, &written);
        if stream != A {
            // Untouched: exactly what was written, in order (a prefix: the
            // close may cut the rest).
            let texts: Vec<&str> = delivered.iter().map(|m| m.text.as_str()).collect();
            assert_eq!(texts[..], written[..texts.len()], "{stream}");
        }
    }
    run.exchange.shutdown().await;
}

/// A snapshot fetched apart, Binance's way: each stream starts from a
/// snapshot with the deltas buffered meanwhile replayed after it; a gap
/// and a reconnection each make only their stream(s) wait for a new one;
/// the books rebuilt from what the handlers saw are the exchange's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_fetched_apart_resync_binance_style() {
    let book = |name: &str| StreamConfig::book_deltas(name).global(true);
    // The source needs the exchange, which `Run` starts: it waits for it.
    let exchange = Arc::new(std::sync::OnceLock::<Control>::new());
    let fetches = Arc::new(Mutex::new(0u32));
    let source = {
        let (exchange, fetches) = (Arc::clone(&exchange), Arc::clone(&fetches));
        move |_: StreamId, topic: Option<String>| {
            let (exchange, fetches) = (Arc::clone(&exchange), Arc::clone(&fetches));
            async move {
                *fetches.lock().unwrap_or_else(PoisonError::into_inner) += 1;
                let topic = topic.ok_or("not a subscribed topic")?;
                let control = exchange.get().ok_or("no exchange yet")?;
                rest_snapshot(control, &topic)
            }
        }
    };
    let mut run = Run::start_with(
        Numbers::Router,
        book,
        Integrity::default().snapshots(source),
        20,
        |control| {
            let _ = exchange.set(control.clone());
        },
    )
    .await;
    for stream in STREAMS {
        assert_eq!(stale(&mut run.events, stream).await, StaleCause::Start);
    }
    let first = run.control.latest_connection().unwrap();

    run.control
        .stream_fault(first, A, StreamFault::Gap(5))
        .unwrap();
    match stale(&mut run.events, A).await {
        StaleCause::Gap { last, next } => assert_eq!(next - last - 1, 5, "the gap's size"),
        other => panic!("{other:?}"),
    }
    resynced(&mut run.events, A).await;
    run.wait_for_more(A, 10).await;

    // A reconnection: the first delta of each stream on the new
    // connection is checked against the last one delivered.
    run.control.inject(first, Fault::DropTcp).unwrap();
    let mut gaps = BTreeMap::new();
    for _ in STREAMS {
        let event = wait_event(&mut run.events, "a gap after the reconnection", |event| {
            matches!(
                event,
                ClientEvent::StreamStale {
                    cause: StaleCause::Gap { .. },
                    ..
                }
            )
        })
        .await;
        if let ClientEvent::StreamStale {
            stream,
            cause: StaleCause::Gap { last, next },
        } = event
        {
            gaps.insert(stream, (last, next));
        }
    }
    let second = run.control.latest_connection().unwrap();
    assert_ne!(first, second);
    for stream in STREAMS {
        run.wait_for_more(stream, 20).await;
    }
    run.client.close().await.unwrap();

    for stream in STREAMS {
        let delivered = run.delivered(stream);
        let mut written = sent(&run.control, first, stream);
        // The gap reported is the one on the wire: from the last delta
        // delivered from the old connection to the first on the new one.
        let (last, next) = gaps[&id(stream)];
        let last_old = delivered
            .iter()
            .filter(|m| written.contains(&m.text))
            .map(|m| m.last)
            .next_back()
            .unwrap();
        let first_new = run.control.sent_on(second, stream).unwrap()[0].seq();
        assert_eq!((last, next), (last_old, first_new), "{stream}");
        assert_continuous(stream, &delivered);
        written.extend(sent(&run.control, second, stream));
        assert_subsequence(stream, &delivered, &written);
        // The book the handler could build is the exchange's.
        let end = delivered.last().unwrap().last;
        let truth = book(stream).book_snapshot(end);
        assert_eq!(
            rebuild(&delivered),
            levels_of(&serde_json::from_str(&truth).unwrap()),
            "{stream}: the book at {end}"
        );
    }
    let metrics = run.client.metrics().connection;
    assert_eq!(metrics.stream_gaps, 1 + STREAMS.len() as u64);
    // Each stream's start and reconnection, and A's gap.
    assert_eq!(metrics.stream_resyncs, 1 + 2 * STREAMS.len() as u64);
    let made = *fetches.lock().unwrap_or_else(PoisonError::into_inner);
    assert!(u64::from(made) >= metrics.stream_resyncs, "{made} fetches");
    run.exchange.shutdown().await;
}

/// Bids and asks: price → quantity, as the venue wrote them.
type Levels = (BTreeMap<String, String>, BTreeMap<String, String>);

fn levels_of(book: &Value) -> Levels {
    let side = |levels: &Value| {
        levels
            .as_array()
            .unwrap()
            .iter()
            .map(|level| {
                let price = level[0].as_str().unwrap().to_owned();
                (price, level[1].as_str().unwrap().to_owned())
            })
            .collect()
    };
    (side(&book["bids"]), side(&book["asks"]))
}

/// Applies what a handler saw: each snapshot replaces the book, each
/// delta sets its levels (a zero quantity removes one).
fn rebuild(delivered: &[Seen]) -> Levels {
    let mut book = Levels::default();
    for message in delivered {
        let value: Value = serde_json::from_str(&message.text).unwrap();
        if let Some(rest) = value.get("snapshot") {
            book = levels_of(rest);
            continue;
        }
        let data = &value["data"];
        if data["type"] == "snapshot" {
            book = levels_of(&serde_json::json!({"bids": data["bids"], "asks": data["asks"]}));
            continue;
        }
        for (side, key) in [(&mut book.0, "b"), (&mut book.1, "a")] {
            for level in data[key].as_array().unwrap() {
                let price = level[0].as_str().unwrap().to_owned();
                let quantity = level[1].as_str().unwrap().to_owned();
                if quantity.trim_start_matches(['0', '.']).is_empty() {
                    side.remove(&price);
                } else {
                    side.insert(price, quantity);
                }
            }
        }
    }
    book
}

/// One side of a book: price in hundredths → (price, quantity) as written.
type Side = BTreeMap<u64, (String, String)>;

/// A handler that keeps its stream's book and checks each delta's
/// checksum; on a mismatch it asks for a resync and ignores the stream
/// until the next snapshot.
struct CheckedBook {
    stream: &'static str,
    /// Bids and asks by price in hundredths; `None` until a snapshot.
    book: Option<(Side, Side)>,
    resync: ResyncHandle,
    report: Arc<Mutex<Checks>>,
    data: Collected,
}

#[derive(Debug, Default)]
struct Checks {
    verified: u64,
    mismatches: u64,
}

/// Prices to an integer key, in hundredths.
fn cents(price: &str) -> u64 {
    price.replace('.', "").parse().unwrap()
}

impl MessageHandler<Feed> for CheckedBook {
    async fn handle(&mut self, feed: Feed) -> Result<(), BoxError> {
        let value: Value = serde_json::from_str(&feed.text)?;
        let data = &value["data"];
        let level = |l: &Value| {
            let price = l[0].as_str().unwrap_or_default().to_owned();
            (
                cents(&price),
                (price, l[1].as_str().unwrap_or_default().to_owned()),
            )
        };
        if data["type"] == "snapshot" {
            let bids = data["bids"]
                .as_array()
                .ok_or("bids")?
                .iter()
                .map(level)
                .collect();
            let asks = data["asks"]
                .as_array()
                .ok_or("asks")?
                .iter()
                .map(level)
                .collect();
            self.book = Some((bids, asks));
        } else if let Some((bids, asks)) = &mut self.book {
            for (side, key) in [(&mut *bids, "b"), (&mut *asks, "a")] {
                for l in data[key].as_array().ok_or("levels")? {
                    let (cents, (price, quantity)) = level(l);
                    if quantity.trim_start_matches(['0', '.']).is_empty() {
                        side.remove(&cents);
                    } else {
                        side.insert(cents, (price, quantity));
                    }
                }
            }
            let top =
                |levels: &mut dyn Iterator<Item = &(String, String)>| -> Vec<(String, String)> {
                    levels.take(10).cloned().collect()
                };
            let asks = top(&mut asks.values());
            let bids = top(&mut bids.values().rev());
            let expected = u32::try_from(data["checksum"].as_u64().ok_or("checksum")?)?;
            let mut report = self.report.lock().unwrap_or_else(PoisonError::into_inner);
            if book_checksum(&pairs(&asks), &pairs(&bids)) == expected {
                report.verified += 1;
            } else {
                report.mismatches += 1;
                self.book = None;
                self.resync.checksum_mismatch(id(self.stream));
            }
        }
        self.data.push(feed.text);
        Ok(())
    }
}

/// A wrong checksum, found by the handler, resynchronises that stream
/// alone; every checksum after the resync matches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checksum_mismatch_resyncs_its_stream() {
    let mut config = ExchangeConfig::new();
    for stream in STREAMS {
        config = config.stream(
            StreamConfig::book_deltas(stream)
                .checksum(true)
                .snapshot_on_subscribe(true)
                .rate(RATE),
        );
    }
    let exchange = MockExchange::start(config).await.unwrap();
    let control = exchange.control();
    let integrity = Integrity::default();
    let data = Collected::default();
    let reports: Vec<Arc<Mutex<Checks>>> = STREAMS.iter().map(|_| Arc::default()).collect();
    let mut builder = WebSocketClient::builder()
        .url(exchange.url())
        .router(FeedRouter)
        .sequence(reader)
        .integrity(integrity.clone())
        .handler(
            CONTROL.to_owned(),
            handler_fn(|_: Feed| Ok::<_, BoxError>(())),
        );
    for (stream, report) in STREAMS.iter().zip(&reports) {
        builder = builder
            .handler(
                (*stream).to_owned(),
                CheckedBook {
                    stream,
                    book: None,
                    resync: integrity.resync_handle(),
                    report: Arc::clone(report),
                    data: data.clone(),
                },
            )
            .subscribe(subscription(stream));
    }
    let client = builder.build().unwrap();
    let mut events = client.events();
    client.connect().await.unwrap();
    let count = |stream: &str| of(&data.texts(), stream).count();
    data.wait_until("20 messages of each stream", |texts| {
        STREAMS.iter().all(|stream| of(texts, stream).count() >= 20)
    })
    .await;
    let conn = control.latest_connection().unwrap();
    control
        .stream_fault(conn, A, StreamFault::WrongChecksum)
        .unwrap();
    assert_eq!(stale(&mut events, A).await, StaleCause::Checksum);
    resynced(&mut events, A).await;
    let verified = |i: usize| {
        reports[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .verified
    };
    let after_resync = verified(0);
    let target = count(A) + 20;
    data.wait_until("20 more of A", |texts| of(texts, A).count() >= target)
        .await;
    client.close().await.unwrap();

    assert!(
        verified(0) >= after_resync + 10,
        "checksums verified after the resync"
    );
    for (i, stream) in STREAMS.iter().enumerate() {
        let report = reports[i].lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(
            report.mismatches,
            u64::from(*stream == A),
            "{stream}: {report:?}"
        );
        let delivered = delivered(&data.texts(), stream);
        assert_continuous(stream, &delivered);
        assert_subsequence(stream, &delivered, &sent(&control, conn, stream));
    }
    let metrics = client.metrics().connection;
    assert_eq!((metrics.stream_gaps, metrics.stream_resyncs), (0, 1));
    exchange.shutdown().await;
}

/// After a reconnection, a venue's snapshot on the new connection that
/// jumps ahead of the last delta delivered is reported as a gap of the
/// exact size, already healed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnection_reports_the_gap_a_snapshot_covers() {
    let book = |name: &str| {
        StreamConfig::book_deltas(name)
            .global(true)
            .snapshot_on_subscribe(true)
    };
    let mut run = Run::start(Numbers::Reader, book, Integrity::default(), 10).await;
    let first = run.control.latest_connection().unwrap();
    run.control.inject(first, Fault::DropTcp).unwrap();
    let cause = stale(&mut run.events, A).await;
    resynced(&mut run.events, A).await;
    let second = run.control.latest_connection().unwrap();
    run.wait_for_more(A, 10).await;
    run.client.close().await.unwrap();

    // Ground truth: the last delta delivered from the old connection, and
    // the snapshot the new one began with.
    let delivered = run.delivered(A);
    let old = sent(&run.control, first, A);
    let last_old = delivered
        .iter()
        .filter(|m| old.contains(&m.text))
        .map(|m| m.last)
        .next_back()
        .unwrap();
    let snapshot = run.control.sent_on(second, A).unwrap()[0].clone();
    assert!(snapshot.is_snapshot());
    assert_eq!(
        cause,
        StaleCause::Gap {
            last: last_old,
            next: snapshot.seq() + 1
        }
    );
    assert_continuous(A, &delivered);
    run.exchange.shutdown().await;
}

/// Unsubscribing a stream that waits for its snapshot ends the wait: what
/// it buffered is dropped and counted, and the other stream flows on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribing_a_waiting_stream_drops_its_buffer() {
    let mut config = ExchangeConfig::new();
    for stream in [A, B] {
        config = config.stream(StreamConfig::book_deltas(stream).global(true).rate(RATE));
    }
    let exchange = MockExchange::start(config).await.unwrap();
    let control = exchange.control();
    // A's snapshot never comes; B's at once.
    let source = move |_: StreamId, topic: Option<String>| {
        let control = control.clone();
        async move {
            let topic = topic.ok_or("not a subscribed topic")?;
            if topic == A {
                std::future::pending::<()>().await;
            }
            rest_snapshot(&control, &topic)
        }
    };
    let data = Collected::default();
    let client = support::client_builder_with(
        NumberedFeeds,
        exchange.url(),
        &[A, B],
        &data,
        &Collected::default(),
    )
    .integrity(Integrity::default().snapshots(source))
    .build()
    .unwrap();
    let mut events = client.events();
    client.connect().await.unwrap();
    assert_eq!(stale(&mut events, A).await, StaleCause::Start);
    resynced(&mut events, B).await;

    assert!(client.unsubscribe(A).await.unwrap());
    support::within("A's buffer dropped", async {
        while client.metrics().connection.stream_stale_dropped == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await;
    let before = of(&data.texts(), B).count();
    let wait_b = format!("{} messages of {B}", before + 10);
    data.wait_until(&wait_b, |texts| of(texts, B).count() >= before + 10)
        .await;
    client.close().await.unwrap();
    assert_eq!(of(&data.texts(), A).count(), 0, "A never resynced");
    assert_continuous(B, &delivered(&data.texts(), B));
    exchange.shutdown().await;
}

/// The exchange's REST book snapshot of `topic`, as a user's snapshot
/// source fetches it: numbered by its `lastUpdateId`, wrapped in the
/// envelope `NumberedFeeds` routes.
fn rest_snapshot(control: &Control, topic: &str) -> Result<StreamSnapshot, BoxError> {
    let rest = control.book_snapshot(topic, None).ok_or("no such book")?;
    let number = serde_json::from_str::<Value>(&rest)?["lastUpdateId"]
        .as_u64()
        .ok_or("no lastUpdateId")?;
    let message = format!(r#"{{"stream":"{topic}","snapshot":{rest}}}"#);
    Ok(StreamSnapshot::new(number, WsMessage::text(message)))
}
