//! Closed-form schedules: constant, step, multi-step, exponential, polynomial, linear,
//! inverse square root.

use super::Schedule;
use crate::spec::SpecArgs;
use crate::{OptimError, validate};

/// The same learning rate at every step.
#[derive(Debug, Clone, PartialEq)]
pub struct Constant {
    lr: f64,
}

impl Constant {
    /// `lr` must be finite and `>= 0`.
    pub fn new(lr: f64) -> Result<Self, OptimError> {
        Ok(Self {
            lr: validate::learning_rate("constant", "lr", lr)?,
        })
    }
}

impl Schedule for Constant {
    fn lr(&self, _step: u64) -> f64 {
        self.lr
    }
}

/// PyTorch's `StepLR`: `base_lr * gamma^(step / step_size)` (integer division).
#[derive(Debug, Clone, PartialEq)]
pub struct StepDecay {
    base_lr: f64,
    step_size: u64,
    gamma: f64,
}

impl StepDecay {
    /// `step_size >= 1`, `gamma` finite and `>= 0`.
    pub fn new(base_lr: f64, step_size: u64, gamma: f64) -> Result<Self, OptimError> {
        Ok(Self {
            base_lr: validate::learning_rate("step", "base_lr", base_lr)?,
            step_size: validate::count_at_least("step", "step_size", step_size, 1)?,
            gamma: validate::non_negative("step", "gamma", gamma)?,
        })
    }
}

impl Schedule for StepDecay {
    fn lr(&self, step: u64) -> f64 {
        // `powf`, like Python's `gamma ** k`, not a loop of multiplications.
        self.base_lr * self.gamma.powf((step / self.step_size) as f64)
    }
}

/// PyTorch's `MultiStepLR`: multiply by `gamma` at each milestone (a repeated milestone
/// counts twice, as in PyTorch).
#[derive(Debug, Clone, PartialEq)]
pub struct MultiStep {
    base_lr: f64,
    milestones: Vec<u64>,
    gamma: f64,
}

impl MultiStep {
    /// `gamma` finite and `>= 0`; milestones in any order.
    pub fn new(base_lr: f64, milestones: Vec<u64>, gamma: f64) -> Result<Self, OptimError> {
        Ok(Self {
            base_lr: validate::learning_rate("multistep", "base_lr", base_lr)?,
            milestones,
            gamma: validate::non_negative("multistep", "gamma", gamma)?,
        })
    }
}

impl Schedule for MultiStep {
    fn lr(&self, step: u64) -> f64 {
        let passed = self.milestones.iter().filter(|&&m| m <= step).count();
        self.base_lr * self.gamma.powf(passed as f64)
    }
}

/// PyTorch's `ExponentialLR`: `base_lr * gamma^step`.
#[derive(Debug, Clone, PartialEq)]
pub struct Exponential {
    base_lr: f64,
    gamma: f64,
}

impl Exponential {
    /// `gamma` finite and `>= 0`.
    pub fn new(base_lr: f64, gamma: f64) -> Result<Self, OptimError> {
        Ok(Self {
            base_lr: validate::learning_rate("exponential", "base_lr", base_lr)?,
            gamma: validate::non_negative("exponential", "gamma", gamma)?,
        })
    }
}

impl Schedule for Exponential {
    fn lr(&self, step: u64) -> f64 {
        self.base_lr * self.gamma.powf(step as f64)
    }
}

/// PyTorch's `PolynomialLR`: `base_lr * (1 - min(step, total_iters) / total_iters)^power`.
#[derive(Debug, Clone, PartialEq)]
pub struct Polynomial {
    base_lr: f64,
    total_iters: u64,
    power: f64,
}

impl Polynomial {
    /// `total_iters >= 1`, `power` finite and `>= 0`.
    pub fn new(base_lr: f64, total_iters: u64, power: f64) -> Result<Self, OptimError> {
        Ok(Self {
            base_lr: validate::learning_rate("polynomial", "base_lr", base_lr)?,
            total_iters: validate::count_at_least("polynomial", "total_iters", total_iters, 1)?,
            power: validate::non_negative("polynomial", "power", power)?,
        })
    }
}

impl Schedule for Polynomial {
    fn lr(&self, step: u64) -> f64 {
        let done = step.min(self.total_iters) as f64 / self.total_iters as f64;
        self.base_lr * (1.0 - done).powf(self.power)
    }
}

/// PyTorch's `LinearLR` (spec name `linear`; named apart from the model crate's `Linear`
/// layer): the factor moves linearly from `start_factor` to `end_factor`
/// over `total_iters` steps, then stays. With `start_factor < end_factor` this is a
/// linear warm-up. Unlike PyTorch, a start factor of 0 is allowed (closed form, no
/// division by the previous factor).
#[derive(Debug, Clone, PartialEq)]
pub struct LinearRamp {
    base_lr: f64,
    start_factor: f64,
    end_factor: f64,
    total_iters: u64,
}

impl LinearRamp {
    /// Factors finite and `>= 0`, `total_iters >= 1`.
    pub fn new(
        base_lr: f64,
        start_factor: f64,
        end_factor: f64,
        total_iters: u64,
    ) -> Result<Self, OptimError> {
        Ok(Self {
            base_lr: validate::learning_rate("linear", "base_lr", base_lr)?,
            start_factor: validate::non_negative("linear", "start_factor", start_factor)?,
            end_factor: validate::non_negative("linear", "end_factor", end_factor)?,
            total_iters: validate::count_at_least("linear", "total_iters", total_iters, 1)?,
        })
    }
}

impl Schedule for LinearRamp {
    fn lr(&self, step: u64) -> f64 {
        let done = step.min(self.total_iters) as f64;
        self.base_lr
            * (self.start_factor
                + (self.end_factor - self.start_factor) * done / self.total_iters as f64)
    }
}

/// Inverse square root decay: `base_lr / sqrt(1 + step / timescale)`.
///
/// Not in PyTorch. It starts at `base_lr` and has no warm-up of its own; prepend one with
/// `warmup:steps=W,then=(inverse_sqrt:timescale=W)` for the Transformer-style shape.
#[derive(Debug, Clone, PartialEq)]
pub struct InverseSqrt {
    base_lr: f64,
    timescale: f64,
}

impl InverseSqrt {
    /// `timescale` finite and `> 0`.
    pub fn new(base_lr: f64, timescale: f64) -> Result<Self, OptimError> {
        Ok(Self {
            base_lr: validate::learning_rate("inverse_sqrt", "base_lr", base_lr)?,
            timescale: validate::positive("inverse_sqrt", "timescale", timescale)?,
        })
    }
}

impl Schedule for InverseSqrt {
    fn lr(&self, step: u64) -> f64 {
        self.base_lr / (1.0 + step as f64 / self.timescale).sqrt()
    }
}

type Built = Result<Box<dyn Schedule>, OptimError>;

pub(super) fn build_constant(_args: &mut SpecArgs<'_>, base_lr: f64) -> Built {
    Ok(Box::new(Constant::new(base_lr)?))
}

pub(super) fn build_step(args: &mut SpecArgs<'_>, base_lr: f64) -> Built {
    let step_size = args.u64_required("step_size")?;
    let gamma = args.f64("gamma", 0.1)?;
    Ok(Box::new(StepDecay::new(base_lr, step_size, gamma)?))
}

pub(super) fn build_multistep(args: &mut SpecArgs<'_>, base_lr: f64) -> Built {
    let milestones = args.u64_list_required("milestones")?;
    let gamma = args.f64("gamma", 0.1)?;
    Ok(Box::new(MultiStep::new(base_lr, milestones, gamma)?))
}

pub(super) fn build_exponential(args: &mut SpecArgs<'_>, base_lr: f64) -> Built {
    let gamma = args.f64_required("gamma")?;
    Ok(Box::new(Exponential::new(base_lr, gamma)?))
}

pub(super) fn build_polynomial(args: &mut SpecArgs<'_>, base_lr: f64) -> Built {
    let total_iters = args.u64("total_iters", 5)?;
    let power = args.f64("power", 1.0)?;
    Ok(Box::new(Polynomial::new(base_lr, total_iters, power)?))
}

pub(super) fn build_linear(args: &mut SpecArgs<'_>, base_lr: f64) -> Built {
    let start_factor = args.f64("start_factor", 1.0 / 3.0)?;
    let end_factor = args.f64("end_factor", 1.0)?;
    let total_iters = args.u64("total_iters", 5)?;
    Ok(Box::new(LinearRamp::new(
        base_lr,
        start_factor,
        end_factor,
        total_iters,
    )?))
}

pub(super) fn build_inverse_sqrt(args: &mut SpecArgs<'_>, base_lr: f64) -> Built {
    let timescale = args.f64_required("timescale")?;
    Ok(Box::new(InverseSqrt::new(base_lr, timescale)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_decay_halves_every_ten() {
        let s = StepDecay::new(0.1, 10, 0.5).unwrap();
        assert_eq!(s.lr(9), 0.1);
        assert_eq!(s.lr(10), 0.05);
        assert_eq!(s.lr(25), 0.025);
    }

    #[test]
    fn linear_reaches_the_end_factor_and_stays() {
        let s = LinearRamp::new(2.0, 0.0, 1.0, 4).unwrap();
        // Dyadic steps: exact.
        assert_eq!(
            [s.lr(0), s.lr(1), s.lr(2), s.lr(4), s.lr(100)],
            [0.0, 0.5, 1.0, 2.0, 2.0]
        );
    }

    #[test]
    fn polynomial_ends_at_zero() {
        let s = Polynomial::new(0.1, 100, 2.0).unwrap();
        assert_eq!(s.lr(100), 0.0);
        assert_eq!(s.lr(1000), 0.0);
    }

    #[test]
    fn inverse_sqrt_quarters_at_fifteen_timescales() {
        let s = InverseSqrt::new(1.0, 10.0).unwrap();
        assert_eq!(s.lr(0), 1.0);
        // 1 / sqrt(1 + 150 / 10) = 1/4 exactly.
        assert_eq!(s.lr(150), 0.25);
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        assert!(StepDecay::new(0.1, 0, 0.5).is_err());
        assert!(Exponential::new(0.1, f64::NAN).is_err());
        assert!(Constant::new(-0.1).is_err());
        assert!(Polynomial::new(0.1, 0, 1.0).is_err());
        assert!(LinearRamp::new(0.1, -1.0, 1.0, 3).is_err());
        assert!(InverseSqrt::new(0.1, 0.0).is_err());
        assert!(MultiStep::new(0.1, vec![3], -0.5).is_err());
    }
}
