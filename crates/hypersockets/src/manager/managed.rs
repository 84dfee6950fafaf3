//! A client with its router type erased, so one manager holds clients of
//! different routers.

use std::any::Any;

use hypersockets_core::{BoxFuture, ConnectionState, MessageRouter, Result, WsMessage};
use hypersockets_router::ShutdownMode;

use crate::client::WebSocketClient;
use crate::events::EventStream;
use crate::metrics::ClientMetrics;

/// What the manager needs of a client, whatever its router.
pub(crate) trait ManagedClient: Send + Sync {
    fn state(&self) -> ConnectionState;
    fn metrics(&self) -> ClientMetrics;
    fn events(&self) -> EventStream;
    fn connect(&self) -> BoxFuture<'_, Result<()>>;
    fn send(&self, message: WsMessage) -> BoxFuture<'_, Result<()>>;
    fn close(&self, mode: ShutdownMode) -> BoxFuture<'_, Result<()>>;
    /// The typed client, for [`ClientManager::get`](crate::ClientManager::get).
    fn as_any(&self) -> &dyn Any;
}

impl<R: MessageRouter> ManagedClient for WebSocketClient<R> {
    fn state(&self) -> ConnectionState {
        WebSocketClient::state(self)
    }

    fn metrics(&self) -> ClientMetrics {
        WebSocketClient::metrics(self)
    }

    fn events(&self) -> EventStream {
        WebSocketClient::events(self)
    }

    fn connect(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(WebSocketClient::connect(self))
    }

    fn send(&self, message: WsMessage) -> BoxFuture<'_, Result<()>> {
        Box::pin(WebSocketClient::send(self, message))
    }

    fn close(&self, mode: ShutdownMode) -> BoxFuture<'_, Result<()>> {
        Box::pin(WebSocketClient::close_with(self, mode))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
