//! Ready [`SubscriptionAcks`](hypersockets_core::SubscriptionAcks) for
//! venues' answer formats.

mod binance;
mod bybit;
mod coinbase;
mod htx;
mod hyperliquid;
mod kraken;
mod kucoin;
mod okx;

pub use binance::BinanceAcks;
pub use bybit::BybitAcks;
pub use coinbase::CoinbaseAcks;
pub use htx::HtxAcks;
pub use hyperliquid::HyperliquidAcks;
pub use kraken::KrakenAcks;
pub use kucoin::KucoinAcks;
pub use okx::OkxAcks;

use serde_json::Value;

/// The text of a message as a JSON object, if it is one.
fn object(message: &hypersockets_core::WsMessage) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_str(message.as_text()?) {
        Ok(Value::Object(object)) => Some(object),
        _ => None,
    }
}

/// A key for a JSON value, the same however the venue spaced or ordered
/// it (object keys are sorted).
fn key_of(value: &Value) -> String {
    value.to_string()
}
