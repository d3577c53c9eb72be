//! NAdam (`torch.optim.NAdam`): Adam with Nesterov momentum and momentum decay (Dozat 2016).
//!
//! Per element, as PyTorch's `_single_tensor_nadam`, with
//! `mu_t = beta1 (1 - 0.5 * 0.96^(t * momentum_decay))` and `mu_product = mu_1 ... mu_t`:
//! `m = lerp(m, g, 1 - beta1)`; `v = beta2 v + (1 - beta2) g^2`;
//! `denom = sqrt(v / (1 - beta2^t)) + eps`;
//! `p += (-lr (1 - mu_t) / (1 - mu_product)) g / denom`, then
//! `p += (-lr mu_{t+1} / (1 - mu_product mu_{t+1})) m / denom`.
//!
//! PyTorch keeps `mu_product` in the default float dtype; we keep it in the parameter
//! type, which is the same for the usual setup (f32 params with the f32 default, or f64
//! with `torch.set_default_dtype(torch.float64)` as in the golden file).

use crate::ops::{Lerp, addcdiv, addcmul};
use crate::registry::FromSpec;
use crate::spec::SpecArgs;
use crate::state::{RuleState, StateReader, StateWriter};
use crate::transforms::{decoupled_weight_decay, l2_weight_decay};
use crate::{Driver, Element, OptimError, UpdateRule, for_each_element, validate};

/// NAdam hyperparameters; `Default` is PyTorch's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct NAdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the first-moment average, in `[0, 1)`.
    pub beta1: f64,
    /// Decay of the second-moment average, in `[0, 1)`.
    pub beta2: f64,
    /// Added to the root of the second moment.
    pub eps: f64,
    /// Weight decay: L2 on the gradient, or decoupled.
    pub weight_decay: f64,
    /// Momentum decay `psi` in `mu_t = beta1 (1 - 0.5 * 0.96^(t psi))`.
    pub momentum_decay: f64,
    /// Decay the parameters directly (`p *= 1 - lr wd`), as NAdamW.
    pub decoupled_weight_decay: bool,
}

impl Default for NAdamConfig {
    fn default() -> Self {
        Self {
            lr: 2e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum_decay: 4e-3,
            decoupled_weight_decay: false,
        }
    }
}

/// NAdam as an optimizer.
pub type NAdam<T> = Driver<T, NAdamConfig>;

/// NAdam's moments and running momentum product.
#[derive(Debug, Clone, PartialEq)]
pub struct NAdamState<T> {
    /// First moment `m`.
    pub exp_avg: Vec<T>,
    /// Second moment `v`.
    pub exp_avg_sq: Vec<T>,
    /// `mu_1 * ... * mu_t`.
    pub mu_product: T,
}

impl<T: Element> RuleState<T> for NAdamState<T> {
    fn save(&self, out: &mut StateWriter) {
        out.buffer("exp_avg", &self.exp_avg);
        out.buffer("exp_avg_sq", &self.exp_avg_sq);
        out.scalar("mu_product", self.mu_product.to_f64());
    }
    fn load(&mut self, saved: &StateReader<'_>) -> Result<(), OptimError> {
        saved.buffer("exp_avg", &mut self.exp_avg)?;
        saved.buffer("exp_avg_sq", &mut self.exp_avg_sq)?;
        self.mu_product = T::from_f64(saved.scalar("mu_product")?);
        Ok(())
    }
}

impl NAdamConfig {
    fn mu(&self, t: f64) -> f64 {
        self.beta1 * (1.0 - 0.5 * 0.96f64.powf(t * self.momentum_decay))
    }
}

impl<T: Element> UpdateRule<T> for NAdamConfig {
    const NAME: &'static str = "nadam";
    type State = NAdamState<T>;

    fn lr(&self) -> f64 {
        self.lr
    }

    fn validate(&self) -> Result<(), OptimError> {
        validate::learning_rate("nadam", "lr", self.lr)?;
        validate::decay_rate("nadam", "beta1", self.beta1)?;
        validate::decay_rate("nadam", "beta2", self.beta2)?;
        validate::positive("nadam", "eps", self.eps)?;
        validate::non_negative("nadam", "weight_decay", self.weight_decay)?;
        validate::non_negative("nadam", "momentum_decay", self.momentum_decay)?;
        Ok(())
    }

    fn init(&self, n_params: usize) -> NAdamState<T> {
        NAdamState {
            exp_avg: vec![T::ZERO; n_params],
            exp_avg_sq: vec![T::ZERO; n_params],
            mu_product: T::ONE,
        }
    }

    fn update(&self, params: &mut [T], grads: &[T], state: &mut NAdamState<T>, lr: f64, step: u64) {
        let grads = if self.decoupled_weight_decay {
            decoupled_weight_decay(params, lr, self.weight_decay);
            std::borrow::Cow::Borrowed(grads)
        } else {
            l2_weight_decay(grads, params, self.weight_decay)
        };
        let t = step as f64;
        let bias_correction2 = 1.0 - self.beta2.powf(t);
        let mu = self.mu(t);
        let mu_next = self.mu(t + 1.0);
        state.mu_product *= T::from_f64(mu);
        let mu_product = state.mu_product.to_f64();
        let mu_product_next = mu_product * mu_next;
        let h = Hyper {
            lerp: Lerp::new(1.0 - self.beta1),
            beta2: T::from_f64(self.beta2),
            one_minus_beta2: T::from_f64(1.0 - self.beta2),
            bias_correction2: T::from_f64(bias_correction2),
            eps: T::from_f64(self.eps),
            grad_coeff: T::from_f64(-lr * (1.0 - mu) / (1.0 - mu_product)),
            moment_coeff: T::from_f64((-lr * mu_next) / (1.0 - mu_product_next)),
        };
        let lanes = (
            params,
            &grads[..],
            &mut state.exp_avg[..],
            &mut state.exp_avg_sq[..],
        );
        for_each_element(
            lanes,
            #[inline(always)]
            move |(p, &g, m, v)| {
                *m = h.lerp.apply(*m, g);
                *v = addcmul(*v * h.beta2, h.one_minus_beta2, g, g);
                let denom = (*v / h.bias_correction2).sqrt() + h.eps;
                *p = addcdiv(*p, h.grad_coeff, g, denom);
                *p = addcdiv(*p, h.moment_coeff, *m, denom);
            },
        );
    }
}

#[derive(Clone, Copy)]
struct Hyper<T> {
    lerp: Lerp<T>,
    beta2: T,
    one_minus_beta2: T,
    bias_correction2: T,
    eps: T,
    grad_coeff: T,
    moment_coeff: T,
}

impl FromSpec for NAdamConfig {
    const SUMMARY: &'static str =
        "NAdam: Adam with Nesterov momentum and momentum decay (torch.optim.NAdam).";

    fn from_spec(args: &mut SpecArgs<'_>) -> Result<Self, OptimError> {
        let d = Self::default();
        Ok(Self {
            lr: args.f64("lr", d.lr)?,
            beta1: args.f64("beta1", d.beta1)?,
            beta2: args.f64("beta2", d.beta2)?,
            eps: args.f64("eps", d.eps)?,
            weight_decay: args.f64("weight_decay", d.weight_decay)?,
            momentum_decay: args.f64("momentum_decay", d.momentum_decay)?,
            decoupled_weight_decay: args
                .bool("decoupled_weight_decay", d.decoupled_weight_decay)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Optimizer;

    #[test]
    fn mu_product_accumulates() {
        let config = NAdamConfig::default();
        let mut opt = NAdam::<f64>::new(config.clone()).unwrap();
        let mut p = vec![1.0];
        for _ in 0..3 {
            opt.step(&mut p, &[1.0]).unwrap();
        }
        let expected = config.mu(1.0) * config.mu(2.0) * config.mu(3.0);
        // Same multiplications in the same order: exact.
        assert_eq!(opt.rule_state().unwrap().mu_product, expected);
    }
}
