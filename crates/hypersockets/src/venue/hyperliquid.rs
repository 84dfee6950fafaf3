//! Hyperliquid.

use std::time::Duration;

use hypersockets_core::{StreamSequence, TopicRequests, WsMessage};
use hypersockets_router::peek_json_str;

use super::{Number, Venue, VenueLimits, find_str, json_str, max_number};
use crate::{Heartbeat, HyperliquidAcks, Pacing, Rate};

/// Hyperliquid's requests, one subscription each:
/// `{"method":"subscribe","subscription":{"type":"trades","coin":"BTC"}}`.
#[derive(Clone, Copy, Debug)]
struct HyperliquidTopics;

impl TopicRequests for HyperliquidTopics {
    fn max_topics(&self) -> usize {
        1
    }

    fn subscribe(&self, topics: &[&str], _id: u64) -> WsMessage {
        request("subscribe", topics.first().copied().unwrap_or_default())
    }

    fn unsubscribe(&self, topics: &[&str], _id: u64) -> Option<WsMessage> {
        Some(request(
            "unsubscribe",
            topics.first().copied().unwrap_or_default(),
        ))
    }
}

/// `type:coin` → `{"type":…,"coin":…}`; `type` → `{"type":…}`.
fn request(method: &str, topic: &str) -> WsMessage {
    let subscription = match topic.split_once(':') {
        Some((kind, coin)) => format!(r#"{{"type":{},"coin":{}}}"#, json_str(kind), json_str(coin)),
        None => format!(r#"{{"type":{}}}"#, json_str(topic)),
    };
    WsMessage::text(format!(
        r#"{{"method":"{method}","subscription":{subscription}}}"#
    ))
}

/// A push, `{"channel":"trades","data":[{"coin":"BTC",…}]}` or
/// `{"channel":"l2Book","data":{"coin":"BTC",…}}`.
fn topic_parts(text: &str) -> Option<(&str, Option<&str>)> {
    let channel = peek_json_str(text, &["channel"])?;
    if matches!(channel, "subscriptionResponse" | "pong" | "error") {
        return None;
    }
    Some((channel, find_str(text, "coin")))
}

fn topic_of(message: &WsMessage) -> Option<String> {
    super::topic(message, topic_parts)
}

/// Trades by their largest trade id `tid`.
fn sequence_of(message: &WsMessage) -> Option<StreamSequence> {
    super::numbered(message, topic_parts, |text, _| {
        max_number(text, "tid").map(Number::at)
    })
}

impl Venue {
    /// Hyperliquid, `wss://api.hyperliquid.xyz/ws` (testnet:
    /// `wss://api.hyperliquid-testnet.xyz/ws`).
    ///
    /// Topics are `type:coin` (`trades:BTC`, `l2Book:ETH`, `bbo:SOL`) or a
    /// bare type (`allMids`); subscriptions with more fields (`candle`'s
    /// interval, a `user`) need a [`Subscription::new`](crate::Subscription::new)
    /// with your own request. One subscription per request, answered by
    /// `subscriptionResponse` ([`HyperliquidAcks`]).
    ///
    /// From Hyperliquid's documentation ("WebSocket", "Timeouts and
    /// heartbeats", "Rate limits"):
    /// - the server closes a connection that has sent nothing for 60 s;
    ///   `{"method":"ping"}` is answered `{"channel":"pong"}`: a ping every
    ///   30 s, its pong consumed, dead after 45 s of silence;
    /// - per IP: at most 100 connections, 1,000 subscriptions and 2,000
    ///   messages sent per minute across connections: pacing is 2,000
    ///   writes a minute, with no other cap on requests;
    /// - the documentation gives no maximum connection age.
    ///
    /// ```
    /// use hypersockets::{Venue, WsMessage};
    ///
    /// let request = Venue::hyperliquid().subscribe_request(&["trades:BTC"], 1);
    /// assert_eq!(
    ///     request,
    ///     WsMessage::text(r#"{"method":"subscribe","subscription":{"type":"trades","coin":"BTC"}}"#)
    /// );
    /// ```
    pub fn hyperliquid() -> Self {
        let mut venue = Venue::new(
            "hyperliquid",
            "wss://api.hyperliquid.xyz/ws",
            HyperliquidTopics,
            HyperliquidAcks,
            topic_of,
            sequence_of,
        );
        venue.heartbeat = Some(
            Heartbeat::new(Duration::from_secs(30), r#"{"method":"ping"}"#)
                .reply(r#"{"channel":"pong"}"#),
        );
        venue.liveness_timeout = Some(Duration::from_secs(45));
        venue.pacing = Pacing::default()
            .all(Some(Rate::new(2000, Duration::from_secs(60))))
            .requests(None);
        venue.limits = VenueLimits::default()
            .streams_per_connection(Some(1000))
            .connections_per_address(Some(100));
        venue
    }
}
