//! A handle that does not keep the client alive.

use std::fmt;
use std::sync::Weak;

use crate::client::{Inner, WebSocketClient};

/// A handle to a [`WebSocketClient`] that does not keep it alive: what a
/// handler (or anything the client owns) should hold to send or subscribe.
///
/// A client stops when its last [`WebSocketClient`] handle is dropped, even
/// without [`close`](WebSocketClient::close): the connection closes, the
/// lanes finish what is queued (up to the close timeout), and every task,
/// thread and the reconnect loop end. A handler holding a
/// `WebSocketClient` clone would keep its own client alive for ever; one
/// holding a `WeakClient` does not. [`upgrade`](Self::upgrade) gives a
/// full handle for as long as the client lives.
///
/// ```
/// # use hypersockets::prelude::*;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// use std::sync::{Arc, OnceLock};
/// use hypersockets::WeakClient;
///
/// // The handler answers through the client it belongs to, without keeping it alive.
/// let me: Arc<OnceLock<WeakClient>> = Arc::default();
/// let handle = Arc::clone(&me);
/// let client = WebSocketClient::builder()
///     .url("wss://stream.binance.com:9443/ws")
///     .router(PassThrough)
///     .handler((), async_handler_fn(move |_message: WsMessage| {
///         let client = handle.get().and_then(WeakClient::upgrade);
///         async move {
///             if let Some(client) = client {
///                 client.send("ack").await?;
///             }
///             Ok::<_, BoxError>(())
///         }
///     }))
///     .build()?;
/// me.set(client.downgrade()).unwrap();
///
/// let weak = client.downgrade();
/// assert!(weak.upgrade().is_some());
/// drop(client); // the last handle: the client stops
/// assert!(weak.upgrade().is_none());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct WeakClient {
    pub(crate) inner: Weak<Inner>,
}

impl WeakClient {
    /// A full handle, or `None` once every [`WebSocketClient`] handle has
    /// been dropped.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # fn main() -> Result<(), BoxError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .build()?;
    /// let weak = client.downgrade();
    /// assert_eq!(weak.upgrade().map(|c| c.state()), Some(ConnectionState::Disconnected));
    /// drop(client);
    /// assert!(weak.upgrade().is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub fn upgrade(&self) -> Option<WebSocketClient> {
        self.inner.upgrade().map(WebSocketClient::from_inner)
    }
}

impl fmt::Debug for WeakClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakClient")
            .field("alive", &(self.inner.strong_count() > 0))
            .finish()
    }
}
