//! SGD with momentum, dampening, Nesterov and L2 weight decay (`torch.optim.SGD`).
//!
//! Per element, as PyTorch's `_single_tensor_sgd` (fused where PyTorch's kernels fuse):
//! `g += wd * p`; on the first step `buf = g`, later `buf = momentum * buf + (1 - dampening) g`;
//! `g = g + momentum * buf` (Nesterov) or `g = buf`; `p -= lr * g`.
//!
//! Compare [`LectureMomentumConfig`](crate::LectureMomentumConfig), the lecture's form.

use crate::ops::add_scaled;
use crate::registry::FromSpec;
use crate::spec::SpecArgs;
use crate::state::{RuleState, StateReader, StateWriter};
use crate::transforms::l2_weight_decay;
use crate::{Driver, Element, OptimError, UpdateRule, for_each_element, validate};

/// SGD hyperparameters; `Default` is PyTorch's defaults (`lr` 1e-3, as PyTorch >= 2.6).
#[derive(Debug, Clone, PartialEq)]
pub struct SgdConfig {
    /// Learning rate.
    pub lr: f64,
    /// Momentum factor (0 = plain SGD).
    pub momentum: f64,
    /// Dampening of the gradient added to the momentum buffer.
    pub dampening: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Nesterov momentum (needs momentum > 0 and dampening 0).
    pub nesterov: bool,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        }
    }
}

/// SGD as an optimizer.
pub type Sgd<T> = Driver<T, SgdConfig>;

/// The momentum buffer (empty without momentum).
#[derive(Debug, Clone, PartialEq)]
pub struct SgdState<T> {
    /// PyTorch's `momentum_buffer`.
    pub momentum_buffer: Vec<T>,
}

impl<T: Element> RuleState<T> for SgdState<T> {
    fn save(&self, out: &mut StateWriter) {
        out.buffer("momentum_buffer", &self.momentum_buffer);
    }
    fn load(&mut self, saved: &StateReader<'_>) -> Result<(), OptimError> {
        saved.buffer("momentum_buffer", &mut self.momentum_buffer)
    }
}

impl<T: Element> UpdateRule<T> for SgdConfig {
    const NAME: &'static str = "sgd";
    type State = SgdState<T>;

    fn lr(&self) -> f64 {
        self.lr
    }

    fn validate(&self) -> Result<(), OptimError> {
        validate::learning_rate("sgd", "lr", self.lr)?;
        validate::non_negative("sgd", "momentum", self.momentum)?;
        validate::unit_interval("sgd", "dampening", self.dampening)?;
        validate::non_negative("sgd", "weight_decay", self.weight_decay)?;
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(OptimError::InvalidNesterov {
                momentum: self.momentum,
                dampening: self.dampening,
            });
        }
        Ok(())
    }

    fn init(&self, n_params: usize) -> SgdState<T> {
        let len = if self.momentum != 0.0 { n_params } else { 0 };
        SgdState {
            momentum_buffer: vec![T::ZERO; len],
        }
    }

    fn update(&self, params: &mut [T], grads: &[T], state: &mut SgdState<T>, lr: f64, step: u64) {
        let grads = l2_weight_decay(grads, params, self.weight_decay);
        let neg_lr = T::from_f64(-lr);
        if self.momentum == 0.0 {
            return for_each_element(
                (params, &grads[..]),
                #[inline(always)]
                move |(p, &g)| *p = add_scaled(*p, neg_lr, g),
            );
        }
        let momentum = T::from_f64(self.momentum);
        let keep = T::from_f64(1.0 - self.dampening);
        let buf = &mut state.momentum_buffer[..];
        // PyTorch starts the buffer as a copy of the first gradient (no dampening).
        if step == 1 {
            buf.copy_from_slice(&grads);
        }
        // Const generics pick the loop at compile time: no per-element branch.
        let lanes = (params, &grads[..], buf);
        match (step == 1, self.nesterov) {
            (true, true) => momentum_loop::<T, true, true>(lanes, neg_lr, momentum, keep),
            (true, false) => momentum_loop::<T, true, false>(lanes, neg_lr, momentum, keep),
            (false, true) => momentum_loop::<T, false, true>(lanes, neg_lr, momentum, keep),
            (false, false) => momentum_loop::<T, false, false>(lanes, neg_lr, momentum, keep),
        }
    }
}

fn momentum_loop<T: Element, const FIRST: bool, const NESTEROV: bool>(
    lanes: (&mut [T], &[T], &mut [T]),
    neg_lr: T,
    momentum: T,
    keep: T,
) {
    for_each_element(
        lanes,
        #[inline(always)]
        move |(p, &g, b)| {
            if !FIRST {
                *b = add_scaled(*b * momentum, keep, g);
            }
            let direction = if NESTEROV {
                add_scaled(g, momentum, *b)
            } else {
                *b
            };
            *p = add_scaled(*p, neg_lr, direction);
        },
    );
}

impl FromSpec for SgdConfig {
    const SUMMARY: &'static str =
        "SGD with momentum, dampening, Nesterov and L2 weight decay (torch.optim.SGD).";

    fn from_spec(args: &mut SpecArgs<'_>) -> Result<Self, OptimError> {
        let d = Self::default();
        Ok(Self {
            lr: args.f64("lr", d.lr)?,
            momentum: args.f64("momentum", d.momentum)?,
            dampening: args.f64("dampening", d.dampening)?,
            weight_decay: args.f64("weight_decay", d.weight_decay)?,
            nesterov: args.bool("nesterov", d.nesterov)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Optimizer;

    #[test]
    fn first_step_uses_the_raw_gradient_as_buffer() {
        let config = SgdConfig {
            lr: 0.5,
            momentum: 0.5,
            dampening: 0.5,
            ..SgdConfig::default()
        };
        let mut opt = Sgd::<f64>::new(config).unwrap();
        let mut p = vec![1.0];
        opt.step(&mut p, &[1.0]).unwrap();
        // buf = g = 1 (no dampening on the first step); p = 1 - 0.5 * 1.
        assert_eq!(p, vec![0.5]);
        opt.step(&mut p, &[1.0]).unwrap();
        // buf = 0.5 * 1 + 0.5 * 1 = 1; p = 0.5 - 0.5 * 1. Dyadic, so exact.
        assert_eq!(p, vec![0.0]);
    }

    #[test]
    fn nesterov_rules_match_pytorch() {
        let bad = |momentum, dampening| {
            Sgd::<f32>::new(SgdConfig {
                momentum,
                dampening,
                nesterov: true,
                ..SgdConfig::default()
            })
            .unwrap_err()
        };
        assert!(matches!(bad(0.0, 0.0), OptimError::InvalidNesterov { .. }));
        assert!(matches!(bad(0.9, 0.1), OptimError::InvalidNesterov { .. }));
    }
}
