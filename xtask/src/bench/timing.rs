//! Timing one benchmark: warm up, calibrate an inner loop, then time repetitions.

use std::time::Instant;

/// Per-call times of one benchmark in seconds: median and interquartile range over the
/// timed repetitions (computed as the anchors' `_bench.py` does).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub iqr: f64,
}

impl Summary {
    pub fn from_samples(mut samples: Vec<f64>) -> Summary {
        samples.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let pos = q * (samples.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            samples[lo] + (samples[hi] - samples[lo]) * (pos - lo as f64)
        };
        Summary {
            median: at(0.5),
            iqr: at(0.75) - at(0.25),
        }
    }
}

/// How long to measure.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Timed repetitions (at least 7, as the anchors).
    pub reps: usize,
    /// About how long one repetition lasts, in seconds.
    pub rep_seconds: f64,
}

/// Times `f`: a few warm-up calls, an inner loop sized so that a repetition lasts about
/// `budget.rep_seconds`, then `budget.reps` repetitions.
pub fn measure(budget: Budget, mut f: impl FnMut()) -> Summary {
    let started = Instant::now();
    let mut warm = 0;
    while warm < 3 || (started.elapsed().as_secs_f64() < budget.rep_seconds / 2.0 && warm < 1000) {
        f();
        warm += 1;
    }
    let per_call = started.elapsed().as_secs_f64() / warm as f64;
    let inner = ((budget.rep_seconds / per_call.max(1e-9)) as usize).clamp(1, 100_000);
    let samples = (0..budget.reps)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..inner {
                f();
            }
            t.elapsed().as_secs_f64() / inner as f64
        })
        .collect();
    Summary::from_samples(samples)
}

/// Runs `f` on a rayon pool of `threads` threads (faer and our kernels use the current pool).
pub fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
        .install(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartiles_interpolate() {
        let s = Summary::from_samples(vec![4.0, 1.0, 3.0, 2.0, 5.0]);
        assert_eq!((s.median, s.iqr), (3.0, 2.0));
    }
}
