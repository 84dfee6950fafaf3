//! Compile-time checks: the public types cross threads, and the client's
//! futures can be spawned. This file fails to build, rather than to run,
//! when one of them stops being `Send`, `Sync` or `'static`.

use hypersockets::{
    ClientEvent, ClientMetrics, ConnectionState, DisconnectReason, EventStream, EventStreamError,
    HasUrl, Heartbeat, HyperSocketError, MessageRouter, NoRouter, NoUrl, Subscription,
    WebSocketClient, WebSocketClientBuilder, WithRouter, WsMessage,
};

fn send_sync<T: Send + Sync + 'static>() {}

/// Moved between threads, never shared: a builder holding handlers (which
/// are `FnMut + Send`, each moved into its own lane, so need not be `Sync`).
fn send_static<T: Send + 'static>() {}

fn send<T: Send>(_: &T) {}

/// For every router, not one in particular.
#[allow(dead_code)]
fn for_any_router<R: MessageRouter>(client: &WebSocketClient) {
    send_sync::<WebSocketClient>();
    send_static::<WebSocketClientBuilder<HasUrl, WithRouter<R>>>();
    send_static::<WebSocketClientBuilder<NoUrl, WithRouter<R>>>();
    // What `tokio::spawn` needs of the client's futures.
    send(&client.connect());
    send(&client.send(WsMessage::text("x")));
    send(&client.subscribe(Subscription::new("id", WsMessage::text("x"))));
    send(&client.unsubscribe("id"));
    send(&client.close());
    let mut events = client.events();
    send(&events.recv());
}

#[test]
fn public_types_cross_threads() {
    send_sync::<WebSocketClientBuilder<NoUrl, NoRouter>>();
    send_sync::<WebSocketClientBuilder<HasUrl, NoRouter>>();
    send_sync::<EventStream>();
    send_sync::<EventStreamError>();
    send_sync::<ClientMetrics>();
    send_sync::<Subscription>();
    send_sync::<Heartbeat>();
    send_sync::<HyperSocketError>();
    send_sync::<ClientEvent>();
    send_sync::<DisconnectReason>();
    send_sync::<ConnectionState>();
    send_sync::<WsMessage>();
}
