//! Bybit v5: `op` requests with a `req_id`, one answer per request.

use serde_json::Value;

use super::{Context, Item, Push, Request, Trade, json_str};
use crate::auth::LoginRequest;

fn id_of(value: &Value) -> Value {
    value.get("req_id").cloned().unwrap_or(Value::Null)
}

fn answer(success: bool, ret_msg: &str, id: &Value, op: &str, cx: Context<'_>) -> String {
    let req_id = if id.is_null() {
        String::new()
    } else {
        format!(r#","req_id":{id}"#)
    };
    format!(
        r#"{{"success":{success},"ret_msg":{},"conn_id":{}{req_id},"op":"{op}"}}"#,
        json_str(ret_msg),
        json_str(cx.conn)
    )
}

pub(super) fn parse(value: &Value, cx: Context<'_>) -> Request {
    let id = id_of(value);
    match value.get("op").and_then(Value::as_str) {
        Some("ping") => Request::Ping {
            reply: answer(true, "pong", &id, "ping", cx),
        },
        Some("auth") => {
            let args = value.get("args").and_then(Value::as_array);
            let arg = |i: usize| {
                args.and_then(|a| a.get(i)).and_then(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
            };
            Request::Login {
                id,
                login: LoginRequest {
                    api_key: arg(0).unwrap_or_default(),
                    signature: arg(2).unwrap_or_default(),
                    timestamp: arg(1),
                    passphrase: None,
                },
            }
        }
        Some(op @ ("subscribe" | "unsubscribe")) => {
            let items: Option<Vec<Item>> =
                value
                    .get("args")
                    .and_then(Value::as_array)
                    .and_then(|args| {
                        args.iter()
                            .map(|a| a.as_str().map(|s| Item::named(s, a.clone())))
                            .collect()
                    });
            match items {
                Some(items) if op == "subscribe" => Request::Subscribe { id, items },
                Some(items) => Request::Unsubscribe { id, items },
                None => Request::Invalid {
                    id,
                    reason: "args must be an array of strings".to_owned(),
                },
            }
        }
        Some(other) => Request::Invalid {
            id,
            reason: format!("unknown op '{other}'"),
        },
        None => Request::Invalid {
            id,
            reason: "missing op".to_owned(),
        },
    }
}

pub(super) fn ack(subscribe: bool, id: &Value, cx: Context<'_>) -> String {
    let op = if subscribe {
        "subscribe"
    } else {
        "unsubscribe"
    };
    answer(true, "", id, op, cx)
}

pub(super) fn refusal(id: &Value, item: &Item, cx: Context<'_>) -> String {
    answer(
        false,
        &format!("error:handler not found,topic:{}", item.stream),
        id,
        "subscribe",
        cx,
    )
}

pub(super) fn login_answer(id: &Value, ok: bool, cx: Context<'_>) -> String {
    let message = if ok {
        ""
    } else {
        "error:signature verification failed"
    };
    answer(ok, message, id, "auth", cx)
}

pub(super) fn invalid(id: &Value, reason: &str, cx: Context<'_>) -> String {
    answer(false, &format!("Invalid request: {reason}"), id, "", cx)
}

/// An item of a `publicTrade.<SYMBOL>` push's `data`. `i` is a trade id in
/// a UUID's shape; `seq`, the per-symbol cross sequence, carries the
/// sequence number.
pub(super) fn trade(trade: &Trade<'_>) -> String {
    format!(
        r#"{{"T":{},"s":{},"S":"{}","v":"{}","p":"{}","L":"PlusTick","i":"00000000-0000-4000-8000-{:012x}","BT":false,"seq":{}}}"#,
        trade.time,
        json_str(trade.symbol),
        if trade.sell { "Sell" } else { "Buy" },
        trade.quantity,
        trade.price,
        trade.seq,
        trade.seq
    )
}

/// `{"topic":…,"type":"snapshot","ts":…,"data":[{…}]}`.
pub(super) fn push(push: Push<'_>) -> String {
    format!(
        r#"{{"topic":{},"type":"snapshot","ts":{},"conn":{},"seq":{},"data":[{}]}}"#,
        json_str(push.name),
        push.time,
        push.conn,
        push.seq,
        push.data
    )
}
