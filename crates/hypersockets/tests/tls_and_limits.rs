//! `wss://` against the mock exchange's TLS server (and the typed error when
//! its root is not trusted), and frames the client must refuse: too large,
//! invalid UTF-8, garbage. Each refusal is a typed error and a reconnection,
//! never a panic, and what the handlers got stays a prefix of what was
//! written.

mod recovery;
mod support;

use hypersockets::rustls::{self, CertificateError};
use hypersockets::{
    ClientEvent, DisconnectReason, HyperSocketError, NeverReconnect, TlsConfig, TransportLimits,
    TungsteniteTransport,
};
use hypersockets_testkit::{ExchangeConfig, Fault, MockExchange, Scenario, StreamConfig};
use recovery::{
    Builder, Faulted, MID_STREAM, PUBLIC, error_of, exchange_config, is_ended_without_close,
    survive,
};
use support::{Collected, client_for, wait_event, within};

/// The client's limit on messages and frames in the oversized test.
const LIMIT: usize = 16 << 10;

/// A transport trusting exactly the exchange's generated root.
fn trusting(exchange: &MockExchange) -> TungsteniteTransport {
    let root = exchange
        .root_certificate_der()
        .expect("the exchange serves TLS")
        .to_vec();
    TungsteniteTransport::new().tls(TlsConfig::with_root_certificates([root]).unwrap())
}

/// Whether the TLS stream ended without a `close_notify`.
fn is_truncated(reason: &DisconnectReason) -> bool {
    matches!(
        error_of(reason),
        Some(HyperSocketError::Io(error)) if error.kind() == std::io::ErrorKind::UnexpectedEof
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_feed_logs_in_restores_and_delivers_across_a_reconnect() {
    let outcome = survive(
        exchange_config().tls(true),
        |builder: Builder, exchange| {
            assert!(exchange.url().starts_with("wss://"), "{}", exchange.url());
            builder.transport(trusting(exchange))
        },
        Scenario::new().after_messages(MID_STREAM, Fault::DropTcp),
        Faulted::DeliversAll,
    )
    .await;
    // Over TLS the drop also comes without a `close_notify`, which rustls
    // reports as an unexpected end of file: a lost connection all the same,
    // not a TLS failure.
    assert!(
        matches!(&outcome.reasons[..], [loss] if is_ended_without_close(loss) || is_truncated(loss)),
        "{:?}",
        outcome.reasons
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_fails_with_a_tls_error_unless_the_root_is_trusted() {
    let exchange = MockExchange::start(
        ExchangeConfig::new()
            .tls(true)
            .stream(StreamConfig::trades(PUBLIC)),
    )
    .await
    .unwrap();
    // Another authority's root is no better than the public ones.
    let stranger = MockExchange::start(ExchangeConfig::new().tls(true))
        .await
        .unwrap();
    for transport in [TungsteniteTransport::new(), trusting(&stranger)] {
        let (data, answers) = (Collected::default(), Collected::default());
        let client = client_for(&exchange, &[PUBLIC], &data, &answers)
            .transport(transport)
            .reconnect(NeverReconnect)
            .build()
            .unwrap();
        let mut events = client.events();
        let result = within("connect", client.connect()).await;
        assert!(
            matches!(
                result,
                Err(HyperSocketError::ReconnectExhausted { attempts: 0 })
            ),
            "{result:?}"
        );
        let event = wait_event(&mut events, "the failed connect", |e| {
            matches!(e, ClientEvent::Disconnected { .. })
        })
        .await;
        let ClientEvent::Disconnected {
            reason: DisconnectReason::Error(error),
        } = event
        else {
            panic!("expected a connect error, got {event:?}");
        };
        match &*error {
            // No public root issued it; the stranger's root has the same
            // name as the exchange's, but did not sign its certificate.
            HyperSocketError::Tls(source) => assert!(
                matches!(
                    source.downcast_ref::<rustls::Error>(),
                    Some(rustls::Error::InvalidCertificate(
                        CertificateError::UnknownIssuer | CertificateError::BadSignature
                    ))
                ),
                "{source:?}"
            ),
            other => panic!("expected a TLS error, got {other:?}"),
        }
        client.close().await.unwrap();
        assert!(data.texts().is_empty());
    }
    // Refused during the TLS handshake: no WebSocket handshake was read.
    assert!(exchange.control().handshakes().is_empty());
    assert_eq!(exchange.control().connection_count(), 0);
    stranger.shutdown().await;
    exchange.shutdown().await;
}

/// The drill with `fault` written mid-stream, on a client with at most
/// `LIMIT` bytes per message and frame: the connection must end with one
/// error, of the `expected` kind.
async fn refuses_frame(fault: Fault, expected: impl Fn(&HyperSocketError) -> bool) {
    let outcome = survive(
        exchange_config(),
        |builder, _| {
            builder.limits(
                TransportLimits::default()
                    .max_message_size(LIMIT)
                    .max_frame_size(LIMIT),
            )
        },
        Scenario::new().after_messages(MID_STREAM, fault),
        // The server goes on writing after the bad frame; the client stops
        // reading at it.
        Faulted::DeliversPrefix,
    )
    .await;
    assert!(
        matches!(outcome.reasons.as_slice(), [reason] if error_of(reason).is_some_and(&expected)),
        "{:?}",
        outcome.reasons
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_is_a_typed_error_and_a_reconnect() {
    refuses_frame(Fault::oversized(4 * LIMIT), |error| {
        matches!(
            error,
            HyperSocketError::MessageTooLarge { size, limit: LIMIT } if *size == 4 * LIMIT
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_is_a_typed_error_and_a_reconnect() {
    refuses_frame(Fault::InvalidUtf8, |error| {
        matches!(error, HyperSocketError::InvalidUtf8(_))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_bytes_are_a_protocol_error_and_a_reconnect() {
    refuses_frame(Fault::default_garbage(), |error| {
        matches!(error, HyperSocketError::WebSocket(_))
    })
    .await;
}
