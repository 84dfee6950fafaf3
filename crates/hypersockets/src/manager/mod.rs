//! Many clients under one roof.

mod events;

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use hypersockets_core::{ConnectionState, HyperSocketError, Result, WsMessage};
use hypersockets_router::ShutdownMode;
use tokio::task::JoinHandle;

use crate::client::WebSocketClient;
use crate::event_channel;
use crate::metrics::ClientMetrics;
use crate::runtime::counters::MetricsSnapshot;

pub use events::{ManagerEvent, ManagerEventStream};

/// How long `remove` and `shutdown` wait for a client's last events to be
/// forwarded after it closed.
const FORWARD_GRACE: Duration = Duration::from_secs(1);

/// Many clients — of different router types — under keys you choose.
///
/// The map is behind an `RwLock`: it is the cold path (adding, removing,
/// looking up), never touched per message. No lock is held across an
/// `.await`. Every client's events arrive on one stream, tagged with its
/// key ([`events`](Self::events)).
///
/// ```
/// use hypersockets::prelude::*;
/// use hypersockets::ClientManager;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), HyperSocketError> {
/// let manager = ClientManager::new();
/// for venue in ["binance", "okx"] {
///     let client = WebSocketClient::builder()
///         .url(format!("wss://{venue}.example/ws"))
///         .router(PassThrough) // each client may have its own router type
///         .build()?;
///     manager.add(venue, client)?;
/// }
/// assert_eq!(manager.len(), 2);
/// assert_eq!(manager.state(&"okx")?, ConnectionState::Disconnected);
///
/// // The client back, by key.
/// let okx: WebSocketClient = manager.get(&"okx").expect("a client under \"okx\"");
/// assert_eq!(okx.state(), ConnectionState::Disconnected);
///
/// // manager.connect_all().await; …
/// assert!(manager.remove(&"binance").await);
/// manager.shutdown().await;
/// assert!(manager.is_empty());
/// # Ok(())
/// # }
/// ```
pub struct ClientManager<K = String> {
    clients: RwLock<HashMap<K, Entry>>,
    events: event_channel::Sender<ManagerEvent<K>>,
}

struct Entry {
    client: WebSocketClient,
    forwarder: JoinHandle<()>,
}

/// Every client's figures, and their sum; from
/// [`ClientManager::metrics`]. See [`ClientManager::broadcast`] for an
/// example.
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
/// let metrics = manager.metrics();
/// assert_eq!(metrics.clients.len(), 1);
/// assert_eq!(metrics.clients[0].0, "spot");
/// assert_eq!(metrics.total.messages_received, 0);
/// # manager.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ManagerMetrics<K> {
    /// Each client's figures, by key.
    pub clients: Vec<(K, ClientMetrics)>,
    /// The connection counters of all clients added up.
    pub total: MetricsSnapshot,
}

impl<K> ClientManager<K>
where
    K: Eq + Hash + Clone + fmt::Debug + Send + Sync + 'static,
{
    /// An empty manager whose event stream keeps up to 4096 events for a
    /// slow reader.
    ///
    /// ```
    /// use hypersockets::ClientManager;
    ///
    /// let manager: ClientManager<String> = ClientManager::new();
    /// assert!(manager.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::with_event_capacity(4096)
    }

    /// An empty manager whose event stream keeps up to `capacity` events
    /// (at least 1) for a slow reader.
    ///
    /// ```
    /// use hypersockets::ClientManager;
    ///
    /// // Many clients, a slow reader: keep more events before it lags.
    /// let manager: ClientManager<String> = ClientManager::with_event_capacity(64 * 1024);
    /// assert!(manager.is_empty());
    /// ```
    pub fn with_event_capacity(capacity: usize) -> Self {
        let events = event_channel::channel(capacity);
        Self {
            clients: RwLock::new(HashMap::new()),
            events,
        }
    }

    /// Manages `client` under `key`. It is not connected here: call
    /// [`connect`](Self::connect) or [`connect_all`](Self::connect_all), or
    /// connect it yourself before or after.
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::InvalidConfiguration`] when the key is taken, or
    /// when called outside a tokio runtime (events are forwarded by a task).
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// # let client = WebSocketClient::builder()
    /// #     .url("wss://exchange.test/ws")
    /// #     .router(PassThrough)
    /// #     .build()?;
    /// # let again = client.clone();
    /// let manager: ClientManager<&str> = ClientManager::new();
    /// manager.add("spot", client)?;
    /// assert!(manager.contains(&"spot"));
    /// // A key can be used once.
    /// assert!(manager.add("spot", again).is_err());
    /// # manager.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn add(&self, key: impl Into<K>, client: WebSocketClient) -> Result<()> {
        let key = key.into();
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            HyperSocketError::invalid_config("runtime", "add must be called inside a tokio runtime")
        })?;
        let mut clients = self.write();
        if clients.contains_key(&key) {
            return Err(HyperSocketError::invalid_config(
                "key",
                format!("{key:?} is already managed"),
            ));
        }
        client.set_manager_key(&format!("{key:?}"));
        let forwarder = runtime.spawn(events::forward(
            key.clone(),
            client.events(),
            self.events.clone(),
        ));
        clients.insert(key, Entry { client, forwarder });
        Ok(())
    }

    /// The client under `key`, if there is one.
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
    /// let spot: WebSocketClient = manager.get(&"spot").expect("a client under \"spot\"");
    /// assert_eq!(spot.state(), ConnectionState::Disconnected);
    /// assert!(manager.get(&"futures").is_none());
    /// # manager.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn get(&self, key: &K) -> Option<WebSocketClient> {
        self.read().get(key).map(|entry| entry.client.clone())
    }

    /// Whether a client is managed under `key`.
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
    /// assert!(manager.contains(&"spot"));
    /// assert!(!manager.contains(&"futures"));
    /// # manager.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn contains(&self, key: &K) -> bool {
        self.read().contains_key(key)
    }

    /// The keys, in no particular order.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// # let client = WebSocketClient::builder()
    /// #     .url("wss://exchange.test/ws")
    /// #     .router(PassThrough)
    /// #     .build()?;
    /// # let other = WebSocketClient::builder().url("wss://other.test/ws").router(PassThrough).build()?;
    /// let manager: ClientManager<&str> = ClientManager::new();
    /// manager.add("spot", client)?;
    /// manager.add("futures", other)?;
    /// let mut keys = manager.keys();
    /// keys.sort(); // in no particular order
    /// assert_eq!(keys, ["futures", "spot"]);
    /// # manager.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn keys(&self) -> Vec<K> {
        self.read().keys().cloned().collect()
    }

    /// How many clients are managed.
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
    /// assert_eq!(manager.len(), 0);
    /// manager.add("spot", client)?;
    /// assert_eq!(manager.len(), 1);
    /// # manager.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no client is managed.
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
    /// assert!(!manager.is_empty());
    /// manager.shutdown().await;
    /// assert!(manager.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// The state of the client under `key`.
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::UnknownClient`].
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
    /// assert_eq!(manager.state(&"spot")?, ConnectionState::Disconnected);
    /// assert!(matches!(
    ///     manager.state(&"futures"),
    ///     Err(HyperSocketError::UnknownClient { .. })
    /// ));
    /// # manager.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn state(&self, key: &K) -> Result<ConnectionState> {
        Ok(self.client(key)?.state())
    }

    /// Every client's state.
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
    /// for (key, state) in manager.states() {
    ///     assert_eq!((key, state), ("spot", ConnectionState::Disconnected));
    /// }
    /// # manager.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn states(&self) -> Vec<(K, ConnectionState)> {
        self.read()
            .iter()
            .map(|(key, entry)| (key.clone(), entry.client.state()))
            .collect()
    }

    /// The figures of the client under `key`.
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::UnknownClient`].
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
    /// let spot = manager.client_metrics(&"spot")?;
    /// assert_eq!(spot.connection.messages_sent, 0);
    /// assert!(manager.client_metrics(&"futures").is_err());
    /// # manager.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn client_metrics(&self, key: &K) -> Result<ClientMetrics> {
        Ok(self.client(key)?.metrics())
    }

    /// Every client's figures and their sum.
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
    /// let metrics = manager.metrics();
    /// for (key, client) in &metrics.clients {
    ///     println!("{key}: {} received", client.connection.messages_received);
    /// }
    /// assert_eq!(metrics.total.messages_received, 0);
    /// # manager.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn metrics(&self) -> ManagerMetrics<K> {
        let clients: Vec<(K, ClientMetrics)> = self
            .read()
            .iter()
            .map(|(key, entry)| (key.clone(), entry.client.metrics()))
            .collect();
        let total = clients
            .iter()
            .fold(MetricsSnapshot::default(), |sum, (_, metrics)| {
                sum.saturating_add(metrics.connection)
            });
        ManagerMetrics { clients, total }
    }

    /// Every client's events from now on, tagged with its key.
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
    /// let event = events.recv().await?;
    /// assert_eq!(event.key, "spot");
    /// # Ok(())
    /// # }
    /// ```
    pub fn events(&self) -> ManagerEventStream<K> {
        ManagerEventStream::new(self.events.subscribe())
    }

    /// Connects the client under `key` (see [`WebSocketClient::connect`]).
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::UnknownClient`], or what `connect` returns.
    ///
    /// # Cancel safety
    ///
    /// Cancelling stops the waiting; the client keeps connecting.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// # let (transport, server) = MemoryTransport::new();
    /// # let client = WebSocketClient::builder()
    /// #     .url("wss://exchange.test/ws")
    /// #     .transport(transport)
    /// #     .router(PassThrough)
    /// #     .close_timeout(std::time::Duration::from_millis(10))
    /// #     .build()?;
    /// use hypersockets::MemoryTransport;
    ///
    /// let manager: ClientManager<&str> = ClientManager::new();
    /// manager.add("spot", client)?;
    /// manager.connect(&"spot").await?;
    /// assert_eq!(manager.state(&"spot")?, ConnectionState::Connected);
    /// # manager.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(&self, key: &K) -> Result<()> {
        let client = self.client(key)?;
        client.connect().await
    }

    /// Connects every client at once and waits for all; returns each one's
    /// outcome.
    ///
    /// # Cancel safety
    ///
    /// Cancelling stops the waiting; the clients keep connecting.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// # let (transport, server) = MemoryTransport::new();
    /// # let client = WebSocketClient::builder()
    /// #     .url("wss://exchange.test/ws")
    /// #     .transport(transport)
    /// #     .router(PassThrough)
    /// #     .close_timeout(std::time::Duration::from_millis(10))
    /// #     .build()?;
    /// use hypersockets::MemoryTransport;
    ///
    /// let manager: ClientManager<&str> = ClientManager::new();
    /// manager.add("spot", client)?;
    /// for (key, outcome) in manager.connect_all().await {
    ///     outcome?;
    ///     assert_eq!(manager.state(&key)?, ConnectionState::Connected);
    /// }
    /// # manager.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect_all(&self) -> Vec<(K, Result<()>)> {
        self.on_each(|client| async move { client.connect().await })
            .await
    }

    /// Sends to the client under `key` (see [`WebSocketClient::send`]).
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::UnknownClient`], or what `send` returns.
    ///
    /// # Cancel safety
    ///
    /// As [`WebSocketClient::send`].
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// # let (transport, server) = MemoryTransport::new();
    /// # let client = WebSocketClient::builder()
    /// #     .url("wss://exchange.test/ws")
    /// #     .transport(transport)
    /// #     .router(PassThrough)
    /// #     .close_timeout(std::time::Duration::from_millis(10))
    /// #     .build()?;
    /// use hypersockets::MemoryTransport;
    ///
    /// let manager: ClientManager<&str> = ClientManager::new();
    /// manager.add("spot", client)?;
    /// manager.connect(&"spot").await?;
    /// manager.send(&"spot", r#"{"op":"ping"}"#).await?;
    /// let exchange = server.accept().await;
    /// assert_eq!(exchange.recv().await, Some(WsMessage::text(r#"{"op":"ping"}"#)));
    /// # manager.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send(&self, key: &K, message: impl Into<WsMessage>) -> Result<()> {
        let client = self.client(key)?;
        client.send(message).await
    }

    /// Sends `message` to every client at once; returns each one's outcome
    /// (a client that is not connected refuses it).
    ///
    /// ```
    /// use hypersockets::MemoryTransport;
    /// # use hypersockets::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let manager: ClientManager<&'static str> = ClientManager::new();
    /// let mut exchanges = Vec::new();
    /// for key in ["spot", "futures"] {
    ///     let (transport, server) = MemoryTransport::new();
    ///     let client = WebSocketClient::builder()
    ///         .url(format!("wss://{key}.exchange.test/ws"))
    ///         .transport(transport)
    ///         .router(PassThrough)
    ///         .build()?;
    ///     manager.add(key, client)?;
    ///     exchanges.push(server);
    /// }
    /// for (_key, outcome) in manager.connect_all().await {
    ///     outcome?;
    /// }
    ///
    /// for (_key, outcome) in manager.broadcast("ping").await {
    ///     outcome?;
    /// }
    /// for server in &exchanges {
    ///     let peer = server.accept().await;
    ///     assert_eq!(peer.recv().await, Some(WsMessage::text("ping")));
    /// }
    /// assert_eq!(manager.metrics().total.messages_sent, 2);
    /// manager.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// As [`WebSocketClient::send`], for each client.
    pub async fn broadcast(&self, message: impl Into<WsMessage>) -> Vec<(K, Result<()>)> {
        let message = message.into();
        self.on_each(|client| {
            let message = message.clone();
            async move { client.send(message).await }
        })
        .await
    }

    /// Stops managing the client under `key` and closes it gracefully.
    /// Returns whether there was one.
    ///
    /// # Cancel safety
    ///
    /// Cancelling stops the waiting; the client is removed and still closes.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// # let client = WebSocketClient::builder()
    /// #     .url("wss://exchange.test/ws")
    /// #     .router(PassThrough)
    /// #     .build()?;
    /// # let handle = client.clone();
    /// let manager: ClientManager<&str> = ClientManager::new();
    /// manager.add("spot", client)?;
    /// assert!(manager.remove(&"spot").await);
    /// assert!(!manager.remove(&"spot").await); // already gone
    /// assert!(handle.state().is_terminal()); // and closed
    /// # Ok(())
    /// # }
    /// ```
    pub async fn remove(&self, key: &K) -> bool {
        let Some(entry) = self.write().remove(key) else {
            return false;
        };
        close_entry(key, entry).await;
        true
    }

    /// Closes every client (gracefully, all at once) and empties the manager.
    ///
    /// # Cancel safety
    ///
    /// Cancelling stops the waiting; the clients still close.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// # let client = WebSocketClient::builder()
    /// #     .url("wss://exchange.test/ws")
    /// #     .router(PassThrough)
    /// #     .build()?;
    /// # let handle = client.clone();
    /// let manager: ClientManager<&str> = ClientManager::new();
    /// manager.add("spot", client)?;
    /// manager.shutdown().await;
    /// assert!(manager.is_empty());
    /// assert!(handle.state().is_terminal()); // every client is closed
    /// # Ok(())
    /// # }
    /// ```
    pub async fn shutdown(&self) {
        let entries: Vec<(K, Entry)> = self.write().drain().collect();
        futures_util::future::join_all(
            entries
                .into_iter()
                .map(|(key, entry)| async move { close_entry(&key, entry).await }),
        )
        .await;
    }

    /// Runs `call` on every client at once; each outcome with its key.
    async fn on_each<F, Fut>(&self, call: F) -> Vec<(K, Result<()>)>
    where
        F: Fn(WebSocketClient) -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        let clients = self.all();
        let keys: Vec<K> = clients.iter().map(|(key, _)| key.clone()).collect();
        let outcomes =
            futures_util::future::join_all(clients.into_iter().map(|(_, client)| call(client)))
                .await;
        keys.into_iter().zip(outcomes).collect()
    }

    fn client(&self, key: &K) -> Result<WebSocketClient> {
        self.read()
            .get(key)
            .map(|entry| entry.client.clone())
            .ok_or_else(|| HyperSocketError::UnknownClient {
                key: format!("{key:?}"),
            })
    }

    /// Handles to every client, taken out of the lock before any await.
    fn all(&self) -> Vec<(K, WebSocketClient)> {
        self.read()
            .iter()
            .map(|(key, entry)| (key.clone(), entry.client.clone()))
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<K, Entry>> {
        self.clients.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<K, Entry>> {
        self.clients.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Closes a removed client and lets its forwarder pass on the last events.
async fn close_entry<K: fmt::Debug>(key: &K, entry: Entry) {
    let Entry {
        client,
        mut forwarder,
    } = entry;
    if let Err(error) = client.close_with(ShutdownMode::Graceful).await {
        tracing::warn!(?key, %error, "closing a managed client failed");
    }
    // The forwarder ends at the client's `ShutDown` event.
    if tokio::time::timeout(FORWARD_GRACE, &mut forwarder)
        .await
        .is_err()
    {
        forwarder.abort();
    }
}

impl<K> Default for ClientManager<K>
where
    K: Eq + Hash + Clone + fmt::Debug + Send + Sync + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<K: fmt::Debug> fmt::Debug for ClientManager<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let clients = self.clients.read().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("ClientManager")
            .field("clients", &clients.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl<K> Drop for ClientManager<K> {
    fn drop(&mut self) {
        // Clients live on without the manager if the user holds handles;
        // the forwarders would only wait for their end.
        let clients = self
            .clients
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for entry in clients.values() {
            entry.forwarder.abort();
        }
    }
}
