//! Subscription protocols: how clients subscribe, log in and ping, what
//! the server answers, and how its market data is shaped. One file per
//! venue; this one dispatches.

mod binance;
mod bybit;
mod coinbase;
mod htx;
mod hyperliquid;
mod kraken;
mod kucoin;
mod okx;

use serde_json::Value;

use crate::auth::LoginRequest;

/// The subscription protocol the exchange speaks.
///
/// Each is its venue's documented request and answer shapes; with
/// [`ExchangeConfig::emulate`](crate::ExchangeConfig::emulate) the market
/// data takes the venue's shape too (otherwise every protocol writes the
/// tagged envelope of [`StreamKind`](crate::StreamKind)). A stream's name
/// is the topic as the client names it in its request; each variant says
/// how its requests map to names. Logins are emulated for Binance, OKX and Bybit.
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
    /// Data: `{"stream":"btcusdt@trade","data":{…}}`.
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
    /// `"id"` in the request is echoed in every answer. Data:
    /// `{"arg":{"channel":…,"instId":…},"data":[{…}]}`.
    Okx,
    /// Bybit v5. Streams are the request's arguments (`publicTrade.BTCUSDT`).
    ///
    /// | client | server |
    /// | --- | --- |
    /// | `{"req_id":"1","op":"subscribe","args":["publicTrade.BTCUSDT"]}` | `{"success":true,"ret_msg":"","conn_id":C,"req_id":"1","op":"subscribe"}` |
    /// | `{"req_id":"2","op":"ping"}` | `{"success":true,"ret_msg":"pong","conn_id":C,"req_id":"2","op":"ping"}` |
    /// | `{"req_id":"3","op":"auth","args":[K,EXPIRES,SIGNATURE]}` | `{"success":true,"ret_msg":"","conn_id":C,"req_id":"3","op":"auth"}` |
    ///
    /// A request naming an unknown stream subscribes to nothing and is
    /// answered `"success":false` with `"ret_msg":"error:handler not found,topic:…"`.
    /// Data: `{"topic":…,"type":"snapshot","ts":…,"data":[{…}]}`.
    Bybit,
    /// Kraken v2. A stream named `channel:SYMBOL` (`trade:BTC/USD`) is one
    /// symbol of a request's channel; a name without `:` is a channel
    /// requested without symbols.
    ///
    /// | client | server |
    /// | --- | --- |
    /// | `{"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD"]},"req_id":1}` | `{"method":"subscribe","req_id":1,"result":{"channel":"trade","snapshot":true,"symbol":"BTC/USD"},"success":true,…}`, one per symbol |
    /// | `{"method":"ping","req_id":2}` | `{"method":"pong","req_id":2,…}` |
    ///
    /// An unknown symbol is answered `{"error":"Currency pair not supported …","method":"subscribe","req_id":1,"success":false,"symbol":…}`.
    /// Data: `{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD",…}]}`.
    Kraken,
    /// Coinbase Advanced Trade. A stream named `channel:PRODUCT`
    /// (`market_trades:BTC-USD`) is one product of a request's channel; a
    /// name without `:` (`heartbeats`) a channel without products.
    ///
    /// | client | server |
    /// | --- | --- |
    /// | `{"type":"subscribe","channel":"market_trades","product_ids":["BTC-USD"]}` | `{"channel":"subscriptions","events":[{"subscriptions":{"market_trades":["BTC-USD"]}}],…}` (every active subscription) |
    ///
    /// A request naming an unknown stream subscribes to nothing and is
    /// answered `{"type":"error","message":"Failed to subscribe: …"}`.
    /// Data: `{"channel":…,"events":[{"type":"update","product_id":…,…}],…}`
    /// (`level2` arrives as channel `l2_data`).
    Coinbase,
    /// Hyperliquid. A stream named `type:coin` (`trades:BTC`) is the
    /// subscription `{"type":"trades","coin":"BTC"}`; a name without `:` is
    /// `{"type":name}`.
    ///
    /// | client | server |
    /// | --- | --- |
    /// | `{"method":"subscribe","subscription":{"type":"trades","coin":"BTC"}}` | `{"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":{…}}}` |
    /// | `{"method":"ping"}` | `{"channel":"pong"}` |
    ///
    /// An unknown stream is answered `{"channel":"error","data":"Invalid subscription: …"}`.
    /// Data: `{"channel":"trades","data":{"coin":"BTC",…}}`.
    Hyperliquid,
    /// HTX (Huobi) market data. Streams are topics (`market.btcusdt.trade.detail`).
    ///
    /// | client | server |
    /// | --- | --- |
    /// | `{"sub":"market.btcusdt.trade.detail","id":"1"}` | `{"id":"1","status":"ok","subbed":…,"ts":…}` |
    /// | `{"unsub":…,"id":"2"}` | `{"id":"2","status":"ok","unsubbed":…,"ts":…}` |
    ///
    /// An unknown topic is answered `{"id":"1","status":"error","err-code":"bad-request","err-msg":"invalid topic …","ts":…}`.
    /// Data: `{"ch":…,"ts":…,"tick":{…}}` (gzip-compressed when the
    /// emulation is HTX's).
    Htx,
    /// KuCoin. A stream named `/market/ticker:BTC-USDT` is one symbol of a
    /// request's topic; a request may name many, comma-separated
    /// (`/market/ticker:BTC-USDT,ETH-USDT`).
    ///
    /// | client | server |
    /// | --- | --- |
    /// | (on connect) | `{"id":C,"type":"welcome"}` |
    /// | `{"id":"1","type":"subscribe","topic":"/market/ticker:BTC-USDT","response":true}` | `{"id":"1","type":"ack"}` |
    /// | `{"id":"2","type":"ping"}` | `{"id":"2","type":"pong","timestamp":…}` |
    ///
    /// A request naming an unknown stream subscribes to nothing and is
    /// answered `{"id":"1","type":"error","code":404,"data":"topic … is not found"}`.
    /// Data: `{"type":"message","topic":…,"subject":…,"data":{…}}`.
    Kucoin,
}

/// A request read from a client.
#[derive(Debug)]
pub(crate) enum Request {
    Subscribe {
        id: Value,
        items: Vec<Item>,
    },
    Unsubscribe {
        id: Value,
        items: Vec<Item>,
    },
    List {
        id: Value,
    },
    Login {
        id: Value,
        login: LoginRequest,
    },
    /// An application ping in the protocol's own shape: answer `reply`.
    Ping {
        reply: String,
    },
    Invalid {
        id: Value,
        reason: String,
    },
}

/// One stream named in a request: its name, and the argument as the client
/// wrote it (echoed in some answers).
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub(crate) stream: String,
    pub(crate) arg: Value,
}

impl Item {
    fn named(stream: impl Into<String>, arg: Value) -> Self {
        Self {
            stream: stream.into(),
            arg,
        }
    }
}

/// Why a stream could not be subscribed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Unknown,
    LoginRequired,
    /// The connection holds as many streams as the exchange allows.
    TooMany,
}

/// What answers may need of the connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    /// The connection's tag (`connId`, `conn_id`).
    pub(crate) conn: &'a str,
    /// Its active streams, after the request (Coinbase lists them).
    pub(crate) active: &'a [String],
}

/// What a protocol reads of a stream to shape its data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Push<'a> {
    pub(crate) name: &'a str,
    pub(crate) conn: u64,
    pub(crate) seq: u64,
    pub(crate) time: u64,
    /// The payload object, `{…}`.
    pub(crate) data: &'a str,
}

fn string_field(object: &Value, key: &str) -> Option<String> {
    match object.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn json_str(text: &str) -> String {
    Value::from(text).to_string()
}

/// `name` split at its first `:`.
fn split(name: &str) -> (&str, Option<&str>) {
    match name.split_once(':') {
        Some((head, tail)) => (head, Some(tail)),
        None => (name, None),
    }
}

/// The payload object `data` with `"key":value_json` as its first member.
fn with_first(data: &str, key: &str, value_json: &str) -> String {
    match data.strip_prefix('{') {
        Some("}") => format!(r#"{{"{key}":{value_json}}}"#),
        Some(rest) => format!(r#"{{"{key}":{value_json},{rest}"#),
        None => data.to_owned(),
    }
}

impl SubscriptionProtocol {
    /// Reads a client's text (already known not to be a generic keepalive
    /// message).
    pub(crate) fn parse(self, value: Option<&Value>, cx: Context<'_>) -> Request {
        let Some(value) = value.filter(|v| v.is_object()) else {
            return Request::Invalid {
                id: Value::Null,
                reason: "not a JSON object".to_owned(),
            };
        };
        match self {
            Self::Binance => binance::parse(value),
            Self::Okx => okx::parse(value),
            Self::Bybit => bybit::parse(value, cx),
            Self::Kraken => kraken::parse(value),
            Self::Coinbase => coinbase::parse(value),
            Self::Hyperliquid => hyperliquid::parse(value),
            Self::Htx => htx::parse(value),
            Self::Kucoin => kucoin::parse(value),
        }
    }

    /// Whether each stream of a request is answered on its own (else the
    /// request is all or nothing, with one answer).
    pub(crate) fn per_item(self) -> bool {
        matches!(self, Self::Okx | Self::Kraken | Self::Hyperliquid)
    }

    /// Answers to a successful (un)subscription: of `items` (one of them
    /// when answered per item).
    pub(crate) fn acks(
        self,
        subscribe: bool,
        id: &Value,
        items: &[Item],
        cx: Context<'_>,
    ) -> Vec<String> {
        match self {
            Self::Binance => vec![binance::ack(id)],
            Self::Okx => okx::acks(subscribe, id, items, cx),
            Self::Bybit => vec![bybit::ack(subscribe, id, cx)],
            Self::Kraken => kraken::acks(subscribe, id, items),
            Self::Coinbase => vec![coinbase::subscriptions(cx)],
            Self::Hyperliquid => hyperliquid::acks(subscribe, items),
            Self::Htx => htx::acks(subscribe, id, items),
            Self::Kucoin if id.is_null() => Vec::new(),
            Self::Kucoin => vec![kucoin::ack(id)],
        }
    }

    /// The answer to a subscription refused for `item`.
    pub(crate) fn refusal(
        self,
        id: &Value,
        item: &Item,
        refusal: Refusal,
        cx: Context<'_>,
    ) -> String {
        match self {
            Self::Binance => binance::refusal(id, item, refusal),
            Self::Okx => okx::refusal(id, item, refusal, cx),
            _ if refusal == Refusal::TooMany => self.invalid(
                id,
                &format!("too many streams on this connection: {}", item.stream),
                cx,
            ),
            Self::Bybit => bybit::refusal(id, item, cx),
            Self::Kraken => kraken::refusal(id, item),
            Self::Coinbase => coinbase::refusal(item),
            Self::Hyperliquid => hyperliquid::refusal(item),
            Self::Htx => htx::refusal(id, item),
            Self::Kucoin => kucoin::refusal(id, item),
        }
    }

    /// The answer to a request that was not understood.
    pub(crate) fn invalid(self, id: &Value, reason: &str, cx: Context<'_>) -> String {
        match self {
            Self::Binance => binance::invalid(id, reason),
            Self::Okx => okx::invalid(id, reason, cx),
            Self::Bybit => bybit::invalid(id, reason, cx),
            Self::Kraken => kraken::invalid(id, reason),
            Self::Coinbase => coinbase::invalid(reason),
            Self::Hyperliquid => hyperliquid::invalid(reason),
            Self::Htx => htx::invalid(id, reason),
            Self::Kucoin => kucoin::invalid(id, reason),
        }
    }

    /// The answer to a list request (Binance's `LIST_SUBSCRIPTIONS`).
    pub(crate) fn list(self, id: &Value, streams: &[String]) -> String {
        format!(
            r#"{{"result":{},"id":{id}}}"#,
            Value::from(streams.to_vec())
        )
    }

    /// The answer to a login (Binance, OKX and Bybit; the others parse
    /// none).
    pub(crate) fn login_answer(
        self,
        id: &Value,
        login: &LoginRequest,
        ok: bool,
        cx: Context<'_>,
    ) -> String {
        match self {
            Self::Okx => okx::login_answer(id, ok, cx),
            Self::Binance => binance::login_answer(id, login, ok),
            Self::Bybit => bybit::login_answer(id, ok, cx),
            other => other.invalid(id, "login is not emulated", cx),
        }
    }

    /// What the server says first on a new connection, if anything.
    pub(crate) fn welcome(self, cx: Context<'_>) -> Option<String> {
        match self {
            Self::Kucoin => Some(kucoin::welcome(cx)),
            _ => None,
        }
    }

    /// A market data message in the venue's shape.
    pub(crate) fn push(self, push: Push<'_>) -> String {
        match self {
            Self::Binance => binance::push(push),
            Self::Okx => okx::push(push),
            Self::Bybit => bybit::push(push),
            Self::Kraken => kraken::push(push),
            Self::Coinbase => coinbase::push(push),
            Self::Hyperliquid => hyperliquid::push(push),
            Self::Htx => htx::push(push),
            Self::Kucoin => kucoin::push(push),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(protocol: SubscriptionProtocol, text: &str) -> Request {
        protocol.parse(serde_json::from_str::<Value>(text).ok().as_ref(), CX)
    }

    fn streams(request: Request) -> Vec<String> {
        match request {
            Request::Subscribe { items, .. } | Request::Unsubscribe { items, .. } => {
                items.into_iter().map(|i| i.stream).collect()
            }
            other => panic!("{other:?}"),
        }
    }

    const CX: Context<'static> = Context {
        conn: "c",
        active: &[],
    };

    #[test]
    fn binance_requests() {
        let p = SubscriptionProtocol::Binance;
        assert_eq!(
            streams(parse(
                p,
                r#"{"method":"SUBSCRIBE","params":["a","b"],"id":7}"#
            )),
            ["a", "b"]
        );
        assert!(matches!(
            parse(p, r#"{"method":"SUBSCRIBE","params":[1],"id":7}"#),
            Request::Invalid { .. }
        ));
        assert!(matches!(parse(p, "hello"), Request::Invalid { .. }));
        assert_eq!(
            p.acks(true, &Value::from(7), &[], CX),
            vec![r#"{"result":null,"id":7}"#.to_owned()]
        );
    }

    #[test]
    fn okx_requests() {
        let p = SubscriptionProtocol::Okx;
        assert_eq!(
            streams(parse(
                p,
                r#"{"op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"},{"channel":"status"}]}"#,
            )),
            ["trades:BTC-USDT", "status"]
        );
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

    #[test]
    fn venue_requests_name_their_streams() {
        use SubscriptionProtocol::*;
        let cases = [
            (
                Bybit,
                r#"{"req_id":"1","op":"subscribe","args":["publicTrade.BTCUSDT","tickers.ETHUSDT"]}"#,
                vec!["publicTrade.BTCUSDT", "tickers.ETHUSDT"],
            ),
            (
                Kraken,
                r#"{"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD","ETH/USD"]},"req_id":1}"#,
                vec!["trade:BTC/USD", "trade:ETH/USD"],
            ),
            (
                Kraken,
                r#"{"method":"subscribe","params":{"channel":"instrument"},"req_id":1}"#,
                vec!["instrument"],
            ),
            (
                Coinbase,
                r#"{"type":"subscribe","channel":"level2","product_ids":["BTC-USD","ETH-USD"]}"#,
                vec!["level2:BTC-USD", "level2:ETH-USD"],
            ),
            (
                Coinbase,
                r#"{"type":"subscribe","channel":"heartbeats"}"#,
                vec!["heartbeats"],
            ),
            (
                Hyperliquid,
                r#"{"method":"subscribe","subscription":{"type":"trades","coin":"BTC"}}"#,
                vec!["trades:BTC"],
            ),
            (
                Htx,
                r#"{"sub":"market.btcusdt.trade.detail","id":"1"}"#,
                vec!["market.btcusdt.trade.detail"],
            ),
            (
                Kucoin,
                r#"{"id":"1","type":"subscribe","topic":"/market/ticker:BTC-USDT,ETH-USDT","response":true}"#,
                vec!["/market/ticker:BTC-USDT", "/market/ticker:ETH-USDT"],
            ),
        ];
        for (protocol, text, expected) in cases {
            assert_eq!(streams(parse(protocol, text)), expected, "{protocol:?}");
        }
    }

    #[test]
    fn venue_pings_are_answered_in_their_shape() {
        use SubscriptionProtocol::*;
        for (protocol, text, reply) in [
            (
                Bybit,
                r#"{"req_id":"9","op":"ping"}"#,
                r#""ret_msg":"pong""#,
            ),
            (
                Kraken,
                r#"{"method":"ping","req_id":3}"#,
                r#""method":"pong""#,
            ),
            (Hyperliquid, r#"{"method":"ping"}"#, r#"{"channel":"pong"}"#),
            (Kucoin, r#"{"id":"p","type":"ping"}"#, r#""type":"pong""#),
        ] {
            match parse(protocol, text) {
                Request::Ping { reply: answer } => assert!(answer.contains(reply), "{answer}"),
                other => panic!("{protocol:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn with_first_puts_the_member_first() {
        assert_eq!(
            with_first(r#"{"a":1}"#, "s", r#""X""#),
            r#"{"s":"X","a":1}"#
        );
        assert_eq!(with_first("{}", "s", r#""X""#), r#"{"s":"X"}"#);
    }
}
