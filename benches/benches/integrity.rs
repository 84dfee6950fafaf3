//! What per-stream integrity costs per message, against the inline path it
//! rides on.
//!
//! - `inline_path`: a Binance depth diff through a dispatcher to an inline
//!   handler, parsed with serde into a typed update on the way, as a user's
//!   router does: the path a message takes without tracking.
//! - `track`: what tracking adds to each message: the venue profile's
//!   sequence reader (a peek at the raw bytes, no parse) and the tracker's
//!   check against the stream's last number (in sequence every time).
//! - `inline_path_tracked`: both, as the client runs them.
//! - `read_sequence`, `admit`: the two parts of `track`; `context`: the
//!   receive stamp every message gets (`MessageContext::now`: the clock).
//!
//! The ratio `track / inline_path` is the figure: target under 5 %.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hypersockets::{
    Admitted, MessageContext, MessageRouter, ParseError, StreamSequence, StreamTracker, Venue,
    WsMessage,
};
use hypersockets_router::{Dispatcher, RouterBuilder};
use serde::Deserialize;

/// A Binance spot depth diff in a combined stream's envelope, 5 levels a side.
const DEPTH: &str = r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1700000000123,"s":"BTCUSDT","U":157,"u":160,"b":[["43251.10","0.500"],["43251.00","1.250"],["43250.90","0.000"],["43250.80","3.100"],["43250.70","0.020"]],"a":[["43251.20","0.700"],["43251.30","0.000"],["43251.40","2.000"],["43251.50","0.010"],["43251.60","4.400"]]}}"#;

#[derive(Debug, Deserialize)]
#[allow(dead_code)] // read by serde and black_box only
struct Update {
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

/// The reader's peek plus the tracker's check, for message `number` of the
/// stream: each call follows on from the last, as a healthy feed does.
#[inline]
fn track(
    venue: &Venue,
    tracker: &mut StreamTracker<(WsMessage, MessageContext)>,
    message: WsMessage,
    context: MessageContext,
    number: u64,
) -> Option<(WsMessage, MessageContext)> {
    let read = venue.sequence_of(&message)?;
    // The same stream, numbered on: the peek did the real work above.
    let at = StreamSequence::new(read.stream, number).previous(number - 1);
    match tracker.admit(at, (message, context)) {
        Admitted::Deliver(delivered) => Some(delivered),
        _ => None,
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

    let mut tracker = StreamTracker::new();
    let mut number = 1u64;
    // The context is the client's anyway (it stamps every message).
    let context = MessageContext::now(1);
    group.bench_function("track", |b| {
        b.iter(|| {
            number += 1;
            black_box(track(
                &venue,
                &mut tracker,
                black_box(message.clone()),
                context,
                number,
            ))
        })
    });

    let mut tracked = dispatcher();
    let mut tracker = StreamTracker::new();
    let mut number = 1u64;
    group.bench_function("inline_path_tracked", |b| {
        b.iter(|| {
            number += 1;
            let context = MessageContext::now(1);
            if let Some((message, context)) = track(
                &venue,
                &mut tracker,
                black_box(message.clone()),
                context,
                number,
            ) {
                tracked.dispatch(message, context);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, integrity);
criterion_main!(benches);
