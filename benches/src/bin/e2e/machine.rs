//! How quiet the machine is: the load average, and a stall probe that
//! shows how much CPU time a busy thread actually gets. On a shared virtual
//! machine a vCPU can be descheduled for milliseconds at a time; that sets
//! the floor of every latency tail the bench measures, so it is reported
//! next to the figures.

use std::time::{Duration, Instant};

pub(crate) use hypersockets_bench::procfs::load_average;

/// What a busy thread lost to stalls over the probe.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stalls {
    /// Share of the probe's time spent in gaps longer than the threshold.
    pub(crate) lost: f64,
    /// How many such gaps.
    pub(crate) count: u32,
    /// The longest gap.
    pub(crate) longest: Duration,
}

impl std::fmt::Display for Stalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a busy thread lost {:.1} % of its time to {} stalls over 100 µs (longest {:.1} ms)",
            self.lost * 100.0,
            self.count,
            self.longest.as_secs_f64() * 1e3
        )
    }
}

/// Spins for `duration` reading the clock, and adds up every gap between
/// two reads longer than 100 µs (the thread was not running).
pub(crate) fn probe_stalls(duration: Duration) -> Stalls {
    let threshold = Duration::from_micros(100);
    let start = Instant::now();
    let mut last = start;
    let mut stalls = Stalls::default();
    let mut lost = Duration::ZERO;
    loop {
        let now = Instant::now();
        let gap = now - last;
        if gap > threshold {
            stalls.count += 1;
            lost += gap;
            stalls.longest = stalls.longest.max(gap);
        }
        last = now;
        if now - start >= duration {
            break;
        }
    }
    stalls.lost = lost.as_secs_f64() / duration.as_secs_f64();
    stalls
}

/// How late a sleeping thread wakes: the overshoot of `sleep(100 µs)`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Wakeups {
    /// Median overshoot.
    pub(crate) p50: Duration,
    /// 99th percentile.
    pub(crate) p99: Duration,
    /// 99.9th percentile.
    pub(crate) p999: Duration,
}

impl std::fmt::Display for Wakeups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        write!(
            f,
            "a sleeping thread wakes {:.0} µs late (median), {:.0} µs (p99), {:.0} µs (p99.9)",
            us(self.p50),
            us(self.p99),
            us(self.p999)
        )
    }
}

/// Sleeps 100 µs `rounds` times and measures how late each wake-up is: the
/// floor under any latency that involves a thread waking up (a parked lane,
/// a reader waiting on its socket).
pub(crate) fn probe_wakeups(rounds: usize) -> Wakeups {
    let nap = Duration::from_micros(100);
    let mut late: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            std::thread::sleep(nap);
            start.elapsed().saturating_sub(nap)
        })
        .collect();
    late.sort_unstable();
    let at =
        |q: f64| late.get(((q * late.len() as f64) as usize).min(late.len().saturating_sub(1)));
    Wakeups {
        p50: at(0.5).copied().unwrap_or_default(),
        p99: at(0.99).copied().unwrap_or_default(),
        p999: at(0.999).copied().unwrap_or_default(),
    }
}
