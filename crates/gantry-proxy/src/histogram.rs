//! A fixed-size, log-linear latency histogram over microseconds, recorded with atomics.
//!
//! Values below 128 µs get a bucket each; above that every power of two is split into 64 equal
//! buckets, so a bucket is at most 1/64 (1.6 %) of its value wide and the midpoint we report is
//! within 0.8 % of any value in it. Values are clamped to `u32::MAX` µs (about 71 minutes), which
//! gives 1,728 buckets (14 KiB). Recording is one relaxed `fetch_add` on the bucket plus two on
//! the sum and maximum, so many request tasks can record into one histogram without a lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Buckets per power of two above the linear range.
const SUB_BUCKETS: u64 = 64;
/// The largest recorded value, in microseconds.
const MAX_MICROS: u64 = u32::MAX as u64;
const BUCKET_COUNT: usize = bucket_index(MAX_MICROS) + 1;

/// The bucket that holds `micros`.
const fn bucket_index(micros: u64) -> usize {
    if micros < 2 * SUB_BUCKETS {
        return micros as usize;
    }
    // The value's top seven bits select the bucket: `micros >> shift` lies in 64..128.
    let shift = 63 - micros.leading_zeros() as u64 - 6;
    (SUB_BUCKETS * (shift + 1) + ((micros >> shift) - SUB_BUCKETS)) as usize
}

/// The smallest and largest value in bucket `index`.
const fn bucket_bounds(index: usize) -> (u64, u64) {
    let index = index as u64;
    if index < 2 * SUB_BUCKETS {
        return (index, index);
    }
    let shift = index / SUB_BUCKETS - 1;
    let top_bits = index % SUB_BUCKETS + SUB_BUCKETS;
    (top_bits << shift, ((top_bits + 1) << shift) - 1)
}

/// A concurrent latency histogram; see the module documentation for its accuracy.
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    sum_micros: AtomicU64,
    max_micros: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram").finish_non_exhaustive()
    }
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self {
            buckets: (0..BUCKET_COUNT).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            max_micros: AtomicU64::new(0),
        }
    }

    /// Records one latency.
    pub fn record(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .min(MAX_MICROS);
        self.buckets[bucket_index(micros)].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        // Most latencies are below the maximum: reading first keeps the line shared between cores.
        if micros > self.max_micros.load(Ordering::Relaxed) {
            self.max_micros.fetch_max(micros, Ordering::Relaxed);
        }
    }

    /// The distribution recorded so far.
    pub fn snapshot(&self) -> Latencies {
        self.read(|cell| cell.load(Ordering::Relaxed))
    }

    /// The distribution recorded so far, leaving the histogram empty. A latency recorded while this
    /// runs lands in either this snapshot or the next one, never in both and never in neither.
    pub fn take(&self) -> Latencies {
        self.read(|cell| cell.swap(0, Ordering::Relaxed))
    }

    fn read(&self, read_cell: impl Fn(&AtomicU64) -> u64) -> Latencies {
        let counts: Vec<u64> = self.buckets.iter().map(&read_cell).collect();
        let sum_micros = read_cell(&self.sum_micros);
        let max_micros = read_cell(&self.max_micros);
        Latencies::from_bucket_counts(&counts, sum_micros, max_micros)
    }
}

/// A summary of a latency distribution: count, mean, maximum and the percentiles the analysis
/// needs. All zero when nothing was recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Latencies {
    /// How many latencies were recorded.
    pub count: u64,
    pub mean: Duration,
    pub max: Duration,
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
}

impl Latencies {
    fn from_bucket_counts(counts: &[u64], sum_micros: u64, max_micros: u64) -> Self {
        let count: u64 = counts.iter().sum();
        if count == 0 {
            return Self::default();
        }
        let percentile = |quantile: f64| {
            // The smallest value with at least `quantile` of the recordings at or below it.
            let rank = ((quantile * count as f64).ceil() as u64).clamp(1, count);
            let mut seen = 0;
            for (index, &in_bucket) in counts.iter().enumerate() {
                seen += in_bucket;
                if seen >= rank {
                    let (low, high) = bucket_bounds(index);
                    let middle = low + (high - low) / 2;
                    return Duration::from_micros(middle.min(max_micros.max(low)));
                }
            }
            Duration::from_micros(max_micros)
        };
        Self {
            count,
            mean: Duration::from_micros(sum_micros / count),
            max: Duration::from_micros(max_micros),
            p50: percentile(0.50),
            p95: percentile(0.95),
            p99: percentile(0.99),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_falls_inside_its_own_bucket_and_buckets_are_contiguous() {
        let mut previous_high = None;
        for index in 0..BUCKET_COUNT {
            let (low, high) = bucket_bounds(index);
            assert!(low <= high);
            assert_eq!(bucket_index(low), index, "low end of bucket {index}");
            assert_eq!(bucket_index(high), index, "high end of bucket {index}");
            if let Some(previous_high) = previous_high {
                assert_eq!(low, previous_high + 1, "gap before bucket {index}");
            }
            previous_high = Some(high);
        }
        assert_eq!(previous_high, Some(MAX_MICROS));
    }

    #[test]
    fn a_bucket_is_never_wider_than_one_sixty_fourth_of_its_values() {
        for index in 2 * SUB_BUCKETS as usize..BUCKET_COUNT {
            let (low, high) = bucket_bounds(index);
            assert!(
                (high - low + 1) * SUB_BUCKETS <= low,
                "bucket {index}: {low}..={high}"
            );
        }
    }

    /// Exact percentile of `values` (sorted) by the same nearest-rank definition.
    fn exact(values: &[u64], quantile: f64) -> u64 {
        let rank = ((quantile * values.len() as f64).ceil() as usize).clamp(1, values.len());
        values[rank - 1]
    }

    #[test]
    fn percentiles_are_within_one_percent_of_the_exact_values() {
        let cases: [(&str, Vec<u64>); 5] = [
            ("uniform 1..=10 000 µs", (1..=10_000).collect()),
            ("uniform 1..=100 µs (exact range)", (1..=100).collect()),
            ("squares up to 4 s", (1..=2_000u64).map(|n| n * n).collect()),
            (
                "geometric up to 60 s",
                (0..2_000)
                    .map(|n| (1.01f64.powi(n) * 50.0) as u64 % 60_000_000)
                    .collect(),
            ),
            (
                "one slow outlier among fast",
                (0..1_000)
                    .map(|n| if n == 999 { 3_000_000 } else { 800 + n % 7 })
                    .collect(),
            ),
        ];
        for (name, mut values) in cases {
            let histogram = Histogram::new();
            for &value in &values {
                histogram.record(Duration::from_micros(value));
            }
            values.sort_unstable();
            let latencies = histogram.snapshot();
            assert_eq!(latencies.count, values.len() as u64, "{name}");
            assert_eq!(
                latencies.max,
                Duration::from_micros(*values.last().unwrap()),
                "{name}"
            );
            for (quantile, measured) in [
                (0.50, latencies.p50),
                (0.95, latencies.p95),
                (0.99, latencies.p99),
            ] {
                let expected = exact(&values, quantile) as f64;
                let measured = measured.as_micros() as f64;
                let error = (measured - expected).abs() / expected.max(1.0);
                assert!(
                    error <= 0.01,
                    "{name}: p{quantile} measured {measured} µs, exact {expected} µs"
                );
            }
        }
    }

    #[test]
    fn taking_a_window_empties_the_histogram() {
        let histogram = Histogram::new();
        histogram.record(Duration::from_millis(3));
        histogram.record(Duration::from_millis(5));
        let window = histogram.take();
        assert_eq!(window.count, 2);
        assert_eq!(window.mean, Duration::from_millis(4));
        assert_eq!(histogram.snapshot(), Latencies::default());
    }

    #[test]
    fn latencies_beyond_the_range_are_clamped_not_lost() {
        let histogram = Histogram::new();
        histogram.record(Duration::from_secs(10 * 3600));
        let latencies = histogram.snapshot();
        assert_eq!(latencies.count, 1);
        assert_eq!(latencies.max, Duration::from_micros(MAX_MICROS));
    }
}
