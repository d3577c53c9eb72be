//! The bridge to `unstuck-autodiff`: its `Curvature` is an [`HvpOperator`], a tape closure
//! is a [`LossSurface`]. The only file that names the autodiff crate.

use unstuck_autodiff::{AutodiffError, Curvature, Tape, Tensor, Var};

use crate::analysis::{CriticalPointAnalysis, analyze_critical_point};
use crate::classify::ClassifyTolerances;
use crate::dense::{DenseHessian, full_hessian};
use crate::error::{HessianError, check_len};
use crate::operator::HvpOperator;
use crate::surface::{LossSurface, check_point};

/// The recorded Hessian of a tape function: `H·V` is `Curvature::hvp_block`, which spreads
/// the vectors over rayon's threads and is bit-identical for any thread count.
impl HvpOperator for Curvature<f64> {
    fn dim(&self) -> usize {
        Curvature::dim(self)
    }

    fn apply_block(&self, vs: &[f64], k: usize, out: &mut [f64]) -> Result<(), HessianError> {
        check_len("output", out, Curvature::dim(self) * k)?;
        Ok(self.hvp_block_into(vs, k, out)?)
    }

    fn apply_owned(&self, vs: &[f64], k: usize) -> Result<Vec<f64>, HessianError> {
        Ok(self.hvp_block(vs, k)?)
    }
}

/// A loss written with tape ops, `f(&tape, theta) -> scalar`, as a [`LossSurface`].
///
/// # Example
/// ```
/// use unstuck_hessian::{LossSurface, TapeObjective};
/// // The lecture's L(w1, w2) = (1 - w1 w2)^2.
/// let loss = TapeObjective::new(2, |tape: &unstuck_autodiff::Tape<f64>, w| {
///     let w1 = tape.slice(w, 0, 1);
///     let w2 = tape.slice(w, 1, 1);
///     tape.sum(tape.square(tape.shift(tape.neg(tape.mul(w1, w2)), 1.0)))
/// });
/// let (value, gradient) = loss.value_and_gradient(&[0.5, 1.0])?;
/// assert_eq!(value, 0.25);
/// assert_eq!(gradient, vec![-1.0, -0.5]);
/// # Ok::<(), unstuck_hessian::HessianError>(())
/// ```
pub struct TapeObjective<F> {
    dim: usize,
    f: F,
}

impl<F> std::fmt::Debug for TapeObjective<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TapeObjective")
            .field("dim", &self.dim)
            .finish_non_exhaustive()
    }
}

impl<F: Fn(&Tape<f64>, Var) -> Var> TapeObjective<F> {
    /// `f` of `dim` parameters.
    pub fn new(dim: usize, f: F) -> Self {
        Self { dim, f }
    }
}

impl<F: Fn(&Tape<f64>, Var) -> Var> LossSurface for TapeObjective<F> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn value_and_gradient(&self, theta: &[f64]) -> Result<(f64, Vec<f64>), HessianError> {
        check_point(self, theta)?;
        Ok(unstuck_autodiff::gradient(
            |tape, w| (self.f)(tape, w),
            theta,
        )?)
    }

    /// The forward pass alone: no gradient is recorded or swept.
    fn value(&self, theta: &[f64]) -> Result<f64, HessianError> {
        check_point(self, theta)?;
        let tape = Tape::<f64>::new();
        let w = tape.leaf(Tensor::vector(theta.to_vec()));
        let y = (self.f)(&tape, w);
        let dims = tape.dims(y);
        if dims.iter().product::<usize>() != 1 {
            return Err(AutodiffError::NotScalar { shape: dims }.into());
        }
        let value = tape.scalar_value(y);
        if !value.is_finite() {
            return Err(AutodiffError::NonFinite {
                what: "f(theta)",
                index: 0,
            }
            .into());
        }
        Ok(value)
    }

    fn curvature(&self, theta: &[f64]) -> Result<Box<dyn HvpOperator + '_>, HessianError> {
        check_point(self, theta)?;
        Ok(Box::new(Curvature::new(
            |tape, w| (self.f)(tape, w),
            theta,
        )?))
    }
}

/// The dense Hessian of a tape function at `theta`: records the gradient graph once, then
/// P HVPs in parallel column blocks.
///
/// # Example
/// ```
/// let h = unstuck_hessian::hessian_of(
///     |tape: &unstuck_autodiff::Tape<f64>, w| {
///         let w1 = tape.slice(w, 0, 1);
///         let w2 = tape.slice(w, 1, 1);
///         tape.sum(tape.square(tape.shift(tape.neg(tape.mul(w1, w2)), 1.0)))
///     },
///     &[0.0, 0.0],
/// )?;
/// assert_eq!(h.data(), &[0.0, -2.0, -2.0, 0.0]);
/// # Ok::<(), unstuck_hessian::HessianError>(())
/// ```
pub fn hessian_of<F: FnOnce(&Tape<f64>, Var) -> Var>(
    f: F,
    theta: &[f64],
) -> Result<DenseHessian, HessianError> {
    let curvature = Curvature::new(f, theta)?;
    full_hessian(&curvature)
}

/// [`analyze_critical_point`] for a tape function of `theta.len()` parameters.
pub fn analyze_tape_function<F: Fn(&Tape<f64>, Var) -> Var>(
    f: F,
    theta: &[f64],
    tolerances: ClassifyTolerances,
) -> Result<CriticalPointAnalysis, HessianError> {
    analyze_critical_point(&TapeObjective::new(theta.len(), f), theta, tolerances)
}
