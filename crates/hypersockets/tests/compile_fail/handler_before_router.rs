//! Handlers are keyed by the router's route key type, so `.handler(..)`
//! exists only once `.router(..)` has been given.

mod common;

use hypersockets::{BoxError, WebSocketClient, handler_fn};

fn main() {
    let _builder = WebSocketClient::builder()
        .url("wss://stream.binance.com:9443/ws")
        .handler(
            common::Channel::Trades,
            handler_fn(|_tick: common::Tick| Ok::<_, BoxError>(())),
        )
        .router(common::Ticks);
}
