//! The writer: the only owner of a connection's sending half.
//!
//! Every write has its own timeout, so a peer that stops reading (a
//! half-open socket) fails the write instead of freezing anything: the
//! reader never awaits a write, it only queues.
//!
//! Three queues feed it, drained in this order: the session's keepalive
//! (pongs, heartbeats, protocol pings, Close), the session's requests
//! (login, subscriptions), and user sends, which the user's `send` fills
//! itself. So user sends filling their queue never make a keepalive answer
//! fail, and never make the reader wait; and pacing (`pacing.rs`) holds
//! back requests and sends, never keepalive.

use std::sync::Arc;
use std::time::Duration;

use futures_util::SinkExt;
use hypersockets_core::{HyperSocketError, MessageSink, Result, WsMessage};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout};

use crate::pacing::{Class, Pacer};
use crate::runtime::Shared;
use crate::runtime::requests::RequestReceiver;
use crate::runtime::session::sleep_until;

/// A message for the writer, with someone to tell when it is written.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) message: WsMessage,
    pub(crate) done: Option<oneshot::Sender<Result<()>>>,
    /// Told once the message is on the wire, for a subscription request
    /// waiting for the venue's answer (its timeout starts then).
    pub(crate) tracked: Option<oneshot::Sender<()>>,
}

impl Outgoing {
    /// `message`, with nobody to tell when it is written.
    pub(crate) fn new(message: WsMessage) -> Self {
        Self {
            message,
            done: None,
            tracked: None,
        }
    }

    /// `message`, with `done` told when it is written (or never will be).
    pub(crate) fn with_done(message: WsMessage, done: oneshot::Sender<Result<()>>) -> Self {
        Self {
            message,
            done: Some(done),
            tracked: None,
        }
    }
}

impl Outgoing {
    /// Tells whoever waits that the message will never be written.
    fn refuse(self) {
        if let Some(done) = self.done {
            let _ = done.send(Err(HyperSocketError::ConnectionClosed));
        }
    }
}

/// The writer's queues, in the order it drains them.
pub(crate) struct Queues {
    /// The session's keepalive answers, Pings and Close; closing it (the
    /// session ended) stops the writer.
    pub(crate) keepalive: mpsc::Receiver<Outgoing>,
    /// The session's requests: login, subscribe, unsubscribe.
    pub(crate) requests: RequestReceiver,
    /// User sends.
    pub(crate) data: mpsc::Receiver<Outgoing>,
}

/// Writes until the keepalive queue closes (then closes the sink, sending
/// a Close frame) or a write fails (then reports it on `failed` and
/// stops). Every write first waits for room under the limits (`pacer`); a
/// request or user send waiting for it never holds back keepalive, which
/// has a queue and reserved writes of its own. User sends still queued when it
/// stops are refused (`ConnectionClosed`): nothing is carried over to
/// another connection.
pub(crate) async fn run(
    mut sink: MessageSink,
    mut queues: Queues,
    mut pacer: Pacer,
    timeouts: (Duration, Duration),
    shared: Arc<Shared>,
    failed: oneshot::Sender<HyperSocketError>,
) {
    let (write_timeout, close_timeout) = timeouts;
    // Set once our Close frame is out: nothing may follow it (RFC 6455
    // §5.5.1), so later messages are refused, not written.
    let mut closed = false;
    // A request or user send taken from its queue, waiting for room under the limits.
    let mut held: Option<(Outgoing, Class)> = None;
    loop {
        let ready_at = held
            .as_ref()
            .map(|(_, class)| pacer.ready_at(*class, Instant::now()));
        let (outgoing, class) = tokio::select! {
            biased;
            outgoing = queues.keepalive.recv() => match outgoing {
                Some(outgoing) => {
                    let class = if outgoing.message.is_close() {
                        Class::Close
                    } else {
                        Class::Keepalive
                    };
                    (outgoing, class)
                }
                None => break,
            },
            () = sleep_until(ready_at) => match held.take() {
                Some(held) => held,
                None => continue,
            },
            outgoing = queues.requests.recv(), if held.is_none() => {
                held = Some((outgoing, Class::Request));
                continue;
            }
            Some(outgoing) = queues.data.recv(), if held.is_none() && !closed => {
                held = Some((outgoing, Class::User));
                continue;
            }
        };
        if closed {
            tracing::debug!("message after our close frame not sent");
            outgoing.refuse();
            continue;
        }
        // Keepalive waits only for its own room (the reserve is its).
        let ready_at = pacer.ready_at(class, Instant::now());
        if ready_at > Instant::now() {
            tokio::time::sleep_until(ready_at).await;
        }
        pacer.take(class, Instant::now());
        let Outgoing {
            message,
            done,
            tracked,
        } = outgoing;
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
                if let Some(tracked) = tracked {
                    let _ = tracked.send(());
                }
                if closed {
                    if let Some((outgoing, _)) = held.take() {
                        outgoing.refuse();
                    }
                    refuse_requests(&mut queues.requests);
                    refuse_all(&mut queues.data);
                }
            }
            Err(error) => {
                tracing::warn!(%error, "write failed; the connection is dropped");
                if let Some(done) = done {
                    let _ = done.send(Err(HyperSocketError::ConnectionClosed));
                }
                if let Some((outgoing, _)) = held.take() {
                    outgoing.refuse();
                }
                refuse_all(&mut queues.keepalive);
                refuse_requests(&mut queues.requests);
                refuse_all(&mut queues.data);
                let _ = failed.send(error);
                return;
            }
        }
    }
    if let Some((outgoing, _)) = held.take() {
        outgoing.refuse();
    }
    refuse_requests(&mut queues.requests);
    refuse_all(&mut queues.data);
    // The session ended: close politely, but never wait long.
    if timeout(close_timeout, sink.close()).await.is_err() {
        tracing::debug!("close handshake timed out");
    }
}

/// Closes the requests queue and refuses whatever waits in it.
fn refuse_requests(queue: &mut RequestReceiver) {
    for outgoing in queue.close() {
        outgoing.refuse();
    }
}

/// Closes a queue and refuses whatever waits in it.
fn refuse_all(queue: &mut mpsc::Receiver<Outgoing>) {
    queue.close();
    while let Ok(outgoing) = queue.try_recv() {
        outgoing.refuse();
    }
}
