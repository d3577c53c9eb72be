//! One training run, summarised: the unit `diagnose` compares.

use super::scores::{Scores, score};
use super::{DiagnoseConfig, DiagnoseData, Registries};
use crate::{History, TrainConfig, TrainError, Trainer};
use serde::{Deserialize, Serialize};
use unstuck_data::{Dataset, Targets};
use unstuck_models::{AnyModel, Loss, Model};
use unstuck_optim::parse_schedule;

/// Loss and accuracy (or R²) of a model on one data set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Mean loss over the set.
    pub loss: f64,
    /// Fraction classified correctly (classification only).
    pub accuracy: Option<f64>,
    /// `1 - MSE / variance of the set's targets` (regression only).
    pub r2: Option<f64>,
}

impl Metrics {
    fn of(scores: &Scores, data: &Dataset<f64>) -> Self {
        let loss = scores.loss();
        let r2 = match data.targets() {
            Targets::Real { values, n_outputs } => {
                // The mean per-output variance: the loss of predicting each output's mean.
                let n = (values.len() / n_outputs) as f64;
                let variance = (0..*n_outputs)
                    .map(|output| {
                        let column = values.iter().skip(output).step_by(*n_outputs);
                        let mean = column.clone().sum::<f64>() / n;
                        column.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n
                    })
                    .sum::<f64>()
                    / *n_outputs as f64;
                (variance > 0.0).then(|| 1.0 - loss / variance)
            }
            Targets::Classes { .. } => None,
        };
        Metrics {
            loss,
            accuracy: scores.accuracy(),
            r2,
        }
    }
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
    /// Root mean square of the logits on the training set: a run pushed to huge logits
    /// (a too-large learning rate) has a large loss on the few rows it gets wrong, even
    /// at a high accuracy.
    pub logit_rms: f64,
    /// The step at which the loss or gradient stopped being finite; the metrics are
    /// then those of the last finite parameters.
    pub diverged_at_step: Option<u64>,
}

/// Per-row scores on each set.
#[derive(Debug, Clone)]
pub(crate) struct SetScores {
    pub(crate) train: Scores,
    pub(crate) validation: Scores,
    pub(crate) test: Option<Scores>,
}

/// A finished run with what later steps need: the parameters, the history and the
/// per-row scores.
pub(crate) struct Trained {
    pub(crate) summary: RunSummary,
    pub(crate) theta: Vec<f64>,
    pub(crate) history: History,
    pub(crate) scores: SetScores,
}

/// What to train.
pub(crate) struct RunSpec<'a> {
    pub(crate) role: &'a str,
    pub(crate) model: &'a dyn AnyModel,
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
        model: &'a dyn AnyModel,
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
            progress: false,
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
    registries: &Registries,
) -> Result<Trained, TrainError> {
    let mut optimizer = registries.optimizers.build(spec.optimizer)?;
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
    let buffers = trainer.buffers().to_vec();
    let scores = score_sets(model, &theta, &buffers, data, loss)?;
    let optimizer = match spec.schedule {
        Some(schedule) => format!("{} + schedule {schedule}", spec.optimizer),
        None => spec.optimizer.to_string(),
    };
    let summary = RunSummary {
        role: spec.role.to_string(),
        model: spec.model.to_string(),
        optimizer,
        n_params: model.n_params(),
        steps: trainer.steps_taken(),
        train: Metrics::of(&scores.train, data.train),
        validation: Metrics::of(&scores.validation, data.validation),
        test: match (&scores.test, data.test) {
            (Some(scores), Some(test)) => Some(Metrics::of(scores, test)),
            _ => None,
        },
        logit_rms: scores.train.logit_rms,
        diverged_at_step,
    };
    Ok(Trained {
        summary,
        theta,
        history: trainer.history().clone(),
        scores,
    })
}

/// Scores on the training, validation and test sets.
pub(crate) fn score_sets(
    model: &dyn Model<f64>,
    theta: &[f64],
    buffers: &[f64],
    data: &DiagnoseData<'_>,
    loss: Loss,
) -> Result<SetScores, TrainError> {
    Ok(SetScores {
        train: score(model, theta, buffers, data.train, loss)?,
        validation: score(model, theta, buffers, data.validation, loss)?,
        test: data
            .test
            .map(|test| score(model, theta, buffers, test, loss))
            .transpose()?,
    })
}
