//! HTX (Huobi): `sub` / `unsub` requests by id, one topic each.

use serde_json::Value;

use super::{Item, Push, Request, json_str};

const TS: u64 = 1_700_000_000_000;

pub(super) fn parse(value: &Value) -> Request {
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    for (key, subscribe) in [("sub", true), ("unsub", false)] {
        if let Some(topic) = value.get(key) {
            let Some(name) = topic.as_str() else {
                return Request::Invalid {
                    id,
                    reason: format!("{key} must be a string"),
                };
            };
            let items = vec![Item::named(name, topic.clone())];
            return if subscribe {
                Request::Subscribe { id, items }
            } else {
                Request::Unsubscribe { id, items }
            };
        }
    }
    Request::Invalid {
        id,
        reason: "expected sub or unsub".to_owned(),
    }
}

/// `"id":…,` when the request had one.
fn echo_id(id: &Value) -> String {
    if id.is_null() {
        String::new()
    } else {
        format!(r#""id":{id},"#)
    }
}

pub(super) fn acks(subscribe: bool, id: &Value, items: &[Item]) -> Vec<String> {
    let key = if subscribe { "subbed" } else { "unsubbed" };
    items
        .iter()
        .map(|item| {
            format!(
                r#"{{{}"status":"ok","{key}":{},"ts":{TS}}}"#,
                echo_id(id),
                json_str(&item.stream)
            )
        })
        .collect()
}

fn error(id: &Value, code: &str, message: &str) -> String {
    format!(
        r#"{{{}"status":"error","err-code":"{code}","err-msg":{},"ts":{TS}}}"#,
        echo_id(id),
        json_str(message)
    )
}

pub(super) fn refusal(id: &Value, item: &Item) -> String {
    error(id, "bad-request", &format!("invalid topic {}", item.stream))
}

pub(super) fn invalid(id: &Value, reason: &str) -> String {
    error(id, "bad-request", reason)
}

/// `{"ch":…,"ts":…,"tick":{…}}`.
pub(super) fn push(push: Push<'_>) -> String {
    format!(
        r#"{{"ch":{},"ts":{},"conn":{},"seq":{},"tick":{}}}"#,
        json_str(push.name),
        push.time,
        push.conn,
        push.seq,
        push.data
    )
}
