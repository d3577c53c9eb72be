//! Dense symmetric eigendecomposition with faer's self-adjoint solver.

use faer::Side;

use crate::dense::DenseHessian;
use crate::error::HessianError;
use crate::vector::normalize_sign;

/// Eigenvalues in ascending order and their unit eigenvectors.
///
/// Each eigenvector is signed so that its largest-magnitude entry is positive (ties go to
/// the lowest index), the convention of the golden files.
#[derive(Debug, Clone, PartialEq)]
pub struct SymmetricEigen {
    dim: usize,
    values: Vec<f64>,
    /// Column-major: eigenvector `j` is `vectors[j * dim..(j + 1) * dim]`.
    vectors: Vec<f64>,
}

impl SymmetricEigen {
    /// The eigenvalues, ascending.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The unit eigenvector of `values()[j]`.
    ///
    /// # Panics
    /// If `j` is not below the dimension.
    pub fn vector(&self, j: usize) -> &[f64] {
        assert!(
            j < self.dim,
            "eigenvector {j} of a {}-dimensional problem",
            self.dim
        );
        &self.vectors[j * self.dim..(j + 1) * self.dim]
    }

    /// All eigenvectors, one after another (eigenvector `j` at `j * P`).
    pub fn vectors(&self) -> &[f64] {
        &self.vectors
    }

    /// The matrix size P.
    pub fn dim(&self) -> usize {
        self.dim
    }
}

impl DenseHessian {
    /// All eigenvalues (ascending) with eigenvectors, by faer's self-adjoint solver.
    ///
    /// # Example
    /// ```
    /// use unstuck_hessian::DenseHessian;
    /// let h = DenseHessian::from_row_major(2, vec![0.0, -2.0, -2.0, 0.0])?;
    /// let eig = h.eigen()?;
    /// assert!((eig.values()[0] + 2.0).abs() < 1e-15);
    /// let s = 0.5f64.sqrt();
    /// assert!((eig.vector(0)[0] - s).abs() < 1e-15 && (eig.vector(0)[1] - s).abs() < 1e-15);
    /// # Ok::<(), unstuck_hessian::HessianError>(())
    /// ```
    pub fn eigen(&self) -> Result<SymmetricEigen, HessianError> {
        let dim = self.dim();
        let evd = self
            .as_mat()
            .self_adjoint_eigen(Side::Lower)
            .map_err(|_| HessianError::EigenNoConvergence { dim })?;
        let values: Vec<f64> = (0..dim).map(|j| evd.S()[j]).collect();
        let u = evd.U();
        let mut vectors = Vec::with_capacity(dim * dim);
        for j in 0..dim {
            let start = vectors.len();
            vectors.extend(u.col(j).iter().copied());
            normalize_sign(&mut vectors[start..]);
        }
        Ok(SymmetricEigen {
            dim,
            values,
            vectors,
        })
    }

    /// All eigenvalues, ascending, without eigenvectors (several times cheaper).
    pub fn eigenvalues(&self) -> Result<Vec<f64>, HessianError> {
        self.as_mat()
            .self_adjoint_eigenvalues(Side::Lower)
            .map_err(|_| HessianError::EigenNoConvergence { dim: self.dim() })
    }
}

#[cfg(test)]
mod tests {
    use crate::dense::DenseHessian;

    #[test]
    fn eigenpairs_reconstruct_the_matrix() {
        let n = 40;
        let data: Vec<f64> = (0..n * n)
            .map(|idx| {
                let (i, j) = (idx / n, idx % n);
                let (a, b) = (i.min(j), i.max(j));
                (((a * 13 + b * 7) % 11) as f64 - 5.0) / 3.0
            })
            .collect();
        let h = DenseHessian::from_row_major(n, data.clone()).unwrap();
        let eig = h.eigen().unwrap();
        assert!(eig.values().windows(2).all(|w| w[0] <= w[1]), "ascending");
        // V diag(lambda) V^T = H; entries are O(1) and n = 40, so 1e-12 leaves room for
        // backward-stable rounding of order n * eps * ||H||.
        for i in 0..n {
            for j in 0..n {
                let rebuilt: f64 = (0..n)
                    .map(|k| eig.values()[k] * eig.vector(k)[i] * eig.vector(k)[j])
                    .sum();
                assert!((rebuilt - data[i * n + j]).abs() < 1e-12, "({i},{j})");
            }
        }
        let values_only = h.eigenvalues().unwrap();
        for (a, b) in values_only.iter().zip(eig.values()) {
            assert!((a - b).abs() < 1e-12);
        }
    }
}
