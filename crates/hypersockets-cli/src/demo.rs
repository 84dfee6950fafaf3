//! `hypersockets demo`: the watch view against an embedded mock exchange
//! (the testkit's emulation of Binance spot on 127.0.0.1, no internet):
//! four streams, one lane each, and faults every few seconds: a dropped
//! connection, a dropped connection whose reconnect is refused, a close
//! for a service restart.

use std::time::Duration;

use hypersockets::{
    BoxError, CloseCode, ExponentialBackoff, Integrity, SnapshotSource, StreamId, StreamSnapshot,
    WsMessage,
};
use hypersockets_testkit::{
    Control, Emulation, ExchangeConfig, Fault, MockExchange, Rate, StreamConfig,
};

use crate::monitor::{Outcome, Settings};
use crate::watch::{self, Target};

/// The streams and their rates (messages a second).
const STREAMS: [(&str, u32); 4] = [
    ("btcusdt@trade", 400),
    ("btcusdt@depth", 100),
    ("ethusdt@trade", 150),
    ("btcusdt@ticker", 2),
];

/// When the first fault comes, and then how often.
const FIRST_FAULT: Duration = Duration::from_millis(1_500);
const FAULT_EVERY: Duration = Duration::from_secs(5);

/// Starts the mock exchange, watches it with the Binance spot profile,
/// and misbehaves on schedule, until the view ends.
///
/// # Errors
///
/// When the exchange cannot start or the client cannot be built, or the
/// view cannot be shown.
pub(crate) async fn run(plain: bool, duration: Option<Duration>) -> Result<Outcome, BoxError> {
    let mut config = ExchangeConfig::new().emulate(Emulation::BinanceSpot);
    for (name, rate) in STREAMS {
        let stream = if name.ends_with("@ticker") {
            StreamConfig::tickers(name)
        } else if name.ends_with("@depth") {
            StreamConfig::book_deltas(name)
        } else {
            StreamConfig::trades(name)
        };
        // Numbered by the venue, as Binance's trade and update ids are:
        // the numbers go on across reconnections.
        config = config.stream(stream.rate(Rate::PerSecond(rate)).global(true));
    }
    let exchange = MockExchange::start(config).await?;
    let target = Target {
        url: Some(exchange.url()),
        profile: Some("binance-spot".to_owned()),
        subscribe: STREAMS.iter().map(|(name, _)| (*name).to_owned()).collect(),
        reconnect: ExponentialBackoff::default().initial(Duration::from_millis(200)),
        // The book resynchronised Binance's way after a gap: a REST
        // snapshot, the diffs meanwhile buffered and replayed after it.
        integrity: Integrity::default().snapshots(snapshots(exchange.control())),
    };
    let watched = watch::build(&target, watch::Build::Live)?;
    let faults = tokio::spawn(misbehave(exchange.control()));
    let settings = Settings {
        title: format!("demo: mock exchange, {}", watched.title),
        plain,
        duration,
    };
    let outcome = watch::show(watched, &settings).await;
    faults.abort();
    exchange.shutdown().await;
    outcome
}

/// How long the mock's "REST" snapshot takes to come.
const ROUND_TRIP: Duration = Duration::from_millis(50);

/// Book snapshots from the mock exchange, as a program fetches them from
/// Binance's REST API (`GET /api/v3/depth`): numbered by their
/// `lastUpdateId`, in the envelope the profile's router reads the topic of.
fn snapshots(control: Control) -> impl SnapshotSource {
    move |_: StreamId, topic: Option<String>| {
        let control = control.clone();
        async move {
            let topic = topic.ok_or("a stream that is no subscribed topic")?;
            let rest = control
                .book_snapshot(&topic, None)
                .ok_or_else(|| format!("no book for {topic}"))?;
            tokio::time::sleep(ROUND_TRIP).await;
            let number = serde_json::from_str::<serde_json::Value>(&rest)?["lastUpdateId"]
                .as_u64()
                .ok_or("a snapshot without lastUpdateId")?;
            let message = format!(r#"{{"stream":"{topic}","snapshot":{rest}}}"#);
            Ok::<_, BoxError>(StreamSnapshot::new(number, WsMessage::text(message)))
        }
    }
}

/// The faults, in turn, every [`FAULT_EVERY`] after [`FIRST_FAULT`].
async fn misbehave(control: Control) {
    tokio::time::sleep(FIRST_FAULT).await;
    for turn in 0u64.. {
        if let Some(connection) = control.latest_connection() {
            let fault = match turn % 3 {
                0 => Fault::DropTcp,
                1 => {
                    control.refuse_connections(1);
                    Fault::DropTcp
                }
                _ => Fault::close(CloseCode::RESTART, "service restart"),
            };
            // A connection already gone needs no fault.
            let _ = control.inject(connection, fault);
        }
        tokio::time::sleep(FAULT_EVERY).await;
    }
}
