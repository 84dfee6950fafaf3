//! Examples of HyperSockets. Run one with
//! `cargo run --release --example NAME`; each starts its own mock exchange
//! on 127.0.0.1 and needs no internet.
//!
//! This library holds the few helpers several examples share: the typed
//! shape of the mock exchange's market data, subscription messages in the
//! Binance and OKX styles, an event log, small checks that make an
//! example fail loudly when what it demonstrates did not happen, and a
//! `/metrics` endpoint for the metrics example.

#![allow(clippy::print_stdout)]

use std::error::Error;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hypersockets::{
    BoxError, ClientEvent, DisconnectReason, EventStream, ExponentialBackoff, LaneConfig,
    MessageRouter, ParseError, StaleCause, Subscription, WebSocketClient, WsMessage, handler_fn,
    peek_json_str,
};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

// ---- the mock exchange's market data ----

/// The envelope the mock exchange wraps its built-in streams in:
/// `{"stream":"btcusdt@trade","conn":0,"seq":1,"data":{…}}`.
///
/// `seq` counts the stream's messages on one connection (`conn`) from 1,
/// so a gap in `seq` is a lost message and a new `conn` a new connection.
#[derive(Clone, Debug, Deserialize)]
pub struct Envelope<D> {
    /// The stream's name, as subscribed.
    pub stream: String,
    /// The connection the message was written to.
    pub conn: u64,
    /// The message's number in its stream on this connection.
    pub seq: u64,
    /// The payload: [`Trade`], [`DepthUpdate`] or [`Ticker`].
    pub data: D,
}

/// A trade (Binance's `trade` event).
#[derive(Clone, Debug, Deserialize)]
pub struct Trade {
    /// The symbol, e.g. `BTCUSDT`.
    #[serde(rename = "s")]
    pub symbol: String,
    /// The trade id.
    #[serde(rename = "t")]
    pub id: u64,
    /// The price, as a decimal string.
    #[serde(rename = "p")]
    pub price: String,
    /// The quantity, as a decimal string.
    #[serde(rename = "q")]
    pub quantity: String,
}

/// An order book delta (Binance's `depthUpdate` event): the levels that
/// changed between update ids `first_update` and `last_update`; a quantity
/// of zero removes the level.
#[derive(Clone, Debug, Deserialize)]
pub struct DepthUpdate {
    /// The symbol, e.g. `BTCUSDT`.
    #[serde(rename = "s")]
    pub symbol: String,
    /// The first update id in this delta.
    #[serde(rename = "U")]
    pub first_update: u64,
    /// The last update id in this delta.
    #[serde(rename = "u")]
    pub last_update: u64,
    /// Changed bids, `[price, quantity]`.
    #[serde(rename = "b")]
    pub bids: Vec<[String; 2]>,
    /// Changed asks, `[price, quantity]`.
    #[serde(rename = "a")]
    pub asks: Vec<[String; 2]>,
}

/// A 24-hour ticker (Binance's `24hrTicker` event).
#[derive(Clone, Debug, Deserialize)]
pub struct Ticker {
    /// The symbol, e.g. `BTCUSDT`.
    #[serde(rename = "s")]
    pub symbol: String,
    /// The last price.
    #[serde(rename = "c")]
    pub last: String,
    /// The best bid.
    #[serde(rename = "b")]
    pub bid: String,
    /// The best ask.
    #[serde(rename = "a")]
    pub ask: String,
}

/// Deserializes a text (or binary) message as JSON into `T`, borrowing
/// from the message where `T` borrows.
///
/// ```
/// use hypersockets::WsMessage;
/// use hypersockets_examples::{Envelope, Trade, parse_json};
///
/// let message = WsMessage::text(
///     r#"{"stream":"btcusdt@trade","conn":0,"seq":1,"data":{"s":"BTCUSDT","t":1,"p":"50000.01","q":"0.5"}}"#,
/// );
/// let trade: Envelope<Trade> = parse_json(&message).unwrap();
/// assert_eq!(trade.data.price, "50000.01");
/// ```
///
/// # Errors
///
/// A [`ParseError`] carrying serde's error when the message is not JSON
/// of that shape.
pub fn parse_json<'a, T: Deserialize<'a>>(message: &'a WsMessage) -> Result<T, ParseError> {
    serde_json::from_slice(message.as_bytes())
        .map_err(|error| ParseError::from_source("unexpected JSON", error))
}

// ---- subscriptions ----

/// A Binance-style subscription to `streams`, with its unsubscribe message;
/// its id is the streams joined with `,`.
///
/// ```
/// let sub = hypersockets_examples::binance_subscription(1, &["btcusdt@trade"]);
/// assert_eq!(sub.id(), "btcusdt@trade");
/// assert_eq!(
///     sub.subscribe().and_then(hypersockets::WsMessage::as_text),
///     Some(r#"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}"#)
/// );
/// ```
pub fn binance_subscription(id: u64, streams: &[&str]) -> Subscription {
    let params = serde_json::to_string(streams).unwrap_or_default();
    let request = |method: &str, id: u64| {
        WsMessage::text(format!(
            r#"{{"method":"{method}","params":{params},"id":{id}}}"#
        ))
    };
    Subscription::new(streams.join(","), request("SUBSCRIBE", id))
        .unsubscribe_message(request("UNSUBSCRIBE", id + 1_000))
}

/// An OKX-style subscription to `channel` (for one instrument, or all),
/// with its unsubscribe message; its id is `channel:instId` (or `channel`),
/// the mock exchange's name for the stream.
///
/// ```
/// let sub = hypersockets_examples::okx_subscription("tickers", Some("BTC-USDT"));
/// assert_eq!(sub.id(), "tickers:BTC-USDT");
/// assert_eq!(
///     sub.subscribe().and_then(hypersockets::WsMessage::as_text),
///     Some(r#"{"op":"subscribe","args":[{"channel":"tickers","instId":"BTC-USDT"}]}"#)
/// );
/// ```
pub fn okx_subscription(channel: &str, inst_id: Option<&str>) -> Subscription {
    let (id, arg) = match inst_id {
        Some(inst) => (
            format!("{channel}:{inst}"),
            format!(r#"{{"channel":"{channel}","instId":"{inst}"}}"#),
        ),
        None => (channel.to_owned(), format!(r#"{{"channel":"{channel}"}}"#)),
    };
    let request = |op: &str| WsMessage::text(format!(r#"{{"op":"{op}","args":[{arg}]}}"#));
    Subscription::new(id, request("subscribe")).unsubscribe_message(request("unsubscribe"))
}

// ---- events ----

/// An error followed by its sources: `error: cause: cause`.
pub fn error_chain(error: &(dyn Error + 'static)) -> String {
    std::iter::successors(Some(error), |&e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// One line describing a client event, for printing.
pub fn describe(event: &ClientEvent) -> String {
    match event {
        ClientEvent::Connected { reconnect: false } => "connected".to_owned(),
        ClientEvent::Connected { reconnect: true } => "reconnected".to_owned(),
        ClientEvent::Disconnected {
            reason: DisconnectReason::Error(error),
        } => format!("disconnected: {}", error_chain(&**error)),
        ClientEvent::Disconnected { reason } => format!("disconnected: {reason}"),
        ClientEvent::Reconnecting { attempt, delay } => {
            format!("reconnecting: attempt {attempt} in {delay:?}")
        }
        ClientEvent::Authenticated => "authenticated".to_owned(),
        ClientEvent::AuthFailed { reason, fatal } => {
            format!("login refused (fatal: {fatal}): {reason}")
        }
        ClientEvent::SubscriptionsRestored { count } => format!("{count} subscriptions sent"),
        ClientEvent::HandlerPanicked { lane, message } => {
            format!("handler of lane {lane} panicked: {message}")
        }
        ClientEvent::Error(error) => format!("error: {}", error_chain(&**error)),
        ClientEvent::ShutDown => "shut down".to_owned(),
        ClientEvent::StreamStale {
            stream,
            cause: cause @ StaleCause::Gap { last, .. },
        } => format!(
            "stream {:016x} stale: {} missed after {last}",
            stream.get(),
            cause.missed()
        ),
        ClientEvent::StreamStale { stream, cause } => {
            format!("stream {:016x} stale: {cause:?}", stream.get())
        }
        ClientEvent::StreamResynced { stream, replayed } => format!(
            "stream {:016x} resynced, {replayed} buffered replayed",
            stream.get()
        ),
        other => format!("{other:?}"),
    }
}

/// Prints a client's events as they happen (`  [label] connected`) and
/// keeps them, so the example can check afterwards what happened.
#[derive(Debug)]
pub struct EventLog {
    events: Arc<Mutex<Vec<ClientEvent>>>,
    task: Option<JoinHandle<()>>,
}

impl EventLog {
    /// Starts printing and recording `stream` (a client's
    /// [`events`](hypersockets::WebSocketClient::events)) on the current
    /// tokio runtime, until the client shuts down.
    pub fn spawn(label: impl fmt::Display + Send + 'static, mut stream: EventStream) -> Self {
        let events = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&events);
        let task = tokio::spawn(async move {
            while let Ok(event) = stream.recv().await {
                println!("  [{label}] {}", describe(&event));
                let last = matches!(event, ClientEvent::ShutDown);
                record
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(event);
                if last {
                    return;
                }
            }
        });
        Self {
            events,
            task: Some(task),
        }
    }

    /// The events so far.
    pub fn all(&self) -> Vec<ClientEvent> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many of the events so far `matches` picks.
    pub fn count(&self, matches: impl Fn(&ClientEvent) -> bool) -> usize {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|event| matches(event))
            .count()
    }

    /// Waits (up to 5 s) for the client's `ShutDown` event, so that every
    /// event has been printed and recorded.
    pub async fn finish(&mut self) {
        let Some(mut task) = self.task.take() else {
            return;
        };
        if tokio::time::timeout(Duration::from_secs(5), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

// ---- checks ----

/// `Ok` when `condition` holds, else an error saying what was `expected`:
/// the examples double as smoke tests.
///
/// # Errors
///
/// When `condition` is false.
pub fn ensure(condition: bool, expected: impl fmt::Display) -> Result<(), BoxError> {
    if condition {
        Ok(())
    } else {
        Err(format!("expected {expected}").into())
    }
}

/// Waits until `done` returns true, looking every 20 ms, for at most
/// `timeout`.
///
/// # Errors
///
/// When `timeout` passes first; the error names `what` was awaited.
pub async fn wait_until(
    what: &str,
    timeout: Duration,
    mut done: impl FnMut() -> bool,
) -> Result<(), BoxError> {
    let deadline = tokio::time::Instant::now() + timeout;
    while !done() {
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

// ---- serving metrics ----

/// Serves `render()` as `text/plain` at `GET /metrics` on `listener` (a
/// Prometheus scrape target), `404` on any other path, one connection at
/// a time, one request per connection, until the task is dropped.
///
/// # Errors
///
/// When the listener fails to accept.
pub async fn serve_metrics(
    listener: TcpListener,
    render: impl Fn() -> String + Send + 'static,
) -> std::io::Result<()> {
    loop {
        let (mut stream, _) = listener.accept().await?;
        // A request line is all this needs; a client that sends nothing
        // for a second is let go.
        let mut request = [0u8; 1024];
        let read = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut request)).await;
        let Ok(Ok(read)) = read else { continue };
        let line = String::from_utf8_lossy(&request[..read]);
        let (status, body) = if line.starts_with("GET /metrics ") {
            ("200 OK", render())
        } else {
            ("404 Not Found", "not found\n".to_owned())
        };
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        // A scraper that went away is no reason to stop serving.
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    }
}

/// `GET path` from `address` as a scraper does: the status code and the
/// body.
///
/// # Errors
///
/// When the connection or the exchange fails, or the answer is not HTTP.
pub async fn http_get(address: SocketAddr, path: &str) -> Result<(u16, String), BoxError> {
    let mut stream = TcpStream::connect(address).await?;
    let request = format!("GET {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or("no end of the HTTP head")?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or("no HTTP status")?;
    Ok((status, body.to_owned()))
}

/// The value of metric `name` with (at least) these `labels` in a scraped
/// `body` (Prometheus' text format).
///
/// ```
/// use hypersockets_examples::metric_value;
///
/// let body = "# TYPE x counter\nx{client=\"a\",lane=\"b\"} 12\nx_count{client=\"a\"} 3\n";
/// assert_eq!(metric_value(body, "x", &[("lane", "b")]), Some(12.0));
/// assert_eq!(metric_value(body, "x", &[("lane", "c")]), None);
/// assert_eq!(metric_value(body, "x_count", &[]), Some(3.0));
/// ```
pub fn metric_value(body: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    body.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let (series_labels, value) = match rest.strip_prefix('{') {
            Some(rest) => rest.split_once("} ")?,
            None => ("", rest.strip_prefix(' ')?),
        };
        let wanted = labels
            .iter()
            .all(|(key, value)| series_labels.contains(&format!("{key}=\"{value}\"")));
        wanted.then(|| value.trim().parse().ok()).flatten()
    })
}

/// A client of the mock exchange's trade streams, one lane per stream
/// (keyed by the stream's name), each timing every message: what the
/// metrics example exports.
///
/// # Errors
///
/// When the client cannot be built (a bad URL).
pub fn trade_streams_client(
    url: &str,
    streams: &[&'static str],
) -> Result<WebSocketClient, BoxError> {
    /// Routes each trade to its stream's lane, everything else to `other`.
    struct ByStream(Vec<&'static str>);

    impl MessageRouter for ByStream {
        type Message = (&'static str, WsMessage);
        type RouteKey = &'static str;

        fn parse(&self, message: &WsMessage) -> Result<Self::Message, ParseError> {
            let stream = peek_json_str(message.as_text().unwrap_or_default(), &["stream"])
                .and_then(|name| self.0.iter().copied().find(|known| *known == name))
                .unwrap_or("other");
            Ok((stream, message.clone()))
        }

        fn route_key(&self, (stream, _): &Self::Message) -> &'static str {
            stream
        }
    }

    let mut builder = WebSocketClient::builder()
        .url(url)
        .router(ByStream(streams.to_vec()))
        .lane_defaults(LaneConfig::default().timing_sample_every(1));
    for (id, stream) in (1..).zip(streams) {
        builder = builder
            .handler(
                *stream,
                handler_fn(|(_, message): (&'static str, WsMessage)| {
                    parse_json::<Envelope<Trade>>(&message).map(drop)
                }),
            )
            .subscribe(binance_subscription(id, &[stream]));
    }
    let builder = builder.handler(
        "other",
        handler_fn(|_: (&'static str, WsMessage)| Ok::<_, BoxError>(())),
    );
    Ok(builder
        .reconnect(ExponentialBackoff::default().initial(Duration::from_millis(100)))
        .build()?)
}
