//! A model, a batch and a loss as one scalar function of theta: the bridge to
//! `unstuck_autodiff::{gradient, hvp, Curvature}`.

use crate::loss::accuracy;
use crate::model::{check_input, check_theta_len, check_tokens};
use crate::{Loss, Model, ModelError, Pass};
use std::ops::Range;
use unstuck_autodiff::{Curvature, Element, Tape, Tensor, Var};
use unstuck_core::{Batch, Targets};

/// The fewest examples in a slice that [`Objective::curvature`] records on its own thread:
/// below, a slice's small products cost more in overhead than a second thread gives.
const MIN_SLICE_EXAMPLES: usize = 128;
/// The most slices [`Objective::curvature`] cuts a batch into.
const MAX_SLICES: usize = 8;

/// `theta -> loss(model(theta, x), targets)`, with every shape checked once, up front.
///
/// ```
/// use unstuck_autodiff::Tensor;
/// use unstuck_models::{Loss, Mlp, Model, Objective, Targets};
/// let mlp = Mlp::from_spec("2-8-3:tanh").unwrap();
/// let theta: Vec<f64> = mlp.init(0);
/// let x = Tensor::matrix(vec![0.1, 0.2, -0.3, 0.4], 2, 2).unwrap();
/// let objective = Objective::new(&mlp, x, Targets::Classes { labels: vec![0, 2], n_classes: 3 }, Loss::CrossEntropy).unwrap();
/// let (loss, gradient) = objective.gradient(&theta).unwrap();
/// assert!(loss > 0.0 && gradient.len() == theta.len());
/// // Exact Hessian-vector products of the same function:
/// let hv = objective.curvature(&theta).unwrap().hvp(&gradient).unwrap();
/// assert_eq!(hv.len(), theta.len());
/// ```
#[derive(Debug)]
pub struct Objective<'m, T: Element> {
    model: &'m dyn Model<T>,
    x: Tensor<T>,
    targets: Targets<T>,
    loss: Loss,
}

/// Loss and, for a classification loss, accuracy at one theta.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation<T> {
    /// The loss (a mean over the batch).
    pub loss: T,
    /// The fraction of correct predictions; `None` for a regression loss.
    pub accuracy: Option<f64>,
}

impl<'m, T: Element> Objective<'m, T> {
    /// Checks that `x` is `[batch, input_width]` with `batch > 0` and that the targets
    /// fit the loss and the model's output.
    pub fn new(
        model: &'m dyn Model<T>,
        x: Tensor<T>,
        targets: Targets<T>,
        loss: Loss,
    ) -> Result<Self, ModelError> {
        let batch = check_input(model, x.dims())?;
        if batch == 0 {
            return Err(ModelError::EmptyBatch);
        }
        check_tokens(model, x.data())?;
        loss.check(batch, model.output_width(), &targets)?;
        Ok(Objective {
            model,
            x,
            targets,
            loss,
        })
    }

    /// The loss of `model` on one batch (a mini-batch, or a whole dataset's
    /// `as_batch()`): the features and targets are copied in.
    ///
    /// ```
    /// use unstuck_core::{Batch, BatchTargets};
    /// use unstuck_models::{Loss, Mlp, Model, Objective};
    /// let mlp = Mlp::from_spec("2-4-1:tanh").unwrap();
    /// let targets = BatchTargets::Real { values: &[0.5, -1.0], n_outputs: 1 };
    /// let batch = Batch::new(&[0.1, 0.2, -0.3, 0.4], 2, targets).unwrap();
    /// let objective = Objective::from_batch(&mlp, &batch, Loss::Mse).unwrap();
    /// assert_eq!(objective.batch_size(), 2);
    /// ```
    pub fn from_batch(
        model: &'m dyn Model<T>,
        batch: &Batch<'_, T>,
        loss: Loss,
    ) -> Result<Self, ModelError> {
        let x = Tensor::matrix(
            batch.features().to_vec(),
            batch.n_rows(),
            batch.n_features(),
        )?;
        Self::new(model, x, batch.targets().to_targets(), loss)
    }

    /// The model.
    pub fn model(&self) -> &'m dyn Model<T> {
        self.model
    }

    /// The loss.
    pub fn loss(&self) -> Loss {
        self.loss
    }

    /// The number of examples in the batch.
    pub fn batch_size(&self) -> usize {
        self.x.dims()[0]
    }

    /// Records the loss at `theta` (a flat vector of `n_params` entries on `tape`).
    ///
    /// # Panics
    /// If `theta` has the wrong length: [`Objective::gradient`] and friends check it.
    pub fn record(&self, tape: &Tape<T>, theta: Var) -> Var {
        let x = tape.constant_from(self.x.data(), self.x.dims());
        let logits = self.model.forward(tape, theta, x);
        self.loss.apply(tape, logits, &self.targets)
    }

    /// Records the loss in a given pass: a training step's (a fresh dropout seed, and new
    /// running statistics recorded in the pass) or an evaluation's.
    pub fn record_pass(&self, tape: &Tape<T>, theta: Var, pass: &mut Pass<'_>) -> Var {
        let x = tape.constant_from(self.x.data(), self.x.dims());
        let logits = self.model.forward_pass(tape, theta, x, pass);
        self.loss.apply(tape, logits, &self.targets)
    }

    /// [`Objective::record_pass`] that also returns the logits `[batch, outputs]`: what
    /// instruments that read the outputs (logit scale) measure, on the step's own tape.
    pub fn record_pass_with_logits(
        &self,
        tape: &Tape<T>,
        theta: Var,
        pass: &mut Pass<'_>,
    ) -> (Var, Var) {
        let x = tape.constant_from(self.x.data(), self.x.dims());
        let logits = self.model.forward_pass(tape, theta, x, pass);
        (logits, self.loss.apply(tape, logits, &self.targets))
    }

    /// The objective as the closure `unstuck_autodiff` takes.
    pub fn as_fn(&self) -> impl Fn(&Tape<T>, Var) -> Var + '_ {
        move |tape, theta| self.record(tape, theta)
    }

    /// The loss and its gradient with respect to theta.
    pub fn gradient(&self, theta: &[T]) -> Result<(T, Vec<T>), ModelError> {
        check_theta_len(self.model, theta.len())?;
        Ok(unstuck_autodiff::gradient(self.as_fn(), theta)?)
    }

    /// [`Objective::gradient`] for a training loop: the loss, with the gradient in `grad`;
    /// theta is moved onto the tape and back and the gradient's buffer handed over, so a
    /// step copies neither (see [`unstuck_autodiff::gradient_into`]). Same bits.
    ///
    /// ```
    /// use unstuck_autodiff::Tensor;
    /// use unstuck_models::{Loss, Mlp, Model, Objective, Targets};
    /// let mlp = Mlp::from_spec("2-8-3:tanh").unwrap();
    /// let x = Tensor::matrix(vec![0.1, 0.2, -0.3, 0.4], 2, 2).unwrap();
    /// let targets = Targets::Classes { labels: vec![0, 2], n_classes: 3 };
    /// let objective = Objective::new(&mlp, x, targets, Loss::CrossEntropy).unwrap();
    /// let mut theta: Vec<f64> = mlp.init(0);
    /// let (loss, gradient) = objective.gradient(&theta).unwrap();
    /// let mut grad = Vec::new();
    /// assert_eq!(objective.gradient_into(&mut theta, &mut grad).unwrap(), loss);
    /// assert_eq!(grad, gradient);
    /// ```
    pub fn gradient_into(&self, theta: &mut Vec<T>, grad: &mut Vec<T>) -> Result<T, ModelError> {
        check_theta_len(self.model, theta.len())?;
        Ok(unstuck_autodiff::gradient_into(self.as_fn(), theta, grad)?)
    }

    /// The loss recorded with its gradient graph, ready for many Hessian-vector products.
    ///
    /// A batch of at least `2 * 128` examples on a model that computes every example on
    /// its own ([`crate::Architecture::per_example`]) is recorded in [`Objective::slices`]
    /// slices of consecutive examples, each on rayon's threads, as PyHessian sums its
    /// products over batches: the mean loss is the sum of each slice's mean weighted by
    /// its share of the batch. The number of slices depends on the batch alone, so the
    /// bits do not depend on the thread count; they differ from one recording of the whole
    /// batch in the order of the last additions.
    pub fn curvature(&self, theta: &[T]) -> Result<Curvature<T>, ModelError> {
        check_theta_len(self.model, theta.len())?;
        let slices = self.slices();
        if slices == 1 {
            return Ok(Curvature::new(self.as_fn(), theta)?);
        }
        Ok(Curvature::sum_of(slices, self.slice_fn(slices), theta)?)
    }

    /// The loss of slice `s` of `slices`, weighted by its share of the batch.
    fn slice_fn(&self, slices: usize) -> impl Fn(&Tape<T>, Var, usize) -> Var + Sync + '_ {
        let batch = self.batch_size();
        move |tape: &Tape<T>, theta: Var, s: usize| {
            self.record_rows(tape, theta, s * batch / slices..(s + 1) * batch / slices)
        }
    }

    /// How many slices of the batch [`Objective::curvature`] records separately: one per
    /// 128 examples, at most 8, and 1 for a model whose examples are coupled (batch norm,
    /// dropout).
    ///
    /// ```
    /// use unstuck_autodiff::Tensor;
    /// use unstuck_models::{Loss, Mlp, Objective, Targets};
    /// let mlp = Mlp::from_spec("2-3:tanh").unwrap();
    /// let objective = |n: usize| {
    ///     let x = Tensor::matrix(vec![0.5; 2 * n], n, 2).unwrap();
    ///     let targets = Targets::Classes { labels: vec![1; n], n_classes: 3 };
    ///     Objective::<f64>::new(&mlp, x, targets, Loss::CrossEntropy).unwrap()
    /// };
    /// assert_eq!(objective(255).slices(), 1);
    /// assert_eq!(objective(256).slices(), 2);
    /// assert_eq!(objective(100_000).slices(), 8);
    /// ```
    pub fn slices(&self) -> usize {
        if !self.model.per_example() {
            return 1;
        }
        (self.batch_size() / MIN_SLICE_EXAMPLES).clamp(1, MAX_SLICES)
    }

    /// The loss of the examples `rows` alone, weighted by their share of the batch.
    fn record_rows(&self, tape: &Tape<T>, theta: Var, rows: Range<usize>) -> Var {
        let dims = self.x.dims();
        let per_example: usize = dims[1..].iter().product();
        let mut slice_dims = dims.to_vec();
        slice_dims[0] = rows.len();
        let x = tape.constant_from(
            &self.x.data()[rows.start * per_example..rows.end * per_example],
            &slice_dims,
        );
        let logits = self.model.forward(tape, theta, x);
        let targets = self.targets.as_batch_targets().rows(rows.clone());
        let loss = self.loss.apply(tape, logits, &targets.to_targets());
        let share = rows.len() as f64 / self.batch_size() as f64;
        tape.scale(loss, T::from_f64(share))
    }

    /// One Hessian-vector product `H(theta) v`: the bits of
    /// `self.curvature(theta)?.hvp(v)`, with each slice recorded, swept and dropped on one
    /// thread ([`unstuck_autodiff::hvp_of_sum`]).
    pub fn hvp(&self, theta: &[T], v: &[T]) -> Result<Vec<T>, ModelError> {
        check_theta_len(self.model, theta.len())?;
        let slices = self.slices();
        if slices == 1 {
            return Ok(unstuck_autodiff::hvp(self.as_fn(), theta, v)?);
        }
        Ok(unstuck_autodiff::hvp_of_sum(
            slices,
            self.slice_fn(slices),
            theta,
            v,
        )?)
    }

    /// Loss and accuracy at `theta`, without recording gradients, in the pass of
    /// [`Objective::record`] (training mode, dropout seed 0).
    pub fn evaluate(&self, theta: &[T]) -> Result<Evaluation<T>, ModelError> {
        let buffers = self.model.initial_buffers();
        self.evaluate_in(theta, &mut Pass::train(0, &buffers))
    }

    /// Loss and accuracy at `theta` in a given pass, e.g. `Pass::eval(&running_stats)`
    /// for PyTorch's `model.eval()`.
    pub fn evaluate_in(
        &self,
        theta: &[T],
        pass: &mut Pass<'_>,
    ) -> Result<Evaluation<T>, ModelError> {
        check_theta_len(self.model, theta.len())?;
        let expected = crate::layout::total_len(self.model.buffer_layout());
        if pass.buffers().len() != expected {
            return Err(ModelError::BufferCount {
                expected,
                got: pass.buffers().len(),
            });
        }
        let tape = Tape::new();
        let theta = tape.constant_from(theta, &[theta.len()]);
        let x = tape.constant_from(self.x.data(), self.x.dims());
        let logits = self.model.forward_pass(&tape, theta, x, pass);
        let loss = tape.scalar_value(self.loss.apply(&tape, logits, &self.targets));
        let accuracy = match &self.targets {
            Targets::Classes { labels, .. } => Some(accuracy(&tape.value(logits), labels)?),
            Targets::Real { .. } => None,
        };
        Ok(Evaluation { loss, accuracy })
    }
}

/// The loss of `model` on one batch as a closure of theta, for
/// `unstuck_autodiff::{gradient, hvp, Curvature}` (and so for the Hessian tools).
///
/// Shapes are checked here, once; theta's length is the caller's to get right
/// (`model.n_params()`), or use [`Objective`], whose methods check it.
///
/// ```
/// use unstuck_autodiff::{Tensor, gradient};
/// use unstuck_models::{Architecture, Loss, Mlp, Model, Targets, loss_fn};
/// let mlp = Mlp::from_spec("3-5-1:gelu").unwrap();
/// let theta: Vec<f64> = mlp.init(3);
/// let x = Tensor::matrix(vec![1.0, 0.0, -1.0, 0.5, 0.5, 0.5], 2, 3).unwrap();
/// let y = Targets::Real { values: vec![0.3, -0.7], n_outputs: 1 };
/// let f = loss_fn(&mlp, x, y, Loss::Mse).unwrap();
/// let (loss, grad) = gradient(&f, &theta).unwrap();
/// assert!(loss >= 0.0 && grad.len() == mlp.n_params());
/// ```
pub fn loss_fn<'m, T: Element>(
    model: &'m dyn Model<T>,
    x: Tensor<T>,
    targets: Targets<T>,
    loss: Loss,
) -> Result<impl Fn(&Tape<T>, Var) -> Var + 'm, ModelError> {
    let objective = Objective::new(model, x, targets, loss)?;
    Ok(move |tape: &Tape<T>, theta: Var| objective.record(tape, theta))
}
