//! A rotation, from both sides: the live session connects its successor
//! while it reads on, then hands itself over; the successor reads the old
//! connection beside its own until every stream has switched, then closes
//! it.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use hypersockets_core::{
    BoxFuture, Connection, HyperSocketError, MessageContext, MessageStream, Result, RotationCause,
    WsMessage,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, Sleep, timeout_at};

use crate::config::ClientConfig;
use crate::runtime::Shared;
use crate::runtime::inflater::Inflater;
use crate::runtime::keepalive::Keepalive;
use crate::runtime::overlap::Overlap;
use crate::runtime::session::sleep_until;
use crate::runtime::writer::Outgoing;

/// What a live session does about its successor.
pub(crate) enum Successor {
    /// None yet; one is due by age when `due` fires, if ever. The timer is
    /// kept, not made anew each time the session waits: the session waits
    /// between most messages of a quiet socket.
    Idle { due: Option<Pin<Box<Sleep>>> },
    /// Connecting it.
    Connecting {
        connect: BoxFuture<'static, Result<Connection>>,
        attempt: u32,
        cause: RotationCause,
    },
    /// Its attempt `attempt` failed (0: none made yet, the rotation's
    /// jitter); the next is made at `until`.
    Backoff {
        until: Instant,
        attempt: u32,
        cause: RotationCause,
    },
    /// Rotating gave up (the reconnection strategy said so): this
    /// connection lives until the venue ends it.
    Off,
}

/// What the successor's progress asks of the session.
pub(crate) enum SuccessorStep {
    /// The connection is old enough to be replaced.
    Due,
    /// An attempt ended.
    Connected(Result<Connection>),
    /// The backoff is over: try again.
    Retry,
}

impl Successor {
    /// Idle, due by age `after` from now (if at all).
    pub(crate) fn idle(after: Option<Duration>) -> Self {
        let due = after.and_then(|after| Instant::now().checked_add(after));
        Self::Idle {
            due: due.map(|due| Box::pin(tokio::time::sleep_until(due))),
        }
    }

    /// Whether a rotation may start.
    pub(crate) fn is_idle(&self) -> bool {
        matches!(self, Self::Idle { .. })
    }

    /// Starts connecting attempt `attempt`.
    pub(crate) fn connect(
        config: &ClientConfig,
        shared: &Arc<Shared>,
        attempt: u32,
        cause: RotationCause,
    ) -> Self {
        Self::Connecting {
            connect: connect(config, shared),
            attempt,
            cause,
        }
    }

    /// The next step; never returns while idle without an age, or off.
    ///
    /// Cancel safe: the connect future stays in `self`.
    pub(crate) async fn next(&mut self) -> SuccessorStep {
        match self {
            Self::Idle { due: Some(due) } => {
                due.as_mut().await;
                SuccessorStep::Due
            }
            Self::Connecting { connect, .. } => SuccessorStep::Connected(connect.await),
            Self::Backoff { until, .. } => {
                sleep_until(Some(*until)).await;
                SuccessorStep::Retry
            }
            Self::Idle { due: None } | Self::Off => std::future::pending().await,
        }
    }
}

/// Asks for fresh headers and opens a connection, owning what it needs,
/// so that a live session can connect its successor while it reads on.
pub(crate) fn connect(
    config: &ClientConfig,
    shared: &Arc<Shared>,
) -> BoxFuture<'static, Result<Connection>> {
    let transport = Arc::clone(&config.transport);
    let provider = config.headers.clone();
    let request = config.request(Vec::new());
    let shared = Arc::clone(shared);
    let recording = config.recording.clone();
    let connect = async move {
        let headers = match provider {
            Some(provider) => shared
                .caught_async("header provider", provider.headers())
                .await
                .ok_or(HyperSocketError::Panicked {
                    what: "header provider",
                })?
                .map_err(|source| HyperSocketError::handshake(source.into()))?,
            None => Vec::new(),
        };
        tracing::debug!("connecting");
        transport.connect(request.headers(headers)).await
    };
    match recording {
        Some(recording) => Box::pin(async move { recording.connected(connect.await) }),
        None => Box::pin(connect),
    }
}

/// A session handing over to its successor's connection.
pub(crate) struct Handover {
    pub(crate) connection: Connection,
    pub(crate) cause: RotationCause,
    /// The old connection and its streams so far, filled in when its
    /// session has ended.
    pub(crate) old: Option<(Predecessor, Overlap<(WsMessage, MessageContext)>)>,
}

impl std::fmt::Debug for Handover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handover")
            .field("cause", &self.cause)
            .finish_non_exhaustive()
    }
}

/// The connection being replaced, read by its successor's session until
/// it is closed.
pub(crate) struct Predecessor {
    /// Its connection's number, for its messages' context.
    pub(crate) connection: u64,
    pub(crate) stream: MessageStream,
    /// Its writer's keepalive queue: dropping it closes the connection.
    pub(crate) writer: mpsc::Sender<Outgoing>,
    pub(crate) writer_task: JoinHandle<()>,
    /// Answers its application pings meanwhile.
    pub(crate) keepalive: Keepalive,
    pub(crate) inflater: Option<Inflater>,
}

impl Predecessor {
    /// The next frame, or the end.
    ///
    /// Cancel safe, as the stream is.
    pub(crate) async fn next(&mut self) -> Option<Result<WsMessage>> {
        self.stream.next().await
    }

    /// Closes the connection: a Close frame, then the writer ends (within
    /// the write and close timeouts) away from the reader.
    pub(crate) fn close(self, timeouts: (Duration, Duration)) {
        let Self {
            writer,
            writer_task,
            ..
        } = self;
        let _ = writer.try_send(Outgoing::new(WsMessage::close(1000u16, "")));
        drop(writer);
        let (write, close) = timeouts;
        let deadline = Instant::now() + write + close;
        tokio::spawn(async move {
            let mut writer_task = writer_task;
            if timeout_at(deadline, &mut writer_task).await.is_err() {
                writer_task.abort();
            }
        });
    }
}
