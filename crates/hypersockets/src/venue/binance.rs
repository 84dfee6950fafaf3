//! Binance spot and USDⓈ-M futures market streams.

use std::time::Duration;

use hypersockets_core::{StreamSequence, TopicRequests, WsMessage};
use hypersockets_router::peek_json_str;

use super::{Number, Venue, VenueLimits, find_str, first_number, json_list};
use crate::{BinanceAcks, Pacing, Rate};

/// Binance's `SUBSCRIBE` / `UNSUBSCRIBE` requests:
/// `{"method":"SUBSCRIBE","params":["btcusdt@trade",…],"id":1}`.
#[derive(Clone, Copy, Debug)]
struct BinanceTopics;

/// Binance's documentation gives no cap on the streams in one request,
/// only per connection; 200 keeps a request a few KiB.
const TOPICS_PER_REQUEST: usize = 200;

impl TopicRequests for BinanceTopics {
    fn max_topics(&self) -> usize {
        TOPICS_PER_REQUEST
    }

    fn subscribe(&self, topics: &[&str], id: u64) -> WsMessage {
        request("SUBSCRIBE", topics, id)
    }

    fn unsubscribe(&self, topics: &[&str], id: u64) -> Option<WsMessage> {
        Some(request("UNSUBSCRIBE", topics, id))
    }
}

fn request(method: &str, topics: &[&str], id: u64) -> WsMessage {
    WsMessage::text(format!(
        r#"{{"method":"{method}","params":{},"id":{id}}}"#,
        json_list(topics)
    ))
}

/// A combined stream's event, `{"stream":"btcusdt@trade","data":{…}}`:
/// its stream name is the topic.
fn topic_parts(text: &str) -> Option<(&str, Option<&str>)> {
    peek_json_str(text, &["stream"]).map(|stream| (stream, None))
}

fn topic_of(message: &WsMessage) -> Option<String> {
    super::topic(message, topic_parts)
}

/// Trades by trade id `t`, aggregate trades by `a`, depth updates by
/// their last update id `u` (after `pu` on futures, after `U - 1` on
/// spot).
fn sequence_of(message: &WsMessage) -> Option<StreamSequence> {
    super::numbered(message, topic_parts, |text, _| match find_str(text, "e")? {
        "trade" => first_number(text, "t").map(Number::at),
        "aggTrade" => first_number(text, "a").map(Number::at),
        "depthUpdate" => {
            let last = first_number(text, "u")?;
            let previous = first_number(text, "pu")
                .or_else(|| first_number(text, "U").map(|first| first.saturating_sub(1)));
            Some(Number::at(last).after(previous))
        }
        _ => None,
    })
}

/// The WebSocket API's `{"event":{"e":"serverShutdown",…}}`.
fn notice(message: &WsMessage) -> bool {
    message
        .as_text()
        // A substring search first: this runs on every message.
        .is_some_and(|text| {
            text.contains("serverShutdown") && find_str(text, "e") == Some("serverShutdown")
        })
}

impl Venue {
    /// Binance spot market streams, on the combined-stream endpoint
    /// `wss://stream.binance.com:9443/stream` (events arrive as
    /// `{"stream":…,"data":…}`, so each carries its topic).
    ///
    /// Topics are stream names, lowercase: `btcusdt@trade`,
    /// `btcusdt@depth@100ms`, `ethusdt@bookTicker`. Subscriptions are
    /// batched up to 200 streams per request (the documentation caps
    /// streams per connection, not per request) and answered
    /// `{"result":null,"id":N}` ([`BinanceAcks`]).
    ///
    /// From Binance's documentation ("WebSocket Streams for Binance"):
    /// - the server sends a Ping frame every 20 s and closes a connection
    ///   that has not answered within a minute: the transport answers
    ///   Pings at once, so no heartbeat is set;
    /// - 5 incoming messages per second, Ping and Pong frames and JSON
    ///   requests alike, closed beyond it: pacing is 5 writes a second for
    ///   everything, one of them kept for keepalive, and requests at 4;
    /// - at most 1,024 streams per connection, 300 connections per 5
    ///   minutes per IP, and a connection lasts at most 24 hours (see
    ///   [`limits`](Self::limits)).
    ///
    /// ```
    /// use hypersockets::{Venue, WsMessage};
    ///
    /// let binance = Venue::binance_spot();
    /// let trade = WsMessage::text(r#"{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT"}}"#);
    /// assert_eq!(binance.topic_of(&trade).as_deref(), Some("btcusdt@trade"));
    /// ```
    pub fn binance_spot() -> Self {
        let mut venue = Venue::new(
            "binance-spot",
            "wss://stream.binance.com:9443/stream",
            BinanceTopics,
            BinanceAcks,
            topic_of,
            sequence_of,
        );
        venue.pacing = Pacing::default()
            .all(Some(Rate::per_second(5)))
            .requests(Some(Rate::per_second(4)))
            .keepalive_reserve(1);
        venue.limits = VenueLimits::default()
            .streams_per_connection(Some(1024))
            .connections(Some(Rate::new(300, Duration::from_secs(300))))
            .max_connection_age(Some(Duration::from_secs(24 * 60 * 60)));
        venue.notice = Some(notice);
        venue
    }

    /// Binance USDⓈ-M futures market streams, on the combined-stream
    /// endpoint `wss://fstream.binance.com/stream`. Topics and requests are
    /// those of [`binance_spot`](Self::binance_spot) (`btcusdt@aggTrade`,
    /// `btcusdt@markPrice@1s`, `btcusdt@depth@100ms`).
    ///
    /// From Binance's documentation ("USDⓈ-M Futures, WebSocket Market
    /// Streams"):
    /// - a Ping frame every 3 minutes, a connection closed without a Pong
    ///   within 10 minutes (the transport answers);
    /// - 10 incoming messages per second (pacing: 10 writes a second, one
    ///   for keepalive, requests at 8);
    /// - at most 200 streams per connection; a connection lasts at most 24
    ///   hours. The documentation gives no connection rate.
    ///
    /// ```
    /// use hypersockets::Venue;
    ///
    /// assert_eq!(Venue::binance_usdm().endpoint(), "wss://fstream.binance.com/stream");
    /// ```
    pub fn binance_usdm() -> Self {
        let mut venue = Venue::new(
            "binance-usdm",
            "wss://fstream.binance.com/stream",
            BinanceTopics,
            BinanceAcks,
            topic_of,
            sequence_of,
        );
        venue.pacing = Pacing::default()
            .all(Some(Rate::per_second(10)))
            .requests(Some(Rate::per_second(8)))
            .keepalive_reserve(1);
        venue.limits = VenueLimits::default()
            .streams_per_connection(Some(200))
            .max_connection_age(Some(Duration::from_secs(24 * 60 * 60)));
        venue.notice = Some(notice);
        venue
    }
}
