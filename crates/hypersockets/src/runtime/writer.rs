//! The writer: the only owner of a connection's sending half.
//!
//! Every write has its own timeout, so a peer that stops reading (a
//! half-open socket) fails the write instead of freezing anything: the
//! reader never awaits a write, it only queues.
//!
//! Two queues feed it. The session's own traffic (pongs, heartbeats,
//! protocol pings, login, subscriptions, Close) goes on the control queue,
//! which the writer drains first; user sends go on the data queue, which
//! the user's `send` fills itself. So user sends filling their queue never
//! make a keepalive answer fail, and never make the reader wait.

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

impl Outgoing {
    /// Tells whoever waits that the message will never be written.
    fn refuse(self) {
        if let Some(done) = self.done {
            let _ = done.send(Err(HyperSocketError::ConnectionClosed));
        }
    }
}

/// The writer's two queues.
pub(crate) struct Queues {
    /// The session's traffic; closing it (the session ended) stops the
    /// writer.
    pub(crate) control: mpsc::Receiver<Outgoing>,
    /// User sends.
    pub(crate) data: mpsc::Receiver<Outgoing>,
}

/// Writes until the control queue closes (then closes the sink, sending a
/// Close frame) or a write fails (then reports it on `failed` and stops).
/// User sends still queued when it stops are refused (`ConnectionClosed`):
/// nothing is carried over to another connection.
pub(crate) async fn run(
    mut sink: MessageSink,
    mut queues: Queues,
    write_timeout: Duration,
    close_timeout: Duration,
    shared: Arc<Shared>,
    failed: oneshot::Sender<HyperSocketError>,
) {
    // Set once our Close frame is out: nothing may follow it (RFC 6455
    // §5.5.1), so later messages are refused, not written.
    let mut closed = false;
    loop {
        let outgoing = tokio::select! {
            biased;
            outgoing = queues.control.recv() => match outgoing {
                Some(outgoing) => outgoing,
                None => break,
            },
            Some(outgoing) = queues.data.recv(), if !closed => outgoing,
        };
        if closed {
            tracing::debug!("message after our close frame not sent");
            outgoing.refuse();
            continue;
        }
        let Outgoing { message, done } = outgoing;
        let bytes = message.len();
        let counted = message.is_data();
        closed = message.is_close();
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
                if closed {
                    refuse_all(&mut queues.data);
                }
            }
            Err(error) => {
                tracing::warn!(%error, "write failed; the connection is dropped");
                if let Some(done) = done {
                    let _ = done.send(Err(HyperSocketError::ConnectionClosed));
                }
                refuse_all(&mut queues.control);
                refuse_all(&mut queues.data);
                let _ = failed.send(error);
                return;
            }
        }
    }
    refuse_all(&mut queues.data);
    // The session ended: close politely, but never wait long.
    if timeout(close_timeout, sink.close()).await.is_err() {
        tracing::debug!("close handshake timed out");
    }
}

/// Closes a queue and refuses whatever waits in it.
fn refuse_all(queue: &mut mpsc::Receiver<Outgoing>) {
    queue.close();
    while let Ok(outgoing) = queue.try_recv() {
        outgoing.refuse();
    }
}
