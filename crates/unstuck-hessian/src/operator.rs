//! The one primitive every tool stands on: `H·V` for a block of vectors.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

use crate::error::{HessianError, check_finite, check_len};

/// A symmetric linear operator `v -> H v` on `R^P`, usually a Hessian applied matrix-free.
///
/// The crate knows nothing of models: anything that can multiply its Hessian by a block of
/// vectors (an autodiff tape, an explicit matrix, a restriction to one layer) plugs in here.
/// `Sync` because the dense assembly calls it from several rayon threads at once.
///
/// # Layout
/// `vs` holds `k` vectors one after another: vector `j` is `vs[j * P..(j + 1) * P]`; `out`
/// has the same layout and length `k * P`. Implementations may assume both lengths are right:
/// the crate's tools check them before calling.
pub trait HvpOperator: Sync {
    /// The number of parameters P.
    fn dim(&self) -> usize;

    /// Writes `H v_j` into `out` for each of the `k` vectors of `vs`.
    fn apply_block(&self, vs: &[f64], k: usize, out: &mut [f64]) -> Result<(), HessianError>;

    /// `H v_j` for each of the `k` vectors of `vs`, in a new vector. The default zeroes one
    /// and calls [`HvpOperator::apply_block`]; an operator whose products come out as a
    /// vector of their own (an autodiff sweep) returns that one instead of copying it.
    fn apply_owned(&self, vs: &[f64], k: usize) -> Result<Vec<f64>, HessianError> {
        let mut out = vec![0.0; self.dim() * k];
        self.apply_block(vs, k, &mut out)?;
        Ok(out)
    }
}

impl<O: HvpOperator + ?Sized> HvpOperator for &O {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn apply_block(&self, vs: &[f64], k: usize, out: &mut [f64]) -> Result<(), HessianError> {
        (**self).apply_block(vs, k, out)
    }
    fn apply_owned(&self, vs: &[f64], k: usize) -> Result<Vec<f64>, HessianError> {
        (**self).apply_owned(vs, k)
    }
}

impl<O: HvpOperator + ?Sized> HvpOperator for Box<O> {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn apply_block(&self, vs: &[f64], k: usize, out: &mut [f64]) -> Result<(), HessianError> {
        (**self).apply_block(vs, k, out)
    }
    fn apply_owned(&self, vs: &[f64], k: usize) -> Result<Vec<f64>, HessianError> {
        (**self).apply_owned(vs, k)
    }
}

/// Applies `op` to `k` vectors after checking lengths, and checks the result is finite.
///
/// Every tool in the crate calls the operator through this function, so a NaN coming out of
/// a model is reported where it appears instead of poisoning an eigensolver.
pub fn apply_checked<O: HvpOperator + ?Sized>(
    op: &O,
    vs: &[f64],
    k: usize,
) -> Result<Vec<f64>, HessianError> {
    let dim = op.dim();
    check_len("vectors", vs, dim * k)?;
    let out = op.apply_owned(vs, k)?;
    check_len("hvp", &out, dim * k)?;
    check_finite("hvp", &out)?;
    Ok(out)
}

/// An explicit dense symmetric matrix as an operator: the reference for tests and the way
/// to analyse a Hessian you already hold.
///
/// # Example
/// ```
/// use unstuck_hessian::{DenseOperator, HvpOperator, apply_checked};
/// let op = DenseOperator::new(2, vec![0.0, -2.0, -2.0, 0.0])?;
/// assert_eq!(apply_checked(&op, &[1.0, 1.0], 1)?, vec![-2.0, -2.0]);
/// # Ok::<(), unstuck_hessian::HessianError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DenseOperator {
    dim: usize,
    /// Row-major `dim x dim`.
    data: Vec<f64>,
}

impl DenseOperator {
    /// Wraps a row-major `dim x dim` matrix. Symmetry is not checked: the dense assembly
    /// measures and reports asymmetry, which is how an asymmetric input shows up.
    pub fn new(dim: usize, data: Vec<f64>) -> Result<Self, HessianError> {
        check_len("matrix", &data, dim * dim)?;
        check_finite("matrix", &data)?;
        Ok(Self { dim, data })
    }

    /// Builds the matrix entry by entry.
    pub fn from_fn(
        dim: usize,
        mut entry: impl FnMut(usize, usize) -> f64,
    ) -> Result<Self, HessianError> {
        let mut data = Vec::with_capacity(dim * dim);
        for row in 0..dim {
            for col in 0..dim {
                data.push(entry(row, col));
            }
        }
        Self::new(dim, data)
    }

    /// The row-major entries.
    pub fn data(&self) -> &[f64] {
        &self.data
    }
}

impl HvpOperator for DenseOperator {
    fn dim(&self) -> usize {
        self.dim
    }

    fn apply_block(&self, vs: &[f64], k: usize, out: &mut [f64]) -> Result<(), HessianError> {
        let n = self.dim;
        check_len("vectors", vs, n * k)?;
        check_len("output", out, n * k)?;
        let a = MatRef::from_row_major_slice(&self.data, n, n);
        let v = MatRef::from_column_major_slice(vs, n, k);
        let dst = MatMut::from_column_major_slice_mut(out, n, k);
        // Sequential on purpose: callers parallelise over blocks, and a fixed order keeps
        // the product bit-identical whatever the thread count.
        matmul(dst, Accum::Replace, a, v, 1.0, Par::Seq);
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A symmetric test matrix with diagonal `i - 20` and small couplings: eigenvalues of
    /// both signs, each near its diagonal entry.
    pub(crate) fn coupled_diagonal(n: usize) -> DenseOperator {
        DenseOperator::from_fn(n, |i, j| {
            let (a, b) = (i.min(j), i.max(j));
            if i == j {
                i as f64 - 20.0
            } else {
                0.05 * (((a * 3 + b) % 5) as f64 - 2.0)
            }
        })
        .unwrap()
    }

    #[test]
    fn dense_operator_multiplies_a_block() {
        let op = DenseOperator::new(2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let out = apply_checked(&op, &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0], 3).unwrap();
        // Columns of A, then A (1,1): integers, exact in f64.
        assert_eq!(out, vec![1.0, 3.0, 2.0, 4.0, 3.0, 7.0]);
    }

    #[test]
    fn wrong_lengths_and_non_finite_inputs_are_errors() {
        assert!(matches!(
            DenseOperator::new(2, vec![1.0; 3]),
            Err(HessianError::LengthMismatch {
                expected: 4,
                got: 3,
                ..
            })
        ));
        assert!(matches!(
            DenseOperator::new(1, vec![f64::NAN]),
            Err(HessianError::NonFinite { index: 0, .. })
        ));
        let op = DenseOperator::new(2, vec![1.0; 4]).unwrap();
        assert!(matches!(
            apply_checked(&op, &[1.0; 3], 2),
            Err(HessianError::LengthMismatch {
                expected: 4,
                got: 3,
                ..
            })
        ));
    }
}
