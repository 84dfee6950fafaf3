//! Coinbase Advanced Trade: one channel per request; every request is
//! answered with the connection's whole subscription list.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Context, Item, Push, Refusal, Request, Trade, json_str, rfc3339, split};

const TIME: &str = "2023-11-14T22:13:20.000000Z";

pub(super) fn parse(value: &Value) -> Request {
    let kind = value.get("type").and_then(Value::as_str);
    let Some(kind @ ("subscribe" | "unsubscribe")) = kind else {
        return Request::Invalid {
            id: Value::Null,
            reason: "type must be subscribe or unsubscribe".to_owned(),
        };
    };
    let Some(channel) = value.get("channel").and_then(Value::as_str) else {
        return Request::Invalid {
            id: Value::Null,
            reason: "channel is required".to_owned(),
        };
    };
    let items = match value.get("product_ids") {
        None => Some(vec![Item::named(channel, Value::Null)]),
        Some(Value::Array(products)) if products.is_empty() => {
            Some(vec![Item::named(channel, Value::Null)])
        }
        Some(Value::Array(products)) => products
            .iter()
            .map(|p| {
                p.as_str()
                    .map(|product| Item::named(format!("{channel}:{product}"), p.clone()))
            })
            .collect(),
        Some(_) => None,
    };
    match items {
        Some(items) if kind == "subscribe" => Request::Subscribe {
            id: Value::Null,
            items,
        },
        Some(items) => Request::Unsubscribe {
            id: Value::Null,
            items,
        },
        None => Request::Invalid {
            id: Value::Null,
            reason: "product_ids must be an array of strings".to_owned(),
        },
    }
}

/// The `subscriptions` message: every active stream, by channel.
pub(super) fn subscriptions(cx: Context<'_>) -> String {
    let mut by_channel: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for stream in cx.active {
        let (channel, product) = split(stream);
        by_channel
            .entry(channel)
            .or_default()
            .push(product.unwrap_or(channel));
    }
    let subscriptions = serde_json::to_string(&by_channel).unwrap_or_else(|_| "{}".to_owned());
    format!(
        r#"{{"channel":"subscriptions","client_id":"","timestamp":"{TIME}","sequence_num":0,"events":[{{"subscriptions":{subscriptions}}}]}}"#
    )
}

fn error(message: &str) -> String {
    format!(r#"{{"type":"error","message":{}}}"#, json_str(message))
}

pub(super) fn refusal(item: &Item, refusal: Refusal) -> String {
    if refusal == Refusal::LoginRequired {
        // The subscribe's JWT was missing, invalid or expired.
        return error("authentication failure");
    }
    error(&format!(
        "Failed to subscribe: unknown product or channel {}",
        item.stream
    ))
}

pub(super) fn invalid(reason: &str) -> String {
    error(reason)
}

/// An item of a `market_trades` event's `trades`.
pub(super) fn trade(trade: &Trade<'_>) -> String {
    format!(
        r#"{{"trade_id":"{}","product_id":{},"price":"{}","size":"{}","side":"{}","time":"{}"}}"#,
        trade.seq,
        json_str(trade.symbol),
        trade.price,
        trade.quantity,
        if trade.sell { "SELL" } else { "BUY" },
        rfc3339(trade.time)
    )
}

/// `{"channel":…,"events":[{"type":"update","product_id":…,…}],…}`, or for
/// trades `{"channel":"market_trades","events":[{"type":"update","trades":[{…}]}],…}`.
pub(super) fn push(push: Push<'_>) -> String {
    let (channel, product) = split(push.name);
    let wire = if channel == "level2" {
        "l2_data"
    } else {
        channel
    };
    let event = if push.trade {
        // Each trade names its product.
        format!(r#"{{"type":"update","trades":[{}]}}"#, push.data)
    } else {
        let product = product
            .map(|p| format!(r#","product_id":{}"#, json_str(p)))
            .unwrap_or_default();
        format!(r#"{{"type":"update"{product},"data":{}}}"#, push.data)
    };
    format!(
        r#"{{"channel":{},"client_id":"","timestamp":"{TIME}","sequence_num":{},"conn":{},"seq":{},"events":[{event}]}}"#,
        json_str(wire),
        push.seq,
        push.conn,
        push.seq,
    )
}
