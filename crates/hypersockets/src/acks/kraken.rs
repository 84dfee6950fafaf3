//! Kraken v2: `{"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD"]},"req_id":1}`
//! answered once per symbol, `{"method":"subscribe","req_id":1,"result":{"channel":"trade","symbol":"BTC/USD",…},"success":true,…}`,
//! or `{"error":"…","method":"subscribe","req_id":1,"success":false,"symbol":"BTC/XYZ",…}`.

use hypersockets_core::{SubscriptionAcks, SubscriptionAnswer, WsMessage};
use serde_json::{Map, Value};

use super::{key_of, object};

/// Kraken's answers: each symbol of a request by `req_id` and symbol, a
/// request without symbols (or an error naming none) by `req_id` alone.
///
/// ```
/// use hypersockets::{KrakenAcks, SubscriptionAcks, SubscriptionAnswer, WsMessage};
///
/// let request = WsMessage::text(
///     r#"{"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD","ETH/USD"]},"req_id":4}"#,
/// );
/// assert_eq!(KrakenAcks.request_keys(&request), ["4 BTC/USD", "4 ETH/USD"]);
/// assert_eq!(
///     KrakenAcks.answer(&WsMessage::text(
///         r#"{"error":"Currency pair not supported","method":"subscribe","req_id":4,"success":false,"symbol":"ETH/USD"}"#
///     )),
///     SubscriptionAnswer::Rejected { key: "4 ETH/USD".into(), reason: "Currency pair not supported".into() }
/// );
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct KrakenAcks;

/// `req_id symbol`, or `req_id` without a symbol.
fn key(req_id: &Value, symbol: Option<&str>) -> String {
    match symbol {
        Some(symbol) => format!("{} {symbol}", key_of(req_id)),
        None => key_of(req_id),
    }
}

fn req_id(object: &Map<String, Value>) -> Option<&Value> {
    object.get("req_id").filter(|id| !id.is_null())
}

impl SubscriptionAcks for KrakenAcks {
    fn request_keys(&self, request: &WsMessage) -> Vec<String> {
        let Some(request) = object(request) else {
            return Vec::new();
        };
        let Some(id) = req_id(&request) else {
            return Vec::new();
        };
        match request.get("params").and_then(|p| p.get("symbol")) {
            Some(Value::Array(symbols)) => symbols
                .iter()
                .filter_map(Value::as_str)
                .map(|symbol| key(id, Some(symbol)))
                .collect(),
            _ => vec![key(id, None)],
        }
    }

    fn request_id(&self, request: &WsMessage) -> Option<String> {
        req_id(&object(request)?).map(|id| key(id, None))
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
            answer.get("method").and_then(Value::as_str),
            Some("subscribe" | "unsubscribe")
        ) {
            return SubscriptionAnswer::Unrelated;
        }
        let Some(id) = req_id(&answer) else {
            return SubscriptionAnswer::Unrelated;
        };
        match answer.get("success").and_then(Value::as_bool) {
            Some(true) => {
                let symbol = answer
                    .get("result")
                    .and_then(|r| r.get("symbol"))
                    .and_then(Value::as_str);
                SubscriptionAnswer::Accepted {
                    key: key(id, symbol),
                }
            }
            Some(false) => SubscriptionAnswer::Rejected {
                key: key(id, answer.get("symbol").and_then(Value::as_str)),
                reason: answer
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("refused")
                    .to_owned(),
            },
            None => SubscriptionAnswer::Unrelated,
        }
    }
}
