//! Binance combined streams with protocol pings: trades, order book deltas
//! and tickers of two symbols on one connection, one typed handler per
//! kind of stream, while the server sends WebSocket Ping frames and cuts
//! off any client that misses two in a row (Binance pings every 20 s; the
//! mock every 250 ms, so the demo is short).
//!
//! Nothing in the client deals with the pings: the transport answers each
//! Ping frame with a Pong of the same payload at once, and the client
//! counts them (`pings_answered`). The router shows the fast path: its
//! `classify` tells the kind of stream from the first bytes of the raw
//! message, so the reader only peeks and each lane parses its own messages
//! (`parse_classified`), in parallel across kinds, in order within one.
//!
//! ```sh
//! cargo run --release --example binance_protocol_pings
//! ```

#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hypersockets::prelude::*;
use hypersockets_examples::{
    DepthUpdate, Envelope, EventLog, Ticker, Trade, binance_subscription, ensure, parse_json,
    wait_until,
};
use hypersockets_testkit::{
    ExchangeConfig, KeepaliveConfig, MockExchange, Rate, ServerPing, StreamConfig,
};

/// The server's ping interval; each ping must be answered within it.
const PING_EVERY: Duration = Duration::from_millis(250);
/// Pings the demo waits to see answered before it stops.
const PINGS: u64 = 8;

/// The lanes: one per kind of stream, whatever the symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Trade,
    Depth,
    Ticker,
    /// Answers to requests: `{"result":null,"id":1}`.
    Control,
}

/// What the router turns each message into.
#[derive(Debug)]
enum Feed {
    Trade(Envelope<Trade>),
    Depth(Envelope<DepthUpdate>),
    Ticker(Envelope<Ticker>),
    Control(String),
}

/// Binance's combined streams: `{"stream":"btcusdt@trade","data":{…}}`.
struct CombinedStreams;

impl MessageRouter for CombinedStreams {
    type Message = Feed;
    type RouteKey = Kind;

    /// Runs on the reader for what `classify` leaves (the answers).
    fn parse(&self, message: &WsMessage) -> Result<Feed, ParseError> {
        match self.classify(message) {
            Some(kind) => self.parse_classified(&kind, message),
            None => message
                .as_text()
                .map(|text| Feed::Control(text.to_owned()))
                .ok_or_else(|| ParseError::new("expected a text message")),
        }
    }

    fn route_key(&self, message: &Feed) -> Kind {
        match message {
            Feed::Trade(_) => Kind::Trade,
            Feed::Depth(_) => Kind::Depth,
            Feed::Ticker(_) => Kind::Ticker,
            Feed::Control(_) => Kind::Control,
        }
    }

    /// The reader's only work per market data message: a peek.
    fn classify(&self, message: &WsMessage) -> Option<Kind> {
        // The stream name, read from the raw text without parsing it.
        let name = peek_json_str(message.as_text()?, &["stream"])?;
        if name.ends_with("@trade") {
            Some(Kind::Trade)
        } else if name.ends_with("@depth") {
            Some(Kind::Depth)
        } else if name.ends_with("@ticker") {
            Some(Kind::Ticker)
        } else {
            None
        }
    }

    /// Runs in the lane: straight into the concrete type for the kind.
    fn parse_classified(&self, kind: &Kind, message: &WsMessage) -> Result<Feed, ParseError> {
        Ok(match kind {
            Kind::Trade => Feed::Trade(parse_json(message)?),
            Kind::Depth => Feed::Depth(parse_json(message)?),
            Kind::Ticker => Feed::Ticker(parse_json(message)?),
            Kind::Control => self.parse(message)?,
        })
    }
}

/// Checks that each stream's messages come in order, with no gap: the
/// next `seq` on the same connection is the last one plus one.
#[derive(Debug, Default)]
struct SequenceCheck {
    last: HashMap<String, (u64, u64)>,
}

impl SequenceCheck {
    /// Whether the message follows the last one of its stream (the first
    /// of a stream on a connection is 1).
    fn in_order<D>(&mut self, message: &Envelope<D>) -> bool {
        let now = (message.conn, message.seq);
        let Some(last) = self.last.get_mut(&message.stream) else {
            self.last.insert(message.stream.clone(), now);
            return message.seq == 1;
        };
        let expected = if last.0 == message.conn {
            last.1 + 1
        } else {
            1
        };
        *last = now;
        message.seq == expected
    }
}

/// What the handlers found, for the summary.
#[derive(Debug, Default)]
struct Tally {
    trades: AtomicU64,
    depth_updates: AtomicU64,
    tickers: AtomicU64,
    out_of_order: AtomicU64,
    notional: Mutex<HashMap<String, f64>>,
    last_price: Mutex<HashMap<String, String>>,
}

/// The trade lane's handler: a struct with its own state, no lock needed.
struct TradeTape {
    order: SequenceCheck,
    notional: HashMap<String, f64>,
    tally: Arc<Tally>,
}

impl MessageHandler<Feed> for TradeTape {
    async fn handle(&mut self, message: Feed) -> Result<(), BoxError> {
        let Feed::Trade(trade) = message else {
            return Err("a non-trade reached the trade lane".into());
        };
        if !self.order.in_order(&trade) {
            self.tally.out_of_order.fetch_add(1, Ordering::Relaxed);
        }
        let value = trade.data.price.parse::<f64>()? * trade.data.quantity.parse::<f64>()?;
        let total = self.notional.entry(trade.data.symbol).or_default();
        *total += value;
        self.tally.trades.fetch_add(1, Ordering::Relaxed);
        if trade.seq % 100 == 0 {
            // Publish now and then; the lane keeps the running figures.
            *self
                .tally
                .notional
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = self.notional.clone();
        }
        Ok(())
    }
}

fn pongs_matched(control: &hypersockets_testkit::Control) -> u64 {
    control
        .latest_connection()
        .and_then(|conn| control.connection(conn))
        .map_or(0, |info| info.keepalive.pongs_matched)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // 1. The exchange: five streams, and Ping frames every 250 ms that must
    //    be answered within the interval; two misses in a row and the
    //    connection is closed (1008 "ping timeout").
    let streams = [
        "btcusdt@trade",
        "ethusdt@trade",
        "btcusdt@depth",
        "ethusdt@depth",
        "btcusdt@ticker",
    ];
    let exchange = MockExchange::start(
        ExchangeConfig::new()
            .stream(StreamConfig::trades(streams[0]).rate(Rate::PerSecond(800)))
            .stream(StreamConfig::trades(streams[1]).rate(Rate::PerSecond(400)))
            .stream(StreamConfig::book_deltas(streams[2]).rate(Rate::PerSecond(500)))
            .stream(StreamConfig::book_deltas(streams[3]).rate(Rate::PerSecond(250)))
            .stream(StreamConfig::tickers(streams[4]).rate(Rate::PerSecond(10)))
            .keepalive(
                KeepaliveConfig::new().server_ping(ServerPing::protocol(PING_EVERY).max_missed(2)),
            ),
    )
    .await?;
    let control = exchange.control();
    println!("mock exchange on {}", exchange.url());

    // 2. The client: a lane and a typed handler per kind of stream; one
    //    subscription for all five streams.
    let tally = Arc::new(Tally::default());
    let depth_tally = Arc::clone(&tally);
    let ticker_tally = Arc::clone(&tally);
    let mut depth_order = SequenceCheck::default();
    let client = WebSocketClient::builder()
        .url(exchange.url())
        .router(CombinedStreams)
        .handler(
            Kind::Trade,
            TradeTape {
                order: SequenceCheck::default(),
                notional: HashMap::new(),
                tally: Arc::clone(&tally),
            },
        )
        // A synchronous closure owning its state.
        .handler(
            Kind::Depth,
            handler_fn(move |message: Feed| {
                if let Feed::Depth(update) = message {
                    if !depth_order.in_order(&update) {
                        depth_tally.out_of_order.fetch_add(1, Ordering::Relaxed);
                    }
                    depth_tally.depth_updates.fetch_add(1, Ordering::Relaxed);
                }
                Ok::<_, BoxError>(())
            }),
        )
        // A closure returning a future: could await a database write.
        .handler(
            Kind::Ticker,
            async_handler_fn(move |message: Feed| {
                let tally = Arc::clone(&ticker_tally);
                async move {
                    if let Feed::Ticker(ticker) = message {
                        tally.tickers.fetch_add(1, Ordering::Relaxed);
                        tally
                            .last_price
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .insert(ticker.data.symbol, ticker.data.last);
                    }
                    Ok::<_, BoxError>(())
                }
            }),
        )
        .handler(
            Kind::Control,
            handler_fn(|message: Feed| {
                if let Feed::Control(text) = message {
                    println!("  [control] {text}");
                }
                Ok::<_, BoxError>(())
            }),
        )
        .subscribe(binance_subscription(1, &streams))
        .build()?;
    let mut events = EventLog::spawn("client", client.events());

    client.connect().await?;
    println!("connected; waiting for {PINGS} server pings to be answered");
    wait_until(
        "the server's pings to be answered",
        Duration::from_secs(8),
        || pongs_matched(&control) >= PINGS,
    )
    .await?;
    client.close().await?;
    events.finish().await;

    // 3. What happened, seen from both ends.
    let metrics = client.metrics();
    let conn = control
        .latest_connection()
        .ok_or("the exchange saw no connection")?;
    let keepalive = control
        .connection(conn)
        .ok_or("no record of the connection")?
        .keepalive;
    println!();
    println!(
        "server: {} pings sent, {} answered exactly, {} missed; {} connection(s)",
        keepalive.pings_sent,
        keepalive.pongs_matched,
        keepalive.pings_missed,
        control.connection_count(),
    );
    println!(
        "client: {} pings answered, {} messages received, {} reconnects, {} parse errors",
        metrics.connection.pings_answered,
        metrics.connection.messages_received,
        metrics.connection.reconnects,
        metrics.router.all_parse_errors(),
    );
    println!(
        "trades {}, depth updates {}, tickers {}, out of order {}",
        tally.trades.load(Ordering::Relaxed),
        tally.depth_updates.load(Ordering::Relaxed),
        tally.tickers.load(Ordering::Relaxed),
        tally.out_of_order.load(Ordering::Relaxed),
    );
    let mut notional: Vec<_> = tally
        .notional
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
        .into_iter()
        .collect();
    notional.sort_by(|a, b| a.0.cmp(&b.0));
    for (symbol, value) in &notional {
        println!("  {symbol}: traded {value:.2} USDT");
    }
    for (symbol, price) in tally
        .last_price
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
    {
        println!("  {symbol}: last price {price}");
    }
    for lane in &metrics.router.lanes {
        println!(
            "  lane {:<8} delivered {:>5}  parse in lane {:?}  handler {:?}",
            lane.key, lane.delivered, lane.mean_parse, lane.mean_handle,
        );
    }
    exchange.shutdown().await;

    ensure(
        keepalive.pongs_matched >= PINGS && keepalive.pings_missed == 0,
        "every server ping answered in time",
    )?;
    ensure(
        metrics.connection.pings_answered >= keepalive.pongs_matched,
        "the client to count the pings it answered",
    )?;
    ensure(
        control.connection_count() == 1 && metrics.connection.reconnects == 0,
        "one connection, never cut off",
    )?;
    ensure(
        tally.out_of_order.load(Ordering::Relaxed) == 0,
        "every stream in order",
    )?;
    ensure(
        tally.trades.load(Ordering::Relaxed) > 0
            && tally.depth_updates.load(Ordering::Relaxed) > 0
            && tally.tickers.load(Ordering::Relaxed) > 0,
        "messages of every kind",
    )?;
    ensure(
        events.count(|e| matches!(e, ClientEvent::Disconnected { .. })) == 1,
        "a single disconnection: the close",
    )
}
