//! One training run, summarised: the unit `diagnose` compares.

use super::{DiagnoseConfig, DiagnoseData};
use crate::task::full_objective;
use crate::{History, TrainConfig, TrainError, Trainer};
use serde::{Deserialize, Serialize};
use unstuck_data::Dataset;
use unstuck_models::{Architecture, Loss, Mlp, Model};
use unstuck_optim::{Registry, parse_schedule};

/// Loss and accuracy of a model on one data set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Mean loss over the set.
    pub loss: f64,
    /// Fraction classified correctly (classification only).
    pub accuracy: Option<f64>,
}

/// One trained model and how it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// What the run is for: `your model`, `linear reference`, `shallow reference`, ...
    pub role: String,
    /// The model's canonical spec.
    pub model: String,
    /// The optimizer spec it was trained with (and the schedule, if any).
    pub optimizer: String,
    /// Its number of parameters.
    pub n_params: usize,
    /// Optimizer steps taken.
    pub steps: u64,
    /// On the training set, at the end.
    pub train: Metrics,
    /// On the validation set, at the end.
    pub validation: Metrics,
    /// On the test set, at the end, if one was given.
    pub test: Option<Metrics>,
    /// The step at which the loss or gradient stopped being finite; the metrics are
    /// then those of the last finite parameters.
    pub diverged_at_step: Option<u64>,
}

/// A finished run with what later steps need: the parameters, the initial point and
/// the history.
#[derive(Debug)]
pub(crate) struct Trained {
    pub(crate) summary: RunSummary,
    pub(crate) theta: Vec<f64>,
    pub(crate) history: History,
}

/// What to train.
#[derive(Debug)]
pub(crate) struct RunSpec<'a> {
    pub(crate) role: &'a str,
    pub(crate) model: &'a Mlp,
    pub(crate) optimizer: &'a str,
    pub(crate) schedule: Option<&'a str>,
    pub(crate) batch_size: usize,
    pub(crate) epochs: u64,
    pub(crate) seed: u64,
    pub(crate) progress: bool,
    /// Record the validation loss after every epoch (the user's run only: the
    /// overfitting evidence reads it).
    pub(crate) track_validation: bool,
}

impl<'a> RunSpec<'a> {
    /// A run of `model` with `optimizer` on the user's batch size, budget and seed, no
    /// schedule, validation loss not tracked: how every comparison run is trained.
    pub(crate) fn on_user_budget(
        role: &'a str,
        model: &'a Mlp,
        optimizer: &'a str,
        config: &DiagnoseConfig,
    ) -> Self {
        RunSpec {
            role,
            model,
            optimizer,
            schedule: None,
            batch_size: config.batch_size,
            epochs: config.epochs,
            seed: config.seed,
            progress: config.progress,
            track_validation: false,
        }
    }
}

/// Trains `spec.model` from `model.init(seed)` without the stuck detector (diagnose
/// wants to see plain training; its own analysis looks at stalls). Divergence is a
/// finding, not an error: the run keeps its last finite parameters.
pub(crate) fn train(
    spec: &RunSpec<'_>,
    data: &DiagnoseData<'_>,
    loss: Loss,
) -> Result<Trained, TrainError> {
    let mut optimizer = Registry::<f64>::builtin().build(spec.optimizer)?;
    if let Some(schedule) = spec.schedule {
        let base_lr = optimizer.lr();
        optimizer.set_schedule(parse_schedule(schedule, base_lr)?);
    }
    let config = TrainConfig {
        batch_size: spec.batch_size.clamp(1, data.train.n_rows()),
        epochs: spec.epochs,
        seed: spec.seed,
        loss,
        drop_last: false,
        stuck: None,
        progress: spec.progress,
        checkpoint_path: None,
    };
    let model: &dyn Model<f64> = spec.model;
    let mut trainer = Trainer::new(model, optimizer, config, model.init(spec.seed))?;
    let validation = spec.track_validation.then_some(data.validation);
    let diverged_at_step = match trainer.fit(data.train, validation) {
        Ok(_) => None,
        Err(TrainError::Diverged { step, .. }) => Some(step),
        Err(other) => return Err(other),
    };
    let theta = trainer.theta().to_vec();
    let optimizer = match spec.schedule {
        Some(schedule) => format!("{} + schedule {schedule}", spec.optimizer),
        None => spec.optimizer.to_string(),
    };
    let summary = RunSummary {
        role: spec.role.to_string(),
        model: spec.model.to_string(),
        optimizer,
        n_params: spec.model.n_params(),
        steps: trainer.steps_taken(),
        train: evaluate(spec.model, data.train, loss, &theta)?,
        validation: evaluate(spec.model, data.validation, loss, &theta)?,
        test: data
            .test
            .map(|test| evaluate(spec.model, test, loss, &theta))
            .transpose()?,
        diverged_at_step,
    };
    Ok(Trained {
        summary,
        theta,
        history: trainer.history().clone(),
    })
}

/// Loss and accuracy of `model` at `theta` on the whole of `data`.
pub(crate) fn evaluate(
    model: &Mlp,
    data: &Dataset<f64>,
    loss: Loss,
    theta: &[f64],
) -> Result<Metrics, TrainError> {
    let evaluation = full_objective(model, data, loss)?.evaluate(theta)?;
    Ok(Metrics {
        loss: evaluation.loss,
        accuracy: evaluation.accuracy,
    })
}
