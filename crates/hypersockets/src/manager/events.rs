//! The manager's event stream: every client's events, tagged with its key.

use hypersockets_core::ClientEvent;

use crate::event_channel::{Receiver, Sender};
use crate::events::{EventStream, EventStreamError};

/// A client's event, with the key the client is managed under.
///
/// ```
/// # use hypersockets::prelude::*;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// # let client = WebSocketClient::builder()
/// #     .url("wss://exchange.test/ws")
/// #     .router(PassThrough)
/// #     .build()?;
/// use hypersockets::ManagerEvent;
///
/// let manager: ClientManager<&str> = ClientManager::new();
/// manager.add("spot", client)?;
/// let mut events = manager.events();
/// manager.shutdown().await;
/// let ManagerEvent { key, event, .. } = events.recv().await?;
/// assert_eq!(key, "spot");
/// assert!(matches!(event, ClientEvent::ShutDown));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ManagerEvent<K> {
    /// Whose event it is.
    pub key: K,
    /// The event.
    pub event: ClientEvent,
}

/// Receives every managed client's events; see
/// [`ClientManager::events`](crate::ClientManager::events).
///
/// A reader that falls more than the manager's event capacity behind loses
/// the oldest events; `recv` then says how many and goes on. The stream
/// ends ([`EventStreamError::Closed`]) once the manager is dropped and every
/// event has been read.
///
/// ```
/// use hypersockets::{ManagerEvent, MemoryTransport};
/// # use hypersockets::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// let manager: ClientManager<&'static str> = ClientManager::new();
/// let (transport, _server) = MemoryTransport::new();
/// let client = WebSocketClient::builder()
///     .url("wss://exchange.test/ws")
///     .transport(transport)
///     .router(PassThrough)
/// #   .close_timeout(std::time::Duration::from_millis(10))
///     .build()?;
/// manager.add("memory", client)?;
///
/// let mut events = manager.events();
/// for (_key, outcome) in manager.connect_all().await {
///     outcome?;
/// }
/// let ManagerEvent { key, event, .. } = events.recv().await?;
/// assert_eq!(key, "memory");
/// assert!(matches!(event, ClientEvent::Connected { reconnect: false }));
/// manager.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ManagerEventStream<K> {
    receiver: Receiver<ManagerEvent<K>>,
}

impl<K: Clone> ManagerEventStream<K> {
    pub(crate) fn new(receiver: Receiver<ManagerEvent<K>>) -> Self {
        Self { receiver }
    }

    /// The next event.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: an event is never lost by cancelling.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// # let client = WebSocketClient::builder()
    /// #     .url("wss://exchange.test/ws")
    /// #     .router(PassThrough)
    /// #     .build()?;
    /// let manager: ClientManager<&str> = ClientManager::new();
    /// manager.add("spot", client)?;
    /// let mut events = manager.events();
    /// manager.shutdown().await;
    /// drop(manager); // the stream ends once every event is read
    /// let mut keys = Vec::new();
    /// while let Ok(event) = events.recv().await {
    ///     keys.push(event.key);
    /// }
    /// assert_eq!(keys, ["spot"]);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Result<ManagerEvent<K>, EventStreamError> {
        self.receiver
            .recv()
            .await
            .map_err(EventStreamError::from_channel)
    }
}

/// Passes a client's events on, tagged, until the client shuts down.
pub(crate) async fn forward<K: Clone>(
    key: K,
    mut events: EventStream,
    into: Sender<ManagerEvent<K>>,
) {
    loop {
        match events.recv().await {
            Ok(event) => {
                // A client's last event: nothing follows it.
                let last = matches!(event, ClientEvent::ShutDown);
                // Nobody listening is fine.
                into.send(ManagerEvent {
                    key: key.clone(),
                    event,
                });
                if last {
                    return;
                }
            }
            Err(EventStreamError::Lagged(skipped)) => {
                tracing::warn!(skipped, "manager event forwarding lagged");
            }
            Err(EventStreamError::Closed) => return,
        }
    }
}
