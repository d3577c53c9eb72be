//! Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms").
//!
//! This file is the extension example: it is written as a user outside the crate would
//! write it, naming only `unstuck_optim::...` items (the crate aliases itself with
//! `extern crate self as unstuck_optim`). `tests/lion_outside_tests.rs` compiles this very
//! file as part of another crate, which proves it needs nothing private. To add your own
//! optimizer, copy this file, change the math, and register it (one line in
//! `Registry::builtin`, or `Registry::register` from your code).
//!
//! Per element, with decoupled weight decay as in the paper and `lion-pytorch`:
//! `p *= 1 - lr wd`; `c = beta1 m + (1 - beta1) g`; `p -= lr sign(c)`;
//! `m = beta2 m + (1 - beta2) g`.

use unstuck_optim::ops::add_scaled;
use unstuck_optim::transforms::decoupled_weight_decay;
use unstuck_optim::{
    Driver, Element, FromSpec, OptimError, RuleState, SpecArgs, StateReader, StateWriter,
    UpdateRule, for_each_element, validate,
};

/// Lion hyperparameters; `Default` is the paper's (lr 1e-4, betas 0.9 and 0.99).
#[derive(Debug, Clone, PartialEq)]
pub struct LionConfig {
    /// Learning rate (typically 3-10x smaller than AdamW's).
    pub lr: f64,
    /// Interpolation between momentum and gradient for the update's sign, in `[0, 1)`.
    pub beta1: f64,
    /// Decay of the momentum, in `[0, 1)`.
    pub beta2: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
}

impl Default for LionConfig {
    fn default() -> Self {
        Self {
            lr: 1e-4,
            beta1: 0.9,
            beta2: 0.99,
            weight_decay: 0.0,
        }
    }
}

/// Lion as an optimizer.
pub type Lion<T> = Driver<T, LionConfig>;

/// Lion's single momentum buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct LionState<T> {
    /// Momentum `m`.
    pub exp_avg: Vec<T>,
}

impl<T: Element> RuleState<T> for LionState<T> {
    fn save(&self, out: &mut StateWriter) {
        out.buffer("exp_avg", &self.exp_avg);
    }
    fn load(&mut self, saved: &StateReader<'_>) -> Result<(), OptimError> {
        saved.buffer("exp_avg", &mut self.exp_avg)
    }
}

impl<T: Element> UpdateRule<T> for LionConfig {
    const NAME: &'static str = "lion";
    type State = LionState<T>;

    fn lr(&self) -> f64 {
        self.lr
    }

    fn validate(&self) -> Result<(), OptimError> {
        validate::learning_rate("lion", "lr", self.lr)?;
        validate::decay_rate("lion", "beta1", self.beta1)?;
        validate::decay_rate("lion", "beta2", self.beta2)?;
        validate::non_negative("lion", "weight_decay", self.weight_decay)?;
        Ok(())
    }

    fn init(&self, n_params: usize) -> LionState<T> {
        LionState {
            exp_avg: vec![T::ZERO; n_params],
        }
    }

    fn update(&self, params: &mut [T], grads: &[T], state: &mut LionState<T>, lr: f64, _step: u64) {
        decoupled_weight_decay(params, lr, self.weight_decay);
        let h = [
            T::from_f64(self.beta1),
            T::from_f64(1.0 - self.beta1),
            T::from_f64(self.beta2),
            T::from_f64(1.0 - self.beta2),
            T::from_f64(-lr),
        ];
        let [beta1, one_minus_beta1, beta2, one_minus_beta2, neg_lr] = h;
        // One element's math; the helper runs it vectorised on rayon's threads.
        for_each_element(
            (params, grads, &mut state.exp_avg[..]),
            #[inline(always)]
            move |(p, &g, m)| {
                let direction = add_scaled(*m * beta1, one_minus_beta1, g).sign();
                *p = add_scaled(*p, neg_lr, direction);
                *m = add_scaled(*m * beta2, one_minus_beta2, g);
            },
        );
    }
}

impl FromSpec for LionConfig {
    const SUMMARY: &'static str =
        "Lion (Chen et al. 2023): step lr*sign(beta1*m + (1-beta1)*g), decoupled weight decay.";

    fn from_spec(args: &mut SpecArgs<'_>) -> Result<Self, OptimError> {
        let d = Self::default();
        Ok(Self {
            lr: args.f64("lr", d.lr)?,
            beta1: args.f64("beta1", d.beta1)?,
            beta2: args.f64("beta2", d.beta2)?,
            weight_decay: args.f64("weight_decay", d.weight_decay)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unstuck_optim::Optimizer;

    #[test]
    fn every_step_has_size_lr() {
        // sign() makes each coordinate move by exactly lr (or 0 where c = 0).
        let mut opt = Lion::<f64>::new(LionConfig {
            lr: 0.125,
            ..LionConfig::default()
        })
        .unwrap();
        let mut p = vec![1.0, 1.0, 1.0];
        opt.step(&mut p, &[3.0, -1e-9, 0.0]).unwrap();
        // Dyadic lr and start: exact.
        assert_eq!(p, vec![0.875, 1.125, 1.0]);
    }

    #[test]
    fn weight_decay_is_decoupled() {
        let mut opt = Lion::<f64>::new(LionConfig {
            lr: 0.5,
            weight_decay: 0.5,
            ..LionConfig::default()
        })
        .unwrap();
        let mut p = vec![2.0];
        opt.step(&mut p, &[0.0]).unwrap();
        // p *= 1 - 0.25, no sign step for a zero gradient and zero momentum.
        assert_eq!(p, vec![1.5]);
    }
}
