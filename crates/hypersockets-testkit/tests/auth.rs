//! Login in both protocols: success, failure, and private streams refused
//! before login.

mod support;

use hypersockets_testkit::{AuthConfig, ExchangeConfig, Rate, StreamConfig, SubscriptionProtocol};
use serde_json::Value;
use support::{WAIT, connect, next_text, send_text, seq_of, start, subscribe_binance};

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("json")
}

fn config(protocol: SubscriptionProtocol, private: &str) -> ExchangeConfig {
    ExchangeConfig::new()
        .protocol(protocol)
        .auth(AuthConfig::new("key-1", "sig-1"))
        .stream(
            StreamConfig::trades(private)
                .private(true)
                .rate(Rate::AsFastAsPossible)
                .limit(2),
        )
}

#[tokio::test]
async fn okx_private_stream_needs_login() {
    let exchange = start(config(SubscriptionProtocol::Okx, "orders:BTC-USDT")).await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;
    let subscribe = r#"{"op":"subscribe","args":[{"channel":"orders","instId":"BTC-USDT"}]}"#;

    send_text(&mut client, subscribe).await;
    let refused = json(&next_text(&mut client).await);
    assert_eq!(refused["event"], "error");
    assert_eq!(refused["code"], "60011");

    send_text(
        &mut client,
        r#"{"op":"login","args":[{"apiKey":"key-1","passphrase":"p","timestamp":"1","sign":"wrong"}]}"#,
    )
    .await;
    let failed = json(&next_text(&mut client).await);
    assert_eq!(failed["event"], "error");
    assert_eq!(failed["code"], "60009");
    let conn = control.latest_connection().unwrap();
    assert!(!control.is_authenticated(conn));

    send_text(
        &mut client,
        r#"{"op":"login","args":[{"apiKey":"key-1","passphrase":"p","timestamp":"1","sign":"sig-1"}]}"#,
    )
    .await;
    let ok = json(&next_text(&mut client).await);
    assert_eq!(ok["event"], "login");
    assert_eq!(ok["code"], "0");
    assert!(control.is_authenticated(conn));

    send_text(&mut client, subscribe).await;
    assert_eq!(json(&next_text(&mut client).await)["event"], "subscribe");
    assert_eq!(seq_of(&next_text(&mut client).await), 1);
    assert_eq!(seq_of(&next_text(&mut client).await), 2);

    let received = control.received_text(conn).unwrap();
    assert_eq!(received.len(), 4);
    assert!(received[2].contains("sig-1"));
}

#[tokio::test]
async fn binance_session_logon() {
    let exchange = start(config(SubscriptionProtocol::Binance, "account@orders")).await;
    let control = exchange.control();
    let mut client = connect(&exchange.url()).await;

    send_text(
        &mut client,
        r#"{"method":"SUBSCRIBE","params":["account@orders"],"id":1}"#,
    )
    .await;
    let refused = json(&next_text(&mut client).await);
    assert_eq!(refused["id"], 1);
    assert!(
        refused["error"]["msg"]
            .as_str()
            .unwrap()
            .contains("login required")
    );

    send_text(
        &mut client,
        r#"{"id":"a","method":"session.logon","params":{"apiKey":"nope","signature":"sig-1","timestamp":1}}"#,
    )
    .await;
    let failed = json(&next_text(&mut client).await);
    assert_eq!(failed["id"], "a");
    assert_eq!(failed["status"], 401);

    send_text(
        &mut client,
        r#"{"id":"b","method":"session.logon","params":{"apiKey":"key-1","signature":"sig-1","timestamp":1}}"#,
    )
    .await;
    let ok = json(&next_text(&mut client).await);
    assert_eq!(ok["id"], "b");
    assert_eq!(ok["status"], 200);
    assert_eq!(ok["result"]["apiKey"], "key-1");

    subscribe_binance(&mut client, &["account@orders"], 2).await;
    assert_eq!(seq_of(&next_text(&mut client).await), 1);
    let conn = control
        .wait_for_subscription("account@orders", WAIT)
        .await
        .unwrap();
    assert!(control.is_authenticated(conn));
}

#[tokio::test]
async fn custom_verifier_and_no_auth_configured() {
    let exchange = start(
        ExchangeConfig::new()
            .protocol(SubscriptionProtocol::Okx)
            .auth(AuthConfig::default().verify_with(|login| {
                login.signature == format!("hmac({})", login.timestamp.as_deref().unwrap_or(""))
            })),
    )
    .await;
    let mut client = connect(&exchange.url()).await;
    send_text(
        &mut client,
        r#"{"op":"login","args":[{"apiKey":"x","timestamp":"42","sign":"hmac(42)"}]}"#,
    )
    .await;
    assert_eq!(json(&next_text(&mut client).await)["code"], "0");

    // Without an AuthConfig every login fails.
    let plain = start(ExchangeConfig::new().protocol(SubscriptionProtocol::Okx)).await;
    let mut client = connect(&plain.url()).await;
    send_text(
        &mut client,
        r#"{"op":"login","args":[{"apiKey":"test-key","sign":"test-signature"}]}"#,
    )
    .await;
    assert_eq!(json(&next_text(&mut client).await)["code"], "60009");
}
