//! Gzip clients and decompression bombs (a little gzip that inflates to a
//! lot).

use std::io::Write;

use flate2::write::GzEncoder;
use hypersockets::{Decompression, TransportLimits, WebSocketClient};
use hypersockets_testkit::{ConnectionId, Control, ExchangeConfig, MockExchange};

use super::{Collected, WAIT, client_for, within};

/// A plain exchange and a connected client that inflates as `mode` says,
/// holding messages to `limit`: for the frames a test sends by hand.
pub async fn inflating_client(
    mode: Decompression,
    limit: usize,
) -> (MockExchange, Control, WebSocketClient, ConnectionId) {
    let exchange = MockExchange::start(ExchangeConfig::new()).await.unwrap();
    let control = exchange.control();
    let (data, other) = (Collected::default(), Collected::default());
    let client = client_for(&exchange, &[], &data, &other)
        .decompression(mode)
        .limits(TransportLimits::default().max_message_size(limit))
        .build()
        .unwrap();
    within("connect", client.connect()).await.unwrap();
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    (exchange, control, client, conn)
}

/// One gzip member of `size` zero bytes (about a thousandth of that).
pub fn gzip_zeros(size: usize) -> Vec<u8> {
    let chunk = vec![0u8; 1 << 20];
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len());
        encoder.write_all(&chunk[..n]).expect("writing to a Vec");
        left -= n;
    }
    encoder.finish().expect("writing to a Vec")
}
