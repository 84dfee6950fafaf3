//! The chaos soak: a client that logs in and subscribes to three streams
//! (two from the builder, one added at run time) talks to the mock exchange
//! through the testkit's `ChaosProxy`, which applies random faults for a
//! bounded time: latency with jitter, bandwidth limits, 1-byte to 64-byte
//! TCP segments, black holes one way or both, and resets. Then the faults
//! stop, the client recovers, and the checks hold whatever the timing:
//!
//! - per connection and stream, the handlers saw exactly a prefix of what
//!   the server wrote, in order, with no duplicate (`check_delivery`), and
//!   all of it on the last connection, closed gracefully;
//! - every connection got the login first and each subscription at most
//!   once; every connection that got anything from the client after its
//!   restored subscriptions (a Ping, the Close) got every one of them, the
//!   last one included.
//!
//! `HYPERSOCKETS_SOAK_SECS` sets how long faults are applied (default 15 s,
//! so the test takes about 20 s; CI sets 120; 1800 on demand).
//! `HYPERSOCKETS_SOAK_SEED` replays a failing run: the seed is printed.

mod recovery;
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hypersockets::{BoxError, FixedInterval, ProtocolPing, WsMessage, handler_fn};
use hypersockets_testkit::{
    ChaosProxy, ConnectionId, ConnectionStatus, Control, Direction, MockExchange, Toxics,
};
use recovery::{ADDED, Login, PRIVATE, PUBLIC, STREAMS, exchange_config};
use support::{Collected, Feed, WAIT, client_builder, subscription, within};

/// How long faults are applied by default.
const DEFAULT_SOAK: Duration = Duration::from_secs(15);
/// Messages of each stream the handlers must get from the last connection
/// before the client is closed.
const AFTER_RECOVERY: usize = 50;
/// The client's protocol Ping: short, so that a black hole is found within
/// about 0.6 s and many happen in a soak.
const PING: Duration = Duration::from_millis(300);
/// The longest a black hole is held: long enough that most are found.
const LONGEST_BLACK_HOLE: u64 = 1_500;

fn soak_duration() -> Duration {
    std::env::var("HYPERSOCKETS_SOAK_SECS")
        .ok()
        .and_then(|secs| secs.parse().ok())
        .map_or(DEFAULT_SOAK, Duration::from_secs)
}

fn seed() -> u64 {
    std::env::var("HYPERSOCKETS_SOAK_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |now| now.as_nanos() as u64)
        })
}

/// One random fault and how long it lasts (pacing the schedule; nothing
/// waits on it to synchronise).
fn random_fault(rng: &mut fastrand::Rng, proxy: &ChaosProxy) -> (&'static str, u64) {
    let ms = |rng: &mut fastrand::Rng, max: u64| Duration::from_millis(rng.u64(0..=max));
    let (name, toxics) = match rng.u8(0..9) {
        0 => ("none", Toxics::new()),
        1 => (
            "latency",
            Toxics::new().latency(ms(rng, 30)).jitter(ms(rng, 30)),
        ),
        2 => (
            "bandwidth",
            Toxics::new().bandwidth(rng.u64(20_000..=400_000)),
        ),
        3 => ("slice", Toxics::new().slice(rng.usize(1..=64))),
        4 => (
            "latency+slice",
            Toxics::new()
                .latency(ms(rng, 5))
                .jitter(ms(rng, 5))
                .slice(rng.usize(1..=16)),
        ),
        5 => {
            let direction = if rng.bool() {
                Direction::Downstream
            } else {
                Direction::Upstream
            };
            ("black hole one way", Toxics::new().black_hole(direction))
        }
        6 => (
            "black hole",
            Toxics::new()
                .black_hole(Direction::Downstream)
                .black_hole(Direction::Upstream),
        ),
        7 => {
            let open = proxy.connections();
            if let Some(id) = (!open.is_empty()).then(|| open[rng.usize(..open.len())]) {
                proxy.reset(id);
            }
            ("reset", proxy.toxics())
        }
        _ => {
            proxy.reset_all();
            ("reset all", Toxics::new().slice(rng.usize(1..=8)))
        }
    };
    let lasts = if name.starts_with("black hole") {
        rng.u64(100..=LONGEST_BLACK_HOLE)
    } else {
        rng.u64(20..=800)
    };
    proxy.set_toxics(toxics);
    (name, lasts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(
    clippy::print_stdout,
    reason = "the seed, shown by cargo test on failure, replays the run"
)]
async fn chaos_soak_delivers_a_prefix_and_restores_every_subscription() {
    let soak = soak_duration();
    let seed = seed();
    // Shown on failure: replay with HYPERSOCKETS_SOAK_SEED.
    println!("chaos soak: {soak:?}, HYPERSOCKETS_SOAK_SEED={seed}");

    let exchange = MockExchange::start(exchange_config()).await.unwrap();
    let control = exchange.control();
    let proxy = ChaosProxy::start(exchange.local_addr(), seed)
        .await
        .unwrap();
    let (data, answers) = (Collected::default(), Collected::default());
    let added = data.clone();
    let client = client_builder(proxy.url("/ws"), &[PUBLIC, PRIVATE], &data, &answers)
        .handler(
            ADDED.to_owned(),
            handler_fn(move |feed: Feed| {
                added.push(feed.text);
                Ok::<_, BoxError>(())
            }),
        )
        .auth(Login)
        .reconnect(FixedInterval::new(Duration::from_millis(20)))
        .protocol_ping(ProtocolPing::default().interval(PING).timeout(PING))
        // Every wait of a connection attempt is bounded well inside a black
        // hole's reach, so one never stalls the soak.
        .connect_timeout(Duration::from_secs(2))
        .handshake_timeout(Duration::from_secs(2))
        .auth_timeout(Duration::from_secs(2))
        .close_timeout(WAIT / 2)
        .build()
        .unwrap();
    // Every event, for the failure messages.
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut events = client.events();
    let logged = Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            logged.lock().unwrap().push(format!("{event:?}"));
        }
    });
    within("connect", client.connect()).await.unwrap();
    client.subscribe(subscription(ADDED)).await.unwrap();
    let first = control.wait_for_connections(1, WAIT).await.unwrap();
    wait_serving(&data, first).await;

    // The faults: paced by sleeps, bounded by the soak's duration.
    let mut rng = fastrand::Rng::with_seed(seed);
    let until = tokio::time::Instant::now() + soak;
    let mut applied = std::collections::BTreeMap::<&str, u32>::new();
    while tokio::time::Instant::now() < until {
        let (name, lasts) = random_fault(&mut rng, &proxy);
        *applied.entry(name).or_default() += 1;
        tokio::time::sleep(Duration::from_millis(lasts)).await;
    }

    // Recovery: no more faults, every open connection reset, and the client
    // must be serving every stream again on its newest connection.
    proxy.set_toxics(Toxics::new());
    proxy.reset_all();
    // Each step is bounded by `WAIT`; a few connections may close on the way.
    let last = tokio::time::timeout(3 * WAIT, wait_last_serving(&control, &proxy, &data))
        .await
        .unwrap_or_else(|_| panic!("seed {seed}: no recovery after the faults"));
    within("close", client.close()).await.unwrap();

    let connections = control.connections();
    assert_eq!(connections.last(), Some(&last), "no connection after close");
    let fully_restored = connections
        .iter()
        .filter(|&&conn| check_restored(&control, conn, conn == last))
        .count();
    let report = control
        .check_delivery(&data.texts())
        .unwrap_or_else(|error| panic!("seed {seed}: not a prefix of what was written: {error}"));
    assert!(
        report.is_complete_on(last),
        "seed {seed}: all of the last connection {last} ({:?}, received {:?}, written {:?}): {:?}; events {:#?}",
        control.status(last),
        control
            .recent_received(last)
            .messages
            .iter()
            .rev()
            .take(3)
            .collect::<Vec<_>>(),
        control
            .recent_written(last)
            .messages
            .iter()
            .rev()
            .take(2)
            .map(|m| format!("{m:?}").chars().take(80).collect::<String>())
            .collect::<Vec<_>>(),
        report
            .streams
            .iter()
            .filter(|d| d.connection == last)
            .collect::<Vec<_>>(),
        tail(&log.lock().unwrap(), 12),
    );
    assert_eq!(client.metrics().router.all_parse_errors(), 0);
    assert_eq!(client.metrics().router.handler_failures(), 0);
    println!(
        "chaos soak: faults {applied:?}; {} reconnects, {} connections ({fully_restored} seen past their restore) through {} proxied, {} messages delivered",
        client.metrics().connection.reconnects,
        connections.len(),
        proxy.connection_count(),
        report.delivered()
    );
    exchange.shutdown().await;
}

fn tail(lines: &[String], n: usize) -> &[String] {
    &lines[lines.len().saturating_sub(n)..]
}

/// Waits until the handlers got `AFTER_RECOVERY` messages of every stream
/// from `conn`. Each wake-up reads only the texts added since the last.
async fn wait_serving(data: &Collected, conn: ConnectionId) {
    let heads = STREAMS.map(|stream| format!(r#"{{"stream":"{stream}","conn":{},"#, conn.get()));
    let seen = std::cell::RefCell::new((0, [0; STREAMS.len()]));
    data.wait_until(&format!("every stream delivered from {conn}"), |texts| {
        let (read, counts) = &mut *seen.borrow_mut();
        for text in &texts[*read..] {
            if let Some(at) = heads.iter().position(|head| text.starts_with(head)) {
                counts[at] += 1;
            }
        }
        *read = texts.len();
        counts.iter().all(|&count| count >= AFTER_RECOVERY)
    })
    .await;
}

/// Waits until the newest connection is open with every subscription, not
/// reset by the proxy, and serves every stream to the handlers, and
/// returns it. One that closes meanwhile (found dead a moment before the
/// faults stopped) gives way to the next.
///
/// The exchange learns of a reset only when the RST reaches it: until then
/// a connection the proxy has just reset still looks open there (and may
/// have served every stream already), so the proxy is asked too.
async fn wait_last_serving(
    control: &Control,
    proxy: &ChaosProxy,
    data: &Collected,
) -> ConnectionId {
    let mut all = STREAMS.map(str::to_owned).to_vec();
    all.sort_unstable();
    let through_proxy = |c: &Control, conn: ConnectionId| {
        c.connection(conn).is_some_and(|info| {
            proxy
                .connections()
                .into_iter()
                .any(|id| proxy.upstream_addr(id) == Some(info.peer))
        })
    };
    loop {
        control
            .wait_until("a connection open with every subscription", WAIT, |c| {
                c.latest_connection().is_some_and(|conn| {
                    let mut now = c.subscriptions(conn);
                    now.sort_unstable();
                    c.status(conn) == Some(ConnectionStatus::Open)
                        && now == all
                        && through_proxy(c, conn)
                })
            })
            .await
            .unwrap();
        let conn = control.latest_connection().unwrap();
        tokio::select! {
            () = wait_serving(data, conn) => {
                if through_proxy(control, conn) {
                    return conn;
                }
            }
            closed = control.wait_for_close(conn, WAIT) => {
                closed.unwrap();
            }
        }
    }
}

/// The login came first, each subscription at most once; all of them once
/// when the client was seen to go on after restoring them (anything it
/// sent after its last SUBSCRIBE), and on the last connection. Returns
/// whether all were checked to be there.
fn check_restored(control: &Control, conn: ConnectionId, last: bool) -> bool {
    let received = control.received(conn).unwrap();
    let texts: Vec<&str> = received.iter().filter_map(WsMessage::as_text).collect();
    if let Some(first) = texts.first() {
        assert!(first.contains("session.logon"), "{conn}: {texts:?}");
    }
    let is_subscribe = |m: &WsMessage| m.as_text().is_some_and(|t| t.contains(r#""SUBSCRIBE""#));
    // The client restores every subscription before it sends anything else
    // (Pings, its Close): something after the last SUBSCRIBE proves they
    // were all sent on this connection.
    let went_on = received
        .iter()
        .rposition(is_subscribe)
        .is_some_and(|at| at + 1 < received.len());
    let all = last || went_on;
    for stream in STREAMS {
        let subscribes = texts
            .iter()
            .filter(|t| t.contains(r#""SUBSCRIBE""#) && t.contains(&format!(r#"["{stream}"]"#)))
            .count();
        if all {
            assert_eq!(subscribes, 1, "{conn}, {stream}: {texts:?}");
        } else {
            assert!(subscribes <= 1, "{conn}, {stream}: {texts:?}");
        }
    }
    all
}
