//! Noticing that training is stuck, and what to do about it.

use crate::TrainError;
use crate::history::Event;
use unstuck_hessian::{
    ClassifyTolerances, EscapeConfig, SpectrumPolicy, TapeObjective, escape_step, summarize,
};
use unstuck_models::Objective;

/// When to call training stuck, and whether to look at the Hessian and escape.
///
/// The detector fires after `patience` consecutive steps whose mini-batch gradient norm
/// is under `grad_tol` while the mini-batch loss is above `loss_threshold`. It then
/// measures the loss and gradient on the whole training set, summarises the Hessian's
/// spectrum there under `spectrum` (dense and exact for small models, Lanczos for the
/// extremes of large ones: `unstuck_hessian::summarize`), classifies the point (saddle,
/// minimum, ...), and, if `escape` is set and an eigenvalue is negative, steps along that
/// eigenvector (both signs tried, backed off until the loss falls).
#[derive(Debug, Clone, PartialEq)]
pub struct StuckConfig {
    /// Gradient norm under which a step counts as stalled.
    pub grad_tol: f64,
    /// Consecutive stalled steps before the detector fires.
    pub patience: usize,
    /// A loss at or below this is "trained", not stuck.
    pub loss_threshold: f64,
    /// How the spectrum is read at a stalled point (its `lowest_vector` is always kept:
    /// the escape needs it).
    pub spectrum: SpectrumPolicy,
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
            spectrum: SpectrumPolicy {
                trace: None,
                ..SpectrumPolicy::default()
            },
            escape: true,
            max_events: 5,
        }
    }
}

impl StuckConfig {
    pub(crate) fn validate(&self) -> Result<(), TrainError> {
        let invalid =
            |setting, problem: String| Err(TrainError::InvalidSetting { setting, problem });
        if !(self.grad_tol > 0.0 && self.grad_tol.is_finite()) {
            return invalid(
                "stuck.grad_tol",
                format!("must be positive and finite, got {}", self.grad_tol),
            );
        }
        if self.patience == 0 {
            return invalid("stuck.patience", "must be at least 1".into());
        }
        if !self.loss_threshold.is_finite() {
            return invalid("stuck.loss_threshold", "must be finite".into());
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
    let policy = SpectrumPolicy {
        lowest_vector: true,
        ..config.spectrum
    };
    let summary = summarize(&objective.curvature(theta)?, &policy)?;
    let kind = summary.kind(grad_norm, ClassifyTolerances::default().gradient_abs)?;
    let mut events = vec![Event::Stuck {
        step,
        loss,
        grad_norm,
        classification: Some(kind),
        min_eigenvalue: Some(summary.smallest[0]),
        minimum_ratio: summary.minimum_ratio()?,
    }];
    let tape_objective = TapeObjective::new(theta.len(), objective.as_fn());
    let mut escaped = None;
    if let (true, Some(direction)) = (config.escape, summary.escape()?) {
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
