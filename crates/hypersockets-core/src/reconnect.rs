//! How long to wait before each reconnection attempt.

use std::fmt::Debug;
use std::time::Duration;

use crate::HyperSocketError;

/// The longest a server's `Retry-After` makes a client wait: 10 minutes. A
/// longer ask (a hostile or broken server, or a date far ahead) is cut to
/// it, so no answer can park a client for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Decides the delay before reconnection attempt `attempt` (counting from 1
/// after each loss), or that the client should give up.
///
/// The client resets the attempt count once a connection has stayed up for
/// its stable period. It asks [`delay_after`](Self::delay_after), which
/// sees what ended the last connection or attempt; its default honours the
/// server's `Retry-After` on top of [`delay`](Self::delay), so most
/// strategies implement `delay` alone.
///
/// ```
/// use std::time::Duration;
/// use hypersockets_core::{FixedInterval, ReconnectionStrategy};
///
/// let strategy = FixedInterval::new(Duration::from_secs(1)).max_attempts(3);
/// assert_eq!(strategy.delay(1), Some(Duration::from_secs(1)));
/// assert_eq!(strategy.delay(4), None);
/// ```
pub trait ReconnectionStrategy: Send + Sync + Debug + 'static {
    /// The delay before attempt `attempt` (1-based), or `None` to stop.
    fn delay(&self, attempt: u32) -> Option<Duration>;

    /// The delay before attempt `attempt` after a loss caused by `cause`
    /// (the error that ended the connection or failed the last attempt;
    /// `None` when the server closed it or the stream ended).
    ///
    /// Default: [`delay`](Self::delay), but never shorter than the server's
    /// `Retry-After` ([`HyperSocketError::retry_after`]), itself capped at
    /// [`MAX_RETRY_AFTER`]. Override it to decide by the error, e.g. by
    /// the handshake's status.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hypersockets_core::{FixedInterval, HyperSocketError, ReconnectionStrategy};
    ///
    /// let strategy = FixedInterval::new(Duration::from_millis(100));
    /// let busy = HyperSocketError::Handshake {
    ///     status: Some(429),
    ///     retry_after: Some(Duration::from_secs(2)),
    ///     source: None,
    /// };
    /// assert_eq!(strategy.delay_after(1, Some(&busy)), Some(Duration::from_secs(2)));
    /// assert_eq!(strategy.delay_after(1, None), Some(Duration::from_millis(100)));
    /// ```
    fn delay_after(&self, attempt: u32, cause: Option<&HyperSocketError>) -> Option<Duration> {
        let delay = self.delay(attempt)?;
        let asked = cause.and_then(HyperSocketError::retry_after);
        Some(asked.map_or(delay, |asked| delay.max(asked.min(MAX_RETRY_AFTER))))
    }
}

/// Exponential backoff with jitter: the first retry can be immediate, then
/// `initial`, `initial × factor`, … up to `max`, each shortened by a random
/// fraction of up to `jitter` so that many clients do not retry in step.
///
/// The "immediate" first retry is not quite immediate: it waits a random
/// 0 to `first_retry_jitter` (default 500 ms), so that the clients of a
/// server that dropped them all (a restart, a deploy) come back spread
/// over that window, not in one burst.
///
/// ```
/// use std::time::Duration;
/// use hypersockets_core::{ExponentialBackoff, ReconnectionStrategy};
///
/// let backoff = ExponentialBackoff::default()
///     .initial(Duration::from_millis(100))
///     .factor(2.0)
///     .max(Duration::from_secs(5))
///     .jitter(0.0)
///     .first_retry_jitter(Duration::ZERO);
/// assert_eq!(backoff.delay(1), Some(Duration::ZERO)); // immediate first retry
/// assert_eq!(backoff.delay(2), Some(Duration::from_millis(100)));
/// assert_eq!(backoff.delay(3), Some(Duration::from_millis(200)));
/// assert_eq!(backoff.delay(30), Some(Duration::from_secs(5)));
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ExponentialBackoff {
    /// Delay of the first non-immediate attempt. Default: 500 ms.
    pub initial: Duration,
    /// Growth per attempt; values below 1.0 or not finite are taken as 1.0. Default: 2.0.
    pub factor: f64,
    /// Cap on any delay. Default: 30 s.
    pub max: Duration,
    /// Largest fraction taken off a delay at random, 0.0 to 1.0. Default: 0.2.
    pub jitter: f64,
    /// Give up after this many attempts; `None` retries forever. Default: `None`.
    pub max_attempts: Option<u32>,
    /// Whether attempt 1 happens at once (within `first_retry_jitter`).
    /// Default: true.
    pub immediate_first: bool,
    /// With `immediate_first`, attempt 1 waits a random 0 to this (at most
    /// `max`). Default: 500 ms.
    pub first_retry_jitter: Duration,
}

impl Default for ExponentialBackoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(500),
            factor: 2.0,
            max: Duration::from_secs(30),
            jitter: 0.2,
            max_attempts: None,
            immediate_first: true,
            first_retry_jitter: Duration::from_millis(500),
        }
    }
}

impl ExponentialBackoff {
    /// Sets the first non-immediate delay (default 500 ms).
    pub fn initial(mut self, initial: Duration) -> Self {
        self.initial = initial;
        self
    }

    /// Sets the growth factor (default 2.0; values below 1.0 or not finite are taken as 1.0).
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// Sets the cap on any delay (default 30 s).
    pub fn max(mut self, max: Duration) -> Self {
        self.max = max;
        self
    }

    /// Sets the jitter fraction, clamped to 0.0..=1.0 (default 0.2).
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// Gives up after `attempts` attempts (default: never gives up).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// Whether the first retry is immediate (default true).
    pub fn immediate_first(mut self, immediate: bool) -> Self {
        self.immediate_first = immediate;
        self
    }

    /// Sets the window attempt 1 is spread over when it is immediate
    /// (default 500 ms; `Duration::ZERO` for a truly immediate retry).
    pub fn first_retry_jitter(mut self, window: Duration) -> Self {
        self.first_retry_jitter = window;
        self
    }

    /// The delay for `attempt` before jitter, capped at `max`.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let step = if self.immediate_first {
            if attempt <= 1 {
                return Duration::ZERO;
            }
            attempt - 2
        } else {
            attempt.saturating_sub(1)
        };
        let factor = if self.factor.is_finite() {
            self.factor.max(1.0)
        } else {
            1.0
        };
        let exp = i32::try_from(step).unwrap_or(i32::MAX);
        let secs = self.initial.as_secs_f64() * factor.powi(exp);
        if secs.is_nan() {
            // 0 × ∞ once the factor's power overflows: a zero initial delay
            // stays zero, it must not jump to `max`.
            return Duration::ZERO;
        }
        if secs.is_infinite() || secs >= self.max.as_secs_f64() {
            self.max
        } else {
            Duration::from_secs_f64(secs)
        }
    }
}

impl ReconnectionStrategy for ExponentialBackoff {
    fn delay(&self, attempt: u32) -> Option<Duration> {
        if self.max_attempts.is_some_and(|max| attempt > max) {
            return None;
        }
        if self.immediate_first && attempt <= 1 {
            return Some(random_up_to(self.first_retry_jitter.min(self.max), 1.0));
        }
        let base = self.base_delay(attempt);
        let jitter = if self.jitter.is_nan() {
            0.0
        } else {
            self.jitter.clamp(0.0, 1.0)
        };
        Some(base - random_up_to(base, jitter))
    }
}

/// A random part of `whole`: up to `fraction` of it (0.0 to 1.0).
fn random_up_to(whole: Duration, fraction: f64) -> Duration {
    // Not `Duration::mul_f64`: it panics when the product does not fit,
    // which happens near `Duration::MAX` (e.g. `max(Duration::MAX)`) even
    // at a scale of 1.0, because `as_secs_f64` rounds up.
    let part = Duration::try_from_secs_f64(whole.as_secs_f64() * fraction * fastrand::f64())
        .unwrap_or(Duration::ZERO);
    part.min(whole)
}

/// The same delay before every attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FixedInterval {
    /// The delay. Default: 1 s.
    pub interval: Duration,
    /// Give up after this many attempts; `None` retries forever. Default: `None`.
    pub max_attempts: Option<u32>,
}

impl FixedInterval {
    /// Waits `interval` before every attempt, forever.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            max_attempts: None,
        }
    }

    /// Gives up after `attempts` attempts.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }
}

impl Default for FixedInterval {
    fn default() -> Self {
        Self::new(Duration::from_secs(1))
    }
}

impl ReconnectionStrategy for FixedInterval {
    fn delay(&self, attempt: u32) -> Option<Duration> {
        if self.max_attempts.is_some_and(|max| attempt > max) {
            None
        } else {
            Some(self.interval)
        }
    }
}

/// Never reconnects: the first loss ends the client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NeverReconnect;

impl ReconnectionStrategy for NeverReconnect {
    fn delay(&self, _attempt: u32) -> Option<Duration> {
        None
    }
}
