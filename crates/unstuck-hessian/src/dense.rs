//! The full Hessian, assembled column block by column block from the operator.

use faer::MatRef;
use rayon::prelude::*;

use crate::error::{HessianError, check_finite, check_len};
use crate::operator::HvpOperator;

/// Columns per operator call in [`full_hessian`]: enough to amortise a batched HVP, few
/// enough that P = 3000 still gives ~100 blocks to spread over threads.
pub const DEFAULT_BLOCK_COLUMNS: usize = 32;

/// A dense symmetric Hessian and how far the raw columns were from symmetric.
///
/// The stored matrix is `(C + C^T) / 2` where column `j` of `C` is `H e_j` as the operator
/// returned it, so it is exactly symmetric; row-major and column-major layouts coincide.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseHessian {
    dim: usize,
    data: Vec<f64>,
    asymmetry: f64,
}

/// Assembles the full `P x P` Hessian with `P` HVPs, in blocks of
/// [`DEFAULT_BLOCK_COLUMNS`] columns spread over rayon's threads.
///
/// The blocks are fixed by P alone and every column is computed independently, so the result
/// is bit-identical with any number of threads (given an operator that is itself
/// deterministic).
///
/// # Example
/// ```
/// use unstuck_hessian::{DenseOperator, full_hessian};
/// let op = DenseOperator::new(2, vec![2.0, 1.0, 1.0, 3.0])?;
/// let h = full_hessian(&op)?;
/// assert_eq!(h.entry(0, 1), 1.0);
/// assert_eq!(h.asymmetry(), 0.0);
/// # Ok::<(), unstuck_hessian::HessianError>(())
/// ```
pub fn full_hessian<O: HvpOperator + ?Sized>(op: &O) -> Result<DenseHessian, HessianError> {
    full_hessian_with_block(op, DEFAULT_BLOCK_COLUMNS)
}

/// [`full_hessian`] with a chosen number of columns per operator call.
pub fn full_hessian_with_block<O: HvpOperator + ?Sized>(
    op: &O,
    block_columns: usize,
) -> Result<DenseHessian, HessianError> {
    let n = op.dim();
    if n == 0 {
        return Err(HessianError::EmptyOperator { op: "full_hessian" });
    }
    if block_columns == 0 {
        return Err(HessianError::InvalidConfig {
            field: "block_columns",
            reason: "must be at least 1".into(),
        });
    }
    // Column-major: columns[j * n + i] = (H e_j)_i.
    let mut columns = vec![0.0; n * n];
    columns
        .par_chunks_mut(block_columns * n)
        .enumerate()
        .try_for_each(|(block_idx, out)| {
            let first_col = block_idx * block_columns;
            let k = out.len() / n;
            let mut units = vec![0.0; k * n];
            for j in 0..k {
                units[j * n + first_col + j] = 1.0;
            }
            op.apply_block(&units, k, out)
        })?;
    check_finite("hessian column", &columns)?;
    Ok(symmetrize(n, columns))
}

/// Averages `c` with its transpose in place and records `max |c_ij - c_ji|`.
fn symmetrize(n: usize, mut c: Vec<f64>) -> DenseHessian {
    let mut asymmetry = 0.0_f64;
    for j in 0..n {
        for i in 0..j {
            let (a, b) = (c[j * n + i], c[i * n + j]);
            asymmetry = asymmetry.max((a - b).abs());
            let mean = 0.5 * (a + b);
            c[j * n + i] = mean;
            c[i * n + j] = mean;
        }
    }
    DenseHessian {
        dim: n,
        data: c,
        asymmetry,
    }
}

impl DenseHessian {
    /// Wraps a row-major `dim x dim` matrix you already hold, symmetrising it the same way
    /// the assembly does (so `asymmetry` reports how far it was from symmetric).
    pub fn from_row_major(dim: usize, data: Vec<f64>) -> Result<Self, HessianError> {
        if dim == 0 {
            return Err(HessianError::EmptyOperator {
                op: "DenseHessian::from_row_major",
            });
        }
        check_len("matrix", &data, dim * dim)?;
        check_finite("matrix", &data)?;
        Ok(symmetrize(dim, data))
    }

    /// The number of parameters P.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The `P x P` entries; symmetric, so row-major and column-major alike.
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// `H[row, col]`.
    ///
    /// # Panics
    /// If `row` or `col` is not below `dim()`.
    pub fn entry(&self, row: usize, col: usize) -> f64 {
        assert!(
            row < self.dim && col < self.dim,
            "entry ({row}, {col}) outside {0}x{0}",
            self.dim
        );
        self.data[row * self.dim + col]
    }

    /// `max_ij |H_ij - H_ji|` of the columns before symmetrising: zero for an exact
    /// symmetric operator, rounding-sized for an autodiff Hessian, large for a bug.
    pub fn asymmetry(&self) -> f64 {
        self.asymmetry
    }

    /// [`Self::asymmetry`] divided by `max |H_ij|` (0 for the zero matrix).
    pub fn relative_asymmetry(&self) -> f64 {
        let max = self.data.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
        if max == 0.0 {
            0.0
        } else {
            self.asymmetry / max
        }
    }

    /// The sum of the diagonal.
    pub fn trace(&self) -> f64 {
        (0..self.dim).map(|i| self.data[i * self.dim + i]).sum()
    }

    /// `sqrt(sum H_ij^2)`.
    pub fn frobenius_norm(&self) -> f64 {
        self.data.iter().map(|x| x * x).sum::<f64>().sqrt()
    }

    /// A faer view of the matrix.
    pub fn as_mat(&self) -> MatRef<'_, f64> {
        MatRef::from_column_major_slice(&self.data, self.dim, self.dim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::DenseOperator;

    fn pseudo_random_matrix(n: usize, symmetric: bool) -> DenseOperator {
        // A fixed, irregular pattern: enough to catch transposed or misplaced columns.
        DenseOperator::from_fn(n, |i, j| {
            let (a, b) = if symmetric {
                (i.min(j), i.max(j))
            } else {
                (i, j)
            };
            ((a * 31 + b * 17) % 23) as f64 / 7.0 - 1.5
        })
        .unwrap()
    }

    #[test]
    fn assembly_reproduces_the_matrix_across_block_sizes() {
        let op = pseudo_random_matrix(70, true);
        for block in [1, 7, 32, 100] {
            let h = full_hessian_with_block(&op, block).unwrap();
            // Products with unit vectors are exact, so equality is the point.
            assert_eq!(h.data(), op.data(), "block size {block}");
            assert_eq!(h.asymmetry(), 0.0);
        }
    }

    #[test]
    fn asymmetry_is_reported_and_removed() {
        let op = DenseOperator::new(2, vec![1.0, 2.0, 2.5, 3.0]).unwrap();
        let h = full_hessian(&op).unwrap();
        // |2 - 2.5| and the mean 2.25 are exact in binary.
        assert_eq!(h.asymmetry(), 0.5);
        assert_eq!(h.entry(0, 1), 2.25);
        assert_eq!(h.entry(1, 0), 2.25);
        assert!((h.relative_asymmetry() - 0.5 / 3.0).abs() < 1e-15);
    }

    #[test]
    fn symmetrizing_averages_every_pair_and_keeps_the_diagonal() {
        let n = 130;
        let c: Vec<f64> = (0..n * n)
            .map(|x| ((x * 7919) % 1009) as f64 / 97.0 - 5.0)
            .collect();
        let h = symmetrize(n, c.clone());
        let mut asymmetry = 0.0_f64;
        for i in 0..n {
            for j in 0..n {
                let (a, b) = (c[i * n + j], c[j * n + i]);
                asymmetry = asymmetry.max((a - b).abs());
                let expected = if i == j { a } else { 0.5 * (a + b) };
                assert_eq!(h.entry(i, j).to_bits(), expected.to_bits(), "({i}, {j})");
            }
        }
        assert_eq!(h.asymmetry(), asymmetry);
    }

    #[test]
    fn one_and_two_threads_give_identical_bits() {
        let op = pseudo_random_matrix(97, false);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| full_hessian_with_block(&op, 8).unwrap())
        };
        let one = run(1);
        let two = run(2);
        let same_bits = one
            .data()
            .iter()
            .zip(two.data())
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same_bits);
        assert!(
            one.asymmetry() > 0.0,
            "the test matrix must be asymmetric to test averaging"
        );
    }

    #[test]
    fn trace_and_frobenius_of_a_small_matrix() {
        let h = DenseHessian::from_row_major(2, vec![3.0, 4.0, 4.0, -3.0]).unwrap();
        assert_eq!(h.trace(), 0.0);
        // sqrt(9 + 16 + 16 + 9) = sqrt(50), one rounding.
        assert!((h.frobenius_norm() - 50f64.sqrt()).abs() < 1e-14);
    }

    #[test]
    fn empty_operator_is_an_error() {
        let op = DenseOperator::new(0, vec![]).unwrap();
        assert!(matches!(
            full_hessian(&op),
            Err(HessianError::EmptyOperator { .. })
        ));
    }
}
