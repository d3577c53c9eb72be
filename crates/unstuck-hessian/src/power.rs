//! PyHessian's power iteration: the baseline the Lanczos tools are measured against.

use crate::error::{HessianError, check_eigenpairs};
use crate::operator::{HvpOperator, apply_checked};
use crate::vector::{axpy, dot, gaussian, norm, normalize_sign, rng, scale};

/// Settings for [`power_iteration`], with PyHessian's defaults (`maxIter=100`, `tol=1e-3`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerConfig {
    /// Number of eigenpairs (PyHessian's `top_n`), found one after another by deflation.
    pub k: usize,
    /// HVPs allowed per eigenpair.
    pub max_iter: usize,
    /// Stop when `|lambda_t - lambda_{t-1}| / (|lambda_{t-1}| + 1e-6) < tol`.
    pub tol: f64,
    /// Seed of the random start vectors.
    pub seed: u64,
}

impl Default for PowerConfig {
    fn default() -> Self {
        Self {
            k: 1,
            max_iter: 100,
            tol: 1e-3,
            seed: 0,
        }
    }
}

/// One eigenpair from power iteration.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerPair {
    /// The eigenvalue estimate (a Rayleigh quotient).
    pub value: f64,
    /// The last iterate, unit length, largest entry positive.
    pub vector: Vec<f64>,
    /// The Rayleigh quotient after each HVP, to study convergence.
    pub history: Vec<f64>,
    /// Whether the relative-change test passed before `max_iter`.
    pub converged: bool,
}

/// What [`power_iteration`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerResult {
    /// The eigenpairs in the order found (largest magnitude first).
    pub pairs: Vec<PowerPair>,
    /// Operator applications used.
    pub n_hvp: usize,
}

/// Power iteration as PyHessian's `hessian.eigenvalues` does it: a seeded Gaussian start,
/// `v <- H v / ||H v||` with the Rayleigh quotient `v·Hv` as the estimate, each new
/// eigenpair kept orthogonal to the ones already found.
///
/// It finds the eigenvalues of largest **magnitude**, converges at the rate
/// `|lambda_2 / lambda_1|`, and its relative-change stop says nothing about the true error;
/// [`crate::lanczos`] gets both ends faster from the same HVPs. Like PyHessian, the value
/// returned on early stop is the estimate *before* the last HVP.
pub fn power_iteration<O: HvpOperator + ?Sized>(
    op: &O,
    config: PowerConfig,
) -> Result<PowerResult, HessianError> {
    let dim = op.dim();
    check_eigenpairs("power_iteration", config.k, dim)?;
    if config.max_iter == 0 {
        return Err(HessianError::InvalidConfig {
            field: "max_iter",
            reason: "must be at least 1".into(),
        });
    }
    let mut rng = rng(config.seed);
    let mut pairs: Vec<PowerPair> = Vec::with_capacity(config.k);
    let mut n_hvp = 0;
    for _pair_idx in 0..config.k {
        let mut v = gaussian(&mut rng, dim);
        let n = norm(&v);
        scale(1.0 / n, &mut v);
        let mut estimate: Option<f64> = None;
        let mut history = Vec::new();
        let mut converged = false;
        for _iteration in 0..config.max_iter {
            // Deflation by orthogonalisation against the pairs found, then renormalise.
            for p in &pairs {
                let c = dot(&p.vector, &v);
                axpy(-c, &p.vector, &mut v);
            }
            let n = norm(&v);
            if n == 0.0 {
                break;
            }
            scale(1.0 / n, &mut v);
            let hv = apply_checked(op, &v, 1)?;
            n_hvp += 1;
            let rayleigh = dot(&hv, &v);
            history.push(rayleigh);
            let hv_norm = norm(&hv);
            if hv_norm == 0.0 {
                // v is in the null space: 0 is an exact eigenvalue.
                estimate = Some(rayleigh);
                converged = true;
                break;
            }
            v = hv;
            scale(1.0 / hv_norm, &mut v);
            match estimate {
                Some(previous)
                    if (previous - rayleigh).abs() / (previous.abs() + 1e-6) < config.tol =>
                {
                    converged = true;
                    break;
                }
                _ => estimate = Some(rayleigh),
            }
        }
        normalize_sign(&mut v);
        let value = estimate.unwrap_or(0.0);
        pairs.push(PowerPair {
            value,
            vector: v,
            history,
            converged,
        });
    }
    Ok(PowerResult { pairs, n_hvp })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::DenseOperator;

    #[test]
    fn finds_the_largest_magnitude_eigenvalues_in_order() {
        // Eigenvalues 10, -6, 1, 0.5 ...: the dominant ones by magnitude are 10 then -6.
        let diag = [10.0, -6.0, 1.0, 0.5, 0.25, 0.1];
        let op = DenseOperator::from_fn(6, |i, j| if i == j { diag[i] } else { 0.0 }).unwrap();
        let res = power_iteration(
            &op,
            PowerConfig {
                k: 2,
                max_iter: 400,
                tol: 1e-12,
                seed: 1,
            },
        )
        .unwrap();
        // |lambda_2/lambda_1| = 0.6 and 0.1 afterwards: 400 steps are plenty for 1e-9.
        assert!(
            (res.pairs[0].value - 10.0).abs() < 1e-9,
            "{}",
            res.pairs[0].value
        );
        assert!(
            (res.pairs[1].value + 6.0).abs() < 1e-9,
            "{}",
            res.pairs[1].value
        );
        assert!(res.pairs.iter().all(|p| p.converged));
        assert_eq!(
            res.n_hvp,
            res.pairs.iter().map(|p| p.history.len()).sum::<usize>()
        );
    }

    #[test]
    fn pyhessian_tolerance_stops_early_with_a_rough_answer() {
        // Close eigenvalues (1 and 0.95) make power iteration slow; tol = 1e-3 stops it
        // long before the answer is accurate, which is the point of comparing with Lanczos.
        let op =
            DenseOperator::from_fn(50, |i, j| if i == j { 1.0 - 0.05 * i as f64 } else { 0.0 })
                .unwrap();
        let res = power_iteration(&op, PowerConfig::default()).unwrap();
        let p = &res.pairs[0];
        assert!(p.converged && p.history.len() < 100);
        assert!(
            (p.value - 1.0).abs() > 1e-6,
            "a loose stop cannot be this accurate: {}",
            p.value
        );
    }
}
