//! A compact timestamp for sampled messages: nanoseconds since a process
//! epoch in a `u64` (8 bytes in every envelope instead of an
//! `Option<Instant>`'s 16), with 0 meaning "not timed".

use std::sync::OnceLock;
use std::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since the epoch, never 0.
#[inline]
pub(crate) fn now_ns() -> u64 {
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_nanos())
        .unwrap_or(u64::MAX - 1)
        .saturating_add(1)
}
