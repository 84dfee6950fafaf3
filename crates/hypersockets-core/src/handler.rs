//! Handlers: where typed messages end up.

use std::fmt;
use std::future::{Future, ready};

use crate::{BoxError, MessageContext};

/// Handles the messages of one route key, one at a time, in order.
///
/// `&mut self` lets a handler own its state (an order book, a position)
/// without locks: a lane owns its handler and never calls it concurrently.
/// An error is logged and counted, and the lane goes on with the next
/// message.
///
/// The returned future must be `Send`; implement it with `async fn`:
///
/// ```
/// use std::collections::BTreeMap;
/// use hypersockets_core::{BoxError, MessageHandler};
///
/// struct Level { price: u64, qty: u64 }
///
/// #[derive(Default)]
/// struct Book { bids: BTreeMap<u64, u64> }
///
/// impl MessageHandler<Level> for Book {
///     async fn handle(&mut self, level: Level) -> Result<(), BoxError> {
///         if level.qty == 0 {
///             self.bids.remove(&level.price);
///         } else {
///             self.bids.insert(level.price, level.qty);
///         }
///         Ok(())
///     }
/// }
/// ```
///
/// Closures work through [`handler_fn`] (synchronous) and
/// [`async_handler_fn`] (returning a future).
pub trait MessageHandler<M>: Send + 'static {
    /// Handles one message. The lane awaits it before the next message.
    fn handle(&mut self, message: M) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Handles one message knowing which connection it came on and when
    /// it was received; the lane calls this one. The default ignores the
    /// context and calls [`handle`](Self::handle).
    ///
    /// ```
    /// use hypersockets_core::{BoxError, MessageContext, MessageHandler};
    ///
    /// /// Counts the messages of the latest connection.
    /// #[derive(Default)]
    /// struct PerConnection { connection: u64, count: u64 }
    ///
    /// impl MessageHandler<String> for PerConnection {
    ///     async fn handle(&mut self, _: String) -> Result<(), BoxError> {
    ///         Ok(())
    ///     }
    ///
    ///     async fn handle_in_context(
    ///         &mut self,
    ///         _: String,
    ///         context: MessageContext,
    ///     ) -> Result<(), BoxError> {
    ///         if context.connection != self.connection {
    ///             (self.connection, self.count) = (context.connection, 0);
    ///         }
    ///         self.count += 1;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    fn handle_in_context(
        &mut self,
        message: M,
        context: MessageContext,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = context;
        self.handle(message)
    }
}

/// A handler made from a synchronous closure; see [`handler_fn`].
pub struct FnHandler<F>(F);

/// A handler made from a closure returning a future; see [`async_handler_fn`].
pub struct AsyncFnHandler<F>(F);

/// Makes a handler from a synchronous closure.
///
/// ```
/// use hypersockets_core::{MessageHandler, handler_fn};
///
/// let mut total = 0u64;
/// let handler = handler_fn(move |qty: u64| {
///     total += qty;
///     Ok::<_, std::convert::Infallible>(())
/// });
/// # fn is_handler<H: MessageHandler<u64>>(_: &H) {}
/// # is_handler(&handler);
/// ```
pub fn handler_fn<M, E, F>(f: F) -> FnHandler<F>
where
    F: FnMut(M) -> Result<(), E> + Send + 'static,
    E: Into<BoxError>,
{
    FnHandler(f)
}

/// Makes a handler from a closure that returns a future.
///
/// ```
/// use hypersockets_core::{BoxError, MessageHandler, async_handler_fn};
///
/// let (tx, _rx) = std::sync::mpsc::channel::<String>();
/// let handler = async_handler_fn(move |text: String| {
///     let tx = tx.clone();
///     async move {
///         tx.send(text)?;
///         Ok::<_, BoxError>(())
///     }
/// });
/// # fn is_handler<H: MessageHandler<String>>(_: &H) {}
/// # is_handler(&handler);
/// ```
pub fn async_handler_fn<M, E, F, Fut>(f: F) -> AsyncFnHandler<F>
where
    F: FnMut(M) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Into<BoxError>,
{
    AsyncFnHandler(f)
}

impl<M, E, F> MessageHandler<M> for FnHandler<F>
where
    F: FnMut(M) -> Result<(), E> + Send + 'static,
    E: Into<BoxError>,
{
    #[inline]
    fn handle(&mut self, message: M) -> impl Future<Output = Result<(), BoxError>> + Send {
        ready((self.0)(message).map_err(Into::into))
    }
}

impl<M, E, F, Fut> MessageHandler<M> for AsyncFnHandler<F>
where
    F: FnMut(M) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Into<BoxError>,
{
    #[inline]
    fn handle(&mut self, message: M) -> impl Future<Output = Result<(), BoxError>> + Send {
        let fut = (self.0)(message);
        async move { fut.await.map_err(Into::into) }
    }
}

impl<F> fmt::Debug for FnHandler<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnHandler")
    }
}

impl<F> fmt::Debug for AsyncFnHandler<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AsyncFnHandler")
    }
}
