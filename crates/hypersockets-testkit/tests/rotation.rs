//! What a client's make-before-break connection rotation is tested
//! against: global streams, numbered by the venue (as trade ids are) so that
//! overlapping connections get the same numbers at the same instants, and
//! connection lifetimes that end with a 1001 close, after the venue's
//! shutdown notice where it has one.
//!
//! On tokio's paused clock: the exchange runs in the test's runtime, and
//! time only moves when every task waits, so the instants asserted are
//! exact.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use hypersockets_testkit::{
    CloseCause, Emulation, ExchangeConfig, MockExchange, Rate, Recording, StreamConfig,
    TestkitError,
};
use support::{Client, connect, send_text, start, subscribe_binance};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

const SECOND: Duration = Duration::from_secs(1);

/// The bound on virtual time for any wait here: past Binance's 24 hours.
const VIRTUAL_WAIT: Duration = Duration::from_secs(2 * 24 * 60 * 60);

const TRADES: &str = "btcusdt@trade";

/// Trade ids 1, 2, 3, … one a second since the exchange started.
fn global_trades() -> ExchangeConfig {
    ExchangeConfig::new().recording(Recording::All).stream(
        StreamConfig::trades(TRADES)
            .rate(Rate::Every(SECOND))
            .global(true),
    )
}

/// The next text, skipping Pings and Pongs, within the virtual bound.
async fn next_text(client: &mut Client) -> String {
    let next = async {
        loop {
            match client.next().await {
                Some(Ok(Message::Text(text))) => return text.to_string(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("expected a text message, got {other:?}"),
            }
        }
    };
    tokio::time::timeout(VIRTUAL_WAIT, next)
        .await
        .expect("a text within the virtual bound")
}

/// The `seq` member of a market data message.
fn seq_of(text: &str) -> u64 {
    let value: serde_json::Value = serde_json::from_str(text).expect("json");
    value["seq"].as_u64().expect("a seq member")
}

/// Everything a client reads until its stream ends, each text and the
/// Close frame with when it came (since `t0`). Reads on after the Close, so
/// the reply goes out.
async fn read_to_end_timed(
    client: &mut Client,
    t0: Instant,
) -> (Vec<(Duration, String)>, Duration, Option<CloseFrame>) {
    let read = async {
        let mut texts = Vec::new();
        loop {
            match client.next().await {
                Some(Ok(Message::Text(text))) => texts.push((t0.elapsed(), text.to_string())),
                Some(Ok(Message::Close(frame))) => {
                    let at = t0.elapsed();
                    while let Some(Ok(_)) = client.next().await {}
                    return (texts, at, frame);
                }
                Some(Ok(_)) => {}
                other => panic!("expected messages then a Close frame, got {other:?}"),
            }
        }
    };
    tokio::time::timeout(VIRTUAL_WAIT, read)
        .await
        .expect("the connection ends within the virtual bound")
}

#[tokio::test(start_paused = true)]
async fn connections_subscribed_together_get_the_same_numbers_at_the_same_instants() {
    let t0 = Instant::now();
    let exchange = start(global_trades()).await;
    let control = exchange.control();
    let mut first = connect(&exchange.url()).await;
    let mut second = connect(&exchange.url()).await;
    subscribe_binance(&mut first, &[TRADES], 1).await;
    subscribe_binance(&mut second, &[TRADES], 1).await;

    let mut delivered = Vec::new();
    for k in 1..=3 {
        for client in [&mut first, &mut second] {
            let text = next_text(client).await;
            assert_eq!(seq_of(&text), k);
            assert_eq!(t0.elapsed(), k as u32 * SECOND, "message {k} on time");
            delivered.push(text);
        }
    }

    // A third connection subscribed now, as message 3 goes out, starts at
    // the next due: the overlap a rotating client deduplicates.
    let mut third = connect(&exchange.url()).await;
    subscribe_binance(&mut third, &[TRADES], 1).await;
    for k in 4..=5 {
        for client in [&mut first, &mut second, &mut third] {
            let text = next_text(client).await;
            assert_eq!(seq_of(&text), k);
            assert_eq!(t0.elapsed(), k as u32 * SECOND, "message {k} on time");
            delivered.push(text);
        }
    }

    let newest = control.latest_connection().unwrap();
    control
        .wait_for_sent(newest, 2, VIRTUAL_WAIT)
        .await
        .unwrap();
    let seqs: Vec<u64> = control
        .sent_on(newest, TRADES)
        .unwrap()
        .iter()
        .map(|r| r.seq())
        .collect();
    assert_eq!(seqs, [4, 5]);
    // The delivery check takes a stream that starts past 1.
    let report = control.check_delivery(&delivered).unwrap();
    assert_eq!(report.delivered(), 12);
    drop((first, second, third));
    exchange.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_connection_subscribed_again_resumes_at_the_message_then_due() {
    let exchange = start(global_trades()).await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    subscribe_binance(&mut client, &[TRADES], 1).await;
    let mut delivered = vec![next_text(&mut client).await, next_text(&mut client).await];
    assert_eq!(
        delivered.iter().map(|t| seq_of(t)).collect::<Vec<_>>(),
        [1, 2]
    );

    send_text(
        &mut client,
        r#"{"method":"UNSUBSCRIBE","params":["btcusdt@trade"],"id":2}"#,
    )
    .await;
    assert_eq!(next_text(&mut client).await, r#"{"result":null,"id":2}"#);
    // Virtual time, with nothing subscribed: messages 3 and 4 go by.
    tokio::time::advance(Duration::from_millis(2_500)).await;
    subscribe_binance(&mut client, &[TRADES], 3).await;
    delivered.push(next_text(&mut client).await);
    assert_eq!(seq_of(&delivered[2]), 5);

    let conn = control.latest_connection().unwrap();
    control.wait_for_sent(conn, 3, VIRTUAL_WAIT).await.unwrap();
    let report = control.check_delivery(&delivered).unwrap();
    assert!(report.is_complete());
    drop(client);
    exchange.shutdown().await;
}

#[tokio::test]
async fn a_global_stream_must_be_timed() {
    let config = ExchangeConfig::new().stream(
        StreamConfig::trades(TRADES)
            .rate(Rate::AsFastAsPossible)
            .global(true),
    );
    match MockExchange::start(config).await {
        Err(TestkitError::InvalidConfig(reason)) => {
            assert!(reason.contains("AsFastAsPossible"), "{reason}");
        }
        other => panic!("expected an invalid configuration, got {other:?}"),
    }
}

/// The `connId` the OKX emulation gives the client's connection: from its
/// error answer to a request for an unknown channel.
async fn okx_conn_id(client: &mut Client) -> String {
    send_text(
        client,
        r#"{"op":"subscribe","args":[{"channel":"nothing"}]}"#,
    )
    .await;
    let answer: serde_json::Value = serde_json::from_str(&next_text(client).await).unwrap();
    assert_eq!(answer["event"], "error");
    answer["connId"].as_str().unwrap().to_owned()
}

#[tokio::test(start_paused = true)]
async fn okx_sends_its_notice_before_closing_a_connection_at_its_lifetime() {
    const LIFETIME: Duration = Duration::from_secs(20);
    const LEAD: Duration = Duration::from_secs(5);
    // Within OKX's 30 s idle cutoff, so the client need not ping.
    let exchange = start(
        ExchangeConfig::new()
            .emulate(Emulation::Okx)
            .connection_lifetime(Some(LIFETIME))
            .shutdown_notice(LEAD),
    )
    .await;
    let control = exchange.control();
    let t0 = Instant::now();
    let mut client = connect(&exchange.url()).await;
    let conn_id = okx_conn_id(&mut client).await;

    let (texts, closed_at, frame) = read_to_end_timed(&mut client, t0).await;
    let notice = format!(
        r#"{{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":"{conn_id}"}}"#
    );
    assert_eq!(texts, [(LIFETIME - LEAD, notice)]);
    assert_eq!(closed_at, LIFETIME);
    let frame = frame.expect("a Close frame");
    assert_eq!(u16::from(frame.code), 1001);
    assert_eq!(frame.reason.as_str(), "connection lifetime reached");

    let conn = control.latest_connection().unwrap();
    assert_eq!(
        control.wait_for_close(conn, VIRTUAL_WAIT).await.unwrap(),
        CloseCause::Lifetime
    );
    exchange.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn kraken_documents_no_notice_so_its_connection_is_just_closed() {
    const LIFETIME: Duration = Duration::from_secs(20);
    let exchange = start(
        ExchangeConfig::new()
            .emulate(Emulation::Kraken)
            .connection_lifetime(Some(LIFETIME)),
    )
    .await;
    let control = exchange.control();
    let t0 = Instant::now();
    let mut client = connect(&exchange.url()).await;

    let (texts, closed_at, frame) = read_to_end_timed(&mut client, t0).await;
    assert_eq!(texts, []);
    assert_eq!(closed_at, LIFETIME);
    assert_eq!(u16::from(frame.expect("a Close frame").code), 1001);
    let conn = control.latest_connection().unwrap();
    assert_eq!(
        control.wait_for_close(conn, VIRTUAL_WAIT).await.unwrap(),
        CloseCause::Lifetime
    );
    exchange.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn binance_closes_a_connection_after_24_hours_a_minute_after_its_shutdown_event() {
    const DAY: Duration = Duration::from_secs(24 * 60 * 60);
    const MINUTE: Duration = Duration::from_secs(60);
    // Binance's keepalive included: Ping frames every 20 s, answered by
    // tungstenite as it reads.
    let t0 = Instant::now();
    let exchange = start(ExchangeConfig::new().emulate(Emulation::BinanceSpot)).await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;

    let (texts, closed_at, frame) = read_to_end_timed(&mut client, t0).await;
    // The event's time: the mock's epoch plus the time since it started.
    let time = 1_700_000_000_000 + (DAY - MINUTE).as_millis();
    assert_eq!(
        texts,
        [(
            DAY - MINUTE,
            format!(r#"{{"event":{{"e":"serverShutdown","E":{time}}}}}"#)
        )]
    );
    assert_eq!(closed_at, DAY);
    assert_eq!(u16::from(frame.expect("a Close frame").code), 1001);
    let conn = control.latest_connection().unwrap();
    assert_eq!(
        control.wait_for_close(conn, VIRTUAL_WAIT).await.unwrap(),
        CloseCause::Lifetime
    );
    assert_eq!(
        control.connection(conn).unwrap().keepalive.pings_missed,
        0,
        "the client kept up"
    );
    exchange.shutdown().await;
}
