//! Where and when a message arrived: the context a router and a handler
//! can read beside the message itself.

use std::time::Instant;

/// Which connection a message came on, and when it was read off the
/// socket.
///
/// Handed to [`MessageRouter::parse_in_context`](crate::MessageRouter::parse_in_context)
/// and [`MessageHandler::handle_in_context`](crate::MessageHandler::handle_in_context),
/// wherever the parse runs (on the reader or in the lane): it travels with
/// the message, so it is right even when the lanes run behind the socket.
///
/// ```
/// use std::time::Instant;
/// use hypersockets_core::MessageContext;
///
/// let first = MessageContext::new(1, Instant::now());
/// let later = MessageContext::now(2);
/// assert!(later.connection > first.connection);
/// assert!(later.received_at >= first.received_at);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MessageContext {
    /// The connection's number: 1 for the client's first connection, one
    /// more for each connection after it (reconnections and rotations
    /// alike), so messages of one connection share it and a later
    /// connection's are larger.
    pub connection: u64,
    /// When the reader took the message off the socket: the instant it
    /// woke up to read, or began a burst of messages the socket had
    /// already buffered (the clock is read once per wake-up and per burst
    /// of at most 64 messages, not per message), so messages read
    /// together share it. It never goes back along a connection.
    pub received_at: Instant,
}

impl MessageContext {
    /// A message received on connection `connection` at `received_at`.
    pub fn new(connection: u64, received_at: Instant) -> Self {
        Self {
            connection,
            received_at,
        }
    }

    /// A message received on connection `connection` now.
    pub fn now(connection: u64) -> Self {
        Self::new(connection, Instant::now())
    }
}
