//! The training loop's error type.

use std::path::PathBuf;

/// What can stop training.
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
    /// A setting that cannot work.
    #[error("invalid training configuration: {0}")]
    Config(String),
    /// The data does not fit the model or the loss.
    #[error(transparent)]
    Model(#[from] unstuck_models::ModelError),
    /// The data crate refused the data or the batch settings.
    #[error(transparent)]
    Data(#[from] unstuck_data::DataError),
    /// The optimizer refused a step or a state.
    #[error(transparent)]
    Optim(#[from] unstuck_optim::OptimError),
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
