//! The uncertainty behind every comparison: seeded bootstrap intervals on per-example
//! losses and accuracies, Wilson intervals on agreement rates, binomial tails.
//!
//! Two models scored on the same rows are compared row by row (a paired bootstrap: the
//! rows are resampled once for both); two sets of rows (training and validation) are
//! resampled independently. Each interval is the 2.5th and 97.5th percentile of
//! [`BOOTSTRAP_RESAMPLES`] resampled means, drawn from `ChaCha8Rng` with the caller's seed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Resamples per interval. 1000 puts the 2.5% percentile's own noise at about a tenth of
/// the interval's half-width, well below the margins the rules compare.
pub const BOOTSTRAP_RESAMPLES: usize = 1000;

/// An estimate with a 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// The point estimate (the mean over all rows, or the observed rate).
    pub estimate: f64,
    /// Lower end of the 95% interval.
    pub low: f64,
    /// Upper end of the 95% interval.
    pub high: f64,
}

impl Interval {
    /// A degenerate interval (a number known exactly).
    pub fn exact(value: f64) -> Self {
        Interval {
            estimate: value,
            low: value,
            high: value,
        }
    }

    /// The interval lies above `threshold` (the difference is significant and larger).
    pub fn above(&self, threshold: f64) -> bool {
        self.low > threshold
    }

    /// The interval lies below `threshold`.
    pub fn below(&self, threshold: f64) -> bool {
        self.high < threshold
    }

    /// The interval times `factor` (for changes of units).
    pub fn scaled(&self, factor: f64) -> Self {
        let (a, b) = (self.low * factor, self.high * factor);
        Interval {
            estimate: self.estimate * factor,
            low: a.min(b),
            high: a.max(b),
        }
    }
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.4} [{:.4}, {:.4}]",
            self.estimate, self.low, self.high
        )
    }
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

/// The 2.5th and 97.5th percentiles of `draws` around `estimate`.
fn percentile_interval(estimate: f64, mut draws: Vec<f64>) -> Interval {
    draws.sort_by(f64::total_cmp);
    let at = |q: f64| draws[((q * (draws.len() - 1) as f64).round() as usize).min(draws.len() - 1)];
    Interval {
        estimate,
        low: at(0.025),
        high: at(0.975),
    }
}

/// The mean of one resample (with replacement) of `values`.
fn resampled_mean(values: &[f64], rng: &mut ChaCha8Rng) -> f64 {
    let n = values.len();
    let mut total = 0.0;
    for _ in 0..n {
        total += values[rng.random_range(0..n)];
    }
    total / n as f64
}

/// The mean of `values` with its bootstrap interval.
pub(crate) fn mean_interval(values: &[f64], seed: u64) -> Interval {
    if values.len() < 2 {
        return Interval::exact(mean(values));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let draws = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| resampled_mean(values, &mut rng))
        .collect();
    percentile_interval(mean(values), draws)
}

/// `mean(a - b)` over the same rows, with a paired bootstrap interval.
pub(crate) fn paired_difference(a: &[f64], b: &[f64], seed: u64) -> Interval {
    debug_assert_eq!(a.len(), b.len());
    let differences: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    mean_interval(&differences, seed)
}

/// `mean(a) - mean(b)` over two sets of rows, each resampled on its own.
pub(crate) fn independent_difference(a: &[f64], b: &[f64], seed: u64) -> Interval {
    let estimate = mean(a) - mean(b);
    if a.len() < 2 || b.len() < 2 {
        return Interval::exact(estimate);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let draws = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| resampled_mean(a, &mut rng) - resampled_mean(b, &mut rng))
        .collect();
    percentile_interval(estimate, draws)
}

/// The Wilson score interval (95%) of `successes` out of `n`: unlike the normal
/// approximation it stays inside [0, 1] and is honest at 5 out of 5.
///
/// ```
/// let interval = unstuck::diagnose::wilson(5, 5);
/// assert_eq!(interval.estimate, 1.0);
/// assert!((interval.low - 0.5655).abs() < 1e-4 && interval.high == 1.0);
/// ```
pub fn wilson(successes: usize, n: usize) -> Interval {
    if n == 0 {
        return Interval {
            estimate: 0.0,
            low: 0.0,
            high: 1.0,
        };
    }
    let z = 1.959_963_984_540_054;
    let (k, n) = (successes as f64, n as f64);
    let p = k / n;
    let denominator = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denominator;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denominator;
    Interval {
        estimate: p,
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    }
}

/// `P(X >= k)` for `X ~ Binomial(m, p)`, summed in log space (no overflow at any `m`).
pub(crate) fn binomial_upper_tail(m: usize, k: usize, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > m || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let (ln_p, ln_q) = (p.ln(), (1.0 - p).ln());
    // ln C(m, j) by the recurrence C(m, j+1) = C(m, j) (m - j) / (j + 1).
    let mut log_choose = 0.0f64;
    let mut terms = Vec::with_capacity(m + 1 - k);
    for j in 0..=m {
        if j >= k {
            terms.push(log_choose + j as f64 * ln_p + (m - j) as f64 * ln_q);
        }
        if j < m {
            log_choose += ((m - j) as f64).ln() - ((j + 1) as f64).ln();
        }
    }
    let peak = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = terms.iter().map(|t| (t - peak).exp()).sum();
    (peak + sum.ln()).exp().min(1.0)
}

/// The power of the one-sided binomial test of `p = p0` at level `alpha` on `m` trials
/// against the alternative `p = p1`: the chance that a real effect of that size is seen.
pub(crate) fn binomial_power(m: usize, p0: f64, p1: f64, alpha: f64) -> f64 {
    let critical = (0..=m + 1)
        .find(|&k| binomial_upper_tail(m, k, p0) <= alpha)
        .unwrap_or(m + 1);
    binomial_upper_tail(m, critical, p1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_tail_matches_small_cases_exactly() {
        // m = 4, p = 1/2: P(X >= 3) = 5/16; a handful of exp/ln round trips: 1e-14.
        assert!((binomial_upper_tail(4, 3, 0.5) - 5.0 / 16.0).abs() < 1e-14);
        assert!((binomial_upper_tail(4, 4, 0.5) - 1.0 / 16.0).abs() < 1e-14);
        // p = 0.1, m = 3: P(X >= 2) = 3 * 0.01 * 0.9 + 0.001 = 0.028.
        assert!((binomial_upper_tail(3, 2, 0.1) - 0.028).abs() < 1e-14);
        assert_eq!(binomial_upper_tail(4, 0, 0.5), 1.0);
        assert_eq!(binomial_upper_tail(4, 5, 0.5), 0.0);
        let tail = binomial_upper_tail(1000, 700, 0.5);
        assert!(tail > 0.0 && tail < 1e-30, "{tail}");
    }

    #[test]
    fn power_grows_with_the_sample() {
        // 10 rows a side cannot see 60% accuracy at alpha 1e-3; 2000 can.
        assert!(binomial_power(10, 0.5, 0.6, 1e-3) < 0.05);
        assert!(binomial_power(2000, 0.5, 0.6, 1e-3) > 0.99);
    }

    #[test]
    fn intervals_cover_the_truth_and_are_seeded() {
        let a: Vec<f64> = (0..400).map(|i| (i % 7) as f64).collect();
        let b: Vec<f64> = a.iter().map(|x| x + 1.0).collect();
        let same = paired_difference(&b, &a, 1);
        // A constant difference: the paired interval is that number exactly.
        assert_eq!((same.low, same.high), (1.0, 1.0));
        let independent = independent_difference(&b, &a, 1);
        assert!(
            independent.low < 1.0 && independent.high > 1.0,
            "{independent}"
        );
        assert!(independent.low > 0.5, "{independent}");
        assert_eq!(independent, independent_difference(&b, &a, 1));
        assert_ne!(independent, independent_difference(&b, &a, 2));
        let w = wilson(0, 5);
        assert!(w.low == 0.0 && (w.high - 0.4345).abs() < 1e-4, "{w}");
    }
}
