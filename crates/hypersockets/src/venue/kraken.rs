//! Kraken spot, WebSocket API v2.

use std::time::Duration;

use hypersockets_core::{StreamSequence, TopicRequests, WsMessage};
use hypersockets_router::peek_json_str;

use super::{Number, Venue, find_str, json_list, json_str, max_number};
use crate::{Heartbeat, KrakenAcks};

/// Kraken's requests: one channel, many symbols,
/// `{"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD",…]},"req_id":1}`.
#[derive(Clone, Copy, Debug)]
struct KrakenTopics;

impl TopicRequests for KrakenTopics {
    fn max_topics(&self) -> usize {
        // The documentation gives no cap on the symbols of a request.
        100
    }

    fn batches_with(&self, first: &str, topic: &str) -> bool {
        super::same_channel(first, topic)
    }

    fn subscribe(&self, topics: &[&str], id: u64) -> WsMessage {
        request("subscribe", topics, id)
    }

    fn unsubscribe(&self, topics: &[&str], id: u64) -> Option<WsMessage> {
        Some(request("unsubscribe", topics, id))
    }
}

fn request(method: &str, topics: &[&str], id: u64) -> WsMessage {
    let (channel, _) = super::channel_of(topics.first().copied().unwrap_or_default());
    let symbols: Vec<&str> = topics
        .iter()
        .filter_map(|t| super::channel_of(t).1)
        .collect();
    let params = if symbols.is_empty() {
        format!(r#"{{"channel":{}}}"#, json_str(channel))
    } else {
        format!(
            r#"{{"channel":{},"symbol":{}}}"#,
            json_str(channel),
            json_list(&symbols)
        )
    };
    WsMessage::text(format!(
        r#"{{"method":"{method}","params":{params},"req_id":{id}}}"#
    ))
}

/// A push, `{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD",…}]}`;
/// the server's `heartbeat` is not a topic's data.
fn topic_parts(text: &str) -> Option<(&str, Option<&str>)> {
    let channel = peek_json_str(text, &["channel"])?;
    if channel == "heartbeat" {
        return None;
    }
    Some((channel, find_str(text, "symbol")))
}

fn topic_of(message: &WsMessage) -> Option<String> {
    super::topic(message, topic_parts)
}

/// Trades by their largest `trade_id`; Kraken numbers nothing else.
fn sequence_of(message: &WsMessage) -> Option<StreamSequence> {
    super::numbered(message, topic_parts, |text, _| {
        max_number(text, "trade_id").map(Number::at)
    })
}

impl Venue {
    /// Kraken spot, WebSocket API v2: `wss://ws.kraken.com/v2`.
    ///
    /// Topics are `channel:SYMBOL` (`trade:BTC/USD`, `book:ETH/USD`,
    /// `ticker:SOL/USD`) or a bare channel (`instrument`); a request names
    /// one channel, so a restore batches the symbols of each channel.
    /// Channel parameters beyond the symbol (book depth, OHLC interval)
    /// need a [`Subscription::new`](crate::Subscription::new) with your own
    /// request. Each symbol is answered on its own ([`KrakenAcks`]).
    ///
    /// From Kraken's documentation (WebSocket v2 "ping", "heartbeat",
    /// "subscribe"):
    /// - while subscribed, the server sends `{"channel":"heartbeat"}`
    ///   about once a second without other updates; the client may send
    ///   `{"method":"ping"}` (answered with `pong`): a ping every 15 s,
    ///   dead after 30 s of silence;
    /// - the documentation gives no request rate for market data, no cap
    ///   on symbols per request or per connection, no connection rate and
    ///   no maximum connection age: the default pacing (4 requests a
    ///   second) is kept.
    ///
    /// ```
    /// use hypersockets::{Venue, WsMessage};
    ///
    /// let request = Venue::kraken().subscribe_request(&["trade:BTC/USD", "trade:ETH/USD"], 2);
    /// assert_eq!(
    ///     request,
    ///     WsMessage::text(r#"{"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD","ETH/USD"]},"req_id":2}"#)
    /// );
    /// ```
    pub fn kraken() -> Self {
        let mut venue = Venue::new(
            "kraken",
            "wss://ws.kraken.com/v2",
            KrakenTopics,
            KrakenAcks,
            topic_of,
            sequence_of,
        );
        venue.heartbeat = Some(Heartbeat::new(
            Duration::from_secs(15),
            r#"{"method":"ping"}"#,
        ));
        venue.liveness_timeout = Some(Duration::from_secs(30));
        venue
    }
}
