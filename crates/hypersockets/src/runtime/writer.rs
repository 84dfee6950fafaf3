//! The writer: the only owner of a connection's sending half.
//!
//! Every write has its own timeout, so a peer that stops reading (a
//! half-open socket) fails the write instead of freezing anything: the
//! reader never awaits a write, it only queues.

use std::sync::Arc;
use std::time::Duration;

use futures_util::SinkExt;
use hypersockets_core::{HyperSocketError, MessageSink, Result, WsMessage};
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;

use crate::runtime::Shared;

/// A message for the writer, with someone to tell when it is written.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) message: WsMessage,
    pub(crate) done: Option<oneshot::Sender<Result<()>>>,
}

/// Writes until the queue closes (then closes the sink, sending a Close
/// frame) or a write fails (then reports it on `failed` and stops).
pub(crate) async fn run(
    mut sink: MessageSink,
    mut queue: mpsc::Receiver<Outgoing>,
    write_timeout: Duration,
    close_timeout: Duration,
    shared: Arc<Shared>,
    failed: oneshot::Sender<HyperSocketError>,
) {
    while let Some(Outgoing { message, done }) = queue.recv().await {
        let bytes = message.len();
        let counted = message.is_data();
        let result = match timeout(write_timeout, sink.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(HyperSocketError::timeout("write", write_timeout)),
        };
        match result {
            Ok(()) => {
                if counted {
                    shared.counters.record_sent(bytes);
                }
                if let Some(done) = done {
                    let _ = done.send(Ok(()));
                }
            }
            Err(error) => {
                tracing::warn!(%error, "write failed; the connection is dropped");
                if let Some(done) = done {
                    let _ = done.send(Err(HyperSocketError::ConnectionClosed));
                }
                // Whoever is still queued learns the connection is gone.
                queue.close();
                while let Ok(outgoing) = queue.try_recv() {
                    if let Some(done) = outgoing.done {
                        let _ = done.send(Err(HyperSocketError::ConnectionClosed));
                    }
                }
                let _ = failed.send(error);
                return;
            }
        }
    }
    // The session ended: close politely, but never wait long.
    if timeout(close_timeout, sink.close()).await.is_err() {
        tracing::debug!("close handshake timed out");
    }
}
