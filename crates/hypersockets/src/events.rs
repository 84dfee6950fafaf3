//! The client's event stream.

use tokio::sync::broadcast;

use hypersockets_core::ClientEvent;

/// Receives a client's [`ClientEvent`]s, from the moment it was created.
///
/// Each `EventStream` gets every event. One that falls more than the
/// event capacity behind (1024 by default) loses the oldest events; `recv`
/// then says how many were skipped and goes on.
///
/// ```
/// use hypersockets::EventStreamError;
/// # use hypersockets::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), HyperSocketError> {
/// let client = WebSocketClient::builder()
///     .url("wss://stream.binance.com:9443/ws")
///     .router(PassThrough)
///     .build()?;
/// let mut events = client.events();
/// client.close().await?;
/// loop {
///     match events.recv().await {
///         Ok(ClientEvent::ShutDown) => break, // the last event of a client
///         Ok(event) => println!("{event:?}"),
///         Err(EventStreamError::Lagged(skipped)) => eprintln!("missed {skipped} events"),
///         Err(_) => break,
///     }
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct EventStream {
    receiver: broadcast::Receiver<ClientEvent>,
}

/// What [`EventStream::recv`] can return besides an event.
///
/// ```
/// use hypersockets::EventStreamError;
///
/// let error = EventStreamError::Lagged(3);
/// assert_eq!(error.to_string(), "event stream lagged by 3 events");
/// assert_eq!(EventStreamError::Closed.to_string(), "event stream closed");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventStreamError {
    /// The reader fell behind and this many events were skipped.
    Lagged(u64),
    /// The client is gone and every event was read.
    Closed,
}

impl std::fmt::Display for EventStreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Lagged(n) => write!(f, "event stream lagged by {n} events"),
            Self::Closed => f.write_str("event stream closed"),
        }
    }
}

impl std::error::Error for EventStreamError {}

impl EventStream {
    pub(crate) fn new(receiver: broadcast::Receiver<ClientEvent>) -> Self {
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
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .build()?;
    /// let mut events = client.events();
    /// client.close().await?;
    /// assert!(matches!(events.recv().await, Ok(ClientEvent::ShutDown)));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Result<ClientEvent, EventStreamError> {
        self.receiver.recv().await.map_err(|error| match error {
            broadcast::error::RecvError::Lagged(n) => EventStreamError::Lagged(n),
            broadcast::error::RecvError::Closed => EventStreamError::Closed,
        })
    }

    /// The next event if one is waiting, without waiting.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), HyperSocketError> {
    /// let client = WebSocketClient::builder()
    ///     .url("wss://stream.binance.com:9443/ws")
    ///     .router(PassThrough)
    ///     .build()?;
    /// let mut events = client.events();
    /// assert!(events.try_recv().is_none());
    /// client.close().await?;
    /// assert!(matches!(events.try_recv(), Some(Ok(ClientEvent::ShutDown))));
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_recv(&mut self) -> Option<Result<ClientEvent, EventStreamError>> {
        match self.receiver.try_recv() {
            Ok(event) => Some(Ok(event)),
            Err(broadcast::error::TryRecvError::Empty) => None,
            Err(broadcast::error::TryRecvError::Lagged(n)) => {
                Some(Err(EventStreamError::Lagged(n)))
            }
            Err(broadcast::error::TryRecvError::Closed) => Some(Err(EventStreamError::Closed)),
        }
    }
}
