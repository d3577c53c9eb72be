//! The model contract: a pure function of one flat parameter vector and a batch.

use crate::{ModelError, ParamSpec};
use std::fmt::Debug;
use unstuck_autodiff::{Element, Tape, Tensor, Var};

/// What a model looks like without its numbers: widths and the parameter layout.
///
/// Split from [`Model`] so that these questions need no element type
/// (`mlp.n_params()` rather than `Model::<f64>::n_params(&mlp)`).
pub trait Architecture: Debug + Send + Sync {
    /// Every tensor inside theta, in PyTorch's `state_dict` order, packed without gaps.
    fn layout(&self) -> &[ParamSpec];

    /// The number of parameters `P`, the length of theta.
    fn n_params(&self) -> usize {
        crate::layout::total_len(self.layout())
    }

    /// The number of input features.
    fn input_width(&self) -> usize;

    /// The number of outputs (logits) per example.
    fn output_width(&self) -> usize;
}

/// A model: logits as a function of theta and a batch, recorded on a tape so that
/// gradients and Hessian-vector products with respect to theta are exact.
///
/// ```
/// use unstuck_autodiff::{Tape, Tensor};
/// use unstuck_models::{Architecture, Mlp, Model};
/// let mlp = Mlp::from_spec("3-4-2:relu").unwrap();
/// let theta: Vec<f64> = mlp.init(7);
/// let tape = Tape::new();
/// let theta_var = tape.leaf(Tensor::vector(theta));
/// let x = tape.constant(Tensor::matrix(vec![0.5; 6], 2, 3).unwrap());
/// let logits = mlp.forward_checked(&tape, theta_var, x).unwrap();
/// assert_eq!(tape.dims(logits), vec![2, 2]);
/// ```
pub trait Model<T: Element>: Architecture {
    /// A fresh theta drawn with the model's initialiser from `ChaCha8Rng::seed_from_u64(seed)`.
    fn init(&self, seed: u64) -> Vec<T>;

    /// Records the logits `[batch, output_width]` of the input `x` `[batch, input_width]`.
    ///
    /// # Panics
    /// If `theta` or `x` has the wrong shape: call [`Model::forward_checked`] with
    /// unchecked input.
    fn forward(&self, tape: &Tape<T>, theta: Var, x: Var) -> Var;

    /// [`Model::forward`] after checking the shapes of theta and `x`, before anything is
    /// recorded.
    fn forward_checked(&self, tape: &Tape<T>, theta: Var, x: Var) -> Result<Var, ModelError> {
        match tape.dims(theta)[..] {
            [n] => check_theta_len(self, n)?,
            ref dims => {
                return Err(ModelError::ThetaShape {
                    dims: dims.to_vec(),
                });
            }
        }
        check_input(self, &tape.dims(x))?;
        Ok(self.forward(tape, theta, x))
    }
}

/// The logits of a batch at `theta`, without gradients (evaluation, accuracy).
///
/// ```
/// use unstuck_autodiff::Tensor;
/// use unstuck_models::{Mlp, Model, logits};
/// let mlp = Mlp::from_spec("2-2:identity").unwrap();
/// // W = I, b = (1, -1)
/// let theta = vec![1.0, 0.0, 0.0, 1.0, 1.0, -1.0];
/// let x = Tensor::matrix(vec![3.0, 4.0], 1, 2).unwrap();
/// assert_eq!(logits(&mlp, &theta, &x).unwrap().data(), &[4.0, 3.0]);
/// ```
pub fn logits<T: Element, M: Model<T> + ?Sized>(
    model: &M,
    theta: &[T],
    x: &Tensor<T>,
) -> Result<Tensor<T>, ModelError> {
    check_theta_len(model, theta.len())?;
    check_input(model, x.dims())?;
    let tape = Tape::new();
    let theta = tape.constant(Tensor::vector(theta.to_vec()));
    let x = tape.constant(x.clone());
    Ok(tape.value(model.forward(&tape, theta, x)))
}

pub(crate) fn check_theta_len<M: Architecture + ?Sized>(
    model: &M,
    got: usize,
) -> Result<(), ModelError> {
    let expected = model.n_params();
    if got == expected {
        Ok(())
    } else {
        Err(ModelError::ParamCount { expected, got })
    }
}

/// `x` must be `[batch, input_width]`; returns the batch size.
pub(crate) fn check_input<M: Architecture + ?Sized>(
    model: &M,
    dims: &[usize],
) -> Result<usize, ModelError> {
    match *dims {
        [batch, width] if width == model.input_width() => Ok(batch),
        [_, width] => Err(ModelError::InputWidth {
            expected: model.input_width(),
            got: width,
        }),
        _ => Err(ModelError::InputRank {
            dims: dims.to_vec(),
        }),
    }
}
