//! The client's event stream.

use hypersockets_core::ClientEvent;

use crate::event_channel::{Receiver, RecvError};

/// Receives a client's [`ClientEvent`]s, from the moment it was created.
///
/// Each `EventStream` gets every event. One that falls more than the
/// event capacity behind (1024 by default) loses the oldest events; `recv`
/// then says how many were skipped and goes on. Events are kept only until
/// every stream has read them, so streams that keep up cost no memory.
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
    receiver: Receiver<ClientEvent>,
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

impl EventStreamError {
    /// The channel's error, as the streams report it.
    pub(crate) fn from_channel(error: RecvError) -> Self {
        match error {
            RecvError::Lagged(n) => Self::Lagged(n),
            RecvError::Closed => Self::Closed,
        }
    }
}

impl EventStream {
    pub(crate) fn new(receiver: Receiver<ClientEvent>) -> Self {
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
        self.receiver
            .recv()
            .await
            .map_err(EventStreamError::from_channel)
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
        self.receiver
            .try_recv()
            .map(|outcome| outcome.map_err(EventStreamError::from_channel))
    }
}
