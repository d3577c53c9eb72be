//! A loss that can be evaluated anywhere: what the point-moving tools need.

use crate::error::{HessianError, check_finite, check_len};
use crate::operator::{DenseOperator, HvpOperator};

/// A twice-differentiable scalar function of P parameters: a loss surface to move on.
///
/// Not to be confused with `unstuck_models::Objective`, a model, a batch and a loss
/// bound together: this crate sees no models, and [`crate::TapeObjective`] turns such a
/// recorded loss into a `LossSurface`.
///
/// The escape step, Newton refinement and epsilon-sharpness move theta, so they need value,
/// gradient and curvature at points other than the one analysed. Implementations must
/// return errors (not panic) on bad input; the tools check lengths and finiteness of theta
/// before calling.
pub trait LossSurface {
    /// The number of parameters P.
    fn dim(&self) -> usize;

    /// The loss and its gradient at `theta`.
    fn value_and_gradient(&self, theta: &[f64]) -> Result<(f64, Vec<f64>), HessianError>;

    /// The loss alone (defaults to [`Self::value_and_gradient`]; override if cheaper).
    fn value(&self, theta: &[f64]) -> Result<f64, HessianError> {
        Ok(self.value_and_gradient(theta)?.0)
    }

    /// The Hessian at `theta`, as an operator.
    fn curvature(&self, theta: &[f64]) -> Result<Box<dyn HvpOperator + '_>, HessianError>;
}

/// Validates a point for `obj`: right length, all finite.
pub(crate) fn check_point<F: LossSurface + ?Sized>(
    obj: &F,
    theta: &[f64],
) -> Result<(), HessianError> {
    check_len("theta", theta, obj.dim())?;
    check_finite("theta", theta)
}

/// An objective given by closures: value with gradient, and the dense Hessian (row-major).
///
/// For analytic test functions and small problems whose Hessian you can write down.
///
/// # Example
/// ```
/// use unstuck_hessian::{ExplicitObjective, LossSurface};
/// // The lecture's L(w1, w2) = (1 - w1 w2)^2.
/// let loss = ExplicitObjective::new(
///     2,
///     |w: &[f64]| {
///         let r = 1.0 - w[0] * w[1];
///         (r * r, vec![-2.0 * r * w[1], -2.0 * r * w[0]])
///     },
///     |w: &[f64]| {
///         let r = 1.0 - w[0] * w[1];
///         vec![2.0 * w[1] * w[1], 2.0 * w[0] * w[1] - 2.0 * r, 2.0 * w[0] * w[1] - 2.0 * r, 2.0 * w[0] * w[0]]
///     },
/// );
/// assert_eq!(loss.value(&[0.0, 0.0])?, 1.0);
/// # Ok::<(), unstuck_hessian::HessianError>(())
/// ```
pub struct ExplicitObjective<V, H> {
    dim: usize,
    value_and_gradient: V,
    hessian: H,
}

impl<V, H> std::fmt::Debug for ExplicitObjective<V, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExplicitObjective")
            .field("dim", &self.dim)
            .finish_non_exhaustive()
    }
}

impl<V, H> ExplicitObjective<V, H>
where
    V: Fn(&[f64]) -> (f64, Vec<f64>),
    H: Fn(&[f64]) -> Vec<f64>,
{
    /// `value_and_gradient(theta)` returns the loss and gradient, `hessian(theta)` the
    /// row-major `dim x dim` Hessian.
    pub fn new(dim: usize, value_and_gradient: V, hessian: H) -> Self {
        Self {
            dim,
            value_and_gradient,
            hessian,
        }
    }
}

impl<V, H> LossSurface for ExplicitObjective<V, H>
where
    V: Fn(&[f64]) -> (f64, Vec<f64>),
    H: Fn(&[f64]) -> Vec<f64>,
{
    fn dim(&self) -> usize {
        self.dim
    }

    fn value_and_gradient(&self, theta: &[f64]) -> Result<(f64, Vec<f64>), HessianError> {
        check_point(self, theta)?;
        let (value, gradient) = (self.value_and_gradient)(theta);
        check_len("gradient", &gradient, self.dim)?;
        check_finite("value", &[value])?;
        check_finite("gradient", &gradient)?;
        Ok((value, gradient))
    }

    fn curvature(&self, theta: &[f64]) -> Result<Box<dyn HvpOperator + '_>, HessianError> {
        check_point(self, theta)?;
        Ok(Box::new(DenseOperator::new(
            self.dim,
            (self.hessian)(theta),
        )?))
    }
}
