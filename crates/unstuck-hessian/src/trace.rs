//! Stochastic trace estimation: Hutchinson and Hutch++.

use crate::error::HessianError;
use crate::operator::{HvpOperator, apply_checked};
use crate::vector::{
    dot, gaussian, norm, orthogonalize, project_out, rademacher, rng, rng_stream, scale,
};

/// Settings for [`hutchinson_trace`] and [`hutch_plus_plus_trace`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceConfig {
    /// HVP budget: the number of probes for Hutchinson; for Hutch++ it is split in thirds.
    pub n_hvp: usize,
    /// Probes per operator call (a batched HVP is cheaper per vector).
    pub block: usize,
    /// Seed of the Rademacher probes.
    pub seed: u64,
}

impl Default for TraceConfig {
    fn default() -> Self {
        Self {
            n_hvp: 99,
            block: 33,
            seed: 0,
        }
    }
}

/// A trace estimate with its standard error.
///
/// `std_error` is the sample standard deviation of the per-probe estimates over
/// `sqrt(n_samples)`; by the central limit theorem the true trace lies in
/// `estimate ± z * std_error` with the normal probability of `z` (95% for 1.96), up to
/// the error of estimating the variance from `n_samples` draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceEstimate {
    /// The estimate of `tr(H)`.
    pub estimate: f64,
    /// Its estimated standard error (0 when the estimate is exact).
    pub std_error: f64,
    /// Independent random samples behind `std_error`.
    pub n_samples: usize,
    /// Operator applications used.
    pub n_hvp: usize,
}

impl TraceEstimate {
    /// `(estimate - z * std_error, estimate + z * std_error)`.
    pub fn interval(&self, z: f64) -> (f64, f64) {
        (
            self.estimate - z * self.std_error,
            self.estimate + z * self.std_error,
        )
    }
}

fn validate(
    op: &(impl HvpOperator + ?Sized),
    config: &TraceConfig,
    min_hvp: usize,
) -> Result<(), HessianError> {
    if op.dim() == 0 {
        return Err(HessianError::EmptyOperator { op: "trace" });
    }
    if config.n_hvp < min_hvp {
        return Err(HessianError::InvalidConfig {
            field: "n_hvp",
            reason: format!(
                "needs at least {min_hvp} HVPs for an error estimate, got {}",
                config.n_hvp
            ),
        });
    }
    if config.block == 0 {
        return Err(HessianError::InvalidConfig {
            field: "block",
            reason: "must be at least 1".into(),
        });
    }
    Ok(())
}

/// `z^T H z` for each probe, applying the operator `block` probes at a time.
fn quadratic_forms<O: HvpOperator + ?Sized>(
    op: &O,
    probes: &[f64],
    block: usize,
) -> Result<Vec<f64>, HessianError> {
    let n = op.dim();
    let mut forms = Vec::with_capacity(probes.len() / n);
    for chunk in probes.chunks(block * n) {
        let hz = apply_checked(op, chunk, chunk.len() / n)?;
        forms.extend(
            chunk
                .chunks_exact(n)
                .zip(hz.chunks_exact(n))
                .map(|(z, h)| dot(z, h)),
        );
    }
    Ok(forms)
}

/// Mean and standard error of the mean (sample variance with n - 1).
fn mean_and_std_error(samples: &[f64]) -> (f64, f64) {
    let m = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / m;
    if samples.len() < 2 {
        return (mean, f64::INFINITY);
    }
    let var = samples.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (m - 1.0);
    (mean, (var / m).sqrt())
}

/// Hutchinson's estimator `tr(H) ≈ (1/m) sum z_i^T H z_i` with Rademacher `z_i`.
///
/// Unbiased, with variance `2 (||H||_F^2 - sum H_ii^2) / m`.
///
/// # Example
/// ```
/// use unstuck_hessian::{DenseOperator, TraceConfig, hutchinson_trace};
/// let op = DenseOperator::from_fn(30, |i, j| if i == j { 1.0 } else { 0.0 })?;
/// // For a diagonal matrix z^T H z = tr(H) for every Rademacher z: exact, zero spread.
/// let t = hutchinson_trace(&op, TraceConfig { n_hvp: 10, ..Default::default() })?;
/// assert!((t.estimate - 30.0).abs() < 1e-12 && t.std_error < 1e-12);
/// # Ok::<(), unstuck_hessian::HessianError>(())
/// ```
pub fn hutchinson_trace<O: HvpOperator + ?Sized>(
    op: &O,
    config: TraceConfig,
) -> Result<TraceEstimate, HessianError> {
    validate(op, &config, 2)?;
    let n = op.dim();
    let mut rng = rng(config.seed);
    let probes = rademacher(&mut rng, n * config.n_hvp);
    let forms = quadratic_forms(op, &probes, config.block)?;
    let (estimate, std_error) = mean_and_std_error(&forms);
    Ok(TraceEstimate {
        estimate,
        std_error,
        n_samples: forms.len(),
        n_hvp: config.n_hvp,
    })
}

/// Hutchinson's estimator deflated by an orthonormal `basis` `Q` (vectors one after
/// another) whose `tr(Qᵀ H Q)` is already known as `known_part` (a Lanczos run's `tr(T)`):
/// `tr(H) = tr(Qᵀ H Q) + tr(P H P)` with `P = I - QQᵀ`, and the second term is estimated
/// from `config.n_hvp` projected Rademacher probes `P z` (stream 1 of `config.seed`).
///
/// Unbiased for any `Q` drawn independently of the probes; when `Q` holds the directions
/// of the largest eigenvalues, as a Krylov space does, the probes no longer see them and
/// the spread falls (Hutch++'s idea, with the sketch bought by Lanczos already).
pub(crate) fn deflated_hutchinson<O: HvpOperator + ?Sized>(
    op: &O,
    basis: &[f64],
    known_part: f64,
    config: TraceConfig,
) -> Result<TraceEstimate, HessianError> {
    validate(op, &config, 2)?;
    let n = op.dim();
    // Stream 1: the basis may come from a Lanczos run seeded with stream 0 of the same
    // seed, and the estimate is unbiased only if the probes are independent of it.
    let mut probes = rademacher(&mut rng_stream(config.seed, 1), n * config.n_hvp);
    // One pass: the estimate needs `P z` to rounding of `‖z‖`, not a basis vector.
    project_out(&mut probes, basis, n);
    let forms = quadratic_forms(op, &probes, config.block)?;
    let (mean, std_error) = mean_and_std_error(&forms);
    // When Q spans everything the remainder is exactly zero, not unknown.
    let std_error = if basis.len() >= n * n { 0.0 } else { std_error };
    Ok(TraceEstimate {
        estimate: known_part + mean,
        std_error,
        n_samples: forms.len(),
        n_hvp: config.n_hvp,
    })
}

/// Hutch++ (Meyer, Musco, Musco and Woodruff, 2021): spend a third of the budget on a
/// sketch `Q = orth(H S)` of the dominant subspace (S Gaussian), whose trace
/// `tr(Q^T H Q)` is taken exactly (another third), and the last third on Hutchinson with
/// Rademacher probes for the rest `(I - QQ^T) H (I - QQ^T)`.
///
/// For a spectrum with a few large eigenvalues (typical of Hessians) the error falls like
/// `1/m` instead of `1/sqrt(m)`. `std_error` is that of the Hutchinson part, the only random
/// error left once Q is fixed. The budget `n_hvp` must be at least 6 (two samples per third).
pub fn hutch_plus_plus_trace<O: HvpOperator + ?Sized>(
    op: &O,
    config: TraceConfig,
) -> Result<TraceEstimate, HessianError> {
    validate(op, &config, 6)?;
    let n = op.dim();
    let third = config.n_hvp / 3;
    let n_residual = config.n_hvp - 2 * third;
    let mut rng = rng(config.seed);
    // Gaussian sketch: full rank almost surely (a Rademacher sketch of a small or
    // structured H repeats directions with real probability). Rademacher probes for the
    // remainder, where they have the lower variance.
    let sketch = gaussian(&mut rng, n * third);
    let residual_probes = rademacher(&mut rng, n * n_residual);

    let mut hs = Vec::with_capacity(n * third);
    for chunk in sketch.chunks(config.block * n) {
        hs.extend(apply_checked(op, chunk, chunk.len() / n)?);
    }
    let q = orthonormal_columns(&hs, n);
    let rank = q.len() / n;
    let exact_part: f64 = quadratic_forms(op, &q, config.block)?.iter().sum();

    let mut deflated = residual_probes;
    for g in deflated.chunks_exact_mut(n) {
        orthogonalize(g, &q);
    }
    let forms = quadratic_forms(op, &deflated, config.block)?;
    let (mean, std_error) = mean_and_std_error(&forms);
    // When Q spans everything the remainder is exactly zero, not unknown.
    let std_error = if rank == n { 0.0 } else { std_error };
    Ok(TraceEstimate {
        estimate: exact_part + mean,
        std_error,
        n_samples: forms.len(),
        n_hvp: third + rank + n_residual,
    })
}

/// An orthonormal basis of the span of the given vectors (Gram-Schmidt twice), dropping
/// vectors that are dependent to within 1e-10 of their length.
fn orthonormal_columns(vectors: &[f64], n: usize) -> Vec<f64> {
    let mut basis: Vec<f64> = Vec::with_capacity(vectors.len());
    for v in vectors.chunks_exact(n) {
        if basis.len() / n == n {
            break;
        }
        let mut w = v.to_vec();
        let before = norm(&w);
        orthogonalize(&mut w, &basis);
        let after = norm(&w);
        if after > 1e-10 * before && after > 0.0 {
            scale(1.0 / after, &mut w);
            basis.extend_from_slice(&w);
        }
    }
    basis
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::DenseOperator;

    /// A matrix with a few large eigenvalues over a flat bulk, like a Hessian.
    fn spiked(n: usize) -> (DenseOperator, f64) {
        let op = DenseOperator::from_fn(n, |i, j| {
            let spike = if i < 3 && j < 3 {
                20.0 / (1.0 + (i + j) as f64)
            } else {
                0.0
            };
            let bulk = if i == j {
                0.1 * ((i % 7) as f64 - 3.0)
            } else {
                0.02 * (((i * 5 + j * 5) % 9) as f64 - 4.0)
            };
            spike + bulk
        })
        .unwrap();
        let trace = (0..n).map(|i| op.data()[i * n + i]).sum();
        (op, trace)
    }

    #[test]
    fn hutchinson_is_within_its_confidence_interval() {
        let (op, exact) = spiked(80);
        let t = hutchinson_trace(
            &op,
            TraceConfig {
                n_hvp: 200,
                block: 32,
                seed: 4,
            },
        )
        .unwrap();
        // Deterministic given the seed; 4 standard errors is a 1-in-15,000 event, so a
        // failure here means the estimator or its error bar is wrong, not bad luck.
        let (lo, hi) = t.interval(4.0);
        assert!(lo <= exact && exact <= hi, "{exact} outside [{lo}, {hi}]");
        assert!(t.std_error > 0.0);
    }

    #[test]
    fn hutch_plus_plus_beats_hutchinson_on_a_spiked_spectrum() {
        let (op, exact) = spiked(80);
        let config = TraceConfig {
            n_hvp: 60,
            block: 16,
            seed: 11,
        };
        let plain = hutchinson_trace(&op, config).unwrap();
        let plus = hutch_plus_plus_trace(&op, config).unwrap();
        let (lo, hi) = plus.interval(4.0);
        assert!(lo <= exact && exact <= hi, "{exact} outside [{lo}, {hi}]");
        // The spikes carry most of the variance; removing them must shrink the error bar.
        assert!(
            plus.std_error < 0.5 * plain.std_error,
            "{} vs {}",
            plus.std_error,
            plain.std_error
        );
    }

    #[test]
    fn hutch_plus_plus_is_exact_when_the_sketch_spans_everything() {
        let (op, exact) = spiked(10);
        let t = hutch_plus_plus_trace(
            &op,
            TraceConfig {
                n_hvp: 36,
                block: 5,
                seed: 2,
            },
        )
        .unwrap();
        // tr(Q^T H Q) with Q orthonormal and square: rounding of a 10x10 product only.
        assert!(
            (t.estimate - exact).abs() < 1e-10,
            "{} vs {exact}",
            t.estimate
        );
        assert_eq!(t.std_error, 0.0);
    }

    #[test]
    fn same_seed_same_estimate_and_budget_is_checked() {
        let (op, _) = spiked(20);
        let config = TraceConfig {
            n_hvp: 9,
            block: 4,
            seed: 5,
        };
        assert_eq!(
            hutchinson_trace(&op, config).unwrap(),
            hutchinson_trace(&op, config).unwrap()
        );
        assert!(matches!(
            hutchinson_trace(&op, TraceConfig { n_hvp: 1, ..config }),
            Err(HessianError::InvalidConfig { field: "n_hvp", .. })
        ));
        assert!(matches!(
            hutch_plus_plus_trace(&op, TraceConfig { n_hvp: 5, ..config }),
            Err(HessianError::InvalidConfig { .. })
        ));
    }
}
