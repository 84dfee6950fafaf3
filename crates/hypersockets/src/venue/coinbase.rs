//! Coinbase Advanced Trade market data.

use std::time::Duration;

use hypersockets_core::{TopicRequests, WsMessage};
use hypersockets_router::peek_json_str;

use super::{Venue, VenueLimits, find_str, json_list, json_str};
use crate::{CoinbaseAcks, Pacing, Rate};

/// Coinbase's requests: one channel, many products,
/// `{"type":"subscribe","channel":"level2","product_ids":["BTC-USD",…]}`.
#[derive(Clone, Copy, Debug)]
struct CoinbaseTopics;

fn split(topic: &str) -> (&str, Option<&str>) {
    match topic.split_once(':') {
        Some((channel, product)) => (channel, Some(product)),
        None => (topic, None),
    }
}

impl TopicRequests for CoinbaseTopics {
    fn max_topics(&self) -> usize {
        // The documentation gives no cap on a request's products.
        100
    }

    fn batches_with(&self, first: &str, topic: &str) -> bool {
        let ((a, a_product), (b, b_product)) = (split(first), split(topic));
        a == b && a_product.is_some() && b_product.is_some()
    }

    fn subscribe(&self, topics: &[&str], _id: u64) -> WsMessage {
        request("subscribe", topics)
    }

    fn unsubscribe(&self, topics: &[&str], _id: u64) -> Option<WsMessage> {
        Some(request("unsubscribe", topics))
    }
}

fn request(kind: &str, topics: &[&str]) -> WsMessage {
    let (channel, _) = split(topics.first().copied().unwrap_or_default());
    let products: Vec<&str> = topics.iter().filter_map(|t| split(t).1).collect();
    if products.is_empty() {
        return WsMessage::text(format!(
            r#"{{"type":"{kind}","channel":{}}}"#,
            json_str(channel)
        ));
    }
    WsMessage::text(format!(
        r#"{{"type":"{kind}","channel":{},"product_ids":{}}}"#,
        json_str(channel),
        json_list(&products)
    ))
}

/// A push, `{"channel":"market_trades","events":[{"trades":[{"product_id":"BTC-USD",…}]}],…}`;
/// `level2` arrives as channel `l2_data`.
fn topic_of(message: &WsMessage) -> Option<String> {
    let text = message.as_text()?;
    let channel = match peek_json_str(text, &["channel"])? {
        "subscriptions" => return None,
        "l2_data" => "level2",
        channel => channel,
    };
    Some(match find_str(text, "product_id") {
        Some(product) => format!("{channel}:{product}"),
        None => channel.to_owned(),
    })
}

impl Venue {
    /// Coinbase Advanced Trade market data, `wss://advanced-trade-ws.coinbase.com`.
    ///
    /// Topics are `channel:PRODUCT` (`market_trades:BTC-USD`,
    /// `level2:ETH-USD`, `ticker:SOL-USD`) or a bare channel
    /// (`heartbeats`, `status`); a request names one channel, so a restore
    /// batches the products of each channel. The answer to every request
    /// is the connection's whole subscription list ([`CoinbaseAcks`]).
    /// Authenticated channels need a JWT in each request: subscribe to them
    /// with a [`Subscription::new`](crate::Subscription::new) of your own.
    ///
    /// From Coinbase's documentation ("Advanced Trade WebSocket Overview",
    /// "Rate Limits", "Channels"):
    /// - a connection without a subscription within 5 s is closed, and
    ///   channels without updates close after 60–90 s unless `heartbeats`
    ///   is subscribed: the profile subscribes to `heartbeats` (sent every
    ///   second) and judges a connection silent for 10 s dead;
    /// - 8 unauthenticated messages per second per IP, 8 new connections
    ///   per second per IP: pacing is 8 writes a second;
    /// - the documentation gives no cap on products per request or per
    ///   connection and no maximum connection age.
    ///
    /// ```
    /// use hypersockets::{Venue, WsMessage};
    ///
    /// let coinbase = Venue::coinbase();
    /// let l2 = WsMessage::text(r#"{"channel":"l2_data","events":[{"type":"update","product_id":"BTC-USD","updates":[]}]}"#);
    /// assert_eq!(coinbase.topic_of(&l2).as_deref(), Some("level2:BTC-USD"));
    /// ```
    pub fn coinbase() -> Self {
        let mut venue = Venue::new(
            "coinbase",
            "wss://advanced-trade-ws.coinbase.com",
            CoinbaseTopics,
            CoinbaseAcks,
            topic_of,
        );
        venue.liveness_timeout = Some(Duration::from_secs(10));
        venue.pacing = Pacing::default()
            .all(Some(Rate::per_second(8)))
            .requests(Some(Rate::per_second(7)))
            .keepalive_reserve(1);
        venue.limits = VenueLimits::default().connections(Some(Rate::per_second(8)));
        venue.standing = &["heartbeats"];
        venue
    }
}
