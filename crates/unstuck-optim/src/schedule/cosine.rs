//! Cosine annealing, single and with warm restarts.

use std::f64::consts::PI;

use super::Schedule;
use crate::spec::SpecArgs;
use crate::{OptimError, validate};

fn half_cosine(base_lr: f64, eta_min: f64, t_cur: f64, t_len: f64) -> f64 {
    eta_min + (base_lr - eta_min) * (1.0 + (PI * t_cur / t_len).cos()) / 2.0
}

/// PyTorch's `CosineAnnealingLR` in its closed form:
/// `eta_min + (base_lr - eta_min) (1 + cos(pi step / t_max)) / 2`.
///
/// As in PyTorch, the cosine continues past `t_max` (the rate rises again, period
/// `2 t_max`); use `cosine_restarts` or a `sequence` for other behaviour.
#[derive(Debug, Clone, PartialEq)]
pub struct Cosine {
    base_lr: f64,
    t_max: u64,
    eta_min: f64,
}

impl Cosine {
    /// `t_max >= 1`, `eta_min` finite and `>= 0`.
    pub fn new(base_lr: f64, t_max: u64, eta_min: f64) -> Result<Self, OptimError> {
        Ok(Self {
            base_lr: validate::learning_rate("cosine", "base_lr", base_lr)?,
            t_max: validate::count_at_least("cosine", "t_max", t_max, 1)?,
            eta_min: validate::learning_rate("cosine", "eta_min", eta_min)?,
        })
    }
}

impl Schedule for Cosine {
    fn lr(&self, step: u64) -> f64 {
        half_cosine(self.base_lr, self.eta_min, step as f64, self.t_max as f64)
    }
}

/// PyTorch's `CosineAnnealingWarmRestarts`: cosine cycles of `t_0`, `t_0 t_mult`,
/// `t_0 t_mult^2`, ... steps, each restarting at the base rate.
#[derive(Debug, Clone, PartialEq)]
pub struct CosineWarmRestarts {
    base_lr: f64,
    t_0: u64,
    t_mult: u64,
    eta_min: f64,
}

impl CosineWarmRestarts {
    /// `t_0 >= 1`, `t_mult >= 1` (whole numbers, as PyTorch), `eta_min >= 0`.
    pub fn new(base_lr: f64, t_0: u64, t_mult: u64, eta_min: f64) -> Result<Self, OptimError> {
        Ok(Self {
            base_lr: validate::learning_rate("cosine_restarts", "base_lr", base_lr)?,
            t_0: validate::count_at_least("cosine_restarts", "t_0", t_0, 1)?,
            t_mult: validate::count_at_least("cosine_restarts", "t_mult", t_mult, 1)?,
            eta_min: validate::learning_rate("cosine_restarts", "eta_min", eta_min)?,
        })
    }

    /// Position in the current cycle and the cycle's length, in whole steps (PyTorch
    /// uses a float logarithm here; integers avoid its round-off at cycle boundaries).
    fn cycle(&self, step: u64) -> (u64, u64) {
        if self.t_mult == 1 {
            return (step % self.t_0, self.t_0);
        }
        let (mut t_cur, mut t_len) = (step, self.t_0);
        // Cycles grow geometrically, so this runs at most ~64 times.
        while t_cur >= t_len {
            t_cur -= t_len;
            match t_len.checked_mul(self.t_mult) {
                Some(next) => t_len = next,
                None => break,
            }
        }
        (t_cur, t_len)
    }
}

impl Schedule for CosineWarmRestarts {
    fn lr(&self, step: u64) -> f64 {
        let (t_cur, t_len) = self.cycle(step);
        half_cosine(self.base_lr, self.eta_min, t_cur as f64, t_len as f64)
    }
}

type Built = Result<Box<dyn Schedule>, OptimError>;

pub(super) fn build_cosine(args: &mut SpecArgs<'_>, base_lr: f64) -> Built {
    let t_max = args.u64_required("t_max")?;
    let eta_min = args.f64("eta_min", 0.0)?;
    Ok(Box::new(Cosine::new(base_lr, t_max, eta_min)?))
}

pub(super) fn build_warm_restarts(args: &mut SpecArgs<'_>, base_lr: f64) -> Built {
    let t_0 = args.u64_required("t_0")?;
    let t_mult = args.u64("t_mult", 1)?;
    let eta_min = args.f64("eta_min", 0.0)?;
    Ok(Box::new(CosineWarmRestarts::new(
        base_lr, t_0, t_mult, eta_min,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_ends_at_eta_min() {
        let s = Cosine::new(0.1, 100, 0.001).unwrap();
        assert_eq!(s.lr(0), 0.1);
        // cos(pi) = -1 exactly in f64, so the end point is eta_min to the last bit.
        assert_eq!(s.lr(100), 0.001);
    }

    #[test]
    fn restarts_follow_growing_cycles() {
        let s = CosineWarmRestarts::new(0.1, 20, 2, 0.0).unwrap();
        assert_eq!(s.cycle(19), (19, 20));
        assert_eq!(s.cycle(20), (0, 40));
        assert_eq!(s.cycle(59), (39, 40));
        assert_eq!(s.cycle(60), (0, 80));
        assert_eq!(s.lr(60), 0.1);
        let flat = CosineWarmRestarts::new(0.1, 7, 1, 0.0).unwrap();
        assert_eq!(flat.cycle(15), (1, 7));
    }

    #[test]
    fn huge_steps_do_not_overflow() {
        let s = CosineWarmRestarts::new(0.1, 3, 1000, 0.0).unwrap();
        assert!(s.lr(u64::MAX).is_finite());
    }
}
