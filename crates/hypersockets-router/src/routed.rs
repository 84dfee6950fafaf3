//! A message between its parse and its queue.

use std::fmt;

use hypersockets_core::{MessageContext, MessageRouter, WsMessage};

use crate::lane::envelope::Payload;

/// A received message classified or parsed, with its lane found, not yet
/// queued: what [`Dispatcher::dispatch_unless`](crate::Dispatcher::dispatch_unless)
/// shows and keeps back, and [`Dispatcher::queue`](crate::Dispatcher::queue) takes.
///
/// Between the two, a caller can look at the parsed message (the client
/// reads its stream's number there, to track the stream) and hold it back
/// for as long as it needs: it keeps its lane and the context of its
/// receipt.
///
/// ```
/// use hypersockets_router::{Dispatch, RouterBuilder, Routing};
/// use hypersockets_core::{MessageContext, PassThrough, WsMessage};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut dispatcher = RouterBuilder::new(PassThrough)
///     .inline_handler((), |_: WsMessage| Ok::<_, std::convert::Infallible>(()))
///     .build()
///     .unwrap();
/// // Keep back what mentions BTC.
/// let keep = |_: &PassThrough, _: Option<&WsMessage>, raw: &WsMessage| {
///     raw.as_text().is_some_and(|text| text.contains("BTC"))
/// };
/// let message = WsMessage::text("BTC 43000");
/// let Routing::Kept(routed) = dispatcher.dispatch_unless(message, MessageContext::now(1), keep) else {
///     panic!("kept");
/// };
/// assert_eq!(routed.parsed(), Some(&WsMessage::text("BTC 43000")));
/// assert_eq!(routed.context().connection, 1);
/// assert_eq!(dispatcher.queue(routed), Dispatch::HandledInline);
/// # }
/// ```
pub struct Routed<R: MessageRouter> {
    /// The lane's index in the dispatcher.
    pub(crate) index: usize,
    /// The message as received.
    pub(crate) raw: WsMessage,
    /// What it was parsed into on the reader; `None` when it was
    /// classified, to be parsed in its lane.
    pub(crate) parsed: Option<R::Message>,
    /// The key `classify` gave a message routed to the fallback lane,
    /// which parses it with that key.
    pub(crate) key: Option<R::RouteKey>,
    pub(crate) context: MessageContext,
    /// What it counts against the memory budget.
    pub(crate) bytes: usize,
}

impl<R: MessageRouter> Routed<R> {
    /// The typed message, when it was parsed on the reader; `None` for a
    /// message classified to a lane, which parses it there.
    pub fn parsed(&self) -> Option<&R::Message> {
        self.parsed.as_ref()
    }

    /// The message as it was received.
    pub fn raw(&self) -> &WsMessage {
        &self.raw
    }

    /// The connection it came on and when it was received.
    pub fn context(&self) -> &MessageContext {
        &self.context
    }

    /// What travels to the lane: the parsed message, or the raw one.
    pub(crate) fn payload(
        self,
    ) -> (
        usize,
        Payload<R::Message, R::RouteKey>,
        MessageContext,
        usize,
    ) {
        let payload = match (self.parsed, self.key) {
            (Some(parsed), _) => Payload::Parsed(parsed),
            (None, Some(key)) => Payload::RawKeyed(self.raw, key),
            (None, None) => Payload::Raw(self.raw),
        };
        (self.index, payload, self.context, self.bytes)
    }
}

impl<R: MessageRouter> fmt::Debug for Routed<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The payload can be a private channel's data: its size only.
        f.debug_struct("Routed")
            .field("lane", &self.index)
            .field("parsed", &self.parsed.is_some())
            .field("bytes", &self.bytes)
            .field("context", &self.context)
            .finish()
    }
}
