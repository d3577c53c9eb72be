//! The Hessian restricted to one block of parameters (one layer, say).

use std::ops::Range;

use crate::error::{HessianError, check_len};
use crate::operator::HvpOperator;
use crate::summary::{SpectrumMethod, SpectrumPolicy, summarize};

/// A named range of parameter indices, e.g. `("layers.0.weight", 0..48)`.
///
/// The caller builds these from its model's parameter layout; this crate knows no models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamBlock {
    /// A name for reports.
    pub name: String,
    /// Parameter indices `start..end` into theta.
    pub range: Range<usize>,
}

impl ParamBlock {
    /// A block named `name` covering `range`.
    pub fn new(name: impl Into<String>, range: Range<usize>) -> Self {
        Self {
            name: name.into(),
            range,
        }
    }
}

/// The diagonal block `H[range, range]` of an operator: apply with zeros outside the range,
/// keep the rows inside it. One HVP of the full operator per vector.
///
/// # Example
/// ```
/// use unstuck_hessian::{BlockOperator, DenseOperator, ParamBlock, full_hessian};
/// let op = DenseOperator::new(3, vec![1.0, 2.0, 3.0, 2.0, 4.0, 5.0, 3.0, 5.0, 6.0])?;
/// let block = BlockOperator::new(&op, &ParamBlock::new("last two", 1..3))?;
/// assert_eq!(full_hessian(&block)?.data(), &[4.0, 5.0, 5.0, 6.0]);
/// # Ok::<(), unstuck_hessian::HessianError>(())
/// ```
#[derive(Debug)]
pub struct BlockOperator<'a, O: HvpOperator + ?Sized> {
    inner: &'a O,
    range: Range<usize>,
}

impl<'a, O: HvpOperator + ?Sized> BlockOperator<'a, O> {
    /// Restricts `inner` to `block`; the block must be non-empty and inside `0..P`.
    pub fn new(inner: &'a O, block: &ParamBlock) -> Result<Self, HessianError> {
        let dim = inner.dim();
        let Range { start, end } = block.range;
        if start >= end {
            return Err(HessianError::EmptyBlock {
                name: block.name.clone(),
            });
        }
        if end > dim {
            return Err(HessianError::BlockOutOfRange {
                name: block.name.clone(),
                start,
                end,
                dim,
            });
        }
        Ok(Self {
            inner,
            range: block.range.clone(),
        })
    }
}

impl<O: HvpOperator + ?Sized> HvpOperator for BlockOperator<'_, O> {
    fn dim(&self) -> usize {
        self.range.len()
    }

    fn apply_block(&self, vs: &[f64], k: usize, out: &mut [f64]) -> Result<(), HessianError> {
        let (n, full) = (self.range.len(), self.inner.dim());
        check_len("vectors", vs, n * k)?;
        check_len("output", out, n * k)?;
        let mut padded = vec![0.0; full * k];
        for (dst, src) in padded.chunks_exact_mut(full).zip(vs.chunks_exact(n)) {
            dst[self.range.clone()].copy_from_slice(src);
        }
        let mut full_out = vec![0.0; full * k];
        self.inner.apply_block(&padded, k, &mut full_out)?;
        for (dst, src) in out.chunks_exact_mut(n).zip(full_out.chunks_exact(full)) {
            dst.copy_from_slice(&src[self.range.clone()]);
        }
        Ok(())
    }
}

/// Curvature summary of one parameter block.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockSummary {
    /// The block's name.
    pub name: String,
    /// Its number of parameters.
    pub dim: usize,
    /// Largest eigenvalue of the diagonal block.
    pub max_eigenvalue: f64,
    /// Smallest eigenvalue of the diagonal block.
    pub min_eigenvalue: f64,
    /// Trace of the diagonal block (exact when `exact`, else a Hutch++ estimate).
    pub trace: f64,
    /// Whether the numbers come from the dense block (true) or from Lanczos and Hutch++.
    pub exact: bool,
    /// Operator applications used for this block.
    pub n_hvp: usize,
}

/// Extreme eigenvalues and trace of each block's diagonal Hessian block: which layer is
/// sharp, which one holds the negative curvature. Each block is [`summarize`]d under
/// `policy` (dense up to its size limit, Lanczos and Hutch++ above), with one eigenvalue
/// at each end and always a trace.
pub fn block_summaries<O: HvpOperator + ?Sized>(
    op: &O,
    blocks: &[ParamBlock],
    policy: &SpectrumPolicy,
) -> Result<Vec<BlockSummary>, HessianError> {
    let policy = SpectrumPolicy {
        k: 1,
        trace: Some(policy.trace.unwrap_or_default()),
        lowest_vector: false,
        ..*policy
    };
    blocks
        .iter()
        .map(|block| {
            let summary = summarize(&BlockOperator::new(op, block)?, &policy)?;
            let trace = summary.trace.expect("the policy asks for a trace");
            Ok(BlockSummary {
                name: block.name.clone(),
                dim: summary.dim,
                max_eigenvalue: summary.largest[0],
                min_eigenvalue: summary.smallest[0],
                trace: trace.estimate,
                exact: summary.method == SpectrumMethod::Dense,
                n_hvp: summary.n_hvp,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dense::full_hessian;
    use crate::lanczos::LanczosConfig;
    use crate::operator::tests::coupled_diagonal as op;
    use crate::trace::TraceConfig;

    #[test]
    fn block_operator_is_the_diagonal_block() {
        let full = op(40);
        let block = BlockOperator::new(&full, &ParamBlock::new("mid", 10..25)).unwrap();
        let h = full_hessian(&block).unwrap();
        for i in 0..15 {
            for j in 0..15 {
                // Copies of entries through products with unit vectors: exact.
                assert_eq!(h.entry(i, j), full.data()[(i + 10) * 40 + j + 10]);
            }
        }
    }

    #[test]
    fn dense_and_matrix_free_summaries_agree() {
        let full = op(60);
        let blocks = [ParamBlock::new("a", 0..30), ParamBlock::new("b", 30..60)];
        let policy = SpectrumPolicy {
            lanczos: LanczosConfig {
                tol: 1e-10,
                ..LanczosConfig::default()
            },
            ..SpectrumPolicy::default()
        };
        let exact = block_summaries(&full, &blocks, &policy).unwrap();
        let free = block_summaries(
            &full,
            &blocks,
            &SpectrumPolicy {
                dense_max_dim: 0,
                trace: Some(TraceConfig {
                    n_hvp: 90,
                    block: 30,
                    seed: 1,
                }),
                ..policy
            },
        )
        .unwrap();
        for (e, f) in exact.iter().zip(&free) {
            assert!(e.exact && !f.exact);
            assert_eq!(e.dim, 30);
            // Lanczos converged to residual 1e-10: eigenvalues agree to far better than 1e-8.
            assert!((e.max_eigenvalue - f.max_eigenvalue).abs() < 1e-8);
            assert!((e.min_eigenvalue - f.min_eigenvalue).abs() < 1e-8);
            // Hutch++ with 30 sketch vectors spans the 30-dim block: exact up to rounding.
            assert!(
                (e.trace - f.trace).abs() < 1e-9,
                "{} vs {}",
                e.trace,
                f.trace
            );
        }
        assert!(
            (exact[0].min_eigenvalue + 20.0).abs() < 0.5
                && (exact[1].max_eigenvalue - 39.0).abs() < 0.5
        );
    }

    #[test]
    fn empty_and_out_of_range_blocks_are_errors() {
        let full = op(5);
        assert!(matches!(
            BlockOperator::new(&full, &ParamBlock::new("none", 3..3)),
            Err(HessianError::EmptyBlock { .. })
        ));
        assert!(matches!(
            BlockOperator::new(&full, &ParamBlock::new("past", 3..9)),
            Err(HessianError::BlockOutOfRange { end: 9, dim: 5, .. })
        ));
    }
}
