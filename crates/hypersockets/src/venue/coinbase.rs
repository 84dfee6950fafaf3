//! Coinbase Advanced Trade market data.

use std::time::Duration;

use hypersockets_core::{StreamSequence, TopicRequests, WsMessage};
use hypersockets_router::peek_json_str;

use super::{Number, Venue, VenueLimits, find_str, json_list, json_str, max_number};
use crate::{CoinbaseAcks, CoinbaseJwt, Pacing, Rate};

/// Coinbase's requests: one channel, many products,
/// `{"type":"subscribe","channel":"level2","product_ids":["BTC-USD",…]}`,
/// with a fresh `"jwt"` in each when tokens are signed.
#[derive(Clone, Debug, Default)]
struct CoinbaseTopics {
    jwt: Option<CoinbaseJwt>,
}

impl TopicRequests for CoinbaseTopics {
    fn max_topics(&self) -> usize {
        // The documentation gives no cap on a request's products.
        100
    }

    fn batches_with(&self, first: &str, topic: &str) -> bool {
        super::same_channel(first, topic)
    }

    fn subscribe(&self, topics: &[&str], _id: u64) -> WsMessage {
        self.request("subscribe", topics)
    }

    fn unsubscribe(&self, topics: &[&str], _id: u64) -> Option<WsMessage> {
        Some(self.request("unsubscribe", topics))
    }
}

impl CoinbaseTopics {
    fn request(&self, kind: &str, topics: &[&str]) -> WsMessage {
        let (channel, _) = super::channel_of(topics.first().copied().unwrap_or_default());
        let products: Vec<&str> = topics
            .iter()
            .filter_map(|t| super::channel_of(t).1)
            .collect();
        let products = if products.is_empty() {
            String::new()
        } else {
            format!(r#","product_ids":{}"#, json_list(&products))
        };
        // Signed per request: each token lives two minutes.
        let jwt = match self.jwt.as_ref().map(CoinbaseJwt::token) {
            Some(Ok(token)) => format!(r#","jwt":{}"#, json_str(&token)),
            Some(Err(error)) => {
                // No panic on the connection task: the venue refuses the
                // request, which the user hears of.
                tracing::warn!(%error, channel, "no Coinbase JWT; request sent without one");
                String::new()
            }
            None => String::new(),
        };
        WsMessage::text(format!(
            r#"{{"type":"{kind}","channel":{}{products}{jwt}}}"#,
            json_str(channel),
        ))
    }
}

/// A push, `{"channel":"market_trades","events":[{"trades":[{"product_id":"BTC-USD",…}]}],…}`;
/// `level2` arrives as channel `l2_data`.
fn topic_parts(text: &str) -> Option<(&str, Option<&str>)> {
    let channel = match peek_json_str(text, &["channel"])? {
        "subscriptions" => return None,
        "l2_data" => "level2",
        channel => channel,
    };
    Some((channel, find_str(text, "product_id")))
}

fn topic_of(message: &WsMessage) -> Option<String> {
    super::topic(message, topic_parts)
}

/// Market trades by their largest `trade_id`. (`sequence_num` counts
/// a connection's messages, not a stream's: it cannot match two
/// connections.)
fn sequence_of(message: &WsMessage) -> Option<StreamSequence> {
    super::numbered(message, topic_parts, |text, _| {
        max_number(text, "trade_id").map(Number::at)
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
    /// Authenticated channels (`user`, `futures_balance_summary`) need a
    /// JWT in each request: see [`Venue::coinbase_user`].
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
            CoinbaseTopics::default(),
            CoinbaseAcks,
            topic_of,
            sequence_of,
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

    /// Coinbase Advanced Trade's user order data,
    /// `wss://advanced-trade-ws-user.coinbase.com`, every subscribe and
    /// unsubscribe request carrying a fresh token of `jwt` in its `"jwt"`
    /// member: what the authenticated channels need (`user`, with or
    /// without products, `user:BTC-USD`; `futures_balance_summary`).
    ///
    /// Otherwise as [`Venue::coinbase`]: the same topics, answers,
    /// `heartbeats`, pacing and limits. Coinbase advises the market data
    /// endpoint as this one's failover: `.url("wss://advanced-trade-ws.coinbase.com")`
    /// keeps the tokens. A request sent again after going unanswered
    /// carries the same token: it lasts two minutes, longer than the
    /// default subscribe timeout's retries. A token that cannot be made
    /// (the clock or the random source failed) leaves its request without
    /// one, for the venue to refuse, and is logged; nothing panics.
    /// Coinbase's refusal (`{"type":"error","message":…}`) names no
    /// request, so a refused subscription times out
    /// ([`ClientEvent::SubscriptionTimedOut`](crate::ClientEvent::SubscriptionTimedOut)).
    ///
    /// ```
    /// # fn main() -> Result<(), hypersockets::HyperSocketError> {
    /// use hypersockets::prelude::*;
    /// use hypersockets::{CoinbaseJwt, Subscription, Venue};
    ///
    /// # let pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIMooArC0ArYnhff5VfiqxlsHLAx4n9ZX2p6SX+M3lGQxoAoGCCqGSM49\nAwEHoUQDQgAERVGrl8v/9XVMjn5EccjkF+GlVqJFICgEc9YrVNHUI33P98ZYxqVG\n85Wzqr6f9rNLs15uX3vc6muZngc13pkKuA==\n-----END EC PRIVATE KEY-----\n";
    /// let jwt = CoinbaseJwt::from_pem("organizations/{org_id}/apiKeys/{key_id}", pem)?;
    /// let venue = Venue::coinbase_user(jwt);
    /// let request = venue.subscribe_request(&["user"], 1);
    /// assert!(request.as_text().unwrap().starts_with(r#"{"type":"subscribe","channel":"user","jwt":"ey"#));
    /// let client = WebSocketClient::builder()
    ///     .venue(venue)
    ///     .router(PassThrough)
    ///     .subscribe(Subscription::topic("user"))
    ///     .build()?;
    /// # drop(client);
    /// # Ok(())
    /// # }
    /// ```
    pub fn coinbase_user(jwt: CoinbaseJwt) -> Self {
        let mut venue = Venue::coinbase().url("wss://advanced-trade-ws-user.coinbase.com");
        venue.name = "coinbase-user";
        venue.topics = std::sync::Arc::new(CoinbaseTopics { jwt: Some(jwt) });
        venue
    }
}

#[cfg(test)]
mod tests {
    use hypersockets_core::SubscriptionAcks;

    use super::*;

    const PEM: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIMooArC0ArYnhff5VfiqxlsHLAx4n9ZX2p6SX+M3lGQxoAoGCCqGSM49
AwEHoUQDQgAERVGrl8v/9XVMjn5EccjkF+GlVqJFICgEc9YrVNHUI33P98ZYxqVG
85Wzqr6f9rNLs15uX3vc6muZngc13pkKuA==
-----END EC PRIVATE KEY-----
";

    fn value(message: &WsMessage) -> serde_json::Value {
        serde_json::from_str(message.as_text().unwrap()).unwrap()
    }

    #[test]
    fn without_a_jwt_requests_carry_none() {
        let request = Venue::coinbase().subscribe_request(&["level2:BTC-USD", "level2:ETH-USD"], 1);
        assert_eq!(
            request,
            WsMessage::text(
                r#"{"type":"subscribe","channel":"level2","product_ids":["BTC-USD","ETH-USD"]}"#
            )
        );
    }

    #[test]
    fn every_request_carries_a_fresh_jwt() {
        let jwt = CoinbaseJwt::from_pem("organizations/o/apiKeys/k", PEM).unwrap();
        let venue = Venue::coinbase_user(jwt);
        assert_eq!(venue.name(), "coinbase-user");
        assert_eq!(
            venue.endpoint(),
            "wss://advanced-trade-ws-user.coinbase.com"
        );
        let first = value(&venue.subscribe_request(&["user:BTC-USD"], 1));
        let second = value(&venue.subscribe_request(&["user:BTC-USD"], 2));
        assert_eq!(first["channel"], "user");
        assert_eq!(first["product_ids"][0], "BTC-USD");
        let token = first["jwt"].as_str().unwrap();
        assert_eq!(token.split('.').count(), 3);
        assert_ne!(first["jwt"], second["jwt"], "a nonce per token");
        let bare = value(&venue.subscribe_request(&["user"], 3));
        assert!(bare.get("product_ids").is_none());
        assert!(bare["jwt"].is_string());
        // The answers are read as for the public endpoint.
        let request = venue.subscribe_request(&["user"], 4);
        assert_eq!(CoinbaseAcks.request_keys(&request), ["user"]);
    }
}
