//! Every `Fault` the testkit injects (`Close`, `DropTcp`, `ResetTcp`,
//! `CutMidFrame`, `HalfOpen`, `InvalidUtf8`, `Oversized`, `Garbage`), and
//! its scripted refusals (refused connections, 503 answers), mid-stream on
//! `ws://`: the client reports why with a typed reason, reconnects, logs in
//! again, restores every subscription (the builder's and the one added at
//! run time), and its handlers get, per connection and stream, exactly a
//! prefix of what the server wrote, in order, with no duplicate and no gap;
//! all of it when the fault loses nothing.
//!
//! The drill itself is in `recovery/mod.rs`; each test here scripts one
//! fault and checks how the client explained it.

use std::time::Duration;

use hypersockets::{DisconnectReason, HyperSocketError, TransportLimits};
use hypersockets_testkit::{CloseCause, Fault, HandshakeResponse, Scenario};

use super::plain;
use crate::recovery::{
    Builder, Faulted, MID_STREAM, Outcome, error_of, exchange_config, is_ended_without_close,
    is_reset, survive,
};
use crate::support::WAIT;

/// Short, so a half-open connection is noticed quickly; far above the gap
/// between two messages of the drill's streams (1 ms).
const LIVENESS: Duration = Duration::from_millis(400);

/// The client's limit on messages and frames in the refused-frame drills.
const LIMIT: usize = 16 << 10;

/// The drill's client on the transport under test.
fn on_transport(builder: Builder) -> Builder {
    builder.transport(plain())
}

/// Drops the connection mid-stream; refused (or rejected) attempts may
/// follow in the same instant.
fn drop_mid_stream() -> Scenario {
    Scenario::new().after_messages(MID_STREAM, Fault::DropTcp)
}

/// The drill on the plain exchange, with the fault `scenario`.
async fn drill(scenario: Scenario, faulted: Faulted) -> Outcome {
    survive(
        exchange_config(),
        |builder, _| on_transport(builder),
        scenario,
        faulted,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_frame_1012_reaches_the_events_and_the_client_recovers() {
    let reasons = drill(
        Scenario::new().after_messages(MID_STREAM, Fault::close(1012u16, "restarting")),
        Faulted::DeliversAll,
    )
    .await
    .reasons;
    match &reasons[..] {
        [DisconnectReason::ServerClosed(Some(frame))] => {
            assert_eq!(u16::from(frame.code), 1012);
            assert_eq!(frame.reason.as_str(), "restarting");
        }
        other => panic!("expected the server's Close frame, got {other:?}"),
    }
}

/// The drill with `fault` mid-stream: one loss, which `expected` accepts.
async fn lost_as(fault: Fault, faulted: Faulted, expected: impl Fn(&DisconnectReason) -> bool) {
    let reasons = drill(Scenario::new().after_messages(MID_STREAM, fault), faulted)
        .await
        .reasons;
    assert!(
        matches!(&reasons[..], [loss] if expected(loss)),
        "{reasons:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_tcp_is_a_closed_connection_and_the_client_recovers() {
    lost_as(Fault::DropTcp, Faulted::DeliversAll, is_ended_without_close).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_tcp_is_a_reset_and_the_client_recovers() {
    // A reset may destroy bytes written but not yet read: a prefix only.
    lost_as(Fault::ResetTcp, Faulted::DeliversPrefix, is_reset).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_mid_frame_is_a_closed_connection_and_the_client_recovers() {
    // The cut message is not recorded as written, and must not be delivered.
    lost_as(
        Fault::CutMidFrame,
        Faulted::DeliversAll,
        is_ended_without_close,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_is_found_by_its_silence_and_the_client_recovers() {
    let outcome = survive(
        exchange_config(),
        |builder, _| on_transport(builder).liveness_timeout(LIVENESS),
        Scenario::new().after_messages(MID_STREAM, Fault::HalfOpen),
        Faulted::DeliversAll,
    )
    .await;
    assert!(
        matches!(
            &outcome.reasons[..],
            [DisconnectReason::LivenessTimeout(after)] if *after == LIVENESS
        ),
        "{:?}",
        outcome.reasons
    );
}

/// The drill with `fault` written mid-stream, on a client with at most
/// `LIMIT` bytes per message and frame: the connection must end with one
/// error, of the `expected` kind, and the client's Close frame with `code`.
async fn refuses_frame(fault: Fault, code: u16, expected: impl Fn(&HyperSocketError) -> bool) {
    let Outcome { reasons, control } = survive(
        exchange_config(),
        |builder, _| {
            on_transport(builder).limits(
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
        matches!(reasons.as_slice(), [reason] if error_of(reason).is_some_and(&expected)),
        "{reasons:?}"
    );
    // The server was told why.
    let first = control.connections()[0];
    let cause = control.wait_for_close(first, WAIT).await.unwrap();
    assert!(
        matches!(&cause, CloseCause::ClientClosed(Some(frame)) if frame.code.as_u16() == code),
        "{cause:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_is_a_typed_error_answered_with_1009_and_the_client_recovers() {
    refuses_frame(Fault::oversized(4 * LIMIT), 1009, |error| {
        matches!(
            error,
            HyperSocketError::MessageTooLarge { size, limit: LIMIT } if *size == 4 * LIMIT
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_is_a_typed_error_answered_with_1007_and_the_client_recovers() {
    refuses_frame(Fault::InvalidUtf8, 1007, |error| {
        matches!(error, HyperSocketError::InvalidUtf8(_))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_a_protocol_error_answered_with_1002_and_the_client_recovers() {
    refuses_frame(Fault::default_garbage(), 1002, |error| {
        matches!(error, HyperSocketError::WebSocket(_))
    })
    .await;
}

/// The reasons of a drop followed by `attempts` failed connection attempts,
/// each failing as `failed` says.
fn assert_dropped_then_failed(
    reasons: &[DisconnectReason],
    attempts: usize,
    failed: impl Fn(&HyperSocketError) -> bool,
) {
    let (loss, rest) = reasons.split_first().expect("the fault is reported");
    assert!(is_ended_without_close(loss), "{reasons:?}");
    assert_eq!(rest.len(), attempts, "{reasons:?}");
    assert!(
        rest.iter()
            .all(|reason| error_of(reason).is_some_and(&failed)),
        "{reasons:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_through_handshakes_rejected_with_503() {
    let Outcome { reasons, control } = drill(
        drop_mid_stream().respond_next(2, HandshakeResponse::service_unavailable()),
        Faulted::DeliversAll,
    )
    .await;
    assert_dropped_then_failed(&reasons, 2, |error| {
        matches!(
            error,
            HyperSocketError::Handshake {
                status: Some(503),
                ..
            }
        )
    });
    let rejected: Vec<_> = control
        .handshakes()
        .into_iter()
        .filter(|h| h.response == HandshakeResponse::service_unavailable())
        .collect();
    assert_eq!(rejected.len(), 2);
    assert!(rejected.iter().all(|h| h.connection.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_through_refused_connections() {
    let Outcome { reasons, control } = drill(
        drop_mid_stream().refuse_next(2),
        Faulted::DeliversAll,
    )
    .await;
    // Closed before the handshake's answer: a reset, or a failed handshake
    // when the close got there before the request.
    assert_dropped_then_failed(&reasons, 2, |error| {
        matches!(
            error,
            HyperSocketError::Io(_) | HyperSocketError::Handshake { status: None, .. }
        )
    });
    assert_eq!(control.refused(), 2);
    assert_eq!(control.attempts(), 4, "two connections and two refused");
}
