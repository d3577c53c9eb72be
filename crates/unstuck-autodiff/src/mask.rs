//! A boolean mask for [`Tape::masked_fill`](crate::Tape::masked_fill).

use crate::AutodiffError;
use crate::shape::Shape;
use std::sync::Arc;

/// Which entries of a tensor to overwrite; it broadcasts to the tensor (NumPy rules), so
/// one `[T, T]` causal mask serves every head and batch of `[B, H, T, T]` scores.
///
/// ```
/// use unstuck_autodiff::Mask;
/// let causal = Mask::causal(3);
/// // Row i (a query) may not see columns j > i (later keys).
/// assert_eq!(causal.data(), &[false, true, true, false, false, true, false, false, false]);
/// assert!(Mask::new(vec![true; 5], &[2, 3]).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mask {
    data: Arc<[bool]>,
    shape: Shape,
}

impl Mask {
    /// A mask from row-major data and dimensions; the data must fill the shape.
    pub fn new(data: Vec<bool>, dims: &[usize]) -> Result<Self, AutodiffError> {
        let shape = Shape::filled(dims, data.len())?;
        Ok(Mask {
            data: data.into(),
            shape,
        })
    }

    /// The `[n, n]` mask of causal attention: true above the diagonal (key after query).
    pub fn causal(n: usize) -> Self {
        let data: Vec<bool> = (0..n * n).map(|k| k % n > k / n).collect();
        Mask {
            data: data.into(),
            shape: Shape::matrix(n, n),
        }
    }

    /// The entries, row-major.
    pub fn data(&self) -> &[bool] {
        &self.data
    }

    /// The shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }
}
