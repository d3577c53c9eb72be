//! The training loop's error type.

use std::path::PathBuf;

/// What can stop training, or keep it from starting.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The loss or the gradient became NaN or infinite. Training stopped; `last_good`
    /// holds the last parameters at which both were finite.
    #[error(
        "training diverged at step {step}: the {what} is not finite (loss {loss}); the last good parameters are kept"
    )]
    Diverged {
        /// The step at which it happened (0-based).
        step: u64,
        /// "loss" or "gradient".
        what: &'static str,
        /// The loss at that step (possibly NaN).
        loss: f64,
        /// The last parameters with a finite loss and gradient.
        last_good: Vec<f64>,
    },
    /// A setting outside its range, such as a batch size of 0.
    #[error("invalid training configuration: {setting} {problem}")]
    InvalidSetting {
        /// The setting, e.g. `"batch size"` or `"stuck.patience"`.
        setting: &'static str,
        /// What is wrong with it, e.g. `"must be at least 1"`.
        problem: String,
    },
    /// The starting parameters do not fit the model.
    #[error(
        "invalid training configuration: theta has {got} entries but the model has {expected} parameters"
    )]
    ThetaLength {
        /// The model's parameter count.
        expected: usize,
        /// Theta's length.
        got: usize,
    },
    /// A starting parameter is NaN or infinite.
    #[error("invalid training configuration: theta[{index}] is not finite")]
    NonFiniteTheta {
        /// The first such index.
        index: usize,
    },
    /// A checkpoint resumed with another shuffling seed would not continue the same run.
    #[error(
        "invalid training configuration: the checkpoint was made with seed {checkpoint} but the config says {config}: the shuffling would differ"
    )]
    SeedMismatch {
        /// The checkpoint's seed.
        checkpoint: u64,
        /// The configuration's seed.
        config: u64,
    },
    /// A checkpoint's buffers (running statistics) do not fit the model: it was made for
    /// another model, or by a version that did not save them (format 1).
    #[error(
        "invalid training configuration: the checkpoint holds {got} buffer values (running statistics) but the model has {expected}"
    )]
    BufferLength {
        /// The model's buffer count.
        expected: usize,
        /// The checkpoint's.
        got: usize,
    },
    /// The model's input width is not the data's feature count.
    #[error("model {model} takes {inputs} inputs but the data has {features} features")]
    ModelInputs {
        /// The model, as its spec.
        model: String,
        /// Its input width.
        inputs: usize,
        /// The data's features per row.
        features: usize,
    },
    /// The model's example shape (an image spec) is not the data's.
    #[error(
        "model {model} takes examples of shape {model_dims:?} but the data's are {data_dims:?}"
    )]
    ModelInputShape {
        /// The model, as its spec.
        model: String,
        /// One example's shape as the model reads it.
        model_dims: Vec<usize>,
        /// One example's shape in the data.
        data_dims: Vec<usize>,
    },
    /// The model's output width does not fit the targets.
    #[error("model {model} has {outputs} outputs but the data needs {needed}")]
    ModelOutputs {
        /// The model, as its spec.
        model: String,
        /// Its output width.
        outputs: usize,
        /// What the targets need, e.g. `"10 outputs, one per class"`.
        needed: String,
    },
    /// A held-out part does not have the training part's shape.
    #[error(
        "invalid training configuration: the {part} set ({features} features, {outputs} outputs) does not match the training set ({train_features} features, {train_outputs} outputs)"
    )]
    PartMismatch {
        /// `"validation"`, `"test"`, ...
        part: String,
        /// Its features per row.
        features: usize,
        /// Its outputs per row.
        outputs: usize,
        /// The training part's features per row.
        train_features: usize,
        /// The training part's outputs per row.
        train_outputs: usize,
    },
    /// Every training target is the same: no model can learn anything.
    #[error(
        "invalid training configuration: the training targets are all the same: there is nothing to learn"
    )]
    NothingToLearn,
    /// Too few rows for a procedure.
    #[error(
        "invalid training configuration: {what} needs at least {needed} rows on each side, the smaller has {got}"
    )]
    TooFewRows {
        /// The procedure.
        what: &'static str,
        /// Rows it needs.
        needed: usize,
        /// Rows there are.
        got: usize,
    },
    /// The data could not be split as asked (see [`crate::task::prepare`]).
    #[error("{0}")]
    Split(#[source] unstuck_data::DataError),
    /// The split data could not be standardised (see [`crate::task::prepare`]).
    #[error("{0}")]
    Standardize(#[source] unstuck_data::DataError),
    /// The data does not fit the model or the loss.
    #[error(transparent)]
    Model(#[from] unstuck_models::ModelError),
    /// The data crate refused the data or the batch settings.
    #[error(transparent)]
    Data(#[from] unstuck_data::DataError),
    /// The optimizer refused a step or a state.
    #[error(transparent)]
    Optim(#[from] unstuck_optim::OptimError),
    /// An instrument could not measure (see [`crate::instruments`]).
    #[error("instrument: {0}")]
    Instrument(#[from] crate::instruments::InstrumentError),
    /// The Hessian analysis at a stuck point failed.
    #[error(transparent)]
    Hessian(#[from] unstuck_hessian::HessianError),
    /// A checkpoint could not be read or written.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}
