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
/// Only Binance documents a maximum connection age (24 hours), so only its
/// emulations set a [lifetime](ExchangeConfig::connection_lifetime); the
/// other venues document none and their connections live until closed
/// otherwise. A lifetime set on any emulation brings the venue's shutdown
/// notice where it documents one (OKX's `64008`, Binance's
/// `serverShutdown`; see [`ExchangeConfig::shutdown_notice`]).
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
    /// streams per connection (more are refused); connections closed
    /// (1001) 24 hours after they open, the `serverShutdown` event a
    /// minute before.
    BinanceSpot,
    /// Binance USDⓈ-M futures market streams at `/stream`: Ping frames
    /// every 3 minutes; 10 incoming messages a second; 200 streams per
    /// connection; connections closed after 24 hours, as spot.
    BinanceUsdm,
    /// OKX v5 at `/ws/v5/public`: text `ping` answered `pong`; a
    /// connection that sends nothing for 30 s is closed; 480 subscribe,
    /// unsubscribe and login requests an hour, closed beyond. No maximum
    /// connection age; with a lifetime set, the `64008` notice comes
    /// before the close, as before OKX's service upgrades.
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
    /// HTX's asset and order endpoint (v2) at `/ws/v2`: the v2 login
    /// (configure [`AuthConfig`](crate::AuthConfig) with
    /// [`verify_with`](crate::AuthConfig::verify_with) to check its
    /// signature), private channels after it; uncompressed. HTX's
    /// `{"action":"ping",…}` every 20 s is not sent (send one with
    /// [`Control::send`](crate::Control::send)); the client's
    /// `{"action":"pong",…}` is taken without an answer. HTX's 50 requests
    /// a second are not enforced (HTX answers `too.many.request` rather
    /// than closing).
    HtxPrivate,
    /// KuCoin at `/`: a welcome message first; `{"type":"ping"}` answered;
    /// 100 incoming messages per 10 s; 300 topics per connection.
    Kucoin,
}

impl Emulation {
    /// Every emulated venue.
    pub const ALL: [Emulation; 11] = [
        Emulation::BinanceSpot,
        Emulation::BinanceUsdm,
        Emulation::Okx,
        Emulation::BybitSpot,
        Emulation::BybitLinear,
        Emulation::Kraken,
        Emulation::Coinbase,
        Emulation::Hyperliquid,
        Emulation::Htx,
        Emulation::HtxPrivate,
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
            Self::HtxPrivate => SubscriptionProtocol::HtxV2,
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
            Self::HtxPrivate => "/ws/v2",
        }
    }

    /// A stream named `name` of the venue's usual market data: trades,
    /// written as the venue's trade objects, the trade id carrying the
    /// sequence number (see [`StreamConfig::venue_message`]). Names are the
    /// venue's topics (`btcusdt@trade`, `trades:BTC-USDT`).
    ///
    /// ```
    /// use hypersockets_testkit::Emulation;
    ///
    /// assert_eq!(Emulation::Kraken.trades("trade:BTC/USD").name(), "trade:BTC/USD");
    /// ```
    pub fn trades(self, name: impl Into<String>) -> StreamConfig {
        StreamConfig::trades(name)
    }

    /// Binance's documented maximum connection age.
    const BINANCE_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

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
                .max_streams(1024)
                .connection_lifetime(Some(Self::BINANCE_LIFETIME)),
            Self::BinanceUsdm => config
                .keepalive(
                    KeepaliveConfig::new()
                        .client_pings(none)
                        .server_ping(ServerPing::protocol(Duration::from_secs(180)).max_missed(3)),
                )
                .incoming_limit(10, Duration::from_secs(1))
                .max_streams(200)
                .connection_lifetime(Some(Self::BINANCE_LIFETIME)),
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
            Self::HtxPrivate => config.keepalive(KeepaliveConfig::new().client_pings(none)),
            Self::Kucoin => config
                .keepalive(KeepaliveConfig::new().client_pings(none))
                .incoming_limit(100, Duration::from_secs(10))
                .max_streams(300),
        };
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_binance_has_a_maximum_connection_age() {
        for venue in Emulation::ALL {
            let config = ExchangeConfig::new().emulate(venue);
            let expected = matches!(venue, Emulation::BinanceSpot | Emulation::BinanceUsdm)
                .then_some(Duration::from_secs(86_400));
            assert_eq!(config.connection_lifetime, expected, "{venue:?}");
            assert_eq!(config.shutdown_notice, Duration::from_secs(60), "{venue:?}");
        }
        // Later calls override it.
        let config = ExchangeConfig::new()
            .emulate(Emulation::BinanceSpot)
            .connection_lifetime(None);
        assert_eq!(config.connection_lifetime, None);
    }

    #[test]
    fn a_zero_lifetime_is_refused() {
        let config = ExchangeConfig::new().connection_lifetime(Some(Duration::ZERO));
        assert!(config.check().is_err());
    }
}
