//! Every setting at its extremes builds or is refused with an error naming
//! it; nothing panics, not even a reconnection strategy asking to wait
//! `Duration::MAX`.

mod support;

use std::time::Duration;

use hypersockets::{
    ClientEvent, FixedInterval, Heartbeat, HyperSocketError, LaneConfig, LaneKind, PassThrough,
    Result, TcpKeepalive, WebSocketClient, WebSocketClientBuilder, WithRouter,
};
use hypersockets_testkit::{ExchangeConfig, MockExchange};
use proptest::prelude::*;
use support::{wait_event, within};

const YEAR: Duration = Duration::from_secs(365 * 24 * 60 * 60);
const MAX_QUEUE: usize = 1 << 20;

type Builder = WebSocketClientBuilder<hypersockets::HasUrl, WithRouter<PassThrough>>;

/// A setter under test, by the name its error carries.
type Setter<T> = (&'static str, fn(Builder, T) -> Builder);

fn builder() -> Builder {
    WebSocketClient::builder()
        .url("ws://127.0.0.1:1/ws")
        .router(PassThrough)
}

/// Every duration setter, by the name its error carries.
fn duration_setters() -> Vec<Setter<Duration>> {
    vec![
        ("connect_timeout", |b, d| b.connect_timeout(d)),
        ("handshake_timeout", |b, d| b.handshake_timeout(d)),
        ("auth_timeout", |b, d| b.auth_timeout(d)),
        ("write_timeout", |b, d| b.write_timeout(d)),
        ("close_timeout", |b, d| b.close_timeout(d)),
        ("stable_after", |b, d| b.stable_after(d)),
        ("liveness_timeout", |b, d| b.liveness_timeout(d)),
        ("heartbeat.interval", |b, d| {
            b.heartbeat(Heartbeat::new(d, "ping"))
        }),
        ("integrity.snapshot_timeout", |b, d| {
            b.integrity(hypersockets::Integrity::default().snapshot_timeout(d))
        }),
    ]
}

/// The setting an error names, or `None` when the client was built.
async fn outcome(built: Result<WebSocketClient>) -> Option<&'static str> {
    match built {
        Ok(client) => {
            client.close().await.unwrap();
            None
        }
        Err(HyperSocketError::InvalidConfiguration { setting, .. }) => Some(setting),
        // A thread the system cannot start.
        Err(HyperSocketError::Io(_)) => Some("io"),
        Err(other) => panic!("unexpected error: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durations_over_a_year_are_refused_by_name() {
    for (name, set) in duration_setters() {
        for (value, valid) in [
            (Duration::MAX, false),
            (YEAR + Duration::from_nanos(1), false),
            (YEAR, true),
            (Duration::from_secs(60), true),
        ] {
            let got = outcome(set(builder(), value).build()).await;
            let expected = (!valid).then_some(name);
            assert_eq!(got, expected, "{name} = {value:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_sizes_have_bounds() {
    let setters: [Setter<usize>; 2] = [
        ("writer_queue", |b, n| b.writer_queue(n)),
        ("event_capacity", |b, n| b.event_capacity(n)),
    ];
    for (name, set) in setters {
        for (value, valid) in [
            (0, false),
            (1, true),
            (MAX_QUEUE, true),
            (MAX_QUEUE + 1, false),
            (usize::MAX >> 3, false),
            (usize::MAX, false),
        ] {
            let got = outcome(set(builder(), value).build()).await;
            assert_eq!(got, (!valid).then_some(name), "{name} = {value}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrity_needs_room_and_time_for_a_snapshot() {
    use hypersockets::Integrity;
    let zero_buffer = builder().integrity(Integrity::default().max_buffered(0));
    assert_eq!(
        outcome(zero_buffer.build()).await,
        Some("integrity.max_buffered")
    );
    let no_time = builder().integrity(Integrity::default().snapshot_timeout(Duration::ZERO));
    assert_eq!(
        outcome(no_time.build()).await,
        Some("integrity.snapshot_timeout")
    );
    assert_eq!(
        outcome(builder().integrity(Integrity::off()).build()).await,
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_keepalive_takes_only_what_the_os_takes() {
    let secs = Duration::from_secs;
    let cases = [
        (TcpKeepalive::default(), None),
        (
            TcpKeepalive::default()
                .idle(secs(1))
                .interval(secs(32_767))
                .retries(127),
            None,
        ),
        (
            TcpKeepalive::default().idle(Duration::from_millis(500)),
            Some("tcp_keepalive.idle"),
        ),
        (
            TcpKeepalive::default().idle(secs(32_768)),
            Some("tcp_keepalive.idle"),
        ),
        (
            TcpKeepalive::default().interval(Duration::ZERO),
            Some("tcp_keepalive.interval"),
        ),
        (
            TcpKeepalive::default().interval(Duration::MAX),
            Some("tcp_keepalive.interval"),
        ),
        (
            TcpKeepalive::default().retries(0),
            Some("tcp_keepalive.retries"),
        ),
        (
            TcpKeepalive::default().retries(128),
            Some("tcp_keepalive.retries"),
        ),
        (
            TcpKeepalive::default().retries(u32::MAX),
            Some("tcp_keepalive.retries"),
        ),
    ];
    for (keepalive, expected) in cases {
        let got = outcome(builder().tcp_keepalive(keepalive).build()).await;
        assert_eq!(got, expected, "{keepalive:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_with_userinfo_but_no_host_is_refused() {
    for url in ["ws://user:pw@/ws", "wss://@", "ws://user@?q=1", "ws:///ws"] {
        let built = WebSocketClient::builder()
            .url(url)
            .router(PassThrough)
            .build();
        assert_eq!(outcome(built).await, Some("url"), "{url}");
    }
    let built = WebSocketClient::builder()
        .url("ws://user:pw@127.0.0.1:1/ws")
        .router(PassThrough)
        .build();
    assert_eq!(outcome(built).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lane_settings_have_bounds() {
    for (config, expected) in [
        (
            LaneConfig::default().capacity(usize::MAX),
            Some("lane.capacity"),
        ),
        (
            LaneConfig::default().capacity(MAX_QUEUE + 1),
            Some("lane.capacity"),
        ),
        (LaneConfig::default().capacity(MAX_QUEUE), None),
        (LaneConfig::default().capacity(0), Some("lane.capacity")),
        (
            LaneConfig::default()
                .kind(LaneKind::Thread)
                .thread_stack_size(usize::MAX),
            Some("io"),
        ),
        (
            LaneConfig::default()
                .kind(LaneKind::Thread)
                .thread_stack_size(1 << 50),
            Some("io"),
        ),
        (
            LaneConfig::default()
                .kind(LaneKind::Thread)
                .thread_stack_size(0),
            None,
        ),
        (LaneConfig::default().timing_sample_every(u32::MAX), None),
    ] {
        let built = builder()
            .handler_with_config((), hypersockets::handler_fn(ok), config.clone())
            .build();
        assert_eq!(outcome(built).await, expected, "{config:?}");
    }
}

fn ok(_: hypersockets::WsMessage) -> std::result::Result<(), hypersockets::BoxError> {
    Ok(())
}

/// A strategy that asks to wait `Duration::MAX` leaves the client waiting
/// for good, and `close` still ends it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_delay_of_duration_max_waits_without_panicking() {
    let exchange = MockExchange::start(ExchangeConfig::new()).await.unwrap();
    let client = WebSocketClient::builder()
        .url(exchange.url())
        .router(PassThrough)
        .reconnect(FixedInterval::new(Duration::MAX))
        .build()
        .unwrap();
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    // The exchange may record the connection a moment after the client
    // counts itself connected.
    let control = exchange.control();
    let id = control
        .wait_for_connections(1, support::WAIT)
        .await
        .unwrap();
    control
        .inject(id, hypersockets_testkit::Fault::DropTcp)
        .unwrap();
    let event = wait_event(&mut events, "reconnecting", |event| {
        matches!(event, ClientEvent::Reconnecting { .. })
    })
    .await;
    assert!(matches!(
        event,
        ClientEvent::Reconnecting {
            delay: Duration::MAX,
            ..
        }
    ));
    within("close", client.close()).await.unwrap();
}

/// The longest valid settings connect, run and close without overflowing a
/// deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_everywhere_runs_and_closes() {
    let exchange = MockExchange::start(ExchangeConfig::new()).await.unwrap();
    let mut builder = WebSocketClient::builder()
        .url(exchange.url())
        .router(PassThrough);
    for (name, set) in duration_setters() {
        // The liveness timeout must be longer than the heartbeat interval.
        if name != "heartbeat.interval" && name != "close_timeout" {
            builder = set(builder, YEAR);
        }
    }
    let client = builder
        .heartbeat(Heartbeat::new(YEAR - Duration::from_secs(1), "ping"))
        .build()
        .unwrap();
    within("connect", client.connect()).await.unwrap();
    within("close", client.close()).await.unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any duration, for any setter: built when within bounds, refused by
    /// name otherwise, never a panic.
    #[test]
    fn any_duration_builds_or_is_refused(
        setter in 0..8usize,
        secs in prop_oneof![0..=YEAR.as_secs() + 1, Just(u64::MAX), any::<u64>()],
        nanos in 0..1_000_000_000u32,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (name, set) = duration_setters()[setter];
        let value = Duration::new(secs, nanos);
        let got = runtime.block_on(outcome(set(builder(), value).build()));
        let valid = value <= YEAR && !value.is_zero()
            || (value.is_zero() && matches!(name, "stable_after"));
        // A zero liveness timeout is refused (under 4 ms) too.
        let valid = valid && !(name == "liveness_timeout" && value < Duration::from_millis(4));
        prop_assert_eq!(got, (!valid).then_some(name), "{} = {:?}", name, value);
    }

    /// Any queue size: built when within bounds, refused by name otherwise.
    #[test]
    fn any_queue_size_builds_or_is_refused(size in prop_oneof![0..=MAX_QUEUE + 1, any::<usize>()], which in 0..2usize) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (name, built) = if which == 0 {
            ("writer_queue", builder().writer_queue(size).build())
        } else {
            ("event_capacity", builder().event_capacity(size).build())
        };
        let got = runtime.block_on(outcome(built));
        let valid = (1..=MAX_QUEUE).contains(&size);
        prop_assert_eq!(got, (!valid).then_some(name));
    }
}
