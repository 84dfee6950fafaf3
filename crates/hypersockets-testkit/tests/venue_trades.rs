//! Trades in each venue's shape: the venue's documented trade object,
//! whose trade id field carries the sequence number a client deduplicates
//! by; and what each emulation writes is exactly `venue_message`.

mod support;

use hypersockets_testkit::{
    Compression, ConnectionId, Emulation, ExchangeConfig, Rate, StreamConfig,
};
use serde_json::Value;
use support::{WAIT, connect, next_text, send_text, start};

/// A venue's trade topic, the request subscribing to it, and where the
/// trade id is in a message (a JSON pointer).
struct Venue {
    emulation: Emulation,
    topic: &'static str,
    request: &'static str,
    trade_id: &'static str,
}

const VENUES: [Venue; 10] = [
    Venue {
        emulation: Emulation::BinanceSpot,
        topic: "btcusdt@trade",
        request: r#"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}"#,
        trade_id: "/data/t",
    },
    Venue {
        emulation: Emulation::BinanceUsdm,
        topic: "btcusdt@trade",
        request: r#"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}"#,
        trade_id: "/data/t",
    },
    Venue {
        emulation: Emulation::Okx,
        topic: "trades:BTC-USDT",
        request: r#"{"op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"}]}"#,
        trade_id: "/data/0/tradeId",
    },
    Venue {
        emulation: Emulation::BybitSpot,
        topic: "publicTrade.BTCUSDT",
        request: r#"{"req_id":"1","op":"subscribe","args":["publicTrade.BTCUSDT"]}"#,
        trade_id: "/data/0/seq",
    },
    Venue {
        emulation: Emulation::BybitLinear,
        topic: "publicTrade.BTCUSDT",
        request: r#"{"req_id":"1","op":"subscribe","args":["publicTrade.BTCUSDT"]}"#,
        trade_id: "/data/0/seq",
    },
    Venue {
        emulation: Emulation::Kraken,
        topic: "trade:BTC/USD",
        request: r#"{"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD"]},"req_id":1}"#,
        trade_id: "/data/0/trade_id",
    },
    Venue {
        emulation: Emulation::Coinbase,
        topic: "market_trades:BTC-USD",
        request: r#"{"type":"subscribe","channel":"market_trades","product_ids":["BTC-USD"]}"#,
        trade_id: "/events/0/trades/0/trade_id",
    },
    Venue {
        emulation: Emulation::Hyperliquid,
        topic: "trades:BTC",
        request: r#"{"method":"subscribe","subscription":{"type":"trades","coin":"BTC"}}"#,
        trade_id: "/data/0/tid",
    },
    Venue {
        emulation: Emulation::Htx,
        topic: "market.btcusdt.trade.detail",
        request: r#"{"sub":"market.btcusdt.trade.detail","id":"1"}"#,
        trade_id: "/tick/data/0/tradeId",
    },
    Venue {
        emulation: Emulation::Kucoin,
        topic: "/market/match:BTC-USDT",
        request: r#"{"id":"1","type":"subscribe","topic":"/market/match:BTC-USDT","response":true}"#,
        trade_id: "/data/tradeId",
    },
];

/// The trade id at `pointer`, a number or a decimal string.
fn trade_id(value: &Value, pointer: &str) -> Option<u64> {
    match value.pointer(pointer)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[test]
fn every_venues_trade_id_is_the_sequence_number() {
    for venue in &VENUES {
        let protocol = venue.emulation.protocol();
        let trades = venue.emulation.trades(venue.topic);
        for seq in [1, 2, 5, 999, 1_000_000, u64::MAX] {
            let text = trades.venue_message(protocol, ConnectionId::new(3), seq);
            let value: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{protocol:?} #{seq}: {e}: {text}"));
            assert_eq!(
                trade_id(&value, venue.trade_id),
                Some(seq),
                "{protocol:?}: {text}"
            );
            // The ground truth members, as in every envelope.
            assert_eq!(value["conn"], 3, "{protocol:?}");
            assert_eq!(value["seq"], seq, "{protocol:?}");
        }
    }
}

#[test]
fn the_tagged_envelope_keeps_the_binance_like_trade() {
    let text = StreamConfig::trades("trades:BTC-USDT").message(ConnectionId::new(0), 5);
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["data"]["e"], "trade");
    assert_eq!(value["data"]["t"], 5);
}

#[tokio::test]
async fn each_emulation_writes_its_venues_trades() {
    for venue in &VENUES {
        let protocol = venue.emulation.protocol();
        let trades = venue
            .emulation
            .trades(venue.topic)
            .rate(Rate::AsFastAsPossible)
            .limit(3);
        // Uncompressed, so that HTX's texts read as they are.
        let exchange = start(
            ExchangeConfig::new()
                .emulate(venue.emulation)
                .compression(Compression::None)
                .stream(trades.clone()),
        )
        .await;
        let mut client = connect(&exchange.url()).await;
        send_text(&mut client, venue.request).await;
        // Answers (and KuCoin's welcome) first; data carries `"conn"`.
        let mut data = Vec::new();
        while data.len() < 3 {
            let text = next_text(&mut client).await;
            let value: Value = serde_json::from_str(&text).unwrap();
            if value.get("conn").is_some() {
                data.push((value, text));
            }
        }
        let control = exchange.control();
        let conn = control
            .wait_for_subscription(venue.topic, WAIT)
            .await
            .unwrap();
        for (k, (value, text)) in (1..).zip(&data) {
            assert_eq!(
                *text,
                trades.venue_message(protocol, conn, k),
                "{protocol:?}"
            );
            assert_eq!(trade_id(value, venue.trade_id), Some(k), "{protocol:?}");
        }
        drop(client);
        exchange.shutdown().await;
    }
}
