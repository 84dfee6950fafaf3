//! A handler's key must be of the router's route key type: the router routes
//! by `Channel`, not by stream name.

mod common;

use hypersockets::{BoxError, WebSocketClient, handler_fn};

fn main() {
    let _client = WebSocketClient::builder()
        .url("wss://stream.binance.com:9443/ws")
        .router(common::Ticks)
        .handler(
            "btcusdt@trade",
            handler_fn(|_tick: common::Tick| Ok::<_, BoxError>(())),
        )
        .build();
}
