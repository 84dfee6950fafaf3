//! The ready venue logins against the mock exchange's emulation of their
//! venue: each signs afresh per connection, the emulation checks the
//! signature as the venue documents it (recomputed here from the secret),
//! and a private topic is restored only once the login is accepted.
//! Coinbase's JWT goes with each subscribe instead, checked by the
//! emulation with the key's public half.

mod support;

use std::time::Duration;

use base64::Engine;
use hypersockets::{
    BinanceLogon, BybitLogin, ClientEvent, CoinbaseJwt, HtxLogin, OkxLogin, Subscription, Venue,
    WebSocketClient, WsMessage, handler_fn,
};
use hypersockets_testkit::{
    AuthConfig, Emulation, ExchangeConfig, MockExchange, StreamConfig, WsMessage as TestkitMessage,
};
use ring::hmac;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair,
    Ed25519KeyPair, KeyPair, UnparsedPublicKey,
};
use support::{WAIT, wait_event, within};

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
            handler_fn(|_: WsMessage| Ok::<_, std::convert::Infallible>(())),
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

/// HTX v2's signed text for `login`, host `api.huobi.pro`: the timestamp
/// URL-encoded (only its colons need it).
fn htx_prehash(login: &hypersockets_testkit::LoginRequest) -> Option<String> {
    let timestamp = login.timestamp.as_deref()?;
    // `YYYY-MM-DDThh:mm:ss`, UTC.
    let shaped = timestamp.len() == 19 && timestamp.as_bytes()[10] == b'T';
    shaped.then(|| {
        format!(
            "GET\napi.huobi.pro\n/ws/v2\naccessKey={}&signatureMethod=HmacSHA256&signatureVersion=2.1&timestamp={}",
            login.api_key,
            timestamp.replace(':', "%3A")
        )
    })
}

fn htx_exchange_config() -> ExchangeConfig {
    let auth = AuthConfig::new("htx-key", "unused").verify_with(|login| {
        let Some(prehash) = htx_prehash(login) else {
            return false;
        };
        let expected =
            base64::engine::general_purpose::STANDARD.encode(hmac_sha256("htx-secret", &prehash));
        login.api_key == "htx-key" && login.signature == expected
    });
    ExchangeConfig::new()
        .emulate(Emulation::HtxPrivate)
        .auth(auth)
        .stream(StreamConfig::trades("orders#btcusdt").private(true))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn htx_login_is_signed_as_htx_documents_it() {
    let exchange = MockExchange::start(htx_exchange_config()).await.unwrap();
    let good = HtxLogin::new("htx-key", "htx-secret");
    assert!(logs_in(&exchange, Venue::htx_private(), good, "orders#btcusdt").await);
    let bad = HtxLogin::new("htx-key", "another-secret");
    assert!(!logs_in(&exchange, Venue::htx_private(), bad, "orders#btcusdt").await);
    // Signed for another host, the signature does not match HTX's.
    let elsewhere = HtxLogin::new("htx-key", "htx-secret").host("api-aws.huobi.pro");
    assert!(!logs_in(&exchange, Venue::htx_private(), elsewhere, "orders#btcusdt").await);
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn htx_private_profile_answers_v2_pings_and_routes_pushes_by_channel() {
    let exchange = MockExchange::start(htx_exchange_config()).await.unwrap();
    let venue = Venue::htx_private();
    let (pushes, mut pushed) = tokio::sync::mpsc::unbounded_channel();
    let client = WebSocketClient::builder()
        .venue(venue.clone().url(exchange.url()))
        .router(venue.router())
        .handler(
            "orders#btcusdt".to_owned(),
            handler_fn(move |push: WsMessage| {
                let _ = pushes.send(push.as_text().unwrap_or_default().to_owned());
                Ok::<_, std::convert::Infallible>(())
            }),
        )
        .auth(HtxLogin::new("htx-key", "htx-secret"))
        .subscribe(Subscription::topic("orders#btcusdt"))
        .build()
        .unwrap();
    within("connect", client.connect()).await.unwrap();
    let push = within("a push", pushed.recv()).await.unwrap();
    assert!(
        push.starts_with(r#"{"action":"push","ch":"orders#btcusdt""#),
        "{push}"
    );

    let control = exchange.control();
    let conn = control
        .wait_for_subscription("orders#btcusdt", WAIT)
        .await
        .unwrap();
    let ping = r#"{"action":"ping","data":{"ts":1575537778295}}"#;
    let pong = r#"{"action":"pong","data":{"ts":1575537778295}}"#;
    control.send(conn, TestkitMessage::text(ping)).unwrap();
    control
        .wait_until("the pong", WAIT, |control| {
            control
                .received_text(conn)
                .is_ok_and(|texts| texts.iter().any(|text| text == pong))
        })
        .await
        .unwrap();
    within("close", client.close()).await.unwrap();
    exchange.shutdown().await;
}

const CDP_KEY: &str = "organizations/test-org/apiKeys/test-key";

/// Subscribes a client of `venue` to `topic` (answers awaited 300 ms);
/// returns the topic's first verdict: active, rejected or unanswered.
async fn subscribes(exchange: &MockExchange, venue: Venue, topic: &str) -> ClientEvent {
    let client = WebSocketClient::builder()
        .venue(venue.url(exchange.url()))
        .router(hypersockets::PassThrough)
        .handler(
            (),
            handler_fn(|_: WsMessage| Ok::<_, std::convert::Infallible>(())),
        )
        .subscribe_timeout(Duration::from_millis(300))
        .subscribe(Subscription::topic(topic))
        .build()
        .unwrap();
    let mut events = client.events();
    let connecting = client.clone();
    tokio::spawn(async move { connecting.connect().await });
    let event = wait_event(&mut events, "the subscription's outcome", |e| match e {
        ClientEvent::SubscriptionActive { id }
        | ClientEvent::SubscriptionRejected { id, .. }
        | ClientEvent::SubscriptionTimedOut { id, .. } => id == topic,
        _ => false,
    })
    .await;
    within("close", client.close()).await.unwrap();
    event
}

/// Checks a JWT the client sent as Coinbase documents it, independently of
/// the emulation: ES256 under `public`, the CDP claims, two minutes.
fn check_coinbase_jwt(jwt: &str, public: &[u8]) {
    let base64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "{jwt}");
    let json = |part: &str| -> serde_json::Value {
        serde_json::from_slice(&base64url.decode(part).unwrap()).unwrap()
    };
    let (header, claims) = (json(parts[0]), json(parts[1]));
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["kid"], CDP_KEY);
    assert!(header["nonce"].as_str().is_some_and(|n| !n.is_empty()));
    assert_eq!(claims["iss"], "cdp");
    assert_eq!(claims["sub"], CDP_KEY);
    let (nbf, exp) = (
        claims["nbf"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert_eq!(exp - nbf, 120);
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public)
        .verify(
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &base64url.decode(parts[2]).unwrap(),
        )
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coinbase_jwt_is_es256_signed_as_coinbase_documents_it() {
    let random = SystemRandom::new();
    let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random).unwrap();
    let public = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der.as_ref(), &random)
        .unwrap()
        .public_key()
        .as_ref()
        .to_vec();
    let exchange = MockExchange::start(
        ExchangeConfig::new()
            .emulate(Emulation::Coinbase)
            .auth(AuthConfig::new(CDP_KEY, "unused").es256_public_key(public.clone()))
            .stream(StreamConfig::trades("user").private(true)),
    )
    .await
    .unwrap();
    let control = exchange.control();

    let good = CoinbaseJwt::from_pkcs8(CDP_KEY, der.as_ref()).unwrap();
    let event = subscribes(&exchange, Venue::coinbase_user(good), "user").await;
    assert!(
        matches!(event, ClientEvent::SubscriptionActive { .. }),
        "{event:?}"
    );
    let conn = control.latest_connection().unwrap();
    let sent = control.received_text(conn).unwrap();
    let request = sent
        .iter()
        .find(|text| text.contains(r#""channel":"user""#))
        .expect("the user subscription");
    let request: serde_json::Value = serde_json::from_str(request).unwrap();
    check_coinbase_jwt(request["jwt"].as_str().unwrap(), &public);

    // Another key under the same name: the emulation refuses, as Coinbase
    // does, with an error that names no request, so it goes unanswered.
    let other = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random).unwrap();
    let wrong = CoinbaseJwt::from_pkcs8(CDP_KEY, other.as_ref()).unwrap();
    let event = subscribes(&exchange, Venue::coinbase_user(wrong), "user").await;
    assert!(
        matches!(event, ClientEvent::SubscriptionTimedOut { .. }),
        "{event:?}"
    );
    let conn = control.latest_connection().unwrap();
    let refused = control.written(conn).unwrap().iter().any(|message| {
        message.as_text() == Some(r#"{"type":"error","message":"authentication failure"}"#)
    });
    assert!(refused, "the emulation's refusal");
    assert!(!control.subscriptions(conn).contains(&"user".to_owned()));

    // Without a JWT, the public profile cannot have it either.
    let event = subscribes(&exchange, Venue::coinbase(), "user").await;
    assert!(
        matches!(event, ClientEvent::SubscriptionTimedOut { .. }),
        "{event:?}"
    );
    exchange.shutdown().await;
}
