//! KuCoin spot (classic API).

use std::time::Duration;

use hypersockets_core::{StreamSequence, TopicRequests, WsMessage};
use hypersockets_router::peek_json_str;

use super::{Number, Venue, VenueLimits, first_number, json_str};
use crate::{Heartbeat, KucoinAcks, Pacing, Rate};

/// KuCoin's requests: one topic prefix, many symbols,
/// `{"id":"1","type":"subscribe","topic":"/market/ticker:BTC-USDT,ETH-USDT","privateChannel":false,"response":true}`.
#[derive(Clone, Copy, Debug)]
struct KucoinTopics;

impl TopicRequests for KucoinTopics {
    fn max_topics(&self) -> usize {
        // "at most 100 topics per subscription request".
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

fn request(kind: &str, topics: &[&str], id: u64) -> WsMessage {
    let (prefix, _) = super::channel_of(topics.first().copied().unwrap_or_default());
    let symbols: Vec<&str> = topics
        .iter()
        .filter_map(|t| super::channel_of(t).1)
        .collect();
    let topic = if symbols.is_empty() {
        prefix.to_owned()
    } else {
        format!("{prefix}:{}", symbols.join(","))
    };
    WsMessage::text(format!(
        r#"{{"id":"{id}","type":"{kind}","topic":{},"privateChannel":false,"response":true}}"#,
        json_str(&topic)
    ))
}

/// A push, `{"type":"message","topic":"/market/ticker:BTC-USDT","subject":…,"data":{…}}`.
fn topic_parts(text: &str) -> Option<(&str, Option<&str>)> {
    if peek_json_str(text, &["type"]) == Some("message") || !text.contains(r#""type""#) {
        return peek_json_str(text, &["topic"]).map(|topic| (topic, None));
    }
    None
}

fn topic_of(message: &WsMessage) -> Option<String> {
    super::topic(message, topic_parts)
}

/// Level 2 by `sequenceEnd` after `sequenceStart - 1`, matches and
/// tickers by `sequence`.
fn sequence_of(message: &WsMessage) -> Option<StreamSequence> {
    super::numbered(message, topic_parts, |text, _| {
        if let Some(end) = first_number(text, "sequenceEnd") {
            let start = first_number(text, "sequenceStart");
            return Some(Number::at(end).after(start.map(|s| s.saturating_sub(1))));
        }
        first_number(text, "sequence").map(Number::at)
    })
}

impl Venue {
    /// KuCoin spot, classic WebSocket API. KuCoin gives each connection its
    /// URL with a token (REST `POST /api/v1/bullet-public`, or
    /// `bullet-private` with a signed request): pass
    /// `<instanceServers[0].endpoint>?token=<token>` here. The URL is
    /// never logged or shown by `Debug`.
    ///
    /// Topics are KuCoin's (`/market/ticker:BTC-USDT`,
    /// `/market/match:ETH-USDT`, `/market/level2:BTC-USDT`); a restore
    /// batches the symbols of each topic prefix. Requests carry an id and
    /// `"response":true`, answered `ack` ([`KucoinAcks`]).
    ///
    /// From KuCoin's documentation ("WebSocket", "Ping", "Subscribe"):
    /// - the bullet answer gives `pingInterval` (18 s) and `pingTimeout`
    ///   (10 s): a `{"id":"ping","type":"ping"}` heartbeat every 18 s,
    ///   dead after 28 s of silence (its `pong` carries a timestamp, so it
    ///   goes to the router as a control message);
    /// - at most 100 messages sent per 10 s per connection (pacing), 100
    ///   topics per request, 300 topics per connection;
    /// - the token lasts 24 hours; the documentation gives no connection
    ///   rate.
    ///
    /// ```
    /// use hypersockets::{Venue, WsMessage};
    ///
    /// let kucoin = Venue::kucoin("wss://ws-api-spot.kucoin.com/?token=T");
    /// let request = kucoin.subscribe_request(&["/market/ticker:BTC-USDT", "/market/ticker:ETH-USDT"], 1);
    /// assert_eq!(
    ///     request,
    ///     WsMessage::text(r#"{"id":"1","type":"subscribe","topic":"/market/ticker:BTC-USDT,ETH-USDT","privateChannel":false,"response":true}"#)
    /// );
    /// assert!(!format!("{kucoin:?}").contains("token"));
    /// ```
    pub fn kucoin(url_with_token: impl Into<String>) -> Self {
        let mut venue = Venue::new(
            "kucoin",
            url_with_token,
            KucoinTopics,
            KucoinAcks,
            topic_of,
            sequence_of,
        );
        venue.heartbeat = Some(Heartbeat::new(
            Duration::from_secs(18),
            r#"{"id":"ping","type":"ping"}"#,
        ));
        venue.liveness_timeout = Some(Duration::from_secs(28));
        venue.pacing = Pacing::default()
            .all(Some(Rate::new(100, Duration::from_secs(10))))
            .requests(Some(Rate::per_second(4)))
            .keepalive_reserve(1);
        venue.limits = VenueLimits::default()
            .streams_per_connection(Some(300))
            .max_connection_age(Some(Duration::from_secs(24 * 60 * 60)));
        venue
    }
}
