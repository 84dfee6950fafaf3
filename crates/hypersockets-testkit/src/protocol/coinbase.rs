//! Coinbase Advanced Trade: one channel per request; every request is
//! answered with the connection's whole subscription list.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Context, Item, Push, Request, json_str, split};

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

pub(super) fn refusal(item: &Item) -> String {
    error(&format!(
        "Failed to subscribe: unknown product or channel {}",
        item.stream
    ))
}

pub(super) fn invalid(reason: &str) -> String {
    error(reason)
}

/// `{"channel":…,"events":[{"type":"update","product_id":…,…}],…}`.
pub(super) fn push(push: Push<'_>) -> String {
    let (channel, product) = split(push.name);
    let wire = if channel == "level2" {
        "l2_data"
    } else {
        channel
    };
    let product = product
        .map(|p| format!(r#","product_id":{}"#, json_str(p)))
        .unwrap_or_default();
    format!(
        r#"{{"channel":{},"client_id":"","timestamp":"{TIME}","sequence_num":{},"conn":{},"seq":{},"events":[{{"type":"update"{product},"data":{}}}]}}"#,
        json_str(wire),
        push.seq,
        push.conn,
        push.seq,
        push.data
    )
}
