//! The minimal valid client: a URL, a router, `build()`. Handlers and every
//! other setting are optional.

#[path = "../compile_fail/common/mod.rs"]
mod common;

use hypersockets::{BoxError, WebSocketClient, handler_fn};

fn main() {
    let minimal: Result<WebSocketClient, _> = WebSocketClient::builder()
        .url("wss://stream.binance.com:9443/ws")
        .router(common::Ticks)
        .build();
    drop(minimal);

    // The order of `url` and `router` is free, and handlers follow the router.
    let _with_handler = WebSocketClient::builder()
        .router(common::Ticks)
        .handler(
            common::Channel::Book,
            handler_fn(|_tick: common::Tick| Ok::<_, BoxError>(())),
        )
        .url("wss://stream.binance.com:9443/ws")
        .build();
}
