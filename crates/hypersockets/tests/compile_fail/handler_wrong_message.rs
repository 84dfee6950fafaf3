//! A handler must take the router's message type: the router makes `Tick`s,
//! this handler wants `u64`s.

mod common;

use hypersockets::{BoxError, WebSocketClient, handler_fn};

fn main() {
    let _client = WebSocketClient::builder()
        .url("wss://stream.binance.com:9443/ws")
        .router(common::Ticks)
        .handler(
            common::Channel::Trades,
            handler_fn(|_quantity: u64| Ok::<_, BoxError>(())),
        )
        .build();
}
