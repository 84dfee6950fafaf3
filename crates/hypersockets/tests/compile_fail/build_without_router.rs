//! `build()` needs a router: without `.router(..)` the builder has no `build`.

use hypersockets::WebSocketClient;

fn main() {
    let _client = WebSocketClient::builder()
        .url("wss://stream.binance.com:9443/ws")
        .build();
}
