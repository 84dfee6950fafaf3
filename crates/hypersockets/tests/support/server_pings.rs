//! A mock exchange that pings, and the check that every ping it writes is
//! answered exactly and in time: protocol pings by the transport (the
//! conformance suite, per transport), text and JSON pings by the passive
//! ping detectors (`keepalive.rs`).

use std::time::Duration;

use hypersockets::{PassivePingDetector, Transport, WsMessage};
use hypersockets_testkit::{
    ConnectionId, ConnectionStatus, Control, ExchangeConfig, KeepaliveConfig, KeepaliveStats,
    MockExchange, PingStyle, ServerPing,
};

use super::{Collected, WAIT, client_for, within};

/// How often the server pings; each ping is due within this interval.
/// Answering takes microseconds: the margin is for a machine so busy that
/// the client's task waits its turn (an 80 ms interval missed once in 20
/// loaded runs).
pub const SERVER_PING: Duration = Duration::from_millis(400);
/// Server pings that must be answered, in a row, on one connection.
pub const ROUNDS: u64 = 4;
/// A message that is no ping and no reply: once a handler has it, every
/// message the server wrote before it has been through the client.
pub const MARKER: &str = r#"{"marker":true}"#;

pub fn stats(control: &Control, conn: ConnectionId) -> KeepaliveStats {
    control
        .connection(conn)
        .map(|info| info.keepalive)
        .unwrap_or_default()
}

pub async fn exchange(keepalive: KeepaliveConfig) -> MockExchange {
    MockExchange::start(ExchangeConfig::new().keepalive(keepalive))
        .await
        .unwrap()
}

/// The exact answer the server expects to a ping it wrote, in any style.
pub fn answer_to(ping: &WsMessage) -> Option<WsMessage> {
    match ping {
        WsMessage::Ping(payload) => Some(WsMessage::Pong(payload.clone())),
        WsMessage::Text(text) if text.as_str() == "ping" => Some(WsMessage::text("pong")),
        WsMessage::Text(text) => {
            let value: serde_json::Value = serde_json::from_str(text.as_str()).ok()?;
            let ms = value.get("ping")?.as_u64()?;
            Some(WsMessage::text(format!(r#"{{"pong":{ms}}}"#)))
        }
        _ => None,
    }
}

/// Sends the marker on `conn` and checks it is the only thing `handled`
/// ever got: nothing before it (pings, pongs, replies) reached a handler.
pub async fn only_the_marker_was_handled(
    control: &Control,
    conn: ConnectionId,
    handled: &Collected,
) {
    control.send(conn, WsMessage::text(MARKER)).unwrap();
    handled.wait_for(1).await;
    assert_eq!(
        handled.texts(),
        [MARKER],
        "only the marker may reach handlers"
    );
}

/// A client on `transport` with `detector` (or none) against a server
/// pinging in `style`: every ping is answered exactly, by its deadline, and
/// the connection stays.
pub async fn server_pings_are_answered(
    style: PingStyle,
    detector: Option<impl PassivePingDetector>,
    transport: impl Transport,
) {
    let exchange = exchange(
        KeepaliveConfig::new().server_ping(ServerPing::new(style, SERVER_PING).max_missed(1)),
    )
    .await;
    let control = exchange.control();
    let (data, handled) = (Collected::default(), Collected::default());
    let mut builder = client_for(&exchange, &[], &data, &handled).transport(transport);
    if let Some(detector) = detector {
        builder = builder.ping_detector(detector);
    }
    let client = builder.build().unwrap();
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    control
        .wait_until("pings answered", WAIT, |c| {
            stats(c, conn).pongs_matched >= ROUNDS
        })
        .await
        .unwrap();

    // Answers first: every answer read has its ping among the written.
    let answers = control.received(conn).unwrap();
    let expected: Vec<WsMessage> = control
        .written(conn)
        .unwrap()
        .iter()
        .filter_map(answer_to)
        .collect();
    assert!(answers.len() >= ROUNDS as usize, "{answers:?}");
    assert_eq!(
        Some(&answers[..]),
        expected.get(..answers.len()),
        "each ping answered once, exactly, in order"
    );
    let stats = stats(&control, conn);
    assert_eq!(stats.pings_missed, 0, "{style:?}: {stats:?}");
    assert_eq!(stats.pongs_mismatched, 0, "{style:?}: {stats:?}");
    assert_eq!(control.status(conn), Some(ConnectionStatus::Open));
    assert_eq!(control.connection_count(), 1, "never reconnected");
    only_the_marker_was_handled(&control, conn, &handled).await;
    // Counted as read, so certainly by the time the marker was handled.
    assert!(client.metrics().connection.pings_answered >= ROUNDS);
    let lost: Vec<_> = std::iter::from_fn(|| events.try_recv())
        .map(|event| event.expect("no event lost"))
        .filter(|event| matches!(event, hypersockets::ClientEvent::Disconnected { .. }))
        .collect();
    assert!(lost.is_empty(), "the connection stayed up: {lost:?}");
    client.close().await.unwrap();
    exchange.shutdown().await;
}
