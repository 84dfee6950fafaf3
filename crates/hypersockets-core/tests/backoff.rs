//! Reconnection strategies: exact exponential sequences, caps, overflow
//! safety, jitter bounds, attempt limits, fixed intervals and never.

use std::time::Duration;

use hypersockets_core::{
    ExponentialBackoff, FixedInterval, HyperSocketError, MAX_RETRY_AFTER, NeverReconnect,
    ReconnectionStrategy,
};
use proptest::prelude::*;

const MS: fn(u64) -> Duration = Duration::from_millis;
const SECS: fn(u64) -> Duration = Duration::from_secs;

fn no_jitter() -> ExponentialBackoff {
    ExponentialBackoff::default()
        .jitter(0.0)
        .first_retry_jitter(Duration::ZERO)
}

fn delays(
    strategy: &impl ReconnectionStrategy,
    attempts: std::ops::RangeInclusive<u32>,
) -> Vec<Option<Duration>> {
    attempts.map(|attempt| strategy.delay(attempt)).collect()
}

#[test]
fn defaults() {
    let backoff = ExponentialBackoff::default();
    assert_eq!(backoff.initial, MS(500));
    assert_eq!(backoff.factor, 2.0);
    assert_eq!(backoff.max, SECS(30));
    assert_eq!(backoff.jitter, 0.2);
    assert_eq!(backoff.max_attempts, None);
    assert!(backoff.immediate_first);
    assert_eq!(backoff.first_retry_jitter, MS(500));
}

/// The first retry after a drop is spread over `first_retry_jitter`, so
/// that the clients of one server do not all come back at once.
#[test]
fn first_retries_are_spread_over_their_window() {
    let backoff = ExponentialBackoff::default();
    let delays: Vec<Duration> = (0..100).map(|_| backoff.delay(1).unwrap()).collect();
    assert!(delays.iter().all(|delay| *delay <= MS(500)), "{delays:?}");
    // Spread: the 100 values fill the window, with no big gap. A uniform
    // draw leaves a quarter of the window empty with probability below
    // 4 × 0.75^100 ≈ 1e-12.
    let mut sorted = delays.clone();
    sorted.sort();
    let quarters: std::collections::HashSet<u128> =
        sorted.iter().map(|delay| delay.as_millis() / 125).collect();
    assert!(
        (0..4).all(|quarter| quarters.contains(&quarter)),
        "{sorted:?}"
    );
    let distinct: std::collections::HashSet<&Duration> = delays.iter().collect();
    assert!(distinct.len() > 90, "{sorted:?}");
    // The window is capped by `max`, and zero is a truly immediate retry.
    let capped = ExponentialBackoff::default().max(MS(10));
    assert!((0..100).all(|_| capped.delay(1).unwrap() <= MS(10)));
    let immediate = ExponentialBackoff::default().first_retry_jitter(Duration::ZERO);
    assert_eq!(immediate.delay(1), Some(Duration::ZERO));
    // Without an immediate first retry, attempt 1 is `initial`, jittered.
    let later = ExponentialBackoff::default().immediate_first(false);
    let delay = later.delay(1).unwrap();
    assert!(delay <= MS(500) && delay >= MS(400), "{delay:?}");
}

#[test]
fn retry_after_lengthens_the_delay_up_to_a_cap() {
    let busy = |after| HyperSocketError::Handshake {
        status: Some(429),
        retry_after: Some(after),
        source: None,
    };
    let fixed = FixedInterval::new(SECS(2));
    assert_eq!(fixed.delay_after(1, None), Some(SECS(2)));
    assert_eq!(fixed.delay_after(1, Some(&busy(SECS(1)))), Some(SECS(2)));
    assert_eq!(fixed.delay_after(1, Some(&busy(SECS(5)))), Some(SECS(5)));
    assert_eq!(
        fixed.delay_after(1, Some(&busy(Duration::MAX))),
        Some(MAX_RETRY_AFTER)
    );
    assert_eq!(
        fixed.delay_after(1, Some(&HyperSocketError::ConnectionClosed)),
        Some(SECS(2))
    );
    // Giving up wins over a Retry-After.
    assert_eq!(NeverReconnect.delay_after(1, Some(&busy(SECS(1)))), None);
    // The immediate first retry waits for the server too.
    let delay = ExponentialBackoff::default()
        .delay_after(1, Some(&busy(SECS(1))))
        .unwrap();
    assert_eq!(delay, SECS(1));
}

#[test]
fn exact_sequence_with_immediate_first() {
    let backoff = no_jitter();
    let expected: Vec<_> = [
        0, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000,
    ]
    .into_iter()
    .map(|ms| Some(MS(ms)))
    .collect();
    assert_eq!(delays(&backoff, 1..=10), expected);
}

#[test]
fn exact_sequence_without_immediate_first() {
    let backoff = no_jitter().immediate_first(false);
    let expected: Vec<_> = [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]
        .into_iter()
        .map(|ms| Some(MS(ms)))
        .collect();
    assert_eq!(delays(&backoff, 1..=8), expected);
}

#[test]
fn attempt_zero_is_treated_like_the_first() {
    assert_eq!(no_jitter().delay(0), Some(Duration::ZERO));
    assert_eq!(no_jitter().immediate_first(false).delay(0), Some(MS(500)));
}

#[test]
fn custom_initial_factor_and_max() {
    let backoff = no_jitter()
        .initial(SECS(1))
        .factor(3.0)
        .max(SECS(60))
        .immediate_first(false);
    let expected: Vec<_> = [1, 3, 9, 27, 60, 60]
        .into_iter()
        .map(|s| Some(SECS(s)))
        .collect();
    assert_eq!(delays(&backoff, 1..=6), expected);
    assert_eq!(backoff.base_delay(4), SECS(27));
}

#[test]
fn delays_are_capped_at_max() {
    let backoff = no_jitter().max(MS(1_500));
    for attempt in 1..200 {
        assert!(backoff.delay(attempt).unwrap() <= MS(1_500), "{attempt}");
    }
    assert_eq!(backoff.delay(4), Some(MS(1_500)));
    // A max below the initial delay caps the initial delay too.
    let backoff = no_jitter().initial(SECS(10)).max(SECS(1));
    assert_eq!(backoff.delay(1), Some(Duration::ZERO));
    assert_eq!(backoff.delay(2), Some(SECS(1)));
}

#[test]
fn huge_attempt_numbers_do_not_overflow() {
    for immediate in [true, false] {
        let backoff = no_jitter().immediate_first(immediate);
        for attempt in [
            31,
            32,
            33,
            63,
            64,
            65,
            1_000,
            1 << 20,
            u32::MAX - 1,
            u32::MAX,
        ] {
            assert_eq!(backoff.delay(attempt), Some(SECS(30)), "{attempt}");
            assert_eq!(backoff.base_delay(attempt), SECS(30), "{attempt}");
        }
        // With the default jitter as well.
        let jittered = ExponentialBackoff::default().immediate_first(immediate);
        let delay = jittered.delay(u32::MAX).unwrap();
        assert!(delay <= SECS(30) && delay >= SECS(24), "{delay:?}");
    }
}

#[test]
fn extreme_durations_do_not_panic() {
    let backoff = no_jitter().initial(Duration::MAX).max(Duration::MAX);
    for attempt in [1, 2, 3, 100, u32::MAX] {
        let _ = backoff.delay(attempt);
        let _ = backoff.base_delay(attempt);
    }
    let backoff = ExponentialBackoff::default()
        .initial(Duration::MAX)
        .max(Duration::MAX)
        .jitter(1.0);
    for attempt in [1, 2, 3, 100, u32::MAX] {
        let _ = backoff.delay(attempt);
    }
    let backoff = no_jitter().initial(Duration::ZERO).factor(f64::MAX);
    for attempt in [1, 2, 3, 100, u32::MAX] {
        assert_eq!(backoff.delay(attempt), Some(Duration::ZERO));
    }
}

#[test]
fn a_zero_initial_delay_stays_zero() {
    // Regression: 0 × factor^huge used to be NaN and jumped to `max`.
    let backoff = no_jitter().initial(Duration::ZERO);
    for attempt in [1, 2, 3, 1_000, 1_100, u32::MAX] {
        assert_eq!(backoff.delay(attempt), Some(Duration::ZERO), "{attempt}");
    }
}

#[test]
fn a_max_of_duration_max_means_no_cap() {
    let backoff = no_jitter().max(Duration::MAX);
    assert_eq!(backoff.delay(2), Some(MS(500)));
    assert_eq!(backoff.delay(12), Some(SECS(512)));
    // Regression: a delay at the limit used to panic in `Duration::mul_f64`.
    assert_eq!(backoff.delay(u32::MAX), Some(Duration::MAX));
    let jittered = ExponentialBackoff::default().max(Duration::MAX);
    assert!(jittered.delay(u32::MAX).unwrap() <= Duration::MAX);
}

#[test]
fn factor_below_one_or_nan_is_taken_as_one() {
    for factor in [0.5, 0.0, -2.0, 1.0, f64::NAN, f64::NEG_INFINITY] {
        let backoff = no_jitter().factor(factor);
        assert_eq!(backoff.delay(1), Some(Duration::ZERO), "{factor}");
        for attempt in [2, 3, 10, 1_000, u32::MAX] {
            assert_eq!(backoff.delay(attempt), Some(MS(500)), "{factor} {attempt}");
        }
    }
}

#[test]
fn infinite_factor_stays_between_initial_and_max() {
    let backoff = no_jitter().factor(f64::INFINITY);
    for attempt in [2, 3, 10, u32::MAX] {
        let delay = backoff.delay(attempt).unwrap();
        assert!(
            delay >= MS(500) && delay <= SECS(30),
            "{attempt}: {delay:?}"
        );
    }
}

#[test]
fn out_of_range_jitter_is_clamped() {
    // Negative and NaN jitter mean none.
    for jitter in [-0.5, -1e9, f64::NAN, f64::NEG_INFINITY] {
        let backoff = ExponentialBackoff::default()
            .jitter(jitter)
            .first_retry_jitter(Duration::ZERO);
        for attempt in 1..12 {
            assert_eq!(
                backoff.delay(attempt),
                Some(backoff.base_delay(attempt)),
                "{jitter}"
            );
        }
    }
    // Above 1.0 is taken as 1.0: anywhere from zero to the base delay.
    for jitter in [1.5, 1e9, f64::INFINITY] {
        let backoff = ExponentialBackoff::default()
            .jitter(jitter)
            .first_retry_jitter(Duration::ZERO);
        for attempt in 1..12 {
            assert!(
                backoff.delay(attempt).unwrap() <= backoff.base_delay(attempt),
                "{jitter}"
            );
        }
    }
}

#[test]
fn jitter_actually_varies_the_delay() {
    let backoff = ExponentialBackoff::default().jitter(1.0);
    let samples: Vec<_> = (0..64).map(|_| backoff.delay(5).unwrap()).collect();
    assert!(
        samples.iter().any(|d| *d != samples[0]),
        "64 jittered delays were all {:?}",
        samples[0]
    );
}

#[test]
fn max_attempts_gives_none_after() {
    let backoff = no_jitter().max_attempts(3);
    assert_eq!(
        delays(&backoff, 1..=5),
        [
            Some(Duration::ZERO),
            Some(MS(500)),
            Some(SECS(1)),
            None,
            None
        ]
    );
    assert_eq!(backoff.delay(u32::MAX), None);

    let backoff = no_jitter().max_attempts(0);
    assert_eq!(backoff.delay(1), None);

    let backoff = no_jitter().max_attempts(u32::MAX);
    assert_eq!(backoff.delay(u32::MAX), Some(SECS(30)));
}

#[test]
fn fixed_interval() {
    let fixed = FixedInterval::new(MS(250));
    for attempt in [0, 1, 2, 100, u32::MAX] {
        assert_eq!(fixed.delay(attempt), Some(MS(250)));
    }
    assert_eq!(FixedInterval::default().delay(1), Some(SECS(1)));
    assert_eq!(FixedInterval::default(), FixedInterval::new(SECS(1)));

    let limited = FixedInterval::new(MS(250)).max_attempts(2);
    assert_eq!(
        delays(&limited, 1..=4),
        [Some(MS(250)), Some(MS(250)), None, None]
    );
    assert_eq!(limited.max_attempts, Some(2));
    assert_eq!(FixedInterval::new(MS(1)).max_attempts(0).delay(1), None);
}

#[test]
fn never_reconnect() {
    for attempt in [0, 1, 2, u32::MAX] {
        assert_eq!(NeverReconnect.delay(attempt), None);
    }
}

#[test]
fn strategies_work_as_trait_objects() {
    let strategies: Vec<Box<dyn ReconnectionStrategy>> = vec![
        Box::new(no_jitter()),
        Box::new(FixedInterval::new(MS(5))),
        Box::new(NeverReconnect),
    ];
    let first: Vec<_> = strategies.iter().map(|s| s.delay(2)).collect();
    assert_eq!(first, [Some(MS(500)), Some(MS(5)), None]);
}

/// One microsecond of slack for float rounding in `Duration::mul_f64`.
const SLACK: Duration = Duration::from_micros(1);

proptest! {
    #[test]
    fn jittered_delay_stays_within_bounds(
        attempt in prop_oneof![1u32..40, any::<u32>()],
        jitter in 0.0f64..=1.0,
        initial_ms in 0u64..5_000,
        factor in 1.0f64..4.0,
        immediate in any::<bool>(),
    ) {
        let backoff = ExponentialBackoff::default()
            .initial(MS(initial_ms))
            .factor(factor)
            .jitter(jitter)
            .immediate_first(immediate)
            .first_retry_jitter(Duration::ZERO);
        let base = backoff.base_delay(attempt);
        prop_assert!(base <= backoff.max);
        let low = base.mul_f64(1.0 - jitter);
        for _ in 0..8 {
            let delay = backoff.delay(attempt).unwrap();
            prop_assert!(delay <= base + SLACK, "{delay:?} above {base:?}");
            prop_assert!(delay + SLACK >= low, "{delay:?} below {low:?}");
        }
    }

    #[test]
    fn zero_jitter_is_exactly_the_base_delay(attempt in any::<u32>(), immediate in any::<bool>()) {
        let backoff = no_jitter().immediate_first(immediate);
        prop_assert_eq!(backoff.delay(attempt), Some(backoff.base_delay(attempt)));
    }

    #[test]
    fn base_delay_never_decreases(attempt in 1u32..10_000, factor in 1.0f64..10.0) {
        let backoff = no_jitter().factor(factor);
        prop_assert!(backoff.base_delay(attempt) <= backoff.base_delay(attempt + 1));
    }
}
