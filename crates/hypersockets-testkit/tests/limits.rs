//! The incoming message limit: a client that sends more than the limit in
//! any window is closed with 1008, as Binance does, counting Ping and Pong
//! frames like any other message. (The windows are long, so the counts do
//! not depend on how fast the test runs.)

mod support;

use std::time::Duration;

use futures_util::SinkExt;
use hypersockets_testkit::{CloseCause, ConnectionStatus, Control, ExchangeConfig};
use support::{Client, End, WAIT, connect, next_text, read_to_end, send_text, start};
use tokio_tungstenite::tungstenite::Message;

const WINDOW: Duration = Duration::from_secs(60);

/// The client's stream ends with the 1008 Close, and the exchange says why.
async fn closed_for_too_many(client: &mut Client, control: &Control) {
    match read_to_end(client).await {
        (_, End::Close(Some(frame))) => {
            assert_eq!(u16::from(frame.code), 1008);
            assert_eq!(frame.reason.as_str(), "Too many requests");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    let conn = control.latest_connection().unwrap();
    assert_eq!(
        control.wait_for_close(conn, WAIT).await.unwrap(),
        CloseCause::TooManyMessages
    );
}

#[tokio::test]
async fn one_message_over_the_limit_closes_the_connection() {
    let exchange = start(ExchangeConfig::new().incoming_limit(3, WINDOW)).await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    for _ in 0..3 {
        send_text(&mut client, "ping").await;
        assert_eq!(next_text(&mut client).await, "pong", "within the limit");
    }
    send_text(&mut client, "ping").await;
    closed_for_too_many(&mut client, &control).await;
}

#[tokio::test]
async fn ping_and_pong_frames_count_too() {
    let exchange = start(ExchangeConfig::new().incoming_limit(2, WINDOW)).await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    client.send(Message::Ping(Vec::new().into())).await.unwrap();
    client.send(Message::Pong(Vec::new().into())).await.unwrap();
    send_text(&mut client, "ping").await;
    closed_for_too_many(&mut client, &control).await;
}

#[tokio::test]
async fn without_a_limit_nothing_is_counted() {
    let exchange = start(ExchangeConfig::new()).await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    for _ in 0..50 {
        send_text(&mut client, "ping").await;
    }
    for _ in 0..50 {
        assert_eq!(next_text(&mut client).await, "pong");
    }
    let conn = control.latest_connection().unwrap();
    assert_eq!(control.status(conn), Some(ConnectionStatus::Open));
}
