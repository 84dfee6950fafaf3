//! HTX style: the server sends `{"ping":1700000000000}` and cuts off a
//! client that does not answer `{"pong":1700000000000}` (the same number)
//! twice in a row. A passive ping detector answers before the message is
//! parsed, so pings never reach the router or a handler.
//!
//! Two clients of the same mock exchange, side by side:
//!
//! - one with [`JsonPing`]: every ping answered at once, counted in its
//!   metrics (`pings_answered`), the connection kept;
//! - one without: the pings reach its router as data, go unanswered, and
//!   the server closes the connection (1008 `ping timeout`) again and again.
//!
//! HTX gzips every message, its pings included, and so does the mock: both
//! clients inflate with [`Decompression::Gzip`] before anything else sees a
//! frame (without it the pings are binary gzip, which no detector can
//! read). The answers go out as plain text, as HTX expects. (HTX subscribes
//! with `{"sub":…}`; the mock speaks Binance-style subscriptions, which
//! changes nothing here.)
//!
//! ```sh
//! cargo run --release --example htx_passive_ping
//! ```

#![allow(clippy::print_stdout)]

use std::time::Duration;

use hypersockets::prelude::*;
use hypersockets::{Decompression, DisconnectReason, FixedInterval};
use hypersockets_examples::{EventLog, binance_subscription, ensure, parse_json, wait_until};
use hypersockets_testkit::{
    CloseCause, Compression, ConnectionId, ConnectionStatus, Control, ExchangeConfig,
    KeepaliveConfig, KeepaliveStats, MockExchange, Rate, ServerPing, StreamConfig,
};
use serde::Deserialize;

const TRADES: &str = "market.btcusdt.trade.detail";
/// The server pings this often (HTX: every 5 s)…
const PING_EVERY: Duration = Duration::from_millis(200);
/// …wants each answered within this…
const PONG_DEADLINE: Duration = Duration::from_millis(150);
/// …and closes the connection after this many misses in a row.
const MAX_MISSED: u32 = 2;
/// Pings the demo waits to see answered.
const PINGS: u64 = 10;

/// An HTX trade push: `{"ch":…,"ts":…,"tick":{"id":…,"data":[…]}}`.
#[derive(Debug, Deserialize)]
struct TradePush {
    tick: TradeTick,
}

#[derive(Debug, Deserialize)]
struct TradeTick {
    data: Vec<HtxTrade>,
}

#[derive(Debug, Deserialize)]
struct HtxTrade {
    price: f64,
    amount: f64,
}

#[derive(Debug, Deserialize)]
struct Ping {
    ping: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Trades,
    /// A ping that reached the router: only without a detector.
    Ping,
    Control,
}

#[derive(Debug)]
enum Htx {
    Trades(TradePush),
    Ping(u64),
    Control(String),
}

struct HtxRouter;

impl MessageRouter for HtxRouter {
    type Message = Htx;
    type RouteKey = Kind;

    fn parse(&self, message: &WsMessage) -> Result<Htx, ParseError> {
        let bytes = message.as_bytes();
        if bytes.starts_with(br#"{"ch":"#) {
            Ok(Htx::Trades(parse_json(message)?))
        } else if bytes.starts_with(br#"{"ping":"#) {
            Ok(Htx::Ping(parse_json::<Ping>(message)?.ping))
        } else {
            let text = message.as_text().ok_or_else(|| ParseError::new("binary"))?;
            Ok(Htx::Control(text.to_owned()))
        }
    }

    fn route_key(&self, message: &Htx) -> Kind {
        match message {
            Htx::Trades(_) => Kind::Trades,
            Htx::Ping(_) => Kind::Ping,
            Htx::Control(_) => Kind::Control,
        }
    }
}

/// The mock's HTX-shaped trades, unique per connection and number.
fn htx_trade(name: &str, conn: ConnectionId, seq: u64) -> String {
    let ts = 1_700_000_000_000 + seq;
    let price = 50_000.0 + (seq * 37 % 500) as f64 / 10.0;
    format!(
        r#"{{"ch":"{name}","ts":{ts},"tick":{{"id":{seq},"ts":{ts},"data":[{{"id":"{}-{seq}","ts":{ts},"tradeId":{seq},"amount":0.0{},"price":{price:.1},"direction":"buy"}}]}}}}"#,
        conn.get(),
        seq % 9 + 1,
    )
}

/// A client tagged by its URL's query, so the exchange's records tell the
/// two apart.
fn client(
    url: &str,
    tag: &str,
    detector: Option<JsonPing>,
) -> Result<WebSocketClient, HyperSocketError> {
    let label = tag.to_owned();
    let ping_label = tag.to_owned();
    let builder = WebSocketClient::builder()
        .url(format!("{url}?client={tag}"))
        .router(HtxRouter)
        .handler(
            Kind::Trades,
            handler_fn(|message: Htx| {
                if let Htx::Trades(push) = message {
                    let _notional: f64 = push.tick.data.iter().map(|t| t.price * t.amount).sum();
                }
                Ok::<_, BoxError>(())
            }),
        )
        .handler(
            Kind::Ping,
            handler_fn(move |message: Htx| {
                if let Htx::Ping(ms) = message {
                    println!("  [{ping_label}] a ping reached the handler: {ms}");
                }
                Ok::<_, BoxError>(())
            }),
        )
        .handler(
            Kind::Control,
            handler_fn(move |message: Htx| {
                if let Htx::Control(text) = message {
                    println!("  [{label}] {text}");
                }
                Ok::<_, BoxError>(())
            }),
        )
        .subscribe(binance_subscription(1, &[TRADES]))
        .decompression(Decompression::Gzip)
        .reconnect(FixedInterval::new(Duration::from_millis(150)));
    match detector {
        Some(detector) => builder.ping_detector(detector).build(),
        None => builder.build(),
    }
}

/// The exchange's connections from the client tagged `tag`.
fn connections_of(control: &Control, tag: &str) -> Vec<ConnectionId> {
    control
        .connections()
        .into_iter()
        .filter(|&id| {
            control
                .connection(id)
                .is_some_and(|info| info.path.ends_with(&format!("client={tag}")))
        })
        .collect()
}

fn keepalive(control: &Control, conn: Option<ConnectionId>) -> KeepaliveStats {
    conn.and_then(|conn| control.connection(conn))
        .map(|info| info.keepalive)
        .unwrap_or_default()
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let exchange = MockExchange::start(
        ExchangeConfig::new()
            .compression(Compression::Gzip)
            .stream(StreamConfig::custom(TRADES, htx_trade).rate(Rate::PerSecond(200)))
            .keepalive(
                KeepaliveConfig::new().server_ping(
                    ServerPing::json(PING_EVERY)
                        .deadline(PONG_DEADLINE)
                        .max_missed(MAX_MISSED),
                ),
            ),
    )
    .await?;
    let control = exchange.control();
    println!("mock HTX (every message gzipped) on {}", exchange.url());

    let passive = client(&exchange.url(), "passive", Some(JsonPing::default()))?;
    let bare = client(&exchange.url(), "bare", None)?;
    let mut passive_events = EventLog::spawn("passive", passive.events());
    let mut bare_events = EventLog::spawn("bare", bare.events());
    passive.connect().await?;
    bare.connect().await?;

    let ping_timeouts = |events: &EventLog| {
        events.count(|event| {
            matches!(
                event,
                ClientEvent::Disconnected {
                    reason: DisconnectReason::ServerClosed(Some(frame))
                } if frame.reason.as_str() == "ping timeout"
            )
        })
    };
    wait_until(
        "the passive client to answer its pings and the bare one to be cut off",
        Duration::from_secs(8),
        || {
            let conn = connections_of(&control, "passive").first().copied();
            keepalive(&control, conn).pongs_matched >= PINGS && ping_timeouts(&bare_events) >= 2
        },
    )
    .await?;
    passive.close().await?;
    bare.close().await?;
    passive_events.finish().await;
    bare_events.finish().await;

    let passive_conns = connections_of(&control, "passive");
    let bare_conns = connections_of(&control, "bare");
    let server = keepalive(&control, passive_conns.first().copied());
    let with = passive.metrics();
    let without = bare.metrics();
    let pings_routed = |metrics: &hypersockets::ClientMetrics| {
        metrics
            .router
            .lane(&format!("{:?}", Kind::Ping))
            .map_or(0, |lane| lane.delivered)
    };
    println!();
    println!(
        "with JsonPing:    {} pings answered (metrics), server saw {} pongs matched, {} missed; \
         {} connection(s); {} pings reached a handler",
        with.connection.pings_answered,
        server.pongs_matched,
        server.pings_missed,
        passive_conns.len(),
        pings_routed(&with),
    );
    println!(
        "without detector: {} pings answered, {} pings reached a handler, cut off {} times \
         ({} connections)",
        without.connection.pings_answered,
        pings_routed(&without),
        ping_timeouts(&bare_events),
        bare_conns.len(),
    );
    let first_bare_end = bare_conns.first().and_then(|&conn| control.status(conn));
    println!("the bare client's first connection: {first_bare_end:?}");
    exchange.shutdown().await;

    ensure(
        passive_conns.len() == 1 && with.connection.reconnects == 0,
        "the passive client to keep its connection",
    )?;
    ensure(
        server.pongs_matched >= PINGS && server.pings_missed == 0,
        "every ping answered with the same number, in time",
    )?;
    ensure(
        with.connection.pings_answered >= server.pongs_matched,
        "the answered pings counted in the client's metrics",
    )?;
    ensure(
        pings_routed(&with) == 0 && with.router.all_parse_errors() == 0,
        "no ping to reach the passive client's router",
    )?;
    ensure(
        without.connection.pings_answered == 0 && pings_routed(&without) > 0,
        "the bare client's pings to reach its handler unanswered",
    )?;
    ensure(
        first_bare_end == Some(ConnectionStatus::Closed(CloseCause::PingTimeout)),
        "the bare client cut off for missing pings",
    )
}
