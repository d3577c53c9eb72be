//! Adam (`torch.optim.Adam`), with AMSGrad and L2 or decoupled weight decay.
//!
//! Per element, as PyTorch's `_single_tensor_adam` (fused where its kernels fuse):
//! `g += wd * p` (or `p *= 1 - lr wd` when decoupled, i.e. AdamW);
//! `m = lerp(m, g, 1 - beta1)`; `v = beta2 v + (1 - beta2) g^2`;
//! AMSGrad: `v_max = max(v_max, v)` and `v_max` replaces `v` below;
//! `p += (-lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)`.
//!
//! The common path (no AMSGrad, no weight decay) is one loop streaming four arrays, run
//! by [`for_each_element`] (fixed chunks on rayon's threads, AVX2+FMA); see
//! `benches/adam.rs`.

use crate::ops::{Lerp, addcdiv, addcmul};
use crate::registry::FromSpec;
use crate::spec::SpecArgs;
use crate::state::{RuleState, StateReader, StateWriter};
use crate::transforms::{decoupled_weight_decay, l2_weight_decay};
use crate::{Driver, Element, OptimError, UpdateRule, for_each_element, validate};

/// Adam hyperparameters; `Default` is PyTorch's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the first-moment average, in `[0, 1)`.
    pub beta1: f64,
    /// Decay of the second-moment average, in `[0, 1)`.
    pub beta2: f64,
    /// Added to the root of the second moment.
    pub eps: f64,
    /// Weight decay: L2 on the gradient, or decoupled (see below).
    pub weight_decay: f64,
    /// Use the running maximum of the second moment (AMSGrad).
    pub amsgrad: bool,
    /// Decay the parameters directly (`p *= 1 - lr wd`), as AdamW does.
    pub decoupled_weight_decay: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            decoupled_weight_decay: false,
        }
    }
}

/// Adam as an optimizer.
pub type Adam<T> = Driver<T, AdamConfig>;

/// Adam's moments; `max_exp_avg_sq` is empty without AMSGrad.
#[derive(Debug, Clone, PartialEq)]
pub struct AdamState<T> {
    /// First moment `m`.
    pub exp_avg: Vec<T>,
    /// Second moment `v`.
    pub exp_avg_sq: Vec<T>,
    /// Running maximum of `v` (AMSGrad only).
    pub max_exp_avg_sq: Vec<T>,
}

impl<T: Element> RuleState<T> for AdamState<T> {
    fn save(&self, out: &mut StateWriter) {
        out.buffer("exp_avg", &self.exp_avg);
        out.buffer("exp_avg_sq", &self.exp_avg_sq);
        out.buffer("max_exp_avg_sq", &self.max_exp_avg_sq);
    }
    fn load(&mut self, saved: &StateReader<'_>) -> Result<(), OptimError> {
        saved.buffer("exp_avg", &mut self.exp_avg)?;
        saved.buffer("exp_avg_sq", &mut self.exp_avg_sq)?;
        saved.buffer("max_exp_avg_sq", &mut self.max_exp_avg_sq)
    }
}

impl AdamConfig {
    pub(crate) fn check(&self, owner: &'static str) -> Result<(), OptimError> {
        validate::learning_rate(owner, "lr", self.lr)?;
        validate::decay_rate(owner, "beta1", self.beta1)?;
        validate::decay_rate(owner, "beta2", self.beta2)?;
        validate::positive(owner, "eps", self.eps)?;
        validate::non_negative(owner, "weight_decay", self.weight_decay)?;
        Ok(())
    }

    pub(crate) fn init_state<T: Element>(&self, n_params: usize) -> AdamState<T> {
        AdamState {
            exp_avg: vec![T::ZERO; n_params],
            exp_avg_sq: vec![T::ZERO; n_params],
            max_exp_avg_sq: vec![T::ZERO; if self.amsgrad { n_params } else { 0 }],
        }
    }

    /// The Adam step shared with [`AdamWConfig`](crate::AdamWConfig).
    pub(crate) fn apply<T: Element>(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut AdamState<T>,
        lr: f64,
        step: u64,
    ) {
        let grads = if self.decoupled_weight_decay {
            decoupled_weight_decay(params, lr, self.weight_decay);
            std::borrow::Cow::Borrowed(grads)
        } else {
            l2_weight_decay(grads, params, self.weight_decay)
        };
        // Scalars in f64 exactly as PyTorch's Python code computes them (`**` is `pow`).
        let t = step as f64;
        let bias_correction1 = 1.0 - self.beta1.powf(t);
        let bias_correction2 = 1.0 - self.beta2.powf(t);
        let h = Hyper {
            lerp: Lerp::new(1.0 - self.beta1),
            beta2: T::from_f64(self.beta2),
            one_minus_beta2: T::from_f64(1.0 - self.beta2),
            neg_step_size: T::from_f64(-(lr / bias_correction1)),
            bias_correction2_sqrt: T::from_f64(bias_correction2.powf(0.5)),
            eps: T::from_f64(self.eps),
        };
        let AdamState {
            exp_avg,
            exp_avg_sq,
            max_exp_avg_sq,
        } = state;
        if self.amsgrad {
            let lanes = (
                params,
                &grads[..],
                &mut exp_avg[..],
                &mut exp_avg_sq[..],
                &mut max_exp_avg_sq[..],
            );
            for_each_element(
                lanes,
                #[inline(always)]
                move |(p, &g, m, v, v_max)| {
                    *m = h.lerp.apply(*m, g);
                    *v = addcmul(*v * h.beta2, h.one_minus_beta2, g, g);
                    *v_max = v_max.max(*v);
                    *p = h.step(*p, *m, *v_max);
                },
            );
        } else {
            for_each_element(
                (params, &grads[..], &mut exp_avg[..], &mut exp_avg_sq[..]),
                #[inline(always)]
                move |(p, &g, m, v)| {
                    // New moments stay in registers: reading `*m` back after storing `v`
                    // made LLVM reload it from memory (it cannot prove the slices apart).
                    let m_new = h.lerp.apply(*m, g);
                    let v_new = addcmul(*v * h.beta2, h.one_minus_beta2, g, g);
                    *m = m_new;
                    *v = v_new;
                    *p = h.step(*p, m_new, v_new);
                },
            );
        }
    }
}

#[derive(Clone, Copy)]
struct Hyper<T> {
    lerp: Lerp<T>,
    beta2: T,
    one_minus_beta2: T,
    neg_step_size: T,
    bias_correction2_sqrt: T,
    eps: T,
}

impl<T: Element> Hyper<T> {
    /// `p + (-lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps)`: two divisions and a square root
    /// per element, as PyTorch (no reciprocal, which would change the rounding).
    #[inline(always)]
    fn step(self, p: T, m: T, v: T) -> T {
        let denom = v.sqrt() / self.bias_correction2_sqrt + self.eps;
        addcdiv(p, self.neg_step_size, m, denom)
    }
}

impl<T: Element> UpdateRule<T> for AdamConfig {
    const NAME: &'static str = "adam";
    type State = AdamState<T>;

    fn lr(&self) -> f64 {
        self.lr
    }

    fn validate(&self) -> Result<(), OptimError> {
        self.check("adam")
    }

    fn init(&self, n_params: usize) -> AdamState<T> {
        self.init_state(n_params)
    }

    fn update(&self, params: &mut [T], grads: &[T], state: &mut AdamState<T>, lr: f64, step: u64) {
        self.apply(params, grads, state, lr, step);
    }
}

impl FromSpec for AdamConfig {
    const SUMMARY: &'static str = "Adam: bias-corrected first and second moments; AMSGrad; L2 weight decay (torch.optim.Adam).";

    fn from_spec(args: &mut SpecArgs<'_>) -> Result<Self, OptimError> {
        let d = Self::default();
        Ok(Self {
            lr: args.f64("lr", d.lr)?,
            beta1: args.f64("beta1", d.beta1)?,
            beta2: args.f64("beta2", d.beta2)?,
            eps: args.f64("eps", d.eps)?,
            weight_decay: args.f64("weight_decay", d.weight_decay)?,
            amsgrad: args.bool("amsgrad", d.amsgrad)?,
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
    fn first_step_moves_by_lr() {
        // After bias correction m = g and v = g^2, so the first step is lr * g / (|g| + eps).
        let mut opt = Adam::<f64>::new(AdamConfig {
            lr: 0.01,
            ..AdamConfig::default()
        })
        .unwrap();
        let grads = [4.0, -1e-3];
        let mut p = vec![1.0, 1.0];
        opt.step(&mut p, &grads).unwrap();
        for (p, g) in p.iter().zip(grads) {
            let expected = 1.0 - 0.01 * g / (g.abs() + 1e-8);
            // Only the bias corrections' round-off separates the two: a few ulps of 1.
            assert!((p - expected).abs() < 1e-15, "{p} vs {expected}");
        }
    }

    #[test]
    fn amsgrad_keeps_the_largest_second_moment() {
        let mut opt = Adam::<f64>::new(AdamConfig {
            amsgrad: true,
            ..AdamConfig::default()
        })
        .unwrap();
        let mut p = vec![0.0];
        opt.step(&mut p, &[10.0]).unwrap();
        opt.step(&mut p, &[0.0]).unwrap();
        let state = opt.rule_state().unwrap();
        // v decays (beta2 * v) but the maximum stays at the first step's value.
        assert!(state.exp_avg_sq[0] < state.max_exp_avg_sq[0]);
        assert!((state.max_exp_avg_sq[0] - 0.1).abs() < 1e-15);
    }
}
