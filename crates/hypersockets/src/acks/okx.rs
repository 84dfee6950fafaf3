//! OKX v5: `{"op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"}]}`
//! answered once per argument `{"event":"subscribe","arg":{…},"connId":…}`,
//! or `{"event":"error","code":"60018","msg":"…","connId":…}`; an `"id"`
//! in the request is echoed in every answer.

use hypersockets_core::{SubscriptionAcks, SubscriptionAnswer, WsMessage};
use serde_json::Value;

use super::{key_of, object};

/// OKX's answers. Each argument of a request is accepted by an answer
/// echoing it in `"arg"`; errors name no argument, only the request's
/// `"id"` (the [`request_id`](SubscriptionAcks::request_id)), so an error
/// refuses the whole request (a batch is then split to learn which
/// argument was refused). Without an `"id"`, an error cannot be matched
/// and its request times out: give requests an `"id"`.
///
/// ```
/// use hypersockets::{OkxAcks, SubscriptionAcks, SubscriptionAnswer, WsMessage};
///
/// let request = WsMessage::text(
///     r#"{"id":"9","op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"}]}"#,
/// );
/// assert_eq!(OkxAcks.request_keys(&request), [r#"{"channel":"trades","instId":"BTC-USDT"}"#]);
/// assert_eq!(OkxAcks.request_id(&request).as_deref(), Some(r#""9""#));
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
        match object(request).and_then(|mut request| request.remove("args")) {
            Some(Value::Array(args)) => args.iter().map(key_of).collect(),
            _ => Vec::new(),
        }
    }

    fn request_id(&self, request: &WsMessage) -> Option<String> {
        object(request)?
            .get("id")
            .filter(|id| !id.is_null())
            .map(key_of)
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
        let id = answer.get("id").filter(|id| !id.is_null());
        match answer.get("event").and_then(Value::as_str) {
            Some("subscribe" | "unsubscribe") => match answer.get("arg").or(id) {
                Some(key) => SubscriptionAnswer::Accepted { key: key_of(key) },
                None => SubscriptionAnswer::Unrelated,
            },
            Some("error") => match id.or_else(|| answer.get("arg")) {
                Some(key) => {
                    let field = |name| answer.get(name).and_then(Value::as_str).unwrap_or("");
                    SubscriptionAnswer::Rejected {
                        key: key_of(key),
                        reason: format!("code {}: {}", field("code"), field("msg")),
                    }
                }
                None => SubscriptionAnswer::Unrelated,
            },
            _ => SubscriptionAnswer::Unrelated,
        }
    }
}
