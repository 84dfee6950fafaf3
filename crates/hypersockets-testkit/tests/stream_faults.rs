//! Stream faults, book checksums and snapshots, seen from a plain
//! tokio-tungstenite client that keeps its own order book.
//!
//! Faults land at a known number: the client reads a few deltas,
//! unsubscribes (the stream pauses at the last delta before the
//! acknowledgement), the test gives the fault, and the client subscribes
//! again, so that the fault hits the next number exactly.

mod support;

use std::collections::BTreeMap;

use hypersockets_testkit::{
    ConnectionId, Control, ExchangeConfig, MockExchange, Rate, StreamConfig, StreamFault, Target,
    TestkitError, book_checksum,
};
use serde_json::Value;
use support::{Client, WAIT, connect, next_text, send_text, start, subscribe_binance};

const STREAM: &str = "btcusdt@depth";

/// A book stream with checksums, paced so that a pause lands quickly.
fn book_stream() -> StreamConfig {
    StreamConfig::book_deltas(STREAM)
        .checksum(true)
        .rate(Rate::PerSecond(200))
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("json")
}

/// One message of the stream, as the client reads it.
#[derive(Clone, Debug)]
struct Msg {
    seq: u64,
    data: Value,
}

impl Msg {
    fn parse(text: &str) -> Self {
        let value = json(text);
        assert_eq!(value["stream"], STREAM, "{text}");
        Self {
            seq: value["seq"].as_u64().expect("seq"),
            data: value["data"].clone(),
        }
    }

    fn is_snapshot(&self) -> bool {
        self.data["type"] == "snapshot"
    }

    fn checksum(&self) -> Option<u32> {
        self.data["checksum"]
            .as_u64()
            .map(|c| u32::try_from(c).expect("a u32 checksum"))
    }
}

fn seqs(msgs: &[Msg]) -> Vec<u64> {
    msgs.iter().map(|m| m.seq).collect()
}

/// The client's own order book: prices keyed by their cents.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Book {
    bids: BTreeMap<u64, (String, String)>,
    asks: BTreeMap<u64, (String, String)>,
}

fn cents(price: &str) -> u64 {
    price.replace('.', "").parse().expect("a price")
}

fn is_zero(quantity: &str) -> bool {
    quantity.chars().all(|c| c == '0' || c == '.')
}

fn set_levels(side: &mut BTreeMap<u64, (String, String)>, entries: &Value) {
    for entry in entries.as_array().expect("levels") {
        let price = entry[0].as_str().expect("a price").to_owned();
        let quantity = entry[1].as_str().expect("a quantity").to_owned();
        if is_zero(&quantity) {
            side.remove(&cents(&price));
        } else {
            side.insert(cents(&price), (price, quantity));
        }
    }
}

impl Book {
    /// A snapshot's book: from a stream's `data`, or a REST snapshot.
    fn from_snapshot(snapshot: &Value) -> Self {
        let mut book = Self::default();
        set_levels(&mut book.bids, &snapshot["bids"]);
        set_levels(&mut book.asks, &snapshot["asks"]);
        book
    }

    fn apply(&mut self, delta: &Value) {
        assert_eq!(delta["e"], "depthUpdate", "{delta}");
        set_levels(&mut self.bids, &delta["b"]);
        set_levels(&mut self.asks, &delta["a"]);
    }

    fn checksum(&self) -> u32 {
        let asks: Vec<(&str, &str)> = self
            .asks
            .values()
            .map(|(p, q)| (p.as_str(), q.as_str()))
            .collect();
        let bids: Vec<(&str, &str)> = self
            .bids
            .values()
            .rev()
            .map(|(p, q)| (p.as_str(), q.as_str()))
            .collect();
        book_checksum(&asks, &bids)
    }
}

/// Reads stream messages until `count` have come.
async fn read_msgs(client: &mut Client, count: usize) -> Vec<Msg> {
    let mut msgs = Vec::with_capacity(count);
    while msgs.len() < count {
        msgs.push(Msg::parse(&next_text(client).await));
    }
    msgs
}

/// Sends a Binance request and reads stream messages until its
/// acknowledgement; returns them.
async fn request_until_ack(client: &mut Client, method: &str, id: u64) -> Vec<Msg> {
    send_text(
        client,
        &format!(r#"{{"method":"{method}","params":["{STREAM}"],"id":{id}}}"#),
    )
    .await;
    let ack = format!(r#"{{"result":null,"id":{id}}}"#);
    let mut msgs = Vec::new();
    loop {
        let text = next_text(client).await;
        if text == ack {
            return msgs;
        }
        msgs.push(Msg::parse(&text));
    }
}

/// A client subscribed to the stream, its connection, and what it read.
struct Feed {
    exchange: MockExchange,
    control: Control,
    client: Client,
    conn: ConnectionId,
    msgs: Vec<Msg>,
}

impl Feed {
    /// Starts an exchange with `stream`, subscribes a client and reads
    /// `count` messages.
    async fn start(stream: StreamConfig, count: usize) -> Self {
        let exchange = start(ExchangeConfig::new().stream(stream)).await;
        let control = exchange.control();
        let mut client = connect(&exchange.url()).await;
        subscribe_binance(&mut client, &[STREAM], 1).await;
        let msgs = read_msgs(&mut client, count).await;
        let conn = control.wait_for_subscription(STREAM, WAIT).await.unwrap();
        Self {
            exchange,
            control,
            client,
            conn,
            msgs,
        }
    }

    /// Unsubscribes: the stream pauses at the last number read. Returns it.
    async fn pause(&mut self) -> u64 {
        let more = request_until_ack(&mut self.client, "UNSUBSCRIBE", 2).await;
        self.msgs.extend(more);
        self.msgs.last().expect("messages before the pause").seq
    }

    /// Subscribes again and reads `count` more messages.
    async fn resume(&mut self, count: usize) {
        let early = request_until_ack(&mut self.client, "SUBSCRIBE", 3).await;
        assert!(early.is_empty(), "nothing while paused: {early:?}");
        let more = read_msgs(&mut self.client, count).await;
        self.msgs.extend(more);
    }

    /// Pauses, gives `fault`, resumes and reads `count` more messages;
    /// returns the number the stream paused at.
    async fn fault_after_pause(&mut self, fault: StreamFault, count: usize) -> u64 {
        let paused = self.pause().await;
        self.control.stream_fault(self.conn, STREAM, fault).unwrap();
        self.resume(count).await;
        paused
    }

    /// Drops the client, then shuts the exchange down (without a client
    /// to answer its Close, at once).
    async fn finish(self) {
        drop(self.client);
        self.exchange.shutdown().await;
    }

    /// Waits for the server's records of everything read, and returns the
    /// numbers it recorded as sent on the stream.
    /// The numbers the server recorded as written, as many as the client
    /// read: the stream goes on meanwhile, so the records may hold more.
    async fn sent_seqs(&self) -> Vec<u64> {
        self.control
            .wait_for_sent(self.conn, self.msgs.len(), WAIT)
            .await
            .unwrap();
        self.control
            .sent_on(self.conn, STREAM)
            .unwrap()
            .iter()
            .take(self.msgs.len())
            .map(|r| r.seq())
            .collect()
    }
}

#[tokio::test]
async fn a_gap_skips_numbers_and_leaves_no_record() {
    let mut feed = Feed::start(book_stream(), 3).await;
    let paused = feed.fault_after_pause(StreamFault::Gap(3), 3).await;

    let seqs = seqs(&feed.msgs);
    let at = seqs.iter().position(|&s| s == paused).unwrap();
    // 1, 2, …, paused, then paused + 4: the numbers jump by 4.
    assert_eq!(seqs[..=at], (1..=paused).collect::<Vec<_>>()[..]);
    assert_eq!(seqs[at + 1..], [paused + 4, paused + 5, paused + 6]);
    // The server recorded exactly what it wrote: not the skipped ones.
    assert_eq!(feed.sent_seqs().await, seqs);
    for skipped in paused + 1..=paused + 3 {
        assert!(!seqs.contains(&skipped));
    }
    feed.finish().await;
}

#[tokio::test]
async fn a_duplicate_shows_a_number_twice() {
    let mut feed = Feed::start(book_stream(), 3).await;
    let paused = feed.fault_after_pause(StreamFault::Duplicate, 3).await;

    let seqs = seqs(&feed.msgs);
    let at = seqs.iter().position(|&s| s == paused).unwrap();
    assert_eq!(seqs[at + 1..], [paused + 1, paused + 1, paused + 2]);
    // Both copies are the same text, and both are recorded.
    assert_eq!(feed.msgs[at + 1].data, feed.msgs[at + 2].data);
    assert_eq!(feed.sent_seqs().await, seqs);
    feed.finish().await;
}

#[tokio::test]
async fn a_reorder_swaps_two_messages() {
    let mut feed = Feed::start(book_stream(), 3).await;
    let paused = feed.fault_after_pause(StreamFault::Reorder, 3).await;

    let seqs = seqs(&feed.msgs);
    let at = seqs.iter().position(|&s| s == paused).unwrap();
    assert_eq!(seqs[at + 1..], [paused + 2, paused + 1, paused + 3]);
    // Recorded in the order written.
    assert_eq!(feed.sent_seqs().await, seqs);
    feed.finish().await;
}

#[tokio::test]
async fn checksums_match_the_rebuilt_book_but_for_the_wrong_one() {
    let mut feed = Feed::start(book_stream(), 20).await;
    let paused = feed.fault_after_pause(StreamFault::WrongChecksum, 20).await;
    // Well past 10 levels a side: the cut at 10 is checked too.
    assert!(feed.msgs.len() >= 40);

    let mut book = Book::default();
    let mut wrong = Vec::new();
    for msg in &feed.msgs {
        book.apply(&msg.data);
        let checksum = msg.checksum().expect("every delta has a checksum");
        if checksum != book.checksum() {
            assert_eq!(checksum, book.checksum() ^ 1, "the right one XOR 1");
            wrong.push(msg.seq);
        }
    }
    assert_eq!(wrong, [paused + 1], "only the faulted message is wrong");
    assert!(book.bids.len() > 10 && book.asks.len() > 10, "{book:?}");
    // Levels were removed along the way (one delta in five).
    let removals = feed
        .msgs
        .iter()
        .filter(|m| is_zero(m.data["b"][0][1].as_str().unwrap()))
        .count();
    assert!(removals >= 7, "{removals} removals");
    feed.finish().await;
}

#[tokio::test]
async fn a_snapshot_comes_first_and_the_deltas_continue_it() {
    let stream = book_stream().snapshot_on_subscribe(true);
    let mut feed = Feed::start(stream, 15).await;

    // A fresh subscription: the empty book at 0, then deltas from 1.
    let first = &feed.msgs[0];
    assert!(first.is_snapshot());
    assert_eq!(first.seq, 0);
    assert_eq!(first.data["e"], "depthSnapshot");
    assert_eq!(first.data["lastUpdateId"], 0);
    assert_eq!(first.data["bids"], Value::Array(Vec::new()));
    assert_eq!(seqs(&feed.msgs[1..]), (1..=14).collect::<Vec<_>>());

    // Again after unsubscribing: a snapshot at the number paused at.
    let paused = feed.pause().await;
    let before = feed.msgs.len();
    feed.resume(20).await;
    let again = &feed.msgs[before];
    assert!(again.is_snapshot());
    assert_eq!(again.seq, paused);
    assert_eq!(again.data["lastUpdateId"], paused);
    assert_eq!(again.data["U"], paused);
    assert_eq!(again.data["u"], paused);
    assert_eq!(
        seqs(&feed.msgs[before + 1..]),
        (paused + 1..=paused + 19).collect::<Vec<_>>()
    );

    // The book rebuilt from each snapshot and the deltas after it matches
    // every checksum; both snapshots match the book rebuilt from deltas.
    let mut from_deltas = Book::default();
    let mut from_snapshot = Book::default();
    for msg in &feed.msgs {
        if msg.is_snapshot() {
            from_snapshot = Book::from_snapshot(&msg.data);
            assert_eq!(from_snapshot, from_deltas, "snapshot at {}", msg.seq);
        } else {
            from_deltas.apply(&msg.data);
            from_snapshot.apply(&msg.data);
        }
        assert_eq!(
            msg.checksum(),
            Some(from_snapshot.checksum()),
            "at {}",
            msg.seq
        );
    }
    // A client that starts from the second snapshot alone agrees too.
    let mut late = Book::from_snapshot(&feed.msgs[before].data);
    for msg in &feed.msgs[before + 1..] {
        late.apply(&msg.data);
        assert_eq!(msg.checksum(), Some(late.checksum()));
    }

    // The records mark the snapshots.
    feed.control
        .wait_for_sent(feed.conn, feed.msgs.len(), WAIT)
        .await
        .unwrap();
    let sent = feed.control.sent_on(feed.conn, STREAM).unwrap();
    // As many as were read: the stream goes on meanwhile.
    let marked: Vec<(u64, bool)> = sent
        .iter()
        .take(feed.msgs.len())
        .map(|r| (r.seq(), r.is_snapshot()))
        .collect();
    let read: Vec<(u64, bool)> = feed.msgs.iter().map(|m| (m.seq, m.is_snapshot())).collect();
    assert_eq!(marked, read);
    assert!(sent[0].text().contains(r#""type":"snapshot""#));
    feed.finish().await;
}

#[tokio::test]
async fn book_snapshot_is_the_book_rebuilt_from_the_deltas() {
    for stream in [
        book_stream().limit(40),
        // A plain book stream: its deltas as they always were.
        StreamConfig::book_deltas(STREAM)
            .rate(Rate::AsFastAsPossible)
            .limit(40),
    ] {
        let config = stream.clone();
        let feed = Feed::start(stream, 40).await;
        let mut book = Book::default();
        for msg in &feed.msgs {
            book.apply(&msg.data);
            let snapshot = json(&config.book_snapshot(msg.seq));
            assert_eq!(snapshot["lastUpdateId"], msg.seq);
            assert_eq!(Book::from_snapshot(&snapshot), book, "at {}", msg.seq);
        }
        // The exchange's snapshot is at the connection's last number.
        let rest = feed.control.book_snapshot(STREAM, Some(feed.conn)).unwrap();
        assert_eq!(rest, config.book_snapshot(40));
        assert_eq!(Book::from_snapshot(&json(&rest)), book);
        // No connection, or another kind of stream: none.
        assert_eq!(feed.control.book_snapshot(STREAM, None), None);
        assert_eq!(feed.control.book_snapshot("nope", Some(feed.conn)), None);
        feed.finish().await;
    }
}

#[tokio::test]
async fn a_rest_snapshot_of_a_global_stream_syncs_a_client() {
    let stream = book_stream().global(true);
    let mut feed = Feed::start(stream, 3).await;
    // The "REST" snapshot a client fetches after its first deltas: at or
    // past every number written.
    let rest = json(&feed.control.book_snapshot(STREAM, None).unwrap());
    let last = rest["lastUpdateId"].as_u64().unwrap();
    assert!(last >= feed.msgs.last().unwrap().seq);
    // Deltas up to `last` are in it; the client applies the later ones.
    let mut book = Book::from_snapshot(&rest);
    let mut applied = 0;
    while applied < 10 {
        let msg = read_msgs(&mut feed.client, 1).await.remove(0);
        if msg.seq <= last {
            continue;
        }
        book.apply(&msg.data);
        assert_eq!(msg.checksum(), Some(book.checksum()), "at {}", msg.seq);
        applied += 1;
    }
    feed.finish().await;
}

#[tokio::test]
async fn a_fault_given_before_the_subscription_waits_for_it() {
    let exchange = start(ExchangeConfig::new().stream(book_stream())).await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    control.wait_for_connections(1, WAIT).await.unwrap();
    // Every open connection, queued in order.
    control
        .stream_fault(Target::All, STREAM, StreamFault::Duplicate)
        .unwrap();
    control
        .stream_fault(Target::All, STREAM, StreamFault::Gap(2))
        .unwrap();
    subscribe_binance(&mut client, &[STREAM], 1).await;
    let msgs = read_msgs(&mut client, 4).await;
    assert_eq!(seqs(&msgs), [1, 1, 4, 5]);
    drop(client);
    exchange.shutdown().await;
}

#[tokio::test]
async fn stream_faults_are_refused_where_they_cannot_apply() {
    let exchange = start(
        ExchangeConfig::new()
            .stream(StreamConfig::book_deltas("plain@depth"))
            .stream(book_stream()),
    )
    .await;
    let control = exchange.control();
    let client = connect(&exchange.url()).await;
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();

    assert!(matches!(
        control.stream_fault(conn, "nope", StreamFault::Duplicate),
        Err(TestkitError::UnknownStream(name)) if name == "nope"
    ));
    assert!(matches!(
        control.stream_fault(conn, "plain@depth", StreamFault::WrongChecksum),
        Err(TestkitError::InvalidFault(_))
    ));
    assert!(matches!(
        control.stream_fault(Target::Next, STREAM, StreamFault::Duplicate),
        Err(TestkitError::InvalidTarget(_))
    ));
    assert!(matches!(
        control.stream_fault(ConnectionId::new(7), STREAM, StreamFault::Duplicate),
        Err(TestkitError::UnknownConnection(_))
    ));
    control
        .stream_fault(conn, STREAM, StreamFault::WrongChecksum)
        .unwrap();
    drop(client);
    control.wait_for_close(conn, WAIT).await.unwrap();
    assert!(matches!(
        control.stream_fault(conn, STREAM, StreamFault::Reorder),
        Err(TestkitError::ConnectionClosed(_))
    ));
    exchange.shutdown().await;
}
