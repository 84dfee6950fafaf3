//! Each keepalive style: protocol pings answered by exact pongs, server text
//! and JSON pings with deadlines and a disconnect after N misses, client
//! application pings, and the idle cutoff.

mod support;

use std::time::Duration;

use futures_util::SinkExt;
use hypersockets_testkit::{
    ClientPings, CloseCause, ConnectionStatus, ExchangeConfig, KeepaliveConfig, ServerPing,
    WsMessage,
};
use support::{End, WAIT, connect, next_message, next_text, read_to_end, send_text, start};
use tokio_tungstenite::tungstenite::Message;

const INTERVAL: Duration = Duration::from_millis(100);

fn with_ping(ping: ServerPing) -> ExchangeConfig {
    ExchangeConfig::new().keepalive(KeepaliveConfig::new().server_ping(ping))
}

fn assert_closed_with(end: &End, code: u16, reason: &str) {
    match end {
        End::Close(Some(frame)) => {
            assert_eq!(u16::from(frame.code), code);
            assert_eq!(frame.reason.as_str(), reason);
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn protocol_pings_are_answered_by_exact_pongs() {
    let exchange = start(with_ping(ServerPing::protocol(INTERVAL))).await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    // tokio-tungstenite answers each Ping with a Pong of the same payload
    // while it reads.
    let reader = tokio::spawn(async move {
        let mut pings = Vec::new();
        while let Some(Ok(message)) = next_message(&mut client).await {
            if let Message::Ping(payload) = message {
                pings.push(payload);
            }
        }
        pings
    });
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    control
        .wait_until("3 matched pongs", WAIT, |c| {
            c.connection(conn).unwrap().keepalive.pongs_matched >= 3
        })
        .await
        .unwrap();
    let info = control.connection(conn).unwrap();
    assert_eq!(info.status, ConnectionStatus::Open);
    assert_eq!(info.keepalive.pongs_mismatched, 0);
    assert_eq!(info.keepalive.pings_missed, 0);
    let pongs: Vec<WsMessage> = control
        .received(conn)
        .unwrap()
        .into_iter()
        .filter(|m| matches!(m, WsMessage::Pong(_)))
        .collect();
    assert_eq!(
        &pongs[..3],
        [
            WsMessage::pong(&b"ping-1"[..]),
            WsMessage::pong(&b"ping-2"[..]),
            WsMessage::pong(&b"ping-3"[..]),
        ]
    );
    assert!(
        control
            .written(conn)
            .unwrap()
            .contains(&WsMessage::ping(&b"ping-1"[..]))
    );
    exchange.shutdown().await;
    let pings = tokio::time::timeout(WAIT, reader).await.unwrap().unwrap();
    assert_eq!(&pings[0][..], b"ping-1");
}

#[tokio::test]
async fn wrong_pongs_do_not_count_and_misses_disconnect() {
    let exchange = start(
        with_ping(ServerPing::protocol(INTERVAL).max_missed(2))
            .close_grace(Duration::from_millis(100)),
    )
    .await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    // Not reading: the client library sends no automatic pong.
    client
        .send(Message::Pong(b"wrong".to_vec().into()))
        .await
        .unwrap();
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    let cause = control.wait_for_close(conn, WAIT).await.unwrap();
    assert_eq!(cause, CloseCause::PingTimeout);
    let stats = control.connection(conn).unwrap().keepalive;
    assert_eq!(stats.pongs_mismatched, 1);
    assert_eq!(stats.pongs_matched, 0);
    assert_eq!(stats.pings_missed, 2);
    assert_eq!(stats.pings_sent, 2);
    assert_eq!(
        control.written(conn).unwrap().last(),
        Some(&WsMessage::close(1008, "ping timeout"))
    );

    // The client reads only now: the socket is gone by the time it would
    // answer the pings, so it may see an error rather than the Close frame.
    let (texts, _) = read_to_end(&mut client).await;
    assert!(texts.is_empty());
}

#[tokio::test]
async fn text_pings_need_pongs_before_the_deadline() {
    let exchange = start(with_ping(ServerPing::text(INTERVAL).max_missed(2))).await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    for _ in 0..3 {
        assert_eq!(next_text(&mut client).await, "ping");
        send_text(&mut client, "pong").await;
    }
    control
        .wait_until("3 matched pongs", WAIT, |c| {
            c.connection(conn).unwrap().keepalive.pongs_matched == 3
        })
        .await
        .unwrap();
    assert_eq!(control.status(conn), Some(ConnectionStatus::Open));

    // Stop answering: two misses in a row and the server hangs up.
    let (texts, end) = read_to_end(&mut client).await;
    assert!(texts.iter().all(|t| t == "ping"));
    assert_closed_with(&end, 1008, "ping timeout");
    assert_eq!(
        control.wait_for_close(conn, WAIT).await.unwrap(),
        CloseCause::PingTimeout
    );
    assert_eq!(control.connection(conn).unwrap().keepalive.pings_missed, 2);
}

#[tokio::test]
async fn json_pings_need_the_same_number_back() {
    let exchange = start(with_ping(ServerPing::json(INTERVAL).max_missed(3))).await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();

    let first: serde_json::Value = serde_json::from_str(&next_text(&mut client).await).unwrap();
    let ts = first["ping"].as_u64().expect("{\"ping\":ts}");
    send_text(&mut client, &format!(r#"{{"pong":{}}}"#, ts + 1)).await;
    for _ in 0..2 {
        let ping: serde_json::Value = serde_json::from_str(&next_text(&mut client).await).unwrap();
        let ts = ping["ping"].as_u64().unwrap();
        send_text(&mut client, &format!(r#"{{"pong":{ts}}}"#)).await;
    }
    control
        .wait_until("2 matched pongs", WAIT, |c| {
            c.connection(conn).unwrap().keepalive.pongs_matched == 2
        })
        .await
        .unwrap();
    let stats = control.connection(conn).unwrap().keepalive;
    assert_eq!(stats.pongs_mismatched, 1);
    assert_eq!(control.status(conn), Some(ConnectionStatus::Open));

    let (_, end) = read_to_end(&mut client).await;
    assert_closed_with(&end, 1008, "ping timeout");
    assert_eq!(
        control.connection(conn).unwrap().keepalive.pings_missed,
        3 + 1
    );
}

#[tokio::test]
async fn client_application_pings_are_answered() {
    let exchange = start(ExchangeConfig::new()).await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    send_text(&mut client, "ping").await;
    assert_eq!(next_text(&mut client).await, "pong");
    send_text(&mut client, r#"{"op":"ping"}"#).await;
    assert_eq!(
        next_text(&mut client).await,
        r#"{"success":true,"ret_msg":"pong","op":"ping"}"#
    );
    send_text(&mut client, r#"{"ping":1492420473027}"#).await;
    assert_eq!(next_text(&mut client).await, r#"{"pong":1492420473027}"#);
    // Protocol pings are answered by the WebSocket layer.
    client
        .send(Message::Ping(b"abc".to_vec().into()))
        .await
        .unwrap();
    match next_message(&mut client).await {
        Some(Ok(Message::Pong(payload))) => assert_eq!(&payload[..], b"abc"),
        other => panic!("expected a pong, got {other:?}"),
    }
    let conn = control.latest_connection().unwrap();
    control.wait_for_received(conn, 4, WAIT).await.unwrap();
    assert_eq!(
        control
            .connection(conn)
            .unwrap()
            .keepalive
            .client_pings_answered,
        3
    );
    assert_eq!(
        control.received(conn).unwrap()[3],
        WsMessage::ping(&b"abc"[..])
    );
}

#[tokio::test]
async fn client_pings_can_be_switched_off() {
    let exchange = start(
        ExchangeConfig::new().keepalive(KeepaliveConfig::new().client_pings(ClientPings::none())),
    )
    .await;
    let mut client = connect(&exchange.url()).await;
    send_text(&mut client, "ping").await;
    let answer: serde_json::Value = serde_json::from_str(&next_text(&mut client).await).unwrap();
    assert_eq!(answer["error"]["code"], 3, "treated as a bad request");
}

#[tokio::test]
async fn idle_clients_are_cut_off() {
    let exchange = start(
        ExchangeConfig::new()
            .keepalive(KeepaliveConfig::new().idle_timeout(Duration::from_millis(200))),
    )
    .await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    let (_, end) = read_to_end(&mut client).await;
    assert_closed_with(&end, 1008, "idle timeout");
    let conn = control.latest_connection().unwrap();
    assert_eq!(
        control.wait_for_close(conn, WAIT).await.unwrap(),
        CloseCause::IdleTimeout
    );
}

#[tokio::test]
async fn talking_clients_are_not_idle() {
    let idle = Duration::from_millis(500);
    let exchange =
        start(ExchangeConfig::new().keepalive(KeepaliveConfig::new().idle_timeout(idle))).await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    let started = tokio::time::Instant::now();
    // Talk for longer than the idle timeout, a little at a time.
    while started.elapsed() < idle + idle / 2 {
        send_text(&mut client, "ping").await;
        assert_eq!(next_text(&mut client).await, "pong");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let conn = control.latest_connection().unwrap();
    assert_eq!(control.status(conn), Some(ConnectionStatus::Open));
}
