//! Lanczos with full reorthogonalisation: extreme eigenpairs from HVPs alone.

use rand_chacha::ChaCha8Rng;

use crate::error::{HessianError, check_eigenpairs};
use crate::operator::{HvpOperator, apply_checked};
use crate::tridiag::Tridiagonal;
use crate::vector::{
    axpy, dot, gaussian, norm, normalize_sign, orthogonalize, project_out, rng, scale,
};

/// The Krylov recurrence `H Q = Q T + beta q e^T`, keeping every basis vector so each new
/// one is reorthogonalised against all the others (no ghost eigenvalues, at the price of
/// O(m P) memory, which is small next to a dense Hessian).
#[derive(Debug)]
pub(crate) struct LanczosProcess<'a, O: HvpOperator + ?Sized> {
    op: &'a O,
    dim: usize,
    /// Orthonormal vectors, one after another: the `steps()` basis vectors, then the next
    /// one when the last step did not break down (kept in place, so a step copies nothing).
    vectors: Vec<f64>,
    /// Diagonal of T.
    pub alpha: Vec<f64>,
    /// `beta[j]` couples `q_j` and `q_{j+1}`; after `m` steps `beta[m - 1]` is the norm of
    /// the residual that would become `q_m`.
    pub beta: Vec<f64>,
    /// Operator applications so far.
    pub n_hvp: usize,
}

impl<'a, O: HvpOperator + ?Sized> LanczosProcess<'a, O> {
    /// Starts from `start` (any non-zero vector; normalised here).
    pub fn new(op: &'a O, mut start: Vec<f64>) -> Self {
        let dim = op.dim();
        let n = norm(&start);
        assert!(
            n > 0.0 && start.len() == dim,
            "Lanczos start must be a non-zero vector of length dim"
        );
        scale(1.0 / n, &mut start);
        Self {
            op,
            dim,
            vectors: start,
            alpha: Vec::new(),
            beta: Vec::new(),
            n_hvp: 0,
        }
    }

    /// Makes room for the vectors of `steps` more steps at once (so the basis is not
    /// copied as it grows), when they take at most [`RESERVE_BYTES`].
    pub fn reserve(&mut self, steps: usize) {
        let more = steps * self.dim;
        if more * std::mem::size_of::<f64>() <= RESERVE_BYTES {
            self.vectors.reserve_exact(more);
        }
    }

    /// Number of basis vectors (= size of T).
    pub fn steps(&self) -> usize {
        self.alpha.len()
    }

    /// The orthonormal basis vectors, one after another.
    pub fn basis(&self) -> &[f64] {
        &self.vectors[..self.steps() * self.dim]
    }

    /// Basis vector `j`.
    pub fn basis_vector(&self, j: usize) -> &[f64] {
        &self.vectors[j * self.dim..(j + 1) * self.dim]
    }

    /// True when the last step left a next vector (no breakdown).
    pub fn can_continue(&self) -> bool {
        self.vectors.len() > self.steps() * self.dim
    }

    /// T as built so far, with `beta` without its trailing residual norm.
    pub fn tridiagonal(&self) -> Tridiagonal<'_> {
        let m = self.steps();
        Tridiagonal {
            diag: &self.alpha,
            offdiag: &self.beta[..m.saturating_sub(1)],
        }
    }

    /// The residual norm after the last step (`beta_m`).
    pub fn residual_norm(&self) -> f64 {
        self.beta.last().copied().unwrap_or(0.0)
    }

    /// One Lanczos step. A residual below `breakdown * ||T||` means the basis spans an
    /// invariant subspace: the step records `beta = 0` and leaves no next vector.
    ///
    /// The three-term recurrence takes out `q_j` and `q_{j-1}`; one classical Gram-Schmidt
    /// pass against the whole basis then removes the rounding the recurrence leaves along
    /// the older vectors, and a second pass runs only when the first removed more than
    /// `1 - 1/sqrt(2)` of the vector's norm (the DGKS criterion, as ARPACK's `dsaitr` and
    /// scipy's `eigsh` decide it): otherwise the pass's own rounding is already at the
    /// level of `eps` relative to what is left, and a second pass changes nothing.
    pub fn step(&mut self) -> Result<(), HessianError> {
        assert!(
            self.can_continue(),
            "step() after a breakdown; call restart() first"
        );
        let (m, dim) = (self.steps(), self.dim);
        let (done, q) = self.vectors.split_at(m * dim);
        let mut w = apply_checked(self.op, q, 1)?;
        self.n_hvp += 1;
        let a = dot(q, &w);
        axpy(-a, q, &mut w);
        if let Some(&b) = self.beta.last() {
            axpy(-b, &done[(m - 1) * dim..], &mut w);
        }
        self.alpha.push(a);
        let b = reorthogonalize(&mut w, &self.vectors, dim);
        let t_norm = self.tridiagonal().norm_bound().max(b);
        // Below ~1e3 ulps of ||T|| the residual is rounding, not a new direction.
        if b <= 1e3 * f64::EPSILON * t_norm || b == 0.0 {
            self.beta.push(0.0);
        } else {
            scale(1.0 / b, &mut w);
            self.beta.push(b);
            self.vectors.extend_from_slice(&w);
        }
        Ok(())
    }

    /// After a breakdown, continues from a fresh random direction orthogonal to the basis
    /// (T gets a zero coupling there). Returns false when the basis already spans R^P.
    pub fn restart(&mut self, rng: &mut ChaCha8Rng) -> bool {
        if self.steps() >= self.dim {
            return false;
        }
        for _attempt in 0..3 {
            let mut w = gaussian(rng, self.dim);
            let before = norm(&w);
            orthogonalize(&mut w, self.basis());
            let after = norm(&w);
            if after > 1e-8 * before {
                scale(1.0 / after, &mut w);
                self.vectors.truncate(self.steps() * self.dim);
                self.vectors.extend_from_slice(&w);
                return true;
            }
        }
        false
    }

    /// `sum_j s_j q_j`.
    pub fn combine(&self, coefficients: &[f64]) -> Vec<f64> {
        let mut y = vec![0.0; self.dim];
        for (j, &c) in coefficients.iter().enumerate() {
            axpy(c, self.basis_vector(j), &mut y);
        }
        y
    }
}

/// The most memory [`LanczosProcess::reserve`] takes ahead of use; beyond it the basis
/// grows as it goes (a long run on a large model should not hold its whole budget).
const RESERVE_BYTES: usize = 16 << 20;

/// Removes from `w` its components along the orthonormal `basis` (vectors of length `dim`
/// one after another) and returns its norm: one classical Gram-Schmidt pass, and a second
/// one only when the first cut the norm below `1/sqrt(2)` of what it was (Daniel, Gragg,
/// Kaufman and Stewart, 1976: then, and only then, one pass can leave components along
/// the basis well above rounding relative to what remains; "twice is enough").
pub(crate) fn reorthogonalize(w: &mut [f64], basis: &[f64], dim: usize) -> f64 {
    let before = norm(w);
    project_out(w, basis, dim);
    let after = norm(w);
    if after >= std::f64::consts::FRAC_1_SQRT_2 * before {
        return after;
    }
    project_out(w, basis, dim);
    norm(w)
}

/// Which end of the spectrum to resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpectrumEnd {
    /// The k algebraically largest eigenvalues (sharpness, lambda_max).
    Largest,
    /// The k algebraically smallest (the most negative decide saddles).
    Smallest,
    /// Both: one Krylov space serves the two ends.
    Both,
}

/// Settings for [`lanczos`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LanczosConfig {
    /// Eigenpairs wanted at each requested end.
    pub k: usize,
    /// Which end(s).
    pub end: SpectrumEnd,
    /// Stop after this many HVPs even if not converged (clamped to P).
    pub max_iter: usize,
    /// A Ritz pair counts as converged when its residual `||H y - theta y||` is at most
    /// `tol * ||T||`, with `||T||` the Gershgorin bound of the Lanczos matrix (between
    /// `max |theta|` and three times it). Eigenvalue errors are then at most the residual,
    /// and about `residual^2 / gap` once the pair is isolated.
    pub tol: f64,
    /// Seed of the random start vector.
    pub seed: u64,
}

impl Default for LanczosConfig {
    fn default() -> Self {
        Self {
            k: 1,
            end: SpectrumEnd::Both,
            max_iter: 300,
            tol: 1e-10,
            seed: 0,
        }
    }
}

/// An approximate eigenpair with its residual norm `||H v - value v||`.
#[derive(Debug, Clone, PartialEq)]
pub struct EigenPair {
    /// Eigenvalue (Ritz value).
    pub value: f64,
    /// Unit eigenvector (Ritz vector), largest entry positive.
    pub vector: Vec<f64>,
    /// Residual norm bound `beta_m |s_m|` from the recurrence.
    pub residual: f64,
}

/// What [`lanczos`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct LanczosResult {
    /// The k largest eigenpairs, largest first (empty unless asked for).
    pub largest: Vec<EigenPair>,
    /// The k smallest eigenpairs, smallest first (empty unless asked for).
    pub smallest: Vec<EigenPair>,
    /// Operator applications used.
    pub n_hvp: usize,
    /// Whether every requested pair met the tolerance.
    pub converged: bool,
    /// How many of the requested pairs met it.
    pub n_converged: usize,
}

fn validate(dim: usize, config: &LanczosConfig) -> Result<(), HessianError> {
    check_eigenpairs("lanczos", config.k, dim)?;
    if !(config.tol > 0.0 && config.tol.is_finite()) {
        return Err(HessianError::InvalidConfig {
            field: "tol",
            reason: format!("must be positive and finite, got {}", config.tol),
        });
    }
    if config.max_iter == 0 {
        return Err(HessianError::InvalidConfig {
            field: "max_iter",
            reason: "must be at least 1".into(),
        });
    }
    Ok(())
}

/// Indices (into ascending Ritz values) of the pairs requested.
fn wanted(m: usize, k: usize, end: SpectrumEnd) -> (Vec<usize>, Vec<usize>) {
    let k = k.min(m);
    let top: Vec<usize> = (m - k..m).rev().collect();
    let bottom: Vec<usize> = (0..k).collect();
    match end {
        SpectrumEnd::Largest => (top, Vec::new()),
        SpectrumEnd::Smallest => (Vec::new(), bottom),
        SpectrumEnd::Both => (top, bottom),
    }
}

/// The k largest and/or k smallest eigenpairs of `op` by Lanczos with full
/// reorthogonalisation, from a seeded Gaussian start.
///
/// Each step costs one HVP. Convergence is checked every step from the Ritz values of T and
/// O(m) inverse-iteration eigenvectors of T; the final Ritz vectors come from one full
/// eigendecomposition of T. If the Krylov space closes (an invariant subspace), Lanczos
/// restarts from a random direction orthogonal to it, so repeated eigenvalues are found too.
/// Non-convergence within `max_iter` is not an error: see `converged` and `n_converged`.
///
/// # Example
/// ```
/// use unstuck_hessian::{DenseOperator, LanczosConfig, SpectrumEnd, lanczos};
/// let op = DenseOperator::from_fn(50, |i, j| if i == j { i as f64 - 10.0 } else { 0.0 })?;
/// let res = lanczos(&op, LanczosConfig { k: 2, end: SpectrumEnd::Both, ..Default::default() })?;
/// assert!((res.largest[0].value - 39.0).abs() < 1e-8);
/// assert!((res.smallest[0].value + 10.0).abs() < 1e-8);
/// # Ok::<(), unstuck_hessian::HessianError>(())
/// ```
pub fn lanczos<O: HvpOperator + ?Sized>(
    op: &O,
    config: LanczosConfig,
) -> Result<LanczosResult, HessianError> {
    let mut rng = rng(config.seed);
    let start = gaussian(&mut rng, op.dim());
    lanczos_from_rng(op, config, start, rng)
}

/// [`lanczos`] started from `start` instead of a random vector: a warm start from the
/// last top eigenvector when the operator has changed a little since (curvature tracked
/// during training). `config.seed` then seeds only the restarts after a breakdown.
///
/// # Errors
/// [`HessianError::InvalidConfig`] when `start` is not a non-zero, finite vector of the
/// operator's dimension, and the errors of [`lanczos`].
pub fn lanczos_from<O: HvpOperator + ?Sized>(
    op: &O,
    config: LanczosConfig,
    start: Vec<f64>,
) -> Result<LanczosResult, HessianError> {
    check_start(op.dim(), &start)?;
    lanczos_from_rng(op, config, start, rng(config.seed))
}

/// A warm start must be a non-zero, finite vector of the operator's dimension.
pub(crate) fn check_start(dim: usize, start: &[f64]) -> Result<(), HessianError> {
    let n = norm(start);
    if start.len() != dim || !(n > 0.0 && n.is_finite()) {
        return Err(HessianError::InvalidConfig {
            field: "start",
            reason: format!(
                "must be a non-zero finite vector of length {dim}, got length {} and norm {n}",
                start.len()
            ),
        });
    }
    Ok(())
}

fn lanczos_from_rng<O: HvpOperator + ?Sized>(
    op: &O,
    config: LanczosConfig,
    start: Vec<f64>,
    rng: ChaCha8Rng,
) -> Result<LanczosResult, HessianError> {
    let process = iterate(op, config, start, rng)?;
    finish(&process, &config)
}

/// Runs Lanczos from `start` until the wanted pairs converge or the budget is spent, and
/// returns the process (its basis and T) for [`finish`] or for the trace's deflation.
pub(crate) fn iterate<O: HvpOperator + ?Sized>(
    op: &O,
    config: LanczosConfig,
    start: Vec<f64>,
    mut rng: ChaCha8Rng,
) -> Result<LanczosProcess<'_, O>, HessianError> {
    let dim = op.dim();
    validate(dim, &config)?;
    let mut process = LanczosProcess::new(op, start);
    let max_iter = config.max_iter.min(dim);
    process.reserve(max_iter);
    let needed = config.k.min(dim);
    // Where the current Krylov block starts: T is block diagonal, with a zero coupling at
    // every restart, and the blocks before this one are exact invariant subspaces.
    let mut block_start = 0;
    while process.steps() < max_iter {
        process.step()?;
        if process.can_continue() {
            if process.steps() >= needed && block_converged(&process, block_start, &config)? {
                break;
            }
            continue;
        }
        // Breakdown: every Ritz value so far is exact, but one Krylov space holds a single
        // copy of each eigenvalue. If this block changed the wanted values, another block
        // (from a random direction orthogonal to all before) may hold more copies.
        let contributed = block_start == 0 || {
            let with = wanted_values(&process, process.steps(), &config)?;
            let without = wanted_values(&process, block_start, &config)?;
            let scale = process.tridiagonal().norm_bound();
            with.len() != without.len()
                || with
                    .iter()
                    .zip(&without)
                    .any(|(a, b)| (a - b).abs() > config.tol * scale)
        };
        if !contributed || process.steps() >= max_iter || !process.restart(&mut rng) {
            break;
        }
        block_start = process.steps();
    }
    Ok(process)
}

/// The wanted Ritz values (top k, then bottom k) of the leading `m x m` part of T.
fn wanted_values<O: HvpOperator + ?Sized>(
    process: &LanczosProcess<'_, O>,
    m: usize,
    config: &LanczosConfig,
) -> Result<Vec<f64>, HessianError> {
    let t = Tridiagonal {
        diag: &process.alpha[..m],
        offdiag: &process.beta[..m.saturating_sub(1)],
    };
    let values = t.eigenvalues()?;
    let (top, bottom) = wanted(m, config.k, config.end);
    Ok(top.into_iter().chain(bottom).map(|i| values[i]).collect())
}

/// True when the current block's wanted Ritz pairs (its own top and/or bottom k) have small
/// residuals. Earlier blocks ended in a breakdown and are exact, so this decides
/// convergence of the whole T; checking the block's own extremes (not only T's) keeps a
/// fresh block from being ignored while its Ritz values are still moving outward.
fn block_converged<O: HvpOperator + ?Sized>(
    process: &LanczosProcess<'_, O>,
    block_start: usize,
    config: &LanczosConfig,
) -> Result<bool, HessianError> {
    let m = process.steps();
    let t = Tridiagonal {
        diag: &process.alpha[block_start..],
        offdiag: &process.beta[block_start..m - 1],
    };
    let values = t.eigenvalues()?;
    let last = values.len() - 1;
    let scale = process.tridiagonal().norm_bound();
    let (top, bottom) = wanted(values.len(), config.k, config.end);
    let beta = process.residual_norm();
    for idx in top.into_iter().chain(bottom) {
        let theta = values[idx];
        let x = t.eigenvector_near(theta);
        // ||H Q x - theta Q x|| <= ||(T - theta) x|| + beta |x_m|; the first term is ~0 for
        // an exact eigenvector of T and keeps the bound honest when it is not.
        let residual = t.residual(theta, &x) + beta * x[last].abs();
        if residual > config.tol * scale {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Ritz pairs from one full eigendecomposition of T.
pub(crate) fn finish<O: HvpOperator + ?Sized>(
    process: &LanczosProcess<'_, O>,
    config: &LanczosConfig,
) -> Result<LanczosResult, HessianError> {
    let (values, vectors) = process.tridiagonal().eigen()?;
    let m = values.len();
    let scale = process.tridiagonal().norm_bound();
    let beta = process.residual_norm();
    let pair = |idx: usize| {
        let coefficients: Vec<f64> = (0..m).map(|i| vectors[(i, idx)]).collect();
        let mut vector = process.combine(&coefficients);
        normalize_sign(&mut vector);
        EigenPair {
            value: values[idx],
            vector,
            residual: beta * coefficients[m - 1].abs(),
        }
    };
    let (top, bottom) = wanted(m, config.k, config.end);
    let largest: Vec<EigenPair> = top.into_iter().map(pair).collect();
    let smallest: Vec<EigenPair> = bottom.into_iter().map(pair).collect();
    let requested = match config.end {
        SpectrumEnd::Both => 2 * config.k,
        _ => config.k,
    };
    let n_converged = largest
        .iter()
        .chain(&smallest)
        .filter(|p| p.residual <= config.tol * scale)
        .count();
    Ok(LanczosResult {
        largest,
        smallest,
        n_hvp: process.n_hvp,
        converged: n_converged >= requested,
        n_converged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::DenseOperator;

    #[test]
    fn a_warm_start_at_the_top_eigenvector_converges_in_fewer_steps_and_a_bad_start_is_an_error() {
        let op = test_matrix(60);
        let config = LanczosConfig {
            k: 1,
            end: SpectrumEnd::Largest,
            tol: 1e-8,
            ..LanczosConfig::default()
        };
        let cold = lanczos(&op, config).unwrap();
        let top = &cold.largest[0];
        // Near the eigenvector, as the last step's vector is near this step's.
        let start: Vec<f64> = top
            .vector
            .iter()
            .enumerate()
            .map(|(i, v)| v + 1e-3 * ((i % 7) as f64 - 3.0))
            .collect();
        let warm = lanczos_from(&op, config, start).unwrap();
        assert!((warm.largest[0].value - top.value).abs() < 1e-8 * top.value.abs());
        assert!(
            warm.n_hvp < cold.n_hvp,
            "warm {} against cold {} steps",
            warm.n_hvp,
            cold.n_hvp
        );
        let error = lanczos_from(&op, config, vec![0.0; 60]).unwrap_err();
        assert!(
            matches!(error, HessianError::InvalidConfig { field: "start", .. }),
            "{error}"
        );
        assert!(lanczos_from(&op, config, vec![1.0; 3]).is_err());
    }

    /// Diagonal matrix in a rotated basis would be nicer, but a diagonal one with a dense
    /// perturbation is enough to make Lanczos do real work.
    fn test_matrix(n: usize) -> DenseOperator {
        DenseOperator::from_fn(n, |i, j| {
            let d = if i == j {
                ((i * 37) % n) as f64 / n as f64 * 4.0 - 1.0
            } else {
                0.0
            };
            let (a, b) = (i.min(j), i.max(j));
            d + 0.01 * (((a * 7 + b * 3) % 5) as f64 - 2.0)
        })
        .unwrap()
    }

    fn dense_eigenvalues(op: &DenseOperator) -> Vec<f64> {
        crate::dense::full_hessian(op)
            .unwrap()
            .eigenvalues()
            .unwrap()
    }

    #[test]
    fn both_ends_match_the_dense_solver() {
        let op = test_matrix(120);
        let want = dense_eigenvalues(&op);
        let res = lanczos(
            &op,
            LanczosConfig {
                k: 4,
                tol: 1e-11,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(res.converged, "n_converged = {}", res.n_converged);
        // Residual 1e-11 relative gives eigenvalue errors far below 1e-9 at these gaps.
        for (j, pair) in res.largest.iter().enumerate() {
            assert!(
                (pair.value - want[want.len() - 1 - j]).abs() < 1e-9,
                "largest {j}"
            );
        }
        for (j, pair) in res.smallest.iter().enumerate() {
            assert!((pair.value - want[j]).abs() < 1e-9, "smallest {j}");
        }
        // The vectors are true eigenvectors: check ||H v - lambda v|| directly.
        for pair in res.largest.iter().chain(&res.smallest) {
            let hv = apply_checked(&op, &pair.vector, 1).unwrap();
            let r: f64 = hv
                .iter()
                .zip(&pair.vector)
                .map(|(h, v)| (h - pair.value * v).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!(r < 1e-9, "residual {r}");
            assert!((norm(&pair.vector) - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn repeated_eigenvalues_are_found_after_a_restart() {
        // diag(5, 5, 5, 1, 0, ...): one Krylov space holds one copy of 5; the restart finds
        // the others.
        let op = DenseOperator::from_fn(10, |i, j| {
            if i != j {
                0.0
            } else if i < 3 {
                5.0
            } else {
                (9 - i) as f64 / 9.0
            }
        })
        .unwrap();
        let res = lanczos(
            &op,
            LanczosConfig {
                k: 3,
                end: SpectrumEnd::Largest,
                ..Default::default()
            },
        )
        .unwrap();
        for pair in &res.largest {
            assert!((pair.value - 5.0).abs() < 1e-10, "{}", pair.value);
        }
    }

    /// `max |Qᵀ Q - I|` of the process's basis.
    fn orthogonality_error<O: HvpOperator + ?Sized>(process: &LanczosProcess<'_, O>) -> f64 {
        let m = process.steps();
        let mut worst = 0.0_f64;
        for i in 0..m {
            for j in 0..m {
                let want = if i == j { 1.0 } else { 0.0 };
                let got = dot(process.basis_vector(i), process.basis_vector(j));
                worst = worst.max((got - want).abs());
            }
        }
        worst
    }

    #[test]
    fn a_vector_nearly_in_the_span_gets_the_second_pass_it_needs() {
        // Ten orthonormal vectors in R^50, and w = Q c + 1e-10 r: one classical pass leaves
        // components along Q of about eps ||w|| ~ 1e-16, which is 1e-6 of the 1e-10 that
        // remains, so skipping the second pass here fails the 1e-12 below.
        let (n, m) = (50, 10);
        let mut random = rng(11);
        let mut basis: Vec<f64> = Vec::new();
        for _ in 0..m {
            let mut v = gaussian(&mut random, n);
            orthogonalize(&mut v, &basis);
            scale(1.0 / norm(&v), &mut v);
            basis.extend_from_slice(&v);
        }
        let c = gaussian(&mut random, m);
        let r = gaussian(&mut random, n);
        let mut w: Vec<f64> = (0..n)
            .map(|i| (0..m).map(|j| c[j] * basis[j * n + i]).sum::<f64>() + 1e-10 * r[i])
            .collect();
        let left = reorthogonalize(&mut w, &basis, n);
        assert!((left - norm(&w)).abs() <= 1e-15 * left);
        for j in 0..m {
            let along = dot(&basis[j * n..(j + 1) * n], &w) / left;
            assert!(along.abs() < 1e-12, "component {along:e} along q_{j}");
        }
        // A vector far from the span keeps its length and needs one pass only.
        let mut far = gaussian(&mut random, n);
        let before = norm(&far);
        let left = reorthogonalize(&mut far, &basis, n);
        assert!(left > 0.5 * before);
        for j in 0..m {
            assert!(dot(&basis[j * n..(j + 1) * n], &far).abs() < 1e-14 * left);
        }
    }

    #[test]
    fn the_basis_stays_orthonormal_on_a_clustered_spectrum() {
        // Three tight clusters (spread 1e-9) and a bulk: Lanczos converges to the clusters'
        // directions fast, which is where plain Lanczos loses orthogonality and ghosts
        // appear; with the selective second pass the basis stays orthonormal to rounding.
        let n = 150;
        let op = DenseOperator::from_fn(n, |i, j| {
            if i != j {
                return 0.0;
            }
            match i % 10 {
                0 => 10.0 + 1e-9 * i as f64,
                1 => 5.0 + 1e-9 * i as f64,
                2 => -3.0 - 1e-9 * i as f64,
                _ => (i % 7) as f64 / 10.0,
            }
        })
        .unwrap();
        let config = LanczosConfig {
            k: 3,
            tol: 1e-12,
            max_iter: 120,
            ..Default::default()
        };
        let process = iterate(&op, config, gaussian(&mut rng(4), n), rng(5)).unwrap();
        assert!(process.steps() > 10, "{} steps", process.steps());
        let error = orthogonality_error(&process);
        assert!(error < 1e-13, "max |QᵀQ - I| = {error:e}");
        let res = finish(&process, &config).unwrap();
        assert!((res.largest[0].value - (10.0 + 1e-9 * 140.0)).abs() < 1e-10);
        assert!((res.smallest[0].value - (-3.0 - 1e-9 * 142.0)).abs() < 1e-10);
    }

    #[test]
    fn same_seed_same_answer_and_k_is_checked() {
        let op = test_matrix(30);
        let config = LanczosConfig {
            k: 2,
            seed: 9,
            ..Default::default()
        };
        assert_eq!(lanczos(&op, config).unwrap(), lanczos(&op, config).unwrap());
        assert!(matches!(
            lanczos(&op, LanczosConfig { k: 31, ..config }),
            Err(HessianError::TooManyEigenpairs { k: 31, dim: 30, .. })
        ));
        assert!(matches!(
            lanczos(&op, LanczosConfig { k: 0, ..config }),
            Err(HessianError::InvalidConfig { .. })
        ));
    }

    #[test]
    fn a_too_small_budget_reports_non_convergence() {
        let op = test_matrix(200);
        let res = lanczos(
            &op,
            LanczosConfig {
                k: 3,
                max_iter: 5,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(!res.converged);
        assert_eq!(res.n_hvp, 5);
    }
}
