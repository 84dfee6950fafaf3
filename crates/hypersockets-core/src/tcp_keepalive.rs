//! OS-level TCP keepalive: the kernel probes an idle connection and fails
//! it when the peer is gone, even while the application sends nothing.

use std::time::Duration;

/// TCP keepalive settings for a connection's socket (`SO_KEEPALIVE`).
///
/// On by default for every client: after `idle` without traffic the
/// operating system sends a probe every `interval`, and after `retries`
/// unanswered probes it fails the connection (about 60 s with the
/// defaults). It catches a peer that vanished (a crashed host, a dropped
/// NAT entry) below the WebSocket layer, and keeps NAT and firewall
/// entries alive. Where the OS does not let a socket set the interval or
/// the retries, its own values apply.
///
/// ```
/// use std::time::Duration;
/// use hypersockets_core::TcpKeepalive;
///
/// let keepalive = TcpKeepalive::default();
/// assert_eq!(keepalive.idle, Duration::from_secs(30));
/// assert_eq!(keepalive.interval, Duration::from_secs(10));
/// assert_eq!(keepalive.retries, 3);
/// let eager = TcpKeepalive::default().idle(Duration::from_secs(5)).retries(2);
/// assert_eq!(eager.idle, Duration::from_secs(5));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TcpKeepalive {
    /// Idle time before the first probe, 1 s to 32767 s in whole seconds
    /// (what operating systems take; the client's `build` checks it).
    /// Default: 30 s.
    pub idle: Duration,
    /// Time between probes, 1 s to 32767 s. Default: 10 s.
    pub interval: Duration,
    /// Unanswered probes before the connection fails, 1 to 127. Default: 3.
    pub retries: u32,
}

impl Default for TcpKeepalive {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(30),
            interval: Duration::from_secs(10),
            retries: 3,
        }
    }
}

impl TcpKeepalive {
    /// Sets the idle time before the first probe (default 30 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use hypersockets_core::TcpKeepalive;
    /// assert_eq!(TcpKeepalive::default().idle(Duration::from_secs(60)).idle, Duration::from_secs(60));
    /// ```
    pub fn idle(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// Sets the time between probes (default 10 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use hypersockets_core::TcpKeepalive;
    /// assert_eq!(TcpKeepalive::default().interval(Duration::from_secs(5)).interval, Duration::from_secs(5));
    /// ```
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets how many unanswered probes fail the connection (default 3).
    ///
    /// ```
    /// # use hypersockets_core::TcpKeepalive;
    /// assert_eq!(TcpKeepalive::default().retries(5).retries, 5);
    /// ```
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }
}
