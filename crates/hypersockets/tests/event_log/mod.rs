//! Reading a client's events as a whole story: everything up to a final
//! event, and the reconnection attempts in it.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use hypersockets::{
    ClientEvent, DisconnectReason, EventStream, EventStreamError, HyperSocketError,
};

use crate::support::WAIT;

/// Every event up to and including the first one `last` accepts; panics
/// after `WAIT`, or if events were lost.
pub async fn events_until(
    events: &mut EventStream,
    what: &str,
    last: impl Fn(&ClientEvent) -> bool,
) -> Vec<ClientEvent> {
    let mut seen = Vec::new();
    let read = async {
        loop {
            match events.recv().await {
                Ok(event) => {
                    let done = last(&event);
                    seen.push(event);
                    if done {
                        return;
                    }
                }
                Err(EventStreamError::Lagged(n)) => panic!("lost {n} events waiting for {what}"),
                Err(error) => panic!("event stream ended waiting for {what}: {error}"),
            }
        }
    };
    if tokio::time::timeout(WAIT, read).await.is_err() {
        panic!("timed out waiting for {what}; saw {seen:?}");
    }
    seen
}

/// Waits for the next `Disconnected` event and returns the silence of its
/// `LivenessTimeout`; panics on any other reason.
pub async fn liveness_timeout(events: &mut EventStream) -> Duration {
    let event = crate::support::wait_event(events, "disconnect", |e| {
        matches!(e, ClientEvent::Disconnected { .. })
    })
    .await;
    match event {
        ClientEvent::Disconnected {
            reason: DisconnectReason::LivenessTimeout(after),
        } => after,
        other => panic!("expected a liveness timeout, got {other:?}"),
    }
}

/// The events already delivered, without waiting.
pub fn events_so_far(events: &mut EventStream) -> Vec<ClientEvent> {
    std::iter::from_fn(|| events.try_recv())
        .map(|event| event.expect("no event lost"))
        .collect()
}

/// The `(attempt, delay)` of every `Reconnecting` event, in order.
pub fn reconnect_attempts(events: &[ClientEvent]) -> Vec<(u32, Duration)> {
    events
        .iter()
        .filter_map(|event| match event {
            ClientEvent::Reconnecting { attempt, delay } => Some((*attempt, *delay)),
            _ => None,
        })
        .collect()
}

/// The reason of every `Disconnected` event, in order.
pub fn disconnect_reasons(events: &[ClientEvent]) -> Vec<DisconnectReason> {
    events
        .iter()
        .filter_map(|event| match event {
            ClientEvent::Disconnected { reason } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

/// How many events `wanted` accepts.
pub fn count(events: &[ClientEvent], wanted: impl Fn(&ClientEvent) -> bool) -> usize {
    events.iter().filter(|event| wanted(event)).count()
}

/// Whether the event is the client's last.
pub fn is_shut_down(event: &ClientEvent) -> bool {
    matches!(event, ClientEvent::ShutDown)
}

/// Whether the event is a successful reconnection.
pub fn is_reconnected(event: &ClientEvent) -> bool {
    matches!(event, ClientEvent::Connected { reconnect: true })
}

/// Checks that `connect` failed because the strategy gave up after
/// `attempts` reconnection attempts.
pub fn assert_gave_up(result: Result<(), HyperSocketError>, attempts: u32) {
    match result {
        Err(HyperSocketError::ReconnectExhausted { attempts: made }) => {
            assert_eq!(made, attempts);
        }
        other => panic!("expected the strategy to give up, got {other:?}"),
    }
}
