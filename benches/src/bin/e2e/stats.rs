//! Small statistics: median, min and max of run figures; percentiles of
//! latency samples.

/// Median, min and max of a list of figures.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Spread {
    /// The median (mean of the middle two for an even count).
    pub(crate) median: f64,
    /// The smallest.
    pub(crate) min: f64,
    /// The largest.
    pub(crate) max: f64,
}

impl Spread {
    /// The spread of `values`; all zero when empty.
    pub(crate) fn of(values: impl IntoIterator<Item = f64>) -> Self {
        let mut values: Vec<f64> = values.into_iter().collect();
        if values.is_empty() {
            return Self::default();
        }
        values.sort_by(f64::total_cmp);
        let mid = values.len() / 2;
        let median = if values.len().is_multiple_of(2) {
            (values[mid - 1] + values[mid]) / 2.0
        } else {
            values[mid]
        };
        Self {
            median,
            min: values[0],
            max: values[values.len() - 1],
        }
    }
}

/// Latency percentiles of one run, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Percentiles {
    /// Median.
    pub(crate) p50: u64,
    /// 90th percentile.
    pub(crate) p90: u64,
    /// 99th percentile.
    pub(crate) p99: u64,
    /// 99.9th percentile.
    pub(crate) p999: u64,
    /// The largest sample.
    pub(crate) max: u64,
    /// How many samples.
    pub(crate) samples: u64,
}

impl Percentiles {
    /// Percentiles of `samples` (nearest rank); sorts them.
    pub(crate) fn of(samples: &mut [u32]) -> Self {
        samples.sort_unstable();
        let rank = |q: f64| -> u64 {
            if samples.is_empty() {
                return 0;
            }
            let index = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1;
            u64::from(samples[index])
        };
        Self {
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            p999: rank(0.999),
            max: samples.last().map_or(0, |&max| u64::from(max)),
            samples: samples.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread() {
        let s = Spread::of([3.0, 1.0, 2.0, 10.0]);
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 10.0));
    }

    #[test]
    fn percentiles() {
        let mut samples: Vec<u32> = (1..=1000).rev().collect();
        let p = Percentiles::of(&mut samples);
        assert_eq!((p.p50, p.p90, p.p99, p.p999), (500, 900, 990, 999));
        assert_eq!(p.max, 1000);
    }
}
