//! Every way the server can break a connection, mid-stream: the client
//! reports why, reconnects, logs in again, restores every subscription (the
//! builder's and the one added at run time), and its handlers get, per
//! connection and stream, exactly a prefix of what the server wrote, in
//! order, with no duplicate and no gap; all of it when the fault loses
//! nothing.
//!
//! The drill itself is in `recovery/mod.rs`; each test here scripts one
//! fault and checks how the client explained it.

mod recovery;
mod support;

use std::time::Duration;

use hypersockets::{DisconnectReason, HyperSocketError};
use hypersockets_testkit::{Fault, HandshakeResponse, Scenario};
use recovery::{
    Faulted, MID_STREAM, Outcome, as_is, error_of, exchange_config, is_ended_without_close,
    is_reset, survive,
};

/// Short, so a half-open connection is noticed quickly; far above the gap
/// between two messages of the drill's streams (1 ms).
const LIVENESS: Duration = Duration::from_millis(400);

/// Drops the connection mid-stream; refused (or rejected) attempts may
/// follow in the same instant.
fn drop_mid_stream() -> Scenario {
    Scenario::new().after_messages(MID_STREAM, Fault::DropTcp)
}

/// The drill on the plain exchange, with the fault `scenario`; the
/// `Disconnected` reasons, from the fault's to the last failed attempt's.
async fn reasons_after(scenario: Scenario, faulted: Faulted) -> Vec<DisconnectReason> {
    survive(exchange_config(), as_is, scenario, faulted)
        .await
        .reasons
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_from_a_server_close_frame() {
    let reasons = reasons_after(
        Scenario::new().after_messages(MID_STREAM, Fault::close(1012u16, "restarting")),
        Faulted::DeliversAll,
    )
    .await;
    match &reasons[..] {
        [DisconnectReason::ServerClosed(Some(frame))] => {
            assert_eq!(u16::from(frame.code), 1012);
            assert_eq!(frame.reason.as_str(), "restarting");
        }
        other => panic!("expected the server's Close frame, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_from_a_dropped_tcp_connection() {
    let reasons = reasons_after(drop_mid_stream(), Faulted::DeliversAll).await;
    assert!(
        matches!(&reasons[..], [loss] if is_ended_without_close(loss)),
        "{reasons:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_from_a_reset_tcp_connection() {
    // A reset may destroy bytes written but not yet read: a prefix only.
    let reasons = reasons_after(
        Scenario::new().after_messages(MID_STREAM, Fault::ResetTcp),
        Faulted::DeliversPrefix,
    )
    .await;
    assert!(
        matches!(&reasons[..], [loss] if is_reset(loss)),
        "{reasons:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_from_a_frame_cut_in_half() {
    // The cut message is not recorded as written, and must not be delivered.
    let reasons = reasons_after(
        Scenario::new().after_messages(MID_STREAM, Fault::CutMidFrame),
        Faulted::DeliversAll,
    )
    .await;
    assert!(
        matches!(&reasons[..], [loss] if is_ended_without_close(loss)),
        "{reasons:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_a_half_open_connection_by_its_silence_and_recovers() {
    let outcome = survive(
        exchange_config(),
        |builder, _| builder.liveness_timeout(LIVENESS),
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
    let Outcome { reasons, control } = survive(
        exchange_config(),
        as_is,
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
    let Outcome { reasons, control } = survive(
        exchange_config(),
        as_is,
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
