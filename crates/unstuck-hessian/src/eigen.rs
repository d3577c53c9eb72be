//! Dense symmetric eigendecomposition with faer's self-adjoint solver.
//!
//! faer's convenience methods (`MatRef::self_adjoint_eigen`) run with its global
//! parallelism, `Par::rayon(0)`, which splits the tridiagonalisation's sums into as many
//! parts as the current rayon pool has threads: the last bits of the eigenvalues (and the
//! eigenvectors inside clusters of equal eigenvalues) then change with the thread count.
//! Here the solver gets a fixed split, [`EIGEN_SPLIT`] parts, whatever the pool's size:
//! faer sums the parts in index order and its matrix products write disjoint tiles, so the
//! result is bit-identical on 1, 2, 3, ... threads, and still runs in parallel.

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self, ComputeEigenvectors};
use faer::{ColRef, Mat, Par};
use rayon::prelude::*;

use crate::dense::DenseHessian;
use crate::divide_conquer::tridiagonal_eigen;
use crate::error::HessianError;
use crate::householder::tridiagonalize;
use crate::vector::normalize_sign;

/// How many parts faer splits the dense eigensolver's parallel work into, whatever the
/// number of threads. Part of the result's definition: another value changes the last
/// bits. 8 keeps up to 8 cores busy; on 1 or 2 threads it is as fast as faer's default
/// (n = 2000, `cargo bench -p unstuck-hessian -- eigen_n2000`), while `Par::Seq` is about
/// twice as slow on 2 cores.
pub const EIGEN_SPLIT: usize = 8;

/// From this dimension on, [`DenseHessian::eigen`] and [`DenseHessian::eigenvalues`] reduce
/// the matrix with our blocked Householder tridiagonalisation (LAPACK's `dsytrd` scheme,
/// see `householder.rs`) instead of faer's column-at-a-time reduction, and solve the
/// tridiagonal matrix by our divide and conquer (`divide_conquer.rs`), which skips the
/// deflated columns in its merge products where faer's multiplies them all. faer's reduction reads and writes the whole trailing
/// matrix once per column; the blocked one reads it once per column and updates it once per
/// 32 columns as a matrix product, which wins once the matrix outgrows the caches: at
/// n = 2000 (values and vectors, 1 thread) about 1.1-1.25x faster, while at 200-1000 it was
/// 0.5-1.1x in the same runs (`eigen_sweep`, see the branch report). In CPU time (1 thread,
/// values and vectors, load about 7) the blocked path took 0.92 s against faer's 1.05-1.13 s
/// at n = 1536 and 8.7 s against 10.2 s at n = 3000. Below, faer's own solver stays, so the
/// report's Hessians (at most [`crate::DENSE_MAX_DIM`]) keep their bits.
pub const BLOCKED_MIN_DIM: usize = 1536;

/// From this dimension on, [`DenseHessian::eigen`] copies the eigenvectors out in
/// parallel (a 256 x 256 matrix is half a megabyte).
const PARALLEL_COPY_MIN_DIM: usize = 256;

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
    /// Bit-identical with any number of rayon threads (see [`EIGEN_SPLIT`]).
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
        let (values, u) = self.solve(ComputeEigenvectors::Yes)?;
        let u = u.expect("eigenvectors were requested");
        let mut vectors = vec![0.0; dim * dim];
        let fill = |(j, column): (usize, &mut [f64])| {
            for (dst, src) in column.iter_mut().zip(u.col(j).iter()) {
                *dst = *src;
            }
            normalize_sign(column);
        };
        // A column's copy and sign do not depend on the others: large matrices (32 MB at
        // n = 2000) take one task per column, small ones (the report's Hessians, many
        // times over) no task at all.
        if dim >= PARALLEL_COPY_MIN_DIM {
            vectors.par_chunks_mut(dim).enumerate().for_each(fill);
        } else if dim > 0 {
            vectors.chunks_mut(dim).enumerate().for_each(fill);
        }
        Ok(SymmetricEigen {
            dim,
            values,
            vectors,
        })
    }

    /// All eigenvalues, ascending, without eigenvectors (several times cheaper).
    ///
    /// Bit-identical with any number of rayon threads (see [`EIGEN_SPLIT`]).
    pub fn eigenvalues(&self) -> Result<Vec<f64>, HessianError> {
        Ok(self.solve(ComputeEigenvectors::No)?.0)
    }

    /// The one place that picks the solver: the blocked reduction from
    /// [`BLOCKED_MIN_DIM`] on, faer's own solver below it.
    pub(crate) fn solve(
        &self,
        compute: ComputeEigenvectors,
    ) -> Result<(Vec<f64>, Option<Mat<f64>>), HessianError> {
        if self.dim() >= BLOCKED_MIN_DIM {
            self.solve_blocked(compute)
        } else {
            self.solve_with_faer(compute)
        }
    }

    /// Our blocked tridiagonalisation, then with vectors our divide and conquer
    /// (`divide_conquer.rs`) and our blocked Householder product for `U <- Q U`; without
    /// vectors faer's tridiagonal QR.
    pub(crate) fn solve_blocked(
        &self,
        compute: ComputeEigenvectors,
    ) -> Result<(Vec<f64>, Option<Mat<f64>>), HessianError> {
        let dim = self.dim();
        // The reduction makes one parallel matrix-vector product per column, 2000 short
        // parallel loops with sequential work between them: woken from sleep each time,
        // the other workers started every one late (n = 2000, 2 threads, 12 reductions
        // each, interleaved: 273-443 ms asleep, 220-323 ms hot).
        let reduced = unstuck_core::with_hot_workers(|| tridiagonalize(dim, self.data()));
        let par = Par::rayon(EIGEN_SPLIT);
        if compute == ComputeEigenvectors::Yes {
            let mut u = Mat::<f64>::zeros(dim, dim);
            let values = tridiagonal_eigen(&reduced.diag, &reduced.offdiag, u.as_mut(), par)
                .map_err(|_| HessianError::EigenNoConvergence { dim })?;
            reduced.apply_q(u.as_mut(), par);
            return Ok((values, Some(u)));
        }
        let (mut values, _, mut scratch) = solver_buffers(dim, compute, par);
        evd::tridiagonal_self_adjoint_evd(
            ColRef::from_slice(&reduced.diag).as_diagonal(),
            ColRef::from_slice(&reduced.offdiag).as_diagonal(),
            values.as_mut(),
            None,
            par,
            MemStack::new(&mut scratch),
            Default::default(),
        )
        .map_err(|_| HessianError::EigenNoConvergence { dim })?;
        Ok((values.column_vector().iter().copied().collect(), None))
    }

    /// faer's own self-adjoint solver on the lower triangle, with the fixed split.
    pub(crate) fn solve_with_faer(
        &self,
        compute: ComputeEigenvectors,
    ) -> Result<(Vec<f64>, Option<Mat<f64>>), HessianError> {
        let dim = self.dim();
        let par = Par::rayon(EIGEN_SPLIT);
        let (mut values, mut u, mut scratch) = solver_buffers(dim, compute, par);
        evd::self_adjoint_evd(
            self.as_mat(),
            values.as_mut(),
            u.as_mut().map(|u| u.as_mut()),
            par,
            MemStack::new(&mut scratch),
            Default::default(),
        )
        .map_err(|_| HessianError::EigenNoConvergence { dim })?;
        Ok((values.column_vector().iter().copied().collect(), u))
    }
}

/// The eigenvalues, the eigenvectors if wanted, and faer's scratch for one solve.
fn solver_buffers(
    dim: usize,
    compute: ComputeEigenvectors,
    par: Par,
) -> (Diag<f64>, Option<Mat<f64>>, MemBuffer) {
    let values = Diag::<f64>::zeros(dim);
    let u = (compute == ComputeEigenvectors::Yes).then(|| Mat::<f64>::zeros(dim, dim));
    let scratch = MemBuffer::new(evd::self_adjoint_evd_scratch::<f64>(
        dim,
        compute,
        par,
        Default::default(),
    ));
    (values, u, scratch)
}

#[cfg(test)]
#[path = "eigen_tests.rs"]
mod blocked_tests;

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
