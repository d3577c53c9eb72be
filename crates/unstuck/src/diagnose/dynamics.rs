//! Training dynamics as evidence: is the loss still falling (its slope with an
//! interval), how the gradient is spread over the layers (vanishing or exploding), and a
//! short learning-rate range test (as fastai's and Lightning's `lr_find`).
//!
//! Per-layer gradient norms are computed here from the full-batch gradient and the
//! model's `state_dict` layout; the trainer's instruments (per-layer norms every step,
//! dead units) can replace this file's `layer_gradient_norms` when they land.

use super::stats::Interval;
use crate::{History, TrainError};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use unstuck_data::Dataset;
use unstuck_models::{Architecture, Loss, Model, Objective};
use unstuck_optim::{Optimizer, Schedule};

/// The slope of the training loss over the last half of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossTrend {
    /// Least-squares slope of the per-epoch training loss, per epoch, with the 95%
    /// interval of the fit (t quantile approximated by 2 for few points' safety).
    pub slope_per_epoch: Interval,
    /// The epochs the fit used.
    pub epochs_used: usize,
    /// The epochs the run trained for.
    pub epochs_trained: usize,
    /// The slope's interval lies below zero and, kept up for as many epochs again, it
    /// would lower the loss by more than the guide's margin.
    pub still_descending: bool,
}

impl LossTrend {
    /// How much lower the loss would be after as many epochs again at the fitted slope:
    /// an optimistic extrapolation (loss curves flatten), used to ask whether more
    /// training could close a gap at all.
    pub fn projected_gain(&self) -> f64 {
        (-self.slope_per_epoch.estimate * self.epochs_trained as f64).max(0.0)
    }
}

/// Fits the slope over the last half of the epochs (at least 3).
pub(crate) fn loss_trend(history: &History, margin: f64) -> Option<LossTrend> {
    let epochs = &history.epochs;
    let n = epochs.len().div_ceil(2).max(3).min(epochs.len());
    if n < 3 {
        return None;
    }
    let tail = &epochs[epochs.len() - n..];
    let xs: Vec<f64> = tail.iter().map(|e| e.epoch as f64).collect();
    let ys: Vec<f64> = tail.iter().map(|e| e.train_loss).collect();
    let mean_x = xs.iter().sum::<f64>() / n as f64;
    let mean_y = ys.iter().sum::<f64>() / n as f64;
    let sxx: f64 = xs.iter().map(|x| (x - mean_x) * (x - mean_x)).sum();
    let sxy: f64 = xs
        .iter()
        .zip(&ys)
        .map(|(x, y)| (x - mean_x) * (y - mean_y))
        .sum();
    let slope = sxy / sxx;
    let residual: f64 = xs
        .iter()
        .zip(&ys)
        .map(|(x, y)| {
            let r = y - mean_y - slope * (x - mean_x);
            r * r
        })
        .sum();
    let se = (residual / (n as f64 - 2.0) / sxx).sqrt();
    let slope_per_epoch = Interval {
        estimate: slope,
        low: slope - 2.0 * se,
        high: slope + 2.0 * se,
    };
    let budget = epochs.len() as f64;
    Some(LossTrend {
        still_descending: slope_per_epoch.high < 0.0 && -slope_per_epoch.high * budget > margin,
        slope_per_epoch,
        epochs_used: n,
        epochs_trained: epochs.len(),
    })
}

/// The gradient's norm on one layer's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerGradient {
    /// The layer's `state_dict` prefix (`layers.0`, `conv1`).
    pub layer: String,
    /// The gradient's norm over its parameters.
    pub norm: f64,
    /// That norm over the square root of the layer's parameter count (comparable
    /// between layers of different sizes).
    pub rms: f64,
}

/// The full-batch gradient split by layer, in `state_dict` order.
pub(crate) fn layer_gradient_norms(
    model: &dyn Architecture,
    gradient: &[f64],
) -> Vec<LayerGradient> {
    let mut layers: Vec<(String, f64, usize)> = Vec::new();
    for spec in model.layout() {
        let layer = spec
            .name
            .rsplit_once('.')
            .map_or(spec.name.as_str(), |(prefix, _)| prefix)
            .to_string();
        let squares: f64 = gradient[spec.offset..spec.offset + spec.len()]
            .iter()
            .map(|g| g * g)
            .sum();
        match layers.last_mut() {
            Some((name, total, count)) if *name == layer => {
                *total += squares;
                *count += spec.len();
            }
            _ => layers.push((layer, squares, spec.len())),
        }
    }
    layers
        .into_iter()
        .map(|(layer, squares, count)| LayerGradient {
            layer,
            norm: squares.sqrt(),
            rms: (squares / count.max(1) as f64).sqrt(),
        })
        .collect()
}

/// The per-parameter RMS gradient of the first layers is below this fraction of the
/// largest layer's: the gradient vanishes on its way back.
pub const VANISHING_RATIO: f64 = 1e-3;

/// Whether the layers' RMS gradients span more than `1 / VANISHING_RATIO`.
pub(crate) fn vanishing(layers: &[LayerGradient]) -> bool {
    let largest = layers.iter().map(|l| l.rms).fold(0.0, f64::max);
    let smallest = layers.iter().map(|l| l.rms).fold(f64::INFINITY, f64::min);
    layers.len() > 1 && largest > 0.0 && smallest < VANISHING_RATIO * largest
}

/// A learning-rate range test: the user's optimizer from the user's initial point, the
/// learning rate raised geometrically every step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LrRangeTest {
    /// The learning rates tried, one per step.
    pub lrs: Vec<f64>,
    /// The mini-batch loss at each step, smoothed (exponential average, 0.8, debiased).
    pub losses: Vec<f64>,
    /// Where the smoothed loss fell fastest (per unit of log learning rate): the
    /// suggestion of `lr_find`.
    pub steepest_lr: f64,
    /// Where the smoothed loss was lowest; beyond it the loss rises.
    pub lowest_loss_lr: f64,
    /// The user's learning rate.
    pub user_lr: f64,
}

impl LrRangeTest {
    /// The user's rate is beyond the point where the loss stops falling.
    pub fn user_lr_too_large(&self) -> bool {
        self.user_lr > 3.0 * self.lowest_loss_lr
    }

    /// The user's rate is far below the steepest point.
    pub fn user_lr_too_small(&self) -> bool {
        self.user_lr < self.steepest_lr / 30.0
    }
}

/// A geometric ramp from `low` to `high` over `steps` steps.
#[derive(Debug)]
struct Ramp {
    low: f64,
    high: f64,
    steps: u64,
}

impl Schedule for Ramp {
    fn lr(&self, step: u64) -> f64 {
        let t = step.min(self.steps - 1) as f64 / (self.steps - 1).max(1) as f64;
        self.low * (self.high / self.low).powf(t)
    }
}

/// Settings of the range test.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RangeSettings {
    pub(crate) low: f64,
    pub(crate) high: f64,
    pub(crate) steps: u64,
    pub(crate) batch_size: usize,
    pub(crate) seed: u64,
}

/// Runs the range test; stops early when the smoothed loss exceeds 4 times its lowest
/// value or stops being finite (as `lr_find` does).
pub(crate) fn lr_range_test(
    model: &dyn Model<f64>,
    mut optimizer: Box<dyn Optimizer<f64>>,
    data: &Dataset<f64>,
    loss: Loss,
    settings: RangeSettings,
) -> Result<LrRangeTest, TrainError> {
    let user_lr = optimizer.lr();
    let steps = settings.steps.max(2);
    optimizer.set_schedule(Box::new(Ramp {
        low: settings.low,
        high: settings.high,
        steps,
    }));
    let mut theta = model.init(settings.seed);
    let mut order: Vec<usize> = (0..data.n_rows()).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(settings.seed));
    let batch = settings.batch_size.clamp(1, data.n_rows());
    let (mut lrs, mut losses) = (Vec::new(), Vec::new());
    let (mut average, mut best) = (0.0, f64::INFINITY);
    for step in 0..steps {
        let start = (step as usize * batch) % data.n_rows();
        let rows: Vec<usize> = (0..batch)
            .map(|i| order[(start + i) % order.len()])
            .collect();
        let part = data.select(&rows)?;
        let objective = Objective::from_batch(model, &part.as_batch(), loss)?;
        let (value, gradient) = objective.gradient(&theta)?;
        if !value.is_finite() || gradient.iter().any(|g| !g.is_finite()) {
            break;
        }
        average = 0.8 * average + 0.2 * value;
        let smoothed = average / (1.0 - 0.8f64.powi(step as i32 + 1));
        lrs.push(optimizer.lr());
        losses.push(smoothed);
        best = best.min(smoothed);
        if smoothed > 4.0 * best || optimizer.step(&mut theta, &gradient).is_err() {
            break;
        }
    }
    let lowest = losses
        .iter()
        .enumerate()
        .fold(
            (0, f64::INFINITY),
            |b, (i, &l)| if l < b.1 { (i, l) } else { b },
        )
        .0;
    // The steepest fall per step of log lr (equal steps) up to the lowest point.
    let steepest = (1..=lowest.max(1).min(losses.len().saturating_sub(1)))
        .fold((0, 0.0), |b, i| {
            let fall = losses[i - 1] - losses[i];
            if fall > b.1 { (i, fall) } else { b }
        })
        .0;
    let at = |i: usize| lrs.get(i).copied().unwrap_or(settings.low);
    Ok(LrRangeTest {
        steepest_lr: at(steepest),
        lowest_loss_lr: at(lowest),
        lrs,
        losses,
        user_lr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::EpochRecord;

    fn history(losses: &[f64]) -> History {
        History {
            epochs: losses
                .iter()
                .enumerate()
                .map(|(epoch, &train_loss)| EpochRecord {
                    epoch: epoch as u64,
                    train_loss,
                    train_accuracy: None,
                    validation_loss: None,
                    validation_accuracy: None,
                    seconds: 0.0,
                })
                .collect(),
            ..History::default()
        }
    }

    #[test]
    fn a_falling_loss_is_still_descending_and_a_flat_one_is_not() {
        let falling: Vec<f64> = (0..10)
            .map(|e| 1.0 - 0.05 * e as f64 + 0.001 * (e % 2) as f64)
            .collect();
        let trend = loss_trend(&history(&falling), 0.1).unwrap();
        assert!(trend.still_descending, "{trend:?}");
        assert!((trend.slope_per_epoch.estimate + 0.05).abs() < 0.01);
        let flat: Vec<f64> = (0..10).map(|e| 0.5 + 0.001 * (e % 2) as f64).collect();
        assert!(!loss_trend(&history(&flat), 0.1).unwrap().still_descending);
        assert!(loss_trend(&history(&[1.0, 0.5]), 0.1).is_none());
    }

    #[test]
    fn the_ramp_is_geometric() {
        let ramp = Ramp {
            low: 1e-4,
            high: 1.0,
            steps: 5,
        };
        assert!((ramp.lr(0) - 1e-4).abs() < 1e-16);
        assert!((ramp.lr(2) - 1e-2).abs() < 1e-12);
        assert!((ramp.lr(4) - 1.0).abs() < 1e-12);
    }
}
