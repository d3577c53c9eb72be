//! The optimisation branch's evidence: is the run still descending or stalled, how the
//! gradient is spread over the layers, what the Hessian looks like where it ended,
//! whether a step along negative curvature (and how much of its gain the curvature
//! explains) or another optimizer does better, and a learning-rate range test.

use super::dynamics::{
    LayerGradient, LossTrend, LrRangeTest, RangeSettings, layer_gradient_norms, loss_trend,
    lr_range_test, vanishing,
};
use super::run::{RunSpec, Trained, train};
use super::{DiagnoseConfig, DiagnoseData, Reference, Registries, compare};
use crate::instruments::layers::dead_relu_fraction;
use crate::task::full_objective;
use crate::{History, TrainError};
use serde::{Deserialize, Serialize};
use unstuck_autodiff::Tape;
use unstuck_hessian::{
    CriticalPointKind, EscapeConfig, HessianError, LanczosConfig, SpectrumPolicy, TapeObjective,
    escape_step, summarize,
};
use unstuck_models::{AnyModel, Loss, Model, Objective, Pass};

/// Above this fraction of dead ReLU units (zero on every training row) the remedies name
/// them: a unit that never fires gets no gradient, so it never comes back.
pub const DEAD_UNITS_RATIO: f64 = 0.5;

/// An epoch "improved" when the training loss fell by more than this fraction of the
/// chance loss compared with the end of the run; and a point is near a critical point
/// when following the gradient for one curvature-limited step would gain less than this
/// fraction of the chance loss.
pub const STALL_FRACTION: f64 = 0.01;

/// The lecture's step out of a saddle, `theta + alpha u`, tried at the final point, and
/// the second-order model's account of its gain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscapeOutcome {
    /// Training loss before the step.
    pub loss_before: f64,
    /// Training loss after it (equal to `loss_before` when no step length helped).
    pub loss_after: f64,
    /// The signed step length along the unit eigenvector (0 when nothing helped).
    pub alpha: f64,
    /// The quadratic model's gradient term `g · d` for the step `d = alpha u`.
    pub gradient_term: f64,
    /// Its curvature term `½ d·H·d = ½ λ alpha²`.
    pub curvature_term: f64,
    /// The share of the predicted change the curvature term explains (1: all of it, as
    /// at a true saddle; near 0: the gradient did the work, and the run had simply not
    /// finished descending).
    pub curvature_share: f64,
}

/// What the optimisation branch measured at the end of the user's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizationEvidence {
    /// The first epoch after which the training loss fell by no more than 1% of the chance
    /// loss until the end; the last epoch means it was still falling.
    pub stalled_from_epoch: u64,
    /// Mean mini-batch gradient norm over the steps from that epoch on.
    pub stalled_grad_norm: f64,
    /// The slope of the training loss over the last half of the run.
    pub trend: Option<LossTrend>,
    /// Full-training-set gradient norm at the final parameters.
    pub grad_norm: f64,
    /// The gradient per layer.
    pub layer_gradients: Vec<LayerGradient>,
    /// The layers' per-parameter gradients span more than a factor 1000.
    pub gradient_vanishes: bool,
    /// The fraction of ReLU units that are zero on every training row at the final
    /// parameters (the `instruments` module's count); `None` for a model without ReLU.
    pub dead_relu_fraction: Option<f64>,
    /// `‖g‖² / (2 λ_max)`: what one gradient step of the largest stable length would
    /// still gain. Small against the chance loss means near a critical point.
    pub gradient_gain: f64,
    /// Smallest Hessian eigenvalue found by Lanczos (an upper bound of the true one).
    pub lambda_min: f64,
    /// Largest Hessian eigenvalue found by Lanczos (a lower bound of the true one).
    pub lambda_max: f64,
    /// Hessian-vector products Lanczos used.
    pub lanczos_hvps: usize,
    /// Whether both extremes met Lanczos' tolerance.
    pub lanczos_converged: bool,
    /// The second-order reading of the extremes: `saddle` (negative curvature present),
    /// `strict_local_min`, `degenerate_psd` (flat directions, no negative ones), ...
    pub curvature: CriticalPointKind,
    /// Negative curvature *and* a gradient small against the curvature scale
    /// (`gradient_gain` under 1% of the chance loss): a saddle in the lecture's sense.
    pub at_saddle: bool,
    /// The escape step along the most negative eigenvector, when there is one.
    pub escape: Option<EscapeOutcome>,
    /// The user's model retrained with other optimizers from the registry, same budget
    /// and initialisation, compared row by row with the user's run.
    pub alternatives: Vec<Reference>,
    /// The learning-rate range test on the user's model and optimizer.
    pub lr_range: Option<LrRangeTest>,
}

/// Measures the user's final point and retrains with other optimizers.
pub(crate) fn investigate(
    user: &Trained,
    model: &dyn AnyModel,
    data: &DiagnoseData<'_>,
    loss: Loss,
    chance: f64,
    config: &DiagnoseConfig,
    registries: &Registries,
) -> Result<OptimizationEvidence, TrainError> {
    let (stalled_from_epoch, stalled_grad_norm) = stall(&user.history, chance);
    let model_f64: &dyn Model<f64> = model;
    let objective = full_objective(model_f64, data.train, loss)?;
    let theta = &user.theta;
    let (_, gradient) = objective.gradient(theta)?;
    let grad_norm = gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
    let layer_gradients = layer_gradient_norms(model_f64, &gradient);
    let extremes = summarize(&objective.curvature(theta)?, &lanczos_policy(config))?;
    let (lambda_min, lambda_max) = (extremes.smallest[0], extremes.largest[0]);
    let gradient_gain = if lambda_max > 0.0 {
        grad_norm * grad_norm / (2.0 * lambda_max)
    } else {
        f64::INFINITY
    };
    let curvature = extremes.curvature_kind()?;
    let at_saddle =
        curvature == CriticalPointKind::Saddle && gradient_gain < STALL_FRACTION * chance;
    let escape = match extremes.escape()? {
        Some(lowest) => {
            let tape_objective = TapeObjective::new(theta.len(), objective.as_fn());
            let g_dot_u: f64 = gradient
                .iter()
                .zip(&lowest.direction)
                .map(|(g, u)| g * u)
                .sum::<f64>()
                / lowest
                    .direction
                    .iter()
                    .map(|u| u * u)
                    .sum::<f64>()
                    .sqrt()
                    .max(f64::MIN_POSITIVE);
            let step = escape_step(
                &tape_objective,
                theta,
                &lowest.direction,
                lowest.eigenvalue,
                EscapeConfig::default(),
            );
            let (loss_before, loss_after, alpha) = match step {
                Ok(step) => (step.loss_before, step.loss_after, step.alpha),
                // No step length lowered the loss: an answer, not a failure.
                Err(HessianError::NoDescent { loss, .. }) => (loss, loss, 0.0),
                Err(other) => return Err(other.into()),
            };
            let gradient_term = g_dot_u * alpha;
            let curvature_term = 0.5 * lowest.eigenvalue * alpha * alpha;
            let predicted = gradient_term + curvature_term;
            Some(EscapeOutcome {
                loss_before,
                loss_after,
                alpha,
                gradient_term,
                curvature_term,
                curvature_share: if predicted < 0.0 {
                    (curvature_term / predicted).clamp(0.0, 1.0)
                } else {
                    0.0
                },
            })
        }
        None => None,
    };
    let optimizer = registries.optimizers.build(&config.optimizer)?;
    let lr_range = lr_range_test(
        model_f64,
        optimizer,
        data.train,
        loss,
        RangeSettings {
            low: config.reference.lr_range.0,
            high: config.reference.lr_range.1,
            steps: config.reference.lr_range_steps,
            batch_size: config.batch_size,
            seed: config.seed,
        },
    )?;
    Ok(OptimizationEvidence {
        stalled_from_epoch,
        stalled_grad_norm,
        trend: loss_trend(&user.history, config.thresholds.reference_margin * chance),
        grad_norm,
        gradient_vanishes: vanishing(&layer_gradients),
        layer_gradients,
        dead_relu_fraction: dead_units(&objective, theta),
        gradient_gain,
        lambda_min,
        lambda_max,
        lanczos_hvps: extremes.n_hvp,
        lanczos_converged: extremes.converged,
        curvature,
        at_saddle,
        escape,
        alternatives: alternatives(user, model, data, loss, chance, config, registries)?,
        lr_range: (config.reference.lr_range_steps > 0).then_some(lr_range),
    })
}

/// Records the training-mode loss on the whole training set at `theta` and counts the
/// ReLU units that no row turns on.
fn dead_units(objective: &Objective<'_, f64>, theta: &[f64]) -> Option<f64> {
    let tape = Tape::<f64>::new();
    let theta_var = tape.leaf_from(theta, &[theta.len()]);
    let buffers = objective.model().initial_buffers();
    objective.record_pass(&tape, theta_var, &mut Pass::train(0, &buffers));
    dead_relu_fraction(&tape)
}

/// The extremes by seeded Lanczos at every model size (no dense switch, no trace): the
/// evidence then reads the same for a 6-parameter model and a 60,000-parameter one.
fn lanczos_policy(config: &DiagnoseConfig) -> SpectrumPolicy {
    SpectrumPolicy {
        dense_max_dim: 0,
        k: 1,
        lanczos: LanczosConfig {
            max_iter: config.reference.lanczos_max_iter.max(1),
            seed: config.seed,
            ..SpectrumPolicy::default().lanczos
        },
        trace: None,
        lowest_vector: true,
    }
}

/// The epoch from which the training loss stayed within `STALL_FRACTION * chance` of
/// its final value, and the mean mini-batch gradient norm from there on.
fn stall(history: &History, chance: f64) -> (u64, f64) {
    let Some(last) = history.epochs.last() else {
        return (0, 0.0);
    };
    let tolerance = STALL_FRACTION * chance;
    let stalled_from = history
        .epochs
        .iter()
        .rev()
        .take_while(|epoch| epoch.train_loss - last.train_loss <= tolerance)
        .last()
        .map_or(last.epoch, |epoch| epoch.epoch);
    let norms: Vec<f64> = history
        .steps
        .iter()
        .filter(|step| step.epoch >= stalled_from)
        .map(|step| step.grad_norm)
        .collect();
    let mean = if norms.is_empty() {
        0.0
    } else {
        norms.iter().sum::<f64>() / norms.len() as f64
    };
    (stalled_from, mean)
}

/// The user's model, same initialisation, batch and budget, with the first
/// `max_alternatives` optimizers of the list whose kind differs from the user's.
fn alternatives(
    user: &Trained,
    model: &dyn AnyModel,
    data: &DiagnoseData<'_>,
    loss: Loss,
    chance: f64,
    config: &DiagnoseConfig,
    registries: &Registries,
) -> Result<Vec<Reference>, TrainError> {
    let registry = &registries.optimizers;
    let user_kind = registry.build(&config.optimizer)?.name();
    let mut runs = Vec::new();
    for spec in &config.reference.alternatives {
        if runs.len() >= config.reference.max_alternatives {
            break;
        }
        if registry.build(spec)?.name() == user_kind {
            continue;
        }
        let run = train(
            &RunSpec::on_user_budget("other optimizer", model, spec, config),
            data,
            loss,
            registries,
        )?;
        runs.push(compare(user, &run, true, chance, config.seed));
    }
    Ok(runs)
}
