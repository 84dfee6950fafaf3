//! What travels through a lane's queue.

use hypersockets_core::{MessageContext, WsMessage};

/// A message on its way to a lane: raw (to be parsed in the lane) or parsed.
pub(crate) enum Payload<M, K> {
    /// Classified to this lane's key; the lane parses it.
    Raw(WsMessage),
    /// Classified to a key with no lane; the fallback lane parses it with
    /// the key `classify` gave.
    RawKeyed(WsMessage, K),
    /// Parsed on the reader.
    Parsed(M),
}

/// A payload plus the context of its receipt (connection, receive
/// instant), for sampled messages when it was queued
/// ([`now_ns`](crate::clock::now_ns); 0 when not timed), and the bytes it
/// counts against the memory budget (its raw payload's length plus
/// `MemoryBudget::MESSAGE_OVERHEAD`; 0 once the
/// lane has accounted for it, as with a message taken out of a chunk).
pub(crate) struct Envelope<M, K> {
    pub(crate) payload: Payload<M, K>,
    pub(crate) queued_at: u64,
    pub(crate) context: MessageContext,
    pub(crate) bytes: usize,
}
