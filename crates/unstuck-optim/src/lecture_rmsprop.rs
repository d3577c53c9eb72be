//! The lecture's RMSProp, exactly as written: `sigma_j^0 = |g_j^0|`,
//! `sigma_j^i = sqrt(k (sigma_j^{i-1})^2 + (1 - k) (g_j^i)^2)`, and
//! `theta_j^{i+1} = theta_j^i - (eta / sigma_j^i) g_j^i`, with `0 <= k < 1`.
//!
//! Relation to PyTorch's [`RmsPropConfig`](crate::RmsPropConfig) (alpha = k): the
//! recursion is the same, but PyTorch starts its average at 0, so its first step is
//! `lr g / (sqrt(1 - k) |g| + eps)`, about `10 lr` for k = 0.99, and the start-up bias
//! fades only over ~1/(1-k) steps; the lecture starts at `sigma^0 = |g^0|` (first step
//! exactly `eta * sign(g^0)`) and has no eps.
//!
//! Zero sigma: `sigma_j^i = 0` only when every gradient of parameter j so far is zero
//! (or their squares underflow); the step `0 / 0` is then skipped and the parameter left
//! unchanged, as in [`LectureAdagradConfig`](crate::LectureAdagradConfig).

use crate::registry::FromSpec;
use crate::spec::SpecArgs;
use crate::state::{RuleState, StateReader, StateWriter};
use crate::{Driver, Element, OptimError, UpdateRule, for_each_element, validate};

/// Hyperparameters of the lecture's RMSProp.
#[derive(Debug, Clone, PartialEq)]
pub struct LectureRmsPropConfig {
    /// Learning rate `eta`.
    pub lr: f64,
    /// Weight `k` of the previous sigma, in `[0, 1)`.
    pub k: f64,
}

impl Default for LectureRmsPropConfig {
    fn default() -> Self {
        Self { lr: 1e-2, k: 0.9 }
    }
}

/// The lecture's RMSProp as an optimizer.
pub type LectureRmsProp<T> = Driver<T, LectureRmsPropConfig>;

/// The current sigma per parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct LectureRmsPropState<T> {
    /// `sigma_j^i`.
    pub sigma: Vec<T>,
}

impl<T: Element> RuleState<T> for LectureRmsPropState<T> {
    fn save(&self, out: &mut StateWriter) {
        out.buffer("sigma", &self.sigma);
    }
    fn load(&mut self, saved: &StateReader<'_>) -> Result<(), OptimError> {
        saved.buffer("sigma", &mut self.sigma)
    }
}

impl<T: Element> UpdateRule<T> for LectureRmsPropConfig {
    const NAME: &'static str = "lecture_rmsprop";
    type State = LectureRmsPropState<T>;

    fn lr(&self) -> f64 {
        self.lr
    }

    fn validate(&self) -> Result<(), OptimError> {
        validate::learning_rate("lecture_rmsprop", "lr", self.lr)?;
        validate::decay_rate("lecture_rmsprop", "k", self.k)?;
        Ok(())
    }

    fn init(&self, n_params: usize) -> LectureRmsPropState<T> {
        LectureRmsPropState {
            sigma: vec![T::ZERO; n_params],
        }
    }

    fn update(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut LectureRmsPropState<T>,
        lr: f64,
        step: u64,
    ) {
        let eta = T::from_f64(lr);
        let lanes = (params, grads, &mut state.sigma[..]);
        if step == 1 {
            for_each_element(
                lanes,
                #[inline(always)]
                move |(p, &g, s)| {
                    *s = g.abs();
                    *p = descend(*p, g, *s, eta);
                },
            );
        } else {
            let k = T::from_f64(self.k);
            let one_minus_k = T::from_f64(1.0 - self.k);
            for_each_element(
                lanes,
                #[inline(always)]
                move |(p, &g, s)| {
                    *s = (k * *s * *s + one_minus_k * g * g).sqrt();
                    *p = descend(*p, g, *s, eta);
                },
            );
        }
    }
}

/// `theta - eta / sigma * g`, or `theta` when sigma is 0 (then g is 0 too).
#[inline(always)]
fn descend<T: Element>(p: T, g: T, sigma: T, eta: T) -> T {
    let moved = p - eta / sigma * g;
    if sigma > T::ZERO { moved } else { p }
}

impl FromSpec for LectureRmsPropConfig {
    const SUMMARY: &'static str = "The lecture's RMSProp: sigma_0 = |g_0|, sigma = sqrt(k*sigma^2 + (1-k)*g^2), theta -= eta/sigma*g.";

    fn from_spec(args: &mut SpecArgs<'_>) -> Result<Self, OptimError> {
        let d = Self::default();
        Ok(Self {
            lr: args.f64("lr", d.lr)?,
            k: args.f64("k", d.k)?,
        })
    }
}
