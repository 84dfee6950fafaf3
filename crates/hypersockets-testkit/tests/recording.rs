//! Recording: bounded by default (counts, checksums and a ring of recent
//! messages), everything on request, and never a partial list passed off
//! as whole.

mod support;

use hypersockets_testkit::{
    Checksum, ConnectionId, DeliveryError, ExchangeConfig, Rate, Recording, StreamConfig,
    TestkitError, WsMessage,
};
use support::{
    WAIT, connect, next_text, read_feed, send_text, start, stream_of, subscribe_binance,
};

const TRADES: &str = "btcusdt@trade";
const DEPTH: &str = "btcusdt@depth";

/// An exchange with one unpaced stream of `limit` trades.
fn trades(limit: u64, recording: Recording) -> ExchangeConfig {
    ExchangeConfig::new().recording(recording).stream(
        StreamConfig::trades(TRADES)
            .rate(Rate::AsFastAsPossible)
            .limit(limit),
    )
}

/// The sum of the payload lengths.
fn bytes<S: AsRef<str>>(texts: &[S]) -> u64 {
    texts.iter().map(|t| t.as_ref().len() as u64).sum()
}

#[tokio::test]
async fn the_default_keeps_the_last_1024_each_way_and_counts_the_rest() {
    assert_eq!(Recording::default(), Recording::Recent(1_024));
    const MESSAGES: u64 = 1_100;
    let (exchange, client, conn, texts) =
        read_feed(trades(MESSAGES, Recording::default()), &[TRADES], MESSAGES).await;
    let control = exchange.control();

    // Written: the answer, then 1,100 trades; the answer and the first 76
    // trades went out of the ring.
    let written = control.recent_written(conn);
    assert_eq!(written.messages.len(), Recording::DEFAULT_RECENT);
    assert_eq!(written.dropped, 1 + MESSAGES - 1_024);
    assert_eq!(written.total(), 1 + MESSAGES);
    let sent = control.recent_sent(conn);
    assert_eq!(sent.messages.len(), 1_024);
    assert_eq!(sent.dropped, MESSAGES - 1_024);
    assert!(!sent.is_complete());
    assert_eq!(sent.messages[0].seq(), MESSAGES - 1_024 + 1);
    assert!(
        sent.messages
            .iter()
            .map(|r| r.text())
            .eq(texts[texts.len() - 1_024..].iter().map(String::as_str))
    );
    // Received: the one SUBSCRIBE, kept whole.
    let received = control.recent_received(conn);
    assert_eq!((received.messages.len(), received.dropped), (1, 0));
    assert_eq!(control.received_text(conn).unwrap().len(), 1);

    drop(client);
    exchange.shutdown().await;
}

#[tokio::test]
async fn a_bounded_ring_stays_flat_while_the_counts_grow() {
    const RING: usize = 16;
    const MESSAGES: u64 = 5_000;
    let exchange = start(trades(MESSAGES, Recording::Recent(RING))).await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    subscribe_binance(&mut client, &[TRADES], 1).await;
    let conn = control.wait_for_subscription(TRADES, WAIT).await.unwrap();
    let reader = tokio::spawn(async move {
        let mut texts = Vec::with_capacity(MESSAGES as usize);
        for _ in 0..MESSAGES {
            texts.push(next_text(&mut client).await);
        }
        (client, texts)
    });

    // At every step the ring holds at most RING messages, and what it holds
    // plus what it dropped is everything counted so far.
    for step in [100, 1_000, 2_500, MESSAGES] {
        control
            .wait_for_sent(conn, step as usize, WAIT)
            .await
            .unwrap();
        let sent = control.recent_sent(conn);
        let written = control.recent_written(conn);
        let summary = control.summary(conn).unwrap();
        assert!(
            sent.messages.len() <= RING,
            "{step}: {}",
            sent.messages.len()
        );
        assert!(written.messages.len() <= RING);
        assert!(summary.data_messages_written >= step);
        // Read under separate locks: the totals may only have grown since.
        assert!(sent.total() >= step && sent.total() <= summary.data_messages_written);
        assert!(written.total() <= summary.messages_written);
    }
    let (client, texts) = tokio::time::timeout(WAIT, reader).await.unwrap().unwrap();

    // Nothing moves any more: exact figures.
    let summary = control.summary(conn).unwrap();
    assert_eq!(summary.data_messages_written, MESSAGES);
    assert_eq!(summary.data_checksum, Checksum::of(&texts));
    let ack = r#"{"result":null,"id":1}"#;
    assert_eq!(summary.messages_written, 1 + MESSAGES);
    assert_eq!(summary.bytes_written, ack.len() as u64 + bytes(&texts));
    assert_eq!(summary.streams.len(), 1);
    let stream = summary.stream(TRADES).unwrap();
    assert_eq!(stream.messages, MESSAGES);
    assert_eq!(stream.checksum, summary.data_checksum);
    let sent = control.recent_sent(conn);
    assert_eq!(
        (sent.messages.len(), sent.dropped),
        (RING, MESSAGES - RING as u64)
    );
    assert_eq!(sent.messages.last().unwrap().seq(), MESSAGES);
    assert_eq!(sent.messages.last().unwrap().text(), texts.last().unwrap());
    let written = control.recent_written(conn);
    assert_eq!(written.dropped, 1 + MESSAGES - RING as u64);
    assert_eq!(
        written.messages.last(),
        Some(&WsMessage::text(texts.last().unwrap().as_str()))
    );

    drop(client);
    exchange.shutdown().await;
}

#[tokio::test]
async fn whole_lists_say_when_the_ring_dropped_some() {
    const RING: usize = 8;
    const MESSAGES: u64 = 200;
    let (exchange, mut client, conn, texts) = read_feed(
        trades(MESSAGES, Recording::Recent(RING)),
        &[TRADES],
        MESSAGES,
    )
    .await;
    let control = exchange.control();

    let dropped_data = MESSAGES - RING as u64;
    match control.sent(conn) {
        Err(TestkitError::Truncated {
            connection,
            dropped,
            kept,
            ..
        }) => {
            assert_eq!(connection, conn);
            assert_eq!((dropped, kept), (dropped_data, RING));
        }
        other => panic!("expected a truncated record, got {other:?}"),
    }
    assert!(matches!(
        control.sent_on(conn, TRADES),
        Err(TestkitError::Truncated { dropped, .. }) if dropped == dropped_data
    ));
    assert!(matches!(
        control.written(conn),
        Err(TestkitError::Truncated { dropped, .. }) if dropped == dropped_data + 1
    ));
    let error = control.check_delivery(&texts).unwrap_err();
    assert_eq!(
        error,
        DeliveryError::Truncated {
            connection: conn,
            dropped: dropped_data,
        }
    );
    assert!(error.to_string().contains("Recording::All"), "{error}");
    // A stream with nothing written has nothing dropped.
    assert_eq!(control.sent_on(conn, DEPTH).unwrap(), []);

    // The received direction has its own ring: 1 SUBSCRIBE and 19 texts.
    let mut sent_texts = vec![format!(
        r#"{{"method":"SUBSCRIBE","params":["{TRADES}"],"id":1}}"#
    )];
    for i in 0..19 {
        let text = format!("hello {i}");
        send_text(&mut client, &text).await;
        sent_texts.push(text);
    }
    control.wait_for_received(conn, 20, WAIT).await.unwrap();
    let received = control.recent_received(conn);
    assert_eq!((received.messages.len(), received.dropped), (RING, 12));
    assert!(
        received
            .messages
            .iter()
            .filter_map(WsMessage::as_text)
            .eq(sent_texts[12..].iter().map(String::as_str))
    );
    assert!(matches!(
        control.received(conn),
        Err(TestkitError::Truncated {
            dropped: 12,
            kept: RING,
            ..
        })
    ));
    assert!(control.received_text(conn).is_err());
    let summary = control.summary(conn).unwrap();
    assert_eq!(summary.messages_received, 20);
    assert_eq!(summary.bytes_received, bytes(&sent_texts));

    drop(client);
    exchange.shutdown().await;
}

#[tokio::test]
async fn counts_and_checksums_alone_check_delivery_per_stream() {
    const MESSAGES: u64 = 300;
    let config = trades(MESSAGES, Recording::Recent(0)).stream(
        StreamConfig::book_deltas(DEPTH)
            .rate(Rate::AsFastAsPossible)
            .limit(MESSAGES),
    );
    let (exchange, client, conn, texts) = read_feed(config, &[TRADES, DEPTH], 2 * MESSAGES).await;
    let control = exchange.control();

    // Nothing kept, everything counted.
    let sent = control.recent_sent(conn);
    assert_eq!((sent.messages.len(), sent.dropped), (0, 2 * MESSAGES));
    assert_eq!(control.recent_received(conn).dropped, 1);
    let summary = control.summary(conn).unwrap();
    assert_eq!(summary.data_messages_written, 2 * MESSAGES);
    assert_eq!(summary.data_checksum, Checksum::of(&texts));
    for name in [TRADES, DEPTH] {
        let of_stream: Vec<&String> = texts.iter().filter(|t| stream_of(t) == name).collect();
        let stream = summary.stream(name).unwrap();
        assert_eq!(stream.messages, MESSAGES);
        assert_eq!(stream.checksum, Checksum::of(&of_stream));
    }
    // Order counts: the same messages in another order do not match.
    let mut swapped = texts.clone();
    swapped.swap(0, 1);
    assert_ne!(summary.data_checksum, Checksum::of(&swapped));
    assert_ne!(summary.data_checksum, Checksum::of(&texts[1..]));

    drop(client);
    exchange.shutdown().await;
}

#[tokio::test]
async fn recording_everything_returns_every_message() {
    // Past the default ring, so that only `All` can keep them.
    const MESSAGES: u64 = 3_000;
    let (exchange, mut client, conn, texts) =
        read_feed(trades(MESSAGES, Recording::All), &[TRADES], MESSAGES).await;
    let control = exchange.control();

    let sent = control.sent(conn).unwrap();
    assert_eq!(sent.len() as u64, MESSAGES);
    assert!(
        sent.iter()
            .map(|r| r.text())
            .eq(texts.iter().map(String::as_str))
    );
    assert!(
        sent.iter()
            .enumerate()
            .all(|(i, r)| r.seq() == i as u64 + 1)
    );
    assert_eq!(control.sent_on(conn, TRADES).unwrap(), sent);
    let written = control.written(conn).unwrap();
    assert_eq!(written.len() as u64, 1 + MESSAGES);
    assert_eq!(written[0], WsMessage::text(r#"{"result":null,"id":1}"#));
    let recent = control.recent_sent(conn);
    assert!(recent.is_complete());
    assert_eq!(recent.messages, sent);
    let report = control.check_delivery(&texts).unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.delivered(), MESSAGES);
    assert_eq!(
        control.summary(conn).unwrap().data_checksum,
        Checksum::of(&texts)
    );

    // The other direction, past the default ring too: each text is
    // answered (an error), and those answers are listed as written.
    const TEXTS: u64 = 1_100;
    let mut requests = Vec::new();
    for i in 0..TEXTS {
        let text = format!("request {i}");
        send_text(&mut client, &text).await;
        requests.push(text);
        next_text(&mut client).await;
    }
    control
        .wait_until("every answer written", WAIT, |c| {
            c.summary(conn)
                .is_some_and(|s| s.messages_written == 1 + MESSAGES + TEXTS)
        })
        .await
        .unwrap();
    assert_eq!(control.received_text(conn).unwrap()[1..], requests[..]);
    assert_eq!(control.received(conn).unwrap().len() as u64, 1 + TEXTS);
    let written = control.written(conn).unwrap();
    assert_eq!(written.len() as u64, 1 + MESSAGES + TEXTS);
    assert!(
        written[1 + MESSAGES as usize..]
            .iter()
            .all(|m| { m.as_text().is_some_and(|t| t.contains("Invalid JSON")) })
    );
    assert_eq!(control.sent(conn).unwrap().len() as u64, MESSAGES);

    drop(client);
    exchange.shutdown().await;
}

#[tokio::test]
async fn an_unknown_connection_has_empty_complete_records() {
    let exchange = start(ExchangeConfig::new()).await;
    let control = exchange.control();
    let unknown = ConnectionId::new(7);
    assert_eq!(control.summary(unknown), None);
    let recent = control.recent_sent(unknown);
    assert!(recent.is_complete() && recent.messages.is_empty());
    assert!(control.recent_written(unknown).messages.is_empty());
    assert!(control.recent_received(unknown).messages.is_empty());
    assert_eq!(control.sent(unknown).unwrap(), []);
    assert_eq!(control.written(unknown).unwrap(), []);
    assert_eq!(control.received(unknown).unwrap(), []);
    exchange.shutdown().await;
}
