//! The model contract: a pure function of one flat parameter vector and a batch.

use crate::{BufferUpdate, Mode, ModelError, ParamSpec};
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

    /// The shape of one example (`[1, 8, 8]` for an image); its product is
    /// [`Architecture::input_width`], and the model takes a batch either shaped
    /// `[batch, input_dims...]` or flattened to `[batch, input_width]`.
    fn input_dims(&self) -> Vec<usize> {
        vec![self.input_width()]
    }

    /// The buffers (running statistics) in `state_dict` order, packed into one flat
    /// vector kept outside theta; empty for a model without any.
    fn buffer_layout(&self) -> &[ParamSpec] {
        &[]
    }

    /// The buffers' values before any training pass.
    fn initial_buffers(&self) -> Vec<f64> {
        Vec::new()
    }

    /// `Some(vocabulary)` if the input holds token ids, which must then be integers in
    /// `0..vocabulary`.
    fn token_vocabulary(&self) -> Option<usize> {
        None
    }

    /// Whether a training pass can run on `batch` examples; by default any batch can.
    /// A network with batch norm refuses a batch that leaves one value per channel
    /// (PyTorch: "Expected more than 1 value per channel when training"), naming the
    /// layer, before any training starts.
    fn check_training_batch(&self, batch: usize) -> Result<(), ModelError> {
        let _ = batch;
        Ok(())
    }

    /// Whether, in a training pass, each example's logits depend on that example's input
    /// alone (no batch norm, no dropout): then [`crate::Objective::curvature`] records a
    /// large batch in slices on rayon's threads. `false` by default, which is always safe.
    fn per_example(&self) -> bool {
        false
    }
}

/// One forward pass's mode and buffers, and the buffers' new values if it tracks them.
///
/// ```
/// use unstuck_autodiff::{Tape, Tensor};
/// use unstuck_models::{Architecture, BatchNorm, Linear, Model, Pass, Sequential};
/// let net = Sequential::builder(&[2])
///     .push_named("bn", BatchNorm::new_1d(2)?)
///     .push_named("fc", Linear::new(2, 2))
///     .build()?;
/// let theta: Vec<f64> = net.init(0);
/// let buffers = net.initial_buffers();
/// let tape = Tape::new();
/// let theta_var = tape.constant(Tensor::vector(theta));
/// let x = tape.constant(Tensor::matrix(vec![1.0, 2.0, 3.0, 6.0], 2, 2)?);
/// let mut pass = Pass::train_tracking(0, &buffers);
/// net.forward_pass(&tape, theta_var, x, &mut pass);
/// // running_mean = 0.9 * 0 + 0.1 * batch mean; running_var uses the unbiased variance.
/// assert_eq!(pass.updated_buffers(&tape), vec![0.2, 0.4, 0.9 + 0.1 * 2.0, 0.9 + 0.1 * 8.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Pass<'a> {
    mode: Mode,
    buffers: &'a [f64],
    updates: Option<Vec<BufferUpdate>>,
}

impl<'a> Pass<'a> {
    /// A training pass (batch statistics, dropout masks from `seed`) that records nothing
    /// but the loss: what gradients and Hessian-vector products differentiate.
    pub fn train(seed: u64, buffers: &'a [f64]) -> Self {
        Pass {
            mode: Mode::Train { seed },
            buffers,
            updates: None,
        }
    }

    /// A training pass that also records the buffers' new values (a training step).
    pub fn train_tracking(seed: u64, buffers: &'a [f64]) -> Self {
        Pass {
            mode: Mode::Train { seed },
            buffers,
            updates: Some(Vec::new()),
        }
    }

    /// An evaluation pass with these buffers (running statistics).
    pub fn eval(buffers: &'a [f64]) -> Self {
        Pass {
            mode: Mode::Eval,
            buffers,
            updates: None,
        }
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The buffers the pass reads.
    pub fn buffers(&self) -> &'a [f64] {
        self.buffers
    }

    /// The new buffer values recorded so far.
    pub fn updates(&self) -> &[BufferUpdate] {
        self.updates.as_deref().unwrap_or(&[])
    }

    /// The buffers after this pass: the old values with the recorded updates written in.
    pub fn updated_buffers<T: Element>(&self, tape: &Tape<T>) -> Vec<f64> {
        let mut buffers = self.buffers.to_vec();
        for update in self.updates() {
            let value = tape.value(update.value);
            for (dst, &src) in buffers[update.offset..].iter_mut().zip(value.data()) {
                *dst = src.to_f64();
            }
        }
        buffers
    }

    pub(crate) fn parts(&mut self) -> (Mode, &'a [f64], Option<&mut Vec<BufferUpdate>>) {
        (self.mode, self.buffers, self.updates.as_mut())
    }
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

    /// [`Model::forward`] in a given mode with given buffers; models without modes or
    /// buffers (the default) ignore them.
    fn forward_pass(&self, tape: &Tape<T>, theta: Var, x: Var, pass: &mut Pass<'_>) -> Var {
        let _ = pass;
        self.forward(tape, theta, x)
    }

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
        check_tokens(self, tape.value(x).data())?;
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
    check_tokens(model, x.data())?;
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

/// `x` must be `[batch, input_width]` or `[batch, input_dims...]`; returns the batch size.
pub(crate) fn check_input<M: Architecture + ?Sized>(
    model: &M,
    dims: &[usize],
) -> Result<usize, ModelError> {
    let input_dims = model.input_dims();
    match dims.split_first() {
        Some((&batch, rest)) if rest == input_dims.as_slice() => Ok(batch),
        Some((&batch, &[width])) if width == model.input_width() => Ok(batch),
        Some((_, &[width])) if input_dims.len() == 1 => Err(ModelError::InputWidth {
            expected: model.input_width(),
            got: width,
        }),
        _ if input_dims.len() == 1 && dims.len() != 2 => Err(ModelError::InputRank {
            dims: dims.to_vec(),
        }),
        _ => Err(ModelError::InputShape {
            expected: input_dims,
            got: dims.to_vec(),
        }),
    }
}

/// For a model that reads token ids, every input value must be an id it knows.
pub(crate) fn check_tokens<T: Element, M: Architecture + ?Sized>(
    model: &M,
    values: &[T],
) -> Result<(), ModelError> {
    let Some(vocabulary) = model.token_vocabulary() else {
        return Ok(());
    };
    match values.iter().position(|&value| {
        let id = value.to_f64();
        !(id >= 0.0 && id < vocabulary as f64 && id.fract() == 0.0)
    }) {
        None => Ok(()),
        Some(index) => Err(ModelError::TokenId {
            index,
            value: values[index].to_f64(),
            vocabulary,
        }),
    }
}
