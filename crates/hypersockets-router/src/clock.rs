//! A compact timestamp for sampled messages: nanoseconds since a process
//! epoch in a `u64` (8 bytes in every envelope instead of an
//! `Option<Instant>`'s 16), with 0 meaning "not timed".

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

static EPOCH: OnceLock<Instant> = OnceLock::new();
/// The wall clock and the monotonic one, read together once: the wall time
/// of an instant without reading the wall clock per message.
static WALL: OnceLock<(Instant, SystemTime)> = OnceLock::new();

/// Nanoseconds since the epoch, never 0.
#[inline]
pub(crate) fn now_ns() -> u64 {
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_nanos())
        .unwrap_or(u64::MAX - 1)
        .saturating_add(1)
}

/// Nanoseconds from `instant` to `now` (a [`now_ns`] reading); 0 if
/// `instant` is later.
#[inline]
pub(crate) fn ns_since(instant: Instant, now: u64) -> u64 {
    let epoch = *EPOCH.get_or_init(Instant::now);
    let now = epoch + Duration::from_nanos(now.saturating_sub(1));
    u64::try_from(now.saturating_duration_since(instant).as_nanos()).unwrap_or(u64::MAX)
}

/// Nanoseconds from the wall time `sent` (a venue's) to `instant`; 0 if
/// `sent` is later (the venue's clock runs ahead of this machine's).
pub(crate) fn wall_ns_since(sent: SystemTime, instant: Instant) -> u64 {
    let (anchor, wall) = *WALL.get_or_init(|| (Instant::now(), SystemTime::now()));
    let at = match instant.checked_duration_since(anchor) {
        Some(after) => wall.checked_add(after),
        None => wall.checked_sub(anchor.saturating_duration_since(instant)),
    };
    at.and_then(|at| at.duration_since(sent).ok())
        .map_or(0, |delay| {
            u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX)
        })
}
