//! The gradient of a training step without copies: theta moved onto the tape and back,
//! the gradient's buffer handed over instead of copied out.

use crate::buffers;
use crate::error::ensure_finite;
use crate::tape::{Tape, Var};
use crate::tensor::Tensor;
use crate::{AutodiffError, Element, Shape};

/// The value of the recorded scalar `y`, or the error that says why it is not one (not a
/// single element, or not finite).
pub(crate) fn scalar_output<T: Element>(tape: &Tape<T>, y: Var) -> Result<T, AutodiffError> {
    let shape = tape.shape_of(y);
    if shape.numel() != 1 {
        return Err(AutodiffError::NotScalar {
            shape: shape.dims().to_vec(),
        });
    }
    let value = tape.scalar_value(y);
    ensure_finite("f(theta)", &[value])?;
    Ok(value)
}

impl<T: Element> Tape<T> {
    /// Moves the elements of `leaf`, an input recorded with [`Tape::leaf`], back out of
    /// the tape: a training loop moves its parameters onto the step's tape and takes them
    /// back instead of copying them there (as [`gradient_into`] does). The elements are
    /// the ones moved in, bit for bit.
    ///
    /// This is the tape's last use of `leaf`: afterwards it and every view of it (slices,
    /// reshapes) hold no elements, so clear or drop the tape next.
    ///
    /// # Panics
    /// If `leaf` belongs to another tape or is a view of another node.
    ///
    /// ```
    /// use unstuck_autodiff::{Tape, Tensor};
    /// let mut theta = vec![1.5, -2.0];
    /// let tape = Tape::<f64>::new();
    /// let w = tape.leaf(Tensor::vector(std::mem::take(&mut theta)));
    /// let loss = tape.sum(tape.square(w));
    /// let grad = tape.grad(loss, &[w]).pop().unwrap();
    /// theta = tape.take_leaf(w);
    /// assert_eq!((theta, grad.into_data()), (vec![1.5, -2.0], vec![3.0, -4.0]));
    /// ```
    pub fn take_leaf(&self, leaf: Var) -> Vec<T> {
        self.take_owned(leaf)
    }
}

/// [`gradient`](crate::gradient) for a training loop: `theta` is moved onto the tape and
/// back instead of copied, and `grad` receives the gradient's own buffer (its old one is
/// kept for the next step), so a step copies neither vector. Same values, same bits.
///
/// `theta` is left as it was on every outcome, errors included (a panic inside `f`
/// loses it); `grad` holds the gradient only on success.
///
/// With [`unstuck_core::HOT_STEP_PARAMS`] parameters or more, rayon's other workers poll
/// for jobs while it runs instead of sleeping between its parallel loops
/// ([`unstuck_core::with_hot_step`]).
///
/// ```
/// use unstuck_autodiff::gradient_into;
/// let f = |tape: &unstuck_autodiff::Tape<f64>, w| tape.sum(tape.square(w));
/// let (mut theta, mut grad) = (vec![1.0, -2.0], Vec::new());
/// for _ in 0..3 {
///     let loss = gradient_into(f, &mut theta, &mut grad).unwrap();
///     assert!(loss > 0.0);
///     for (t, g) in theta.iter_mut().zip(&grad) {
///         *t -= 0.25 * g;
///     }
/// }
/// assert_eq!(theta, vec![0.125, -0.25]);
/// ```
pub fn gradient_into<T: Element, F>(
    f: F,
    theta: &mut Vec<T>,
    grad: &mut Vec<T>,
) -> Result<T, AutodiffError>
where
    F: FnOnce(&Tape<T>, Var) -> Var,
{
    ensure_finite("theta", theta)?;
    unstuck_core::with_hot_step(theta.len(), move || {
        let tape = Tape::new();
        let n = theta.len();
        let theta_var = tape.leaf(Tensor::from_parts(std::mem::take(theta), Shape::vector(n)));
        let y = f(&tape, theta_var);
        let value = scalar_output(&tape, y);
        let gradient = value.is_ok().then(|| {
            tape.grad(y, &[theta_var])
                .pop()
                .expect("one gradient per input")
        });
        *theta = tape.take_owned(theta_var);
        let value = value?;
        if let Some(gradient) = gradient {
            buffers::give(std::mem::replace(grad, gradient.into_data()));
        }
        Ok(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loss(tape: &Tape<f64>, w: Var) -> Var {
        let a = tape.slice(w, 0, 2);
        let b = tape.slice(w, 2, 2);
        tape.sum(tape.mul(tape.tanh(a), b))
    }

    #[test]
    fn moved_theta_gives_the_bits_of_the_copying_gradient_and_comes_back() {
        let theta0 = vec![0.3, -1.2, 0.7, 2.5];
        let (value, expected) = crate::gradient(loss, &theta0).unwrap();
        let mut theta = theta0.clone();
        let mut grad = vec![9.0; 7];
        let got = gradient_into(loss, &mut theta, &mut grad).unwrap();
        assert_eq!(got.to_bits(), value.to_bits());
        assert_eq!(theta, theta0);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&grad), bits(&expected));
    }

    #[test]
    fn theta_comes_back_when_the_function_is_refused() {
        let theta0 = vec![1.0, 2.0, 3.0];
        let mut theta = theta0.clone();
        let mut grad = vec![5.0];
        let err = gradient_into(|_, w| w, &mut theta, &mut grad).unwrap_err();
        assert!(matches!(err, AutodiffError::NotScalar { .. }), "{err}");
        assert_eq!((theta.clone(), grad.clone()), (theta0.clone(), vec![5.0]));
        let err = gradient_into(
            |tape: &Tape<f64>, w| tape.log(tape.scale(tape.sum(w), 0.0)),
            &mut theta,
            &mut grad,
        )
        .unwrap_err();
        assert!(matches!(err, AutodiffError::NonFinite { .. }), "{err}");
        assert_eq!(theta, theta0);
        theta[1] = f64::NAN;
        assert!(gradient_into(|t: &Tape<f64>, w| t.sum(w), &mut theta, &mut grad).is_err());
        assert_eq!(theta.len(), 3);
    }
}
