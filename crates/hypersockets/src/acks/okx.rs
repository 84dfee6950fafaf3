//! OKX v5: `{"op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"}]}`
//! answered once per argument `{"event":"subscribe","arg":{…},"connId":…}`,
//! or `{"event":"error","code":"60018","msg":"…","connId":…}`; an `"id"`
//! in the request is echoed in every answer.

use hypersockets_core::{SubscriptionAcks, SubscriptionAnswer, WsMessage};
use serde_json::Value;

use super::{key_of, object};

/// OKX's answers. A request with an `"id"` is matched by it (one answer
/// is enough, and errors name it); without one, by each argument echoed
/// in `"arg"`, and an error (which names no argument) cannot be matched:
/// that request times out. Give requests an `"id"`.
///
/// ```
/// use hypersockets::{OkxAcks, SubscriptionAcks, SubscriptionAnswer, WsMessage};
///
/// let request = WsMessage::text(
///     r#"{"id":"9","op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"}]}"#,
/// );
/// assert_eq!(OkxAcks.request_keys(&request), [r#""9""#]);
/// assert!(matches!(
///     OkxAcks.answer(&WsMessage::text(
///         r#"{"id":"9","event":"error","code":"60018","msg":"Wrong URL or channel","connId":"a"}"#
///     )),
///     SubscriptionAnswer::Rejected { .. }
/// ));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct OkxAcks;

impl SubscriptionAcks for OkxAcks {
    fn request_keys(&self, request: &WsMessage) -> Vec<String> {
        let Some(request) = object(request) else {
            return Vec::new();
        };
        if let Some(id) = request.get("id").filter(|id| !id.is_null()) {
            return vec![key_of(id)];
        }
        match request.get("args") {
            Some(Value::Array(args)) => args.iter().map(key_of).collect(),
            _ => Vec::new(),
        }
    }

    fn answer(&self, message: &WsMessage) -> SubscriptionAnswer {
        let Some(text) = message.as_text() else {
            return SubscriptionAnswer::Unrelated;
        };
        if !text.contains("\"event\"") {
            return SubscriptionAnswer::Unrelated;
        }
        let Some(answer) = object(message) else {
            return SubscriptionAnswer::Unrelated;
        };
        let key = match (
            answer.get("id").filter(|id| !id.is_null()),
            answer.get("arg"),
        ) {
            (Some(id), _) => key_of(id),
            (None, Some(arg)) => key_of(arg),
            (None, None) => return SubscriptionAnswer::Unrelated,
        };
        match answer.get("event").and_then(Value::as_str) {
            Some("subscribe" | "unsubscribe") => SubscriptionAnswer::Accepted { key },
            Some("error") => {
                let field = |name| answer.get(name).and_then(Value::as_str).unwrap_or("");
                SubscriptionAnswer::Rejected {
                    key,
                    reason: format!("code {}: {}", field("code"), field("msg")),
                }
            }
            _ => SubscriptionAnswer::Unrelated,
        }
    }
}
