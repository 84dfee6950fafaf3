//! Outbound pacing: how fast the client writes to one connection.
//!
//! Venues count what a client sends and close the connection (or ban the
//! address) past a limit: Binance 5 messages a second including Ping and
//! Pong frames, OKX 480 subscribe requests an hour. Every write of a
//! connection goes through its writer, which waits for room under these
//! limits first.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// A rate: at most `count` messages in any span of `per`.
///
/// ```
/// use std::time::Duration;
/// use hypersockets::Rate;
///
/// let binance = Rate::per_second(5);
/// assert_eq!(binance.count(), 5);
/// let okx_requests = Rate::new(480, Duration::from_secs(3600));
/// assert_eq!(okx_requests.per(), Duration::from_secs(3600));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    count: u32,
    per: Duration,
}

impl Rate {
    /// `count` messages per `per` (a `count` of 0 counts as 1, a zero `per`
    /// as one nanosecond).
    ///
    /// ```
    /// use std::time::Duration;
    /// use hypersockets::Rate;
    ///
    /// let rate = Rate::new(10, Duration::from_secs(1));
    /// assert_eq!((rate.count(), rate.per()), (10, Duration::from_secs(1)));
    /// ```
    pub fn new(count: u32, per: Duration) -> Self {
        Self {
            count: count.max(1),
            per: per.max(Duration::from_nanos(1)),
        }
    }

    /// `count` messages a second.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hypersockets::Rate;
    ///
    /// assert_eq!(Rate::per_second(5), Rate::new(5, Duration::from_secs(1)));
    /// ```
    pub fn per_second(count: u32) -> Self {
        Self::new(count, Duration::from_secs(1))
    }

    /// Messages per period, and the largest burst.
    ///
    /// ```
    /// use hypersockets::Rate;
    ///
    /// assert_eq!(Rate::per_second(5).count(), 5);
    /// ```
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The period.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hypersockets::Rate;
    ///
    /// assert_eq!(Rate::per_second(5).per(), Duration::from_secs(1));
    /// ```
    pub fn per(&self) -> Duration {
        self.per
    }
}

/// How fast the client writes to one connection.
///
/// Two limits, each counted over a sliding window (at most `count` in any
/// span of `per`, the strictest reading of a venue's limit):
/// - `all`: every message written — the client's requests, user sends,
///   keepalive (Pings, Pongs, heartbeats). `keepalive_reserve` of its
///   writes are kept for keepalive, so a burst of subscriptions or sends never
///   makes a pong late. Pongs the transport writes by itself (answers to the
///   server's Ping frames) are not seen by the writer: the reserve is their
///   room too.
/// - `requests`: the client's own requests (login, subscribe, unsubscribe),
///   which venues often limit apart.
///
/// The Close frame is never held back.
///
/// ```
/// use std::time::Duration;
/// use hypersockets::{Pacing, Rate};
///
/// // Binance: 5 messages a second, control frames included.
/// let binance = Pacing::default().all(Some(Rate::per_second(5))).keepalive_reserve(1);
/// // OKX: 480 subscribe, unsubscribe and login requests an hour.
/// let okx = Pacing::default().requests(Some(Rate::new(480, Duration::from_secs(3600))));
/// assert_eq!(okx.requests_limit(), Some(Rate::new(480, Duration::from_secs(3600))));
/// # let _ = binance;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pacing {
    all: Option<Rate>,
    requests: Option<Rate>,
    keepalive_reserve: u32,
}

impl Default for Pacing {
    /// No limit on all writes; the client's requests at 4 a second (one
    /// less than the strictest venue's 5, leaving room for its pongs); one
    /// write reserved for keepalive.
    fn default() -> Self {
        Self {
            all: None,
            requests: Some(Rate::per_second(4)),
            keepalive_reserve: 1,
        }
    }
}

impl Pacing {
    /// No limit at all (a venue that counts nothing, or a local server).
    ///
    /// ```
    /// use hypersockets::Pacing;
    ///
    /// let pacing = Pacing::unlimited();
    /// assert_eq!((pacing.all_limit(), pacing.requests_limit()), (None, None));
    /// ```
    pub fn unlimited() -> Self {
        Self {
            all: None,
            requests: None,
            keepalive_reserve: 0,
        }
    }

    /// The limit on every message written. Default: none.
    ///
    /// ```
    /// use hypersockets::{Pacing, Rate};
    ///
    /// let pacing = Pacing::default().all(Some(Rate::per_second(10)));
    /// assert_eq!(pacing.all_limit(), Some(Rate::per_second(10)));
    /// ```
    pub fn all(mut self, rate: Option<Rate>) -> Self {
        self.all = rate;
        self
    }

    /// The limit on the client's requests (login, subscribe, unsubscribe).
    /// Default: 4 a second.
    ///
    /// ```
    /// use hypersockets::{Pacing, Rate};
    ///
    /// assert_eq!(Pacing::default().requests_limit(), Some(Rate::per_second(4)));
    /// let pacing = Pacing::default().requests(None);
    /// assert_eq!(pacing.requests_limit(), None);
    /// ```
    pub fn requests(mut self, rate: Option<Rate>) -> Self {
        self.requests = rate;
        self
    }

    /// Writes of the `all` window only keepalive may use (at most one less
    /// than its count). Default: 1.
    ///
    /// ```
    /// use hypersockets::Pacing;
    ///
    /// assert_eq!(Pacing::default().keepalive_reserve(2).reserved(), 2);
    /// ```
    pub fn keepalive_reserve(mut self, writes: u32) -> Self {
        self.keepalive_reserve = writes;
        self
    }

    /// The limit on every message written.
    ///
    /// ```
    /// use hypersockets::Pacing;
    ///
    /// assert_eq!(Pacing::default().all_limit(), None);
    /// ```
    pub fn all_limit(&self) -> Option<Rate> {
        self.all
    }

    /// The limit on the client's requests.
    ///
    /// ```
    /// use hypersockets::{Pacing, Rate};
    ///
    /// assert_eq!(Pacing::default().requests_limit(), Some(Rate::per_second(4)));
    /// ```
    pub fn requests_limit(&self) -> Option<Rate> {
        self.requests
    }

    /// Writes reserved for keepalive.
    ///
    /// ```
    /// use hypersockets::Pacing;
    ///
    /// assert_eq!(Pacing::default().reserved(), 1);
    /// ```
    pub fn reserved(&self) -> u32 {
        self.keepalive_reserve
    }
}

/// What a write is, for pacing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// Pongs, heartbeats, Pings: may use the reserved writes.
    Keepalive,
    /// Login, subscribe, unsubscribe.
    Request,
    /// A user's send.
    User,
    /// The Close frame: never held back.
    Close,
}

/// A connection's limits, each a sliding window: at most `count` writes
/// in any span of `per`, whatever the alignment of the venue's own
/// windows. (A token bucket of `count` refilled at `count` per `per`
/// would let nearly twice that into one window: a full bucket, then its
/// refill.)
#[derive(Debug)]
pub(crate) struct Pacer {
    all: Option<Window>,
    requests: Option<Window>,
    reserve: usize,
}

impl Pacer {
    pub(crate) fn new(pacing: Pacing) -> Self {
        let reserve = pacing.all.map_or(0, |rate| {
            // At least one write must stay for the others.
            pacing.keepalive_reserve.min(rate.count - 1) as usize
        });
        Self {
            all: pacing.all.map(Window::new),
            requests: pacing.requests.map(Window::new),
            reserve,
        }
    }

    /// When a write of `class` may go (`now`: at once).
    pub(crate) fn ready_at(&self, class: Class, now: Instant) -> Instant {
        let reserve = match class {
            Class::Close => return now,
            Class::Keepalive => 0,
            Class::Request | Class::User => self.reserve,
        };
        let mut at = now;
        if let Some(all) = &self.all {
            at = at.max(all.ready_at(reserve, now));
        }
        if class == Class::Request
            && let Some(requests) = &self.requests
        {
            at = at.max(requests.ready_at(0, now));
        }
        at
    }

    /// Counts a write of `class` made at `now`.
    pub(crate) fn take(&mut self, class: Class, now: Instant) {
        if class == Class::Close {
            return;
        }
        if let Some(all) = &mut self.all {
            all.take(now);
        }
        if class == Class::Request
            && let Some(requests) = &mut self.requests
        {
            requests.take(now);
        }
    }
}

/// The instants of the last `count` writes, oldest first.
#[derive(Debug)]
pub(crate) struct Window {
    count: usize,
    per: Duration,
    sent: VecDeque<Instant>,
}

impl Window {
    pub(crate) fn new(rate: Rate) -> Self {
        Self {
            count: rate.count as usize,
            per: rate.per,
            // Grown as writes come: a quiet connection holds none.
            sent: VecDeque::new(),
        }
    }

    /// When a write may go leaving room for `reserve` more in the window.
    pub(crate) fn ready_at(&self, reserve: usize, now: Instant) -> Instant {
        let allowed = self.count - reserve.min(self.count - 1);
        // Only the last `allowed` writes matter: the next may go once the
        // oldest of them is `per` old.
        if self.sent.len() < allowed {
            return now;
        }
        let oldest = self.sent[self.sent.len() - allowed];
        now.max(oldest + self.per)
    }

    pub(crate) fn take(&mut self, now: Instant) {
        if self.sent.len() == self.count {
            self.sent.pop_front();
        }
        self.sent.push_back(now);
    }
}
