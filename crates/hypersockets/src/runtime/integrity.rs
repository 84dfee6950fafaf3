//! The client's stream tracking, kept across connections, and the
//! snapshots fetched for it (see `Integrity`).

use std::time::Duration;

use hypersockets_core::{MessageRouter, StreamId, StreamSnapshot, StreamTracker};
use hypersockets_router::Routed;
use tokio::sync::mpsc;

use crate::Integrity;

/// A snapshot fetch's outcome, for the connection task.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) stream: StreamId,
    pub(crate) result: Result<StreamSnapshot, String>,
}

/// The client's stream tracking, kept across connections, with the
/// snapshots fetched for it. It holds routed messages: a stale stream's,
/// buffered for a snapshot, are queued as they are once it comes.
#[derive(Debug)]
pub(crate) struct Streams<R: MessageRouter> {
    pub(crate) tracker: StreamTracker<Routed<R>>,
    fetched_tx: mpsc::UnboundedSender<Fetched>,
    pub(crate) fetched: mpsc::UnboundedReceiver<Fetched>,
    /// The connections made so far: the last one's number.
    pub(crate) connections: u64,
}

impl<R: MessageRouter> Streams<R> {
    pub(crate) fn new(integrity: &Integrity) -> Self {
        let (fetched_tx, fetched) = mpsc::unbounded_channel();
        Self {
            tracker: match integrity.snapshots {
                Some(_) => StreamTracker::buffering(integrity.max_buffered),
                None => StreamTracker::new(),
            },
            fetched_tx,
            fetched,
            connections: 0,
        }
    }

    /// Fetches a snapshot of `stream` on its own task (after `delay`, for
    /// a retry), within the configured timeout; the outcome comes back on
    /// `fetched`.
    pub(crate) fn fetch(
        &self,
        integrity: &Integrity,
        stream: StreamId,
        topic: Option<String>,
        delay: Duration,
    ) {
        let Some(source) = integrity.snapshots.clone() else {
            return;
        };
        let timeout = integrity.snapshot_timeout;
        let tx = self.fetched_tx.clone();
        tokio::spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            // The user's future runs in its own task: a panic in it ends
            // that task only, and is reported as a failed fetch.
            let fetch = tokio::spawn(source.snapshot(stream, topic));
            let result = match tokio::time::timeout(timeout, fetch).await {
                Ok(Ok(Ok(snapshot))) => Ok(snapshot),
                Ok(Ok(Err(error))) => Err(error.to_string()),
                Ok(Err(_)) => Err("the snapshot source panicked".to_owned()),
                Err(_) => Err(format!("no snapshot within {timeout:?}")),
            };
            let _ = tx.send(Fetched { stream, result });
        });
    }
}
