//! What a venue allows per connection and per address.

use std::time::Duration;

use crate::Rate;

/// A venue's limits beyond the write rate (which is the profile's
/// [`Pacing`](crate::Pacing)): what a planner spreading subscriptions over
/// connections, or rotating a connection before the venue drops it, needs
/// to know. Default: no limit known.
///
/// ```
/// use std::time::Duration;
/// use hypersockets::{Rate, VenueLimits};
///
/// let limits = VenueLimits::default()
///     .streams_per_connection(Some(1024))
///     .connections(Some(Rate::new(300, Duration::from_secs(300))))
///     .max_connection_age(Some(Duration::from_secs(24 * 60 * 60)));
/// assert_eq!(limits.streams_per_connection_limit(), Some(1024));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VenueLimits {
    streams_per_connection: Option<usize>,
    connections: Option<Rate>,
    connections_per_address: Option<usize>,
    max_connection_age: Option<Duration>,
}

impl VenueLimits {
    /// The most streams (topics) one connection may hold. Default: none
    /// known.
    ///
    /// ```
    /// let limits = hypersockets::VenueLimits::default().streams_per_connection(Some(300));
    /// assert_eq!(limits.streams_per_connection_limit(), Some(300));
    /// ```
    pub fn streams_per_connection(mut self, streams: Option<usize>) -> Self {
        self.streams_per_connection = streams;
        self
    }

    /// How many new connections the venue accepts from one address in a
    /// window. Default: none known.
    ///
    /// ```
    /// use hypersockets::{Rate, VenueLimits};
    ///
    /// let limits = VenueLimits::default().connections(Some(Rate::per_second(3)));
    /// assert_eq!(limits.connections_limit(), Some(Rate::per_second(3)));
    /// ```
    pub fn connections(mut self, rate: Option<Rate>) -> Self {
        self.connections = rate;
        self
    }

    /// The most connections the venue allows open from one address at
    /// once. Default: none known.
    ///
    /// ```
    /// let limits = hypersockets::VenueLimits::default().connections_per_address(Some(100));
    /// assert_eq!(limits.connections_per_address_limit(), Some(100));
    /// ```
    pub fn connections_per_address(mut self, connections: Option<usize>) -> Self {
        self.connections_per_address = connections;
        self
    }

    /// How long the venue keeps a connection before closing it. Default:
    /// none known.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let limits = hypersockets::VenueLimits::default().max_connection_age(Some(Duration::from_secs(86_400)));
    /// assert_eq!(limits.max_connection_age_limit(), Some(Duration::from_secs(86_400)));
    /// ```
    pub fn max_connection_age(mut self, age: Option<Duration>) -> Self {
        self.max_connection_age = age;
        self
    }

    /// The most streams one connection may hold, if known.
    ///
    /// ```
    /// assert_eq!(hypersockets::Venue::binance_usdm().limits().streams_per_connection_limit(), Some(200));
    /// ```
    pub fn streams_per_connection_limit(&self) -> Option<usize> {
        self.streams_per_connection
    }

    /// The new-connection rate per address, if known.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hypersockets::{Rate, Venue};
    ///
    /// assert_eq!(
    ///     Venue::binance_spot().limits().connections_limit(),
    ///     Some(Rate::new(300, Duration::from_secs(300)))
    /// );
    /// ```
    pub fn connections_limit(&self) -> Option<Rate> {
        self.connections
    }

    /// The most connections open at once from one address, if known.
    ///
    /// ```
    /// assert_eq!(hypersockets::Venue::hyperliquid().limits().connections_per_address_limit(), Some(100));
    /// ```
    pub fn connections_per_address_limit(&self) -> Option<usize> {
        self.connections_per_address
    }

    /// The longest a connection lasts, if known.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// assert_eq!(
    ///     hypersockets::Venue::binance_spot().limits().max_connection_age_limit(),
    ///     Some(Duration::from_secs(24 * 60 * 60))
    /// );
    /// ```
    pub fn max_connection_age_limit(&self) -> Option<Duration> {
        self.max_connection_age
    }
}
