//! KuCoin: `subscribe` / `unsubscribe` by id, a topic prefix with
//! comma-separated symbols; `ack` or `error` when asked for a response.

use serde_json::Value;

use super::{Context, Item, Push, Request, Trade, json_str, split};

pub(super) fn parse(value: &Value) -> Request {
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    let kind = value.get("type").and_then(Value::as_str);
    match kind {
        Some("ping") => Request::Ping {
            reply: format!(r#"{{"id":{id},"type":"pong","timestamp":1700000000000000}}"#),
        },
        Some(kind @ ("subscribe" | "unsubscribe")) => {
            // Answered only when asked: `"response":true`.
            let id = if value.get("response").and_then(Value::as_bool) == Some(true) {
                id
            } else {
                Value::Null
            };
            let Some(topic) = value.get("topic").and_then(Value::as_str) else {
                return Request::Invalid {
                    id,
                    reason: "topic is required".to_owned(),
                };
            };
            let items = match split(topic) {
                (prefix, Some(symbols)) => symbols
                    .split(',')
                    .map(|symbol| Item::named(format!("{prefix}:{symbol}"), Value::Null))
                    .collect(),
                (prefix, None) => vec![Item::named(prefix, Value::Null)],
            };
            if kind == "subscribe" {
                Request::Subscribe { id, items }
            } else {
                Request::Unsubscribe { id, items }
            }
        }
        _ => Request::Invalid {
            id,
            reason: "unknown type".to_owned(),
        },
    }
}

pub(super) fn welcome(cx: Context<'_>) -> String {
    format!(r#"{{"id":{},"type":"welcome"}}"#, json_str(cx.conn))
}

pub(super) fn ack(id: &Value) -> String {
    format!(r#"{{"id":{id},"type":"ack"}}"#)
}

fn error(id: &Value, code: u32, data: &str) -> String {
    format!(
        r#"{{"id":{id},"type":"error","code":{code},"data":{}}}"#,
        json_str(data)
    )
}

pub(super) fn refusal(id: &Value, item: &Item) -> String {
    error(id, 404, &format!("topic {} is not found", item.stream))
}

pub(super) fn invalid(id: &Value, reason: &str) -> String {
    error(id, 400, reason)
}

/// The `data` of a `/market/match:<SYMBOL>` push: numbers as strings,
/// the time in nanoseconds.
pub(super) fn trade(trade: &Trade<'_>) -> String {
    format!(
        r#"{{"sequence":"{seq}","type":"match","symbol":{},"side":"{}","price":"{}","size":"{}","tradeId":"{seq}","time":"{}"}}"#,
        json_str(trade.symbol),
        if trade.sell { "sell" } else { "buy" },
        trade.price,
        trade.quantity,
        u128::from(trade.time) * 1_000_000,
        seq = trade.seq,
    )
}

/// `{"type":"message","topic":…,"subject":…,"data":{…}}`: subject
/// `trade.l3match` for trades, else `trade.ticker`.
pub(super) fn push(push: Push<'_>) -> String {
    let subject = if push.trade {
        "trade.l3match"
    } else {
        "trade.ticker"
    };
    format!(
        r#"{{"type":"message","topic":{},"subject":"{subject}","conn":{},"seq":{},"data":{}}}"#,
        json_str(push.name),
        push.conn,
        push.seq,
        push.data
    )
}
