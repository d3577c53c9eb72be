//! Reduce the learning rate when a metric stops improving (PyTorch's `ReduceLROnPlateau`).
//!
//! This is the one schedule that is not a function of the step: it depends on the metric
//! history. Its whole state is in [`ReduceLrOnPlateau`], which serializes with serde;
//! feed its output to the optimizer with [`Optimizer::set_lr`](crate::Optimizer::set_lr).

use serde::{Deserialize, Serialize};

use crate::spec::{SpecArgs, lookup, parse_spec};
use crate::{OptimError, validate};

/// Whether a smaller or a larger metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlateauMode {
    /// Lower is better (a loss).
    Min,
    /// Higher is better (an accuracy).
    Max,
}

/// How `threshold` is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThresholdMode {
    /// Improvement must beat `best * (1 ∓ threshold)`.
    Rel,
    /// Improvement must beat `best ∓ threshold`.
    Abs,
}

/// Settings; `Default` is PyTorch's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlateauConfig {
    /// Lower or higher is better (default `Min`).
    pub mode: PlateauMode,
    /// Multiplier applied to the rate on a plateau (default 0.1).
    pub factor: f64,
    /// Bad observations tolerated before reducing (default 10).
    pub patience: u64,
    /// Minimum improvement that counts (default 1e-4).
    pub threshold: f64,
    /// Relative or absolute threshold (default relative).
    pub threshold_mode: ThresholdMode,
    /// Observations to wait after a reduction before counting again (default 0).
    pub cooldown: u64,
    /// Lower bound on the rate (default 0).
    pub min_lr: f64,
    /// Reductions smaller than this are skipped (default 1e-8).
    pub eps: f64,
}

impl Default for PlateauConfig {
    fn default() -> Self {
        Self {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
        }
    }
}

/// PyTorch's `ReduceLROnPlateau` for one parameter group, as a serializable value.
///
/// ```
/// use unstuck_optim::{PlateauConfig, ReduceLrOnPlateau};
///
/// let config = PlateauConfig { factor: 0.5, patience: 1, ..PlateauConfig::default() };
/// let mut plateau = ReduceLrOnPlateau::new(config, 0.1)?;
/// for loss in [1.0, 0.9, 0.9, 0.9] {
///     plateau.observe(loss)?;
/// }
/// assert_eq!(plateau.lr(), 0.05);
/// # Ok::<(), unstuck_optim::OptimError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReduceLrOnPlateau {
    config: PlateauConfig,
    lr: f64,
    /// Best metric so far; `None` before the first observation (PyTorch's +-inf, which
    /// JSON cannot hold).
    best: Option<f64>,
    num_bad: u64,
    cooldown_counter: u64,
    observations: u64,
}

impl ReduceLrOnPlateau {
    /// Starts at learning rate `initial_lr`.
    pub fn new(config: PlateauConfig, initial_lr: f64) -> Result<Self, OptimError> {
        let owner = "plateau";
        validate::non_negative(owner, "factor", config.factor)?;
        if config.factor >= 1.0 {
            return Err(OptimError::InvalidHyperparameter {
                owner,
                name: "factor",
                value: config.factor,
                expected: "a number in [0, 1)",
            });
        }
        validate::non_negative(owner, "threshold", config.threshold)?;
        validate::learning_rate(owner, "min_lr", config.min_lr)?;
        validate::non_negative(owner, "eps", config.eps)?;
        let lr = validate::learning_rate(owner, "initial_lr", initial_lr)?;
        Ok(Self {
            config,
            lr,
            best: None,
            num_bad: 0,
            cooldown_counter: 0,
            observations: 0,
        })
    }

    /// Builds from a spec such as `plateau:factor=0.5,patience=5,mode=min`.
    pub fn from_spec(text: &str, initial_lr: f64) -> Result<Self, OptimError> {
        let spec = parse_spec(text)?;
        lookup(text, &spec, "schedule", &["plateau"], |name| name)?;
        let mut args = SpecArgs::new(text, &spec);
        let d = PlateauConfig::default();
        let config = PlateauConfig {
            mode: match args.word("mode", "min", &["min", "max"], "`min` or `max`")? {
                "max" => PlateauMode::Max,
                _ => PlateauMode::Min,
            },
            factor: args.f64("factor", d.factor)?,
            patience: args.u64("patience", d.patience)?,
            threshold: args.f64("threshold", d.threshold)?,
            threshold_mode: match args.word(
                "threshold_mode",
                "rel",
                &["rel", "abs"],
                "`rel` or `abs`",
            )? {
                "abs" => ThresholdMode::Abs,
                _ => ThresholdMode::Rel,
            },
            cooldown: args.u64("cooldown", d.cooldown)?,
            min_lr: args.f64("min_lr", d.min_lr)?,
            eps: args.f64("eps", d.eps)?,
        };
        args.finish()?;
        Self::new(config, initial_lr)
    }

    /// The current learning rate.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Number of metrics observed so far.
    pub fn observations(&self) -> u64 {
        self.observations
    }

    fn is_better(&self, metric: f64, best: f64) -> bool {
        let t = self.config.threshold;
        match (self.config.mode, self.config.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => metric < best * (1.0 - t),
            (PlateauMode::Min, ThresholdMode::Abs) => metric < best - t,
            (PlateauMode::Max, ThresholdMode::Rel) => metric > best * (1.0 + t),
            (PlateauMode::Max, ThresholdMode::Abs) => metric > best + t,
        }
    }

    /// Records one metric (PyTorch's `scheduler.step(metric)`) and returns the rate for
    /// the next step. A NaN or infinite metric is an error and changes nothing.
    pub fn observe(&mut self, metric: f64) -> Result<f64, OptimError> {
        if !metric.is_finite() {
            return Err(OptimError::NonFiniteMetric {
                index: self.observations,
                value: metric,
            });
        }
        self.observations += 1;
        match self.best {
            Some(best) if !self.is_better(metric, best) => self.num_bad += 1,
            _ => {
                self.best = Some(metric);
                self.num_bad = 0;
            }
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad = 0;
        }
        if self.num_bad > self.config.patience {
            let reduced = (self.lr * self.config.factor).max(self.config.min_lr);
            if self.lr - reduced > self.config.eps {
                self.lr = reduced;
            }
            self.cooldown_counter = self.config.cooldown;
            self.num_bad = 0;
        }
        Ok(self.lr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cooldown_delays_counting() {
        let config = PlateauConfig {
            factor: 0.5,
            patience: 0,
            cooldown: 2,
            ..PlateauConfig::default()
        };
        let mut p = ReduceLrOnPlateau::new(config, 1.0).unwrap();
        let lrs: Vec<f64> = [1.0, 1.0, 1.0, 1.0, 1.0]
            .iter()
            .map(|&m| p.observe(m).unwrap())
            .collect();
        // Bad at 2 -> halve, then two cooldown observations, then halve again.
        assert_eq!(lrs, vec![1.0, 0.5, 0.5, 0.5, 0.25]);
    }

    #[test]
    fn max_mode_and_min_lr() {
        let config = PlateauConfig {
            mode: PlateauMode::Max,
            factor: 0.1,
            patience: 0,
            min_lr: 0.05,
            ..PlateauConfig::default()
        };
        let mut p = ReduceLrOnPlateau::new(config, 1.0).unwrap();
        assert_eq!(p.observe(0.5).unwrap(), 1.0);
        assert_eq!(p.observe(0.6).unwrap(), 1.0);
        assert_eq!(p.observe(0.6).unwrap(), 0.1);
        assert_eq!(p.observe(0.1).unwrap(), 0.05);
    }

    #[test]
    fn non_finite_metric_is_an_error() {
        let mut p = ReduceLrOnPlateau::new(PlateauConfig::default(), 0.1).unwrap();
        p.observe(1.0).unwrap();
        let before = p.clone();
        assert!(matches!(
            p.observe(f64::NAN),
            Err(OptimError::NonFiniteMetric { index: 1, .. })
        ));
        assert_eq!(p, before);
    }

    #[test]
    fn spec_and_state_round_trip() {
        let mut p =
            ReduceLrOnPlateau::from_spec("plateau:factor=0.5,patience=1,threshold_mode=abs", 0.1)
                .unwrap();
        p.observe(2.0).unwrap();
        p.observe(2.0).unwrap();
        let json = serde_json::to_string(&p).unwrap();
        let back: ReduceLrOnPlateau = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        assert!(ReduceLrOnPlateau::from_spec("plateau:factor=2", 0.1).is_err());
        assert!(ReduceLrOnPlateau::from_spec("cosine:t_max=3", 0.1).is_err());
    }
}
