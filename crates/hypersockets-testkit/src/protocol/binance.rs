//! Binance: `SUBSCRIBE` / `UNSUBSCRIBE` / `LIST_SUBSCRIPTIONS` /
//! `session.logon`, answered by id.

use serde_json::Value;

use super::{Item, Push, Refusal, Request, string_field};
use crate::auth::LoginRequest;

pub(super) fn parse(value: &Value) -> Request {
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = value.get("method").and_then(Value::as_str) else {
        return Request::Invalid {
            id,
            reason: "missing method".to_owned(),
        };
    };
    let streams = || -> Option<Vec<Item>> {
        value
            .get("params")?
            .as_array()?
            .iter()
            .map(|p| p.as_str().map(|s| Item::named(s, p.clone())))
            .collect()
    };
    match method {
        "SUBSCRIBE" | "UNSUBSCRIBE" => match streams() {
            Some(items) if method == "SUBSCRIBE" => Request::Subscribe { id, items },
            Some(items) => Request::Unsubscribe { id, items },
            None => Request::Invalid {
                id,
                reason: "params must be an array of strings".to_owned(),
            },
        },
        "LIST_SUBSCRIPTIONS" => Request::List { id },
        "session.logon" => match value.get("params") {
            Some(params) if params.is_object() => Request::Login {
                id,
                login: LoginRequest {
                    api_key: string_field(params, "apiKey").unwrap_or_default(),
                    signature: string_field(params, "signature").unwrap_or_default(),
                    timestamp: string_field(params, "timestamp"),
                    passphrase: None,
                },
            },
            _ => Request::Invalid {
                id,
                reason: "params must be an object".to_owned(),
            },
        },
        other => Request::Invalid {
            id,
            reason: format!("unknown method '{other}'"),
        },
    }
}

pub(super) fn ack(id: &Value) -> String {
    format!(r#"{{"result":null,"id":{id}}}"#)
}

fn error(code: i64, msg: &str, id: &Value) -> String {
    format!(
        r#"{{"error":{{"code":{code},"msg":{}}},"id":{id}}}"#,
        Value::from(msg)
    )
}

pub(super) fn refusal(id: &Value, item: &Item, refusal: Refusal) -> String {
    let why = match refusal {
        Refusal::Unknown => "unknown stream",
        Refusal::LoginRequired => "login required for",
        Refusal::TooMany => "too many streams, no room for",
    };
    error(2, &format!("Invalid request: {why} '{}'", item.stream), id)
}

pub(super) fn invalid(id: &Value, reason: &str) -> String {
    error(3, &format!("Invalid JSON: {reason}"), id)
}

pub(super) fn login_answer(id: &Value, login: &LoginRequest, ok: bool) -> String {
    if ok {
        format!(
            r#"{{"id":{id},"status":200,"result":{{"apiKey":{},"authorizedSince":1700000000000,"connectedSince":1700000000000,"returnRateLimits":false,"serverTime":1700000000000}}}}"#,
            Value::from(login.api_key.as_str())
        )
    } else {
        format!(
            r#"{{"id":{id},"status":401,"error":{{"code":-1022,"msg":"Signature for this request is not valid."}}}}"#
        )
    }
}

/// The WebSocket API's `serverShutdown` event: the server will soon close
/// the connection.
pub(super) fn shutdown_notice(time: u64) -> String {
    format!(r#"{{"event":{{"e":"serverShutdown","E":{time}}}}}"#)
}

/// A combined stream's event (the tagged envelope).
pub(super) fn push(push: Push<'_>) -> String {
    let Push {
        name,
        conn,
        seq,
        data,
        ..
    } = push;
    format!(
        r#"{{"stream":{},"conn":{conn},"seq":{seq},"data":{data}}}"#,
        super::json_str(name)
    )
}
