//! Every venue profile with the emulation of its venue, and topics in the
//! profile's syntax.

use std::time::Duration;

use hypersockets::Venue;
use hypersockets_testkit::Emulation;

/// A bound on virtual time for what venue tests wait for: a paced restore
/// of a thousand one-topic requests takes 250 virtual seconds.
pub const VIRTUAL_WAIT: Duration = Duration::from_secs(3600);

/// Waits on virtual time until `done` holds, checking each virtual 10 ms.
pub async fn until(what: &str, done: impl Fn() -> bool) {
    let wait = async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    if tokio::time::timeout(VIRTUAL_WAIT, wait).await.is_err() {
        panic!("timed out waiting for {what}");
    }
}

/// One profile and the emulation of its venue.
pub struct Case {
    pub venue: Venue,
    pub emulation: Emulation,
    /// Topic `i` of the profile's syntax (all of one channel).
    pub topic: fn(usize) -> String,
    /// Whether the venue's refusal names the request, so the refused topic
    /// is rejected; otherwise it times out.
    pub refusals_matched: bool,
}

pub fn cases() -> Vec<Case> {
    vec![
        Case {
            venue: Venue::binance_spot(),
            emulation: Emulation::BinanceSpot,
            topic: |i| format!("sym{i}usdt@trade"),
            refusals_matched: true,
        },
        Case {
            venue: Venue::binance_usdm(),
            emulation: Emulation::BinanceUsdm,
            topic: |i| format!("sym{i}usdt@aggTrade"),
            refusals_matched: true,
        },
        Case {
            venue: Venue::okx(),
            emulation: Emulation::Okx,
            topic: |i| format!("trades:SYM{i}-USDT"),
            refusals_matched: true,
        },
        Case {
            venue: Venue::bybit_spot(),
            emulation: Emulation::BybitSpot,
            topic: |i| format!("publicTrade.SYM{i}USDT"),
            refusals_matched: true,
        },
        Case {
            venue: Venue::bybit_linear(),
            emulation: Emulation::BybitLinear,
            topic: |i| format!("publicTrade.SYM{i}USDT"),
            refusals_matched: true,
        },
        Case {
            venue: Venue::kraken(),
            emulation: Emulation::Kraken,
            topic: |i| format!("trade:SYM{i}/USD"),
            refusals_matched: true,
        },
        Case {
            venue: Venue::coinbase(),
            emulation: Emulation::Coinbase,
            topic: |i| format!("market_trades:SYM{i}-USD"),
            refusals_matched: false,
        },
        Case {
            venue: Venue::hyperliquid(),
            emulation: Emulation::Hyperliquid,
            topic: |i| format!("trades:SYM{i}"),
            refusals_matched: false,
        },
        Case {
            venue: Venue::htx(),
            emulation: Emulation::Htx,
            topic: |i| format!("market.sym{i}usdt.trade.detail"),
            refusals_matched: true,
        },
        Case {
            venue: Venue::kucoin("ws://unused.test/"),
            emulation: Emulation::Kucoin,
            topic: |i| format!("/market/match:SYM{i}-USDT"),
            refusals_matched: true,
        },
    ]
}
