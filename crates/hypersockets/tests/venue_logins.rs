//! The ready venue logins against the mock exchange's emulation of their
//! venue: each signs afresh per connection, the emulation checks the
//! signature as the venue documents it (recomputed here from the secret),
//! and a private topic is restored only once the login is accepted.

mod support;

use base64::Engine;
use hypersockets::{
    BinanceLogon, BybitLogin, ClientEvent, OkxLogin, Subscription, Venue, WebSocketClient,
    handler_fn,
};
use hypersockets_testkit::{AuthConfig, Emulation, ExchangeConfig, MockExchange, StreamConfig};
use ring::hmac;
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use support::{wait_event, within};

fn hmac_sha256(key: &str, message: &str) -> Vec<u8> {
    hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes()),
        message.as_bytes(),
    )
    .as_ref()
    .to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Connects a client of `venue` with `login` subscribed to the private
/// `topic`; returns whether the topic became active (else the login was
/// refused).
async fn logs_in(
    exchange: &MockExchange,
    venue: Venue,
    login: impl hypersockets::AuthProvider,
    topic: &str,
) -> bool {
    let client = WebSocketClient::builder()
        .venue(venue.url(exchange.url()))
        .router(hypersockets::PassThrough)
        .handler(
            (),
            handler_fn(|_: hypersockets::WsMessage| Ok::<_, std::convert::Infallible>(())),
        )
        .auth(login)
        .subscribe(Subscription::topic(topic))
        .build()
        .unwrap();
    let mut events = client.events();
    let connecting = client.clone();
    tokio::spawn(async move { connecting.connect().await });
    let event = wait_event(&mut events, "the login's outcome", |e| {
        matches!(
            e,
            ClientEvent::SubscriptionActive { .. } | ClientEvent::AuthFailed { .. }
        )
    })
    .await;
    within("close", client.close()).await.unwrap();
    matches!(event, ClientEvent::SubscriptionActive { .. })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_login_is_signed_as_okx_documents_it() {
    let auth = AuthConfig::new("okx-key", "unused").verify_with(|login| {
        let Some(timestamp) = &login.timestamp else {
            return false;
        };
        let expected = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(
            "okx-secret",
            &format!("{timestamp}GET/users/self/verify"),
        ));
        login.api_key == "okx-key"
            && login.passphrase.as_deref() == Some("okx-passphrase")
            && login.signature == expected
    });
    let exchange = MockExchange::start(
        ExchangeConfig::new()
            .emulate(Emulation::Okx)
            .auth(auth)
            .stream(StreamConfig::trades("orders:BTC-USDT").private(true)),
    )
    .await
    .unwrap();
    let good = OkxLogin::new("okx-key", "okx-secret", "okx-passphrase");
    assert!(logs_in(&exchange, Venue::okx(), good, "orders:BTC-USDT").await);
    let bad = OkxLogin::new("okx-key", "another-secret", "okx-passphrase");
    assert!(!logs_in(&exchange, Venue::okx(), bad, "orders:BTC-USDT").await);
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_login_is_signed_as_bybit_documents_it() {
    let auth = AuthConfig::new("bybit-key", "unused").verify_with(|login| {
        let Some(expires) = &login.timestamp else {
            return false;
        };
        let expected = hex(&hmac_sha256(
            "bybit-secret",
            &format!("GET/realtime{expires}"),
        ));
        login.api_key == "bybit-key" && login.signature == expected
    });
    let exchange = MockExchange::start(
        ExchangeConfig::new()
            .emulate(Emulation::BybitLinear)
            .auth(auth)
            .stream(StreamConfig::trades("order").private(true)),
    )
    .await
    .unwrap();
    let good = BybitLogin::new("bybit-key", "bybit-secret");
    assert!(logs_in(&exchange, Venue::bybit_linear(), good, "order").await);
    let bad = BybitLogin::new("bybit-key", "another-secret");
    assert!(!logs_in(&exchange, Venue::bybit_linear(), bad, "order").await);
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_logon_is_signed_with_ed25519_as_binance_documents_it() {
    let der = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let public = Ed25519KeyPair::from_pkcs8(der.as_ref())
        .unwrap()
        .public_key()
        .as_ref()
        .to_vec();
    let auth = AuthConfig::new("binance-key", "unused").verify_with(move |login| {
        let Some(timestamp) = &login.timestamp else {
            return false;
        };
        let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(&login.signature)
        else {
            return false;
        };
        let payload = format!("apiKey={}&timestamp={timestamp}", login.api_key);
        UnparsedPublicKey::new(&ED25519, &public)
            .verify(payload.as_bytes(), &signature)
            .is_ok()
    });
    let exchange = MockExchange::start(
        ExchangeConfig::new()
            .emulate(Emulation::BinanceSpot)
            .auth(auth)
            .stream(StreamConfig::trades("btcusdt@executionReport").private(true)),
    )
    .await
    .unwrap();
    let good = BinanceLogon::from_pkcs8("binance-key", der.as_ref()).unwrap();
    assert!(
        logs_in(
            &exchange,
            Venue::binance_spot(),
            good,
            "btcusdt@executionReport"
        )
        .await
    );
    let other = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let bad = BinanceLogon::from_pkcs8("binance-key", other.as_ref()).unwrap();
    assert!(
        !logs_in(
            &exchange,
            Venue::binance_spot(),
            bad,
            "btcusdt@executionReport"
        )
        .await
    );
    exchange.shutdown().await;
}
