//! The exchange's configuration.

use std::time::Duration;

use crate::{
    AuthConfig, Compression, KeepaliveConfig, Recording, StreamConfig, SubscriptionProtocol,
};

/// How a [`MockExchange`](crate::MockExchange) behaves.
///
/// ```
/// use std::time::Duration;
/// use hypersockets_testkit::{
///     AuthConfig, ExchangeConfig, KeepaliveConfig, Rate, ServerPing, StreamConfig,
///     SubscriptionProtocol,
/// };
///
/// let config = ExchangeConfig::new()
///     .protocol(SubscriptionProtocol::Okx)
///     .stream(StreamConfig::trades("trades:BTC-USDT").rate(Rate::PerSecond(100)))
///     .stream(StreamConfig::book_deltas("orders:BTC-USDT").private(true))
///     .auth(AuthConfig::new("key", "signature"))
///     .keepalive(KeepaliveConfig::new().server_ping(ServerPing::text(Duration::from_secs(25))));
/// # drop(config);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ExchangeConfig {
    pub(crate) streams: Vec<StreamConfig>,
    pub(crate) protocol: SubscriptionProtocol,
    pub(crate) keepalive: KeepaliveConfig,
    pub(crate) auth: Option<AuthConfig>,
    pub(crate) tls: bool,
    pub(crate) path: String,
    pub(crate) handshake_timeout: Duration,
    pub(crate) write_timeout: Option<Duration>,
    pub(crate) close_grace: Duration,
    pub(crate) compression: Compression,
    pub(crate) recording: Recording,
    /// At most this many client messages in any span of that long.
    pub(crate) incoming_limit: Option<(u32, Duration)>,
    /// At most this many subscribe, unsubscribe and login requests in any
    /// span of that long.
    pub(crate) request_limit: Option<(u32, Duration)>,
    /// Market data in the protocol's venue shape, not the tagged envelope.
    pub(crate) venue_shapes: bool,
    /// The most streams one connection may hold.
    pub(crate) max_streams: Option<usize>,
    /// Every connection is closed this long after its handshake.
    pub(crate) connection_lifetime: Option<Duration>,
    /// The venue's shutdown notice comes this long before that close.
    pub(crate) shutdown_notice: Duration,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        Self {
            streams: Vec::new(),
            protocol: SubscriptionProtocol::default(),
            keepalive: KeepaliveConfig::default(),
            auth: None,
            tls: false,
            path: "/ws".to_owned(),
            handshake_timeout: Duration::from_secs(10),
            write_timeout: None,
            close_grace: Duration::from_secs(1),
            compression: Compression::None,
            recording: Recording::default(),
            incoming_limit: None,
            request_limit: None,
            venue_shapes: false,
            max_streams: None,
            connection_lifetime: None,
            shutdown_notice: Duration::from_secs(60),
        }
    }
}

impl ExchangeConfig {
    /// The defaults: no streams, Binance-style subscriptions, the default
    /// keepalive (no server pings, client pings answered, no idle cutoff), no
    /// login, plain `ws://`, the 1,024 most recent messages kept each way
    /// per connection, no connection lifetime.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a stream. Default: none. A later stream with the same name
    /// replaces an earlier one.
    pub fn stream(mut self, stream: StreamConfig) -> Self {
        self.streams.retain(|s| s.name() != stream.name());
        self.streams.push(stream);
        self
    }

    /// The subscription protocol. Default: [`SubscriptionProtocol::Binance`].
    pub fn protocol(mut self, protocol: SubscriptionProtocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Keepalive behaviour. Default: [`KeepaliveConfig::default`].
    pub fn keepalive(mut self, keepalive: KeepaliveConfig) -> Self {
        self.keepalive = keepalive;
        self
    }

    /// The credentials logins are checked against. Default: none; every
    /// login then fails, and private streams cannot be subscribed to.
    pub fn auth(mut self, auth: AuthConfig) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Serves `wss://` with a certificate made at start. Default: false.
    pub fn tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// The path in [`MockExchange::url`](crate::MockExchange::url); any path
    /// is accepted. Default: `/ws`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// How long the TLS and WebSocket handshakes may take before the server
    /// drops the socket (not applied to a stalled handshake). Default: 10 s.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Drops a connection (cause [`CloseCause::WriteTimeout`](crate::CloseCause::WriteTimeout))
    /// when writing one message to it takes longer than this, as exchanges
    /// do with slow consumers. Default: none (wait for the client, however
    /// long).
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = Some(timeout);
        self
    }

    /// How long the server waits for the client's Close frame after sending
    /// its own. Default: 1 s.
    pub fn close_grace(mut self, grace: Duration) -> Self {
        self.close_grace = grace;
        self
    }

    /// Compresses every data message it sends (see [`Compression`]).
    /// Default: [`Compression::None`].
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// How much of each connection's traffic is kept for assertions (see
    /// [`Recording`]). Default: [`Recording::Recent`] with
    /// [`Recording::DEFAULT_RECENT`] (1,024) messages each way, so the
    /// exchange can run for hours; counts and checksums are always kept.
    /// Tests that read whole lists past that ([`Control::sent`],
    /// [`Control::check_delivery`], …) ask for [`Recording::All`].
    ///
    /// [`Control::sent`]: crate::Control::sent
    /// [`Control::check_delivery`]: crate::Control::check_delivery
    ///
    /// ```
    /// use hypersockets_testkit::{ExchangeConfig, Recording};
    ///
    /// let config = ExchangeConfig::new().recording(Recording::All);
    /// # drop(config);
    /// ```
    pub fn recording(mut self, recording: Recording) -> Self {
        self.recording = recording;
        self
    }

    /// Closes a connection (code 1008 "Too many requests", cause
    /// [`CloseCause::TooManyMessages`](crate::CloseCause::TooManyMessages))
    /// whose client sends more than `count` messages in any span of `per`,
    /// counting text, binary, Ping and Pong frames alike, as Binance counts
    /// its 5 a second. Default: no limit.
    pub fn incoming_limit(mut self, count: u32, per: Duration) -> Self {
        self.incoming_limit = Some((count.max(1), per));
        self
    }

    /// Closes a connection (code 1008 "Too many requests", cause
    /// [`CloseCause::TooManyMessages`](crate::CloseCause::TooManyMessages))
    /// whose client sends more than `count` subscribe, unsubscribe and
    /// login requests in any span of `per` (OKX's 480 an hour); pings and
    /// other messages do not count. Default: no limit.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hypersockets_testkit::ExchangeConfig;
    ///
    /// let okx = ExchangeConfig::new().request_limit(480, Duration::from_secs(3600));
    /// # drop(okx);
    /// ```
    pub fn request_limit(mut self, count: u32, per: Duration) -> Self {
        self.request_limit = Some((count.max(1), per));
        self
    }

    /// Refuses a subscription that would give one connection more than
    /// `streams` streams, with the protocol's error answer (as venues cap
    /// streams per connection: Binance spot 1,024). Default: no cap.
    ///
    /// ```
    /// use hypersockets_testkit::ExchangeConfig;
    ///
    /// let binance = ExchangeConfig::new().max_streams(1024);
    /// # drop(binance);
    /// ```
    pub fn max_streams(mut self, streams: usize) -> Self {
        self.max_streams = Some(streams);
        self
    }

    /// Closes every connection `lifetime` after its handshake, with a Close
    /// frame 1001 ("going away") whose reason is `connection lifetime
    /// reached` (cause [`CloseCause::Lifetime`](crate::CloseCause::Lifetime)),
    /// as a venue closes connections at their maximum age or for
    /// maintenance. If the protocol has a shutdown notice, it comes
    /// [`shutdown_notice`](Self::shutdown_notice) before. `None`: no
    /// lifetime. Default: `None`; [`emulate`](Self::emulate) sets Binance's
    /// 24 hours.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hypersockets_testkit::{ExchangeConfig, SubscriptionProtocol};
    ///
    /// // An OKX service upgrade: the 64008 notice after 9 minutes, the
    /// // close after 10.
    /// let okx = ExchangeConfig::new()
    ///     .protocol(SubscriptionProtocol::Okx)
    ///     .connection_lifetime(Some(Duration::from_secs(600)))
    ///     .shutdown_notice(Duration::from_secs(60));
    /// # drop(okx);
    /// ```
    pub fn connection_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.connection_lifetime = lifetime;
        self
    }

    /// How long before a connection's [lifetime](Self::connection_lifetime)
    /// ends the server sends the protocol's documented shutdown notice, at
    /// once if the lifetime is shorter. Default: 60 s (OKX sends its notice
    /// about 60 seconds before).
    ///
    /// The notices, written as the protocol's venue does, whatever
    /// [`venue_shapes`](Self::venue_shapes) says:
    ///
    /// | protocol | notice |
    /// | --- | --- |
    /// | OKX | `{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":C}` |
    /// | Binance | `{"event":{"e":"serverShutdown","E":T}}` (the WebSocket API's event; `T` is `1700000000000` plus the milliseconds since the exchange started) |
    /// | others | none (their venues document none): the connection is just closed |
    pub fn shutdown_notice(mut self, lead: Duration) -> Self {
        self.shutdown_notice = lead;
        self
    }

    /// Writes market data in the protocol's venue shape (see
    /// [`StreamConfig::venue_message`](crate::StreamConfig::venue_message))
    /// instead of the tagged envelope. Default: false; set by
    /// [`emulate`](Self::emulate).
    ///
    /// ```
    /// use hypersockets_testkit::{ExchangeConfig, SubscriptionProtocol};
    ///
    /// let okx = ExchangeConfig::new().protocol(SubscriptionProtocol::Okx).venue_shapes(true);
    /// # drop(okx);
    /// ```
    pub fn venue_shapes(mut self, on: bool) -> Self {
        self.venue_shapes = on;
        self
    }

    /// Emulates `venue`: its protocol, data shapes, path, keepalive and
    /// enforced limits (see [`Emulation`](crate::Emulation)). Later calls
    /// override any part; streams are added as usual, named by the
    /// venue's topics.
    ///
    /// ```
    /// use hypersockets_testkit::{Emulation, ExchangeConfig, StreamConfig};
    ///
    /// let htx = ExchangeConfig::new()
    ///     .emulate(Emulation::Htx)
    ///     .stream(StreamConfig::trades("market.btcusdt.trade.detail"));
    /// # drop(htx);
    /// ```
    pub fn emulate(self, venue: crate::Emulation) -> Self {
        venue.apply(self)
    }

    /// The envelope market data is written in.
    pub(crate) fn shape(&self) -> crate::stream::Shape {
        if self.venue_shapes {
            crate::stream::Shape::Venue(self.protocol)
        } else {
            crate::stream::Shape::Tagged
        }
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        for stream in &self.streams {
            stream.check()?;
        }
        if let Some(ping) = &self.keepalive.server_ping
            && ping.interval().is_zero()
        {
            return Err("server ping interval of zero".to_owned());
        }
        if self.keepalive.idle_timeout.is_some_and(|t| t.is_zero()) {
            return Err("idle timeout of zero".to_owned());
        }
        if self.connection_lifetime.is_some_and(|l| l.is_zero()) {
            return Err("connection lifetime of zero".to_owned());
        }
        if !self.path.starts_with('/') {
            return Err("path must start with '/'".to_owned());
        }
        Ok(())
    }
}
