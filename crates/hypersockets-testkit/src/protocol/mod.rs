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
/// tagged envelope of [`StreamKind`](crate::StreamKind)), trades being the
/// venue's own trade objects with the trade id carrying the sequence number
/// (see [`StreamConfig::venue_message`](crate::StreamConfig::venue_message)).
/// A stream's name
/// is the topic as the client names it in its request; each variant says
/// how its requests map to names. Logins are emulated for Binance, OKX,
/// Bybit and HTX v2; Coinbase checks the JWT of each subscribe instead
/// (see [`AuthConfig::es256_public_key`](crate::AuthConfig::es256_public_key)).
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
    /// answered `{"type":"error","message":"Failed to subscribe: …"}`. A
    /// private stream (`user`) is subscribed only by a request whose own
    /// `"jwt"` is valid (see
    /// [`AuthConfig::es256_public_key`](crate::AuthConfig::es256_public_key)),
    /// else refused `{"type":"error","message":"authentication failure"}`.
    /// Data: `{"channel":…,"events":[{"type":"update","product_id":…,…}],…}`
    /// (`level2` arrives as channel `l2_data`); trades
    /// `{"channel":"market_trades","events":[{"type":"update","trades":[{"trade_id":…,"product_id":…,…}]}],…}`.
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
    /// Data: `{"channel":…,"data":{"coin":"BTC",…}}`; trades
    /// `{"channel":"trades","data":[{"coin":"BTC",…,"tid":…}]}`.
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
    /// HTX (Huobi) v2, the asset and order endpoint. Streams are channels
    /// (`orders#btcusdt`, `trade.clearing#btcusdt#0`; a bare
    /// `accounts.update` is `accounts.update#0`, as HTX answers it).
    ///
    /// | client | server |
    /// | --- | --- |
    /// | `{"action":"req","ch":"auth","params":{"authType":"api","accessKey":K,"signatureMethod":"HmacSHA256","signatureVersion":"2.1","timestamp":T,"signature":S}}` | `{"action":"req","code":200,"ch":"auth","data":{}}` or `{"action":"req","code":2002,"ch":"auth","message":"auth.fail"}` |
    /// | `{"action":"sub","ch":"orders#btcusdt"}` | `{"action":"sub","code":200,"ch":"orders#btcusdt","data":{}}` |
    /// | `{"action":"unsub","ch":…}` | `{"action":"unsub","code":200,"ch":…,"data":{}}` |
    /// | `{"action":"pong","data":{"ts":N}}` | (nothing) |
    ///
    /// The login's [`LoginRequest`] has the access key, timestamp and
    /// signature (verify it with
    /// [`AuthConfig::verify_with`](crate::AuthConfig::verify_with)); an
    /// `authType` other than `api`, a missing parameter or another method
    /// or version is answered code 2001 (`invalid.authType`,
    /// `missing.param.auth`). A private stream before the login is refused
    /// `{"action":"sub","code":2002,"ch":…,"message":"invalid.auth.state"}`,
    /// an unknown one code 2001 `invalid.ch`. Data:
    /// `{"action":"push","ch":…,"data":{…}}`, trades as
    /// `trade.clearing`'s (`"tradeId"` the sequence number). Uncompressed.
    HtxV2,
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
    /// Data: `{"type":"message","topic":…,"subject":…,"data":{…}}`, subject
    /// `trade.l3match` for trades.
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
    /// The payload: the venue's own trade object from
    /// [`SubscriptionProtocol::trade`] when `trade`, else a Binance-like
    /// object, `{…}`.
    pub(crate) data: &'a str,
    /// Whether `data` is the venue's trade object (some envelopes differ
    /// for trades).
    pub(crate) trade: bool,
}

/// One trade, for a venue to write in its own shape. Every field is a
/// function of the sequence number, so texts are deterministic.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Trade<'a> {
    /// The venue's trade id (or sequence, where the venue numbers trades
    /// that way).
    pub(crate) seq: u64,
    /// Milliseconds since the Unix epoch.
    pub(crate) time: u64,
    /// A decimal, e.g. `49979.19`: valid as a JSON number too.
    pub(crate) price: &'a str,
    /// A decimal, e.g. `0.834`: valid as a JSON number too.
    pub(crate) quantity: &'a str,
    /// The taker sold (the buyer was the maker).
    pub(crate) sell: bool,
    /// The instrument, in the venue's syntax (not JSON-quoted).
    pub(crate) symbol: &'a str,
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

/// `ms` (milliseconds since the Unix epoch) as an RFC 3339 UTC time with
/// microseconds, as Kraken and Coinbase write times:
/// `2023-11-14T22:13:20.001000Z`.
fn rfc3339(ms: u64) -> String {
    let at = i64::try_from(ms / 1_000)
        .ok()
        .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        ms % 1_000 * 1_000
    )
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
            Self::HtxV2 => htx::v2::parse(value),
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
            Self::HtxV2 => htx::v2::acks(subscribe, items),
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
            Self::Coinbase => coinbase::refusal(item, refusal),
            Self::Hyperliquid => hyperliquid::refusal(item),
            Self::Htx => htx::refusal(id, item),
            Self::HtxV2 => htx::v2::refusal(item, refusal),
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
            Self::HtxV2 => htx::v2::invalid(id, reason),
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

    /// The answer to a login (Binance, OKX, Bybit and HTX v2; the others
    /// parse none).
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
            Self::HtxV2 => htx::v2::login_answer(ok),
            other => other.invalid(id, "login is not emulated", cx),
        }
    }

    /// Whether each subscribe request authenticates itself (Coinbase's
    /// `jwt`), rather than a login the connection.
    pub(crate) fn authenticates_requests(self) -> bool {
        self == Self::Coinbase
    }

    /// Whether `value` is the client's answer to the venue's own
    /// application ping, taken without an answer (HTX v2's
    /// `{"action":"pong",…}`; other venues' pongs are keepalive's).
    pub(crate) fn is_pong(self, value: Option<&Value>) -> bool {
        match (self, value) {
            (Self::HtxV2, Some(value)) => htx::v2::is_pong(value),
            _ => false,
        }
    }

    /// What the server says first on a new connection, if anything.
    pub(crate) fn welcome(self, cx: Context<'_>) -> Option<String> {
        match self {
            Self::Kucoin => Some(kucoin::welcome(cx)),
            _ => None,
        }
    }

    /// The instrument a stream named `name` is about, in the venue's
    /// syntax: `publicTrade.BTCUSDT` → `BTCUSDT` (Bybit), else as
    /// [`StreamConfig::symbol`](crate::StreamConfig::symbol) says
    /// (`btcusdt@trade` → `BTCUSDT`, `trades:BTC-USDT` → `BTC-USDT`).
    pub(crate) fn instrument(self, name: &str) -> String {
        match (self, name.rsplit_once('.')) {
            (Self::Bybit, Some((_, symbol))) => symbol.to_owned(),
            (Self::HtxV2, _) => {
                htx::v2::instrument(name).unwrap_or_else(|| crate::stream::symbol_of(name))
            }
            _ => crate::stream::symbol_of(name),
        }
    }

    /// A trade in the venue's documented shape, its trade id field (or
    /// Bybit's per-symbol `seq`) carrying `trade.seq`: the payload that
    /// [`push`](Self::push) wraps.
    pub(crate) fn trade(self, trade: &Trade<'_>) -> Option<String> {
        match self {
            // Binance's trade is the built-in payload.
            Self::Binance => None,
            Self::Okx => Some(okx::trade(trade)),
            Self::Bybit => Some(bybit::trade(trade)),
            Self::Kraken => Some(kraken::trade(trade)),
            Self::Coinbase => Some(coinbase::trade(trade)),
            Self::Hyperliquid => Some(hyperliquid::trade(trade)),
            Self::Htx => Some(htx::trade(trade)),
            Self::HtxV2 => Some(htx::v2::trade(trade)),
            Self::Kucoin => Some(kucoin::trade(trade)),
        }
    }

    /// The venue's documented notice that the server will soon close the
    /// connection, sent at `time` (ms since the Unix epoch), if the venue
    /// has one: OKX's `64008` notice, Binance's `serverShutdown` event.
    pub(crate) fn shutdown_notice(self, cx: Context<'_>, time: u64) -> Option<String> {
        match self {
            Self::Okx => Some(okx::shutdown_notice(cx)),
            Self::Binance => Some(binance::shutdown_notice(time)),
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
            Self::HtxV2 => htx::v2::push(push),
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
    fn rfc3339_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(1_700_000_000_005), "2023-11-14T22:13:20.005000Z");
        // A leap day, and the day after.
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000000Z");
        assert_eq!(rfc3339(951_868_799_999), "2000-02-29T23:59:59.999000Z");
        assert_eq!(rfc3339(951_868_800_000), "2000-03-01T00:00:00.000000Z");
        assert_eq!(rfc3339(1_704_067_199_000), "2023-12-31T23:59:59.000000Z");
        // Far out: no panic.
        let _ = rfc3339(u64::MAX);
    }

    #[test]
    fn shutdown_notices() {
        let cx = Context {
            conn: "0000abcd",
            active: &[],
        };
        assert_eq!(
            SubscriptionProtocol::Okx.shutdown_notice(cx, 0).unwrap(),
            r#"{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":"0000abcd"}"#
        );
        assert_eq!(
            SubscriptionProtocol::Binance
                .shutdown_notice(cx, 1_700_000_000_000)
                .unwrap(),
            r#"{"event":{"e":"serverShutdown","E":1700000000000}}"#
        );
        for quiet in [
            SubscriptionProtocol::Bybit,
            SubscriptionProtocol::Kraken,
            SubscriptionProtocol::Coinbase,
            SubscriptionProtocol::Hyperliquid,
            SubscriptionProtocol::Htx,
            SubscriptionProtocol::Kucoin,
        ] {
            assert_eq!(quiet.shutdown_notice(cx, 0), None, "{quiet:?}");
        }
    }

    #[test]
    fn instruments_in_the_venues_syntax() {
        use SubscriptionProtocol::*;
        assert_eq!(Binance.instrument("btcusdt@trade"), "BTCUSDT");
        assert_eq!(Bybit.instrument("publicTrade.BTCUSDT"), "BTCUSDT");
        assert_eq!(Okx.instrument("trades:BTC-USDT"), "BTC-USDT");
        assert_eq!(Kraken.instrument("trade:BTC/USD"), "BTC/USD");
        assert_eq!(Kucoin.instrument("/market/match:BTC-USDT"), "BTC-USDT");
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
