//! OKX style: log in on every connection, then a private stream; keep the
//! connection alive with a text `ping` every few seconds (OKX cuts off a
//! client that sends nothing for 30 s), and find a dead connection by the
//! silence that follows.
//!
//! - The login comes from an [`AuthProvider`]: asked afresh on every
//!   connect, so each login carries a new timestamp and signature. The
//!   client waits for the server's verdict before it subscribes, so the
//!   private `orders` channel, refused before login, is restored after
//!   every reconnect.
//! - The heartbeat sends `ping`; the server's `pong` is recognised as the
//!   reply and consumed, never parsed.
//! - Half-way the server goes silent without closing (a half-open TCP
//!   connection). Nothing arrives, the liveness timeout declares the
//!   connection dead, and the client reconnects and logs in again.
//!
//! ```sh
//! cargo run --release --example okx_login_heartbeat
//! ```

#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hypersockets::DisconnectReason;
use hypersockets::prelude::*;
use hypersockets_examples::{EventLog, ensure, okx_subscription, parse_json, wait_until};
use hypersockets_testkit::{
    AuthConfig, CloseCause, ConnectionId, ConnectionStatus, Control, ExchangeConfig, Fault,
    KeepaliveConfig, MockExchange, Rate, StreamConfig, SubscriptionProtocol,
};
use serde::Deserialize;

const API_KEY: &str = "demo-api-key";
const SECRET: &str = "demo-secret";
const PASSPHRASE: &str = "demo-passphrase";
/// The client's heartbeat interval (OKX: under 30 s; the mock: short).
const HEARTBEAT: Duration = Duration::from_millis(250);
/// Silence after which the client gives the connection up.
const LIVENESS: Duration = Duration::from_millis(1_000);
/// The server closes a connection whose client sends nothing this long.
const IDLE_CUTOFF: Duration = Duration::from_millis(800);
/// Order updates to see on each connection before moving on.
const ORDERS: u64 = 10;

/// Stands in for OKX's `base64(HMAC-SHA256(timestamp + "GET" +
/// "/users/self/verify", secret))`: the point is that it depends on the
/// timestamp, so every login is signed afresh.
fn sign(timestamp: &str, secret: &str) -> String {
    let mut hasher = DefaultHasher::new();
    (timestamp, "GET", "/users/self/verify", secret).hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// Logs in with OKX's `{"op":"login",…}` and reads its answer.
struct OkxLogin {
    api_key: String,
    secret: String,
    passphrase: String,
}

/// OKX's answers and notices: `{"event":"login","code":"0",…}`.
#[derive(Debug, Deserialize)]
struct OkxEvent {
    event: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    msg: String,
}

impl AuthProvider for OkxLogin {
    fn login_messages(&self) -> BoxFuture<'_, Result<Vec<WsMessage>, BoxError>> {
        Box::pin(async move {
            let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
            let timestamp = format!("{}.{:03}", now.as_secs(), now.subsec_millis());
            let login = serde_json::json!({
                "op": "login",
                "args": [{
                    "apiKey": self.api_key,
                    "passphrase": self.passphrase,
                    "timestamp": timestamp,
                    "sign": sign(&timestamp, &self.secret),
                }],
            });
            Ok(vec![WsMessage::text(login.to_string())])
        })
    }

    fn awaits_response(&self) -> bool {
        true
    }

    fn verdict(&self, message: &WsMessage) -> AuthVerdict {
        let Ok(answer) = parse_json::<OkxEvent>(message) else {
            return AuthVerdict::Unrelated;
        };
        match (answer.event.as_str(), answer.code.as_str()) {
            ("login", "0") => AuthVerdict::Accepted,
            // 60009 login failed, 60005 invalid key, …: the same
            // credentials will not do better next time.
            ("error", code) if code.starts_with("600") => AuthVerdict::Rejected {
                reason: format!("{code}: {}", answer.msg),
                fatal: true,
            },
            _ => AuthVerdict::Unrelated,
        }
    }
}

/// `{"arg":{"channel":…},"data":[…]}`: a push on a channel.
#[derive(Debug, Deserialize)]
struct Push<D> {
    data: Vec<D>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OkxTrade {
    inst_id: String,
    px: String,
    sz: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OkxOrder {
    ord_id: String,
    side: String,
    acc_fill_sz: String,
    state: String,
}

/// Just enough of a message to tell what it is.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow)]
    event: Option<&'a str>,
    #[serde(borrow)]
    arg: Option<ArgHead<'a>>,
}

#[derive(Deserialize)]
struct ArgHead<'a> {
    channel: &'a str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Channel {
    Trades,
    Orders,
    Events,
}

#[derive(Debug)]
enum Okx {
    Trades(Vec<OkxTrade>),
    Orders(Vec<OkxOrder>),
    Event(OkxEvent),
}

struct OkxRouter;

impl MessageRouter for OkxRouter {
    type Message = Okx;
    type RouteKey = Channel;

    fn parse(&self, message: &WsMessage) -> Result<Okx, ParseError> {
        let head: Head<'_> = parse_json(message)?;
        match (head.event, head.arg.map(|arg| arg.channel)) {
            (Some(_), _) => Ok(Okx::Event(parse_json(message)?)),
            (None, Some("trades")) => Ok(Okx::Trades(parse_json::<Push<_>>(message)?.data)),
            (None, Some("orders")) => Ok(Okx::Orders(parse_json::<Push<_>>(message)?.data)),
            _ => Err(ParseError::new("unknown OKX message")),
        }
    }

    fn route_key(&self, message: &Okx) -> Channel {
        match message {
            Okx::Trades(_) => Channel::Trades,
            Okx::Orders(_) => Channel::Orders,
            Okx::Event(_) => Channel::Events,
        }
    }
}

/// The private lane's handler: fills per side, in a struct it owns.
struct Fills {
    filled: HashMap<String, f64>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl MessageHandler<Okx> for Fills {
    async fn handle(&mut self, message: Okx) -> Result<(), BoxError> {
        let Okx::Orders(orders) = message else {
            return Ok(());
        };
        for order in orders {
            if order.state == "filled" {
                *self.filled.entry(order.side).or_default() += order.acc_fill_sz.parse::<f64>()?;
            }
            self.seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(order.ord_id);
        }
        Ok(())
    }
}

/// The mock's OKX-shaped public trades: `{"arg":…,"data":[{…}]}`.
fn okx_trade(name: &str, conn: ConnectionId, seq: u64) -> String {
    let (channel, inst) = name.split_once(':').unwrap_or((name, "BTC-USDT"));
    let tenths = 500_000 + seq * 37 % 500;
    format!(
        r#"{{"arg":{{"channel":"{channel}","instId":"{inst}"}},"data":[{{"instId":"{inst}","tradeId":"{}{seq:06}","px":"{}.{}","sz":"0.0{}","side":"buy","ts":"{}"}}]}}"#,
        conn.get(),
        tenths / 10,
        tenths % 10,
        seq % 9 + 1,
        1_700_000_000_000 + seq,
    )
}

/// The mock's OKX-shaped private order updates.
fn okx_order(_: &str, conn: ConnectionId, seq: u64) -> String {
    let side = if seq.is_multiple_of(2) { "buy" } else { "sell" };
    format!(
        r#"{{"arg":{{"channel":"orders","instType":"SPOT"}},"data":[{{"instId":"BTC-USDT","ordId":"{}-{seq}","side":"{side}","px":"50000.0","sz":"0.01","accFillSz":"0.01","state":"filled"}}]}}"#,
        conn.get(),
    )
}

fn stats(control: &Control, conn: ConnectionId) -> Option<hypersockets_testkit::KeepaliveStats> {
    control.connection(conn).map(|info| info.keepalive)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // 1. The exchange: OKX protocol, a login checked by recomputing the
    //    signature over the request's timestamp, a public and a private
    //    channel, text pings answered, and an idle cutoff.
    let logins = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen_logins = Arc::clone(&logins);
    let exchange = MockExchange::start(
        ExchangeConfig::new()
            .protocol(SubscriptionProtocol::Okx)
            .auth(AuthConfig::new(API_KEY, "").verify_with(move |login| {
                let timestamp = login.timestamp.clone().unwrap_or_default();
                let ok = login.api_key == API_KEY
                    && login.passphrase.as_deref() == Some(PASSPHRASE)
                    && login.signature == sign(&timestamp, SECRET);
                seen_logins
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(timestamp);
                ok
            }))
            .stream(StreamConfig::custom("trades:BTC-USDT", okx_trade).rate(Rate::PerSecond(40)))
            .stream(
                StreamConfig::custom("orders", okx_order)
                    .private(true)
                    .rate(Rate::PerSecond(20)),
            )
            .keepalive(KeepaliveConfig::new().idle_timeout(IDLE_CUTOFF)),
    )
    .await?;
    let control = exchange.control();
    println!("mock OKX on {}", exchange.url());

    // 2. The client.
    let trades = Arc::new(Mutex::new(HashMap::<String, (u64, f64)>::new()));
    let volume = Arc::clone(&trades);
    let orders = Arc::new(Mutex::new(Vec::new()));
    let client = WebSocketClient::builder()
        .url(exchange.url())
        .router(OkxRouter)
        .auth(OkxLogin {
            api_key: API_KEY.to_owned(),
            secret: SECRET.to_owned(),
            passphrase: PASSPHRASE.to_owned(),
        })
        .subscribe(okx_subscription("trades", Some("BTC-USDT")))
        .subscribe(okx_subscription("orders", None))
        .heartbeat(Heartbeat::new(HEARTBEAT, "ping").reply("pong"))
        .liveness_timeout(LIVENESS)
        .handler(
            Channel::Trades,
            handler_fn(move |message: Okx| {
                if let Okx::Trades(batch) = message {
                    let mut volume = volume.lock().unwrap_or_else(PoisonError::into_inner);
                    for trade in batch {
                        let notional = trade.px.parse::<f64>()? * trade.sz.parse::<f64>()?;
                        let (count, total) = volume.entry(trade.inst_id).or_default();
                        *count += 1;
                        *total += notional;
                    }
                }
                Ok::<_, BoxError>(())
            }),
        )
        .handler(
            Channel::Orders,
            Fills {
                filled: HashMap::new(),
                seen: Arc::clone(&orders),
            },
        )
        .handler(
            Channel::Events,
            handler_fn(|message: Okx| {
                match message {
                    Okx::Event(event) if event.code.is_empty() => {
                        println!("  [okx] {}", event.event);
                    }
                    Okx::Event(event) => {
                        println!("  [okx] {} {}: {}", event.event, event.code, event.msg);
                    }
                    _ => {}
                }
                Ok::<_, BoxError>(())
            }),
        )
        .build()?;
    let mut events = EventLog::spawn("client", client.events());
    let orders_on = |conn: u64| {
        let prefix = format!("{conn}-");
        let seen = orders.lock().unwrap_or_else(PoisonError::into_inner);
        seen.iter().filter(|id| id.starts_with(&prefix)).count() as u64
    };

    // 3. Log in, subscribe, and stay alive past the idle cutoff.
    client.connect().await?;
    let first = ConnectionId::new(0);
    println!("connected and logged in; the private channel flows");
    wait_until(
        "order updates and answered pings",
        Duration::from_secs(5),
        || {
            orders_on(0) >= ORDERS
                && stats(&control, first).is_some_and(|s| s.client_pings_answered >= 4)
        },
    )
    .await?;
    let quiet_heartbeats = stats(&control, first).map_or(0, |s| s.client_pings_answered);
    println!(
        "  {quiet_heartbeats} pings answered so far: the {IDLE_CUTOFF:?} idle cutoff never hit"
    );

    // 4. The server goes silent, keeping the socket: only the liveness
    //    timeout can tell.
    println!("server goes half-open…");
    control.inject(first, Fault::HalfOpen)?;
    let second = control
        .wait_for_connections(2, Duration::from_secs(5))
        .await?;
    wait_until(
        "order updates after the reconnect",
        Duration::from_secs(5),
        || orders_on(second.get()) >= ORDERS,
    )
    .await?;
    let first_status = control.status(first);
    client.close().await?;
    events.finish().await;

    // 5. What happened.
    let metrics = client.metrics();
    let logins = logins
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    println!();
    println!("logins seen by the server (timestamps): {logins:?}");
    println!(
        "orders on connection #0: {}, on {second}: {}",
        orders_on(0),
        orders_on(second.get()),
    );
    for (inst, (count, notional)) in trades.lock().unwrap_or_else(PoisonError::into_inner).iter() {
        println!("public trades {inst}: {count}, {notional:.2} USDT");
    }
    println!(
        "client: {} messages received, {} sent (heartbeats included), {} reconnects, {} parse errors",
        metrics.connection.messages_received,
        metrics.connection.messages_sent,
        metrics.connection.reconnects,
        metrics.router.all_parse_errors(),
    );
    println!("first connection: {first_status:?}");
    exchange.shutdown().await;

    ensure(
        events.count(|e| matches!(e, ClientEvent::Authenticated)) == 2 && logins.len() == 2,
        "a login on each connection",
    )?;
    ensure(
        logins[0] != logins[1],
        "each login signed with a fresh timestamp",
    )?;
    ensure(
        control.is_authenticated(second),
        "the second connection logged in",
    )?;
    ensure(
        events.count(|e| {
            matches!(
                e,
                ClientEvent::Disconnected {
                    reason: DisconnectReason::LivenessTimeout(_)
                }
            )
        }) == 1,
        "the silent connection found dead by the liveness timeout",
    )?;
    ensure(
        first_status == Some(ConnectionStatus::Silent)
            && control.status(first)
                == Some(ConnectionStatus::Closed(CloseCause::Fault(Fault::HalfOpen))),
        "the first connection cut by the fault, not by the idle cutoff",
    )?;
    ensure(
        metrics.router.all_parse_errors() == 0,
        "every pong consumed by the heartbeat, none parsed",
    )
}
