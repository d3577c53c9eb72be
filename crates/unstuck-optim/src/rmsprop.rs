//! RMSprop (`torch.optim.RMSprop`), optionally centered and with momentum.
//!
//! Per element, as PyTorch's `_single_tensor_rmsprop`: `g += wd * p`;
//! `sq = alpha * sq + (1 - alpha) g^2`; `avg = sqrt(sq) + eps`, or when centered
//! `ga = lerp(ga, g, 1 - alpha)` and `avg = sqrt(sq - ga^2) + eps`; then either
//! `p -= lr * g / avg`, or with momentum `buf = momentum * buf + g / avg; p -= lr * buf`.
//!
//! Compare [`LectureRmsPropConfig`](crate::LectureRmsPropConfig): PyTorch starts `sq` at
//! 0, the lecture starts sigma at `|g_0|`.

use crate::ops::{Lerp, add_scaled, addcdiv, addcmul};
use crate::registry::FromSpec;
use crate::spec::SpecArgs;
use crate::state::{RuleState, StateReader, StateWriter};
use crate::transforms::l2_weight_decay;
use crate::{Driver, Element, OptimError, UpdateRule, for_each_element, validate};

/// RMSprop hyperparameters; `Default` is PyTorch's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct RmsPropConfig {
    /// Learning rate.
    pub lr: f64,
    /// Smoothing constant of the squared-gradient average, in `[0, 1)`.
    pub alpha: f64,
    /// Added to the root of the average.
    pub eps: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Momentum factor (0 = none).
    pub momentum: f64,
    /// Divide by the estimated standard deviation instead of the root mean square.
    pub centered: bool,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
        }
    }
}

/// RMSprop as an optimizer.
pub type RmsProp<T> = Driver<T, RmsPropConfig>;

/// RMSprop buffers; `grad_avg` and `momentum_buffer` are empty when unused.
#[derive(Debug, Clone, PartialEq)]
pub struct RmsPropState<T> {
    /// Average of squared gradients.
    pub square_avg: Vec<T>,
    /// Average of gradients (centered only).
    pub grad_avg: Vec<T>,
    /// Momentum buffer (momentum > 0 only).
    pub momentum_buffer: Vec<T>,
}

impl<T: Element> RuleState<T> for RmsPropState<T> {
    fn save(&self, out: &mut StateWriter) {
        out.buffer("square_avg", &self.square_avg);
        out.buffer("grad_avg", &self.grad_avg);
        out.buffer("momentum_buffer", &self.momentum_buffer);
    }
    fn load(&mut self, saved: &StateReader<'_>) -> Result<(), OptimError> {
        saved.buffer("square_avg", &mut self.square_avg)?;
        saved.buffer("grad_avg", &mut self.grad_avg)?;
        saved.buffer("momentum_buffer", &mut self.momentum_buffer)
    }
}

impl<T: Element> UpdateRule<T> for RmsPropConfig {
    const NAME: &'static str = "rmsprop";
    type State = RmsPropState<T>;

    fn lr(&self) -> f64 {
        self.lr
    }

    fn validate(&self) -> Result<(), OptimError> {
        validate::learning_rate("rmsprop", "lr", self.lr)?;
        validate::decay_rate("rmsprop", "alpha", self.alpha)?;
        validate::positive("rmsprop", "eps", self.eps)?;
        validate::non_negative("rmsprop", "weight_decay", self.weight_decay)?;
        validate::non_negative("rmsprop", "momentum", self.momentum)?;
        Ok(())
    }

    fn init(&self, n_params: usize) -> RmsPropState<T> {
        let sized = |on: bool| vec![T::ZERO; if on { n_params } else { 0 }];
        RmsPropState {
            square_avg: sized(true),
            grad_avg: sized(self.centered),
            momentum_buffer: sized(self.momentum > 0.0),
        }
    }

    fn update(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut RmsPropState<T>,
        lr: f64,
        _step: u64,
    ) {
        let grads = l2_weight_decay(grads, params, self.weight_decay);
        let h = Hyper {
            alpha: T::from_f64(self.alpha),
            one_minus_alpha: T::from_f64(1.0 - self.alpha),
            lerp: Lerp::new(1.0 - self.alpha),
            eps: T::from_f64(self.eps),
            momentum: T::from_f64(self.momentum),
            neg_lr: T::from_f64(-lr),
        };
        let RmsPropState {
            square_avg,
            grad_avg,
            momentum_buffer,
        } = state;
        let (sq, ga, buf) = (
            &mut square_avg[..],
            &mut grad_avg[..],
            &mut momentum_buffer[..],
        );
        let g = &grads[..];
        // One loop per option set, so the element loop has no branch; buffers that are off
        // are empty and not walked.
        match (self.centered, self.momentum > 0.0) {
            (false, false) => for_each_element(
                (params, g, sq),
                #[inline(always)]
                move |(p, &g, sq)| h.descend(p, g, h.average(sq, g)),
            ),
            (false, true) => for_each_element(
                (params, g, sq, buf),
                #[inline(always)]
                move |(p, &g, sq, buf)| h.descend_with_momentum(p, buf, g, h.average(sq, g)),
            ),
            (true, false) => for_each_element(
                (params, g, sq, ga),
                #[inline(always)]
                move |(p, &g, sq, ga)| h.descend(p, g, h.centered_average(sq, ga, g)),
            ),
            (true, true) => for_each_element(
                (params, g, sq, ga, buf),
                #[inline(always)]
                move |(p, &g, sq, ga, buf)| {
                    h.descend_with_momentum(p, buf, g, h.centered_average(sq, ga, g));
                },
            ),
        }
    }
}

#[derive(Clone, Copy)]
struct Hyper<T> {
    alpha: T,
    one_minus_alpha: T,
    lerp: Lerp<T>,
    eps: T,
    momentum: T,
    neg_lr: T,
}

/// The pieces of one element's step, combined per option set in `update`.
impl<T: Element> Hyper<T> {
    /// Updates `sq` and returns `sqrt(sq) + eps`.
    #[inline(always)]
    fn average(self, sq: &mut T, g: T) -> T {
        *sq = addcmul(*sq * self.alpha, self.one_minus_alpha, g, g);
        sq.sqrt() + self.eps
    }

    /// Updates `sq` and `ga` and returns `sqrt(sq - ga^2) + eps`.
    #[inline(always)]
    fn centered_average(self, sq: &mut T, ga: &mut T, g: T) -> T {
        *sq = addcmul(*sq * self.alpha, self.one_minus_alpha, g, g);
        *ga = self.lerp.apply(*ga, g);
        addcmul(*sq, -T::ONE, *ga, *ga).sqrt() + self.eps
    }

    #[inline(always)]
    fn descend(self, p: &mut T, g: T, avg: T) {
        *p = addcdiv(*p, self.neg_lr, g, avg);
    }

    #[inline(always)]
    fn descend_with_momentum(self, p: &mut T, buf: &mut T, g: T, avg: T) {
        *buf = addcdiv(*buf * self.momentum, T::ONE, g, avg);
        *p = add_scaled(*p, self.neg_lr, *buf);
    }
}

impl FromSpec for RmsPropConfig {
    const SUMMARY: &'static str = "RMSprop: rate / root of an exponential average of squared gradients; centered and momentum options (torch.optim.RMSprop).";

    fn from_spec(args: &mut SpecArgs<'_>) -> Result<Self, OptimError> {
        let d = Self::default();
        Ok(Self {
            lr: args.f64("lr", d.lr)?,
            alpha: args.f64("alpha", d.alpha)?,
            eps: args.f64("eps", d.eps)?,
            weight_decay: args.f64("weight_decay", d.weight_decay)?,
            momentum: args.f64("momentum", d.momentum)?,
            centered: args.bool("centered", d.centered)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Optimizer;

    #[test]
    fn first_step_is_ten_times_lr_for_default_alpha() {
        // sq = (1 - 0.99) g^2, so the step is lr * g / (0.1 |g| + eps) ~ 10 lr sign(g).
        let mut opt = RmsProp::<f64>::new(RmsPropConfig::default()).unwrap();
        let mut p = vec![0.0];
        opt.step(&mut p, &[2.0]).unwrap();
        // eps / (0.1 * 2) = 5e-8 relative; round-off is far smaller.
        assert!((p[0] + 0.1).abs() < 0.1 * 1e-7, "{p:?}");
    }

    #[test]
    fn unused_buffers_stay_empty() {
        let opt = RmsProp::<f32>::new(RmsPropConfig::default()).unwrap();
        let state = <RmsPropConfig as UpdateRule<f32>>::init(opt.rule(), 5);
        assert_eq!(
            (
                state.square_avg.len(),
                state.grad_avg.len(),
                state.momentum_buffer.len()
            ),
            (5, 0, 0)
        );
    }
}
