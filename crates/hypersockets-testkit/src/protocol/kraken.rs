//! Kraken v2: `method` requests for one channel and many symbols, each
//! symbol answered on its own.

use serde_json::Value;

use super::{Item, Push, Request, Trade, json_str, rfc3339, split, with_first};

/// Kraken's times are RFC 3339; the mock's are fixed.
const TIME: &str = "2023-11-14T22:13:20.000000Z";

fn id_of(value: &Value) -> Value {
    value.get("req_id").cloned().unwrap_or(Value::Null)
}

/// `,"req_id":N` when the request had one.
fn echo_id(id: &Value) -> String {
    if id.is_null() {
        String::new()
    } else {
        format!(r#","req_id":{id}"#)
    }
}

pub(super) fn parse(value: &Value) -> Request {
    let id = id_of(value);
    let method = value.get("method").and_then(Value::as_str);
    match method {
        Some("ping") => Request::Ping {
            reply: format!(
                r#"{{"method":"pong"{},"time_in":"{TIME}","time_out":"{TIME}"}}"#,
                echo_id(&id)
            ),
        },
        Some(method @ ("subscribe" | "unsubscribe")) => {
            let params = value.get("params");
            let Some(channel) = params
                .and_then(|p| p.get("channel"))
                .and_then(Value::as_str)
            else {
                return Request::Invalid {
                    id,
                    reason: "params.channel is required".to_owned(),
                };
            };
            let items = match params.and_then(|p| p.get("symbol")) {
                None => Some(vec![Item::named(channel, Value::Null)]),
                Some(Value::Array(symbols)) => symbols
                    .iter()
                    .map(|s| {
                        s.as_str()
                            .map(|symbol| Item::named(format!("{channel}:{symbol}"), s.clone()))
                    })
                    .collect(),
                Some(_) => None,
            };
            match items {
                Some(items) if method == "subscribe" => Request::Subscribe { id, items },
                Some(items) => Request::Unsubscribe { id, items },
                None => Request::Invalid {
                    id,
                    reason: "params.symbol must be an array of strings".to_owned(),
                },
            }
        }
        Some(other) => Request::Invalid {
            id,
            reason: format!("unknown method '{other}'"),
        },
        None => Request::Invalid {
            id,
            reason: "missing method".to_owned(),
        },
    }
}

pub(super) fn acks(subscribe: bool, id: &Value, items: &[Item]) -> Vec<String> {
    let method = if subscribe {
        "subscribe"
    } else {
        "unsubscribe"
    };
    items
        .iter()
        .map(|item| {
            let (channel, symbol) = split(&item.stream);
            let symbol = symbol
                .map(|s| format!(r#","symbol":{}"#, json_str(s)))
                .unwrap_or_default();
            format!(
                r#"{{"method":"{method}"{},"result":{{"channel":{},"snapshot":true{symbol}}},"success":true,"time_in":"{TIME}","time_out":"{TIME}"}}"#,
                echo_id(id),
                json_str(channel)
            )
        })
        .collect()
}

pub(super) fn refusal(id: &Value, item: &Item) -> String {
    let (channel, symbol) = split(&item.stream);
    match symbol {
        Some(symbol) => format!(
            r#"{{"error":{},"method":"subscribe"{},"success":false,"symbol":{},"time_in":"{TIME}","time_out":"{TIME}"}}"#,
            json_str(&format!("Currency pair not supported {symbol}")),
            echo_id(id),
            json_str(symbol)
        ),
        None => format!(
            r#"{{"error":{},"method":"subscribe"{},"success":false,"time_in":"{TIME}","time_out":"{TIME}"}}"#,
            json_str(&format!("Channel {channel} not found")),
            echo_id(id)
        ),
    }
}

pub(super) fn invalid(id: &Value, reason: &str) -> String {
    format!(
        r#"{{"error":{}{},"success":false,"time_in":"{TIME}","time_out":"{TIME}"}}"#,
        json_str(reason),
        echo_id(id)
    )
}

/// An item of the `trade` channel's `data`: price and quantity as
/// numbers.
pub(super) fn trade(trade: &Trade<'_>) -> String {
    format!(
        r#"{{"symbol":{},"side":"{}","price":{},"qty":{},"ord_type":"market","trade_id":{},"timestamp":"{}"}}"#,
        json_str(trade.symbol),
        if trade.sell { "sell" } else { "buy" },
        trade.price,
        trade.quantity,
        trade.seq,
        rfc3339(trade.time)
    )
}

/// `{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD",…}]}`.
pub(super) fn push(push: Push<'_>) -> String {
    let (channel, symbol) = split(push.name);
    let data = match symbol {
        // A trade names its symbol already.
        Some(symbol) if !push.trade => with_first(push.data, "symbol", &json_str(symbol)),
        _ => push.data.to_owned(),
    };
    format!(
        r#"{{"channel":{},"type":"update","conn":{},"seq":{},"data":[{data}]}}"#,
        json_str(channel),
        push.conn,
        push.seq
    )
}
