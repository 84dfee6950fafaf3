//! What per-stream integrity costs per message, against the inline path it
//! rides on.
//!
//! - `inline_path`: a Binance depth diff through a dispatcher to an inline
//!   handler, parsed with serde into a typed update on the way, as a user's
//!   router does: the path a message takes without tracking.
//! - `inline_path_tracked`: the same, tracked as the client tracks it when
//!   the router numbers its parsed messages (`MessageRouter::sequence`):
//!   the router numbers the parsed message, the tracker checks it against
//!   the stream's last number (in sequence every time), the dispatcher
//!   queues it.
//!   `inline_path_tracked / inline_path - 1` is the figure: target under 5 %.
//! - `inline_path_read`: tracked with the numbers read from the raw bytes
//!   instead (the venue profile's `SequenceReader`, for routers that do not
//!   number their messages, or classify them to be parsed in the lanes).
//! - `read_sequence`, `admit`: the reader's peek and the tracker's check
//!   alone; `context`: the receive stamp every message gets
//!   (`MessageContext::now`: the clock).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hypersockets::{
    Admitted, MessageContext, MessageRouter, ParseError, StreamId, StreamSequence, StreamTracker,
    Venue, WsMessage,
};
use hypersockets_router::{Dispatcher, Routed, RouterBuilder, Routing};
use serde::Deserialize;

/// A Binance spot depth diff in a combined stream's envelope, 5 levels a side.
const DEPTH: &str = r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1700000000123,"s":"BTCUSDT","U":157,"u":160,"b":[["43251.10","0.500"],["43251.00","1.250"],["43250.90","0.000"],["43250.80","3.100"],["43250.70","0.020"]],"a":[["43251.20","0.700"],["43251.30","0.000"],["43251.40","2.000"],["43251.50","0.010"],["43251.60","4.400"]]}}"#;

#[derive(Debug, Deserialize)]
#[allow(dead_code)] // read by serde and black_box only
struct Update {
    /// The stream, from the symbol, as a router would tag it.
    #[serde(skip, default = "depth_stream")]
    stream: StreamId,
    #[serde(rename = "s")]
    symbol: String,
    #[serde(rename = "U")]
    first: u64,
    #[serde(rename = "u")]
    last: u64,
    #[serde(rename = "b")]
    bids: Vec<(String, String)>,
    #[serde(rename = "a")]
    asks: Vec<(String, String)>,
}

#[derive(Debug, Deserialize)]
struct Envelope {
    data: Update,
}

struct DepthRouter;

impl MessageRouter for DepthRouter {
    type Message = Update;
    type RouteKey = ();

    fn parse(&self, message: &WsMessage) -> Result<Update, ParseError> {
        let text = message.as_text().ok_or_else(|| ParseError::new("binary"))?;
        serde_json::from_str::<Envelope>(text)
            .map(|envelope| envelope.data)
            .map_err(|error| ParseError::from_source("json", error))
    }

    fn route_key(&self, _: &Update) {}

    // Binance's rule: a diff follows the one whose last update is `U - 1`.
    fn sequence(&self, update: &Update) -> Option<StreamSequence> {
        let previous = update.first.checked_sub(1)?;
        Some(StreamSequence::new(update.stream, update.last).previous(previous))
    }
}

fn depth_stream() -> StreamId {
    StreamId::of(&["btcusdt@depth"])
}

fn dispatcher() -> Dispatcher<DepthRouter> {
    RouterBuilder::new(DepthRouter)
        .inline_handler((), |update: Update| {
            black_box(update);
            Ok::<_, std::convert::Infallible>(())
        })
        .build()
        .expect("router")
}

/// Where the stream's number comes from, in a tracked dispatch.
#[derive(Clone, Copy)]
enum Numbers<'a> {
    /// The router's parse.
    Router,
    /// A peek at the raw bytes.
    Reader(&'a Venue),
}

/// A message dispatched as the client does with tracking on: parsed and
/// routed, numbered, checked against its stream's last, queued (kept back
/// and admitted only if it did not follow on). It is
/// message `number` of its stream, each following on from the last as a
/// healthy feed's do (the number read is replaced: the reading was the
/// work).
#[inline]
fn tracked_dispatch(
    dispatcher: &mut Dispatcher<DepthRouter>,
    tracker: &mut StreamTracker<Routed<DepthRouter>>,
    numbers: Numbers<'_>,
    message: WsMessage,
    number: u64,
) {
    let mut at = None;
    let context = MessageContext::now(1);
    let routing = dispatcher.dispatch_unless(message, context, |router, parsed, raw| {
        let read = match numbers {
            Numbers::Router => parsed.and_then(|update| router.sequence(update)),
            Numbers::Reader(venue) => venue.sequence_of(raw),
        };
        at = read.map(|read| StreamSequence::new(read.stream, number).previous(number - 1));
        at.is_some_and(|at| !tracker.advance(at))
    });
    let (Routing::Kept(routed), Some(at)) = (routing, at) else {
        return;
    };
    if let Admitted::Deliver(routed) = tracker.admit(at, routed) {
        dispatcher.queue(routed);
    }
}

fn integrity(c: &mut Criterion) {
    let mut group = c.benchmark_group("integrity");
    group.throughput(Throughput::Elements(1));
    let message = WsMessage::text(DEPTH);
    let venue = Venue::binance_spot();
    assert!(
        venue.sequence_of(&message).is_some(),
        "the reader numbers the diff"
    );

    let mut plain = dispatcher();
    group.bench_function("inline_path", |b| {
        b.iter(|| plain.dispatch(black_box(message.clone()), MessageContext::now(1)))
    });

    group.bench_function("read_sequence", |b| {
        b.iter(|| venue.sequence_of(black_box(&message)))
    });
    group.bench_function("context", |b| b.iter(|| MessageContext::now(black_box(1))));
    let mut tracker = StreamTracker::new();
    let read = venue.sequence_of(&message).expect("numbered");
    let mut number = 1u64;
    group.bench_function("admit", |b| {
        b.iter(|| {
            number += 1;
            let at = StreamSequence::new(read.stream, number).previous(number - 1);
            black_box(tracker.admit(at, ()))
        })
    });

    for (name, numbers) in [
        ("inline_path_tracked", Numbers::Router),
        ("inline_path_read", Numbers::Reader(&venue)),
    ] {
        let mut tracked = dispatcher();
        let mut tracker = StreamTracker::new();
        let mut number = 1u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                number += 1;
                let message = black_box(message.clone());
                tracked_dispatch(&mut tracked, &mut tracker, numbers, message, number);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, integrity);
criterion_main!(benches);
