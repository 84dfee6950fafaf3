//! Bybit v5: `{"req_id":"1","op":"subscribe","args":[…]}` answered
//! `{"success":true,"ret_msg":"","conn_id":…,"req_id":"1","op":"subscribe"}`,
//! or `"success":false` with the reason in `ret_msg`.

use hypersockets_core::{SubscriptionAcks, SubscriptionAnswer, WsMessage};
use serde_json::Value;

use super::{key_of, object};

/// Bybit's answers, matched by the request's `req_id` (one answer for the
/// whole request; a refusal refuses all its topics, and a batch is then
/// split to find the refused one). A request without a `req_id` cannot be
/// matched: give requests one.
///
/// ```
/// use hypersockets::{BybitAcks, SubscriptionAcks, SubscriptionAnswer, WsMessage};
///
/// let request = WsMessage::text(r#"{"req_id":"3","op":"subscribe","args":["publicTrade.BTCUSDT"]}"#);
/// assert_eq!(BybitAcks.request_keys(&request), [r#""3""#]);
/// assert_eq!(
///     BybitAcks.answer(&WsMessage::text(
///         r#"{"success":false,"ret_msg":"error:handler not found,topic:x","conn_id":"c","req_id":"3","op":"subscribe"}"#
///     )),
///     SubscriptionAnswer::Rejected { key: r#""3""#.into(), reason: "error:handler not found,topic:x".into() }
/// );
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct BybitAcks;

impl SubscriptionAcks for BybitAcks {
    fn request_keys(&self, request: &WsMessage) -> Vec<String> {
        object(request)
            .and_then(|request| request.get("req_id").filter(|id| !id.is_null()).map(key_of))
            .into_iter()
            .collect()
    }

    fn answer(&self, message: &WsMessage) -> SubscriptionAnswer {
        let Some(text) = message.as_text() else {
            return SubscriptionAnswer::Unrelated;
        };
        if !text.contains("\"success\"") {
            return SubscriptionAnswer::Unrelated;
        }
        let Some(answer) = object(message) else {
            return SubscriptionAnswer::Unrelated;
        };
        if !matches!(
            answer.get("op").and_then(Value::as_str),
            Some("subscribe" | "unsubscribe")
        ) {
            return SubscriptionAnswer::Unrelated;
        }
        let Some(key) = answer.get("req_id").filter(|id| !id.is_null()).map(key_of) else {
            return SubscriptionAnswer::Unrelated;
        };
        match answer.get("success").and_then(Value::as_bool) {
            Some(true) => SubscriptionAnswer::Accepted { key },
            Some(false) => SubscriptionAnswer::Rejected {
                key,
                reason: answer
                    .get("ret_msg")
                    .and_then(Value::as_str)
                    .unwrap_or("refused")
                    .to_owned(),
            },
            None => SubscriptionAnswer::Unrelated,
        }
    }
}
