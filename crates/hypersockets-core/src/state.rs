//! The connection state machine, readable and writable without locks.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

/// Where a client is in its life.
///
/// ```text
/// Disconnected ──connect──► Connecting ──ok──► Connected
///      ▲                      │   ▲               │
///      │                 fail │   │ retry         │ lost
///      │                      ▼   │               ▼
///      └──────────────────── Reconnecting ◄───────┘
///
/// any state ──close──► ShuttingDown   (terminal)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ConnectionState {
    /// Not connected and not trying to be.
    Disconnected = 0,
    /// Opening a connection: TCP, TLS, handshake, auth, subscriptions.
    Connecting = 1,
    /// Connected, authenticated and subscribed.
    Connected = 2,
    /// Lost the connection; waiting for the next attempt.
    Reconnecting = 3,
    /// Closed by the user; terminal.
    ShuttingDown = 4,
}

impl ConnectionState {
    /// Decodes the `repr(u8)` value; unknown values are treated as `ShuttingDown`
    /// so that a corrupted value can never restart a client.
    #[inline]
    pub const fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Disconnected,
            1 => Self::Connecting,
            2 => Self::Connected,
            3 => Self::Reconnecting,
            _ => Self::ShuttingDown,
        }
    }

    /// Whether the state machine allows moving from `self` to `next`.
    ///
    /// Staying in the same state is not a transition. Nothing leaves
    /// `ShuttingDown`.
    pub const fn can_transition_to(self, next: Self) -> bool {
        use ConnectionState::*;
        matches!(
            (self, next),
            (Disconnected, Connecting)
                | (Connecting, Connected)
                | (Connecting, Reconnecting)
                | (Connecting, Disconnected)
                | (Connected, Reconnecting)
                | (Connected, Disconnected)
                | (Reconnecting, Connecting)
                | (Reconnecting, Disconnected)
                | (
                    Disconnected | Connecting | Connected | Reconnecting,
                    ShuttingDown
                )
        )
    }

    /// Whether the state is `Connected`.
    #[inline]
    pub const fn is_connected(self) -> bool {
        matches!(self, Self::Connected)
    }

    /// Whether the state is terminal.
    #[inline]
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::ShuttingDown)
    }
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Disconnected => "disconnected",
            Self::Connecting => "connecting",
            Self::Connected => "connected",
            Self::Reconnecting => "reconnecting",
            Self::ShuttingDown => "shutting down",
        })
    }
}

/// A transition the state machine does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid state transition from {from} to {to}")]
pub struct InvalidTransition {
    /// The state the client was actually in.
    pub from: ConnectionState,
    /// The state that was asked for.
    pub to: ConnectionState,
}

/// A [`ConnectionState`] shared between tasks, updated with compare-and-swap.
///
/// Reads use `Acquire` and successful writes `Release`, so whoever sees
/// `Connected` also sees everything written before the transition.
///
/// ```
/// use hypersockets_core::{AtomicConnectionState, ConnectionState};
///
/// let state = AtomicConnectionState::new();
/// state.transition(ConnectionState::Connecting).unwrap();
/// state.transition(ConnectionState::ShuttingDown).unwrap();
/// // ShuttingDown is terminal.
/// assert!(state.transition(ConnectionState::Connecting).is_err());
/// assert_eq!(state.get(), ConnectionState::ShuttingDown);
/// ```
pub struct AtomicConnectionState {
    state: AtomicU8,
}

impl AtomicConnectionState {
    /// Starts in `Disconnected`.
    pub const fn new() -> Self {
        Self {
            state: AtomicU8::new(ConnectionState::Disconnected as u8),
        }
    }

    /// The current state.
    #[inline]
    pub fn get(&self) -> ConnectionState {
        ConnectionState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Whether the current state is `Connected`.
    #[inline]
    pub fn is_connected(&self) -> bool {
        self.get().is_connected()
    }

    /// Moves to `next` if the state machine allows it from the current state.
    ///
    /// Returns the state it moved from. Races with other writers are resolved
    /// by compare-and-swap: the check and the write are one atomic step.
    pub fn transition(&self, next: ConnectionState) -> Result<ConnectionState, InvalidTransition> {
        let mut current = self.state.load(Ordering::Acquire);
        loop {
            let from = ConnectionState::from_u8(current);
            if !from.can_transition_to(next) {
                return Err(InvalidTransition { from, to: next });
            }
            match self.state.compare_exchange_weak(
                current,
                next as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(from),
                Err(actual) => current = actual,
            }
        }
    }

    /// Moves from exactly `from` to `to`; fails if the state is not `from`
    /// or the move is not allowed.
    pub fn compare_transition(
        &self,
        from: ConnectionState,
        to: ConnectionState,
    ) -> Result<(), InvalidTransition> {
        if !from.can_transition_to(to) {
            return Err(InvalidTransition {
                from: self.get(),
                to,
            });
        }
        self.state
            .compare_exchange(from as u8, to as u8, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
            .map_err(|actual| InvalidTransition {
                from: ConnectionState::from_u8(actual),
                to,
            })
    }
}

impl Default for AtomicConnectionState {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for AtomicConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AtomicConnectionState")
            .field(&self.get())
            .finish()
    }
}
