//! Spectral density by stochastic Lanczos quadrature (PyHessian's `density`).

use crate::error::HessianError;
use crate::lanczos::LanczosProcess;
use crate::operator::HvpOperator;
use crate::vector::{rademacher, rng};

/// Settings for [`spectral_density`]; PyHessian's defaults are `iter=100`, `n_v=1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlqConfig {
    /// Independent probes (PyHessian `n_v`); the density is their average.
    pub n_probes: usize,
    /// Lanczos steps per probe (PyHessian `iter`), clamped to P.
    pub lanczos_steps: usize,
    /// Seed of the Rademacher probes.
    pub seed: u64,
}

impl Default for SlqConfig {
    fn default() -> Self {
        Self {
            n_probes: 4,
            lanczos_steps: 100,
            seed: 0,
        }
    }
}

/// One probe's Gauss quadrature rule: nodes (Ritz values) and weights summing to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct QuadratureRule {
    /// Ritz values, ascending.
    pub nodes: Vec<f64>,
    /// Squared first components of T's eigenvectors; they sum to 1.
    pub weights: Vec<f64>,
}

/// The spectral measure estimated by SLQ: an average of per-probe quadrature rules.
///
/// For a unit probe `v` and `m` Lanczos steps, `sum_i w_i f(theta_i) = v^T f(H) v` exactly
/// for every polynomial `f` of degree below `2m`; averaging over probes estimates
/// `tr f(H) / P`, the integral of `f` against the eigenvalue density.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralDensity {
    /// One rule per probe.
    pub rules: Vec<QuadratureRule>,
    /// The operator's dimension P.
    pub dim: usize,
    /// Operator applications used.
    pub n_hvp: usize,
}

/// How to smooth the measure into a curve, following PyHessian's `density_generate`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DensityGrid {
    /// Grid points (PyHessian `num_bins`).
    pub n_points: usize,
    /// Gaussian variance relative to the spectrum's width: the variance is
    /// `sigma_squared * max(1, max_node - min_node)` (PyHessian `sigma_squared`).
    pub sigma_squared: f64,
    /// The grid runs `padding_sigmas` standard deviations beyond the extreme nodes, so the
    /// curve's integral over the grid is 1 up to the tails (8 leaves ~1e-15 outside).
    pub padding_sigmas: f64,
}

impl Default for DensityGrid {
    fn default() -> Self {
        Self {
            n_points: 10_000,
            sigma_squared: 1e-5,
            padding_sigmas: 8.0,
        }
    }
}

/// A smoothed density on a uniform grid.
#[derive(Debug, Clone, PartialEq)]
pub struct DensityCurve {
    /// Grid points, ascending and equally spaced.
    pub grid: Vec<f64>,
    /// Density values at the grid points.
    pub density: Vec<f64>,
}

impl DensityCurve {
    /// The trapezoid-rule integral of the curve: 1 up to discretisation and the tails.
    pub fn integral(&self) -> f64 {
        self.grid
            .windows(2)
            .zip(self.density.windows(2))
            .map(|(x, y)| 0.5 * (x[1] - x[0]) * (y[0] + y[1]))
            .sum()
    }
}

/// Stochastic Lanczos quadrature: for each seeded Rademacher probe, `lanczos_steps` steps of
/// Lanczos with full reorthogonalisation; the Ritz values are the nodes and the squared first
/// components of T's eigenvectors the weights. A breakdown ends that probe early (its rule
/// is then exact).
///
/// # Example
/// ```
/// use unstuck_hessian::{DenseOperator, SlqConfig, spectral_density};
/// let op = DenseOperator::from_fn(40, |i, j| if i == j { (i % 4) as f64 } else { 0.0 })?;
/// let slq = spectral_density(&op, SlqConfig { n_probes: 2, lanczos_steps: 10, seed: 1 })?;
/// // Eigenvalues 0, 1, 2, 3 ten times each: the mean is 1.5, and Rademacher probes of a
/// // diagonal matrix see each eigenvalue with weight exactly 1/40.
/// assert!((slq.moment(1) - 1.5).abs() < 1e-12);
/// # Ok::<(), unstuck_hessian::HessianError>(())
/// ```
pub fn spectral_density<O: HvpOperator + ?Sized>(
    op: &O,
    config: SlqConfig,
) -> Result<SpectralDensity, HessianError> {
    let dim = op.dim();
    if dim == 0 {
        return Err(HessianError::EmptyOperator {
            op: "spectral_density",
        });
    }
    if config.n_probes == 0 || config.lanczos_steps == 0 {
        return Err(HessianError::InvalidConfig {
            field: "n_probes/lanczos_steps",
            reason: "must be at least 1".into(),
        });
    }
    let mut rng = rng(config.seed);
    let steps = config.lanczos_steps.min(dim);
    let mut rules = Vec::with_capacity(config.n_probes);
    let mut n_hvp = 0;
    for _probe in 0..config.n_probes {
        let mut process = LanczosProcess::new(op, rademacher(&mut rng, dim));
        while process.steps() < steps && process.can_continue() {
            process.step()?;
        }
        n_hvp += process.n_hvp;
        let (nodes, vectors) = process.tridiagonal().eigen()?;
        let weights = (0..nodes.len()).map(|j| vectors[(0, j)].powi(2)).collect();
        rules.push(QuadratureRule { nodes, weights });
    }
    Ok(SpectralDensity { rules, dim, n_hvp })
}

impl SpectralDensity {
    /// `mean over probes of sum_i w_i theta_i^k`, the estimate of `tr(H^k) / P`
    /// (exact per probe for `k < 2 * lanczos_steps`).
    pub fn moment(&self, k: i32) -> f64 {
        let per_probe = self.rules.iter().map(|r| {
            r.nodes
                .iter()
                .zip(&r.weights)
                .map(|(t, w)| w * t.powi(k))
                .sum::<f64>()
        });
        per_probe.sum::<f64>() / self.rules.len() as f64
    }

    /// The trace estimate `P * moment(1)`.
    pub fn trace_estimate(&self) -> f64 {
        self.dim as f64 * self.moment(1)
    }

    /// The Gaussian-smoothed density `(1/n_probes) sum_probes sum_i w_i N(x; theta_i, s^2)`
    /// on a uniform grid. Each Gaussian integrates to 1 and the weights of each probe sum to
    /// 1, so the curve integrates to 1 by construction, without PyHessian's renormalisation:
    /// [`DensityCurve::integral`] is a check, not a definition.
    pub fn smoothed(&self, grid: DensityGrid) -> Result<DensityCurve, HessianError> {
        if grid.n_points < 2 {
            return Err(HessianError::InvalidConfig {
                field: "n_points",
                reason: "must be at least 2".into(),
            });
        }
        if !(grid.sigma_squared > 0.0 && grid.sigma_squared.is_finite()) {
            return Err(HessianError::InvalidConfig {
                field: "sigma_squared",
                reason: format!("must be positive and finite, got {}", grid.sigma_squared),
            });
        }
        let nodes = self.rules.iter().flat_map(|r| r.nodes.iter().copied());
        let (lo, hi) = nodes.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), t| {
            (lo.min(t), hi.max(t))
        });
        let variance = grid.sigma_squared * (hi - lo).max(1.0);
        let pad = grid.padding_sigmas.max(0.0) * variance.sqrt();
        let (start, end) = (lo - pad, hi + pad);
        let step = (end - start) / (grid.n_points - 1) as f64;
        let xs: Vec<f64> = (0..grid.n_points)
            .map(|i| start + step * i as f64)
            .collect();
        let norm = 1.0 / ((2.0 * std::f64::consts::PI * variance).sqrt() * self.rules.len() as f64);
        let density = xs
            .iter()
            .map(|&x| {
                let total: f64 = self
                    .rules
                    .iter()
                    .flat_map(|r| r.nodes.iter().zip(&r.weights))
                    .map(|(t, w)| w * (-(x - t).powi(2) / (2.0 * variance)).exp())
                    .sum();
                total * norm
            })
            .collect();
        Ok(DensityCurve { grid: xs, density })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::{DenseOperator, apply_checked};
    use crate::vector::dot;

    fn test_matrix(n: usize) -> DenseOperator {
        DenseOperator::from_fn(n, |i, j| {
            let (a, b) = (i.min(j), i.max(j));
            let d = if i == j {
                (i as f64 / n as f64 - 0.4) * 2.0
            } else {
                0.0
            };
            d + 0.03 * (((a * 11 + b * 5) % 7) as f64 - 3.0)
        })
        .unwrap()
    }

    #[test]
    fn quadrature_is_exact_for_low_degree_moments_of_each_probe() {
        let n = 60;
        let op = test_matrix(n);
        let steps = 6;
        let slq = spectral_density(
            &op,
            SlqConfig {
                n_probes: 1,
                lanczos_steps: steps,
                seed: 3,
            },
        )
        .unwrap();
        // Rebuild the same unit probe and compute v^T H^k v directly.
        let mut v = rademacher(&mut rng(3), n);
        let s = 1.0 / (n as f64).sqrt();
        v.iter_mut().for_each(|x| *x *= s);
        let mut hk = v.clone();
        for k in 1..(2 * steps) as i32 {
            hk = apply_checked(&op, &hk, 1).unwrap();
            let want = dot(&v, &hk);
            let got = slq.moment(k);
            // Gauss quadrature with m nodes is exact to degree 2m - 1; what remains is
            // rounding, growing with ||H||^k (~1.5^k here).
            assert!(
                (got - want).abs() < 1e-11 * (1.0 + want.abs()),
                "k={k}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn smoothed_density_integrates_to_one() {
        let op = test_matrix(80);
        let slq = spectral_density(
            &op,
            SlqConfig {
                n_probes: 3,
                lanczos_steps: 30,
                seed: 8,
            },
        )
        .unwrap();
        for rule in &slq.rules {
            let total: f64 = rule.weights.iter().sum();
            assert!((total - 1.0).abs() < 1e-12, "weights sum to {total}");
        }
        let curve = slq.smoothed(DensityGrid::default()).unwrap();
        // 10,000 points over a width of ~3 resolve sigma ~ 5e-3 with ~15 points per sigma:
        // the trapezoid rule on Gaussians is then accurate far below 1e-6.
        assert!(
            (curve.integral() - 1.0).abs() < 1e-6,
            "{}",
            curve.integral()
        );
        assert!(curve.density.iter().all(|d| *d >= 0.0));
    }
}
