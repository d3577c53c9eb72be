//! Eigen problems of the small symmetric tridiagonal matrices that Lanczos builds.

use faer::diag::{DiagMut, DiagRef};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self, ComputeEigenvectors};
use faer::{Mat, Par};

use crate::error::HessianError;

/// A symmetric tridiagonal matrix: `diag` (length m) and `offdiag` (length m - 1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tridiagonal<'a> {
    pub diag: &'a [f64],
    pub offdiag: &'a [f64],
}

impl Tridiagonal<'_> {
    fn dim(&self) -> usize {
        self.diag.len()
    }

    /// Runs faer's tridiagonal solver; eigenvalues ascending, eigenvectors (column-major)
    /// when `with_vectors`.
    fn solve(&self, with_vectors: bool) -> Result<(Vec<f64>, Option<Mat<f64>>), HessianError> {
        let m = self.dim();
        debug_assert_eq!(self.offdiag.len() + 1, m.max(1));
        // faer reads m entries of the off-diagonal and ignores the last.
        let mut offdiag = self.offdiag.to_vec();
        offdiag.push(0.0);
        let mut values = vec![0.0; m];
        let compute = if with_vectors {
            ComputeEigenvectors::Yes
        } else {
            ComputeEigenvectors::No
        };
        let mut u = with_vectors.then(|| Mat::<f64>::zeros(m, m));
        let mut buffer = MemBuffer::new(evd::self_adjoint_evd_scratch::<f64>(
            m,
            compute,
            Par::Seq,
            Default::default(),
        ));
        evd::tridiagonal_self_adjoint_evd(
            DiagRef::from_slice(self.diag),
            DiagRef::from_slice(&offdiag),
            DiagMut::from_slice_mut(&mut values),
            u.as_mut().map(|u| u.as_mut()),
            Par::Seq,
            MemStack::new(&mut buffer),
            Default::default(),
        )
        .map_err(|_| HessianError::EigenNoConvergence { dim: m })?;
        Ok((values, u))
    }

    /// Eigenvalues, ascending.
    pub fn eigenvalues(&self) -> Result<Vec<f64>, HessianError> {
        Ok(self.solve(false)?.0)
    }

    /// Eigenvalues (ascending) and eigenvectors (column `j` for value `j`).
    pub fn eigen(&self) -> Result<(Vec<f64>, Mat<f64>), HessianError> {
        let (values, u) = self.solve(true)?;
        Ok((values, u.expect("eigenvectors were requested")))
    }

    /// `max_i (|d_i| + |e_{i-1}| + |e_i|)`, a bound on the spectral radius.
    pub fn norm_bound(&self) -> f64 {
        let m = self.dim();
        (0..m)
            .map(|i| {
                let left = if i > 0 {
                    self.offdiag[i - 1].abs()
                } else {
                    0.0
                };
                let right = if i + 1 < m {
                    self.offdiag[i].abs()
                } else {
                    0.0
                };
                self.diag[i].abs() + left + right
            })
            .fold(0.0, f64::max)
    }

    /// A unit eigenvector for the (accurate) eigenvalue `theta` by two steps of inverse
    /// iteration, O(m): how Lanczos estimates residuals every step without an O(m^3) solve.
    ///
    /// Factors `T - theta I` by Gaussian elimination with partial pivoting (LAPACK's
    /// `dgttrf`/`dgtts2`); exactly singular pivots are nudged to `eps * ||T||`, which is what
    /// makes inverse iteration at an eigenvalue work (LAPACK `dstein` does the same).
    pub fn eigenvector_near(&self, theta: f64) -> Vec<f64> {
        let m = self.dim();
        let tiny = f64::EPSILON * self.norm_bound().max(f64::MIN_POSITIVE);
        let mut d: Vec<f64> = self.diag.iter().map(|a| a - theta).collect();
        let mut dl = self.offdiag.to_vec();
        let mut du = self.offdiag.to_vec();
        let mut du2 = vec![0.0; m.saturating_sub(2)];
        let mut swapped = vec![false; m.saturating_sub(1)];
        for i in 0..m.saturating_sub(1) {
            if d[i].abs() >= dl[i].abs() {
                if d[i] != 0.0 {
                    let fact = dl[i] / d[i];
                    dl[i] = fact;
                    d[i + 1] -= fact * du[i];
                }
            } else {
                let fact = d[i] / dl[i];
                d[i] = dl[i];
                dl[i] = fact;
                let temp = du[i];
                du[i] = d[i + 1];
                d[i + 1] = temp - fact * d[i + 1];
                if i + 2 < m {
                    du2[i] = du[i + 1];
                    du[i + 1] *= -fact;
                }
                swapped[i] = true;
            }
        }
        for pivot in &mut d {
            if pivot.abs() < tiny {
                *pivot = if *pivot < 0.0 { -tiny } else { tiny };
            }
        }
        // A start vector with no special structure, so it is not orthogonal to the answer.
        let mut x: Vec<f64> = (0..m)
            .map(|i| 1.0 + 0.1 * ((i * 7919) % 13) as f64)
            .collect();
        for _iteration in 0..2 {
            for i in 0..m.saturating_sub(1) {
                if swapped[i] {
                    let temp = x[i];
                    x[i] = x[i + 1];
                    x[i + 1] = temp - dl[i] * x[i];
                } else {
                    x[i + 1] -= dl[i] * x[i];
                }
            }
            for i in (0..m).rev() {
                let mut r = x[i];
                if i + 1 < m {
                    r -= du[i] * x[i + 1];
                }
                if i + 2 < m {
                    r -= du2[i] * x[i + 2];
                }
                x[i] = r / d[i];
            }
            let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm == 0.0 || !norm.is_finite() {
                break;
            }
            for v in &mut x {
                *v /= norm;
            }
        }
        x
    }

    /// `||(T - theta I) x||`.
    pub fn residual(&self, theta: f64, x: &[f64]) -> f64 {
        let m = self.dim();
        (0..m)
            .map(|i| {
                let mut r = (self.diag[i] - theta) * x[i];
                if i > 0 {
                    r += self.offdiag[i - 1] * x[i - 1];
                }
                if i + 1 < m {
                    r += self.offdiag[i] * x[i + 1];
                }
                r * r
            })
            .sum::<f64>()
            .sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Vec<f64>, Vec<f64>) {
        let diag = vec![2.0, -1.0, 0.5, 3.0, 1.0, -2.0];
        let offdiag = vec![1.0, 0.3, -0.7, 0.2, 1.5];
        (diag, offdiag)
    }

    #[test]
    fn eigenvalues_match_the_dense_solver() {
        let (diag, offdiag) = sample();
        let t = Tridiagonal {
            diag: &diag,
            offdiag: &offdiag,
        };
        let m = diag.len();
        let dense = Mat::<f64>::from_fn(m, m, |i, j| {
            if i == j {
                diag[i]
            } else if i + 1 == j {
                offdiag[i]
            } else if j + 1 == i {
                offdiag[j]
            } else {
                0.0
            }
        });
        let want = dense.self_adjoint_eigenvalues(faer::Side::Lower).unwrap();
        let got = t.eigenvalues().unwrap();
        // Two backward-stable solvers on a 6x6 matrix with norm ~4: a few ulps apart.
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-13, "{g} vs {w}");
        }
    }

    #[test]
    fn inverse_iteration_finds_each_eigenvector() {
        let (diag, offdiag) = sample();
        let t = Tridiagonal {
            diag: &diag,
            offdiag: &offdiag,
        };
        let (values, vectors) = t.eigen().unwrap();
        for (j, &theta) in values.iter().enumerate() {
            let x = t.eigenvector_near(theta);
            // Residual at rounding level of ||T|| ~ 4.
            assert!(t.residual(theta, &x) < 1e-12, "residual for {theta}");
            let overlap: f64 = (0..diag.len()).map(|i| x[i] * vectors[(i, j)]).sum();
            assert!((overlap.abs() - 1.0).abs() < 1e-12, "overlap {overlap}");
        }
    }

    #[test]
    fn one_by_one_is_its_own_eigenvalue() {
        let t = Tridiagonal {
            diag: &[3.5],
            offdiag: &[],
        };
        assert_eq!(t.eigenvalues().unwrap(), vec![3.5]);
        let x = t.eigenvector_near(3.5);
        assert_eq!(x, vec![1.0]);
    }
}
