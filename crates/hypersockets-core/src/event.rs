//! What a user can observe about a client.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::{CloseFrame, HyperSocketError, StreamId};

/// Why a connection ended.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The server sent a Close frame (code and reason when it gave them).
    ServerClosed(Option<CloseFrame>),
    /// The stream ended without a Close frame (TCP closed).
    StreamEnded,
    /// Nothing arrived within the liveness timeout.
    LivenessTimeout(Duration),
    /// A transport or protocol error.
    Error(Arc<HyperSocketError>),
    /// The user asked to close.
    UserClosed,
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ServerClosed(Some(frame)) => write!(f, "server closed: {frame}"),
            Self::ServerClosed(None) => f.write_str("server closed"),
            Self::StreamEnded => f.write_str("stream ended"),
            Self::LivenessTimeout(after) => write!(f, "nothing received for {after:?}"),
            Self::Error(err) => write!(f, "error: {err}"),
            Self::UserClosed => f.write_str("closed by user"),
        }
    }
}

/// Why a client rotates to a new connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RotationCause {
    /// The venue sent its notice that it will close the connection.
    Notice,
    /// The connection nears the venue's maximum connection age.
    Age,
}

/// Why a stream went stale: its messages are no longer delivered as valid
/// until it is resynchronised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StaleCause {
    /// Messages are missing: the last one delivered had number `last`,
    /// the next one received starts at `next` (its previous number plus
    /// one), so the numbers between were never received.
    Gap {
        /// The number of the last message delivered.
        last: u64,
        /// The first number the message that revealed the gap covers.
        next: u64,
    },
    /// The stream's first message, with snapshots on: it waits for its
    /// first snapshot (a book must start from one).
    Start,
    /// A handler found the venue's checksum did not match its state.
    Checksum,
    /// A handler asked for the stream to be resynchronised.
    Requested,
}

impl StaleCause {
    /// How many numbers were skipped (0 unless a gap).
    ///
    /// ```
    /// use hypersockets_core::StaleCause;
    ///
    /// assert_eq!(StaleCause::Gap { last: 10, next: 14 }.missed(), 3);
    /// assert_eq!(StaleCause::Checksum.missed(), 0);
    /// ```
    pub fn missed(&self) -> u64 {
        match self {
            Self::Gap { last, next } => next.saturating_sub(*last).saturating_sub(1),
            _ => 0,
        }
    }
}

/// Something that happened to a client, delivered on its event stream.
///
/// Events are cheap to clone; errors are shared behind an [`Arc`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ClientEvent {
    /// Connected, authenticated and subscribed; `reconnect` is false the first time.
    Connected {
        /// Whether this connection replaced a lost one.
        reconnect: bool,
    },
    /// The connection was lost or closed.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
    },
    /// Waiting `delay` before connection attempt number `attempt` (from 1).
    Reconnecting {
        /// The attempt about to be made, counting from 1 after each loss.
        attempt: u32,
        /// How long the client waits first.
        delay: Duration,
    },
    /// The server accepted the auth provider's login.
    Authenticated,
    /// The server rejected the login, or the provider failed.
    AuthFailed {
        /// Why, as the server or provider put it.
        reason: String,
        /// Whether retrying with the same credentials is pointless.
        fatal: bool,
    },
    /// Every active subscription was sent on a new connection.
    SubscriptionsRestored {
        /// How many subscription messages were sent.
        count: usize,
    },
    /// The venue accepted a subscription (with
    /// [`SubscriptionAcks`](crate::SubscriptionAcks)).
    SubscriptionActive {
        /// The subscription's id.
        id: String,
    },
    /// The venue refused a subscription; it is removed, not restored again.
    SubscriptionRejected {
        /// The subscription's id.
        id: String,
        /// Why, in the venue's words.
        reason: String,
    },
    /// No answer to a subscription request within the subscribe timeout.
    SubscriptionTimedOut {
        /// The subscription's id.
        id: String,
        /// The attempt that went unanswered, from 1.
        attempt: u32,
        /// Whether the request is sent again now (else on the next
        /// connection).
        retrying: bool,
    },
    /// A handler (or the router's parse, run in the lane) panicked; its
    /// lane caught it and carries on.
    HandlerPanicked {
        /// The lane's route key, formatted with `Debug`.
        lane: String,
        /// What panicked, and for a handler its panic message when it was
        /// a string (a parse's is left out: it can quote the payload).
        message: String,
    },
    /// User code run on the connection task panicked; the panic was
    /// caught. A passive ping detector's panic counts as "not a ping", a
    /// router's as a parse failure, a shutdown notice's as no notice and a
    /// sequence reader's as no number, and the client goes on; the auth or
    /// header provider's or the reconnection strategy's shut the client
    /// down ([`HyperSocketError::Panicked`]). The panic's message is not
    /// carried, since it could hold a secret (it is not logged either).
    CallbackPanicked {
        /// Which callback: `"ping detector"`, `"router"`, `"auth provider"`,
        /// `"header provider"`, `"reconnection strategy"`, `"shutdown
        /// notice"` or `"sequence reader"`.
        callback: &'static str,
    },
    /// An error that did not end the client.
    Error(Arc<HyperSocketError>),
    /// The client has stopped for good.
    ShutDown,
    /// The client opens a second connection to replace the live one (make
    /// before break): the venue announced the live one's end, or it nears
    /// the venue's maximum connection age.
    Rotating {
        /// Why.
        cause: RotationCause,
    },
    /// The replacement is live and the old connection is closed; every
    /// numbered message seen on both was delivered once.
    Rotated {
        /// Messages that came on both connections and were delivered once.
        duplicates: u64,
    },
    /// A stream went stale: its messages are held back (buffered for a
    /// snapshot, or dropped until the venue's snapshot) and it is being
    /// resynchronised, while every other stream flows on.
    StreamStale {
        /// Which stream.
        stream: StreamId,
        /// Why.
        cause: StaleCause,
    },
    /// A stale stream is valid again: a snapshot was delivered (the
    /// venue's, after a resubscription, or one a
    /// [`SnapshotSource`](crate::SnapshotSource) fetched), then `replayed`
    /// buffered messages after it.
    StreamResynced {
        /// Which stream.
        stream: StreamId,
        /// Buffered messages delivered after the snapshot.
        replayed: u64,
    },
    /// The handlers fell behind: their queues reached the client's memory
    /// budget, so the client stopped reading (the server's writes back up
    /// in TCP; nothing is dropped) until the queues are down to half of it.
    MemoryBudgetReached {
        /// Bytes queued when reading stopped, as the budget counts them
        /// (payloads plus a fixed overhead per message).
        queued_bytes: usize,
        /// The budget.
        limit: usize,
    },
    /// A lane did not finish within the shutdown's deadline (its handler
    /// was stuck): its thread was left to end on its own, or its task
    /// aborted, and the shutdown went on without it.
    LaneAbandoned {
        /// The lane's route key, formatted with `Debug`.
        lane: String,
    },
}
