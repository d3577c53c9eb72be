//! The optimisation branch's evidence: where training stalled, what the Hessian looks
//! like there, and whether a step along negative curvature or another optimizer does
//! better.

use super::run::{RunSpec, RunSummary, Trained, train};
use super::{DiagnoseConfig, DiagnoseData};
use crate::task::full_objective;
use crate::{History, TrainError};
use serde::{Deserialize, Serialize};
use unstuck_hessian::{
    CriticalPointKind, EscapeConfig, HessianError, LanczosConfig, SpectrumPolicy, TapeObjective,
    escape_step, summarize,
};
use unstuck_models::{Loss, Mlp};
use unstuck_optim::Registry;

/// An epoch "improved" when the training loss fell by more than this fraction of the
/// chance loss compared with the end of the run.
const STALL_FRACTION: f64 = 0.01;

/// The lecture's step out of a saddle, `theta + alpha u`, tried at the final point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscapeOutcome {
    /// Training loss before the step.
    pub loss_before: f64,
    /// Training loss after it (equal to `loss_before` when no step length helped).
    pub loss_after: f64,
    /// The signed step length along the unit eigenvector (0 when nothing helped).
    pub alpha: f64,
}

/// What the optimisation branch measured at the end of the user's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizationEvidence {
    /// The first epoch after which the training loss fell by no more than 1% of the chance
    /// loss until the end; the last epoch means it was still falling.
    pub stalled_from_epoch: u64,
    /// Mean mini-batch gradient norm over the steps from that epoch on.
    pub stalled_grad_norm: f64,
    /// Full-training-set gradient norm at the final parameters.
    pub grad_norm: f64,
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
    /// The escape step along the most negative eigenvector, when there is one.
    pub escape: Option<EscapeOutcome>,
    /// The user's model retrained with other optimizers from the registry, same budget.
    pub alternatives: Vec<RunSummary>,
}

/// Measures the user's final point and retrains with other optimizers.
pub(crate) fn investigate(
    user: &Trained,
    model: &Mlp,
    data: &DiagnoseData<'_>,
    loss: Loss,
    chance: f64,
    config: &DiagnoseConfig,
) -> Result<OptimizationEvidence, TrainError> {
    let (stalled_from_epoch, stalled_grad_norm) = stall(&user.history, chance);
    let objective = full_objective(model, data.train, loss)?;
    let theta = &user.theta;
    let (_, gradient) = objective.gradient(theta)?;
    let grad_norm = gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
    let extremes = summarize(&objective.curvature(theta)?, &lanczos_policy(config))?;
    let escape = match extremes.escape()? {
        Some(lowest) => {
            let tape_objective = TapeObjective::new(theta.len(), objective.as_fn());
            let step = escape_step(
                &tape_objective,
                theta,
                &lowest.direction,
                lowest.eigenvalue,
                EscapeConfig::default(),
            );
            Some(match step {
                Ok(step) => EscapeOutcome {
                    loss_before: step.loss_before,
                    loss_after: step.loss_after,
                    alpha: step.alpha,
                },
                // No step length lowered the loss: an answer, not a failure.
                Err(HessianError::NoDescent { loss, .. }) => EscapeOutcome {
                    loss_before: loss,
                    loss_after: loss,
                    alpha: 0.0,
                },
                Err(other) => return Err(other.into()),
            })
        }
        None => None,
    };
    Ok(OptimizationEvidence {
        stalled_from_epoch,
        stalled_grad_norm,
        grad_norm,
        lambda_min: extremes.smallest[0],
        lambda_max: extremes.largest[0],
        lanczos_hvps: extremes.n_hvp,
        lanczos_converged: extremes.converged,
        curvature: extremes.curvature_kind()?,
        escape,
        alternatives: alternatives(model, data, loss, config)?,
    })
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
    model: &Mlp,
    data: &DiagnoseData<'_>,
    loss: Loss,
    config: &DiagnoseConfig,
) -> Result<Vec<RunSummary>, TrainError> {
    let registry = Registry::<f64>::builtin();
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
        )?;
        runs.push(run.summary);
    }
    Ok(runs)
}
