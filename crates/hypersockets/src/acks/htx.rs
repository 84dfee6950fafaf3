//! HTX (Huobi) market data: `{"sub":"market.btcusdt.trade.detail","id":"1"}`
//! answered `{"id":"1","status":"ok","subbed":…,"ts":…}`, or
//! `{"id":"1","status":"error","err-code":"bad-request","err-msg":"invalid topic …","ts":…}`.

use hypersockets_core::{SubscriptionAcks, SubscriptionAnswer, WsMessage};
use serde_json::Value;

use super::{key_of, object};

/// HTX's answers, matched by the request's `id`.
///
/// ```
/// use hypersockets::{HtxAcks, SubscriptionAcks, SubscriptionAnswer, WsMessage};
///
/// let request = WsMessage::text(r#"{"sub":"market.btcusdt.trade.detail","id":"5"}"#);
/// assert_eq!(HtxAcks.request_keys(&request), [r#""5""#]);
/// assert!(matches!(
///     HtxAcks.answer(&WsMessage::text(
///         r#"{"id":"5","status":"error","err-code":"bad-request","err-msg":"invalid topic","ts":1}"#
///     )),
///     SubscriptionAnswer::Rejected { .. }
/// ));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct HtxAcks;

impl SubscriptionAcks for HtxAcks {
    fn request_keys(&self, request: &WsMessage) -> Vec<String> {
        let Some(request) = object(request) else {
            return Vec::new();
        };
        if !request.contains_key("sub") {
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
        if !text.contains("\"status\"") {
            return SubscriptionAnswer::Unrelated;
        }
        let Some(answer) = object(message) else {
            return SubscriptionAnswer::Unrelated;
        };
        let Some(key) = answer.get("id").filter(|id| !id.is_null()).map(key_of) else {
            return SubscriptionAnswer::Unrelated;
        };
        let field = |name| answer.get(name).and_then(Value::as_str).unwrap_or("");
        match field("status") {
            "ok" if answer.contains_key("subbed") => SubscriptionAnswer::Accepted { key },
            "error" => SubscriptionAnswer::Rejected {
                key,
                reason: format!("{}: {}", field("err-code"), field("err-msg")),
            },
            _ => SubscriptionAnswer::Unrelated,
        }
    }
}
