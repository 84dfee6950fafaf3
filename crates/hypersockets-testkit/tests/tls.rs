//! wss: a client that trusts the exchange's root certificate connects and
//! streams; one that does not, cannot.

mod support;

use std::sync::Arc;

use hypersockets_testkit::{CloseCause, ExchangeConfig, Fault, MockExchange, Rate, StreamConfig};
use support::{
    End, WAIT, next_text, read_to_end, seq_of, start, subscribe_binance, tls_config,
    try_connect_tls,
};
use tokio_rustls::rustls;

async fn tls_exchange() -> MockExchange {
    start(
        ExchangeConfig::new()
            .tls(true)
            .stream(StreamConfig::trades("btcusdt@trade").rate(Rate::AsFastAsPossible)),
    )
    .await
}

#[tokio::test]
async fn a_client_trusting_the_root_streams_over_wss() {
    let exchange = tls_exchange().await;
    assert!(exchange.url().starts_with("wss://localhost:"));
    assert!(
        exchange
            .root_certificate_pem()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    let config = tls_config(exchange.root_certificate_der().unwrap());
    let mut client = try_connect_tls(&exchange, config, "localhost")
        .await
        .unwrap();
    subscribe_binance(&mut client, &["btcusdt@trade"], 1).await;
    for seq in 1..=20 {
        assert_eq!(seq_of(&next_text(&mut client).await), seq);
    }
    let control = exchange.control();
    let conn = control
        .wait_for_subscription("btcusdt@trade", WAIT)
        .await
        .unwrap();
    control.wait_for_sent(conn, 20, WAIT).await.unwrap();

    // Faults work inside TLS too.
    control.inject(conn, Fault::CutMidFrame).unwrap();
    let (texts, end) = read_to_end(&mut client).await;
    assert!(matches!(end, End::Error(_) | End::Eof), "{end:?}");
    assert_eq!(
        control.wait_for_close(conn, WAIT).await.unwrap(),
        CloseCause::Fault(Fault::CutMidFrame)
    );
    // Counted, not listed: unpaced, the server may write more than the ring.
    let written = control.summary(conn).unwrap().data_messages_written;
    assert_eq!(
        20 + texts.len() as u64,
        written,
        "everything written arrived, nothing more"
    );
}

#[tokio::test]
async fn the_certificate_also_covers_the_ip_address() {
    let exchange = tls_exchange().await;
    let config = tls_config(exchange.root_certificate_der().unwrap());
    let mut client = try_connect_tls(&exchange, config, "127.0.0.1")
        .await
        .unwrap();
    subscribe_binance(&mut client, &["btcusdt@trade"], 1).await;
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_root_is_refused() {
    let exchange = tls_exchange().await;
    // The root of another exchange: a different, fresh CA.
    let other = tls_exchange().await;
    let config = tls_config(other.root_certificate_der().unwrap());
    let error = try_connect_tls(&exchange, config, "localhost")
        .await
        .expect_err("the handshake fails");
    assert!(error.to_lowercase().contains("certificate"), "{error}");

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let empty = Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
    );
    assert!(
        try_connect_tls(&exchange, empty, "localhost")
            .await
            .is_err()
    );
    assert_eq!(exchange.control().connection_count(), 0);
}

#[tokio::test]
async fn plain_exchanges_have_no_certificate() {
    let exchange = start(ExchangeConfig::new()).await;
    assert!(exchange.url().starts_with("ws://127.0.0.1:"));
    assert!(exchange.root_certificate_der().is_none());
    assert!(exchange.root_certificate_pem().is_none());
}
