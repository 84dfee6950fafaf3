//! Coinbase Advanced Trade: `{"type":"subscribe","channel":"market_trades","product_ids":["BTC-USD"]}`
//! answered with the connection's whole subscription list,
//! `{"channel":"subscriptions","events":[{"subscriptions":{"market_trades":["BTC-USD"],…}}],…}`.

use hypersockets_core::{SubscriptionAcks, SubscriptionAnswer, WsMessage};
use serde_json::Value;

use super::object;

/// Coinbase Advanced Trade's answers: each product of a request is
/// accepted once the subscription list names it under the request's
/// channel (a channel without products, such as `heartbeats`, once the
/// list names the channel). Errors (`{"type":"error","message":…}`) name
/// no request and cannot be matched: their request times out.
///
/// ```
/// use hypersockets::{CoinbaseAcks, SubscriptionAcks, SubscriptionAnswer, WsMessage};
///
/// let request = WsMessage::text(r#"{"type":"subscribe","channel":"level2","product_ids":["BTC-USD"]}"#);
/// assert_eq!(CoinbaseAcks.request_keys(&request), ["level2:BTC-USD"]);
/// let list = WsMessage::text(
///     r#"{"channel":"subscriptions","events":[{"subscriptions":{"level2":["BTC-USD"],"heartbeats":["heartbeats"]}}]}"#,
/// );
/// assert_eq!(
///     CoinbaseAcks.answer(&list),
///     SubscriptionAnswer::AcceptedAll { keys: vec!["heartbeats".into(), "level2:BTC-USD".into()] }
/// );
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct CoinbaseAcks;

impl SubscriptionAcks for CoinbaseAcks {
    fn request_keys(&self, request: &WsMessage) -> Vec<String> {
        let Some(request) = object(request) else {
            return Vec::new();
        };
        if request.get("type").and_then(Value::as_str) != Some("subscribe") {
            return Vec::new();
        }
        let Some(channel) = request.get("channel").and_then(Value::as_str) else {
            return Vec::new();
        };
        match request.get("product_ids").and_then(Value::as_array) {
            Some(products) if !products.is_empty() => products
                .iter()
                .filter_map(Value::as_str)
                .map(|product| format!("{channel}:{product}"))
                .collect(),
            _ => vec![channel.to_owned()],
        }
    }

    fn answer(&self, message: &WsMessage) -> SubscriptionAnswer {
        let Some(text) = message.as_text() else {
            return SubscriptionAnswer::Unrelated;
        };
        if !text.contains(r#""subscriptions""#) {
            return SubscriptionAnswer::Unrelated;
        }
        let Some(answer) = object(message) else {
            return SubscriptionAnswer::Unrelated;
        };
        if answer.get("channel").and_then(Value::as_str) != Some("subscriptions") {
            return SubscriptionAnswer::Unrelated;
        }
        let mut keys = Vec::new();
        let events = answer.get("events").and_then(Value::as_array);
        for event in events.into_iter().flatten() {
            let Some(Value::Object(channels)) = event.get("subscriptions") else {
                continue;
            };
            for (channel, products) in channels {
                let products: Vec<&str> = products
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                // A channel without products is listed bare, or as itself.
                if products.is_empty() || products.contains(&channel.as_str()) {
                    keys.push(channel.clone());
                }
                keys.extend(
                    products
                        .iter()
                        .filter(|product| **product != channel)
                        .map(|product| format!("{channel}:{product}")),
                );
            }
        }
        SubscriptionAnswer::AcceptedAll { keys }
    }
}
