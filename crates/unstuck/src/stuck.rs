//! Noticing that training is stuck, and what to do about it.

use crate::TrainError;
use crate::history::Event;
use unstuck_hessian::{
    ClassifyTolerances, EscapeConfig, TapeObjective, analyze_critical_point, escape_step,
};
use unstuck_models::{Model, Objective};

/// When to call training stuck, and whether to look at the Hessian and escape.
///
/// The detector fires after `patience` consecutive steps whose mini-batch gradient norm
/// is under `grad_tol` while the mini-batch loss is above `loss_threshold`. It then
/// measures the loss and gradient on the whole training set; if the model has at most
/// `max_dense_params` parameters it computes the dense Hessian there, classifies the
/// point (saddle, minimum, ...), and, if `escape` is set and an eigenvalue is negative,
/// steps along that eigenvector (both signs tried, backed off until the loss falls).
#[derive(Debug, Clone, PartialEq)]
pub struct StuckConfig {
    /// Gradient norm under which a step counts as stalled.
    pub grad_tol: f64,
    /// Consecutive stalled steps before the detector fires.
    pub patience: usize,
    /// A loss at or below this is "trained", not stuck.
    pub loss_threshold: f64,
    /// The largest model for which the dense Hessian is computed.
    pub max_dense_params: usize,
    /// Whether to step out of a saddle.
    pub escape: bool,
    /// How many times the detector may fire in one run.
    pub max_events: usize,
}

impl Default for StuckConfig {
    fn default() -> Self {
        StuckConfig {
            grad_tol: 1e-3,
            patience: 20,
            loss_threshold: 0.05,
            max_dense_params: 2000,
            escape: true,
            max_events: 5,
        }
    }
}

impl StuckConfig {
    pub(crate) fn validate(&self) -> Result<(), TrainError> {
        if !(self.grad_tol > 0.0 && self.grad_tol.is_finite()) {
            return Err(TrainError::Config(format!(
                "stuck.grad_tol must be positive and finite, got {}",
                self.grad_tol
            )));
        }
        if self.patience == 0 {
            return Err(TrainError::Config(
                "stuck.patience must be at least 1".into(),
            ));
        }
        if !self.loss_threshold.is_finite() {
            return Err(TrainError::Config(
                "stuck.loss_threshold must be finite".into(),
            ));
        }
        Ok(())
    }
}

/// Counts stalled steps; owned by the trainer and saved in checkpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StuckCounter {
    pub(crate) run: usize,
    pub(crate) events: usize,
}

impl StuckCounter {
    /// Records one step; true when the detector should fire now.
    pub(crate) fn observe(&mut self, config: &StuckConfig, loss: f64, grad_norm: f64) -> bool {
        if self.events >= config.max_events {
            return false;
        }
        if grad_norm < config.grad_tol && loss > config.loss_threshold {
            self.run += 1;
        } else {
            self.run = 0;
        }
        if self.run >= config.patience {
            self.run = 0;
            self.events += 1;
            true
        } else {
            false
        }
    }
}

/// The whole training set as one batch for the model.
pub(crate) fn full_batch<'m>(
    model: &'m dyn Model<f64>,
    data: &unstuck_data::Dataset<f64>,
    loss: unstuck_models::Loss,
) -> Result<Objective<'m, f64>, TrainError> {
    Ok(Objective::from_batch(model, &data.as_batch(), loss)?)
}

/// Measures the point on the full training set, classifies it and maybe escapes.
/// Returns the events to record and, after an escape, the new parameters.
pub(crate) fn diagnose_and_escape(
    config: &StuckConfig,
    objective: &Objective<'_, f64>,
    theta: &[f64],
    step: u64,
) -> Result<(Vec<Event>, Option<Vec<f64>>), TrainError> {
    let (loss, gradient) = objective.gradient(theta)?;
    let grad_norm = gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
    let tape_objective = TapeObjective::new(theta.len(), |tape, th| objective.record(tape, th));
    if theta.len() > config.max_dense_params {
        let event = Event::Stuck {
            step,
            loss,
            grad_norm,
            classification: None,
            min_eigenvalue: None,
            minimum_ratio: None,
        };
        return Ok((vec![event], None));
    }
    let analysis = analyze_critical_point(&tape_objective, theta, ClassifyTolerances::default())?;
    let mut events = vec![Event::Stuck {
        step,
        loss,
        grad_norm,
        classification: Some(format!("{:?}", analysis.kind)),
        min_eigenvalue: analysis.eigenvalues.first().copied(),
        minimum_ratio: Some(analysis.minimum_ratio),
    }];
    let mut escaped = None;
    if let (true, Some(direction)) = (config.escape, &analysis.escape) {
        let step_out = escape_step(
            &tape_objective,
            theta,
            &direction.direction,
            direction.eigenvalue,
            EscapeConfig::default(),
        );
        // A failed escape (no sign lowers the loss) is information, not an error.
        if let Ok(step_out) = step_out {
            events.push(Event::Escaped {
                step,
                loss_before: step_out.loss_before,
                loss_after: step_out.loss_after,
                alpha: step_out.alpha,
            });
            escaped = Some(step_out.theta);
        }
    }
    Ok((events, escaped))
}
