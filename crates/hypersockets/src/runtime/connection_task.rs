//! The connection task: connect, run a session, and on any loss wait as
//! the reconnection strategy says and connect again, until the user closes
//! the client or the strategy gives up. Lanes live here, across sessions.

use std::sync::Arc;

use hypersockets_core::{
    ClientEvent, Connection, DisconnectReason, HyperSocketError, MessageRouter, Result,
};
use hypersockets_router::ShutdownMode;
use tokio::time::Instant;

use crate::runtime::rotation::{self, Handover};
use crate::runtime::session::{self, SessionEnd, sleep_until};
use crate::runtime::{Command, Runtime, Shared, Transition};

/// Runs the client until it is closed or gives up, then shuts the lanes.
pub(crate) async fn run<R: MessageRouter>(mut rt: Runtime<R>) {
    let mut guard = EndGuard {
        shared: Arc::clone(&rt.shared),
        finished: false,
    };
    let mut attempt: u32 = 0;
    // Every connection after the client's first attempt is a reconnect,
    // whether or not an earlier one got as far as `Connected`.
    let mut first_attempt = true;
    // A live session's successor, connected while it read on.
    let mut handover: Option<Box<Handover>> = None;
    let (mode, gave_up) = loop {
        let end = if let Some(next) = handover.take() {
            let Handover {
                connection, old, ..
            } = *next;
            session::run(&mut rt, connection, true, old).await
        } else {
            rt.shared.enter(Transition::Connecting);
            let reconnect = !std::mem::take(&mut first_attempt);
            connect_and_run(&mut rt, reconnect, &mut attempt).await
        };
        let reason = match end {
            SessionEnd::Rotated(next) => {
                // The old connection served: the count starts afresh.
                attempt = 0;
                handover = Some(next);
                continue;
            }
            SessionEnd::Closed(mode) => {
                rt.shared.emit(ClientEvent::Disconnected {
                    reason: DisconnectReason::UserClosed,
                });
                break (mode, None);
            }
            SessionEnd::Fatal(error) => break (ShutdownMode::Graceful, Some(error)),
            SessionEnd::Lost(reason) => reason,
        };
        tracing::info!(%reason, "disconnected");
        attempt = attempt.saturating_add(1);
        // The strategy sees the error, so a server's Retry-After is waited for.
        let cause = match &reason {
            DisconnectReason::Error(error) => Some(&**error),
            _ => None,
        };
        let strategy = &rt.config.reconnect;
        let delay = rt.shared.caught("reconnection strategy", || {
            strategy.delay_after(attempt, cause)
        });
        rt.shared.emit(ClientEvent::Disconnected { reason });
        let Some(delay) = delay else {
            let error = HyperSocketError::Panicked {
                what: "reconnection strategy",
            };
            break (ShutdownMode::Graceful, Some(error));
        };
        let Some(delay) = delay else {
            let error = HyperSocketError::ReconnectExhausted {
                attempts: attempt - 1,
            };
            break (ShutdownMode::Graceful, Some(error));
        };
        rt.shared.enter(Transition::Reconnecting { attempt, delay });
        if let Some(mode) = wait(&mut rt, delay).await {
            break (mode, None);
        }
    };
    let asked = gave_up.is_none();
    rt.shared.enter(Transition::ShuttingDown { gave_up });
    let Runtime {
        dispatcher,
        shared,
        config,
        mut commands,
        ..
    } = rt;
    let close = config.timeouts.close;
    // Asked to close (or the last handle gone): the lanes get the close
    // timeout. Given up by itself: nobody asked to hurry, so the lanes
    // finish what is queued, unless a `close` comes meanwhile (or the last
    // handle goes), which starts the close timeout then.
    let stop_waiting = async move {
        if !asked {
            closed(&mut commands).await;
        }
        tokio::time::sleep(close).await;
    };
    dispatcher.shutdown_until(mode, stop_waiting).await;
    tracing::info!("client shut down");
    shared.emit(ClientEvent::ShutDown);
    guard.finished = true;
}

/// Connects and runs a session on the connection; a connection that got
/// through auth and subscribing and stayed up resets `attempt`.
async fn connect_and_run<R: MessageRouter>(
    rt: &mut Runtime<R>,
    reconnect: bool,
    attempt: &mut u32,
) -> SessionEnd {
    match connect_or_close(rt).await {
        Err(mode) => SessionEnd::Closed(mode),
        Ok(Ok(connection)) => {
            let started = Instant::now();
            let connections = rt.shared.lifecycle.borrow().connections;
            let end = session::run(rt, connection, reconnect, None).await;
            // Only a connection that got through auth and subscribing
            // can be stable: one whose login was rejected (however
            // slowly) must not reset the count, or `max_attempts`
            // would never be reached.
            let reached_connected = rt.shared.lifecycle.borrow().connections > connections;
            if reached_connected && started.elapsed() >= rt.config.stable_after {
                *attempt = 0;
            }
            end
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "connect failed");
            SessionEnd::from_error(error)
        }
    }
}

/// Makes sure a client whose connection task ends abnormally (a panic
/// that escaped, or the task dropped with its runtime) still shuts down
/// with a reason and a `ShutDown` event, so `connect` never waits forever.
struct EndGuard {
    shared: Arc<Shared>,
    finished: bool,
}

impl Drop for EndGuard {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        tracing::error!("connection task ended abnormally");
        self.shared.enter(Transition::ShuttingDown {
            gave_up: Some(HyperSocketError::Panicked {
                what: "connection task",
            }),
        });
        self.shared.emit(ClientEvent::ShutDown);
    }
}

/// Connects, answering commands meanwhile, so that `close` (or dropping
/// every handle) is heard at once even while a handshake hangs. `Err` when
/// the client is to close.
async fn connect_or_close<R: MessageRouter>(
    rt: &mut Runtime<R>,
) -> std::result::Result<Result<Connection>, ShutdownMode> {
    let mut connecting = rotation::connect(&rt.config, &rt.shared);
    loop {
        let command = tokio::select! {
            connected = &mut connecting => return Ok(connected),
            command = rt.commands.recv() => command,
        };
        if let Some(mode) = answer_offline(command.as_ref()) {
            return Err(mode);
        }
    }
}

/// Sleeps before the next attempt, answering commands meanwhile. `Some`
/// when the user closed the client.
async fn wait<R: MessageRouter>(
    rt: &mut Runtime<R>,
    delay: std::time::Duration,
) -> Option<ShutdownMode> {
    // A strategy may return any delay (even `Duration::MAX`): one too long
    // for a deadline just waits for the user, never panics.
    let deadline = Instant::now().checked_add(delay);
    loop {
        let command = tokio::select! {
            () = sleep_until(deadline) => return None,
            command = rt.commands.recv() => command,
        };
        if let Some(mode) = answer_offline(command.as_ref()) {
            rt.shared.emit(ClientEvent::Disconnected {
                reason: DisconnectReason::UserClosed,
            });
            return Some(mode);
        }
    }
}

/// Waits until the client is asked to close, or every handle is gone.
async fn closed(commands: &mut tokio::sync::mpsc::Receiver<Command>) {
    loop {
        match commands.recv().await {
            None | Some(Command::Close(_)) => return,
            Some(Command::Subscribe(_) | Command::Unsubscribe(_)) => {}
        }
    }
}

/// Answers a command while there is no connection. `Some` when the client
/// is to close: asked to, or every handle is gone (nobody can use it).
pub(super) fn answer_offline(command: Option<&Command>) -> Option<ShutdownMode> {
    match command {
        None => Some(ShutdownMode::Graceful),
        Some(Command::Close(mode)) => Some(*mode),
        // The registry already has it; the next connection restores it.
        Some(Command::Subscribe(_) | Command::Unsubscribe(_)) => None,
    }
}
