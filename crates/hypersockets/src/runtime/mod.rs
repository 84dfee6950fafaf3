//! The client's background machinery: one connection task that connects,
//! runs a session per connection, and reconnects; a writer task per session.

mod caught;
mod confirmations;
mod connection_task;
pub(crate) mod counters;
pub(crate) mod inflater;
mod integrity;
mod keepalive;
mod lifecycle;
mod outbox;
mod overlap;
mod requests;
mod rotation;
mod session;
mod writer;

use hypersockets_core::{BoxFuture, ClientEvent, MessageRouter};
use hypersockets_router::{Dispatcher, RouterStats, ShutdownMode};
use tokio::sync::{mpsc, watch};

use crate::config::ClientConfig;
use crate::subscription::{Subscription, SubscriptionRegistry};

pub(crate) use connection_task::run;
pub(crate) use counters::ConnectionCounters;
pub(crate) use integrity::Streams;
pub(crate) use keepalive::KeepaliveConfig;
pub(crate) use lifecycle::{Lifecycle, Transition};
pub(crate) use outbox::Outbox;
pub(crate) use writer::Outgoing;

/// State shared by the client handles and the background tasks.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Where the client is and why it stopped; only
    /// [`enter`](Self::enter) writes it.
    pub(crate) lifecycle: watch::Sender<Lifecycle>,
    /// Shared with the lanes' event sink, which counts router panics.
    pub(crate) counters: std::sync::Arc<ConnectionCounters>,
    pub(crate) subscriptions: SubscriptionRegistry,
    pub(crate) events: crate::event_channel::Sender<ClientEvent>,
    pub(crate) router_stats: RouterStats,
    /// The live connection's queue for user sends.
    pub(crate) outbox: Outbox,
}

impl Shared {
    pub(crate) fn emit(&self, event: ClientEvent) {
        // No receiver is fine: events are optional.
        self.events.send(event);
    }
}

/// What the client handles ask of the connection task.
///
/// Subscriptions are boxed: tokio's channel allocates its first block of 32
/// commands with the client, so the command's size is paid by every client,
/// subscribing or not.
#[derive(Debug)]
pub(crate) enum Command {
    /// A subscription was added to the registry: send it if connected.
    Subscribe(Box<Subscription>),
    /// A subscription was removed: send its unsubscribe message if connected.
    Unsubscribe(Box<Subscription>),
    /// Close for good.
    Close(ShutdownMode),
}

/// Everything the connection task owns.
pub(crate) struct Runtime<R: MessageRouter> {
    pub(crate) config: ClientConfig,
    pub(crate) shared: std::sync::Arc<Shared>,
    pub(crate) dispatcher: Dispatcher<R>,
    pub(crate) commands: mpsc::Receiver<Command>,
    /// Each numbered stream's continuity, across connections.
    pub(crate) streams: Streams<R>,
}

/// A built runtime that has not started, with its router type erased: the
/// client handle is one type whatever the router.
pub(crate) trait PendingRuntime: Send {
    /// The connection task's future, to spawn.
    fn start(self: Box<Self>) -> BoxFuture<'static, ()>;
    /// Shuts the lanes without ever connecting.
    fn discard(self: Box<Self>, mode: ShutdownMode) -> BoxFuture<'static, ()>;
}

impl<R: MessageRouter> PendingRuntime for Runtime<R> {
    fn start(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(run(*self))
    }

    fn discard(self: Box<Self>, mode: ShutdownMode) -> BoxFuture<'static, ()> {
        let close = self.config.timeouts.close;
        Box::pin(
            self.dispatcher
                .shutdown_until(mode, tokio::time::sleep(close)),
        )
    }
}
