//! The per-message pieces of the hot path, each on its own: the passive
//! ping check (on pings and on the market data it must let through), route
//! key lookup with and without raw classification (dispatched to an inline
//! no-op handler, so the figure is the router's own cost), reading a route
//! key from raw JSON (`peek_json_str`), and the conversion of tungstenite's
//! text message into ours.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hypersockets::{
    JsonPing, MessageContext, MessageRouter, ParseError, PassivePingDetector, TextPing, Utf8Bytes,
    WsMessage, peek_json_str,
};
use hypersockets_router::{Dispatcher, RouterBuilder};

const TRADE: &str = r#"{"e":"trade","E":1700000000123,"s":"BTCUSDT","t":4242424242,"p":"43251.12000000","q":"0.01230000","T":1700000000120,"m":true,"M":true}"#;
const OKX_BOOKS: &str = r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["43251.1","0.5","0","2"]],"bids":[],"ts":"1700000000123","checksum":-1}]}"#;
const BOOK_TICKER: &str = r#"{"e":"bookTicker","u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}"#;

fn ping_check(c: &mut Criterion) {
    let mut group = c.benchmark_group("ping_check");
    group.throughput(Throughput::Elements(1));
    let text = TextPing::default();
    let json = JsonPing::default();
    let cases = [
        ("text_ping/ping", WsMessage::text("ping")),
        ("text_ping/near_miss", WsMessage::text("pingx")),
        ("text_ping/trade", WsMessage::text(TRADE)),
    ];
    for (name, message) in &cases {
        group.bench_function(*name, |b| b.iter(|| text.detect(black_box(message))));
    }
    let cases = [
        (
            "json_ping/ping",
            WsMessage::text(r#"{"ping":1700000000123}"#),
        ),
        ("json_ping/trade", WsMessage::text(TRADE)),
        (
            "json_ping/binary",
            WsMessage::binary(TRADE.as_bytes().to_vec()),
        ),
    ];
    for (name, message) in &cases {
        group.bench_function(*name, |b| b.iter(|| json.detect(black_box(message))));
    }
    group.finish();
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Trade,
    BookTicker,
    Depth,
    Kline,
}

/// Finds the event type: by parsing (`parse`) or by peeking at the bytes
/// (`classify`).
struct TaggedRouter {
    classify: bool,
}

/// The value of `"e"`, read from the first bytes without parsing.
fn peek_kind(text: &str) -> Option<Kind> {
    let rest = text.strip_prefix(r#"{"e":""#)?;
    let end = rest.find('"')?;
    match &rest[..end] {
        "trade" => Some(Kind::Trade),
        "bookTicker" => Some(Kind::BookTicker),
        "depthUpdate" => Some(Kind::Depth),
        "kline" => Some(Kind::Kline),
        _ => None,
    }
}

impl MessageRouter for TaggedRouter {
    type Message = Kind;
    type RouteKey = Kind;

    fn parse(&self, message: &WsMessage) -> Result<Kind, ParseError> {
        message
            .as_text()
            .and_then(peek_kind)
            .ok_or_else(|| ParseError::new("unknown event"))
    }

    fn route_key(&self, message: &Kind) -> Kind {
        *message
    }

    fn classify(&self, message: &WsMessage) -> Option<Kind> {
        if self.classify {
            message.as_text().and_then(peek_kind)
        } else {
            None
        }
    }

    fn parse_classified(&self, key: &Kind, _: &WsMessage) -> Result<Kind, ParseError> {
        Ok(*key)
    }
}

fn inline_dispatcher(classify: bool) -> Dispatcher<TaggedRouter> {
    let mut builder = RouterBuilder::new(TaggedRouter { classify });
    for kind in [Kind::Trade, Kind::BookTicker, Kind::Depth, Kind::Kline] {
        builder = builder.inline_handler(kind, |kind: Kind| {
            black_box(kind);
            Ok::<_, std::convert::Infallible>(())
        });
    }
    builder.build().expect("router")
}

fn routing(c: &mut Criterion) {
    let mut group = c.benchmark_group("routing");
    group.throughput(Throughput::Elements(1));
    let message = WsMessage::text(BOOK_TICKER);
    for (name, classify) in [("parse_then_route", false), ("classify", true)] {
        let mut dispatcher = inline_dispatcher(classify);
        group.bench_function(name, |b| {
            b.iter(|| dispatcher.dispatch(black_box(message.clone()), MessageContext::now(1)))
        });
    }
    group.finish();
}

/// Reading a route key from raw text: the hand-written prefix check above
/// against the library's general `peek_json_str` (any key order, nesting,
/// whitespace), on a Binance message (key first) and an OKX one (nested).
fn peek(c: &mut Criterion) {
    let mut group = c.benchmark_group("peek");
    group.throughput(Throughput::Elements(1));
    group.bench_function("prefix_check", |b| {
        b.iter(|| peek_kind(black_box(BOOK_TICKER)))
    });
    group.bench_function("peek_json_str_binance", |b| {
        b.iter(|| peek_json_str(black_box(BOOK_TICKER), &["e"]))
    });
    group.bench_function("peek_json_str_okx_nested", |b| {
        b.iter(|| peek_json_str(black_box(OKX_BOOKS), &["arg", "channel"]))
    });
    group.finish();
}

fn conversion(c: &mut Criterion) {
    let mut group = c.benchmark_group("conversion");
    group.throughput(Throughput::Bytes(TRADE.len() as u64));
    let text = tungstenite::Utf8Bytes::from_static(TRADE);
    // What the transport does for a text frame: take tungstenite's bytes
    // without copying and check them once more (unsafe is forbidden, so it
    // cannot take tungstenite's word for it).
    group.bench_function("text_from_tungstenite", |b| {
        b.iter(|| {
            let bytes = bytes::Bytes::from(black_box(text.clone()));
            Utf8Bytes::try_from(bytes).map(WsMessage::Text)
        })
    });
    group.finish();
}

criterion_group!(benches, ping_check, routing, peek, conversion);
criterion_main!(benches);
