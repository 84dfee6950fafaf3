//! The connection state machine.

use std::fmt;

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
pub enum ConnectionState {
    /// Not connected and not trying to be.
    Disconnected,
    /// Opening a connection: TCP, TLS, handshake, auth, subscriptions.
    Connecting,
    /// Connected, authenticated and subscribed.
    Connected,
    /// Lost the connection; waiting for the next attempt.
    Reconnecting,
    /// Closed by the user; terminal.
    ShuttingDown,
}

impl ConnectionState {
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
