//! Subscription protocols: how clients subscribe and log in, and what the
//! server answers.

use std::sync::Arc;

use serde_json::Value;
use tokio::time::Instant;

use crate::StreamConfig;
use crate::auth::LoginRequest;
use crate::connection::{CONTINUE, Connection, Flow};
use crate::stream::Cursor;

/// The subscription protocol the exchange speaks.
///
/// Market data messages look the same under both (see
/// [`StreamKind`](crate::StreamKind)); only requests and answers differ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SubscriptionProtocol {
    /// Binance style.
    ///
    /// | client | server |
    /// | --- | --- |
    /// | `{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}` | `{"result":null,"id":1}` |
    /// | `{"method":"UNSUBSCRIBE","params":[…],"id":2}` | `{"result":null,"id":2}` |
    /// | `{"method":"LIST_SUBSCRIPTIONS","id":3}` | `{"result":["btcusdt@trade"],"id":3}` |
    /// | `{"method":"session.logon","params":{"apiKey":K,"signature":S,"timestamp":T},"id":4}` | `{"id":4,"status":200,"result":{"apiKey":K,…}}` or `{"id":4,"status":401,"error":{"code":-1022,"msg":…}}` |
    ///
    /// A subscription naming any unknown stream (or a private one before
    /// login) subscribes to nothing and is answered
    /// `{"error":{"code":2,"msg":"Invalid request: …"},"id":1}`; text that is
    /// not a JSON request gets `{"error":{"code":3,"msg":"Invalid JSON: …"},"id":null}`.
    #[default]
    Binance,
    /// OKX style. A stream named `channel:instId` (e.g. `trades:BTC-USDT`) is
    /// the argument `{"channel":"trades","instId":"BTC-USDT"}`; a name
    /// without `:` is `{"channel":name}`.
    ///
    /// | client | server |
    /// | --- | --- |
    /// | `{"op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"}]}` | `{"event":"subscribe","arg":{…},"connId":C}`, one per argument |
    /// | `{"op":"unsubscribe","args":[…]}` | `{"event":"unsubscribe","arg":{…},"connId":C}` |
    /// | `{"op":"login","args":[{"apiKey":K,"passphrase":P,"timestamp":T,"sign":S}]}` | `{"event":"login","code":"0","msg":"","connId":C}` or `{"event":"error","code":"60009","msg":"Login failed.","connId":C}` |
    ///
    /// An unknown stream is answered `{"event":"error","code":"60018",…}`, a
    /// private one before login `{"event":"error","code":"60011","msg":"Please log in.",…}`,
    /// anything else not understood `{"event":"error","code":"60012",…}`. An
    /// `"id"` in the request is echoed in every answer.
    Okx,
}

/// A request read from a client.
#[derive(Debug)]
pub(crate) enum Request {
    Subscribe { id: Value, items: Vec<Item> },
    Unsubscribe { id: Value, items: Vec<Item> },
    List { id: Value },
    Login { id: Value, login: LoginRequest },
    Invalid { id: Value, reason: String },
}

/// One stream named in a request: its name, and the argument as the client
/// wrote it (echoed in OKX answers).
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub(crate) stream: String,
    pub(crate) arg: Value,
}

/// Why a stream could not be subscribed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Unknown,
    LoginRequired,
}

fn string_field(object: &Value, key: &str) -> Option<String> {
    match object.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl SubscriptionProtocol {
    /// Reads a client's text (already known not to be a keepalive message).
    pub(crate) fn parse(self, value: Option<&Value>) -> Request {
        let Some(value) = value.filter(|v| v.is_object()) else {
            return Request::Invalid {
                id: Value::Null,
                reason: "not a JSON object".to_owned(),
            };
        };
        match self {
            SubscriptionProtocol::Binance => parse_binance(value),
            SubscriptionProtocol::Okx => parse_okx(value),
        }
    }

    /// Answers to a successful (un)subscription.
    pub(crate) fn acks(
        self,
        subscribe: bool,
        id: &Value,
        items: &[Item],
        conn: &str,
    ) -> Vec<String> {
        match self {
            SubscriptionProtocol::Binance => vec![format!(r#"{{"result":null,"id":{id}}}"#)],
            SubscriptionProtocol::Okx => items
                .iter()
                .map(|item| {
                    let event = if subscribe {
                        "subscribe"
                    } else {
                        "unsubscribe"
                    };
                    format!(
                        r#"{{{}"event":"{event}","arg":{},"connId":{}}}"#,
                        okx_id(id),
                        item.arg,
                        Value::from(conn)
                    )
                })
                .collect(),
        }
    }

    /// The answer to a subscription refused for `item`.
    pub(crate) fn refusal(self, id: &Value, item: &Item, refusal: Refusal, conn: &str) -> String {
        match (self, refusal) {
            (SubscriptionProtocol::Binance, Refusal::Unknown) => binance_error(
                2,
                &format!("Invalid request: unknown stream '{}'", item.stream),
                id,
            ),
            (SubscriptionProtocol::Binance, Refusal::LoginRequired) => binance_error(
                2,
                &format!("Invalid request: login required for '{}'", item.stream),
                id,
            ),
            (SubscriptionProtocol::Okx, Refusal::Unknown) => okx_error(
                "60018",
                &format!("Wrong URL or channel: {} doesn't exist.", item.stream),
                id,
                conn,
            ),
            (SubscriptionProtocol::Okx, Refusal::LoginRequired) => {
                okx_error("60011", "Please log in.", id, conn)
            }
        }
    }

    /// The answer to a request that was not understood.
    pub(crate) fn invalid(self, id: &Value, reason: &str, conn: &str) -> String {
        match self {
            SubscriptionProtocol::Binance => {
                binance_error(3, &format!("Invalid JSON: {reason}"), id)
            }
            SubscriptionProtocol::Okx => {
                okx_error("60012", &format!("Invalid request: {reason}"), id, conn)
            }
        }
    }

    /// The answer to `LIST_SUBSCRIPTIONS`.
    pub(crate) fn list(self, id: &Value, streams: &[String]) -> String {
        format!(
            r#"{{"result":{},"id":{id}}}"#,
            Value::from(streams.to_vec())
        )
    }

    /// The answer to a login.
    pub(crate) fn login_answer(
        self,
        id: &Value,
        login: &LoginRequest,
        ok: bool,
        conn: &str,
    ) -> String {
        match (self, ok) {
            (SubscriptionProtocol::Binance, true) => format!(
                r#"{{"id":{id},"status":200,"result":{{"apiKey":{},"authorizedSince":1700000000000,"connectedSince":1700000000000,"returnRateLimits":false,"serverTime":1700000000000}}}}"#,
                Value::from(login.api_key.as_str())
            ),
            (SubscriptionProtocol::Binance, false) => format!(
                r#"{{"id":{id},"status":401,"error":{{"code":-1022,"msg":"Signature for this request is not valid."}}}}"#
            ),
            (SubscriptionProtocol::Okx, true) => format!(
                r#"{{{}"event":"login","code":"0","msg":"","connId":{}}}"#,
                okx_id(id),
                Value::from(conn)
            ),
            (SubscriptionProtocol::Okx, false) => okx_error("60009", "Login failed.", id, conn),
        }
    }
}

/// `"id":…,` when the request had an id, else nothing.
fn okx_id(id: &Value) -> String {
    if id.is_null() {
        String::new()
    } else {
        format!(r#""id":{id},"#)
    }
}

fn binance_error(code: i64, msg: &str, id: &Value) -> String {
    format!(
        r#"{{"error":{{"code":{code},"msg":{}}},"id":{id}}}"#,
        Value::from(msg)
    )
}

fn okx_error(code: &str, msg: &str, id: &Value, conn: &str) -> String {
    format!(
        r#"{{{}"event":"error","code":"{code}","msg":{},"connId":{}}}"#,
        okx_id(id),
        Value::from(msg),
        Value::from(conn)
    )
}

fn parse_binance(value: &Value) -> Request {
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
            .map(|p| {
                p.as_str().map(|s| Item {
                    stream: s.to_owned(),
                    arg: p.clone(),
                })
            })
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

/// The stream name of an OKX argument: `channel:instId`, or `channel`.
fn okx_stream(arg: &Value) -> Option<String> {
    let channel = arg.get("channel")?.as_str()?;
    Some(match arg.get("instId").and_then(Value::as_str) {
        Some(inst) => format!("{channel}:{inst}"),
        None => channel.to_owned(),
    })
}

fn parse_okx(value: &Value) -> Request {
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
                .map(|arg| {
                    okx_stream(arg).map(|stream| Item {
                        stream,
                        arg: arg.clone(),
                    })
                })
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

impl Connection {
    /// Answers a request read from the client.
    pub(crate) async fn on_request(&mut self, request: Request) -> Flow {
        let protocol = self.shared.config.protocol;
        match request {
            Request::Subscribe { id, items } => self.subscribe(&id, items).await,
            Request::Unsubscribe { id, items } => {
                for item in &items {
                    if let Some(cursor) =
                        self.cursors.iter_mut().find(|c| **c.name() == *item.stream)
                    {
                        cursor.deactivate();
                    }
                }
                self.sync_subscriptions();
                for ack in protocol.acks(false, &id, &items, &self.tag) {
                    self.write_text(ack).await?;
                }
                CONTINUE
            }
            Request::List { id } => {
                let streams = self.active_streams();
                self.write_text(protocol.list(&id, &streams)).await
            }
            Request::Login { id, login } => self.login(&id, &login).await,
            Request::Invalid { id, reason } => {
                let answer = protocol.invalid(&id, &reason, &self.tag);
                self.write_text(answer).await
            }
        }
    }

    fn check(&self, item: &Item) -> Result<Arc<StreamConfig>, Refusal> {
        match self.shared.streams.get(&item.stream) {
            None => Err(Refusal::Unknown),
            Some(config) if config.is_private() && !self.authenticated => {
                Err(Refusal::LoginRequired)
            }
            Some(config) => Ok(Arc::clone(config)),
        }
    }

    fn add_stream(&mut self, config: Arc<StreamConfig>) {
        let now = Instant::now();
        match self
            .cursors
            .iter_mut()
            .find(|c| **c.name() == *config.name())
        {
            Some(cursor) => cursor.activate(now),
            None => self.cursors.push(Cursor::new(config, self.id, now)),
        }
    }

    fn active_streams(&self) -> Vec<String> {
        self.cursors
            .iter()
            .filter(|c| c.is_active())
            .map(|c| c.name().to_string())
            .collect()
    }

    fn sync_subscriptions(&self) {
        let streams = self.active_streams();
        let id = self.id;
        self.shared.update(|s| s.set_subscriptions(id, streams));
    }

    async fn subscribe(&mut self, id: &Value, items: Vec<Item>) -> Flow {
        let protocol = self.shared.config.protocol;
        match protocol {
            // All or nothing, one answer.
            SubscriptionProtocol::Binance => {
                let mut configs = Vec::with_capacity(items.len());
                for item in &items {
                    match self.check(item) {
                        Ok(config) => configs.push(config),
                        Err(refusal) => {
                            let answer = protocol.refusal(id, item, refusal, &self.tag);
                            return self.write_text(answer).await;
                        }
                    }
                }
                for config in configs {
                    self.add_stream(config);
                }
                self.sync_subscriptions();
                for ack in protocol.acks(true, id, &items, &self.tag) {
                    self.write_text(ack).await?;
                }
                CONTINUE
            }
            // One answer per argument.
            SubscriptionProtocol::Okx => {
                for item in items {
                    let answer = match self.check(&item) {
                        Ok(config) => {
                            self.add_stream(config);
                            self.sync_subscriptions();
                            protocol.acks(true, id, std::slice::from_ref(&item), &self.tag)
                        }
                        Err(refusal) => vec![protocol.refusal(id, &item, refusal, &self.tag)],
                    };
                    for text in answer {
                        self.write_text(text).await?;
                    }
                }
                CONTINUE
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(protocol: SubscriptionProtocol, text: &str) -> Request {
        protocol.parse(serde_json::from_str::<Value>(text).ok().as_ref())
    }

    #[test]
    fn binance_requests() {
        let p = SubscriptionProtocol::Binance;
        match parse(p, r#"{"method":"SUBSCRIBE","params":["a","b"],"id":7}"#) {
            Request::Subscribe { id, items } => {
                assert_eq!(id, 7);
                assert_eq!(items.len(), 2);
                assert_eq!(items[1].stream, "b");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(p, r#"{"method":"SUBSCRIBE","params":[1],"id":7}"#),
            Request::Invalid { .. }
        ));
        assert!(matches!(parse(p, "hello"), Request::Invalid { .. }));
        assert_eq!(
            p.acks(true, &Value::from(7), &[], "c"),
            vec![r#"{"result":null,"id":7}"#.to_owned()]
        );
    }

    #[test]
    fn okx_requests() {
        let p = SubscriptionProtocol::Okx;
        match parse(
            p,
            r#"{"op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"},{"channel":"status"}]}"#,
        ) {
            Request::Subscribe { items, .. } => {
                assert_eq!(items[0].stream, "trades:BTC-USDT");
                assert_eq!(items[1].stream, "status");
            }
            other => panic!("{other:?}"),
        }
        match parse(
            p,
            r#"{"op":"login","args":[{"apiKey":"k","passphrase":"p","timestamp":"1","sign":"s"}]}"#,
        ) {
            Request::Login { login, .. } => {
                assert_eq!(login.api_key, "k");
                assert_eq!(login.signature, "s");
                assert_eq!(login.passphrase.as_deref(), Some("p"));
            }
            other => panic!("{other:?}"),
        }
    }
}
