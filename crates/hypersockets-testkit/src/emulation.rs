//! Venue emulations: the mock exchange speaking one venue's protocol, with
//! its data shapes, keepalive and enforced limits.

use std::time::Duration;

use crate::{
    ClientPings, Compression, ExchangeConfig, KeepaliveConfig, Rate, ServerPing, StreamConfig,
    SubscriptionProtocol,
};

/// A venue the mock exchange can emulate
/// ([`ExchangeConfig::emulate`]): its request, answer and data shapes,
/// its path, its keepalive (server pings, application pings answered) and
/// the limits it enforces by closing the connection as the venue does.
/// Facts follow the venues' public documentation; each variant says what
/// is enforced.
///
/// ```
/// use hypersockets_testkit::{Emulation, ExchangeConfig, StreamConfig};
///
/// let config = ExchangeConfig::new()
///     .emulate(Emulation::BinanceSpot)
///     .stream(StreamConfig::trades("btcusdt@trade"));
/// # drop(config);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Emulation {
    /// Binance spot market streams at `/stream`: Ping frames every 20 s,
    /// closed after a minute unanswered; 5 incoming messages a second
    /// (Ping and Pong frames included), closed with 1008 beyond; 1,024
    /// streams per connection (more are refused).
    BinanceSpot,
    /// Binance USDⓈ-M futures market streams at `/stream`: Ping frames
    /// every 3 minutes; 10 incoming messages a second; 200 streams per
    /// connection.
    BinanceUsdm,
    /// OKX v5 at `/ws/v5/public`: text `ping` answered `pong`; a
    /// connection that sends nothing for 30 s is closed; 480 subscribe,
    /// unsubscribe and login requests an hour, closed beyond.
    Okx,
    /// Bybit v5 spot at `/v5/public/spot`: `{"op":"ping"}` answered.
    BybitSpot,
    /// Bybit v5 linear at `/v5/public/linear`: as spot.
    BybitLinear,
    /// Kraken v2 at `/v2`: `{"method":"ping"}` answered.
    Kraken,
    /// Coinbase Advanced Trade at `/`: a `heartbeats` stream (one a
    /// second); 8 incoming messages a second.
    Coinbase,
    /// Hyperliquid at `/ws`: `{"method":"ping"}` answered; a connection
    /// that sends nothing for 60 s is closed; 2,000 incoming messages a
    /// minute; 1,000 subscriptions.
    Hyperliquid,
    /// HTX at `/ws`: every message gzip-compressed; `{"ping":N}` every 5 s,
    /// closed after two unanswered.
    Htx,
    /// KuCoin at `/`: a welcome message first; `{"type":"ping"}` answered;
    /// 100 incoming messages per 10 s; 300 topics per connection.
    Kucoin,
}

impl Emulation {
    /// Every emulated venue.
    pub const ALL: [Emulation; 10] = [
        Emulation::BinanceSpot,
        Emulation::BinanceUsdm,
        Emulation::Okx,
        Emulation::BybitSpot,
        Emulation::BybitLinear,
        Emulation::Kraken,
        Emulation::Coinbase,
        Emulation::Hyperliquid,
        Emulation::Htx,
        Emulation::Kucoin,
    ];

    /// Its subscription protocol.
    ///
    /// ```
    /// use hypersockets_testkit::{Emulation, SubscriptionProtocol};
    ///
    /// assert_eq!(Emulation::BinanceUsdm.protocol(), SubscriptionProtocol::Binance);
    /// ```
    pub fn protocol(self) -> SubscriptionProtocol {
        match self {
            Self::BinanceSpot | Self::BinanceUsdm => SubscriptionProtocol::Binance,
            Self::Okx => SubscriptionProtocol::Okx,
            Self::BybitSpot | Self::BybitLinear => SubscriptionProtocol::Bybit,
            Self::Kraken => SubscriptionProtocol::Kraken,
            Self::Coinbase => SubscriptionProtocol::Coinbase,
            Self::Hyperliquid => SubscriptionProtocol::Hyperliquid,
            Self::Htx => SubscriptionProtocol::Htx,
            Self::Kucoin => SubscriptionProtocol::Kucoin,
        }
    }

    /// The path of its endpoint.
    ///
    /// ```
    /// assert_eq!(hypersockets_testkit::Emulation::Okx.path(), "/ws/v5/public");
    /// ```
    pub fn path(self) -> &'static str {
        match self {
            Self::BinanceSpot | Self::BinanceUsdm => "/stream",
            Self::Okx => "/ws/v5/public",
            Self::BybitSpot => "/v5/public/spot",
            Self::BybitLinear => "/v5/public/linear",
            Self::Kraken => "/v2",
            Self::Coinbase | Self::Kucoin => "/",
            Self::Hyperliquid | Self::Htx => "/ws",
        }
    }

    /// A stream named `name` of the venue's usual market data: trades.
    /// Names are the venue's topics (`btcusdt@trade`, `trades:BTC-USDT`).
    ///
    /// ```
    /// use hypersockets_testkit::Emulation;
    ///
    /// assert_eq!(Emulation::Kraken.trades("trade:BTC/USD").name(), "trade:BTC/USD");
    /// ```
    pub fn trades(self, name: impl Into<String>) -> StreamConfig {
        StreamConfig::trades(name)
    }

    pub(crate) fn apply(self, config: ExchangeConfig) -> ExchangeConfig {
        let none = ClientPings::none();
        let mut config = config
            .protocol(self.protocol())
            .path(self.path())
            .venue_shapes(true);
        config = match self {
            Self::BinanceSpot => config
                .keepalive(
                    KeepaliveConfig::new()
                        .client_pings(none)
                        .server_ping(ServerPing::protocol(Duration::from_secs(20)).max_missed(3)),
                )
                .incoming_limit(5, Duration::from_secs(1))
                .max_streams(1024),
            Self::BinanceUsdm => config
                .keepalive(
                    KeepaliveConfig::new()
                        .client_pings(none)
                        .server_ping(ServerPing::protocol(Duration::from_secs(180)).max_missed(3)),
                )
                .incoming_limit(10, Duration::from_secs(1))
                .max_streams(200),
            Self::Okx => config
                .keepalive(
                    KeepaliveConfig::new()
                        .client_pings(none.text(true))
                        .idle_timeout(Duration::from_secs(30)),
                )
                .request_limit(480, Duration::from_secs(3600)),
            Self::BybitSpot | Self::BybitLinear | Self::Kraken => {
                config.keepalive(KeepaliveConfig::new().client_pings(none))
            }
            Self::Coinbase => config
                .keepalive(KeepaliveConfig::new().client_pings(none))
                .stream(StreamConfig::tickers("heartbeats").rate(Rate::PerSecond(1)))
                .incoming_limit(8, Duration::from_secs(1)),
            Self::Hyperliquid => config
                .keepalive(
                    KeepaliveConfig::new()
                        .client_pings(none)
                        .idle_timeout(Duration::from_secs(60)),
                )
                .incoming_limit(2000, Duration::from_secs(60))
                .max_streams(1000),
            Self::Htx => config
                .keepalive(
                    KeepaliveConfig::new()
                        .client_pings(none)
                        .server_ping(ServerPing::json(Duration::from_secs(5)).max_missed(2)),
                )
                .compression(Compression::Gzip),
            Self::Kucoin => config
                .keepalive(KeepaliveConfig::new().client_pings(none))
                .incoming_limit(100, Duration::from_secs(10))
                .max_streams(300),
        };
        config
    }
}
