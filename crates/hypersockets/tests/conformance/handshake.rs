//! Handshake answers, through a real socket. A refusal keeps its status:
//! one that the same request would get again (400, 401, 403, 404, 405, 410)
//! ends the client at once; 429 and 503 keep their `Retry-After` (seconds
//! or an HTTP date) and the client waits at least that long. An answer that
//! is no valid upgrade (a wrong `Sec-WebSocket-Accept`, no `Upgrade`
//! header, hundreds of headers), or none within the handshake timeout, is
//! a typed handshake error, and the client tries again. (503 refusals and
//! refused connections in the middle of a feed are in `faults.rs`.)
//!
//! Gaps between attempts are read from the server's handshake records and
//! checked as lower bounds only (the client must not come back earlier);
//! no upper bound on time is asserted.

use std::time::{Duration, Instant};

use hypersockets::{
    ClientEvent, FixedInterval, HasUrl, HyperSocketError, PassThrough, Transport, WebSocketClient,
    WebSocketClientBuilder, WithRouter,
};
use hypersockets_testkit::{ExchangeConfig, HandshakeResponse, MockExchange};

use super::plain;
use crate::support::hostile::{handshake_fails_then_recovers, is_failed_handshake};
use crate::support::{WAIT, disconnect_error, wait_event, within};

async fn exchange() -> MockExchange {
    MockExchange::start(ExchangeConfig::new()).await.unwrap()
}

/// A client of `exchange` on `transport`, retrying every millisecond.
fn builder(
    exchange: &MockExchange,
    transport: impl Transport,
) -> WebSocketClientBuilder<HasUrl, WithRouter<PassThrough>> {
    WebSocketClient::builder()
        .url(exchange.url())
        .router(PassThrough)
        .transport(transport)
        .reconnect(FixedInterval::new(Duration::from_millis(1)))
}

fn client(exchange: &MockExchange, transport: impl Transport) -> WebSocketClient {
    builder(exchange, transport).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_for_good_end_the_client_at_once_with_the_status() {
    for status in [400, 401, 403, 404, 405, 410] {
        let exchange = exchange().await;
        let control = exchange.control();
        control.set_handshake_response(HandshakeResponse::reject(status));
        // A strategy that would retry forever, quickly: the status alone stops it.
        let client = client(&exchange, plain());
        let mut events = client.events();
        let error = within("connect", client.connect()).await.unwrap_err();
        assert!(
            matches!(
                error,
                HyperSocketError::Handshake {
                    status: Some(s),
                    retry_after: None,
                    ..
                } if s == status
            ),
            "{status}: {error:?}"
        );
        assert!(!error.is_retryable());
        wait_event(&mut events, "shut down", |e| {
            matches!(e, ClientEvent::ShutDown)
        })
        .await;
        assert_eq!(control.handshakes().len(), 1, "{status}: one attempt only");
        assert_eq!(client.metrics().connection.connect_attempts, 1);
        exchange.shutdown().await;
    }
}

/// The first handshake is refused with `refusal` (which carries
/// `Retry-After: 1`), the next accepted: the client comes back no sooner
/// than a second later, though its strategy says 1 ms.
async fn waits_for_retry_after(refusal: HandshakeResponse, status: u16) {
    let exchange = exchange().await;
    let control = exchange.control();
    control.respond_next(1, refusal);
    let client = client(&exchange, plain());
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    // The exchange links a handshake to its connection once its side of
    // the handshake ends, which may be after `connect` returned.
    control.wait_for_connections(1, WAIT).await.unwrap();

    let handshakes = control.handshakes();
    assert_eq!(handshakes.len(), 2, "{handshakes:?}");
    assert_eq!(handshakes[0].connection, None);
    assert!(handshakes[1].connection.is_some());
    let gap = handshakes[1].at - handshakes[0].at;
    assert!(gap >= Duration::from_secs(1), "came back after {gap:?}");

    let error = disconnect_error(&mut events).await;
    assert!(
        matches!(
            error,
            HyperSocketError::Handshake {
                status: Some(s),
                retry_after: Some(after),
                ..
            } if s == status && after == Duration::from_secs(1)
        ),
        "{error:?}"
    );
    let announced = wait_event(&mut events, "reconnecting", |e| {
        matches!(e, ClientEvent::Reconnecting { .. })
    })
    .await;
    assert!(
        matches!(announced, ClientEvent::Reconnecting { attempt: 1, delay } if delay == Duration::from_secs(1)),
        "{announced:?}"
    );
    client.close().await.unwrap();
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_waits_for_retry_after() {
    waits_for_retry_after(HandshakeResponse::too_many_requests(), 429).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_unavailable_waits_for_retry_after() {
    waits_for_retry_after(HandshakeResponse::service_unavailable(), 503).await;
}

/// A refusal answered by hand: `status` with `Retry-After: retry_after`.
fn refusal(status: u16, retry_after: &str) -> String {
    format!(
        "HTTP/1.1 {status} Refused\r\nRetry-After: {retry_after}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
}

/// `Retry-After` as an HTTP date is kept too (a date already past is a
/// zero wait); one that cannot be read is no `Retry-After`, and no reason
/// not to retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_read_as_a_date_and_ignored_when_unreadable() {
    for (value, expected) in [
        ("Sun, 06 Nov 1994 08:49:37 GMT", Some(Duration::ZERO)),
        ("0", Some(Duration::ZERO)),
        ("soon", None),
    ] {
        handshake_fails_then_recovers(
            plain(),
            |_key| refusal(503, value),
            |error| {
                matches!(
                    error,
                    HyperSocketError::Handshake { status: Some(503), retry_after, .. }
                        if *retry_after == expected
                )
            },
        )
        .await;
    }
}

/// A 200 is no upgrade: a handshake error with its status, retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_answer_is_a_handshake_error_with_its_status() {
    handshake_fails_then_recovers(
        plain(),
        |_key| "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_owned(),
        |error| {
            matches!(
                error,
                HyperSocketError::Handshake {
                    status: Some(200),
                    ..
                }
            ) && error.is_retryable()
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_accept_key_fails_the_handshake() {
    handshake_fails_then_recovers(
        plain(),
        |_key| {
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\
             Upgrade: websocket\r\nSec-WebSocket-Accept: d3JvbmcgYWNjZXB0IGtleSE=\r\n\r\n"
                .to_owned()
        },
        is_failed_handshake,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_101_without_the_upgrade_header_fails_the_handshake() {
    handshake_fails_then_recovers(
        plain(),
        |key| {
            let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {accept}\r\n\r\n"
            )
        },
        is_failed_handshake,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_response_headers_fail_the_handshake() {
    handshake_fails_then_recovers(
        plain(),
        |key| {
            let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
            let mut response = format!(
                "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\
                 Upgrade: websocket\r\nSec-WebSocket-Accept: {accept}\r\n"
            );
            for i in 0..500 {
                response.push_str(&format!("X-Filler-{i}: {i}\r\n"));
            }
            response + "\r\n"
        },
        is_failed_handshake,
    )
    .await;
}

/// A server that reads the request and never answers: the handshake
/// timeout ends the attempt with a typed timeout, and the next one works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_handshake_times_out_and_is_retried() {
    const TIMEOUT: Duration = Duration::from_millis(300);
    let exchange = exchange().await;
    let control = exchange.control();
    control.respond_next(1, HandshakeResponse::Stall);
    let client = builder(&exchange, plain())
        .handshake_timeout(TIMEOUT)
        .build()
        .unwrap();
    let mut events = client.events();
    let start = Instant::now();
    within("connect", client.connect()).await.unwrap();
    let error = disconnect_error(&mut events).await;
    assert!(
        matches!(
            error,
            HyperSocketError::Timeout { operation: "handshake", after } if after == TIMEOUT
        ),
        "{error:?}"
    );
    control.wait_for_connections(1, WAIT).await.unwrap();
    let handshakes = control.handshakes();
    assert_eq!(handshakes.len(), 2, "{handshakes:?}");
    assert_eq!(handshakes[0].response, HandshakeResponse::Stall);
    // The first attempt's timer started after `start`; the server read the
    // first request at some point after that, so the gap between the two
    // requests it read proves nothing.
    let gave_up = handshakes[1].at - start;
    assert!(gave_up >= TIMEOUT, "tried again after {gave_up:?}");
    client.close().await.unwrap();
    exchange.shutdown().await;
}
