//! Half-open connections are found by default: a protocol Ping after a
//! silence (dead when nothing answers), and OS TCP keepalive on the
//! socket. Both can be tuned and switched off. (That the transport sets
//! the keepalive on its socket is in the conformance suite's `socket.rs`.)

mod event_log;
mod support;

use std::time::Duration;

use hypersockets::{
    ConnectRequest, Heartbeat, ProtocolPing, TcpKeepalive, WebSocketClient, WebSocketClientBuilder,
    WsMessage,
};
use hypersockets_testkit::{
    ConnectionId, ConnectionStatus, Control, ExchangeConfig, Fault, MockExchange,
};
use support::{Collected, WAIT, client_for, wait_event, within};

/// Shortened protocol ping settings: generous next to a loaded machine's
/// scheduling delays, short next to `WAIT`.
const PING: Duration = Duration::from_millis(100);
const PING_TIMEOUT: Duration = Duration::from_millis(300);

fn pings_received(control: &Control, conn: ConnectionId) -> usize {
    control
        .received(conn)
        .unwrap()
        .iter()
        .filter(|m| matches!(m, WsMessage::Ping(_)))
        .count()
}

#[test]
fn the_defaults_are_on_with_python_websockets_values() {
    let ping = ProtocolPing::default();
    assert_eq!(ping.interval, Duration::from_secs(20));
    assert_eq!(ping.timeout, Duration::from_secs(20));
    let tcp = TcpKeepalive::default();
    assert_eq!(tcp.idle, Duration::from_secs(30));
    assert_eq!(tcp.interval, Duration::from_secs(10));
    assert_eq!(tcp.retries, 3);
    assert_eq!(
        ConnectRequest::new("ws://127.0.0.1:9/ws").tcp_keepalive,
        Some(tcp)
    );
    // And an untouched builder uses both.
    let builder = WebSocketClient::builder()
        .url("ws://127.0.0.1:9/ws")
        .router(hypersockets::PassThrough);
    let shown = format!("{builder:?}");
    assert!(
        shown.contains(&format!("protocol_ping: Some({ping:?})")),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("tcp_keepalive: Some({tcp:?})")),
        "{shown}"
    );
}

#[test]
fn protocol_ping_durations_under_4_ms_are_refused() {
    for (ping, setting) in [
        (
            ProtocolPing::default().interval(Duration::from_millis(3)),
            "protocol_ping.interval",
        ),
        (
            ProtocolPing::default().timeout(Duration::ZERO),
            "protocol_ping.timeout",
        ),
    ] {
        let error = WebSocketClient::builder()
            .url("ws://127.0.0.1:9/ws")
            .router(hypersockets::PassThrough)
            .protocol_ping(ping)
            .build()
            .unwrap_err();
        assert!(
            matches!(error, hypersockets::HyperSocketError::InvalidConfiguration { setting: s, .. } if s == setting),
            "{error:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_gone_half_open_is_found_by_the_protocol_ping_and_replaced() {
    let exchange = MockExchange::start(ExchangeConfig::new()).await.unwrap();
    let control = exchange.control();
    let client = client_for(&exchange, &[], &Collected::default(), &Collected::default())
        .protocol_ping(ProtocolPing::default().interval(PING).timeout(PING_TIMEOUT))
        .build()
        .unwrap();
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    let first = control.wait_for_connections(1, WAIT).await.unwrap();
    // A silent but healthy server: pinged, answers, stays.
    control
        .wait_until("two pings answered", WAIT, |c| {
            pings_received(c, first) >= 2
        })
        .await
        .unwrap();
    assert!(
        event_log::disconnect_reasons(&event_log::events_so_far(&mut events)).is_empty(),
        "answered pings keep the connection"
    );

    control.inject(first, Fault::HalfOpen).unwrap();
    assert_eq!(
        event_log::liveness_timeout(&mut events).await,
        PING + PING_TIMEOUT
    );
    wait_event(&mut events, "reconnected", event_log::is_reconnected).await;
    control.wait_for_connections(2, WAIT).await.unwrap();
    // The server never closed it: only the client could find it dead.
    assert_eq!(control.status(first), Some(ConnectionStatus::Silent));
    client.close().await.unwrap();
    exchange.shutdown().await;
}

/// A client of a silent exchange whose only traffic is an unanswered
/// binary heartbeat every `HEARTBEAT`: the server hears from it without
/// ever writing back.
const HEARTBEAT: Duration = Duration::from_millis(10);

async fn silent_exchange_pings(
    configure: impl FnOnce(
        WebSocketClientBuilder<hypersockets::HasUrl, hypersockets::WithRouter<support::FeedRouter>>,
    ) -> WebSocketClientBuilder<
        hypersockets::HasUrl,
        hypersockets::WithRouter<support::FeedRouter>,
    >,
    heartbeats: usize,
) -> usize {
    let exchange = MockExchange::start(ExchangeConfig::new()).await.unwrap();
    let control = exchange.control();
    let builder = client_for(&exchange, &[], &Collected::default(), &Collected::default())
        .heartbeat(Heartbeat::new(HEARTBEAT, WsMessage::binary(&b"hb"[..])));
    let client = configure(builder).build().unwrap();
    within("connect", client.connect()).await.unwrap();
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    control
        .wait_until("heartbeats", WAIT, |c| {
            c.received(conn)
                .unwrap()
                .iter()
                .filter(|m| m.is_binary())
                .count()
                >= heartbeats
        })
        .await
        .unwrap();
    let pings = pings_received(&control, conn);
    client.close().await.unwrap();
    exchange.shutdown().await;
    pings
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_brings_a_protocol_ping() {
    // Silent for the ping interval (the server never writes), so pinged;
    // its pong restarts the wait.
    let exchange = MockExchange::start(ExchangeConfig::new()).await.unwrap();
    let control = exchange.control();
    let client = client_for(&exchange, &[], &Collected::default(), &Collected::default())
        .protocol_ping(ProtocolPing::default().interval(Duration::from_millis(20)))
        .build()
        .unwrap();
    within("connect", client.connect()).await.unwrap();
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    control
        .wait_until("a protocol ping", WAIT, |c| pings_received(c, conn) >= 1)
        .await
        .unwrap();
    assert_eq!(control.connection_count(), 1);
    client.close().await.unwrap();
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switched_off_no_protocol_ping_is_ever_sent() {
    // 50 heartbeats of server silence: twenty-five 20 ms ping intervals.
    let pings = silent_exchange_pings(
        |builder| {
            builder
                .protocol_ping(ProtocolPing::default().interval(Duration::from_millis(20)))
                .no_protocol_ping()
        },
        50,
    )
    .await;
    assert_eq!(pings, 0);
}
