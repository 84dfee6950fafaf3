//! Where the router reports events (handler panics) to its owner.

use std::sync::Arc;

use hypersockets_core::ClientEvent;

/// A callback that receives events; the client forwards them to its stream.
pub(crate) type EventSink = Arc<dyn Fn(ClientEvent) + Send + Sync>;

/// A sink that drops events (they are still logged with tracing).
pub(crate) fn discard() -> EventSink {
    Arc::new(|_| {})
}
