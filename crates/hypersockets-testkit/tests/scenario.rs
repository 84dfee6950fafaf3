//! Scenarios: faults at exact message counts, refusals right after them,
//! steps that follow the client from one connection to the next.

mod support;

use std::time::Duration;

use hypersockets_testkit::{
    CloseCause, ExchangeConfig, Fault, HandshakeResponse, Rate, Scenario, StreamConfig,
    TestkitError,
};
use support::{End, WAIT, connect, read_to_end, send_text, start, subscribe_binance, try_connect};
use tokio_tungstenite::tungstenite::Error as WsError;

fn fast_trades() -> ExchangeConfig {
    ExchangeConfig::new().stream(StreamConfig::trades("btcusdt@trade").rate(Rate::AsFastAsPossible))
}

#[tokio::test]
async fn drop_after_500_messages_then_refuse_the_next_two_connects() {
    let exchange = start(fast_trades()).await;
    let control = exchange.control();
    let scenario = control.run(
        Scenario::new()
            .after_messages(500, Fault::DropTcp)
            .refuse_next(2),
    );
    let mut client = connect(&exchange.url()).await;
    subscribe_binance(&mut client, &["btcusdt@trade"], 1).await;
    let (texts, end) = read_to_end(&mut client).await;
    assert!(matches!(end, End::Error(_) | End::Eof), "{end:?}");
    assert_eq!(texts.len(), 500);
    scenario.finished(WAIT).await.unwrap();
    let conn = control.latest_connection().unwrap();
    assert_eq!(
        control.wait_for_close(conn, WAIT).await.unwrap(),
        CloseCause::Fault(Fault::DropTcp)
    );
    let sent: Vec<String> = control
        .sent(conn)
        .unwrap()
        .iter()
        .map(|r| r.text().to_owned())
        .collect();
    assert_eq!(texts, sent);

    // The refusal was in place before the client could even try again.
    assert!(try_connect(&exchange.url()).await.is_err());
    assert!(try_connect(&exchange.url()).await.is_err());
    let _client = connect(&exchange.url()).await;
    assert_eq!(control.refused(), 2);
    assert_eq!(control.connection_count(), 2);
}

#[tokio::test]
async fn steps_follow_the_client_to_its_next_connection() {
    let exchange = start(fast_trades()).await;
    let control = exchange.control();
    let scenario = control.run(
        Scenario::new()
            .after_messages(3, Fault::close(1001, "going away"))
            .respond_next(1, HandshakeResponse::too_many_requests())
            .wait_for_connection()
            .after_messages(7, Fault::DropTcp),
    );

    let mut first = connect(&exchange.url()).await;
    subscribe_binance(&mut first, &["btcusdt@trade"], 1).await;
    let (texts, end) = read_to_end(&mut first).await;
    assert_eq!(texts.len(), 3);
    assert!(matches!(end, End::Close(Some(_))), "{end:?}");

    match try_connect(&exchange.url()).await {
        Err(WsError::Http(response)) => assert_eq!(response.status().as_u16(), 429),
        other => panic!("expected 429, got {other:?}"),
    }

    let mut second = connect(&exchange.url()).await;
    subscribe_binance(&mut second, &["btcusdt@trade"], 1).await;
    let (texts, end) = read_to_end(&mut second).await;
    assert_eq!(texts.len(), 7);
    assert!(matches!(end, End::Error(_) | End::Eof), "{end:?}");
    scenario.finished(WAIT).await.unwrap();
}

#[tokio::test]
async fn a_step_moves_on_when_its_connection_ends_first() {
    let exchange = start(fast_trades()).await;
    let control = exchange.control();
    let scenario = control.run(Scenario::new().after_messages(1_000_000, Fault::DropTcp));
    // The first client leaves on its own before the count is reached.
    let mut first = connect(&exchange.url()).await;
    send_text(&mut first, "ping").await;
    first.close(None).await.unwrap();
    let (_, end) = read_to_end(&mut first).await;
    assert!(matches!(end, End::Eof | End::Close(_)), "{end:?}");
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    assert!(matches!(
        control.wait_for_close(conn, WAIT).await.unwrap(),
        CloseCause::ClientClosed(_)
    ));
    assert!(!scenario.is_finished());

    // Replaced by a shorter scenario for the next connection.
    let shorter = control.run(Scenario::new().after_messages(4, Fault::DropTcp));
    assert!(matches!(
        scenario.finished(WAIT).await,
        Err(TestkitError::ScenarioReplaced)
    ));
    let mut second = connect(&exchange.url()).await;
    subscribe_binance(&mut second, &["btcusdt@trade"], 1).await;
    let (texts, _) = read_to_end(&mut second).await;
    assert_eq!(texts.len(), 4);
    shorter.finished(WAIT).await.unwrap();
}

#[tokio::test]
async fn an_interrupted_count_starts_afresh_on_the_next_connection() {
    let exchange = start(fast_trades()).await;
    let control = exchange.control();
    let scenario = control.run(Scenario::new().after_messages(10, Fault::DropTcp));
    let mut first = connect(&exchange.url()).await;
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    // It never subscribes, so it never gets its 10 messages; it leaves.
    drop(first.close(None).await);
    control.wait_for_close(conn, WAIT).await.unwrap();

    let mut second = connect(&exchange.url()).await;
    subscribe_binance(&mut second, &["btcusdt@trade"], 1).await;
    let (texts, _) = read_to_end(&mut second).await;
    assert_eq!(texts.len(), 10);
    scenario.finished(WAIT).await.unwrap();
}

#[tokio::test]
async fn immediate_faults_and_timed_refusals() {
    let exchange = start(ExchangeConfig::new()).await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    control.wait_for_connections(1, WAIT).await.unwrap();
    let scenario = control.run(
        Scenario::new()
            .fault(Fault::close(4000, "now"))
            .refuse_for(Duration::from_secs(30)),
    );
    let (_, end) = read_to_end(&mut client).await;
    assert!(
        matches!(end, End::Close(Some(ref f)) if u16::from(f.code) == 4000),
        "{end:?}"
    );
    scenario.finished(WAIT).await.unwrap();
    assert!(try_connect(&exchange.url()).await.is_err());
    control.accept_connections();
    let _client = connect(&exchange.url()).await;
}
