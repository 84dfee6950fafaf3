//! `build()` needs a URL: without `.url(..)` the builder has no `build`.

mod common;

use hypersockets::WebSocketClient;

fn main() {
    let _client = WebSocketClient::builder().router(common::Ticks).build();
}
