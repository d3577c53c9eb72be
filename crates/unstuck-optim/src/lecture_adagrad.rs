//! The lecture's adaptive learning rate, exactly as written:
//! `theta_j^{i+1} = theta_j^i - (eta / sigma_j^i) g_j^i` with
//! `sigma_j^i = sqrt((1 / (i + 1)) sum_{k <= i} (g_j^k)^2)`, the root mean square of all
//! gradients so far (so `sigma^0 = |g^0|` and the first step is `eta * sign(g^0)`).
//!
//! Relation to PyTorch's [`AdagradConfig`](crate::AdagradConfig): PyTorch divides by the
//! root *sum* of squares, `sqrt(sum) = sqrt(i + 1) * sigma^i`, plus eps. So the lecture's
//! rule with rate `eta_i` is PyTorch's Adagrad (eps -> 0) with rate
//! `lr_i = eta_i * sqrt(i + 1)`; conversely PyTorch's Adagrad is the lecture's rule under
//! the schedule `eta_i = lr / sqrt(i + 1)` (`inverse_sqrt:timescale=1`).
//!
//! Zero sigma: `sigma_j^i = 0` only when every gradient of parameter j so far is zero
//! (or their squares underflow), so the step `eta * 0 / 0` is the 0/0 of "no gradient,
//! no information". We leave that parameter unchanged for this step instead of adding an
//! eps, which keeps the formula exact everywhere else.

use crate::ops::add_scaled;
use crate::registry::FromSpec;
use crate::spec::SpecArgs;
use crate::state::{RuleState, StateReader, StateWriter};
use crate::{Driver, Element, OptimError, UpdateRule, for_each_element, validate};

/// Hyperparameters of the lecture's root-mean-square rule.
#[derive(Debug, Clone, PartialEq)]
pub struct LectureAdagradConfig {
    /// Learning rate `eta`.
    pub lr: f64,
}

impl Default for LectureAdagradConfig {
    fn default() -> Self {
        Self { lr: 1e-2 }
    }
}

/// The lecture's root-mean-square rule as an optimizer.
pub type LectureAdagrad<T> = Driver<T, LectureAdagradConfig>;

/// Sum of squared gradients (the mean divides it by the step count).
#[derive(Debug, Clone, PartialEq)]
pub struct LectureAdagradState<T> {
    /// `sum_k (g^k)^2` per parameter.
    pub sum_sq: Vec<T>,
}

impl<T: Element> LectureAdagradState<T> {
    /// `sigma` after `n_grads` gradients.
    pub fn sigma(&self, n_grads: u64) -> Vec<T> {
        let n = T::from_f64(n_grads as f64);
        self.sum_sq.iter().map(|&s| (s / n).sqrt()).collect()
    }
}

impl<T: Element> RuleState<T> for LectureAdagradState<T> {
    fn save(&self, out: &mut StateWriter) {
        out.buffer("sum_sq", &self.sum_sq);
    }
    fn load(&mut self, saved: &StateReader<'_>) -> Result<(), OptimError> {
        saved.buffer("sum_sq", &mut self.sum_sq)
    }
}

impl<T: Element> UpdateRule<T> for LectureAdagradConfig {
    const NAME: &'static str = "lecture_adagrad";
    type State = LectureAdagradState<T>;

    fn lr(&self) -> f64 {
        self.lr
    }

    fn validate(&self) -> Result<(), OptimError> {
        validate::learning_rate("lecture_adagrad", "lr", self.lr)?;
        Ok(())
    }

    fn init(&self, n_params: usize) -> LectureAdagradState<T> {
        LectureAdagradState {
            sum_sq: vec![T::ZERO; n_params],
        }
    }

    fn update(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut LectureAdagradState<T>,
        lr: f64,
        step: u64,
    ) {
        let eta = T::from_f64(lr);
        // `step` gradients so far, including this one (the lecture's i + 1).
        let n_grads = T::from_f64(step as f64);
        for_each_element(
            (params, grads, &mut state.sum_sq[..]),
            #[inline(always)]
            move |(p, &g, s)| {
                *s = add_scaled(*s, g, g);
                let sigma = (*s / n_grads).sqrt();
                // sigma = 0 means g = 0 (see the module docs): leave the parameter unchanged.
                let moved = *p - eta / sigma * g;
                *p = if sigma > T::ZERO { moved } else { *p };
            },
        );
    }
}

impl FromSpec for LectureAdagradConfig {
    const SUMMARY: &'static str = "The lecture's adaptive rate: theta -= eta/sigma*g, sigma = RMS of all past gradients (= adagrad with lr*sqrt(t)).";

    fn from_spec(args: &mut SpecArgs<'_>) -> Result<Self, OptimError> {
        Ok(Self {
            lr: args.f64("lr", Self::default().lr)?,
        })
    }
}
