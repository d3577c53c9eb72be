//! The lecture's momentum, exactly as written: `m^{i+1} = lambda m^i - eta g^i`,
//! `theta^{i+1} = theta^i + m^{i+1}`, with `m^0 = 0`.
//!
//! So `m^1 = -eta g^0` and `m^2 = -lambda eta g^0 - eta g^1`: the movement is a linear
//! combination of all past gradients.
//!
//! Relation to PyTorch's [`SgdConfig`](crate::SgdConfig) (dampening 0):
//! PyTorch keeps `buf = mu buf + g` and steps `theta -= lr_t buf`. While the learning rate
//! is constant, `m = -lr buf` and the two trajectories agree (up to round-off). When the
//! rate changes, they differ: PyTorch rescales the whole accumulated velocity by the new
//! rate at once, `theta_{t+1} = theta_t + (lr_t / lr_{t-1}) mu m_t - lr_t g_t`, while the
//! lecture's `m` keeps past gradients weighted by the rates they were taken with.

use crate::registry::FromSpec;
use crate::spec::SpecArgs;
use crate::state::{RuleState, StateReader, StateWriter};
use crate::{Driver, Element, OptimError, UpdateRule, for_each_element, validate};

/// Hyperparameters of the lecture's momentum.
#[derive(Debug, Clone, PartialEq)]
pub struct LectureMomentumConfig {
    /// Learning rate `eta` (alpha in the lecture).
    pub lr: f64,
    /// Momentum `lambda`, `>= 0`.
    pub momentum: f64,
}

impl Default for LectureMomentumConfig {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            momentum: 0.9,
        }
    }
}

/// The lecture's momentum as an optimizer.
pub type LectureMomentum<T> = Driver<T, LectureMomentumConfig>;

/// The movement `m`.
#[derive(Debug, Clone, PartialEq)]
pub struct LectureMomentumState<T> {
    /// Last movement `m^i` (the step added to the parameters).
    pub movement: Vec<T>,
}

impl<T: Element> RuleState<T> for LectureMomentumState<T> {
    fn save(&self, out: &mut StateWriter) {
        out.buffer("movement", &self.movement);
    }
    fn load(&mut self, saved: &StateReader<'_>) -> Result<(), OptimError> {
        saved.buffer("movement", &mut self.movement)
    }
}

impl<T: Element> UpdateRule<T> for LectureMomentumConfig {
    const NAME: &'static str = "lecture_momentum";
    type State = LectureMomentumState<T>;

    fn lr(&self) -> f64 {
        self.lr
    }

    fn validate(&self) -> Result<(), OptimError> {
        validate::learning_rate("lecture_momentum", "lr", self.lr)?;
        validate::non_negative("lecture_momentum", "momentum", self.momentum)?;
        Ok(())
    }

    fn init(&self, n_params: usize) -> LectureMomentumState<T> {
        LectureMomentumState {
            movement: vec![T::ZERO; n_params],
        }
    }

    fn update(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut LectureMomentumState<T>,
        lr: f64,
        _step: u64,
    ) {
        let lambda = T::from_f64(self.momentum);
        let eta = T::from_f64(lr);
        // The formula as written, unfused: `m = lambda m - eta g; theta = theta + m`.
        for_each_element(
            (params, grads, &mut state.movement[..]),
            #[inline(always)]
            move |(p, &g, m)| {
                *m = lambda * *m - eta * g;
                *p += *m;
            },
        );
    }
}

impl FromSpec for LectureMomentumConfig {
    const SUMMARY: &'static str = "The lecture's momentum: m = lambda*m - eta*g, theta += m (agrees with sgd momentum only while lr is constant).";

    fn from_spec(args: &mut SpecArgs<'_>) -> Result<Self, OptimError> {
        let d = Self::default();
        Ok(Self {
            lr: args.f64("lr", d.lr)?,
            momentum: args.f64("momentum", d.momentum)?,
        })
    }
}
