//! The one decision "dense Hessian or Lanczos", and what either way says about a spectrum.

use crate::analysis::EscapeDirection;
use crate::classify::{
    ClassifyTolerances, CriticalPointKind, classify_critical_point, classify_spectrum,
    minimum_ratio, sign_counts,
};
use crate::dense::full_hessian;
use crate::error::{HessianError, check_eigenpairs};
use crate::lanczos::{LanczosConfig, SpectrumEnd, lanczos};
use crate::operator::HvpOperator;
use crate::trace::{TraceConfig, TraceEstimate, hutch_plus_plus_trace};

/// Operators up to this dimension are summarised exactly: assembled with P HVPs and
/// diagonalised, which is O(P^3) time and 8 P^2 bytes (18 MB and a few seconds on one
/// core at P = 1500). Beyond it, Lanczos finds the extremes with a few hundred HVPs and
/// O(P) memory per step.
pub const DENSE_MAX_DIM: usize = 1500;

/// A Ritz value counts as zero within this fraction of the largest Ritz magnitude.
/// Ritz values lie inside the spectrum, so a clearly negative one proves negative
/// curvature even before Lanczos converges; 1e-6 keeps the rounding of the HVPs out.
/// (An exact dense spectrum uses [`ClassifyTolerances`]' 1e-10.)
pub const RITZ_ZERO_REL: f64 = 1e-6;

/// Lanczos stops when the residual of each wanted Ritz pair is below this fraction of
/// the spectrum's scale: eigenvalues then carry about 8 correct digits.
pub const LANCZOS_TOL: f64 = 1e-8;

/// How to summarise a spectrum: exactly below a size, by Lanczos above it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpectrumPolicy {
    /// Operators of at most this dimension are assembled densely (exact); larger ones go
    /// matrix-free. 0 means Lanczos at every size.
    pub dense_max_dim: usize,
    /// Extreme eigenvalues to report at each end (at most the dimension).
    pub k: usize,
    /// Lanczos' budget, tolerance and seed (`k` and `end` come from this policy).
    pub lanczos: LanczosConfig,
    /// Hutch++ settings for the trace of a large operator; `None` skips it.
    pub trace: Option<TraceConfig>,
    /// Keep the unit eigenvector of the smallest eigenvalue (the escape direction). A
    /// dense summary then runs the eigensolver with vectors; Lanczos always has them.
    pub lowest_vector: bool,
}

impl Default for SpectrumPolicy {
    fn default() -> Self {
        SpectrumPolicy {
            dense_max_dim: DENSE_MAX_DIM,
            k: 1,
            lanczos: LanczosConfig {
                tol: LANCZOS_TOL,
                ..LanczosConfig::default()
            },
            trace: Some(TraceConfig::default()),
            lowest_vector: false,
        }
    }
}

/// How a summary was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpectrumMethod {
    /// The dense Hessian and every eigenvalue: exact.
    Dense,
    /// Lanczos for the extremes (bounds until converged), Hutch++ for the trace.
    Lanczos,
}

/// What [`summarize`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectrumSummary {
    /// The operator's dimension.
    pub dim: usize,
    /// Dense or Lanczos.
    pub method: SpectrumMethod,
    /// The `k` smallest eigenvalues, smallest first.
    pub smallest: Vec<f64>,
    /// The `k` largest eigenvalues, largest first.
    pub largest: Vec<f64>,
    /// Every eigenvalue, ascending (dense only).
    pub eigenvalues: Option<Vec<f64>>,
    /// The unit eigenvector of `smallest[0]`, when the policy asked for it.
    pub lowest_vector: Option<Vec<f64>>,
    /// The trace: exact when dense (standard error 0), Hutch++ otherwise; `None` when the
    /// policy skipped it.
    pub trace: Option<TraceEstimate>,
    /// Whether every reported eigenvalue is final (always for dense; Lanczos' verdict).
    pub converged: bool,
    /// The relative zero tolerance for this method: 1e-10 dense, [`RITZ_ZERO_REL`] Lanczos.
    pub zero_rel: f64,
    /// Operator applications used.
    pub n_hvp: usize,
}

impl SpectrumSummary {
    /// The eigenvalues the second-order test reads: all of them (dense), or the two
    /// extremes (Lanczos).
    pub fn tested_eigenvalues(&self) -> Vec<f64> {
        match &self.eigenvalues {
            Some(all) => all.clone(),
            None => vec![self.smallest[0], self.largest[0]],
        }
    }

    /// The second-order test with this method's zero tolerance and a gradient norm
    /// (points with `gradient_norm > gradient_abs` are not critical).
    pub fn kind(
        &self,
        gradient_norm: f64,
        gradient_abs: f64,
    ) -> Result<CriticalPointKind, HessianError> {
        let tolerances = ClassifyTolerances {
            eigenvalue_rel: self.zero_rel,
            gradient_abs,
        };
        classify_critical_point(gradient_norm, &self.tested_eigenvalues(), tolerances)
    }

    /// The second-order test alone, as if the gradient vanished: what the curvature
    /// around the point looks like.
    pub fn curvature_kind(&self) -> Result<CriticalPointKind, HessianError> {
        classify_spectrum(&self.tested_eigenvalues(), self.zero_rel)
    }

    /// The fraction of positive eigenvalues (the lecture's minimum ratio; dense only).
    pub fn minimum_ratio(&self) -> Result<Option<f64>, HessianError> {
        self.eigenvalues
            .as_deref()
            .map(|all| minimum_ratio(all, self.zero_rel))
            .transpose()
    }

    /// The way out along the most negative eigenvector, when the smallest eigenvalue is
    /// negative beyond the zero tolerance and its vector was kept.
    pub fn escape(&self) -> Result<Option<EscapeDirection>, HessianError> {
        let counts = sign_counts(&self.tested_eigenvalues(), self.zero_rel)?;
        Ok(match (&self.lowest_vector, counts.negative > 0) {
            (Some(direction), true) => Some(EscapeDirection {
                eigenvalue: self.smallest[0],
                direction: direction.clone(),
            }),
            _ => None,
        })
    }
}

/// Summarises the spectrum of `op`: the dense Hessian and its eigendecomposition when the
/// dimension is at most `policy.dense_max_dim`, seeded Lanczos (and Hutch++ for the
/// trace) above it. Every caller that has to choose between the two calls this.
///
/// ```
/// use unstuck_hessian::{DenseOperator, SpectrumMethod, SpectrumPolicy, summarize};
/// let op = DenseOperator::new(3, vec![2.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 5.0])?;
/// let exact = summarize(&op, &SpectrumPolicy::default())?;
/// assert_eq!((exact.method, exact.smallest[0], exact.largest[0]), (SpectrumMethod::Dense, -1.0, 5.0));
/// let free = summarize(&op, &SpectrumPolicy { dense_max_dim: 0, ..SpectrumPolicy::default() })?;
/// assert_eq!(free.method, SpectrumMethod::Lanczos);
/// assert!((free.smallest[0] + 1.0).abs() < 1e-8);
/// # Ok::<(), unstuck_hessian::HessianError>(())
/// ```
pub fn summarize<O: HvpOperator + ?Sized>(
    op: &O,
    policy: &SpectrumPolicy,
) -> Result<SpectrumSummary, HessianError> {
    let dim = op.dim();
    check_eigenpairs("summarize", policy.k, dim)?;
    if dim <= policy.dense_max_dim {
        dense(op, policy)
    } else {
        matrix_free(op, policy)
    }
}

fn dense<O: HvpOperator + ?Sized>(
    op: &O,
    policy: &SpectrumPolicy,
) -> Result<SpectrumSummary, HessianError> {
    let (dim, k) = (op.dim(), policy.k);
    let h = full_hessian(op)?;
    let (values, lowest_vector) = if policy.lowest_vector {
        let eigen = h.eigen()?;
        (eigen.values().to_vec(), Some(eigen.vector(0).to_vec()))
    } else {
        (h.eigenvalues()?, None)
    };
    Ok(SpectrumSummary {
        dim,
        method: SpectrumMethod::Dense,
        smallest: values[..k].to_vec(),
        largest: values[dim - k..].iter().rev().copied().collect(),
        eigenvalues: Some(values),
        lowest_vector,
        trace: policy.trace.map(|_| TraceEstimate {
            estimate: h.trace(),
            std_error: 0.0,
            n_samples: 0,
            n_hvp: 0,
        }),
        converged: true,
        zero_rel: ClassifyTolerances::default().eigenvalue_rel,
        n_hvp: dim,
    })
}

fn matrix_free<O: HvpOperator + ?Sized>(
    op: &O,
    policy: &SpectrumPolicy,
) -> Result<SpectrumSummary, HessianError> {
    let config = LanczosConfig {
        k: policy.k,
        end: SpectrumEnd::Both,
        ..policy.lanczos
    };
    let mut extremes = lanczos(op, config)?;
    let trace = policy
        .trace
        .map(|config| hutch_plus_plus_trace(op, config))
        .transpose()?;
    let lowest_vector = policy
        .lowest_vector
        .then(|| std::mem::take(&mut extremes.smallest[0].vector));
    Ok(SpectrumSummary {
        dim: op.dim(),
        method: SpectrumMethod::Lanczos,
        smallest: extremes.smallest.iter().map(|pair| pair.value).collect(),
        largest: extremes.largest.iter().map(|pair| pair.value).collect(),
        eigenvalues: None,
        lowest_vector,
        n_hvp: extremes.n_hvp + trace.map_or(0, |t| t.n_hvp),
        trace,
        converged: extremes.converged,
        zero_rel: RITZ_ZERO_REL,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::tests::coupled_diagonal as op;

    #[test]
    fn the_size_decides_and_both_ways_agree() {
        let full = op(40);
        let policy = SpectrumPolicy {
            k: 3,
            lowest_vector: true,
            ..SpectrumPolicy::default()
        };
        let exact = summarize(
            &full,
            &SpectrumPolicy {
                dense_max_dim: 40,
                ..policy
            },
        )
        .unwrap();
        let free = summarize(
            &full,
            &SpectrumPolicy {
                dense_max_dim: 39,
                ..policy
            },
        )
        .unwrap();
        assert_eq!(
            (exact.method, free.method),
            (SpectrumMethod::Dense, SpectrumMethod::Lanczos)
        );
        assert!(free.converged);
        for (e, f) in exact
            .smallest
            .iter()
            .chain(&exact.largest)
            .zip(free.smallest.iter().chain(&free.largest))
        {
            // Converged to LANCZOS_TOL relative to a spectrum of scale ~20.
            assert!((e - f).abs() < 1e-6, "{e} vs {f}");
        }
        assert_eq!(exact.eigenvalues.as_ref().map(Vec::len), Some(40));
        assert!(exact.smallest.windows(2).all(|w| w[0] <= w[1]));
        assert!(exact.largest.windows(2).all(|w| w[0] >= w[1]));
        // Both see a saddle, and both give the same way out (up to sign).
        assert_eq!(exact.curvature_kind().unwrap(), CriticalPointKind::Saddle);
        assert_eq!(free.curvature_kind().unwrap(), CriticalPointKind::Saddle);
        let (e, f) = (
            exact.escape().unwrap().unwrap(),
            free.escape().unwrap().unwrap(),
        );
        let overlap: f64 = e
            .direction
            .iter()
            .zip(&f.direction)
            .map(|(a, b)| a * b)
            .sum();
        assert!((overlap.abs() - 1.0).abs() < 1e-6, "{overlap}");
        assert!(
            exact.minimum_ratio().unwrap().is_some() && free.minimum_ratio().unwrap().is_none()
        );
    }

    #[test]
    fn the_trace_is_exact_when_dense_and_skipped_when_not_asked() {
        // (The matrix-free trace is checked through `block_summaries`.)
        let full = op(30);
        let exact = summarize(&full, &SpectrumPolicy::default()).unwrap();
        let trace: f64 = (0..30).map(|i| i as f64 - 20.0).sum();
        assert_eq!(exact.trace.unwrap().estimate, trace);
        let none = SpectrumPolicy {
            trace: None,
            dense_max_dim: 0,
            ..SpectrumPolicy::default()
        };
        assert!(summarize(&full, &none).unwrap().trace.is_none());
    }

    #[test]
    fn bad_requests_are_errors() {
        let full = op(4);
        let with_k = |k| SpectrumPolicy {
            k,
            ..SpectrumPolicy::default()
        };
        assert!(matches!(
            summarize(&full, &with_k(0)),
            Err(HessianError::InvalidConfig { field: "k", .. })
        ));
        assert!(matches!(
            summarize(&full, &with_k(5)),
            Err(HessianError::TooManyEigenpairs { k: 5, dim: 4, .. })
        ));
    }
}
