//! HTX (Huobi) spot market data.

use std::time::Duration;

use hypersockets_core::{TopicRequests, WsMessage};
use hypersockets_router::peek_json_str;

use super::{Venue, json_str};
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
fn topic_of(message: &WsMessage) -> Option<String> {
    peek_json_str(message.as_text()?, &["ch"]).map(str::to_owned)
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
        );
        venue.ping_detector = Some(std::sync::Arc::new(JsonPing::new("ping", "pong")));
        venue.decompression = Decompression::Gzip;
        venue.liveness_timeout = Some(Duration::from_secs(30));
        venue
    }
}
