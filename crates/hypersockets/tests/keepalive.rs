//! Keepalive against the mock exchange: every application ping style
//! answered exactly and in time (protocol pings, which the transport
//! answers, are in the conformance suite), client heartbeats answered with
//! their replies consumed, and dead connections found by the liveness
//! timeout.

mod event_log;
mod support;

use std::time::Duration;

use hypersockets::{
    ClientEvent, CloseCode, DisconnectReason, Heartbeat, HyperSocketError, JsonPing, TextPing,
    TungsteniteTransport, WsMessage,
};
use hypersockets_testkit::{
    CloseCause, ConnectionId, ConnectionStatus, Control, Fault, KeepaliveConfig, MockExchange,
    PingStyle, ServerPing,
};
use support::server_pings::{
    exchange, only_the_marker_was_handled, server_pings_are_answered, stats,
};
use support::{Collected, WAIT, client_builder, client_for, wait_event, within};

/// How often the client sends its heartbeat.
const HEARTBEAT: Duration = Duration::from_millis(100);
/// The client's liveness timeout when it has a heartbeat.
const LIVENESS: Duration = Duration::from_millis(500);
/// The server's idle cutoff: far shorter than the heartbeats a test waits for.
const IDLE: Duration = Duration::from_millis(500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_pings_get_pong_from_the_text_detector() {
    server_pings_are_answered(
        PingStyle::Text,
        Some(TextPing::default()),
        TungsteniteTransport::new(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_pings_get_their_number_back_from_the_json_detector() {
    server_pings_are_answered(
        PingStyle::Json,
        Some(JsonPing::default()),
        TungsteniteTransport::new(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_detector_json_pings_go_unanswered_and_the_server_hangs_up() {
    let exchange = exchange(
        KeepaliveConfig::new()
            .server_ping(ServerPing::json(Duration::from_millis(30)).max_missed(2)),
    )
    .await;
    let control = exchange.control();
    let (data, handled) = (Collected::default(), Collected::default());
    let client = client_for(&exchange, &[], &data, &handled).build().unwrap();
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();

    let cause = control.wait_for_close(conn, WAIT).await.unwrap();
    assert_eq!(cause, CloseCause::PingTimeout);
    let event = wait_event(&mut events, "disconnect", |e| {
        matches!(e, ClientEvent::Disconnected { .. })
    })
    .await;
    match event {
        ClientEvent::Disconnected {
            reason: DisconnectReason::ServerClosed(Some(frame)),
        } => {
            assert_eq!(frame.code, CloseCode::from(1008u16));
            assert_eq!(frame.reason.as_str(), "ping timeout");
        }
        other => panic!("expected the server's ping timeout close, got {other:?}"),
    }
    // The pings were plain messages to the client: handled, never answered.
    let stats = stats(&control, conn);
    assert_eq!(stats.pings_missed, 2, "{stats:?}");
    assert_eq!(stats.pongs_matched, 0, "{stats:?}");
    let received = control.received(conn).unwrap();
    assert!(
        received.iter().all(WsMessage::is_close),
        "the client answered: {received:?}"
    );
    assert!(!handled.texts().is_empty());
    assert!(handled.texts().iter().all(|t| t.starts_with(r#"{"ping":"#)));
    assert_eq!(client.metrics().connection.pings_answered, 0);
    client.close().await.unwrap();
    exchange.shutdown().await;
}

/// An exchange with an idle cutoff (client pings answered) and a client
/// with `heartbeat` and a liveness timeout, or neither.
async fn idle_cutoff_setup(
    heartbeat: Option<Heartbeat>,
    handled: &Collected,
) -> (MockExchange, hypersockets::WebSocketClient) {
    let exchange = exchange(KeepaliveConfig::new().idle_timeout(IDLE)).await;
    let mut builder = client_for(&exchange, &[], &Collected::default(), handled);
    if let Some(heartbeat) = heartbeat {
        builder = builder.heartbeat(heartbeat).liveness_timeout(LIVENESS);
    }
    let client = builder.build().unwrap();
    (exchange, client)
}

/// The heartbeat keeps the idle cutoff (and the client's own liveness
/// timeout) away for many intervals; its replies reach no handler.
async fn heartbeat_keeps_the_connection(ping: &str, reply: &str) {
    let handled = Collected::default();
    let heartbeat = Heartbeat::new(HEARTBEAT, WsMessage::text(ping)).reply(WsMessage::text(reply));
    let (exchange, client) = idle_cutoff_setup(Some(heartbeat), &handled).await;
    let control = exchange.control();
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    // Twice the idle cutoff and the liveness timeout, at the least.
    let enough = 2 * IDLE.max(LIVENESS).as_millis() / HEARTBEAT.as_millis() + 1;
    control
        .wait_until("heartbeats answered", WAIT, |c| {
            u128::from(stats(c, conn).client_pings_answered) >= enough
        })
        .await
        .unwrap();

    assert_eq!(control.status(conn), Some(ConnectionStatus::Open));
    assert_eq!(control.connection_count(), 1, "never reconnected");
    let sent = control.received_text(conn).unwrap();
    assert!(sent.iter().all(|text| text == ping), "{sent:?}");
    assert!(
        control
            .written(conn)
            .unwrap()
            .iter()
            .all(|m| m.as_text() == Some(reply)),
        "the server only answered heartbeats"
    );
    only_the_marker_was_handled(&control, conn, &handled).await;
    assert!(
        event_log::disconnect_reasons(&event_log::events_so_far(&mut events)).is_empty(),
        "the connection stayed up"
    );
    client.close().await.unwrap();
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_heartbeat_is_answered_and_keeps_the_idle_cutoff_away() {
    heartbeat_keeps_the_connection("ping", "pong").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_op_heartbeat_is_answered_and_keeps_the_idle_cutoff_away() {
    heartbeat_keeps_the_connection(
        r#"{"op":"ping"}"#,
        r#"{"success":true,"ret_msg":"pong","op":"ping"}"#,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_heartbeat_the_idle_cutoff_fires() {
    let handled = Collected::default();
    let (exchange, client) = idle_cutoff_setup(None, &handled).await;
    within("connect", client.connect()).await.unwrap();
    let conn = exchange
        .control()
        .wait_for_connections(1, WAIT)
        .await
        .unwrap();
    let cause = exchange.control().wait_for_close(conn, WAIT).await.unwrap();
    assert_eq!(cause, CloseCause::IdleTimeout);
    client.close().await.unwrap();
    exchange.shutdown().await;
}

/// The client with `heartbeat` and the liveness timeout loses its first
/// connection, once `kill` has done its work on it, to the liveness
/// timeout, and reconnects. Returns the exchange, still running, and the
/// first connection.
async fn declared_dead_then_reconnects(
    heartbeat: Heartbeat,
    kill: impl AsyncFnOnce(&Control, ConnectionId),
) -> (MockExchange, ConnectionId) {
    let exchange = exchange(KeepaliveConfig::new()).await;
    let control = exchange.control();
    let (data, handled) = (Collected::default(), Collected::default());
    let client = client_for(&exchange, &[], &data, &handled)
        .heartbeat(heartbeat)
        .liveness_timeout(LIVENESS)
        .build()
        .unwrap();
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    let first = control.wait_for_connections(1, WAIT).await.unwrap();
    kill(&control, first).await;

    assert_eq!(event_log::liveness_timeout(&mut events).await, LIVENESS);
    wait_event(&mut events, "reconnected", event_log::is_reconnected).await;
    control.wait_for_connections(2, WAIT).await.unwrap();
    assert_eq!(control.connection_count(), 2);
    assert_eq!(client.metrics().connection.reconnects, 1);
    client.close().await.unwrap();
    (exchange, first)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_gone_silent_is_declared_dead_and_replaced() {
    let heartbeat = Heartbeat::new(HEARTBEAT, "ping").reply("pong");
    let (exchange, first) = declared_dead_then_reconnects(heartbeat, async |control, conn| {
        // Alive while answered; then the server goes half-open.
        control
            .wait_until("heartbeats answered", WAIT, |c| {
                stats(c, conn).client_pings_answered >= 2
            })
            .await
            .unwrap();
        control.inject(conn, Fault::HalfOpen).unwrap();
    })
    .await;
    // The server never closed it: only the client could find it dead.
    assert_eq!(
        exchange.control().status(first),
        Some(ConnectionStatus::Silent)
    );
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_never_answered_is_declared_dead() {
    // Binary heartbeats: the exchange neither answers them nor complains.
    let hb = || WsMessage::binary(&b"hb"[..]);
    let (exchange, first) =
        declared_dead_then_reconnects(Heartbeat::new(HEARTBEAT, hb()), async |_, _| {}).await;
    let control = exchange.control();
    let sent = control.received(first).unwrap();
    assert!(sent.contains(&hb()), "heartbeats were sent: {sent:?}");
    assert!(sent.iter().all(|m| *m == hb() || m.is_close()), "{sent:?}");
    assert!(
        control.written(first).unwrap().is_empty(),
        "the server never answered"
    );
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_timeout_must_exceed_the_heartbeat_interval() {
    let build = |liveness: Duration| {
        client_builder(
            "ws://127.0.0.1:9/ws".to_owned(),
            &[],
            &Collected::default(),
            &Collected::default(),
        )
        .heartbeat(Heartbeat::new(HEARTBEAT, "ping"))
        .liveness_timeout(liveness)
        .build()
    };
    for liveness in [HEARTBEAT, HEARTBEAT / 2] {
        match build(liveness) {
            Err(HyperSocketError::InvalidConfiguration { setting, .. }) => {
                assert_eq!(setting, "liveness_timeout");
            }
            other => panic!("{liveness:?} must be refused, got {other:?}"),
        }
    }
    let client = build(HEARTBEAT + Duration::from_millis(1)).unwrap();
    client.close().await.unwrap();
}
