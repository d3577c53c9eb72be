//! Instruments read while a network trains: the lecture's questions asked during the
//! run. Is the gradient small because this is a critical point or because the batch is
//! noisy (`noise`)? Is the step too big for the curvature (`alpha`, `curvature`)? Are
//! units dying, logits blowing up, updates too large for the weights (`norms`)?
//!
//! Each is optional and each is a plain function of a model, theta and a batch as well
//! ([`per_sample_gradients`], [`noise_scale`], [`step_alpha`], [`CurvatureTracker`],
//! the functions of [`layers`]), so `diagnose` or a user can call them without a
//! [`crate::Trainer`]. In the trainer ([`crate::Trainer::with_instruments`]) they share
//! the step's tape and its one backward pass, and write their records into the
//! [`crate::History`] (and so into `history.jsonl`, where the live view draws them).
//!
//! | instrument | what | extra work per measured step |
//! |---|---|---|
//! | `norms` | per-tensor gradient and weight norms, update-to-weight ratio, dead ReLU fraction, logit scale | one pass over the gradient, one over theta before and after the update, one over the ReLU outputs and logits (read in place); no extra forward or backward, no copy, the series' names made once per run |
//! | `noise` | per-example gradient variance, GSNR per tensor, noise scale `B_simple`, for the weights and biases of `linear` and `conv` layers and attention's projections, layer norm's scale and shift, embeddings and tied weights (any other use is listed as excluded, see [`per_sample_gradients`]) | the gradient with respect to each layer's output (same backward), and one product as large as each weight gradient (for a convolution or a product over tokens: each example's product, one more weight gradient's work) |
//! | `alpha` | Cockpit's α of the step | one forward and backward pass at the new point |
//! | `curvature` | `λ_max` (warm-started Lanczos), Hessian trace (Hutchinson deflated by the Lanczos basis), `λ_max · lr` | one recording of the gradient graph, up to `iters` + `probes` Hessian-vector products (about 5 + 4) |
//!
//! `cargo xtask bench instruments` measures these costs against a plain step.
//!
//! The spec (`unstuck train --instruments`) lists instruments separated by commas, each
//! in core's spec grammar with its keys following it:
//! `norms,noise:every=10,alpha,curvature:every=50,iters=20,probes=4`. Every
//! instrument takes `every` (default 1; 50 for `curvature`).

mod alpha;
mod curvature;
pub mod layers;
mod noise;
mod per_sample;
mod per_sample_conv;
mod per_sample_linear;
mod per_sample_uses;
mod spec;

pub use alpha::step_alpha;
pub use curvature::{CurvatureConfig, CurvatureTracker};
pub use noise::{NoiseScale, critical_batch_size, noise_record, noise_scale};
pub(crate) use per_sample::Sites;
pub use per_sample::{BlockMoments, PerSampleGradients, per_sample_gradients};

use crate::history::History;
use unstuck_autodiff::{Tape, Tensor, Var};
use unstuck_models::{Model, Objective, Pass};

/// Which instruments run, and how often (every `n` steps, starting at step 0).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstrumentConfig {
    /// `norms`: gradient-only instruments.
    pub norms: Option<u64>,
    /// `noise`: per-example gradient noise.
    pub noise: Option<u64>,
    /// `alpha`: step quality.
    pub alpha: Option<u64>,
    /// `curvature`: `λ_max` and the trace.
    pub curvature: Option<CurvatureConfig>,
}

/// What keeps an instrument from measuring.
#[derive(Debug, thiserror::Error)]
pub enum InstrumentError {
    /// The model's training pass mixes the examples of a batch (batch norm's batch
    /// statistics), so per-example gradients are not defined.
    #[error(
        "per-example gradients are not defined for this model: its training pass mixes the examples of a batch through the buffers {}",
        buffers.join(", ")
    )]
    BatchMixing {
        /// The buffers (running statistics) of the layers that mix examples.
        buffers: Vec<String>,
    },
    /// Theta does not fit the model.
    #[error("theta has {got} entries but the model has {expected} parameters")]
    ThetaLength {
        /// The model's parameter count.
        expected: usize,
        /// Theta's length.
        got: usize,
    },
    /// An `every` of 0.
    #[error("instrument `{instrument}`: every must be at least 1")]
    ZeroInterval {
        /// The instrument.
        instrument: &'static str,
    },
    /// The model refused the batch or theta.
    #[error(transparent)]
    Model(#[from] unstuck_models::ModelError),
    /// The Hessian tools failed.
    #[error(transparent)]
    Hessian(#[from] unstuck_hessian::HessianError),
}

fn due(every: Option<u64>, step: u64) -> bool {
    every.is_some_and(|n| n > 0 && step.is_multiple_of(n))
}

impl InstrumentConfig {
    /// No instrument at all.
    pub fn is_empty(&self) -> bool {
        *self == InstrumentConfig::default()
    }

    /// Checks the intervals, and that `noise` can measure `model`.
    pub fn validate(&self, model: &dyn Model<f64>) -> Result<(), InstrumentError> {
        let intervals = [
            ("norms", self.norms),
            ("noise", self.noise),
            ("alpha", self.alpha),
            ("curvature", self.curvature.map(|c| c.every)),
        ];
        if let Some((instrument, _)) = intervals.iter().find(|(_, every)| *every == Some(0)) {
            return Err(InstrumentError::ZeroInterval { instrument });
        }
        if self.noise.is_some() {
            per_sample::check_separable(model)?;
        }
        Ok(())
    }
}

/// The instruments of a training run: the configuration and the curvature tracker's
/// warm start. Lives in the trainer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Instruments {
    config: InstrumentConfig,
    tracker: CurvatureTracker,
    norms: layers::NormsMeter,
}

/// What one training step hands the instruments before its update.
pub(crate) struct StepView<'a> {
    pub step: u64,
    pub tape: &'a Tape<f64>,
    pub logits: Var,
    pub sites: &'a Sites,
    pub output_grads: &'a [Tensor<f64>],
    pub grad: &'a [f64],
    pub batch_size: usize,
}

/// What one training step hands the instruments after its update.
pub(crate) struct UpdateView<'a, 'o> {
    pub step: u64,
    pub objective: &'a Objective<'o, f64>,
    pub pass_seed: u64,
    pub buffers: &'a [f64],
    pub before: &'a [f64],
    pub after: &'a [f64],
    pub loss: f64,
    pub grad: &'a [f64],
    pub lr: f64,
}

impl Instruments {
    pub(crate) fn new(config: InstrumentConfig) -> Self {
        let tracker = CurvatureTracker::new(config.curvature.unwrap_or_default());
        Instruments {
            config,
            tracker,
            norms: layers::NormsMeter::default(),
        }
    }

    /// The curvature tracker's warm start, for a checkpoint.
    pub(crate) fn curvature_start(&self) -> Option<Vec<f64>> {
        self.tracker.last_vector().map(<[f64]>::to_vec)
    }

    /// Restores the curvature tracker's warm start from a checkpoint.
    pub(crate) fn set_curvature_start(&mut self, start: Option<Vec<f64>>) {
        self.tracker.set_last_vector(start);
    }

    /// The sites whose output gradients the step's backward pass must also return.
    pub(crate) fn sites(&self, tape: &Tape<f64>, theta: Var, step: u64) -> Sites {
        if due(self.config.noise, step) {
            Sites::find(tape, theta)
        } else {
            Sites::default()
        }
    }

    pub(crate) fn before_update(
        &mut self,
        view: StepView<'_>,
        model: &dyn Model<f64>,
        history: &mut History,
    ) {
        let layout = model.layout();
        if due(self.config.norms, view.step) {
            (self.norms).before_update(layout, view.step, view.tape, view.logits, view.grad);
        }
        if due(self.config.noise, view.step) {
            let moments = per_sample::from_recorded(
                view.tape,
                view.sites,
                view.output_grads,
                view.grad,
                layout,
                view.batch_size,
            );
            history.noise.extend(noise_record(view.step, &moments));
        }
    }

    pub(crate) fn after_update(
        &mut self,
        view: UpdateView<'_, '_>,
        history: &mut History,
    ) -> Result<(), InstrumentError> {
        let model = view.objective.model();
        if let Some(record) = (self.norms).after_update(model.layout(), view.before, view.after) {
            history.norms.push(record);
        }
        if due(self.config.alpha, view.step) {
            let tape = Tape::<f64>::new();
            let theta = tape.leaf_from(view.after, &[view.after.len()]);
            let mut pass = Pass::train(view.pass_seed, view.buffers);
            let loss = view.objective.record_pass(&tape, theta, &mut pass);
            let grad_after = tape.grad(loss, &[theta]).pop().expect("one input");
            history.alpha.push(step_alpha(
                view.step,
                view.before,
                view.after,
                (view.loss, view.grad),
                (tape.scalar_value(loss), grad_after.data()),
            ));
        }
        if let Some(config) = self.config.curvature
            && due(Some(config.every), view.step)
        {
            let record = self
                .tracker
                .measure(view.objective, view.before, view.step, view.lr)?;
            history.curvature.push(record);
        }
        Ok(())
    }
}
