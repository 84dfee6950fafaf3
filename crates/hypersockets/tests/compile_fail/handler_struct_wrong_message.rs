//! A `&mut self` handler must implement `MessageHandler` for the router's
//! message type: this one handles `u64`s, the router makes `Tick`s.

mod common;

use hypersockets::{BoxError, MessageHandler, WebSocketClient};

struct Volume(u64);

impl MessageHandler<u64> for Volume {
    async fn handle(&mut self, quantity: u64) -> Result<(), BoxError> {
        self.0 += quantity;
        Ok(())
    }
}

fn main() {
    let _client = WebSocketClient::builder()
        .url("wss://stream.binance.com:9443/ws")
        .router(common::Ticks)
        .handler(common::Channel::Trades, Volume(0))
        .build();
}
