//! HTX (Huobi): `sub` / `unsub` requests by id, one topic each.

use serde_json::Value;

use super::{Item, Push, Request, Trade, json_str};

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

/// The `tick` of a `market.<symbol>.trade.detail` push: amounts and prices
/// as numbers.
pub(super) fn trade(trade: &Trade<'_>) -> String {
    format!(
        r#"{{"id":{seq},"ts":{time},"data":[{{"id":{seq},"ts":{time},"tradeId":{seq},"amount":{},"price":{},"direction":"{}"}}]}}"#,
        trade.quantity,
        trade.price,
        if trade.sell { "sell" } else { "buy" },
        seq = trade.seq,
        time = trade.time,
    )
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

/// HTX v2, the asset and order endpoint (`/ws/v2`): `action` requests,
/// answered by channel with a numeric code; no ids.
pub(super) mod v2 {
    use serde_json::{Value, json};

    use super::super::{Item, Push, Refusal, Request, Trade, json_str, string_field};
    use crate::auth::LoginRequest;

    /// What an answer echoes of its request, carried as the request's id:
    /// its action and channel.
    fn echo(action: &str, ch: &str) -> Value {
        json!({ "action": action, "ch": ch })
    }

    /// The channel answers and pushes name: a bare `accounts.update` is
    /// its default mode, `#0`.
    fn channel(ch: &str) -> &str {
        if ch == "accounts.update" {
            "accounts.update#0"
        } else {
            ch
        }
    }

    pub(in super::super) fn parse(value: &Value) -> Request {
        let action = value.get("action").and_then(Value::as_str).unwrap_or("");
        let ch = value.get("ch").and_then(Value::as_str);
        let id = echo(action, ch.unwrap_or(""));
        let invalid = |id, reason: &str| Request::Invalid {
            id,
            reason: reason.to_owned(),
        };
        match (action, ch) {
            ("req", Some("auth")) => login(id, value.get("params")),
            ("sub" | "unsub", Some(ch)) => {
                let name = channel(ch);
                let items = vec![Item::named(name, Value::from(name))];
                if action == "sub" {
                    Request::Subscribe { id, items }
                } else {
                    Request::Unsubscribe { id, items }
                }
            }
            ("sub" | "unsub" | "req", _) => invalid(id, "invalid.ch"),
            _ => invalid(id, "invalid.action"),
        }
    }

    /// An `auth` request: its parameters as HTX requires them (type
    /// `api`, `HmacSHA256`, version `2.1`, all present), else refused.
    fn login(id: Value, params: Option<&Value>) -> Request {
        let field = |name| params.and_then(|p| string_field(p, name));
        let invalid = |id, reason: &str| Request::Invalid {
            id,
            reason: reason.to_owned(),
        };
        if field("authType").as_deref() != Some("api") {
            return invalid(id, "invalid.authType");
        }
        let (Some(api_key), Some(signature), Some(timestamp)) =
            (field("accessKey"), field("signature"), field("timestamp"))
        else {
            return invalid(id, "missing.param.auth");
        };
        if field("signatureMethod").as_deref() != Some("HmacSHA256")
            || field("signatureVersion").as_deref() != Some("2.1")
        {
            return invalid(id, "missing.param.auth");
        }
        Request::Login {
            id,
            login: LoginRequest {
                api_key,
                signature,
                timestamp: Some(timestamp),
                passphrase: None,
            },
        }
    }

    fn answer(action: &str, code: u32, ch: &str, message: Option<&str>) -> String {
        match message {
            None => format!(
                r#"{{"action":{},"code":{code},"ch":{},"data":{{}}}}"#,
                json_str(action),
                json_str(ch)
            ),
            Some(message) => format!(
                r#"{{"action":{},"code":{code},"ch":{},"message":{}}}"#,
                json_str(action),
                json_str(ch),
                json_str(message)
            ),
        }
    }

    pub(in super::super) fn login_answer(ok: bool) -> String {
        if ok {
            answer("req", 200, "auth", None)
        } else {
            answer("req", 2002, "auth", Some("auth.fail"))
        }
    }

    pub(in super::super) fn acks(subscribe: bool, items: &[Item]) -> Vec<String> {
        let action = if subscribe { "sub" } else { "unsub" };
        items
            .iter()
            .map(|item| answer(action, 200, &item.stream, None))
            .collect()
    }

    pub(in super::super) fn refusal(item: &Item, refusal: Refusal) -> String {
        match refusal {
            Refusal::LoginRequired => answer("sub", 2002, &item.stream, Some("invalid.auth.state")),
            Refusal::Unknown | Refusal::TooMany => {
                answer("sub", 2001, &item.stream, Some("invalid.ch"))
            }
        }
    }

    /// Code 2001 (an invalid request), echoing the request's action and
    /// channel.
    pub(in super::super) fn invalid(id: &Value, reason: &str) -> String {
        let echoed = |name| id.get(name).and_then(Value::as_str).unwrap_or("");
        answer(echoed("action"), 2001, echoed("ch"), Some(reason))
    }

    /// Whether `value` is a client's `{"action":"pong",…}`, which HTX
    /// takes without an answer.
    pub(in super::super) fn is_pong(value: &Value) -> bool {
        value.get("action").and_then(Value::as_str) == Some("pong")
    }

    /// The `data` of a `trade.clearing#<symbol>#0` push: the trade id
    /// carries the sequence number.
    pub(in super::super) fn trade(trade: &Trade<'_>) -> String {
        format!(
            r#"{{"eventType":"trade","symbol":{},"orderId":{seq},"tradePrice":"{}","tradeVolume":"{}","orderSide":"{}","aggressor":true,"tradeId":{seq},"tradeTime":{}}}"#,
            json_str(trade.symbol),
            trade.price,
            trade.quantity,
            if trade.sell { "sell" } else { "buy" },
            trade.time,
            seq = trade.seq,
        )
    }

    /// `{"action":"push","ch":…,"data":{…}}`.
    pub(in super::super) fn push(push: Push<'_>) -> String {
        format!(
            r#"{{"action":"push","ch":{},"conn":{},"seq":{},"data":{}}}"#,
            json_str(push.name),
            push.conn,
            push.seq,
            push.data
        )
    }

    /// The symbol of `orders#btcusdt` or `trade.clearing#btcusdt#0`.
    pub(in super::super) fn instrument(name: &str) -> Option<String> {
        name.split('#').nth(1).map(str::to_owned)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn parse_text(text: &str) -> Request {
            parse(&serde_json::from_str(text).unwrap())
        }

        #[test]
        fn requests_are_read_and_answered_by_channel() {
            let Request::Subscribe { id, items } =
                parse_text(r#"{"action":"sub","ch":"orders#btcusdt"}"#)
            else {
                panic!("a subscription");
            };
            assert_eq!(items[0].stream, "orders#btcusdt");
            assert_eq!(
                acks(true, &items),
                [r#"{"action":"sub","code":200,"ch":"orders#btcusdt","data":{}}"#]
            );
            assert_eq!(
                refusal(&items[0], Refusal::LoginRequired),
                r#"{"action":"sub","code":2002,"ch":"orders#btcusdt","message":"invalid.auth.state"}"#
            );
            assert_eq!(
                invalid(&id, "invalid.ch"),
                r#"{"action":"sub","code":2001,"ch":"orders#btcusdt","message":"invalid.ch"}"#
            );
            let Request::Subscribe { items, .. } =
                parse_text(r#"{"action":"sub","ch":"accounts.update"}"#)
            else {
                panic!("a subscription");
            };
            assert_eq!(items[0].stream, "accounts.update#0");
            assert!(matches!(
                parse_text(r#"{"action":"unsub","ch":"orders#btcusdt"}"#),
                Request::Unsubscribe { .. }
            ));
            assert!(matches!(
                parse_text(r#"{"action":"dance","ch":"x"}"#),
                Request::Invalid { .. }
            ));
            assert!(is_pong(
                &serde_json::json!({"action":"pong","data":{"ts":1}})
            ));
            assert_eq!(
                instrument("trade.clearing#btcusdt#0").as_deref(),
                Some("btcusdt")
            );
        }

        #[test]
        fn logins_need_htxs_parameters() {
            let login = r#"{"action":"req","ch":"auth","params":{"authType":"api","accessKey":"k","signatureMethod":"HmacSHA256","signatureVersion":"2.1","timestamp":"2019-09-01T18:16:16","signature":"s"}}"#;
            let Request::Login { login: request, .. } = parse_text(login) else {
                panic!("a login");
            };
            assert_eq!(request.api_key, "k");
            assert_eq!(request.signature, "s");
            assert_eq!(request.timestamp.as_deref(), Some("2019-09-01T18:16:16"));
            for (change, reason) in [
                (r#""authType":"api""#, "invalid.authType"),
                (r#""signatureVersion":"2.1""#, "missing.param.auth"),
                (r#""signature":"s""#, "missing.param.auth"),
            ] {
                let broken = login.replace(change, r#""x":"y""#);
                match parse_text(&broken) {
                    Request::Invalid { reason: said, .. } => assert_eq!(said, reason),
                    other => panic!("{other:?}"),
                }
            }
            assert_eq!(
                login_answer(true),
                r#"{"action":"req","code":200,"ch":"auth","data":{}}"#
            );
            assert_eq!(
                login_answer(false),
                r#"{"action":"req","code":2002,"ch":"auth","message":"auth.fail"}"#
            );
        }
    }
}
