//! What each client's handler checks: the mock exchange's envelope carries
//! the connection id and the sequence number, so order, gaps and duplicates
//! are checked as messages arrive, without keeping their texts (which would
//! swell the RSS being measured).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hypersockets::{BoxError, MessageHandler, MessageRouter, ParseError, WsMessage, handler_fn};
use serde::Deserialize;

/// The envelope's numbers; the subscription answer has neither.
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope {
    conn: Option<u64>,
    seq: Option<u64>,
}

/// Parses the envelope; one lane per client.
#[derive(Debug)]
pub(crate) struct Feed;

impl MessageRouter for Feed {
    type Message = Envelope;
    type RouteKey = ();

    fn parse(&self, message: &WsMessage) -> Result<Envelope, ParseError> {
        serde_json::from_slice(message.as_bytes())
            .map_err(|error| ParseError::from_source("not a feed message", error))
    }

    fn route_key(&self, _: &Envelope) {}
}

/// One client's figures, written by its handler, read by the bench.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Feed messages delivered.
    pub(crate) delivered: AtomicU64,
    /// Messages out of turn: a gap, a duplicate, a reordering, or a message
    /// of a connection older than one already seen.
    pub(crate) violations: AtomicU64,
    /// The sequence number of the last message, on the latest connection.
    pub(crate) last_seq: AtomicU64,
}

/// The checking handler of one client.
pub(crate) fn handler(tally: Arc<Tally>) -> impl MessageHandler<Envelope> {
    // (connection, next sequence number expected on it)
    let mut current: Option<(u64, u64)> = None;
    handler_fn(move |envelope: Envelope| {
        let (Some(conn), Some(seq)) = (envelope.conn, envelope.seq) else {
            return Ok::<_, BoxError>(());
        };
        let in_turn = match current {
            Some((c, next)) if c == conn => seq == next,
            // Connection ids grow: an older one means a stale message.
            Some((c, _)) if conn < c => false,
            _ => seq == 1,
        };
        if !in_turn {
            tally.violations.fetch_add(1, Ordering::Relaxed);
        }
        current = Some((conn, seq + 1));
        tally.delivered.fetch_add(1, Ordering::Relaxed);
        tally.last_seq.store(seq, Ordering::Release);
        Ok(())
    })
}
