//! A clock that every process of the bench reads alike: `CLOCK_MONOTONIC`,
//! which on Linux is one clock for the whole machine. The server stamps each
//! paced message with it and the client's handler reads it again, so the
//! difference is the latency from the server's write to the handler's start.
//! (`std::time::Instant` uses the same clock but cannot be sent to another
//! process.)

/// Nanoseconds on `CLOCK_MONOTONIC`.
#[inline]
pub(crate) fn now_ns() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let secs = u64::try_from(now.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(now.tv_nsec).unwrap_or(0);
    secs * 1_000_000_000 + nanos
}
