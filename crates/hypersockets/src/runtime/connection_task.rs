//! The connection task: connect, run a session, and on any loss wait as
//! the reconnection strategy says and connect again, until the user closes
//! the client or the strategy gives up. Lanes live here, across sessions.

use std::sync::Arc;

use hypersockets_core::{
    ClientEvent, Connection, ConnectionState, DisconnectReason, HyperSocketError, MessageRouter,
    Result,
};
use hypersockets_router::ShutdownMode;
use tokio::time::Instant;

use crate::config::ClientConfig;
use crate::runtime::session::{self, SessionEnd};
use crate::runtime::{Command, Runtime};

/// Runs the client until it is closed or gives up, then shuts the lanes.
pub(crate) async fn run<R: MessageRouter>(mut rt: Runtime<R>) {
    let mut attempt: u32 = 0;
    let mut connected_before = false;
    let mode = loop {
        rt.shared.set_state(ConnectionState::Connecting);
        rt.shared.metrics.inc_connect_attempts();
        let end = match connect(&rt.config).await {
            Ok(connection) => {
                let started = Instant::now();
                let end = session::run(&mut rt, connection, connected_before).await;
                let reached_connected = rt.shared.state.get() == ConnectionState::Connected;
                connected_before |= reached_connected;
                // Only a connection that got through auth and subscribing
                // can be stable: one whose login was rejected (however
                // slowly) must not reset the count, or `max_attempts`
                // would never be reached.
                if reached_connected && started.elapsed() >= rt.config.stable_after {
                    attempt = 0;
                }
                end
            }
            Err(error) => {
                tracing::warn!(url = %rt.config.url, %error, "connect failed");
                if !error.is_retryable() {
                    SessionEnd::Fatal(error)
                } else {
                    SessionEnd::Lost(DisconnectReason::Error(Arc::new(error)))
                }
            }
        };
        let reason = match end {
            SessionEnd::Closed(mode) => {
                rt.shared.emit(ClientEvent::Disconnected {
                    reason: DisconnectReason::UserClosed,
                });
                break mode;
            }
            SessionEnd::Fatal(error) => {
                tracing::error!(%error, "giving up: reconnecting cannot help");
                rt.shared.emit(ClientEvent::Error(Arc::new(error)));
                break ShutdownMode::Graceful;
            }
            SessionEnd::Lost(reason) => reason,
        };
        tracing::info!(%reason, "disconnected");
        rt.shared.emit(ClientEvent::Disconnected { reason });
        attempt = attempt.saturating_add(1);
        let Some(delay) = rt.config.reconnect.delay(attempt) else {
            let error = HyperSocketError::ReconnectExhausted {
                attempts: attempt - 1,
            };
            tracing::error!(%error, "giving up");
            rt.shared.emit(ClientEvent::Error(Arc::new(error)));
            break ShutdownMode::Graceful;
        };
        rt.shared.set_state(ConnectionState::Reconnecting);
        tracing::info!(attempt, ?delay, "reconnecting");
        rt.shared.emit(ClientEvent::Reconnecting { attempt, delay });
        if let Some(mode) = wait(&mut rt, delay).await {
            break mode;
        }
    };
    rt.shared.set_state(ConnectionState::ShuttingDown);
    let Runtime {
        dispatcher, shared, ..
    } = rt;
    dispatcher.shutdown(mode).await;
    tracing::info!("client shut down");
    shared.emit(ClientEvent::ShutDown);
}

/// Asks for fresh headers and opens a connection.
async fn connect(config: &ClientConfig) -> Result<Connection> {
    let headers = match &config.headers {
        Some(provider) => {
            provider
                .headers()
                .await
                .map_err(|source| HyperSocketError::Handshake {
                    status: None,
                    source: Some(source),
                })?
        }
        None => Vec::new(),
    };
    tracing::debug!(url = %config.url, "connecting");
    config.transport.connect(config.request(headers)).await
}

/// Sleeps before the next attempt, answering commands meanwhile. `Some`
/// when the user closed the client.
async fn wait<R: MessageRouter>(
    rt: &mut Runtime<R>,
    delay: std::time::Duration,
) -> Option<ShutdownMode> {
    let deadline = Instant::now() + delay;
    loop {
        let command = tokio::select! {
            () = tokio::time::sleep_until(deadline) => return None,
            command = rt.commands.recv() => command,
        };
        match command {
            None => return Some(ShutdownMode::Graceful),
            Some(Command::Close(mode)) => {
                rt.shared.emit(ClientEvent::Disconnected {
                    reason: DisconnectReason::UserClosed,
                });
                return Some(mode);
            }
            Some(Command::Send { done, .. }) => {
                let _ = done.send(Err(HyperSocketError::NotConnected));
            }
            // The registry already has it; the next connection restores it.
            Some(Command::Subscribe(_) | Command::Unsubscribe(_)) => {}
        }
    }
}
