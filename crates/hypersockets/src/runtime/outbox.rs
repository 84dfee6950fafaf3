//! Where a user's send goes: the live connection's queue to its writer.
//! The session opens it when the connection goes live and shuts it when
//! the connection ends, so a send is never carried over to the next
//! connection, and `send` waits for room itself, never the reader.

use std::sync::{Mutex, PoisonError};

use tokio::sync::mpsc;

use crate::runtime::writer::Outgoing;

/// The live connection's user-send queue, if there is one.
#[derive(Debug, Default)]
pub(crate) struct Outbox(Mutex<Option<mpsc::Sender<Outgoing>>>);

impl Outbox {
    /// The queue of the connection that just went live.
    pub(crate) fn open(&self, queue: mpsc::Sender<Outgoing>) {
        *self.lock() = Some(queue);
    }

    /// The connection is no longer live: later sends are refused.
    pub(crate) fn shut(&self) {
        self.lock().take();
    }

    /// A handle on the live connection's queue (the lock is never held
    /// across an await: the sender is cloned out).
    pub(crate) fn queue(&self) -> Option<mpsc::Sender<Outgoing>> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<mpsc::Sender<Outgoing>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
