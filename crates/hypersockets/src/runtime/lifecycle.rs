//! Where a client is in its life, published through one `watch` channel:
//! every state change, its event and its counter happen in
//! [`Shared::enter`], and nowhere else.

use std::time::Duration;

use hypersockets_core::{ClientEvent, ConnectionState, HyperSocketError};

use crate::runtime::Shared;

/// What [`Shared::lifecycle`] holds.
#[derive(Clone, Debug)]
pub(crate) struct Lifecycle {
    pub(crate) state: ConnectionState,
    /// Connections that reached `Connected` so far: `connect` waits for
    /// this to grow, so a connection lost again at once is not missed.
    pub(crate) connections: u64,
    /// Why the client stopped, when it gave up by itself (a fatal
    /// rejection, a configuration error, reconnecting exhausted).
    pub(crate) stopped_by: Option<HyperSocketError>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            state: ConnectionState::Disconnected,
            connections: 0,
            stopped_by: None,
        }
    }
}

/// A move of the state machine, with what the move announces.
#[derive(Debug)]
pub(crate) enum Transition {
    /// A connection attempt starts.
    Connecting,
    /// Connected, authenticated and subscribed.
    Connected { reconnect: bool },
    /// Waiting `delay` before attempt `attempt`.
    Reconnecting { attempt: u32, delay: Duration },
    /// Closed by the user (`None`) or given up (`Some`): terminal.
    ShuttingDown { gave_up: Option<HyperSocketError> },
}

impl Shared {
    /// The state now.
    pub(crate) fn state(&self) -> ConnectionState {
        self.lifecycle.borrow().state
    }

    /// Moves the state machine, counts and announces the move. A move the
    /// state machine does not allow is skipped (a log line, never a panic).
    pub(crate) fn enter(&self, transition: Transition) {
        let next = match &transition {
            Transition::Connecting => ConnectionState::Connecting,
            Transition::Connected { .. } => ConnectionState::Connected,
            Transition::Reconnecting { .. } => ConnectionState::Reconnecting,
            Transition::ShuttingDown { .. } => ConnectionState::ShuttingDown,
        };
        // One writer (the connection task; `close` before it starts), so
        // checking before writing is not a race.
        let from = self.state();
        if !from.can_transition_to(next) {
            tracing::debug!(%from, to = %next, "state transition skipped");
            return;
        }
        // The event goes out while the new state is written, under the
        // watch's lock: whoever sees the state finds the event in the
        // stream, and whoever gets the event and then asks for the state
        // waits for the write to finish, so both always agree.
        self.lifecycle.send_modify(|lifecycle| {
            lifecycle.state = next;
            match transition {
                Transition::Connecting => self.counters.inc_connect_attempts(),
                Transition::Connected { reconnect } => {
                    lifecycle.connections += 1;
                    if reconnect {
                        self.counters.inc_reconnects();
                    }
                    tracing::info!(reconnect, "connected");
                    self.emit(ClientEvent::Connected { reconnect });
                }
                Transition::Reconnecting { attempt, delay } => {
                    tracing::info!(attempt, ?delay, "reconnecting");
                    self.emit(ClientEvent::Reconnecting { attempt, delay });
                }
                Transition::ShuttingDown { gave_up } => {
                    if let Some(error) = &gave_up {
                        tracing::error!(%error, "giving up");
                        self.emit(ClientEvent::Error(std::sync::Arc::new(error.clone())));
                    }
                    lifecycle.stopped_by = gave_up;
                }
            }
        });
    }
}
