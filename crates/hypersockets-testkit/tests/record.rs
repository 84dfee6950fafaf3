//! The records: what the server fully wrote is exactly what a client reads,
//! in order, per stream without gap or duplicate; shutdown is clean.

mod support;

use std::collections::HashMap;

use hypersockets_testkit::{
    CloseCause, ConnectionId, ConnectionStatus, DeliveryError, ExchangeConfig, Fault, Rate,
    Scenario, StreamConfig, WsMessage,
};
use support::{
    End, WAIT, connect, next_text, read_to_end, seq_of, start, stream_of, subscribe_binance,
};

#[tokio::test]
async fn a_graceful_close_delivers_exactly_what_was_written() {
    let exchange = start(
        ExchangeConfig::new()
            .stream(StreamConfig::trades("btcusdt@trade").rate(Rate::AsFastAsPossible))
            .stream(StreamConfig::book_deltas("btcusdt@depth").rate(Rate::AsFastAsPossible))
            .stream(StreamConfig::tickers("btcusdt@ticker").rate(Rate::PerSecond(1000))),
    )
    .await;
    let control = exchange.control();
    control.run(Scenario::new().after_messages(300, Fault::close(1000, "done")));
    let mut client = connect(&exchange.url()).await;
    subscribe_binance(
        &mut client,
        &["btcusdt@trade", "btcusdt@depth", "btcusdt@ticker"],
        1,
    )
    .await;
    let (texts, end) = read_to_end(&mut client).await;
    assert!(matches!(end, End::Close(Some(_))), "{end:?}");

    let conn = control.latest_connection().unwrap();
    control.wait_for_close(conn, WAIT).await.unwrap();
    let sent = control.sent(conn).unwrap();
    assert_eq!(sent.len(), 300);
    assert!(
        sent.iter()
            .map(|r| r.text())
            .eq(texts.iter().map(String::as_str))
    );

    // Per stream: 1, 2, 3, … with no gap and no duplicate, and the record's
    // stream and seq are the message's own.
    let mut next: HashMap<String, u64> = HashMap::new();
    for record in &sent {
        assert_eq!(record.stream(), stream_of(record.text()));
        assert_eq!(record.seq(), seq_of(record.text()));
        let expected = next.entry(record.stream().to_owned()).or_insert(1);
        assert_eq!(record.seq(), *expected);
        *expected += 1;
    }
    let trades = control.sent_on(conn, "btcusdt@trade").unwrap();
    assert!(!trades.is_empty());
    assert!(
        trades
            .iter()
            .enumerate()
            .all(|(i, r)| r.seq() == i as u64 + 1)
    );

    // Everything written, in order: the ack, the data, the Close frame.
    let written = control.written(conn).unwrap();
    assert_eq!(written.len(), 1 + 300 + 1);
    assert_eq!(written[0], WsMessage::text(r#"{"result":null,"id":1}"#));
    assert_eq!(written[301], WsMessage::close(1000, "done"));
}

#[tokio::test]
async fn shutdown_closes_every_connection_cleanly() {
    let exchange = start(
        ExchangeConfig::new()
            .stream(StreamConfig::trades("btcusdt@trade").rate(Rate::PerSecond(100))),
    )
    .await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    subscribe_binance(&mut client, &["btcusdt@trade"], 1).await;
    let first = next_text(&mut client).await;
    let reader = tokio::spawn(async move {
        let (texts, end) = read_to_end(&mut client).await;
        (texts, end)
    });
    exchange.shutdown().await;
    let (mut texts, end) = tokio::time::timeout(WAIT, reader).await.unwrap().unwrap();
    match end {
        End::Close(Some(frame)) => {
            assert_eq!(u16::from(frame.code), 1001);
            assert_eq!(frame.reason.as_str(), "server shutdown");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    texts.insert(0, first);

    // The records outlive the exchange.
    let conn = control.latest_connection().unwrap();
    assert_eq!(
        control.status(conn),
        Some(ConnectionStatus::Closed(CloseCause::Shutdown))
    );
    let sent = control.sent(conn).unwrap();
    assert!(
        sent.iter()
            .map(|r| r.text())
            .eq(texts.iter().map(String::as_str))
    );
    assert_eq!(control.open_connection_count(), 0);
}

#[tokio::test]
async fn dropping_the_exchange_drops_connections() {
    let exchange = start(ExchangeConfig::new()).await;
    let mut client = connect(&exchange.url()).await;
    exchange
        .control()
        .wait_for_connections(1, WAIT)
        .await
        .unwrap();
    drop(exchange);
    let (_, end) = read_to_end(&mut client).await;
    assert!(matches!(end, End::Error(_) | End::Eof), "{end:?}");
}

#[tokio::test]
async fn received_lists_every_client_message_in_order() {
    let exchange = start(ExchangeConfig::new()).await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    client.send(Message::text("ping")).await.unwrap();
    client.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    client
        .send(Message::Pong(b"p".to_vec().into()))
        .await
        .unwrap();
    client.close(None).await.unwrap();
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    assert_eq!(
        control.wait_for_close(conn, WAIT).await.unwrap(),
        CloseCause::ClientClosed(None)
    );
    assert_eq!(
        control.received(conn).unwrap(),
        [
            WsMessage::text("ping"),
            WsMessage::binary(vec![1u8, 2, 3]),
            WsMessage::pong(&b"p"[..]),
            WsMessage::Close(None),
        ]
    );
    assert_eq!(control.written(conn).unwrap(), [WsMessage::text("pong")]);
}

#[tokio::test]
async fn invalid_configurations_are_refused() {
    let result = hypersockets_testkit::MockExchange::start(
        ExchangeConfig::new().stream(StreamConfig::trades("x").rate(Rate::PerSecond(0))),
    )
    .await;
    assert!(matches!(
        result,
        Err(hypersockets_testkit::TestkitError::InvalidConfig(_))
    ));
}

#[tokio::test]
async fn delivery_is_checked_across_reconnects() {
    let exchange = start(
        ExchangeConfig::new()
            .stream(StreamConfig::trades("btcusdt@trade").rate(Rate::AsFastAsPossible))
            .stream(StreamConfig::book_deltas("btcusdt@depth").rate(Rate::AsFastAsPossible)),
    )
    .await;
    let control = exchange.control();
    control.run(
        Scenario::new()
            .after_messages(50, Fault::DropTcp)
            .after_messages(30, Fault::close(1000, "done")),
    );
    let mut delivered = Vec::new();
    for _ in 0..2 {
        let mut client = connect(&exchange.url()).await;
        subscribe_binance(&mut client, &["btcusdt@trade", "btcusdt@depth"], 1).await;
        let (texts, _) = read_to_end(&mut client).await;
        delivered.extend(texts);
    }
    let second = ConnectionId::new(1);
    control.wait_for_close(second, WAIT).await.unwrap();

    let report = control.check_delivery(&delivered).unwrap();
    assert_eq!(report.delivered(), delivered.len() as u64);
    assert!(report.is_complete_on(second), "{report:?}");
    assert_eq!(report.streams.len(), 4);
    assert_eq!(
        report
            .streams
            .iter()
            .filter(|s| s.connection == second)
            .map(|s| s.written)
            .sum::<u64>(),
        30
    );

    // What a broken client would have got.
    let mut duplicated = delivered.clone();
    duplicated.insert(3, delivered[2].clone());
    assert!(matches!(
        control.check_delivery(&duplicated),
        Err(DeliveryError::OutOfOrder { index: 3, .. })
    ));
    let first_trade = delivered
        .iter()
        .position(|t| stream_of(t) == "btcusdt@trade")
        .unwrap();
    let mut gap = delivered.clone();
    gap.remove(first_trade);
    assert!(matches!(
        control.check_delivery(&gap),
        Err(DeliveryError::OutOfOrder {
            expected: 1,
            got: 2,
            ..
        })
    ));
    assert!(matches!(
        control.check_delivery(&["not a message"]),
        Err(DeliveryError::NotWritten { index: 0, .. })
    ));
    // Messages of another connection are told apart: the same stream and
    // sequence number on connection 1 is a different text.
    let first = control.sent(ConnectionId::new(0)).unwrap();
    let later = control.sent(second).unwrap();
    assert_eq!(first[0].seq(), later[0].seq());
    assert_ne!(first[0].text(), later[0].text());
}
