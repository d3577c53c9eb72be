//! Adagrad (`torch.optim.Adagrad`): per-parameter rates from the sum of squared gradients.
//!
//! Per element, as PyTorch's `_single_tensor_adagrad`: `g += wd * p`;
//! `sum += g * g`; `p -= clr * g / (sqrt(sum) + eps)` with `clr = lr / (1 + (t - 1) lr_decay)`.
//!
//! Compare [`LectureAdagradConfig`](crate::LectureAdagradConfig), which divides by the
//! root *mean* square instead of the root sum.

use crate::ops::{addcdiv, addcmul};
use crate::registry::FromSpec;
use crate::spec::SpecArgs;
use crate::state::{RuleState, StateReader, StateWriter};
use crate::transforms::l2_weight_decay;
use crate::{Driver, Element, OptimError, UpdateRule, for_each_element, validate};

/// Adagrad hyperparameters; `Default` is PyTorch's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct AdagradConfig {
    /// Learning rate.
    pub lr: f64,
    /// Learning-rate decay: step t uses `lr / (1 + (t - 1) lr_decay)`.
    pub lr_decay: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Starting value of the sum of squares.
    pub initial_accumulator_value: f64,
    /// Added to the root sum of squares.
    pub eps: f64,
}

impl Default for AdagradConfig {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
        }
    }
}

/// Adagrad as an optimizer.
pub type Adagrad<T> = Driver<T, AdagradConfig>;

/// The running sum of squared gradients.
#[derive(Debug, Clone, PartialEq)]
pub struct AdagradState<T> {
    /// PyTorch's `sum`.
    pub sum: Vec<T>,
}

impl<T: Element> RuleState<T> for AdagradState<T> {
    fn save(&self, out: &mut StateWriter) {
        out.buffer("sum", &self.sum);
    }
    fn load(&mut self, saved: &StateReader<'_>) -> Result<(), OptimError> {
        saved.buffer("sum", &mut self.sum)
    }
}

impl<T: Element> UpdateRule<T> for AdagradConfig {
    const NAME: &'static str = "adagrad";
    type State = AdagradState<T>;

    fn lr(&self) -> f64 {
        self.lr
    }

    fn validate(&self) -> Result<(), OptimError> {
        validate::learning_rate("adagrad", "lr", self.lr)?;
        validate::non_negative("adagrad", "lr_decay", self.lr_decay)?;
        validate::non_negative("adagrad", "weight_decay", self.weight_decay)?;
        validate::non_negative(
            "adagrad",
            "initial_accumulator_value",
            self.initial_accumulator_value,
        )?;
        validate::positive("adagrad", "eps", self.eps)?;
        Ok(())
    }

    fn init(&self, n_params: usize) -> AdagradState<T> {
        AdagradState {
            sum: vec![T::from_f64(self.initial_accumulator_value); n_params],
        }
    }

    fn update(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut AdagradState<T>,
        lr: f64,
        step: u64,
    ) {
        let grads = l2_weight_decay(grads, params, self.weight_decay);
        let clr = lr / (1.0 + (step - 1) as f64 * self.lr_decay);
        let neg_clr = T::from_f64(-clr);
        let eps = T::from_f64(self.eps);
        for_each_element(
            (params, &grads[..], &mut state.sum[..]),
            #[inline(always)]
            move |(p, &g, s)| {
                *s = addcmul(*s, T::ONE, g, g);
                *p = addcdiv(*p, neg_clr, g, s.sqrt() + eps);
            },
        );
    }
}

impl FromSpec for AdagradConfig {
    const SUMMARY: &'static str =
        "Adagrad: rate / root of the sum of squared gradients (torch.optim.Adagrad).";

    fn from_spec(args: &mut SpecArgs<'_>) -> Result<Self, OptimError> {
        let d = Self::default();
        Ok(Self {
            lr: args.f64("lr", d.lr)?,
            lr_decay: args.f64("lr_decay", d.lr_decay)?,
            weight_decay: args.f64("weight_decay", d.weight_decay)?,
            initial_accumulator_value: args
                .f64("initial_accumulator_value", d.initial_accumulator_value)?,
            eps: args.f64("eps", d.eps)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Optimizer;

    #[test]
    fn first_step_moves_by_lr_times_sign() {
        // sum = g^2, so the step is lr * g / (|g| + eps): lr * sign(g) up to eps.
        let mut opt = Adagrad::<f64>::new(AdagradConfig {
            lr: 0.1,
            ..AdagradConfig::default()
        })
        .unwrap();
        let mut p = vec![0.0, 0.0];
        opt.step(&mut p, &[3.0, -0.5]).unwrap();
        // The gap to lr * sign(g) is lr * eps / (|g| + eps): 3.3e-12 and 2e-11 here.
        assert!(
            (p[0] + 0.1).abs() < 4e-12 && (p[1] - 0.1).abs() < 2.1e-11,
            "{p:?}"
        );
    }
}
