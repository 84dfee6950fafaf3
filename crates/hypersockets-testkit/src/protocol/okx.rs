//! OKX v5: `op` requests, answered per argument, errors by code.

use serde_json::Value;

use super::{Context, Item, Push, Refusal, Request, Trade, json_str, split, string_field};
use crate::auth::LoginRequest;

/// `"id":…,` when the request had an id, else nothing.
fn echo_id(id: &Value) -> String {
    if id.is_null() {
        String::new()
    } else {
        format!(r#""id":{id},"#)
    }
}

fn error(code: &str, msg: &str, id: &Value, cx: Context<'_>) -> String {
    format!(
        r#"{{{}"event":"error","code":"{code}","msg":{},"connId":{}}}"#,
        echo_id(id),
        Value::from(msg),
        Value::from(cx.conn)
    )
}

/// The stream name of an argument: `channel:instId`, or `channel`.
fn stream(arg: &Value) -> Option<String> {
    let channel = arg.get("channel")?.as_str()?;
    Some(match arg.get("instId").and_then(Value::as_str) {
        Some(inst) => format!("{channel}:{inst}"),
        None => channel.to_owned(),
    })
}

pub(super) fn parse(value: &Value) -> Request {
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    let Some(op) = value.get("op").and_then(Value::as_str) else {
        return Request::Invalid {
            id,
            reason: "missing op".to_owned(),
        };
    };
    let Some(args) = value.get("args").and_then(Value::as_array) else {
        return Request::Invalid {
            id,
            reason: "args must be an array".to_owned(),
        };
    };
    match op {
        "subscribe" | "unsubscribe" => {
            let items: Option<Vec<Item>> = args
                .iter()
                .map(|arg| stream(arg).map(|stream| Item::named(stream, arg.clone())))
                .collect();
            match items {
                Some(items) if op == "subscribe" => Request::Subscribe { id, items },
                Some(items) => Request::Unsubscribe { id, items },
                None => Request::Invalid {
                    id,
                    reason: "every arg needs a channel".to_owned(),
                },
            }
        }
        "login" => match args.first() {
            Some(arg) if arg.is_object() => Request::Login {
                id,
                login: LoginRequest {
                    api_key: string_field(arg, "apiKey").unwrap_or_default(),
                    signature: string_field(arg, "sign").unwrap_or_default(),
                    timestamp: string_field(arg, "timestamp"),
                    passphrase: string_field(arg, "passphrase"),
                },
            },
            _ => Request::Invalid {
                id,
                reason: "login needs one arg object".to_owned(),
            },
        },
        other => Request::Invalid {
            id,
            reason: format!("unknown op '{other}'"),
        },
    }
}

pub(super) fn acks(subscribe: bool, id: &Value, items: &[Item], cx: Context<'_>) -> Vec<String> {
    let event = if subscribe {
        "subscribe"
    } else {
        "unsubscribe"
    };
    items
        .iter()
        .map(|item| {
            format!(
                r#"{{{}"event":"{event}","arg":{},"connId":{}}}"#,
                echo_id(id),
                item.arg,
                Value::from(cx.conn)
            )
        })
        .collect()
}

pub(super) fn refusal(id: &Value, item: &Item, refusal: Refusal, cx: Context<'_>) -> String {
    match refusal {
        Refusal::Unknown => error(
            "60018",
            &format!("Wrong URL or channel: {} doesn't exist.", item.stream),
            id,
            cx,
        ),
        Refusal::LoginRequired => error("60011", "Please log in.", id, cx),
        Refusal::TooMany => error(
            "60018",
            &format!("Too many channels on this connection: {}", item.stream),
            id,
            cx,
        ),
    }
}

pub(super) fn invalid(id: &Value, reason: &str, cx: Context<'_>) -> String {
    error("60012", &format!("Invalid request: {reason}"), id, cx)
}

pub(super) fn login_answer(id: &Value, ok: bool, cx: Context<'_>) -> String {
    if ok {
        format!(
            r#"{{{}"event":"login","code":"0","msg":"","connId":{}}}"#,
            echo_id(id),
            Value::from(cx.conn)
        )
    } else {
        error("60009", "Login failed.", id, cx)
    }
}

/// The `64008` notice OKX sends about a minute before closing a connection
/// for a service upgrade.
pub(super) fn shutdown_notice(cx: Context<'_>) -> String {
    format!(
        r#"{{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":{}}}"#,
        json_str(cx.conn)
    )
}

/// An item of the `trades` channel's `data`: numbers as strings.
pub(super) fn trade(trade: &Trade<'_>) -> String {
    format!(
        r#"{{"instId":{},"tradeId":"{}","px":"{}","sz":"{}","side":"{}","ts":"{}","count":"1"}}"#,
        json_str(trade.symbol),
        trade.seq,
        trade.price,
        trade.quantity,
        if trade.sell { "sell" } else { "buy" },
        trade.time
    )
}

/// `{"arg":{"channel":…,"instId":…},"data":[{…}]}`.
pub(super) fn push(push: Push<'_>) -> String {
    let (channel, inst) = split(push.name);
    let arg = match inst {
        Some(inst) => format!(
            r#"{{"channel":{},"instId":{}}}"#,
            json_str(channel),
            json_str(inst)
        ),
        None => format!(r#"{{"channel":{}}}"#, json_str(channel)),
    };
    format!(
        r#"{{"arg":{arg},"conn":{},"seq":{},"data":[{}]}}"#,
        push.conn, push.seq, push.data
    )
}
