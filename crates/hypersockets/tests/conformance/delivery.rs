//! Delivery: `wss://` against the mock exchange's TLS server through a
//! reconnect (`ws://` goes through one in every test of `faults.rs`), the
//! typed error when its root is not trusted, and framing from a raw server:
//! every length form, fragments, binary and empty messages, a feed written
//! one byte at a time, all delivered whole and in order.

use hypersockets::rustls::{self, CertificateError};
use hypersockets::{
    ClientEvent, DisconnectReason, HyperSocketError, NeverReconnect, TlsConfig, Transport,
    TransportLimits,
};
use hypersockets_testkit::{ExchangeConfig, Fault, MockExchange, Scenario, StreamConfig};

use super::{plain, transport};
use crate::recovery::{
    Builder, Faulted, MID_STREAM, PUBLIC, error_of, exchange_config, is_ended_without_close,
    survive,
};
use crate::support::hostile::{
    PRELUDE, after_prelude, client_with_limits, closes_normally,
    comes_back_having_delivered_the_prelude, connect, connected,
};
use crate::support::raw::{RawServer, close, frame, frame_with, op};
use crate::support::{Collected, client_for, disconnect_reason, wait_event, within};

/// The roots of `exchange`, which serves TLS, and nothing else.
fn roots_of(exchange: &MockExchange) -> TlsConfig {
    let root = exchange
        .root_certificate_der()
        .expect("the exchange serves TLS")
        .to_vec();
    TlsConfig::with_root_certificates([root]).unwrap()
}

/// The transport under test, trusting exactly the exchange's generated root.
fn trusting(exchange: &MockExchange) -> impl Transport {
    transport(Some(roots_of(exchange)))
}

/// Whether the TLS stream ended without a `close_notify`.
fn is_truncated(reason: &DisconnectReason) -> bool {
    matches!(
        error_of(reason),
        Some(HyperSocketError::Io(error)) if error.kind() == std::io::ErrorKind::UnexpectedEof
    )
}

/// The rustls error behind `error`, wherever the transport put it in the
/// source chain (inside an I/O error or not).
fn rustls_error(error: &HyperSocketError) -> Option<&rustls::Error> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(source) = next {
        if let Some(found) = source.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        if let Some(io) = source.downcast_ref::<std::io::Error>()
            && let Some(found) = io.get_ref().and_then(|inner| inner.downcast_ref())
        {
            return Some(found);
        }
        next = source.source();
    }
    None
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
    for tls in [None, Some(roots_of(&stranger))] {
        let (data, answers) = (Collected::default(), Collected::default());
        let client = client_for(&exchange, &[PUBLIC], &data, &answers)
            .transport(transport(tls))
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
            HyperSocketError::Tls(_) => assert!(
                matches!(
                    rustls_error(&error),
                    Some(rustls::Error::InvalidCertificate(
                        CertificateError::UnknownIssuer | CertificateError::BadSignature
                    ))
                ),
                "{error:?}"
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

/// A normal feed written one byte per TCP segment arrives whole and in
/// order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_written_one_byte_at_a_time_arrives_in_order() {
    const MESSAGES: usize = 100;
    let server = RawServer::start().await;
    let data = Collected::default();
    let (client, _events, mut peer) = connected(&server, &data, plain()).await;

    let expected: Vec<String> = (0..MESSAGES).map(|i| format!(r#"{{"seq":{i}}}"#)).collect();
    // A long one too, with a 16-bit length, and a fragmented one.
    let long = "x".repeat(300);
    let mut bytes: Vec<u8> = expected
        .iter()
        .flat_map(|text| frame(op::TEXT, text.as_bytes()))
        .collect();
    bytes.extend(frame(op::TEXT, long.as_bytes()));
    bytes.extend(frame_with(false, 0, op::TEXT, None, b"frag"));
    bytes.extend(frame_with(true, 0, op::CONTINUATION, None, b"mented"));
    for byte in &bytes {
        // TCP_NODELAY is set: each write is its own segment.
        peer.write(std::slice::from_ref(byte)).await;
    }
    data.wait_for(MESSAGES + 2).await;
    let mut all = expected;
    all.push(long);
    all.push("fragmented".to_owned());
    assert_eq!(data.texts(), all);
    closes_normally(&client, &mut peer).await;
}

/// Every length form (7-bit up to 125, 16-bit from 126 up to 65 535, 64-bit
/// from 65 536), empty messages, binary ones, and messages in fragments
/// (an empty final fragment among them) arrive exactly, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_length_form_and_fragmentation_arrives_exactly() {
    let server = RawServer::start().await;
    let data = Collected::default();
    let client = client_with_limits(&server, &data, plain(), TransportLimits::default());
    let (client, _events, mut peer) = connect(&server, client).await;

    let mut expected = Vec::new();
    let mut bytes = Vec::new();
    for len in [0, 1, 125, 126, 127, 65_535, 65_536, 100_000] {
        let text = "t".repeat(len);
        bytes.extend(frame(op::TEXT, text.as_bytes()));
        expected.push(text);
    }
    bytes.extend(frame(op::BINARY, b"binary \x00\x01"));
    expected.push("binary \u{0}\u{1}".to_owned());
    bytes.extend(frame(op::BINARY, b""));
    expected.push(String::new());
    // Three fragments of a binary message, the last one empty.
    bytes.extend(frame_with(false, 0, op::BINARY, None, b"one,"));
    bytes.extend(frame_with(false, 0, op::CONTINUATION, None, b"two"));
    bytes.extend(frame_with(true, 0, op::CONTINUATION, None, b""));
    expected.push("one,two".to_owned());
    // A text message split inside a multi-byte character: only the whole
    // message must be UTF-8.
    let euro = "€".as_bytes();
    bytes.extend(frame_with(false, 0, op::TEXT, None, &euro[..1]));
    bytes.extend(frame_with(true, 0, op::CONTINUATION, None, &euro[1..]));
    expected.push("€".to_owned());
    peer.write(&bytes).await;

    data.wait_for(expected.len()).await;
    assert_eq!(data.texts(), expected);
    closes_normally(&client, &mut peer).await;
}

/// Messages read just before the connection is lost reach the handlers
/// then, not once the next connection is up: here the server holds the
/// reconnection's handshake until they have arrived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_read_before_a_loss_reach_the_handlers_before_the_reconnect() {
    let server = RawServer::start().await;
    let data = Collected::default();
    let (client, mut events, mut peer) = connected(&server, &data, plain()).await;
    peer.write(&after_prelude(&close(1000))).await;
    let reason = disconnect_reason(&mut events).await;
    assert!(
        matches!(reason, DisconnectReason::ServerClosed(_)),
        "{reason:?}"
    );
    data.wait_for(PRELUDE.len()).await;
    comes_back_having_delivered_the_prelude(&server, &client, &mut events, &data).await;
}
