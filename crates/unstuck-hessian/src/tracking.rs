//! `λ_max` and the trace from one Krylov space: a point of a curvature curve drawn during
//! training, at the price of a few Hessian-vector products.

use crate::error::HessianError;
use crate::lanczos::{EigenPair, LanczosConfig, SpectrumEnd, check_start, finish, iterate};
use crate::operator::HvpOperator;
use crate::trace::{TraceConfig, TraceEstimate, deflated_hutchinson};
use crate::vector::{gaussian, rng};

/// Settings of [`track_curvature`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackingConfig {
    /// At most this many Lanczos steps (Hessian-vector products).
    pub max_iter: usize,
    /// Lanczos stops once the top Ritz pair's residual is at most `tol · ‖T‖` (see
    /// [`LanczosConfig::tol`]); the Ritz value then lies below `λ_max` by at most the
    /// residual, and by about `residual² / gap` once the top eigenvalue is isolated.
    pub tol: f64,
    /// Rademacher probes for the trace on top of the Lanczos basis; 0 leaves the trace
    /// out, and 1 is refused (no error bar).
    pub probes: usize,
    /// Seeds the cold start and restarts (stream 0) and the probes (stream 1).
    pub seed: u64,
}

/// What [`track_curvature`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct CurvatureSnapshot {
    /// The top Ritz pair: `λ_max` from below, its unit vector (the next warm start) and
    /// its residual bound.
    pub top: EigenPair,
    /// Lanczos steps used (each one Hessian-vector product).
    pub lanczos_steps: usize,
    /// Whether the top pair met the tolerance within `max_iter`.
    pub converged: bool,
    /// The trace, `tr(T)` of the Lanczos basis plus Hutchinson on the rest.
    pub trace: Option<TraceEstimate>,
}

/// `λ_max` by Lanczos (warm-started from `start` when given, else from a seeded Gaussian
/// vector) and, with `probes ≥ 2`, the trace, sharing the Lanczos basis `Q`.
///
/// The trace is `tr(Qᵀ H Q) + tr(P H P)` with `P = I - QQᵀ`: the first term is `tr(T)`,
/// the sum of the Lanczos coefficients `α`, exact and free; the second is Hutchinson's
/// estimate from projected Rademacher probes. A Krylov space holds the directions of the
/// largest eigenvalues first, and those carry most of Hutchinson's variance on a Hessian
/// (a few outliers over a bulk near zero), so the same error bar needs fewer probes than
/// plain [`crate::hutchinson_trace`]. The estimate is unbiased (the probes are drawn from
/// a stream of the seed independent of the Lanczos start), and `std_error` is that of
/// the probes' mean. Cost: `lanczos_steps + probes` Hessian-vector products.
///
/// # Example
/// ```
/// use unstuck_hessian::{DenseOperator, TrackingConfig, track_curvature};
/// let op = DenseOperator::from_fn(40, |i, j| if i == j { 1.0 + i as f64 / 8.0 } else { 0.0 })?;
/// let config = TrackingConfig { max_iter: 40, tol: 1e-10, probes: 4, seed: 1 };
/// let snapshot = track_curvature(&op, config, None)?;
/// assert!((snapshot.top.value - 5.875).abs() < 1e-8);
/// // tr(H) = 40 + (0 + 1 + ... + 39) / 8 = 137.5, inside four standard errors.
/// let (lo, hi) = snapshot.trace.unwrap().interval(4.0);
/// assert!(lo <= 137.5 && 137.5 <= hi);
/// # Ok::<(), unstuck_hessian::HessianError>(())
/// ```
///
/// # Errors
/// [`HessianError::InvalidConfig`] for a `start` that is not a non-zero finite vector of
/// the operator's dimension, `probes == 1`, a non-positive `tol` or `max_iter == 0`; the
/// operator's own errors.
pub fn track_curvature<O: HvpOperator + ?Sized>(
    op: &O,
    config: TrackingConfig,
    start: Option<Vec<f64>>,
) -> Result<CurvatureSnapshot, HessianError> {
    let dim = op.dim();
    if dim == 0 {
        return Err(HessianError::EmptyOperator {
            op: "track_curvature",
        });
    }
    if config.probes == 1 {
        return Err(HessianError::InvalidConfig {
            field: "probes",
            reason: "one probe gives no error bar: use 0 (no trace) or at least 2".into(),
        });
    }
    let lanczos_config = LanczosConfig {
        k: 1,
        end: SpectrumEnd::Largest,
        max_iter: config.max_iter,
        tol: config.tol,
        seed: config.seed,
    };
    let mut rng = rng(config.seed);
    let start = match start {
        Some(start) => {
            check_start(dim, &start)?;
            start
        }
        None => gaussian(&mut rng, dim),
    };
    let process = iterate(op, lanczos_config, start, rng)?;
    let result = finish(&process, &lanczos_config)?;
    let trace = if config.probes >= 2 {
        let known_part: f64 = process.alpha.iter().sum();
        let trace_config = TraceConfig {
            n_hvp: config.probes,
            block: config.probes.min(16),
            seed: config.seed,
        };
        Some(deflated_hutchinson(
            op,
            process.basis(),
            known_part,
            trace_config,
        )?)
    } else {
        None
    };
    let top = result
        .largest
        .into_iter()
        .next()
        .expect("k = 1 gives one pair");
    Ok(CurvatureSnapshot {
        top,
        lanczos_steps: result.n_hvp,
        converged: result.converged,
        trace,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::DenseOperator;
    use crate::trace::hutchinson_trace;

    /// Three outliers over a bulk of small eigenvalues of both signs, rotated by a fixed
    /// orthogonal-ish coupling so the diagonal does not give the trace away.
    fn hessian_like(n: usize) -> (DenseOperator, f64) {
        let op = DenseOperator::from_fn(n, |i, j| {
            let outlier = |k: usize| (((i + 1) * (k + 3)) % 7) as f64 - 3.0;
            let outer = |k: usize| {
                let (a, b) = (
                    outlier(k) / 4.0,
                    {
                        let i = j;
                        (((i + 1) * (k + 3)) % 7) as f64 - 3.0
                    } / 4.0,
                );
                [9.0, 5.0, 3.0][k] * a * b / (n as f64 / 8.0)
            };
            let bulk = if i == j {
                0.05 * ((i % 5) as f64 - 1.0)
            } else {
                0.0
            };
            outer(0) + outer(1) + outer(2) + bulk
        })
        .unwrap();
        let trace = (0..n).map(|i| op.data()[i * n + i]).sum();
        (op, trace)
    }

    #[test]
    fn the_deflated_trace_is_within_its_error_bar_and_tighter_than_plain_hutchinson() {
        let (op, exact) = hessian_like(120);
        let config = TrackingConfig {
            max_iter: 20,
            tol: 1e-6,
            probes: 8,
            seed: 3,
        };
        let snapshot = track_curvature(&op, config, None).unwrap();
        let trace = snapshot.trace.unwrap();
        // 4 standard errors: a 1-in-15,000 event for a normal mean; a biased estimator
        // (probes correlated with the basis, a wrong known part) lands far outside.
        let (lo, hi) = trace.interval(4.0);
        assert!(lo <= exact && exact <= hi, "{exact} outside [{lo}, {hi}]");
        let plain = hutchinson_trace(
            &op,
            TraceConfig {
                n_hvp: 8,
                block: 8,
                seed: 3,
            },
        )
        .unwrap();
        assert!(
            trace.std_error < 0.2 * plain.std_error,
            "deflated {} against plain {}",
            trace.std_error,
            plain.std_error
        );
    }

    #[test]
    fn the_top_pair_matches_lanczos_and_a_warm_start_saves_steps() {
        let (op, _) = hessian_like(120);
        let config = TrackingConfig {
            max_iter: 60,
            tol: 1e-8,
            probes: 0,
            seed: 5,
        };
        let cold = track_curvature(&op, config, None).unwrap();
        let want = crate::dense::full_hessian(&op)
            .unwrap()
            .eigenvalues()
            .unwrap();
        let top = want[want.len() - 1];
        assert!(cold.converged && cold.trace.is_none());
        assert!((cold.top.value - top).abs() < 1e-8 * top.abs());
        let warm = track_curvature(&op, config, Some(cold.top.vector.clone())).unwrap();
        assert!((warm.top.value - top).abs() < 1e-8 * top.abs());
        assert!(
            warm.lanczos_steps < cold.lanczos_steps,
            "warm {} against cold {}",
            warm.lanczos_steps,
            cold.lanczos_steps
        );
    }

    #[test]
    fn bad_settings_are_errors() {
        let (op, _) = hessian_like(10);
        let config = TrackingConfig {
            max_iter: 5,
            tol: 1e-6,
            probes: 1,
            seed: 0,
        };
        assert!(matches!(
            track_curvature(&op, config, None),
            Err(HessianError::InvalidConfig {
                field: "probes",
                ..
            })
        ));
        let config = TrackingConfig {
            probes: 2,
            ..config
        };
        assert!(matches!(
            track_curvature(&op, config, Some(vec![0.0; 10])),
            Err(HessianError::InvalidConfig { field: "start", .. })
        ));
        assert!(track_curvature(&op, config, Some(vec![1.0; 3])).is_err());
        assert!(track_curvature(&op, TrackingConfig { tol: 0.0, ..config }, None).is_err());
    }
}
