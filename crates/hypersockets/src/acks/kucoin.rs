//! KuCoin: `{"id":"1","type":"subscribe","topic":"/market/ticker:BTC-USDT,ETH-USDT","response":true}`
//! answered `{"id":"1","type":"ack"}`, or
//! `{"id":"1","type":"error","code":404,"data":"topic /market/x is not found"}`.

use hypersockets_core::{SubscriptionAcks, SubscriptionAnswer, WsMessage};
use serde_json::Value;

use super::{key_of, object};

/// KuCoin's answers, matched by the request's `id` (one answer for the
/// whole request; a refusal refuses all its topics, and a batch is then
/// split to find the refused one). A request asks for an answer only with
/// `"response":true`.
///
/// ```
/// use hypersockets::{KucoinAcks, SubscriptionAcks, SubscriptionAnswer, WsMessage};
///
/// let request = WsMessage::text(
///     r#"{"id":"2","type":"subscribe","topic":"/market/ticker:BTC-USDT","privateChannel":false,"response":true}"#,
/// );
/// assert_eq!(KucoinAcks.request_keys(&request), [r#""2""#]);
/// assert_eq!(
///     KucoinAcks.answer(&WsMessage::text(r#"{"id":"2","type":"ack"}"#)),
///     SubscriptionAnswer::Accepted { key: r#""2""#.into() }
/// );
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct KucoinAcks;

impl SubscriptionAcks for KucoinAcks {
    fn request_keys(&self, request: &WsMessage) -> Vec<String> {
        let Some(request) = object(request) else {
            return Vec::new();
        };
        if request.get("type").and_then(Value::as_str) != Some("subscribe")
            || request.get("response").and_then(Value::as_bool) != Some(true)
        {
            return Vec::new();
        }
        request
            .get("id")
            .filter(|id| !id.is_null())
            .map(key_of)
            .into_iter()
            .collect()
    }

    fn answer(&self, message: &WsMessage) -> SubscriptionAnswer {
        let Some(text) = message.as_text() else {
            return SubscriptionAnswer::Unrelated;
        };
        if text.contains(r#""type":"message""#) {
            return SubscriptionAnswer::Unrelated;
        }
        let Some(answer) = object(message) else {
            return SubscriptionAnswer::Unrelated;
        };
        let Some(key) = answer.get("id").filter(|id| !id.is_null()).map(key_of) else {
            return SubscriptionAnswer::Unrelated;
        };
        match answer.get("type").and_then(Value::as_str) {
            Some("ack") => SubscriptionAnswer::Accepted { key },
            Some("error") => {
                let data = match answer.get("data") {
                    Some(Value::String(data)) => data.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                let code = answer.get("code").map(Value::to_string).unwrap_or_default();
                SubscriptionAnswer::Rejected {
                    key,
                    reason: format!("code {code}: {data}"),
                }
            }
            _ => SubscriptionAnswer::Unrelated,
        }
    }
}
