//! The one-cycle policy (Smith & Topin 2017), as PyTorch's `OneCycleLR`.

use std::f64::consts::PI;

use super::Schedule;
use crate::spec::SpecArgs;
use crate::{OptimError, validate};

/// How a one-cycle phase moves between its end points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anneal {
    /// Half a cosine (PyTorch's default `anneal_strategy="cos"`).
    Cos,
    /// A straight line.
    Linear,
}

impl Anneal {
    /// PyTorch's `_annealing_cos` / `_annealing_linear`, with the same operation order.
    fn apply(self, start: f64, end: f64, pct: f64) -> f64 {
        match self {
            Self::Cos => end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0),
            Self::Linear => (end - start) * pct + start,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Phase {
    end_step: f64,
    start_lr: f64,
    end_lr: f64,
}

/// PyTorch's `OneCycleLR` (learning rate only; momentum cycling is not included).
///
/// Two phases by default: from `max_lr / div_factor` up to `max_lr` until step
/// `pct_start * total_steps - 1`, then down to `max_lr / (div_factor * final_div_factor)`
/// at step `total_steps - 1`. With `three_phase`, the way down first returns to the
/// initial rate and then anneals to the minimum. PyTorch raises past `total_steps`; this
/// function stays at the final rate instead.
#[derive(Debug, Clone, PartialEq)]
pub struct OneCycle {
    phases: Vec<Phase>,
    total_steps: u64,
    anneal: Anneal,
}

/// One-cycle settings; `Default` gives PyTorch's defaults for everything but the two
/// required values.
#[derive(Debug, Clone, PartialEq)]
pub struct OneCycleConfig {
    /// Peak learning rate.
    pub max_lr: f64,
    /// Length of the cycle in steps.
    pub total_steps: u64,
    /// Share of the cycle spent going up (default 0.3).
    pub pct_start: f64,
    /// Initial rate is `max_lr / div_factor` (default 25).
    pub div_factor: f64,
    /// Final rate is the initial rate divided by this (default 1e4).
    pub final_div_factor: f64,
    /// Cosine or linear annealing (default cosine).
    pub anneal: Anneal,
    /// Use PyTorch's three-phase variant (default false).
    pub three_phase: bool,
}

impl Default for OneCycleConfig {
    fn default() -> Self {
        Self {
            max_lr: 0.1,
            total_steps: 100,
            pct_start: 0.3,
            div_factor: 25.0,
            final_div_factor: 1e4,
            anneal: Anneal::Cos,
            three_phase: false,
        }
    }
}

impl OneCycle {
    /// Checks the settings; every phase must be at least one step long.
    pub fn new(config: &OneCycleConfig) -> Result<Self, OptimError> {
        let owner = "onecycle";
        let max_lr = validate::learning_rate(owner, "max_lr", config.max_lr)?;
        let total_steps = validate::count_at_least(owner, "total_steps", config.total_steps, 2)?;
        let pct_start = validate::open_unit_interval(owner, "pct_start", config.pct_start)?;
        let div_factor = validate::positive(owner, "div_factor", config.div_factor)?;
        let final_div_factor =
            validate::positive(owner, "final_div_factor", config.final_div_factor)?;
        let initial_lr = max_lr / div_factor;
        let min_lr = initial_lr / final_div_factor;
        let total = total_steps as f64;
        let up_end = pct_start * total - 1.0;
        // Up to the peak, then (three-phase) back down to the start, then the anneal to the
        // minimum from wherever the previous phase ended.
        let mut phases = vec![Phase {
            end_step: up_end,
            start_lr: initial_lr,
            end_lr: max_lr,
        }];
        if config.three_phase {
            phases.push(Phase {
                end_step: 2.0 * pct_start * total - 2.0,
                start_lr: max_lr,
                end_lr: initial_lr,
            });
        }
        let anneal_from = phases.last().map_or(max_lr, |phase| phase.end_lr);
        phases.push(Phase {
            end_step: total - 1.0,
            start_lr: anneal_from,
            end_lr: min_lr,
        });
        // Each phase must end after the previous one, or PyTorch's formula divides by
        // zero or runs backwards.
        let mut previous_end = 0.0;
        for phase in &phases {
            if phase.end_step <= previous_end {
                return Err(OptimError::InvalidHyperparameter {
                    owner,
                    name: "pct_start",
                    value: pct_start,
                    expected: "a value leaving every phase at least one step long",
                });
            }
            previous_end = phase.end_step;
        }
        Ok(Self {
            phases,
            total_steps,
            anneal: config.anneal,
        })
    }
}

impl Schedule for OneCycle {
    fn lr(&self, step: u64) -> f64 {
        let step = step.min(self.total_steps - 1) as f64;
        let mut start_step = 0.0;
        for (i, phase) in self.phases.iter().enumerate() {
            if step <= phase.end_step || i == self.phases.len() - 1 {
                let pct = (step - start_step) / (phase.end_step - start_step);
                return self.anneal.apply(phase.start_lr, phase.end_lr, pct);
            }
            start_step = phase.end_step;
        }
        unreachable!("the last phase always matches")
    }
}

pub(super) fn build_one_cycle(
    args: &mut SpecArgs<'_>,
    base_lr: f64,
) -> Result<Box<dyn Schedule>, OptimError> {
    let defaults = OneCycleConfig::default();
    let config = OneCycleConfig {
        max_lr: args.f64("max_lr", base_lr)?,
        total_steps: args.u64_required("total_steps")?,
        pct_start: args.f64("pct_start", defaults.pct_start)?,
        div_factor: args.f64("div_factor", defaults.div_factor)?,
        final_div_factor: args.f64("final_div_factor", defaults.final_div_factor)?,
        anneal: match args.word("anneal", "cos", &["cos", "linear"], "`cos` or `linear`")? {
            "linear" => Anneal::Linear,
            _ => Anneal::Cos,
        },
        three_phase: args.bool("three_phase", false)?,
    };
    Ok(Box::new(OneCycle::new(&config)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_peaks_and_ends_where_pytorch_does() {
        let s = OneCycle::new(&OneCycleConfig {
            max_lr: 1.0,
            total_steps: 120,
            ..OneCycleConfig::default()
        })
        .unwrap();
        // Golden PyTorch values (lr_schedules.json): same formula, same bits.
        assert_eq!(s.lr(0), 0.040000000000000036);
        assert_eq!(s.lr(35), 1.0);
        assert_eq!(s.lr(119), 4e-6);
        assert_eq!(s.lr(500), 4e-6);
    }

    #[test]
    fn three_phase_returns_to_initial_rate() {
        let s = OneCycle::new(&OneCycleConfig {
            max_lr: 1.0,
            total_steps: 100,
            anneal: Anneal::Linear,
            three_phase: true,
            ..OneCycleConfig::default()
        })
        .unwrap();
        // Phase ends at 29, 58 and 99 steps.
        assert!((s.lr(29) - 1.0).abs() < 1e-15);
        assert!((s.lr(58) - 0.04).abs() < 1e-15);
        // (4e-6 - 0.04) * 1 + 0.04 rounds once at the scale of 0.04 (ulp 7e-18).
        assert!((s.lr(99) - 4e-6).abs() < 1e-17);
    }

    #[test]
    fn too_short_a_warm_up_is_rejected() {
        let config = OneCycleConfig {
            total_steps: 3,
            pct_start: 0.2,
            ..OneCycleConfig::default()
        };
        assert!(OneCycle::new(&config).is_err());
    }
}
