//! AdamW (`torch.optim.AdamW`): Adam with decoupled weight decay, `p *= 1 - lr wd`
//! before the Adam step (Loshchilov & Hutter 2019). Same math as
//! `AdamConfig { decoupled_weight_decay: true, .. }`, with AdamW's defaults.

use crate::adam::AdamState;
use crate::registry::FromSpec;
use crate::spec::SpecArgs;
use crate::{AdamConfig, Driver, Element, OptimError, UpdateRule};

/// AdamW hyperparameters; `Default` is PyTorch's defaults (weight decay 1e-2).
#[derive(Debug, Clone, PartialEq)]
pub struct AdamWConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the first-moment average, in `[0, 1)`.
    pub beta1: f64,
    /// Decay of the second-moment average, in `[0, 1)`.
    pub beta2: f64,
    /// Added to the root of the second moment.
    pub eps: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// Use the running maximum of the second moment (AMSGrad).
    pub amsgrad: bool,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-2,
            amsgrad: false,
        }
    }
}

/// AdamW as an optimizer.
pub type AdamW<T> = Driver<T, AdamWConfig>;

impl AdamWConfig {
    fn as_adam(&self) -> AdamConfig {
        AdamConfig {
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
            amsgrad: self.amsgrad,
            decoupled_weight_decay: true,
        }
    }
}

impl<T: Element> UpdateRule<T> for AdamWConfig {
    const NAME: &'static str = "adamw";
    type State = AdamState<T>;

    fn lr(&self) -> f64 {
        self.lr
    }

    fn validate(&self) -> Result<(), OptimError> {
        self.as_adam().check("adamw")
    }

    fn init(&self, n_params: usize) -> AdamState<T> {
        self.as_adam().init_state(n_params)
    }

    fn update(&self, params: &mut [T], grads: &[T], state: &mut AdamState<T>, lr: f64, step: u64) {
        self.as_adam().apply(params, grads, state, lr, step);
    }
}

impl FromSpec for AdamWConfig {
    const SUMMARY: &'static str =
        "AdamW: Adam with decoupled weight decay p *= 1 - lr*wd (torch.optim.AdamW).";

    fn from_spec(args: &mut SpecArgs<'_>) -> Result<Self, OptimError> {
        let d = Self::default();
        Ok(Self {
            lr: args.f64("lr", d.lr)?,
            beta1: args.f64("beta1", d.beta1)?,
            beta2: args.f64("beta2", d.beta2)?,
            eps: args.f64("eps", d.eps)?,
            weight_decay: args.f64("weight_decay", d.weight_decay)?,
            amsgrad: args.bool("amsgrad", d.amsgrad)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Adam, AdamW, Optimizer};

    #[test]
    fn equals_adam_with_decoupled_decay_bitwise() {
        let mut w = AdamW::<f32>::new(AdamWConfig {
            weight_decay: 0.1,
            ..AdamWConfig::default()
        })
        .unwrap();
        let mut a = Adam::<f32>::new(AdamConfig {
            weight_decay: 0.1,
            decoupled_weight_decay: true,
            ..AdamConfig::default()
        })
        .unwrap();
        let (mut pw, mut pa) = (vec![1.0f32, -2.0, 0.5], vec![1.0f32, -2.0, 0.5]);
        for k in 0..5 {
            let g: Vec<f32> = pw.iter().map(|p| p * (k as f32 + 1.0)).collect();
            w.step(&mut pw, &g).unwrap();
            a.step(&mut pa, &g).unwrap();
        }
        // Same operations in the same order: the bits must agree.
        assert_eq!(pw, pa);
    }
}
