//! HTX (Huobi): spot market data (v1), and the asset and order endpoint
//! (v2).

use std::time::Duration;

use hypersockets_core::{
    PassivePingDetector, StreamSequence, SubscriptionAcks, SubscriptionAnswer, TopicRequests,
    WsMessage,
};
use hypersockets_router::peek_json_str;
use serde_json::Value;

use super::{Number, Venue, first_number, json_str, max_number};
use crate::{Decompression, HtxAcks, JsonPing};

/// HTX's requests, one topic each: `{"sub":"market.btcusdt.trade.detail","id":"1"}`.
#[derive(Clone, Copy, Debug)]
struct HtxTopics;

impl TopicRequests for HtxTopics {
    fn max_topics(&self) -> usize {
        1
    }

    fn subscribe(&self, topics: &[&str], id: u64) -> WsMessage {
        request("sub", topics, id)
    }

    fn unsubscribe(&self, topics: &[&str], id: u64) -> Option<WsMessage> {
        Some(request("unsub", topics, id))
    }
}

fn request(kind: &str, topics: &[&str], id: u64) -> WsMessage {
    let topic = topics.first().copied().unwrap_or_default();
    WsMessage::text(format!(r#"{{"{kind}":{},"id":"{id}"}}"#, json_str(topic)))
}

/// A push, `{"ch":"market.btcusdt.trade.detail","ts":…,"tick":{…}}`.
fn topic_parts(text: &str) -> Option<(&str, Option<&str>)> {
    peek_json_str(text, &["ch"]).map(|ch| (ch, None))
}

fn topic_of(message: &WsMessage) -> Option<String> {
    super::topic(message, topic_parts)
}

/// Trades by their largest `tradeId`, market-by-price by `seqNum` after
/// `prevSeqNum`.
fn sequence_of(message: &WsMessage) -> Option<StreamSequence> {
    super::numbered(message, topic_parts, |text, _| {
        if let Some(id) = max_number(text, "tradeId") {
            return Some(Number::at(id));
        }
        let seq = first_number(text, "seqNum")?;
        Some(Number::at(seq).after(first_number(text, "prevSeqNum")))
    })
}

impl Venue {
    /// HTX (Huobi) spot market data, `wss://api.huobi.pro/ws`
    /// (`wss://api-aws.huobi.pro/ws` from AWS).
    ///
    /// Topics are HTX's (`market.btcusdt.trade.detail`,
    /// `market.ethusdt.depth.step0`, `market.btcusdt.kline.1min`). One
    /// topic per request, answered by id ([`HtxAcks`]).
    ///
    /// From HTX's documentation ("Websocket Market Data", "Heartbeat and
    /// Connection"):
    /// - every message, pings included, is a gzip-compressed binary frame
    ///   (decompression: gzip); requests and answers go out uncompressed;
    /// - the server sends `{"ping":N}` every 5 s and closes after two
    ///   unanswered: answered `{"pong":N}` by [`JsonPing`]; dead after
    ///   30 s of silence;
    /// - the documentation gives no request rate, no cap on topics per
    ///   connection, no connection rate and no maximum connection age: the
    ///   default pacing (4 requests a second) is kept.
    ///
    /// ```
    /// use hypersockets::{Decompression, Venue, WsMessage};
    ///
    /// let request = Venue::htx().subscribe_request(&["market.btcusdt.trade.detail"], 3);
    /// assert_eq!(request, WsMessage::text(r#"{"sub":"market.btcusdt.trade.detail","id":"3"}"#));
    /// ```
    pub fn htx() -> Self {
        let mut venue = Venue::new(
            "htx",
            "wss://api.huobi.pro/ws",
            HtxTopics,
            HtxAcks,
            topic_of,
            sequence_of,
        );
        venue.ping_detector = Some(std::sync::Arc::new(JsonPing::new("ping", "pong")));
        venue.decompression = Decompression::Gzip;
        venue.liveness_timeout = Some(Duration::from_secs(30));
        venue
    }

    /// HTX (Huobi) asset and order updates, `wss://api.huobi.pro/ws/v2`
    /// (`wss://api-aws.huobi.pro/ws/v2` from AWS): private topics, after
    /// [`HtxLogin`](crate::HtxLogin)'s login.
    ///
    /// Topics are HTX's v2 channels (`orders#btcusdt`,
    /// `trade.clearing#btcusdt#0`, `accounts.update#1`); spell the mode of
    /// `accounts.update` (`#0` when none is wanted), since its answers and
    /// pushes name it. One topic per request,
    /// `{"action":"sub","ch":"orders#btcusdt"}`, answered by channel:
    /// `{"action":"sub","code":200,"ch":"orders#btcusdt",…}`, or a refusal
    /// with another code (2002 `invalid.auth.state` before the login).
    ///
    /// From HTX's documentation ("Websocket Asset and Order"):
    /// - messages are not compressed (unlike the market data endpoint);
    /// - the server sends `{"action":"ping","data":{"ts":N}}` every 20 s,
    ///   answered `{"action":"pong","data":{"ts":N}}`; the documentation
    ///   does not say after how many unanswered pings it closes: the
    ///   client judges a connection silent for 45 s dead;
    /// - 50 valid requests a second per connection, 10 connections per API
    ///   key, 100 requests a second per IP: the default pacing (4 requests
    ///   a second) is kept; no cap on topics per connection and no maximum
    ///   connection age is documented.
    ///
    /// ```
    /// use hypersockets::prelude::*;
    /// use hypersockets::{HtxLogin, Subscription, Venue};
    ///
    /// let venue = Venue::htx_private();
    /// assert_eq!(
    ///     venue.subscribe_request(&["orders#btcusdt"], 1),
    ///     WsMessage::text(r#"{"action":"sub","ch":"orders#btcusdt"}"#)
    /// );
    /// let client = WebSocketClient::builder()
    ///     .venue(venue.clone())
    ///     .router(venue.router())
    ///     .handler("orders#btcusdt".to_owned(), handler_fn(|update: WsMessage| {
    ///         println!("{update:?}");
    ///         Ok::<_, BoxError>(())
    ///     }))
    ///     .auth(HtxLogin::new("access-key", "secret-key"))
    ///     .subscribe(Subscription::topic("orders#btcusdt"))
    ///     .build()?;
    /// # drop(client);
    /// # Ok::<(), HyperSocketError>(())
    /// ```
    pub fn htx_private() -> Self {
        let mut venue = Venue::new(
            "htx-private",
            "wss://api.huobi.pro/ws/v2",
            V2Topics,
            V2Acks,
            v2_topic_of,
            v2_sequence_of,
        );
        venue.ping_detector = Some(std::sync::Arc::new(V2Ping));
        venue.liveness_timeout = Some(Duration::from_secs(45));
        venue
    }
}

/// HTX v2's requests, one channel each: `{"action":"sub","ch":"orders#btcusdt"}`.
#[derive(Clone, Copy, Debug)]
struct V2Topics;

impl TopicRequests for V2Topics {
    fn max_topics(&self) -> usize {
        1
    }

    fn subscribe(&self, topics: &[&str], _id: u64) -> WsMessage {
        v2_request("sub", topics)
    }

    fn unsubscribe(&self, topics: &[&str], _id: u64) -> Option<WsMessage> {
        Some(v2_request("unsub", topics))
    }
}

fn v2_request(action: &str, topics: &[&str]) -> WsMessage {
    let topic = topics.first().copied().unwrap_or_default();
    WsMessage::text(format!(
        r#"{{"action":"{action}","ch":{}}}"#,
        json_str(topic)
    ))
}

/// The channel a v2 answer or push names for `topic`: a bare
/// `accounts.update` is answered as its default mode, `accounts.update#0`.
fn v2_channel(topic: &str) -> &str {
    if topic == "accounts.update" {
        "accounts.update#0"
    } else {
        topic
    }
}

/// HTX v2's answers, matched by channel: `{"action":"sub","code":200,"ch":…}`
/// accepts, another code refuses (`"message"` says why).
#[derive(Clone, Copy, Debug)]
struct V2Acks;

impl SubscriptionAcks for V2Acks {
    fn request_keys(&self, request: &WsMessage) -> Vec<String> {
        let Some(text) = request.as_text() else {
            return Vec::new();
        };
        let Ok(Value::Object(request)) = serde_json::from_str::<Value>(text) else {
            return Vec::new();
        };
        if request.get("action").and_then(Value::as_str) != Some("sub") {
            return Vec::new();
        }
        request
            .get("ch")
            .and_then(Value::as_str)
            .map(|ch| v2_channel(ch).to_owned())
            .into_iter()
            .collect()
    }

    fn answer(&self, message: &WsMessage) -> SubscriptionAnswer {
        let Some(text) = message.as_text() else {
            return SubscriptionAnswer::Unrelated;
        };
        // Cheap first: pushes are most of the traffic.
        if peek_json_str(text, &["action"]) != Some("sub") {
            return SubscriptionAnswer::Unrelated;
        }
        let Ok(Value::Object(answer)) = serde_json::from_str::<Value>(text) else {
            return SubscriptionAnswer::Unrelated;
        };
        let (Some(ch), Some(code)) = (
            answer.get("ch").and_then(Value::as_str),
            answer.get("code").and_then(Value::as_i64),
        ) else {
            return SubscriptionAnswer::Unrelated;
        };
        let key = ch.to_owned();
        if code == 200 {
            return SubscriptionAnswer::Accepted { key };
        }
        let said = answer
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("refused");
        SubscriptionAnswer::Rejected {
            key,
            reason: format!("code {code}: {said}"),
        }
    }
}

/// HTX v2's ping, `{"action":"ping","data":{"ts":N}}`, answered
/// `{"action":"pong","data":{"ts":N}}`.
#[derive(Clone, Copy, Debug)]
struct V2Ping;

impl PassivePingDetector for V2Ping {
    fn detect(&self, message: &WsMessage) -> Option<WsMessage> {
        let text = message.as_text()?;
        // Runs on every message: a peek before any parse.
        if peek_json_str(text, &["action"])? != "ping" {
            return None;
        }
        let ping: Value = serde_json::from_str(text).ok()?;
        let ts = ping.get("data")?.get("ts")?.as_u64()?;
        Some(WsMessage::text(format!(
            r#"{{"action":"pong","data":{{"ts":{ts}}}}}"#
        )))
    }
}

/// A v2 push, `{"action":"push","ch":"orders#btcusdt","data":{…}}`.
fn v2_topic_parts(text: &str) -> Option<(&str, Option<&str>)> {
    if peek_json_str(text, &["action"])? != "push" {
        return None;
    }
    peek_json_str(text, &["ch"]).map(|ch| (ch, None))
}

fn v2_topic_of(message: &WsMessage) -> Option<String> {
    super::topic(message, v2_topic_parts)
}

/// Trade clearings by `tradeId`, account changes by `seqNum`.
fn v2_sequence_of(message: &WsMessage) -> Option<StreamSequence> {
    super::numbered(message, v2_topic_parts, |text, _| {
        max_number(text, "tradeId")
            .or_else(|| first_number(text, "seqNum"))
            .map(Number::at)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_requests_and_answers_match_by_channel() {
        let venue = Venue::htx_private();
        let request = venue.subscribe_request(&["orders#btcusdt"], 7);
        assert_eq!(V2Acks.request_keys(&request), ["orders#btcusdt"]);
        let bare = venue.subscribe_request(&["accounts.update"], 8);
        assert_eq!(V2Acks.request_keys(&bare), ["accounts.update#0"]);
        assert_eq!(
            V2Topics.unsubscribe(&["orders#btcusdt"], 9),
            Some(WsMessage::text(
                r#"{"action":"unsub","ch":"orders#btcusdt"}"#
            ))
        );
        assert!(V2Acks.request_keys(&WsMessage::text("not json")).is_empty());
        assert!(
            V2Acks
                .request_keys(&WsMessage::text(
                    r#"{"action":"unsub","ch":"orders#btcusdt"}"#
                ))
                .is_empty()
        );

        assert_eq!(
            V2Acks.answer(&WsMessage::text(
                r#"{"action":"sub","code":200,"ch":"orders#btcusdt","data":{}}"#
            )),
            SubscriptionAnswer::Accepted {
                key: "orders#btcusdt".into()
            }
        );
        assert_eq!(
            V2Acks.answer(&WsMessage::text(
                r#"{"action":"sub","code":2002,"ch":"accounts.update#2","message":"invalid.auth.state"}"#
            )),
            SubscriptionAnswer::Rejected {
                key: "accounts.update#2".into(),
                reason: "code 2002: invalid.auth.state".into()
            }
        );
        for unrelated in [
            r#"{"action":"req","code":200,"ch":"auth","data":{}}"#,
            r#"{"action":"push","ch":"orders#btcusdt","data":{"code":200}}"#,
            r#"{"action":"sub","ch":"orders#btcusdt"}"#,
            "{",
        ] {
            assert_eq!(
                V2Acks.answer(&WsMessage::text(unrelated)),
                SubscriptionAnswer::Unrelated,
                "{unrelated}"
            );
        }
    }

    #[test]
    fn v2_pings_are_answered_with_their_number() {
        assert_eq!(
            V2Ping.detect(&WsMessage::text(
                r#"{"action":"ping","data":{"ts":1575537778295}}"#
            )),
            Some(WsMessage::text(
                r#"{"action":"pong","data":{"ts":1575537778295}}"#
            ))
        );
        for other in [
            r#"{"ping":1575537778295}"#,
            r#"{"action":"push","ch":"ping","data":{}}"#,
            r#"{"action":"ping","data":{}}"#,
            r#"{"action":"ping","data":{"ts":"x"}}"#,
        ] {
            assert_eq!(V2Ping.detect(&WsMessage::text(other)), None, "{other}");
        }
    }

    #[test]
    fn v2_pushes_are_routed_by_channel_and_numbered() {
        let venue = Venue::htx_private();
        let push = WsMessage::text(
            r#"{"action":"push","ch":"trade.clearing#btcusdt#0","data":{"symbol":"btcusdt","tradeId":301,"orderId":9}}"#,
        );
        assert_eq!(
            venue.topic_of(&push).as_deref(),
            Some("trade.clearing#btcusdt#0")
        );
        assert_eq!(venue.sequence_of(&push).map(|s| s.number), Some(301));
        let account = WsMessage::text(
            r#"{"action":"push","ch":"accounts.update#1","data":{"currency":"btc","seqNum":"86872993928"}}"#,
        );
        assert_eq!(
            venue.sequence_of(&account).map(|s| s.number),
            Some(86_872_993_928)
        );
        let answer = WsMessage::text(r#"{"action":"sub","code":200,"ch":"orders#btcusdt"}"#);
        assert_eq!(venue.topic_of(&answer), None);
        assert_eq!(venue.name(), "htx-private");
        assert_eq!(venue.endpoint(), "wss://api.huobi.pro/ws/v2");
    }
}
