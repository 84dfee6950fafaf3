//! Binance's stream subscriptions: `{"method":"SUBSCRIBE","params":[…],"id":1}`
//! answered `{"result":null,"id":1}`, or with an error
//! `{"error":{"code":2,"msg":"…"},"id":1}` (the documented shape
//! `{"code":2,"msg":"…","id":1}` is read too).

use hypersockets_core::{SubscriptionAcks, SubscriptionAnswer, WsMessage};
use serde_json::Value;

use super::{key_of, object};

/// Binance's (spot and futures market streams) answers, matched by the
/// request's `id`. A request without an `id` expects no answer. Errors
/// Binance sends without an `id` (invalid JSON) cannot be matched: their
/// request times out and is sent again.
///
/// ```
/// use hypersockets::{BinanceAcks, SubscriptionAcks, SubscriptionAnswer, WsMessage};
///
/// let request = WsMessage::text(r#"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":7}"#);
/// assert_eq!(BinanceAcks.request_keys(&request), ["7"]);
/// assert_eq!(
///     BinanceAcks.answer(&WsMessage::text(r#"{"result":null,"id":7}"#)),
///     SubscriptionAnswer::Accepted { key: "7".into() }
/// );
/// assert!(matches!(
///     BinanceAcks.answer(&WsMessage::text(r#"{"error":{"code":2,"msg":"Invalid request"},"id":7}"#)),
///     SubscriptionAnswer::Rejected { .. }
/// ));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct BinanceAcks;

impl SubscriptionAcks for BinanceAcks {
    fn request_keys(&self, request: &WsMessage) -> Vec<String> {
        object(request)
            .and_then(|request| request.get("id").filter(|id| !id.is_null()).map(key_of))
            .into_iter()
            .collect()
    }

    fn answer(&self, message: &WsMessage) -> SubscriptionAnswer {
        // Market data never starts with an id-carrying answer's keys; a
        // cheap look first keeps the parse off the feed.
        let Some(text) = message.as_text() else {
            return SubscriptionAnswer::Unrelated;
        };
        if !text.contains("\"id\"") {
            return SubscriptionAnswer::Unrelated;
        }
        let Some(answer) = object(message) else {
            return SubscriptionAnswer::Unrelated;
        };
        let Some(id) = answer.get("id").filter(|id| !id.is_null()) else {
            return SubscriptionAnswer::Unrelated;
        };
        let key = key_of(id);
        let error = answer
            .get("error")
            .or_else(|| answer.contains_key("code").then_some(&Value::Null));
        match error {
            Some(Value::Object(error)) => SubscriptionAnswer::Rejected {
                key,
                reason: reason(error.get("code"), error.get("msg")),
            },
            Some(_) => SubscriptionAnswer::Rejected {
                key,
                reason: reason(answer.get("code"), answer.get("msg")),
            },
            None if answer.contains_key("result") => SubscriptionAnswer::Accepted { key },
            None => SubscriptionAnswer::Unrelated,
        }
    }
}

/// `code N: msg`, from what the answer has of them.
fn reason(code: Option<&Value>, msg: Option<&Value>) -> String {
    let msg = msg.and_then(Value::as_str).unwrap_or("refused");
    match code {
        Some(code) => format!("code {code}: {msg}"),
        None => msg.to_owned(),
    }
}
