//! Hyperliquid: one subscription object per request.

use serde_json::Value;

use super::{Item, Push, Request, Trade, json_str, split, with_first};

/// The stream name of a subscription object: `type:coin`, or `type`.
fn stream(subscription: &Value) -> Option<String> {
    let kind = subscription.get("type")?.as_str()?;
    Some(match subscription.get("coin").and_then(Value::as_str) {
        Some(coin) => format!("{kind}:{coin}"),
        None => kind.to_owned(),
    })
}

pub(super) fn parse(value: &Value) -> Request {
    let method = value.get("method").and_then(Value::as_str);
    match method {
        Some("ping") => Request::Ping {
            reply: r#"{"channel":"pong"}"#.to_owned(),
        },
        Some(method @ ("subscribe" | "unsubscribe")) => {
            let subscription = value.get("subscription").cloned().unwrap_or(Value::Null);
            let Some(name) = stream(&subscription) else {
                return Request::Invalid {
                    id: Value::Null,
                    reason: "subscription.type is required".to_owned(),
                };
            };
            let items = vec![Item::named(name, subscription)];
            if method == "subscribe" {
                Request::Subscribe {
                    id: Value::Null,
                    items,
                }
            } else {
                Request::Unsubscribe {
                    id: Value::Null,
                    items,
                }
            }
        }
        _ => Request::Invalid {
            id: Value::Null,
            reason: "unknown method".to_owned(),
        },
    }
}

pub(super) fn acks(subscribe: bool, items: &[Item]) -> Vec<String> {
    let method = if subscribe {
        "subscribe"
    } else {
        "unsubscribe"
    };
    items
        .iter()
        .map(|item| {
            format!(
                r#"{{"channel":"subscriptionResponse","data":{{"method":"{method}","subscription":{}}}}}"#,
                item.arg
            )
        })
        .collect()
}

fn error(message: &str) -> String {
    format!(r#"{{"channel":"error","data":{}}}"#, json_str(message))
}

pub(super) fn refusal(item: &Item) -> String {
    error(&format!("Invalid subscription: {}", item.arg))
}

pub(super) fn invalid(reason: &str) -> String {
    error(&format!("Invalid request: {reason}"))
}

/// An item of the `trades` channel's `data`: `side` `B` (the taker
/// bought) or `A`, a transaction hash derived from the trade id.
pub(super) fn trade(trade: &Trade<'_>) -> String {
    format!(
        r#"{{"coin":{},"side":"{}","px":"{}","sz":"{}","hash":"0x{:064x}","time":{},"tid":{}}}"#,
        json_str(trade.symbol),
        if trade.sell { "A" } else { "B" },
        trade.price,
        trade.quantity,
        trade.seq,
        trade.time,
        trade.seq
    )
}

/// `{"channel":"trades","data":[{"coin":"BTC",…}]}` for trades, else
/// `{"channel":…,"data":{"coin":"BTC",…}}`.
pub(super) fn push(push: Push<'_>) -> String {
    let (channel, coin) = split(push.name);
    let data = match coin {
        _ if push.trade => format!("[{}]", push.data),
        Some(coin) => with_first(push.data, "coin", &json_str(coin)),
        None => push.data.to_owned(),
    };
    format!(
        r#"{{"channel":{},"conn":{},"seq":{},"data":{data}}}"#,
        json_str(channel),
        push.conn,
        push.seq
    )
}
