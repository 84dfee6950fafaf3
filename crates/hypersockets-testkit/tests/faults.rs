//! Each fault, seen from a plain tokio-tungstenite client.

mod support;

use std::time::Duration;

use hypersockets_testkit::{
    CloseCause, ConnectionStatus, ExchangeConfig, Fault, Rate, Recording, Scenario, StreamConfig,
    Target, WsMessage,
};
use support::{
    End, WAIT, connect, next_message, next_text, read_to_end, send_text, start, subscribe_binance,
    try_connect,
};
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

fn fast_trades() -> ExchangeConfig {
    ExchangeConfig::new().stream(StreamConfig::trades("btcusdt@trade").rate(Rate::AsFastAsPossible))
}

fn assert_no_close_frame(end: &End) {
    assert!(
        matches!(end, End::Error(_) | End::Eof),
        "expected the socket to end without a close frame, got {end:?}"
    );
}

#[tokio::test]
async fn close_with_a_code_and_reason() {
    let exchange = start(ExchangeConfig::new()).await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    control
        .inject(conn, Fault::close(4001, "maintenance"))
        .unwrap();

    let (_, end) = read_to_end(&mut client).await;
    match end {
        End::Close(Some(frame)) => {
            assert_eq!(u16::from(frame.code), 4001);
            assert_eq!(frame.reason.as_str(), "maintenance");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert_eq!(
        control.wait_for_close(conn, WAIT).await.unwrap(),
        CloseCause::Fault(Fault::close(4001, "maintenance"))
    );
    assert_eq!(
        control.written(conn).unwrap(),
        [WsMessage::close(4001, "maintenance")]
    );
    // The client's Close reply was read before the socket closed.
    assert!(
        control
            .received(conn)
            .unwrap()
            .iter()
            .any(WsMessage::is_close)
    );
    assert!(matches!(
        control.inject(conn, Fault::DropTcp),
        Err(hypersockets_testkit::TestkitError::ConnectionClosed(_))
    ));
}

#[tokio::test]
async fn drop_and_reset_tcp_without_a_close_frame() {
    for fault in [Fault::DropTcp, Fault::ResetTcp] {
        // Unpaced until the fault lands, and every message is compared.
        let exchange = start(fast_trades().recording(Recording::All)).await;
        let control = exchange.control();
        let mut client = connect(&exchange.url()).await;
        subscribe_binance(&mut client, &["btcusdt@trade"], 1).await;
        let conn = control
            .wait_for_subscription("btcusdt@trade", WAIT)
            .await
            .unwrap();
        control.wait_for_sent(conn, 10, WAIT).await.unwrap();
        control.inject(conn, fault.clone()).unwrap();

        let (texts, end) = read_to_end(&mut client).await;
        assert_no_close_frame(&end);
        assert_eq!(
            control.wait_for_close(conn, WAIT).await.unwrap(),
            CloseCause::Fault(fault.clone())
        );
        // Whatever arrived is a prefix of what was written.
        let sent = control.sent(conn).unwrap();
        assert!(texts.len() <= sent.len());
        assert!(texts.iter().zip(&sent).all(|(t, r)| t == r.text()));
        if fault == Fault::DropTcp {
            // A FIN loses nothing that was written.
            assert_eq!(texts.len(), sent.len());
        }
    }
}

#[tokio::test]
async fn cut_mid_frame_never_delivers_the_cut_message() {
    let exchange = start(fast_trades()).await;
    let control = exchange.control();
    let scenario = control.run(Scenario::new().after_messages(5, Fault::CutMidFrame));
    let mut client = connect(&exchange.url()).await;
    subscribe_binance(&mut client, &["btcusdt@trade"], 1).await;

    let (texts, end) = read_to_end(&mut client).await;
    assert_no_close_frame(&end);
    scenario.finished(WAIT).await.unwrap();
    let conn = control.latest_connection().unwrap();
    assert_eq!(
        control.wait_for_close(conn, WAIT).await.unwrap(),
        CloseCause::Fault(Fault::CutMidFrame)
    );
    let sent: Vec<String> = control
        .sent(conn)
        .unwrap()
        .iter()
        .map(|r| r.text().to_owned())
        .collect();
    assert_eq!(sent.len(), 5);
    assert_eq!(texts, sent);
}

#[tokio::test]
async fn half_open_keeps_tcp_but_goes_silent() {
    let exchange = start(ExchangeConfig::new()).await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    control.inject(conn, Fault::HalfOpen).unwrap();
    control
        .wait_until("silence", WAIT, |c| {
            c.status(conn) == Some(ConnectionStatus::Silent)
        })
        .await
        .unwrap();

    send_text(&mut client, "ping").await;
    // No answer, and no end either: the socket stays open.
    let waited = tokio::time::timeout(Duration::from_millis(300), next_message(&mut client)).await;
    assert!(
        waited.is_err(),
        "a half-open server says nothing, got {waited:?}"
    );
    assert!(
        control.received(conn).unwrap().is_empty(),
        "and reads nothing"
    );
    assert_eq!(control.open_connection_count(), 1);

    control.inject(conn, Fault::DropTcp).unwrap();
    let (_, end) = read_to_end(&mut client).await;
    assert_no_close_frame(&end);
    assert_eq!(
        control.wait_for_close(conn, WAIT).await.unwrap(),
        CloseCause::Fault(Fault::DropTcp)
    );
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame() {
    let exchange = start(ExchangeConfig::new()).await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    control.inject(conn, Fault::InvalidUtf8).unwrap();
    match next_message(&mut client).await {
        Some(Err(WsError::Utf8(_))) => {}
        other => panic!("expected a utf-8 error, got {other:?}"),
    }
    // Not a message: nothing is listed as written.
    assert!(control.written(conn).unwrap().is_empty());
}

#[tokio::test]
async fn oversized_frames() {
    let exchange = start(ExchangeConfig::new()).await;
    let control = exchange.control();

    // A client with a 1 KiB limit refuses a 4 KiB message.
    let config = WebSocketConfig::default()
        .max_message_size(Some(1024))
        .max_frame_size(Some(1024));
    let (mut small, _) =
        tokio_tungstenite::connect_async_with_config(exchange.url(), Some(config), false)
            .await
            .unwrap();
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    control.inject(conn, Fault::oversized(4096)).unwrap();
    match next_message(&mut small).await {
        Some(Err(WsError::Capacity(_))) => {}
        other => panic!("expected a capacity error, got {other:?}"),
    }

    // A default client takes it whole.
    let mut client = connect(&exchange.url()).await;
    let conn = control.wait_for_connections(2, WAIT).await.unwrap();
    control.inject(conn, Fault::oversized(4096)).unwrap();
    let text = next_text(&mut client).await;
    assert_eq!(text.len(), 4096);
    assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok());
    control
        .wait_until("the oversized message to be written", WAIT, |c| {
            c.summary(conn).is_some_and(|s| s.messages_written == 1)
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn garbage_bytes_break_the_framing() {
    let exchange = start(ExchangeConfig::new()).await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    control.inject(conn, Fault::default_garbage()).unwrap();
    match next_message(&mut client).await {
        Some(Err(WsError::Protocol(_))) => {}
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[tokio::test]
async fn refuse_a_number_of_connections() {
    let exchange = start(ExchangeConfig::new()).await;
    let control = exchange.control();
    control.refuse_connections(2);
    assert!(try_connect(&exchange.url()).await.is_err());
    assert!(try_connect(&exchange.url()).await.is_err());
    let _client = connect(&exchange.url()).await;
    assert_eq!(control.attempts(), 3);
    assert_eq!(control.refused(), 2);
    assert_eq!(control.connection_count(), 1);
    assert!(
        control.handshakes().len() == 1,
        "refused before any handshake"
    );
}

#[tokio::test]
async fn refuse_connections_for_a_while() {
    let exchange = start(ExchangeConfig::new()).await;
    let control = exchange.control();
    control.refuse_connections_for(Duration::from_millis(300));
    assert!(try_connect(&exchange.url()).await.is_err());
    // Retry until the window is over (bounded by WAIT).
    let client = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(client) = try_connect(&exchange.url()).await {
                break client;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("connections are accepted again");
    drop(client);
    assert!(control.refused() >= 1);

    control.refuse_connections_for(WAIT);
    assert!(try_connect(&exchange.url()).await.is_err());
    control.accept_connections();
    let _client = connect(&exchange.url()).await;
}

#[tokio::test]
async fn faults_for_the_next_connection_and_for_all() {
    let exchange = start(ExchangeConfig::new()).await;
    let control = exchange.control();
    control
        .inject(Target::Next, Fault::close(1013, "try again later"))
        .unwrap();
    let mut first = connect(&exchange.url()).await;
    let (_, end) = read_to_end(&mut first).await;
    assert!(
        matches!(end, End::Close(Some(ref f)) if u16::from(f.code) == 1013),
        "{end:?}"
    );

    let mut a = connect(&exchange.url()).await;
    let mut b = connect(&exchange.url()).await;
    control.wait_for_connections(3, WAIT).await.unwrap();
    control
        .send(Target::All, WsMessage::text("hello all"))
        .unwrap();
    assert_eq!(next_text(&mut a).await, "hello all");
    assert_eq!(next_text(&mut b).await, "hello all");
    control
        .inject(Target::All, Fault::close(1001, "bye"))
        .unwrap();
    for client in [&mut a, &mut b] {
        let (_, end) = read_to_end(client).await;
        assert!(matches!(end, End::Close(Some(_))));
    }
    control
        .wait_until("every connection closed", WAIT, |c| {
            c.open_connection_count() == 0
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn slow_consumers_are_dropped_after_the_write_timeout() {
    let exchange = start(fast_trades().write_timeout(Duration::from_millis(200))).await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    subscribe_binance(&mut client, &["btcusdt@trade"], 1).await;
    // The client stops reading; the socket buffers fill up and a write stalls.
    let conn = control.latest_connection().unwrap();
    assert_eq!(
        control.wait_for_close(conn, WAIT).await.unwrap(),
        CloseCause::WriteTimeout
    );
    // Counted, not listed: the buffers hold more messages than the ring.
    assert!(control.summary(conn).unwrap().data_messages_written > 100);
}
