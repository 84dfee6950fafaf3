//! `build()` needs both a URL and a router: a bare builder has no `build`.

use hypersockets::WebSocketClient;

fn main() {
    let _client = WebSocketClient::builder().build();
}
