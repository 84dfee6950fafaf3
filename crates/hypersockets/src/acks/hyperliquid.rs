//! Hyperliquid: `{"method":"subscribe","subscription":{"type":"trades","coin":"BTC"}}`
//! answered `{"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":{…}}}`.

use hypersockets_core::{SubscriptionAcks, SubscriptionAnswer, WsMessage};
use serde_json::Value;

use super::{key_of, object};

/// Hyperliquid's answers, matched by the subscription object they echo.
/// Errors (`{"channel":"error","data":"…"}`) name their subscription only
/// in free text and cannot be matched: their request times out.
///
/// ```
/// use hypersockets::{HyperliquidAcks, SubscriptionAcks, SubscriptionAnswer, WsMessage};
///
/// let request = WsMessage::text(r#"{"method":"subscribe","subscription":{"type":"trades","coin":"BTC"}}"#);
/// let keys = HyperliquidAcks.request_keys(&request);
/// let answer = WsMessage::text(
///     r#"{"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":{"coin":"BTC","type":"trades"}}}"#,
/// );
/// assert_eq!(HyperliquidAcks.answer(&answer), SubscriptionAnswer::Accepted { key: keys[0].clone() });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct HyperliquidAcks;

impl SubscriptionAcks for HyperliquidAcks {
    fn request_keys(&self, request: &WsMessage) -> Vec<String> {
        let Some(request) = object(request) else {
            return Vec::new();
        };
        if request.get("method").and_then(Value::as_str) != Some("subscribe") {
            return Vec::new();
        }
        request
            .get("subscription")
            .map(key_of)
            .into_iter()
            .collect()
    }

    fn answer(&self, message: &WsMessage) -> SubscriptionAnswer {
        let Some(text) = message.as_text() else {
            return SubscriptionAnswer::Unrelated;
        };
        if !text.contains("subscriptionResponse") {
            return SubscriptionAnswer::Unrelated;
        }
        let Some(answer) = object(message) else {
            return SubscriptionAnswer::Unrelated;
        };
        if answer.get("channel").and_then(Value::as_str) != Some("subscriptionResponse") {
            return SubscriptionAnswer::Unrelated;
        }
        let data = answer.get("data");
        match (
            data.and_then(|d| d.get("method")).and_then(Value::as_str),
            data.and_then(|d| d.get("subscription")),
        ) {
            (Some("subscribe"), Some(subscription)) => SubscriptionAnswer::Accepted {
                key: key_of(subscription),
            },
            _ => SubscriptionAnswer::Unrelated,
        }
    }
}
