//! Both subscription protocols: acknowledgements, data only after a
//! subscription, unsubscribing, and error answers for unknown streams.

mod support;

use hypersockets_testkit::{ExchangeConfig, Rate, StreamConfig, SubscriptionProtocol};
use serde_json::Value;
use support::{WAIT, connect, next_text, send_text, seq_of, start, stream_of, subscribe_binance};

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("json")
}

#[tokio::test]
async fn binance_subscribe_acks_then_streams_in_order() {
    let exchange = start(
        ExchangeConfig::new()
            .stream(
                StreamConfig::trades("btcusdt@trade")
                    .rate(Rate::AsFastAsPossible)
                    .limit(20),
            )
            .stream(
                StreamConfig::book_deltas("btcusdt@depth")
                    .rate(Rate::AsFastAsPossible)
                    .limit(20),
            ),
    )
    .await;
    let mut client = connect(&exchange.url()).await;
    subscribe_binance(&mut client, &["btcusdt@trade", "btcusdt@depth"], 1).await;

    let mut next = std::collections::HashMap::<String, u64>::new();
    for _ in 0..40 {
        let text = next_text(&mut client).await;
        let expected = next.entry(stream_of(&text)).or_insert(1);
        assert_eq!(seq_of(&text), *expected, "{text}");
        *expected += 1;
    }
    assert_eq!(next["btcusdt@trade"], 21);
    assert_eq!(next["btcusdt@depth"], 21);

    let control = exchange.control();
    let conn = control
        .wait_for_subscription("btcusdt@depth", WAIT)
        .await
        .unwrap();
    assert_eq!(
        control.subscriptions(conn),
        ["btcusdt@trade", "btcusdt@depth"]
    );
    control.wait_for_sent(conn, 40, WAIT).await.unwrap();
    assert_eq!(control.received_text(conn).unwrap().len(), 1);
}

#[tokio::test]
async fn nothing_is_sent_before_a_subscription() {
    let exchange = start(
        ExchangeConfig::new()
            .stream(StreamConfig::trades("btcusdt@trade").rate(Rate::AsFastAsPossible)),
    )
    .await;
    let mut client = connect(&exchange.url()).await;
    // The server answers in order: a pong first means no data came before it.
    send_text(&mut client, "ping").await;
    assert_eq!(next_text(&mut client).await, "pong");
    let control = exchange.control();
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    assert!(control.sent(conn).unwrap().is_empty());
    assert!(control.subscriptions(conn).is_empty());
}

#[tokio::test]
async fn binance_unknown_stream_is_an_error_and_subscribes_nothing() {
    let exchange = start(
        ExchangeConfig::new()
            .stream(StreamConfig::trades("btcusdt@trade").rate(Rate::AsFastAsPossible)),
    )
    .await;
    let mut client = connect(&exchange.url()).await;
    send_text(
        &mut client,
        r#"{"method":"SUBSCRIBE","params":["btcusdt@trade","nope@trade"],"id":5}"#,
    )
    .await;
    let answer = json(&next_text(&mut client).await);
    assert_eq!(answer["id"], 5);
    assert_eq!(answer["error"]["code"], 2);
    assert!(
        answer["error"]["msg"]
            .as_str()
            .unwrap()
            .contains("nope@trade")
    );

    // Nothing was subscribed: the next answer is the pong.
    send_text(&mut client, "ping").await;
    assert_eq!(next_text(&mut client).await, "pong");

    // Not JSON at all.
    send_text(&mut client, "hello").await;
    let answer = json(&next_text(&mut client).await);
    assert_eq!(answer["error"]["code"], 3);
    assert_eq!(answer["id"], Value::Null);
}

#[tokio::test]
async fn binance_unsubscribe_and_list() {
    let exchange = start(
        ExchangeConfig::new()
            .stream(StreamConfig::tickers("btcusdt@ticker"))
            .stream(StreamConfig::trades("btcusdt@trade")),
    )
    .await;
    let mut client = connect(&exchange.url()).await;
    subscribe_binance(&mut client, &["btcusdt@ticker", "btcusdt@trade"], 1).await;
    send_text(
        &mut client,
        r#"{"method":"UNSUBSCRIBE","params":["btcusdt@ticker"],"id":2}"#,
    )
    .await;
    let list = loop {
        let text = next_text(&mut client).await;
        if text == r#"{"result":null,"id":2}"# {
            send_text(&mut client, r#"{"method":"LIST_SUBSCRIPTIONS","id":3}"#).await;
        } else if json(&text)["id"] == 3 {
            break json(&text);
        }
    };
    assert_eq!(list["result"], serde_json::json!(["btcusdt@trade"]));
    let control = exchange.control();
    let conn = control.latest_connection().unwrap();
    assert_eq!(control.subscriptions(conn), ["btcusdt@trade"]);
}

#[tokio::test]
async fn okx_subscribe_answers_each_arg_and_streams() {
    let exchange = start(
        ExchangeConfig::new()
            .protocol(SubscriptionProtocol::Okx)
            .stream(
                StreamConfig::trades("trades:BTC-USDT")
                    .rate(Rate::AsFastAsPossible)
                    .limit(5),
            ),
    )
    .await;
    let mut client = connect(&exchange.url()).await;
    send_text(
        &mut client,
        r#"{"id":"7","op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"},{"channel":"trades","instId":"NOPE"}]}"#,
    )
    .await;

    let ack = json(&next_text(&mut client).await);
    assert_eq!(ack["event"], "subscribe");
    assert_eq!(ack["id"], "7");
    assert_eq!(ack["arg"]["channel"], "trades");
    assert_eq!(ack["arg"]["instId"], "BTC-USDT");
    assert!(ack["connId"].is_string());

    // The error for the second arg, then the data of the first (the error
    // is written before the connection publishes anything).
    let error = json(&next_text(&mut client).await);
    assert_eq!(error["event"], "error");
    assert_eq!(error["code"], "60018");

    for seq in 1..=5 {
        let text = next_text(&mut client).await;
        assert_eq!(stream_of(&text), "trades:BTC-USDT");
        assert_eq!(seq_of(&text), seq);
    }

    send_text(
        &mut client,
        r#"{"op":"unsubscribe","args":[{"channel":"trades","instId":"BTC-USDT"}]}"#,
    )
    .await;
    let ack = json(&next_text(&mut client).await);
    assert_eq!(ack["event"], "unsubscribe");
    assert!(ack.get("id").is_none());

    send_text(&mut client, r#"{"op":"bogus","args":[]}"#).await;
    assert_eq!(json(&next_text(&mut client).await)["code"], "60012");
}

#[tokio::test]
async fn resubscribing_resumes_the_sequence() {
    let exchange = start(
        ExchangeConfig::new().stream(
            StreamConfig::trades("btcusdt@trade")
                .rate(Rate::AsFastAsPossible)
                .limit(6),
        ),
    )
    .await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    subscribe_binance(&mut client, &["btcusdt@trade"], 1).await;
    for seq in 1..=6 {
        assert_eq!(seq_of(&next_text(&mut client).await), seq);
    }
    send_text(
        &mut client,
        r#"{"method":"UNSUBSCRIBE","params":["btcusdt@trade"],"id":2}"#,
    )
    .await;
    assert_eq!(next_text(&mut client).await, r#"{"result":null,"id":2}"#);
    subscribe_binance(&mut client, &["btcusdt@trade"], 3).await;
    // The limit is reached: nothing more, and no number twice.
    send_text(&mut client, "ping").await;
    assert_eq!(next_text(&mut client).await, "pong");
    let conn = control.latest_connection().unwrap();
    let seqs: Vec<u64> = control
        .sent(conn)
        .unwrap()
        .iter()
        .map(|r| r.seq())
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
}

#[tokio::test]
async fn timed_streams_publish_with_contiguous_sequences() {
    let exchange = start(
        ExchangeConfig::new().stream(
            StreamConfig::tickers("ethusdt@ticker")
                .rate(Rate::PerSecond(200))
                .limit(10),
        ),
    )
    .await;
    let mut client = connect(&exchange.url()).await;
    subscribe_binance(&mut client, &["ethusdt@ticker"], 1).await;
    let conn = exchange.control().latest_connection().unwrap();
    for seq in 1..=10 {
        let text = next_text(&mut client).await;
        assert_eq!(seq_of(&text), seq);
        assert_eq!(
            text,
            StreamConfig::tickers("ethusdt@ticker").message(conn, seq),
            "messages are deterministic"
        );
    }
}
